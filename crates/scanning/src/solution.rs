//! What a scanning solve produces: the catalogue with formal errors, the attitude, the
//! calibration, and the record of the iterations.

use crate::row::NS;
use astrosolve_core::covariance::Covariance;
use astrosolve_core::{GlobalLayout, SolveReport};
use astrosolve_model::{BSplineAttitude, Calibration, SourceParams};

/// One source of the solution.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SourceResult {
    pub params: SourceParams,
    /// Covariance of (α*, δ, ϖ, μα*, μδ) in rad² (rad/yr for proper motions): the inverse of the
    /// source's own normal block (attitude and calibration errors ignored, as Gaia's), or with
    /// the direct solver the complete 5×5 block of the full covariance plus the uncertainty of
    /// the frame fix.
    pub cov: [[f64; NS]; NS],
    /// The inverse-block covariance when `cov` is the full one.
    pub cov_block: Option<[[f64; NS]; NS]>,
    /// LSQR's variance estimates (rad², LSQR only; biased low until LSQR fully converges).
    pub var_lsqr: Option<[f64; NS]>,
    /// False when the source had too few good observations or visibility periods.
    pub solved: bool,
    pub n_obs_al: u32,
    pub n_good_obs_al: u32,
    pub n_bad_obs_al: u32,
    pub visibility_periods: u32,
    /// Excess noise ε (rad).
    pub excess_noise: f64,
    /// Unit-weight error √(Σ r²/σ² / (n − 5)) over good AL observations (None: not solved).
    pub uwe: Option<f64>,
    /// UWE divided by the median UWE of the solved sources.
    pub ruwe: Option<f64>,
}

impl SourceResult {
    /// Standard uncertainty of parameter k (rad or rad/yr).
    pub fn sigma(&self, k: usize) -> f64 {
        self.cov[k][k].sqrt()
    }
    /// Correlation coefficient of parameters a and b.
    pub fn corr(&self, a: usize, b: usize) -> f64 {
        self.cov[a][b] / (self.sigma(a) * self.sigma(b))
    }
}

/// The solution of a scanning mission.
pub struct Solution {
    pub sources: Vec<SourceResult>,
    pub attitude: BSplineAttitude,
    pub calibration: Calibration,
    /// The solver's report (frame mode: `frame`).
    pub report: SolveReport,
    pub frame: String,
    /// Direct solver: covariance of every unknown (solver units × W_SCALE = rad²).
    pub covariance: Option<Covariance<NS>>,
    /// Direct solver: eigenvalues of the reduced normal matrix.
    pub spectrum: Option<Vec<f64>>,
    pub layout: GlobalLayout,
}
