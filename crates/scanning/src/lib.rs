//! # astrosolve-scanning
//!
//! The scanning (Gaia-like) instrument over the astrosolve core (Lindegren et al. 2012,
//! sections 3–6): [`row`] — the compact AL/AC design row (B-spline attitude and calibration
//! unit); [`problem`] — the instrument as a core `Problem`: linearisation by the generic
//! autodiff model, the unknown layout (banded attitude, calibration groups), the quaternion-
//! norm and calibration-convention pseudo-observations, the frame rows and rotator
//! ([`frame`]); [`solve`] — the outer iterations through `astrosolve_core::solve`;
//! [`truth`] — comparison with a simulation's truth; [`run`] — simulate, solve and write the
//! solution files as the command line and the Python bindings do.

pub mod frame;
pub mod problem;
pub mod row;
pub mod run;
pub mod solution;
pub mod solve;
pub mod truth;

pub use frame::{FrameMode, FrameReference};
pub use problem::{ScanState, ScanningProblem};
pub use row::{ScanRow, NS};
pub use solution::{Solution, SourceResult};
pub use solve::{solve, ScanConfig};
