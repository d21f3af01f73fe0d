//! What a solve produces: the catalogue with formal errors, the attitude, the calibration,
//! and the record of the iterations.

use crate::design::NS;
use astrosolve_model::{BSplineAttitude, Calibration, SourceParams};
use serde::Serialize;

#[derive(Clone, Debug)]
pub struct SourceResult {
    pub params: SourceParams,
    /// Covariance of (α*, δ, ϖ, μα*, μδ) in rad² (rad/yr for proper motions): from the inverse
    /// of the source's own normal block (attitude and calibration errors ignored), or with the
    /// direct solver the complete 5×5 block of the full covariance plus the uncertainty of the
    /// frame fix (orientation and spin fitted to the reference sources).
    pub cov: [f64; NS * NS],
    /// The inverse-source-block covariance when `cov` is the full one (direct solver).
    pub cov_block: Option<[f64; NS * NS]>,
    /// LSQR's variance estimates of the five parameters (rad², LSQR solver only).
    pub var_lsqr: Option<[f64; NS]>,
    /// False when the source had too few good observations to be solved.
    pub solved: bool,
    pub n_obs_al: u32,
    pub n_good_obs_al: u32,
    pub n_bad_obs_al: u32,
    /// Excess noise ε (rad).
    pub excess_noise: f64,
    /// Unit-weight error √(Σ r²/σ² / (n − 5)) over good AL observations.
    pub uwe: f64,
    /// UWE divided by the median UWE of solved sources.
    pub ruwe: f64,
}

impl SourceResult {
    /// Standard uncertainty of parameter k (rad or rad/yr).
    pub fn sigma(&self, k: usize) -> f64 {
        self.cov[k * NS + k].sqrt()
    }
    /// Correlation coefficient of parameters a and b.
    pub fn corr(&self, a: usize, b: usize) -> f64 {
        self.cov[a * NS + b] / (self.sigma(a) * self.sigma(b))
    }
}

/// One outer (relinearisation) iteration.
#[derive(Clone, Debug, Serialize)]
pub struct OuterRecord {
    pub iteration: usize,
    pub inner_iterations: usize,
    pub inner_converged: bool,
    /// Largest parameter change of this iteration (µas or µas/yr).
    pub max_update_uas: f64,
    /// The same for sources, attitude (rotation angle) and calibration separately.
    pub max_update_parts_uas: [f64; 3],
    /// Relative preconditioned residual after each inner check.
    pub inner_history: Vec<f64>,
    /// Observations rejected as outliers after this iteration's weighting.
    pub n_rejected: usize,
    /// Frame correction applied (rotation µas, spin µas/yr).
    pub frame_rotation_uas: [f64; 3],
    pub frame_spin_uas_per_yr: [f64; 3],
    pub wall_seconds: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct SolveReport {
    pub solver: String,
    pub frame: String,
    pub converged: bool,
    pub outer_iterations: usize,
    pub inner_iterations: usize,
    pub n_sources: usize,
    pub n_solved_sources: usize,
    pub n_observations: usize,
    pub n_rejected_observations: usize,
    /// Resident bytes of the design equations, per observation.
    pub design_bytes_per_observation: f64,
    pub wall_seconds: f64,
    /// Formal uncertainty (per axis) with which the frame was fixed: orientation from the
    /// reference positions (µas), spin from the quasar-like sources (µas/yr); NaN for min-norm.
    pub frame_rotation_sigma_uas: [f64; 3],
    pub frame_spin_sigma_uas_per_yr: [f64; 3],
    /// Direct solver: number of reduced (attitude + calibration) unknowns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reduced_unknowns: Option<usize>,
    /// Direct solver: median over solved sources of σ(full covariance) / σ(inverse 5×5
    /// block) for α*, δ, ϖ, μα*, μδ — how much the block errors underestimate
    /// (Holl & Lindegren 2012).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_underestimation: Option<[f64; NS]>,
    /// LSQR: median over solved sources of σ(LSQR variance estimate) / σ(inverse 5×5 block).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lsqr_sigma_over_block: Option<[f64; NS]>,
    /// Direct solver: the six smallest eigenvalues of the reduced normal matrix without
    /// damping or constraints, divided by the largest (the frame modes), and the next one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smallest_eigenvalues_relative: Option<Vec<f64>>,
    pub history: Vec<OuterRecord>,
}

pub struct Solution {
    pub sources: Vec<SourceResult>,
    pub attitude: BSplineAttitude,
    pub calibration: Calibration,
    pub report: SolveReport,
    /// Direct solver: full covariance at the solution (scaled units, see
    /// [`crate::direct::Covariance`]) and the eigenvalues of the reduced normal matrix
    /// (ascending, scaled units).
    pub covariance: Option<crate::direct::Covariance>,
    pub spectrum: Option<Vec<f64>>,
}
