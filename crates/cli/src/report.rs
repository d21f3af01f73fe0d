//! report.json: what a solve did and, where truth is known, how close it came.

use astrosolve_core::SolveReport;
use astrosolve_scanning::truth::TruthComparison;
use serde::Serialize;

/// The solver's own record (solver, convergence, iterations, counts, timing, history) with,
/// where truth is known, the comparison against it.
#[derive(Serialize)]
pub struct Report<'a> {
    #[serde(flatten)]
    pub solve: &'a SolveReport,
    /// How the frame defect was fixed (gaia, min-norm).
    pub frame_mode: &'a str,
    /// Comparison with the simulated truth (sources with at least 20 good observations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truth: Option<TruthReport<'a>>,
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
    pub fn new(
        solve: &'a SolveReport,
        frame_mode: &'a str,
        truth: Option<TruthReport<'a>>,
    ) -> Self {
        Report {
            solve,
            frame_mode,
            truth,
        }
    }
}
