//! report.json: what a solve did and, where truth is known, how close it came.

use astrosolve_solve::solution::SolveReport;
use astrosolve_solve::truth::TruthComparison;
use serde::Serialize;

#[derive(Serialize)]
pub struct Report<'a> {
    pub solver: &'a str,
    pub frame: &'a str,
    pub converged: bool,
    pub outer_iterations: usize,
    pub inner_iterations: usize,
    pub n_sources: usize,
    pub n_solved_sources: usize,
    pub n_observations: usize,
    pub n_rejected_observations: usize,
    pub wall_seconds: f64,
    pub design_bytes_per_observation: f64,
    /// Formal uncertainty of the frame fixing (per axis): orientation µas, spin µas/yr.
    pub frame_rotation_sigma_uas: [f64; 3],
    pub frame_spin_sigma_uas_per_yr: [f64; 3],
    /// Comparison with the simulated truth (sources with at least 20 good observations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truth: Option<TruthReport<'a>>,
    pub history: &'a [astrosolve_solve::solution::OuterRecord],
}

#[derive(Serialize)]
pub struct TruthReport<'a> {
    #[serde(flatten)]
    pub comparison: &'a TruthComparison,
    /// Calibration parameters: RMS of estimate − truth (µas).
    pub calibration_rms_error_uas: f64,
    /// Attitude: RMS over time of the rotation between estimated and true attitude (µas), about
    /// the SRS z axis (along scan) and x, y (across scan).
    pub attitude_rms_error_uas: [f64; 3],
}

impl<'a> Report<'a> {
    pub fn new(r: &'a SolveReport, truth: Option<TruthReport<'a>>) -> Self {
        Report {
            solver: &r.solver,
            frame: &r.frame,
            converged: r.converged,
            outer_iterations: r.outer_iterations,
            inner_iterations: r.inner_iterations,
            n_sources: r.n_sources,
            n_solved_sources: r.n_solved_sources,
            n_observations: r.n_observations,
            n_rejected_observations: r.n_rejected_observations,
            wall_seconds: r.wall_seconds,
            design_bytes_per_observation: r.design_bytes_per_observation,
            frame_rotation_sigma_uas: r.frame_rotation_sigma_uas,
            frame_spin_sigma_uas_per_yr: r.frame_spin_sigma_uas_per_yr,
            truth,
            history: &r.history,
        }
    }
}
