//! The global (self-calibrated) solution: sources, per-exposure attitude and the distortion
//! of every calibration unit solved together, the frame fixed by the reference-catalogue
//! priors. Outer (Gauss–Newton) iterations relinearise with the autodiff Jacobian; the inner
//! linear solve is
//! - `Si`: block-iterative simple iteration (block Gauss–Seidel: sources, then exposures,
//!   then distortion, each from its own diagonal blocks; AGIS / JAXBIS-like),
//! - `Cg`: the same blocks as preconditioner of conjugate gradients (Bombrun et al. 2012),
//! - `Direct`: sources eliminated, reduced exposure + distortion system by Cholesky
//!   ([`crate::direct`], AJAS-like), with the full covariance.

use crate::direct;
use crate::system::{apply_update, Group, State, System};
use crate::{Problem, SourceSolution};
use astrosolve_model::pointed::N_SRC;
use astrosolve_model::units::UAS;
use serde::{Deserialize, Serialize};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InnerSolver {
    Si,
    Cg,
    Direct,
}

impl InnerSolver {
    pub fn name(self) -> &'static str {
        match self {
            InnerSolver::Si => "block-iterative (simple iteration)",
            InnerSolver::Cg => "block-iterative (CG-accelerated)",
            InnerSolver::Direct => "direct (Cholesky of the reduced system)",
        }
    }
}

#[derive(Clone, Debug)]
pub struct GlobalConfig {
    pub solver: InnerSolver,
    /// Most outer iterations.
    pub max_outer: usize,
    /// Stop when the largest update is below this (µas, µas/yr).
    pub outer_tol_uas: f64,
    /// Most inner iterations per outer iteration (Si, Cg).
    pub max_inner: usize,
    /// Relative residual ‖b − N x‖/‖b‖ at which an inner solve stops.
    pub inner_tol: f64,
    /// Direct solver: compute the full covariance of the sources at the end.
    pub full_covariance: bool,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            solver: InnerSolver::Cg,
            max_outer: 8,
            outer_tol_uas: 1e-4,
            max_inner: 3000,
            inner_tol: 1e-12,
            full_covariance: true,
        }
    }
}

