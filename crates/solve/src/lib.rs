//! # astrosolve-solve
//!
//! The global astrometric solution: from observations and a starting catalogue, attitude and
//! calibration, find the parameters that minimise the weighted residuals
//! (Lindegren et al. 2012, sections 5–6).
//!
//! Flow: [`design`] linearises every observation with the model's autodiff Jacobian and keeps
//! compact design equations (64 bytes per AL observation) → [`system`] assembles the block
//! normal equations (5×5 per source, banded attitude, dense calibration groups) and the
//! matrix-free products by "accumulate per source, then reduce" passes → [`inner`] solves the
//! linear system by simple (block Gauss–Seidel) iteration or preconditioned conjugate
//! gradients (Bombrun et al. 2012) → [`frame`] fixes the six-dimensional frame defect →
//! [`robust`] down-weights outliers and estimates excess noise → [`solve`] drives the
//! non-linear outer iterations and produces the [`solution::Solution`].

pub mod design;
pub mod direct;
pub mod frame;
pub mod inner;
pub mod lsqr;
pub mod robust;
pub mod rows;
pub mod solution;
pub mod solve;
pub mod system;
pub mod truth;

pub use frame::{FrameMode, FrameReference};
pub use solution::{Solution, SourceResult};
pub use solve::{solve, try_solve, InnerMethod, SolverConfig};
