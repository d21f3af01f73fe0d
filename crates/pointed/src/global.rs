//! The global (self-calibrated) solution of a pointed survey through the astrosolve core:
//! any of its solvers (simple iteration, PCG, LSQR, direct with the full covariance), robust
//! weighting and the outer iterations, with the frame fixed by the reference-star priors.
//! Distributed: each rank solves its share ([`Problem::part`], [`solve_global_on`]) and
//! [`gather_global`] collects the sources on rank 0.

use crate::problem::{GlobalProblem, State};
use crate::{Problem, SourceSolution};
use astrosolve_core::checkpoint::{self, Checkpoint, CheckpointRef};
use astrosolve_core::comm::{Comm, Single};
use astrosolve_core::{Progress, SolveError, SolveReport, SolverConfig};
use astrosolve_model::pointed::{Distortion, N_SRC};
use serde::{Deserialize, Serialize};

/// Report of a global solution.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GlobalReport {
    #[serde(flatten)]
    pub solve: SolveReport,
    /// Formal errors: "full covariance" (direct) or "source blocks" (iterative).
    pub formal_errors: String,
}

pub struct GlobalSolution {
    pub sources: Vec<SourceSolution>,
    pub state: State,
    pub report: GlobalReport,
}

impl Problem {
    /// Starting point: starting catalogue, nominal attitude, zero distortion.
    pub fn start_state(&self) -> State {
        State {
            sources: self.start_sources.clone(),
            attitude: self.exposures.iter().map(|e| e.attitude).collect(),
            distortion: Distortion::zeros(self.model.order, self.n_units),
        }
    }
}

/// Solves the global problem from `start` (default: [`Problem::start_state`]).
pub fn solve_global(
    p: &Problem,
    start: Option<State>,
    cfg: &SolverConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<GlobalSolution, SolveError> {
    solve_global_resumable(p, start, cfg, progress, None, &mut |_| true)
}

/// [`solve_global`], resumed from the checkpoint `from` and handing `save` a checkpoint after
/// every outer iteration that another follows (`astrosolve_core::solve_resumable`).
pub fn solve_global_resumable(
    p: &Problem,
    start: Option<State>,
    cfg: &SolverConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
    from: Option<Checkpoint<State>>,
    save: &mut dyn FnMut(&CheckpointRef<State>) -> bool,
) -> Result<GlobalSolution, SolveError> {
    solve_global_on(p, start, cfg, progress, from, save, &Single)
}

/// [`solve_global_resumable`] as one rank of `comm`: `p` is the rank's share
/// ([`Problem::part`]), every rank calls it with the same configuration; the solution holds
/// the rank's sources and the replicated attitude and distortion.
pub fn solve_global_on(
    p: &Problem,
    start: Option<State>,
    cfg: &SolverConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
    from: Option<Checkpoint<State>>,
    save: &mut dyn FnMut(&CheckpointRef<State>) -> bool,
    comm: &dyn Comm,
) -> Result<GlobalSolution, SolveError> {
    let gp = GlobalProblem::new(p).with_comm(comm);
    let start = start.unwrap_or_else(|| p.start_state());
    let sol = astrosolve_core::solve_resumable(&gp, start, cfg, progress, from, save)?;
    let images: Vec<usize> = {
        let mut n = vec![0usize; p.n_sources];
        for o in &p.obs {
            n[o.source as usize] += 1;
        }
        n
    };
    let full = sol.covariance.is_some();
    let sources = sol
        .sources
        .iter()
        .enumerate()
        .map(|(s, r)| SourceSolution {
            params: sol.state.sources[s],
            cov: if r.solved {
                r.cov
            } else {
                [[f64::NAN; N_SRC]; N_SRC]
            },
            n_obs: images[s],
            solved: r.solved,
            n_outliers: r.weighting.n_bad as usize,
        })
        .collect();
    Ok(GlobalSolution {
        sources,
        state: sol.state,
        report: GlobalReport {
            solve: sol.report,
            formal_errors: if full {
                "full covariance (direct solver)".into()
            } else {
                "inverse of each source's 5×5 block".into()
            },
        },
    })
}

/// Collects a distributed global solution on rank 0 (collective): every source in catalogue
/// order (ranks in order), the replicated attitude and distortion and the report of rank 0;
/// `None` on the other ranks.
pub fn gather_global(
    sol: &GlobalSolution,
    comm: &dyn Comm,
) -> Result<Option<GlobalSolution>, String> {
    let share = (&sol.sources, &sol.state.sources);
    let bytes = checkpoint::to_bytes(&share)?;
    let Some(all) = comm.gather_bytes(&bytes, 0) else {
        return Ok(None);
    };
    let mut sources = Vec::new();
    let mut params = Vec::new();
    for (rank, b) in all.iter().enumerate() {
        let (s, p): (Vec<SourceSolution>, Vec<[f64; N_SRC]>) = checkpoint::from_bytes(b)
            .map_err(|e| format!("gathering the solution: the share of rank {rank}: {e}"))?;
        sources.extend(s);
        params.extend(p);
    }
    Ok(Some(GlobalSolution {
        sources,
        state: State {
            sources: params,
            attitude: sol.state.attitude.clone(),
            distortion: sol.state.distortion.clone(),
        },
        report: sol.report.clone(),
    }))
}
