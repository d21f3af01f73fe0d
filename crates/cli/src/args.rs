//! Command-line arguments shared by the commands, and the one translation of the solver flags
//! into the core's configuration: every flag means the same for both instruments, or is refused
//! with a message saying why.

use astrosolve_core::{Method, SolverConfig, SolverOverrides};
use std::path::PathBuf;

/// Which mission family `simulate` produces.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MissionArg {
    /// Gaia-like scanning satellite (docs/simulation.md).
    #[default]
    Gaia,
    /// JASMINE-like pointed survey of a Galactic-centre field (docs/jasmine.md).
    Jasmine,
}

#[derive(clap::Args, Debug)]
pub struct SimulateArgs {
    /// Mission family: gaia (scanning, default) or jasmine (pointed survey, docs/jasmine.md).
    #[arg(long, value_enum, default_value_t = MissionArg::Gaia)]
    pub mission: MissionArg,
    /// mission.toml with [mission] and [simulation] sections (all keys optional; defaults:
    /// the small Gaia-like mission, see docs/simulation.md).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output directory of the data set.
    #[arg(long, value_name = "DIR", default_value = "astrosolve-sim")]
    pub out: PathBuf,
    /// Overwrite files of an existing data set in --out.
    #[arg(long)]
    pub force: bool,
    /// Random seed (overrides [simulation].seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of sources (overrides [simulation].n_sources).
    #[arg(long)]
    pub n_sources: Option<usize>,
    /// Mission length in days (overrides [mission].duration_days; the reference epoch stays in the middle).
    #[arg(long)]
    pub days: Option<f64>,
    /// Fraction of observations replaced by outliers (overrides [simulation].outlier_rate).
    #[arg(long)]
    pub outlier_rate: Option<f64>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum SolverArg {
    /// Block-iterative simple iteration (AGIS / JAXBIS).
    Bi,
    /// Conjugate gradients preconditioned by the block solves (Bombrun et al. 2012).
    Cg,
    /// LSQR on the whole system with column scaling (Paige & Saunders 1982; Gaia AVU-GSR).
    Lsqr,
    /// Direct: reduced normal matrix by dense Cholesky, full covariance, eigenvalue spectrum
    /// (JASMINE AJAS). Memory grows as the square of the attitude + calibration unknowns.
    Direct,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum FrameArg {
    /// Orientation from reference positions (reference_positions.parquet), spin from quasars (is_qso).
    Gaia,
    /// Minimum-norm correction relative to the starting catalogue and attitude.
    MinNorm,
}

#[derive(clap::Args, Debug, Clone)]
pub struct SolverOptions {
    /// Inner solver of each linearised system.
    #[arg(long, value_enum, default_value_t = SolverArg::Cg)]
    pub solver: SolverArg,
    /// How the six-dimensional frame defect (orientation and spin) is fixed.
    /// [default: gaia; a pointed survey's frame is fixed by its reference stars and takes no --frame]
    #[arg(long, value_enum)]
    pub frame: Option<FrameArg>,
    /// Stop when the largest parameter update is below this (µas, µas/yr) [default: 0.01].
    #[arg(long, value_name = "UAS")]
    pub tol_uas: Option<f64>,
    /// Also stop when every update is below this fraction of its formal uncertainty (sources:
    /// σ from their blocks of the normal matrix; attitude and calibration: from the factored
    /// diagonal blocks, a strict measure): for large missions, whose weakest sources (σ of
    /// mas) keep moving by µas, and attitudes that stall above --tol-uas [default: off].
    #[arg(long, value_name = "FRACTION")]
    pub tol_sigma: Option<f64>,
    /// Most outer (relinearisation) iterations.
    #[arg(long, default_value_t = 30)]
    pub max_outer: usize,
    /// Most inner iterations per outer iteration [default: 5000].
    #[arg(long)]
    pub max_inner: Option<usize>,
    /// Relative normal-equation residual at which an inner solve stops (PCG, simple iteration
    /// and LSQR alike) [default: 1e-6].
    #[arg(long)]
    pub inner_tol: Option<f64>,
    /// No down-weighting of outliers (and no excess noise).
    #[arg(long)]
    pub no_robust: bool,
    /// Robust weighting starts after the first outer iteration whose largest update is below
    /// this (µas): far from the solution the residuals hold the starting point's errors, which
    /// excess noise would absorb [default: 100].
    #[arg(long, value_name = "UAS")]
    pub robust_start_uas: Option<f64>,
    /// Fewest visibility periods (groups of observations more than 4 days apart) for a source
    /// to be solved; Gaia DR2/DR3 use 6, which needs about a year of data [default: 6].
    #[arg(long, value_name = "N")]
    pub min_visibility_periods: Option<usize>,
    /// Scanning instrument: fewest measurements of solvable sources per attitude unknown, a
    /// third of them across scan (AC); below it the data are refused, since the attitude's
    /// errors would dominate the sources' and exceed their formal errors [default: 60].
    #[arg(long, value_name = "R")]
    pub min_attitude_redundancy: Option<f64>,
    /// Direct solver: keep the frame defect and solve by the pseudo-inverse (symmetric
    /// eigendecomposition, the six smallest eigenvalues dropped) instead of Cholesky.
    #[arg(long)]
    pub pseudo_inverse: bool,
    /// Direct solver: skip the full covariance (an n³ inversion of the reduced matrix).
    #[arg(long)]
    pub no_covariance: bool,
    /// Direct solver: skip the eigenvalue spectrum of the reduced matrix.
    #[arg(long)]
    pub no_spectrum: bool,
    /// Direct solver: CSV file with pairs of unknowns (columns `a`, `b`, each like
    /// `source:SOURCE_ID:parallax`, `attitude:K` or `calibration:K`) whose covariance is
    /// written to covariance_pairs.csv.
    #[arg(long, value_name = "FILE")]
    pub cov_pairs: Option<PathBuf>,
    /// Most memory the solve may hold, e.g. 8GB, 512MB, 16GiB [default: what is available: the
    /// cgroup's limit less its usage, and MemAvailable]. A solve estimated to need more (the
    /// direct solver's dense matrices, the design rows) is refused before it starts.
    #[arg(long, value_name = "SIZE", value_parser = astrosolve_core::memory::parse_size)]
    pub max_memory: Option<u64>,
    /// Write the results even when the solve does not converge or the frame cannot be fixed
    /// (partial results; report.json's verdict and the summary say so in their first line).
    /// Without it such a solve writes nothing and exits with status 2.
    #[arg(long)]
    pub allow_unconverged: bool,
}

#[derive(clap::Args, Debug)]
pub struct SolveArgs {
    /// Data set directory (mission.toml, observations.parquet, sources.parquet, attitude.parquet,
    /// calibration.parquet; optional reference_positions.parquet and truth/).
    pub dir: PathBuf,
    /// Output directory (catalogue.parquet, attitude.parquet, calibration.parquet, report.json, plots).
    #[arg(long, value_name = "OUT", default_value = "astrosolve-solution")]
    pub out: PathBuf,
    /// Overwrite existing outputs in OUT.
    #[arg(long)]
    pub force: bool,
    /// Continue from OUT/checkpoint.bin, the state a solve of the same data set with the same
    /// solver flags left after its last outer iteration (killed or stopped); --max-outer may
    /// be raised. Refused when the checkpoint is missing, truncated, corrupt, or from other
    /// data or flags.
    #[arg(long)]
    pub resume: bool,
    /// Keep the observations on disk during the solve (a scratch file in OUT, removed at
    /// once): they are read again at every outer iteration, so that only the design rows stay
    /// in memory (≈ 75 instead of ≈ 130 bytes per AL observation). Same solution, bit for
    /// bit. Scanning data sets only.
    #[arg(long)]
    pub observations_on_disk: bool,
    #[command(flatten)]
    pub solver: SolverOptions,
}

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Output directory (data set in OUT/data, solution files, report.json, plots).
    #[arg(long, value_name = "OUT", default_value = "astrosolve-demo")]
    pub out: PathBuf,
    /// Overwrite existing outputs in OUT.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub solver: SolverOptions,
}

impl SolverOptions {
    /// The core configuration these flags ask for, over an instrument's defaults.
    pub fn core_config(&self, d: SolverConfig) -> SolverConfig {
        d.overridden(&SolverOverrides {
            method: match self.solver {
                SolverArg::Bi => Method::Bi,
                SolverArg::Cg => Method::Cg,
                SolverArg::Lsqr => Method::Lsqr,
                SolverArg::Direct => Method::Direct,
            },
            outer_tol_uas: self.tol_uas,
            outer_tol_sigma: self.tol_sigma,
            robust_start_uas: self.robust_start_uas,
            max_outer: self.max_outer,
            max_inner: self.max_inner,
            inner_tol: self.inner_tol,
            robust: !self.no_robust,
            keep_rank_defect: self.pseudo_inverse,
            min_visibility_periods: self.min_visibility_periods,
            min_attitude_redundancy: self.min_attitude_redundancy,
            covariance: !self.no_covariance,
            spectrum: !self.no_spectrum,
            max_memory_bytes: self.max_memory,
            allow_unconverged: self.allow_unconverged,
        })
    }

    /// Flags that only the direct solver uses, refused with another solver.
    pub fn check_direct_flags(&self) -> Result<(), String> {
        if matches!(self.solver, SolverArg::Direct) {
            if self.no_covariance && self.cov_pairs.is_some() {
                return Err("--cov-pairs needs the covariance; drop --no-covariance".into());
            }
            return Ok(());
        }
        for (set, flag) in [
            (self.pseudo_inverse, "--pseudo-inverse"),
            (self.no_covariance, "--no-covariance"),
            (self.no_spectrum, "--no-spectrum"),
            (self.cov_pairs.is_some(), "--cov-pairs"),
        ] {
            if set {
                return Err(format!(
                    "{flag} applies to the direct solver only; add --solver direct"
                ));
            }
        }
        Ok(())
    }
}
