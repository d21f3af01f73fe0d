//! Typed errors of the solvers: each says what failed and where (the block, the unknown).

/// Why a linear or non-linear solve could not proceed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SolveError {
    /// A diagonal block of the global unknowns is singular: the data (with the constraints)
    /// do not determine those unknowns.
    #[error("{what}: its normal matrix is singular (not positive definite at unknown {pivot} of the block): the observations and constraints do not determine it")]
    SingularBlock { what: String, pivot: usize },
    /// The reduced normal matrix of the direct solver is not positive definite.
    #[error("the reduced normal matrix ({n} unknowns) is not positive definite: the attitude and calibration are not determined by the data; try --solver cg or more observations")]
    ReducedNotPositiveDefinite { n: usize },
    /// faer's eigendecomposition failed.
    #[error("eigendecomposition of the reduced normal matrix failed: {0}")]
    Eigen(String),
    /// A pseudo-observation couples two diagonal blocks (instrument layout error).
    #[error("pseudo-observation {row} couples unknowns {a} and {b} of different diagonal blocks")]
    ConstraintAcrossBlocks { row: usize, a: usize, b: usize },
    /// A design-row segment lies outside one diagonal block (instrument layout error).
    #[error("a design row's segment at unknowns {start}..{end} is not inside one diagonal block")]
    SegmentAcrossBlocks { start: usize, end: usize },
    /// The configuration asks for something impossible.
    #[error("invalid solver configuration: {0}")]
    Config(String),
    /// Not enough memory for what the solver would hold ([`crate::memory`]), found before
    /// the allocations: the figures, where the limit comes from and the alternatives.
    #[error("not enough memory: {what} would hold {} at its peak but {} are available ({limit}). It would hold: {breakdown}. Instead: {advice}", crate::memory::fmt_bytes(*.need_bytes), crate::memory::fmt_bytes(*.available_bytes))]
    Memory {
        what: String,
        need_bytes: u64,
        available_bytes: u64,
        /// Where the available figure comes from.
        limit: String,
        /// The estimate item by item.
        breakdown: String,
        advice: String,
    },
    /// The data do not determine some unknowns (the instrument's redundancy check).
    #[error("{0}")]
    Undetermined(String),
    /// The outer iterations diverge: the data do not hold the solution near a minimum.
    #[error("{0}")]
    Diverged(String),
    /// The outer iterations ended without converging (or the frame could not be fixed): the
    /// diagnosis says what failed, the redundancy figures and what to change. Not raised with
    /// `allow_unconverged`, where the report's verdict says so instead.
    #[error("{0}")]
    NotConverged(String),
    /// A linear step gave a non-finite update (non-finite values in the normal equations, or
    /// a system too ill-conditioned for the solver): the message names the unknown.
    #[error("{0}")]
    NonFinite(String),
    /// The observations could not be read (a store on disk, `astrosolve_model::ObservationStore`):
    /// the message names the file and the source.
    #[error("reading the observations: {0}")]
    Data(String),
    /// Interrupted by the caller (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
}