/// Progress events of [`solve_global`].
pub enum GlobalProgress {
    Inner {
        outer: usize,
        iteration: usize,
        residual: f64,
    },
    Outer(OuterRecord),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OuterRecord {
    pub iteration: usize,
    pub inner_iterations: usize,
    /// Largest update of sources, attitude, distortion (µas or µas/yr).
    pub max_update_uas: [f64; 3],
    pub seconds: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GlobalReport {
    pub solver: InnerSolver,
    pub converged: bool,
    pub outer_iterations: usize,
    pub inner_iterations: usize,
    pub wall_seconds: f64,
    pub n_observations: usize,
    pub n_unknowns: usize,
    /// Formal errors: "full covariance" (direct) or "source blocks" (iterative).
    pub formal_errors: String,
    pub history: Vec<OuterRecord>,
}

pub struct GlobalSolution {
    pub sources: Vec<SourceSolution>,
    pub state: State,
    pub report: GlobalReport,
}

/// Solves the global problem from the starting point of `p`.
pub fn solve_global(
    p: &Problem,
    cfg: &GlobalConfig,
    progress: &mut dyn FnMut(GlobalProgress),
) -> Result<GlobalSolution, String> {
    let t0 = Instant::now();
    let mut state = p.start_state();
    let mut history = Vec::new();
    let mut converged = false;
    let mut inner_total = 0;
    let mut last_cov: Option<Vec<[[f64; N_SRC]; N_SRC]>> = None;
    for outer in 0..cfg.max_outer {
        let ts = Instant::now();
        let sys = System::build(p, &state);
        let last_chance = outer + 1 == cfg.max_outer;
        let (dx, iters, cov) = match cfg.solver {
            InnerSolver::Cg => {
                let (dx, it) = pcg(&sys, cfg, &mut |i, r| {
                    progress(GlobalProgress::Inner {
                        outer,
                        iteration: i,
                        residual: r,
                    })
                })?;
                (dx, it, None)
            }
            InnerSolver::Si => {
                let (dx, it) = simple_iteration(&sys, cfg, &mut |i, r| {
                    progress(GlobalProgress::Inner {
                        outer,
                        iteration: i,
                        residual: r,
                    })
                })?;
                (dx, it, None)
            }
            InnerSolver::Direct => {
                let d = direct::solve_direct(&sys, cfg.full_covariance)?;
                (d.dx, 1, d.source_covariance)
            }
        };
        inner_total += iters;
        let m = apply_update(&sys, &mut state, &dx);
        let rec = OuterRecord {
            iteration: outer + 1,
            inner_iterations: iters,
            max_update_uas: m.map(|v| v / UAS),
            seconds: ts.elapsed().as_secs_f64(),
        };
        progress(GlobalProgress::Outer(rec.clone()));
        history.push(rec);
        if cov.is_some() {
            last_cov = cov;
        }
        if m.iter().fold(0.0f64, |a, &b| a.max(b)) / UAS < cfg.outer_tol_uas {
            converged = true;
            break;
        }
        if last_chance {
            break;
        }
    }
    // formal errors at the solution
    let sys = System::build(p, &state);
    let (covs, formal) = match last_cov {
        Some(c) => (c, "full covariance (direct solver)"),
        None => {
            let bd = sys.block_diagonal()?;
            (
                (0..p.n_sources).map(|s| bd.source_covariance(s)).collect(),
                "inverse of each source's 5×5 block",
            )
        }
    };
    let sources = (0..p.n_sources)
        .map(|s| {
            let n = sys.rows_of(s).len();
            if n == 0 {
                SourceSolution {
                    params: [f64::NAN; N_SRC],
                    cov: [[f64::NAN; N_SRC]; N_SRC],
                    n_obs: 0,
                    solved: false,
                }
            } else {
                SourceSolution {
                    params: state.sources[s],
                    cov: covs[s],
                    n_obs: n,
                    solved: true,
                }
            }
        })
        .collect();
    Ok(GlobalSolution {
        sources,
        report: GlobalReport {
            solver: cfg.solver,
            converged,
            outer_iterations: history.len(),
            inner_iterations: inner_total,
            wall_seconds: t0.elapsed().as_secs_f64(),
            n_observations: p.obs.len(),
            n_unknowns: sys.n_unknowns(),
            formal_errors: formal.into(),
            history,
        },
        state,
    })
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Preconditioned conjugate gradients on N x = b with the block-diagonal preconditioner.
pub fn pcg(
    sys: &System,
    cfg: &GlobalConfig,
    cb: &mut dyn FnMut(usize, f64),
) -> Result<(Vec<f64>, usize), String> {
    let n = sys.n_unknowns();
    let bd = sys.block_diagonal()?;
    let b = &sys.rhs;
    let bnorm = dot(b, b).sqrt();
    let mut x = vec![0.0; n];
    if bnorm == 0.0 {
        return Ok((x, 0));
    }
    let mut r = b.clone();
    let mut z = vec![0.0; n];
    bd.solve(&r, &mut z);
    let mut d = z.clone();
    let mut rz = dot(&r, &z);
    let mut it = 0;
    while it < cfg.max_inner {
        it += 1;
        let q = sys.apply(&d);
        let alpha = rz / dot(&d, &q);
        for i in 0..n {
            x[i] += alpha * d[i];
            r[i] -= alpha * q[i];
        }
        let rel = dot(&r, &r).sqrt() / bnorm;
        if it % 10 == 0 {
            cb(it, rel);
        }
        if rel < cfg.inner_tol {
            break;
        }
        bd.solve(&r, &mut z);
        let rz_new = dot(&r, &z);
        let beta = rz_new / rz;
        rz = rz_new;
        for i in 0..n {
            d[i] = z[i] + beta * d[i];
        }
    }
    Ok((x, it))
}

/// Block Gauss–Seidel simple iteration: sources, exposures, distortion in turn.
pub fn simple_iteration(
    sys: &System,
    cfg: &GlobalConfig,
    cb: &mut dyn FnMut(usize, f64),
) -> Result<(Vec<f64>, usize), String> {
    let n = sys.n_unknowns();
    let bd = sys.block_diagonal()?;
    let b = &sys.rhs;
    let bnorm = dot(b, b).sqrt();
    let mut x = vec![0.0; n];
    if bnorm == 0.0 {
        return Ok((x, 0));
    }
    let mut z = vec![0.0; n];
    let mut it = 0;
    let ranges = [
        (Group::Sources, 0..sys.att0()),
        (Group::Attitude, sys.att0()..sys.cal0()),
        (Group::Calibration, sys.cal0()..n),
    ];
    while it < cfg.max_inner {
        it += 1;
        let mut rel = 0.0;
        for (g, range) in ranges.iter() {
            let nx = sys.apply(&x);
            let r: Vec<f64> = b.iter().zip(&nx).map(|(a, c)| a - c).collect();
            if *g == Group::Sources {
                rel = dot(&r, &r).sqrt() / bnorm;
            }
            bd.solve_group(*g, &r, &mut z);
            for i in range.clone() {
                x[i] += z[i];
            }
        }
        if it % 10 == 0 {
            cb(it, rel);
        }
        if rel < cfg.inner_tol {
            break;
        }
    }
    Ok((x, it))
}

/// One direct (Cholesky) step at the solution of another solver, with the full covariance:
/// the step is the difference between that solution and the direct solution of the same
/// problem (zero if both converged). Returns the polished solution and the largest step of
/// the source parameters (µas, µas/yr).
pub fn direct_polish(p: &Problem, sol: &GlobalSolution) -> Result<(GlobalSolution, f64), String> {
    let t0 = Instant::now();
    let mut state = sol.state.clone();
    let sys = System::build(p, &state);
    let d = direct::solve_direct(&sys, true)?;
    let m = apply_update(&sys, &mut state, &d.dx);
    let covs = d.source_covariance.expect("covariance asked for");
    let sources = sol
        .sources
        .iter()
        .enumerate()
        .map(|(s, old)| {
            if old.solved {
                SourceSolution {
                    params: state.sources[s],
                    cov: covs[s],
                    ..*old
                }
            } else {
                *old
            }
        })
        .collect();
    let mut report = sol.report.clone();
    report.solver = InnerSolver::Direct;
    report.formal_errors = "full covariance (direct solver)".into();
    report.wall_seconds = t0.elapsed().as_secs_f64();
    Ok((
        GlobalSolution {
            sources,
            state,
            report,
        },
        m[0] / UAS,
    ))
}
