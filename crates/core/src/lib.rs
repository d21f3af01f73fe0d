//! # astrosolve-core
//!
//! The block-angular least-squares problem of a global astrometric solution and every solver
//! over it, written once for every instrument (seed paper sections 3–4; Lindegren et al. 2012,
//! sections 5–6).
//!
//! Unknowns x = [x₁ … x_n | g]: NS per source (5, or 6 with the pseudo-colour), then the global
//! unknowns g — attitude, calibration, global parameters — in typed diagonal blocks
//! ([`layout`]). Observation equations, whitened ([`design`]): every row touches one source
//! and some global unknowns,
//!   a_l,sᵀ Δx_s(l) + a_l,gᵀ Δg = r_l,
//! plus pseudo-observations, damping, priors and frame rows ([`constraints`]). The normal matrix
//! is block-angular ([`system`]):
//!
//! ```text
//!   N = | D   E    |   D = blockdiag(N_ss) (NS × NS per source),
//!       | Eᵀ  N_gg |   N_gg in diagonal blocks K_g (+ couplings between blocks).
//! ```
//!
//! Solvers, each in one place: [`gauss_seidel`] (AGIS simple iteration), [`cg`] (PCG,
//! Bombrun et al. 2012), [`lsqr`] over the row view [`rows`] (Paige & Saunders 1982, AVU-GSR),
//! [`schur`] (reduced normal matrix, Cholesky, pseudo-inverse, spectrum; AJAS) and
//! [`covariance`]; the Gauss–Newton outer loop with robust re-weighting ([`robust`]) in
//! [`outer`]. Work is split into fixed chunks and reduced in a fixed order ([`chunks`]), so
//! every result is bit-for-bit independent of the number of threads. Defaults: [`config`].
//!
//! Instruments (scanning, pointed) implement [`outer::Problem`]: design rows through the
//! generic autodiff model, unknown layout, constraints and priors, frame handling.

// index loops over parallel arrays mirror the formulas of the module docs
#![allow(clippy::needless_range_loop)]

pub mod cg;
pub mod checkpoint;
pub mod chunks;
pub mod comm;
pub mod config;
pub mod constraints;
pub mod converge;
pub mod covariance;
pub mod design;
pub mod error;
pub mod gauss_seidel;
pub mod gross;
pub mod layout;
pub mod lsqr;
pub mod memory;
pub mod outer;
pub mod robust;
pub mod rows;
pub mod schur;
pub mod system;

pub use comm::{Comm, Single, Threads};
pub use config::{LsqrSettings, Method, SolverConfig, SolverOverrides};
pub use constraints::{Constraints, SourcePrior};
pub use design::{Design, DesignRow, GlobalPart, RowMeta, SIGMA_UNIT, W_SCALE};
pub use error::SolveError;
pub use layout::{BlockKind, GlobalLayout};
pub use outer::{
    solve, solve_resumable, FrameContext, FrameFix, OuterRecord, Problem, Progress, Solution,
    SolveReport, SourceResult,
};
pub use robust::{Downweight, RobustConfig, SolvableRule, SourceWeighting};
pub use rows::LsqrPreconditioner;
