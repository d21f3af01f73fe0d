//! The one source of solver defaults, for every instrument.

use crate::robust::{RobustConfig, SolvableRule};
use crate::rows::LsqrPreconditioner;
use serde::{Deserialize, Serialize};

/// The linear solver of each outer iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Block-iterative simple iteration (AGIS, JAXBIS).
    Bi,
    /// Conjugate gradients preconditioned by the block solves (Bombrun et al. 2012).
    Cg,
    /// LSQR on the whole system (Gaia AVU-GSR).
    Lsqr,
    /// Reduced normal equations solved densely, full covariance (JASMINE AJAS).
    Direct,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Bi => "bi",
            Method::Cg => "cg",
            Method::Lsqr => "lsqr",
            Method::Direct => "direct",
        }
    }
}

/// LSQR settings (the tolerances are those of Paige & Saunders).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LsqrSettings {
    pub preconditioner: LsqrPreconditioner,
    /// Paige & Saunders's atol and btol (tests 1 and 2). In the outer loop LSQR also stops on
    /// the inner tolerance applied to ‖Āᵀr‖/‖Āᵀb‖, the measure PCG stops on, so that every
    /// iterative solver takes the same step ([`crate::lsqr`]).
    pub atol: f64,
    /// Condition limit (0: none).
    pub conlim: f64,
    /// Accumulate variance estimates.
    pub calc_var: bool,
}

/// Everything a solve can be told, with its defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SolverConfig {
    pub method: Method,
    /// Stop when the largest update of any source parameter, attitude angle or calibration
    /// value is below this (µas, µas/yr).
    pub outer_tol_uas: f64,
    /// Also count the sources' updates as converged once each is below this fraction of its
    /// formal uncertainty, and the global unknowns' below this fraction rather than
    /// [`GLOBAL_TOL_SIGMA`] ([`crate::converge`]); None: the sources by `outer_tol_uas` alone.
    #[serde(default)]
    pub outer_tol_sigma: Option<f64>,
    pub max_outer: usize,
    /// Relative (preconditioned) residual at which an inner iterative solve stops.
    pub inner_tol: f64,
    pub max_inner: usize,
    /// Robust weighting (downweights, excess noise), once the solution has settled: from the
    /// outer iteration after the largest update first falls below `robust_start_uas`.
    pub robust: bool,
    /// Largest update (µas) below which the residuals measure noise rather than the starting
    /// point's errors, and robust weighting starts (AGIS's start-up: far from the solution,
    /// excess noise would absorb the model errors and act as a heavy damping).
    pub robust_start_uas: f64,
    pub robust_config: RobustConfig,
    /// Which sources are solved.
    pub solvable: SolvableRule,
    /// Fewest measurements of solvable sources per attitude unknown, a third of them across
    /// scan (an instrument with a spline attitude refuses data below it,
    /// [`MIN_ATTITUDE_REDUNDANCY`]).
    pub min_attitude_redundancy: f64,
    pub lsqr: LsqrSettings,
    /// Direct solver: pseudo-inverse of the reduced matrix (frame defect kept, the six smallest
    /// eigenvalues dropped) instead of Cholesky with the frame rows.
    pub keep_rank_defect: bool,
    /// Direct solver: full covariance at the solution.
    pub covariance: bool,
    /// Direct solver: eigenvalue spectrum of the reduced matrix at the solution.
    pub spectrum: bool,
    /// Most memory (bytes) the solve may hold; None measures what is available (cgroup limit
    /// and MemAvailable, [`crate::memory`]). A solve estimated to need more is refused before
    /// it starts.
    #[serde(default)]
    pub max_memory_bytes: Option<u64>,
    /// Return the solution even when the outer iterations did not converge or the frame could
    /// not be fixed (partial results, marked so in the report's verdict); by default such a
    /// solve is an error ([`crate::SolveError::NotConverged`]).
    #[serde(default)]
    pub allow_unconverged: bool,
}

/// What a user asks of a solve over an instrument's defaults (the command line's flags, the
/// Python keywords): None keeps the default. Applied by [`SolverConfig::overridden`], the one
/// translation shared by every front end.
#[derive(Clone, Debug, PartialEq)]
pub struct SolverOverrides {
    pub method: Method,
    pub outer_tol_uas: Option<f64>,
    pub outer_tol_sigma: Option<f64>,
    pub robust_start_uas: Option<f64>,
    pub max_outer: usize,
    pub max_inner: Option<usize>,
    pub inner_tol: Option<f64>,
    pub robust: bool,
    pub keep_rank_defect: bool,
    pub min_visibility_periods: Option<usize>,
    pub min_attitude_redundancy: Option<f64>,
    pub covariance: bool,
    pub spectrum: bool,
    pub max_memory_bytes: Option<u64>,
    pub allow_unconverged: bool,
}

