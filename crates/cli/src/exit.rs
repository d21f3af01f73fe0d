//! Exit status of the command line: 0 a result, 1 an error (bad input, refused data, a
//! failed write), 2 a solve that ran but gave no solution (not converged, diverged, a
//! non-finite step, frame not fixed: the diagnosis says why; `--allow-unconverged` writes the
//! partial results of an unconverged solve and exits 0), 130 interrupted (Ctrl-C).

use astrosolve_core::SolveError;
use astrosolve_scanning::run::RunError;

/// Status of a solve stopped by Ctrl-C (128 + SIGINT).
pub const INTERRUPTED: i32 = 130;

/// Status for a run that ended in `e`.
pub fn code(e: &(dyn std::error::Error + 'static)) -> i32 {
    let solve = e
        .downcast_ref::<SolveError>()
        .or_else(|| match e.downcast_ref::<RunError>() {
            Some(RunError::Solve(s)) => Some(s),
            _ => None,
        });
    match solve {
        Some(SolveError::NotConverged(_) | SolveError::Diverged(_) | SolveError::NonFinite(_)) => 2,
        Some(SolveError::Interrupted) => INTERRUPTED,
        _ => 1,
    }
}
