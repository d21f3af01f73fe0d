//! What a solve produces: the catalogue with formal errors, the attitude, the calibration,
//! and the record of the iterations.

use crate::design::NS;
use astrosolve_model::{BSplineAttitude, Calibration, SourceParams};
use serde::Serialize;

#[derive(Clone, Debug)]
pub struct SourceResult {
    pub params: SourceParams,
    /// Covariance of (α*, δ, ϖ, μα*, μδ) in rad² (rad/yr for proper motions) from the inverse
    /// of the source's own normal block (attitude and calibration errors ignored).
    pub cov: [f64; NS * NS],
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
    pub history: Vec<OuterRecord>,
}

#[derive(Clone, Debug)]
pub struct Solution {
    pub sources: Vec<SourceResult>,
    pub attitude: BSplineAttitude,
    pub calibration: Calibration,
    pub report: SolveReport,
}