impl SolverConfig {
    /// These defaults with the user's choices `o` applied.
    pub fn overridden(self, o: &SolverOverrides) -> SolverConfig {
        SolverConfig {
            method: o.method,
            outer_tol_uas: o.outer_tol_uas.unwrap_or(self.outer_tol_uas),
            outer_tol_sigma: o.outer_tol_sigma.or(self.outer_tol_sigma),
            robust_start_uas: o.robust_start_uas.unwrap_or(self.robust_start_uas),
            max_outer: o.max_outer,
            max_inner: o.max_inner.unwrap_or(self.max_inner),
            inner_tol: o.inner_tol.unwrap_or(self.inner_tol),
            robust: o.robust,
            keep_rank_defect: o.keep_rank_defect,
            solvable: SolvableRule {
                min_visibility_periods: o
                    .min_visibility_periods
                    .unwrap_or(self.solvable.min_visibility_periods),
                ..self.solvable
            },
            min_attitude_redundancy: o
                .min_attitude_redundancy
                .unwrap_or(self.min_attitude_redundancy),
            covariance: o.covariance,
            spectrum: o.spectrum,
            max_memory_bytes: o.max_memory_bytes.or(self.max_memory_bytes),
            allow_unconverged: o.allow_unconverged,
            ..self
        }
    }
}

/// Default outer tolerance (µas): tight enough that the four solvers give one answer, above
/// the floor of the updates (≈ 0.001–0.005 µas, set by rounding in the least-determined
/// attitude directions).
pub const OUTER_TOL_UAS: f64 = 1e-2;
/// An inner iterative solve also stops when its remaining correction (the preconditioned
/// residual K⁻¹r, rad) is below this fraction of the outer tolerance: the step is then exact
/// enough for the outer iteration, however small the step itself is.
pub const INNER_STEP_FRACTION: f64 = 0.1;
/// Fraction of its formal uncertainty below which an attitude or calibration update counts as
/// converged whatever its size in µas ([`crate::converge`]): on the JASMINE-like survey the
/// direct solver's exposure-attitude updates hover at a floor of 0.016–0.025 µas, above
/// [`OUTER_TOL_UAS`], while every update stays below 3.3 × 10⁻⁶ of its σ (measured, outer
/// iterations 17–25); no result shows a change of 10⁻⁴ σ.
pub const GLOBAL_TOL_SIGMA: f64 = 1e-4;
/// Default update (µas) below which robust weighting starts.
pub const ROBUST_START_UAS: f64 = 100.0;
/// Default atol and btol of LSQR: below what the relative normal residual reaches, so that
/// the inner tolerance decides, as for PCG.
pub const LSQR_ATOL: f64 = 1e-14;
/// Default fewest measurements per attitude unknown (a third of them AC). Below it the
/// attitude's errors, which the source-block formal errors leave out, dominate the sources'
/// errors, and weakly determined knot spans keep the outer iterations from converging:
/// measured on Gaia-like missions (docs/solvers.md), 20–35 per unknown give true errors
/// 2.1–2.8× the formal ones, 52 gives 1.3–1.6×, neither converging; 98 (the simulator's
/// default scaling) 1.07–1.18×, converged.
pub const MIN_ATTITUDE_REDUNDANCY: f64 = 60.0;
/// Default relative inner tolerance.
pub const INNER_TOL: f64 = 1e-6;

impl Default for SolverConfig {
    fn default() -> Self {
        SolverConfig {
            method: Method::Cg,
            outer_tol_uas: OUTER_TOL_UAS,
            outer_tol_sigma: None,
            max_outer: 30,
            inner_tol: INNER_TOL,
            max_inner: 5000,
            robust: true,
            robust_start_uas: ROBUST_START_UAS,
            robust_config: RobustConfig::default(),
            solvable: SolvableRule {
                min_obs: 10,
                min_visibility_periods: 6,
                gap_days: 4.0,
            },
            min_attitude_redundancy: MIN_ATTITUDE_REDUNDANCY,
            lsqr: LsqrSettings {
                preconditioner: LsqrPreconditioner::Blocks,
                atol: LSQR_ATOL,
                conlim: 0.0,
                calc_var: true,
            },
            keep_rank_defect: false,
            covariance: true,
            spectrum: true,
            max_memory_bytes: None,
            allow_unconverged: false,
        }
    }
}

impl SolverConfig {
    /// Defaults for a scanning (Gaia-like) mission: 6 visibility periods (Gaia DR2/DR3).
    pub fn scanning() -> Self {
        Self::default()
    }

    /// Defaults for a pointed (JASMINE-like) survey: sources seen in at least 3 seasons
    /// (visibility periods separated by more than 30 days), 10 images.
    pub fn pointed() -> Self {
        SolverConfig {
            solvable: SolvableRule {
                min_obs: 10,
                min_visibility_periods: 3,
                gap_days: 30.0,
            },
            ..Self::default()
        }
    }
}
