//! The non-linear outer iterations (Gauss–Newton), written once for every instrument:
//!
//!   repeat: linearise at the current parameters (the instrument's autodiff Jacobian) →
//!   weigh every source's rows from their residuals ([`crate::robust`]) and whiten them →
//!   assemble N Δx = b ([`crate::system`]) with the instrument's constraints, priors and frame
//!   rows → solve it (simple iteration, PCG, LSQR or direct) → update → fix the frame
//!   (the instrument's rotator, if any) → until the largest update is below the tolerance.
//!
//! The fixed point (Jᵀ W r = 0 with the weights of the final residuals) does not depend on
//! the linear solver: residuals are recomputed in f64 at every linearisation, so the four
//! solvers give one answer to within the outer tolerance.
//!
//! An instrument is a [`Problem`]: its design rows and unknown layout, its pseudo-observations
//! and priors, its frame handling, and how an update changes its state.
//!
//! Distributed ([`crate::comm`], [`Problem::comm`]): each rank's problem holds its own
//! sources; the state's global part is replicated and stays bit-identical on every rank,
//! because every decision is taken from reduced figures: the largest update (maximum over
//! ranks), counts of solved sources and outliers (sums), the progress callback's and the
//! checkpoint saver's answers (any rank stopping stops all), errors (any rank failing fails
//! all, [`agree`]), the redundancy figures (sums; medians from all ranks' values). Gross
//! outliers are screened from each rank's own observations ([`crate::gross`]: the per-time-span
//! medians are the rank's, not the global ones). The memory check is each rank's own share.

use crate::cg::{pcg, InnerReport};
use crate::checkpoint::{Checkpoint, CheckpointRef};
use crate::chunks::{split_by_rows, split_mut};
use crate::comm::{Comm, Single};
use crate::config::{Method, SolverConfig};
use crate::constraints::{Constraints, SourcePrior};
use crate::covariance::Covariance;
use crate::design::{Design, DesignRow, RowMeta, W_SCALE};
use crate::error::SolveError;
use crate::gauss_seidel::simple_iteration;
use crate::gross::Screening;
use crate::layout::GlobalLayout;
use crate::lsqr::{lsqr, LsqrConfig, LsqrStop};
use crate::robust::{weigh_source, SourceWeighting};
use crate::rows::{Preconditioned, Rows};
use crate::schur::Reduced;
use crate::system::System;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// µas in rad.
const UAS: f64 = std::f64::consts::PI / (180.0 * 3600.0 * 1e6);

/// What the solver passes to an instrument's frame fix.
pub struct FrameContext<'a, const NS: usize> {
    /// Inverse source blocks N_ss⁻¹ of the last linear step (rad², rad²/yr²).
    pub source_cov: &'a [[[f64; NS]; NS]],
    pub active: &'a [bool],
}

/// What an instrument's frame fix did (rotator of a scanning mission; nothing for a pointed
/// survey whose priors fix the frame).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FrameFix {
    /// Orientation ε removed (µas) and its formal σ.
    pub rotation_uas: Option<[f64; 3]>,
    pub rotation_sigma_uas: Option<[f64; 3]>,
    /// Spin ω removed (µas/yr) and its formal σ.
    pub spin_uas_per_yr: Option<[f64; 3]>,
    pub spin_sigma_uas_per_yr: Option<[f64; 3]>,
    /// Sources that fixed the orientation and the spin.
    pub n_orientation_sources: usize,
    pub n_spin_sources: usize,
}

/// An astrometric problem: what an instrument provides to the core.
pub trait Problem<const NS: usize>: Sync {
    /// The parameters being solved (sources, attitude, calibration).
    type State: Clone + Send + Sync;
    /// The instrument's design row.
    type Row: DesignRow<NS>;

    fn n_sources(&self) -> usize;
    /// Rows of source i are `row_offsets()[i]..row_offsets()[i + 1]` (fixed for the problem).
    fn row_offsets(&self) -> &[usize];
    /// This problem's sources cut into the chunks of every pass (contiguous, in order,
    /// covering `0..n_sources()`; [`crate::chunks`]): every sum over sources is taken chunk by
    /// chunk and the partial sums added in chunk order, over the ranks too
    /// ([`crate::comm::Comm::ordered_sum`]). A distributed solve reproduces the one-process
    /// bits when these are the global chunks of the whole catalogue, fixed by the data
    /// (`astrosolve_model::obs::chunk_sources`), restricted to the rank's sources, and the
    /// ranks are cut at chunk boundaries (`astrosolve_model::obs::partition_chunks`).
    /// Default: the rows split evenly ([`split_by_rows`]), right for one process.
    fn chunks(&self) -> Vec<std::ops::Range<usize>> {
        split_by_rows(self.row_offsets())
    }
    /// Linearises source i at `state`: fills `rows` with its design rows (derivatives and the
    /// residual observed − computed, rad; not yet whitened) and `meta` with their σ, times and
    /// kinds. Err ([`SolveError::Data`]): its observations could not be read.
    fn linearise_source(
        &self,
        state: &Self::State,
        i: usize,
        rows: &mut [Self::Row],
        meta: &mut [RowMeta],
    ) -> Result<(), SolveError>;
    /// The global unknowns and their diagonal blocks.
    fn global_layout(&self, state: &Self::State) -> GlobalLayout;
    /// Pseudo-observations on the global unknowns and damping, at `state`.
    fn constraints(&self, state: &Self::State) -> Constraints;
    /// Priors on sources (reference stars), at `state`.
    fn source_priors(&self, state: &Self::State) -> Vec<SourcePrior<NS>>;
    /// Directions of the frame defect to constrain in every linear step (none when the data
    /// or priors fix the frame).
    fn frame_vectors(&self, state: &Self::State, active: &[bool]) -> Vec<Vec<f64>>;
    /// Applies the solution Δx of a linear step (sources not solved are left alone).
    fn apply_update(&self, state: &mut Self::State, dx: &[f64], active: &[bool]);
    /// Fixes the frame after an update (scanning: the frame rotator).
    fn fix_frame(&self, state: &mut Self::State, ctx: &FrameContext<NS>) -> FrameFix;
    /// Largest change between two states (rad, rad/yr): sources, attitude, calibration.
    fn max_change(&self, before: &Self::State, after: &Self::State, active: &[bool]) -> [f64; 3];
    /// Refuses a starting state and data the instrument cannot linearise about (non-finite
    /// starting values, a degenerate attitude, indices outside its layout) before anything is
    /// computed: the data-set readers refuse these already, this guards data built in memory.
    fn check_start(&self, _state: &Self::State) -> Result<(), SolveError> {
        Ok(())
    }
    /// Bytes of observation records the problem holds in memory that keeping them on disk
    /// (`--observations-on-disk`) would free: offered by the memory check ([`crate::memory`]).
    fn resident_record_bytes(&self) -> u64 {
        0
    }
    /// Refuses data that leave global unknowns undetermined or too weakly determined for the
    /// configuration `cfg`, or returns warnings about weakly determined ones (for the report):
    /// `rows_per_block[k]` counts the rows of solvable sources with non-zero coefficients in
    /// diagonal block k of `layout`.
    fn check_redundancy(
        &self,
        _design: &Design<Self::Row>,
        _weights: &[SourceWeighting],
        _layout: &GlobalLayout,
        _rows_per_block: &[usize],
        _cfg: &SolverConfig,
    ) -> Result<Vec<String>, SolveError> {
        Ok(Vec::new())
    }
    /// The ranks that share the solve: this problem holds one rank's sources (with their
    /// observations), the global unknowns are replicated. One process by default. An
    /// instrument's sums over sources (frame fits, redundancy counts) reduce over it; the
    /// core reduces everything else (`rows_per_block` arrives reduced; [`Problem::max_change`]
    /// is reduced by the core).
    fn comm(&self) -> &dyn Comm {
        &Single
    }
}

/// Makes a result agree over the ranks of `comm` (collective): an error on any rank is an
/// error on every rank, so that no rank goes on alone into a collective the others never
/// reach. A rank that failed returns its own error; the others the first failing rank's
/// message (as `SolveError::Config`, naming the rank). One rank: `r` unchanged.
pub fn agree<T>(comm: &dyn Comm, r: Result<T, SolveError>) -> Result<T, SolveError> {
    if comm.size() == 1 || !comm.any(r.is_err()) {
        return r;
    }
    let mine = match &r {
        Err(e) => e.to_string().into_bytes(),
        Ok(_) => Vec::new(),
    };
    let mut first: Vec<u8> = Vec::new();
    if let Some(all) = comm.gather_bytes(&mine, 0) {
        if let Some((k, m)) = all.iter().enumerate().find(|(_, m)| !m.is_empty()) {
            first = format!("rank {k}: {}", String::from_utf8_lossy(m)).into_bytes();
        }
    }
    comm.broadcast_bytes(&mut first, 0);
    match r {
        Err(e) => Err(e),
        Ok(_) => Err(SolveError::Config(
            String::from_utf8_lossy(&first).into_owned(),
        )),
    }
}

/// The median of the `local` values of every rank: element len/2 of all of them sorted (as
/// the one-process code takes it); None when there are none.
fn gathered_median(comm: &dyn Comm, local: Vec<f64>) -> Option<f64> {
    let mut v = if comm.size() == 1 {
        local
    } else {
        comm.all_gather(&local)
    };
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// Progress of a solve (for progress bars); the callback returns false to interrupt.
pub enum Progress<'a> {
    Inner {
        outer: usize,
        iteration: usize,
        residual: f64,
    },
    Outer(&'a OuterRecord),
}

/// One outer iteration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OuterRecord {
    pub iteration: usize,
    pub inner_iterations: usize,
    pub inner_converged: bool,
    /// Largest update (µas or µas/yr) and its parts (sources, attitude, calibration).
    pub max_update_uas: f64,
    pub max_update_parts_uas: [f64; 3],
    /// Largest update of a source or global unknown in units of its formal uncertainty, when
    /// the stop relative to the uncertainties is asked for ([`crate::converge`]).
    #[serde(default)]
    pub max_update_sigma: Option<f64>,
    pub inner_history: Vec<f64>,
    /// LSQR's stop (istop) when LSQR solved the step.
    pub lsqr_stop: Option<LsqrStop>,
    pub n_solved_sources: usize,
    pub n_outliers: usize,
    pub frame: FrameFix,
    pub wall_seconds: f64,
}

/// How well the data determine the unknowns (before the first step).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Redundancy {
    pub n_sources: usize,
    /// Sources with at least one measurement.
    #[serde(default)]
    pub n_sources_observed: usize,
    pub n_solvable_sources: usize,
    pub n_rows: usize,
    /// Rows per source (median over sources with rows).
    pub rows_per_source_median: f64,
    /// Median visibility periods of the sources.
    pub visibility_periods_median: f64,
    /// Per group of global unknowns: name, unknowns, rows touching them, rows per unknown.
    pub groups: Vec<GroupRedundancy>,
    /// The instrument's warnings about weakly determined unknowns, and the start-up
    /// screening's.
    pub warnings: Vec<String>,
    /// Rows left out from the start: gross outliers, non-finite values, unusable σ
    /// ([`crate::gross`]; robust solves only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screening: Option<Screening>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GroupRedundancy {
    pub name: String,
    pub unknowns: usize,
    pub rows: usize,
    pub rows_per_unknown: f64,
    /// Blocks of the group touched by no row (undetermined but for constraints and damping).
    pub empty_blocks: usize,
}

/// Summary of a solve.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SolveReport {
    /// The verdict in one line: "converged", or what failed (not converged, frame not fixed)
    /// when the partial results were asked for (`allow_unconverged`).
    pub verdict: String,
    pub solver: String,
    pub converged: bool,
    pub outer_iterations: usize,
    pub inner_iterations: usize,
    pub n_sources: usize,
    pub n_solved_sources: usize,
    pub n_rows: usize,
    pub n_global_unknowns: usize,
    pub n_outliers: usize,
    pub design_bytes_per_row: f64,
    pub redundancy: Redundancy,
    pub frame: FrameFix,
    /// Direct solver: the seven smallest eigenvalues of the reduced matrix relative to the largest.
    pub smallest_eigenvalues_relative: Option<Vec<f64>>,
    /// Direct solver: median σ(full covariance)/σ(inverse block) per source parameter.
    pub block_underestimation: Option<Vec<f64>>,
    /// LSQR: median σ(LSQR variance estimate)/σ(inverse block) per source parameter (LSQR's
    /// estimates are biased low until it has fully converged).
    pub lsqr_sigma_over_block: Option<Vec<f64>>,
    pub wall_seconds: f64,
    /// Warnings about the result (the instrument's: e.g. a frame resting on few sources).
    #[serde(default)]
    pub warnings: Vec<String>,
    pub history: Vec<OuterRecord>,
}

/// The verdict of a solve that converged.
pub const CONVERGED: &str = "converged";

impl SolveReport {
    /// Marks the result as failed: with `allow` the verdict says so (partial results), else
    /// the diagnosis becomes the error.
    pub fn fail(&mut self, diagnosis: String, allow: bool) -> Result<(), SolveError> {
        if !allow {
            return Err(unconverged(diagnosis));
        }
        self.verdict = if self.verdict == CONVERGED {
            format!("PARTIAL RESULTS (--allow-unconverged): {diagnosis}")
        } else {
            format!("{}; {diagnosis}", self.verdict)
        };
        Ok(())
    }
}

/// The error of a failed solve when partial results were not asked for.
fn unconverged(diagnosis: String) -> SolveError {
    SolveError::NotConverged(format!(
        "{diagnosis}. Nothing was written; --allow-unconverged writes the partial results, marked as such"
    ))
}

/// Why the outer iterations did not converge, with the figures and what to change.
fn not_converged(history: &[OuterRecord], red: Option<&Redundancy>, cfg: &SolverConfig) -> String {
    let n = history.len();
    let last = history.last().map(|r| r.max_update_uas).unwrap_or(f64::NAN);
    let parts = history
        .last()
        .map(|r| r.max_update_parts_uas)
        .unwrap_or([f64::NAN; 3]);
    let recent: Vec<String> = history
        .iter()
        .rev()
        .take(5)
        .rev()
        .map(|r| format!("{:.3}", r.max_update_uas))
        .collect();
    let inner_short = history.iter().filter(|r| !r.inner_converged).count();
    let figures = red
        .map(|r| {
            let groups: Vec<String> = r
                .groups
                .iter()
                .map(|g| format!("{} {:.1} per unknown", g.name, g.rows_per_unknown))
                .collect();
            format!(
                " Redundancy: {} of {} sources solvable, median {:.0} measurements and {:.0} visibility periods per source; {}.",
                r.n_solvable_sources,
                r.n_sources,
                r.rows_per_source_median,
                r.visibility_periods_median,
                groups.join(", ")
            )
        })
        .unwrap_or_default();
    let inner = if inner_short > 0 {
        format!(
            " The inner solver stopped at --max-inner ({}) in {inner_short} of them.",
            cfg.max_inner
        )
    } else {
        String::new()
    };
    let in_sigma = match (history.last().and_then(|r| r.max_update_sigma), cfg.outer_tol_sigma) {
        (Some(s), Some(t)) => format!(
            " The largest update is {s:.2e} of its formal uncertainty (--tol-sigma {t})."
        ),
        (None, None) => " If the updates have become small against the uncertainties, --tol-sigma 0.01 stops once every unknown moves by less than 1 % of its formal uncertainty.".to_string(),
        _ => String::new(),
    };
    format!(
        "NOT CONVERGED: after {n} outer iterations (--max-outer {}) the largest update is still {last:.3} µas (sources {:.3}, attitude {:.3}, calibration {:.3}) against the tolerance {} µas; last updates {} µas.{in_sigma}{inner}{figures} Raise --max-outer if the updates are still shrinking; if they stall or cycle, the data determine the unknowns too weakly: require more visibility periods (--min-visibility-periods, now {}) or observe more sources or longer",
        cfg.max_outer,
        parts[0],
        parts[1],
        parts[2],
        cfg.outer_tol_uas,
        recent.join(", "),
        cfg.solvable.min_visibility_periods
    )
}

/// Per-source outcome.
#[derive(Clone, Copy, Debug)]
pub struct SourceResult<const NS: usize> {
    pub solved: bool,
    /// Covariance of the source unknowns (rad², rad/yr products): the full covariance with the
    /// direct solver, else the inverse of the source block.
    pub cov: [[f64; NS]; NS],
    /// Inverse of the source block (when `cov` is the full covariance).
    pub cov_block: Option<[[f64; NS]; NS]>,
    /// LSQR's variance estimates (rad²), biased low until LSQR converges fully.
    pub var_lsqr: Option<[f64; NS]>,
    pub weighting: SourceWeighting,
    /// Unit-weight error √(χ²/(n_good − NS)) (None when not solved).
    pub uwe: Option<f64>,
    /// UWE over the median UWE of the solved sources.
    pub ruwe: Option<f64>,
}

/// The solution of a problem.
pub struct Solution<S, const NS: usize> {
    pub state: S,
    pub sources: Vec<SourceResult<NS>>,
    pub report: SolveReport,
    /// Direct solver: covariance of every unknown (solver units; × W_SCALE gives rad²).
    pub covariance: Option<Covariance<NS>>,
    /// Direct solver: eigenvalues of the reduced matrix.
    pub spectrum: Option<Vec<f64>>,
    /// Global layout of the last linearisation.
    pub layout: GlobalLayout,
}

/// Linearises, weighs and whitens every source's rows at `state` into `design`.
pub fn linearise<const NS: usize, P: Problem<NS>>(
    p: &P,
    state: &P::State,
    design: &mut Design<P::Row>,
    robust: bool,
    cfg: &SolverConfig,
) -> Result<Vec<SourceWeighting>, SolveError> {
    linearise_screened(p, state, design, robust, cfg, None)
}

/// [`linearise`], leaving out the rows the start-up screening rejected ([`crate::gross`]) and
/// rows with a non-finite value or a σ that is no measurement's; those get zero weight and,
/// if primary, count as bad observations of their source. Err: the first source (in index
/// order) whose observations could not be read.
pub fn linearise_screened<const NS: usize, P: Problem<NS>>(
    p: &P,
    state: &P::State,
    design: &mut Design<P::Row>,
    robust: bool,
    cfg: &SolverConfig,
    screen: Option<&Screening>,
) -> Result<Vec<SourceWeighting>, SolveError> {
    let n_src = p.n_sources();
    let offsets = p.row_offsets();
    if design.offsets.as_slice() != offsets {
        design.offsets = offsets.to_vec();
        design.rows = vec![P::Row::default(); *offsets.last().unwrap_or(&0)];
    }
    let has_prior = {
        let mut v = vec![false; n_src];
        for pr in p.source_priors(state) {
            v[pr.source] = true;
        }
        v
    };
    let chunks = split_by_rows(offsets);
    let mut weights = vec![SourceWeighting::default(); n_src];
    // split the rows along the chunks
    let mut row_slices = Vec::with_capacity(chunks.len());
    let mut rest: &mut [P::Row] = &mut design.rows;
    for c in &chunks {
        let (a, b) = std::mem::take(&mut rest).split_at_mut(offsets[c.end] - offsets[c.start]);
        row_slices.push(a);
        rest = b;
    }
    let w_slices = split_mut(&mut weights, &chunks, 1);
    // the first source that could not be read, and why
    let failed: std::sync::Mutex<Option<(usize, SolveError)>> = std::sync::Mutex::new(None);
    row_slices
        .into_par_iter()
        .zip(w_slices)
        .zip(chunks.par_iter())
        .for_each(|((rows, ws), range)| {
            let base = offsets[range.start];
            let mut meta: Vec<RowMeta> = Vec::new();
            let mut res: Vec<f64> = Vec::new();
            let mut scale: Vec<f64> = Vec::new();
            for (ii, i) in range.clone().enumerate() {
                let r = &mut rows[offsets[i] - base..offsets[i + 1] - base];
                meta.clear();
                meta.resize(r.len(), RowMeta::default());
                if let Err(e) = p.linearise_source(state, i, r, &mut meta) {
                    let mut f = failed.lock().unwrap_or_else(|e| e.into_inner());
                    if f.as_ref().is_none_or(|(j, _)| i < *j) {
                        *f = Some((i, e));
                    }
                    return;
                }
                // rows not to use: a NaN σ gives them zero weight
                let mut n_left_out = 0u32;
                let rejected =
                    screen.map_or(&[][..], |s| s.rejected_in(offsets[i]..offsets[i + 1]));
                for (l, (row, m)) in r.iter().zip(meta.iter_mut()).enumerate() {
                    let out = crate::gross::exclusion(row, m).is_some()
                        || rejected.binary_search(&(offsets[i] + l)).is_ok();
                    if out {
                        n_left_out += m.primary as u32;
                        m.sigma = f64::NAN;
                    }
                }
                res.clear();
                res.extend(r.iter().map(|row| row.residual() as f64));
                scale.clear();
                scale.resize(r.len(), 0.0);
                ws[ii] = weigh_source(
                    &res,
                    &meta,
                    robust,
                    &cfg.robust_config,
                    &cfg.solvable,
                    has_prior[i],
                    NS,
                    &mut scale,
                );
                ws[ii].n_obs += n_left_out;
                ws[ii].n_bad += n_left_out;
                for (row, &s) in r.iter_mut().zip(&scale) {
                    row.scale(s as f32);
                    // a non-finite value times zero weight is still NaN
                    if s == 0.0 && !crate::gross::row_finite(row) {
                        *row = P::Row::default();
                    }
                }
            }
        });
    match failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some((_, e)) => Err(e),
        None => Ok(weights),
    }
}

/// Assembles the normal equations of a linearisation (`design` and `weights` from
/// [`linearise`]) with the problem's constraints, priors and frame rows.
pub fn system<'d, const NS: usize, P: Problem<NS>>(
    p: &'d P,
    state: &P::State,
    design: &'d Design<P::Row>,
    weights: &[SourceWeighting],
) -> Result<(System<'d, NS, P::Row>, crate::system::Workspace), SolveError> {
    let solvable: Vec<bool> = weights.iter().map(|w| w.solvable).collect();
    let mut sys = System::assemble_chunked(
        design,
        p.global_layout(state),
        &solvable,
        p.constraints(state),
        p.source_priors(state),
        p.comm(),
        p.chunks(),
    )?;
    let mut ws = sys.workspace();
    let fv = p.frame_vectors(state, &sys.active);
    sys.set_frame_vectors(fv, &mut ws);
    Ok((sys, ws))
}

/// Redundancy of the data for the layout (rows per unknown of each group), over all ranks of
/// `comm` (counts summed, medians over every rank's sources).
pub fn redundancy<R: DesignRow<NS>, const NS: usize>(
    design: &Design<R>,
    layout: &GlobalLayout,
    weights: &[SourceWeighting],
    comm: &dyn Comm,
) -> (Redundancy, Vec<usize>) {
    let n_src = design.n_sources();
    let mut per_block = vec![0usize; layout.blocks.len()];
    for i in 0..n_src {
        if !weights[i].solvable {
            continue;
        }
        for row in design.of_source(i) {
            let mut last = usize::MAX;
            row.segments(&mut |start, coef| {
                if coef.iter().any(|&c| c != 0.0) {
                    let b = layout.block_of(start);
                    if b != last {
                        per_block[b] += 1;
                        last = b;
                    }
                }
            });
        }
    }
    if comm.size() > 1 {
        let mut v: Vec<f64> = per_block.iter().map(|&c| c as f64).collect();
        comm.sum(&mut v);
        per_block = v.into_iter().map(|c| c as usize).collect();
    }
    let groups = layout
        .groups
        .iter()
        .map(|g| {
            let blocks = g.first..g.first + g.count;
            let unknowns: usize = layout.blocks[blocks.clone()].iter().map(|b| b.len).sum();
            let rows: usize = per_block[blocks.clone()].iter().sum();
            GroupRedundancy {
                name: g.name.clone(),
                unknowns,
                rows,
                rows_per_unknown: rows as f64 / unknowns.max(1) as f64,
                empty_blocks: per_block[blocks].iter().filter(|&&c| c == 0).count(),
            }
        })
        .collect();
    let median = |v: Vec<f64>| -> f64 { gathered_median(comm, v).unwrap_or(0.0) };
    let red = Redundancy {
        n_sources: comm.sum_count(n_src),
        n_sources_observed: comm.sum_count(
            (0..n_src)
                .filter(|&i| !design.of_source(i).is_empty())
                .count(),
        ),
        n_solvable_sources: comm.sum_count(weights.iter().filter(|w| w.solvable).count()),
        n_rows: comm.sum_count(design.n_rows()),
        rows_per_source_median: median(
            (0..n_src)
                .map(|i| design.of_source(i).len() as f64)
                .filter(|&n| n > 0.0)
                .collect(),
        ),
        visibility_periods_median: median(
            weights
                .iter()
                .filter(|w| w.n_obs > 0)
                .map(|w| w.visibility_periods as f64)
                .collect(),
        ),
        groups,
        warnings: Vec::new(),
        screening: None,
    };
    (red, per_block)
}

/// Update, report, LSQR's stop and LSQR's variance estimates of one linear step.
type InnerOutcome = (Vec<f64>, InnerReport, Option<LsqrStop>, Option<Vec<f64>>);

/// Why no source can be solved, with the figures and what to change.
fn nothing_to_solve(red: &Redundancy, cfg: &SolverConfig) -> SolveError {
    let r = &cfg.solvable;
    if red.n_rows == 0 {
        return SolveError::Undetermined(format!(
            "no source can be solved: the data set has no measurements ({} sources, 0 observations); check that the observations table has rows and that its source_id values are those of the source table",
            red.n_sources
        ));
    }
    let with_rows = if red.n_sources_observed < red.n_sources {
        format!(
            "{} sources, {} of them observed, with a median of",
            red.n_sources, red.n_sources_observed
        )
    } else {
        format!("{} sources with a median of", red.n_sources)
    };
    SolveError::Undetermined(format!(
        "no source can be solved: {with_rows} {:.0} measurements and {:.0} visibility periods each (periods separated by more than {} days); a source needs at least {} good primary measurements in at least {} visibility periods. Lower --min-visibility-periods (e.g. to {}), or observe longer or more often",
        red.rows_per_source_median,
        red.visibility_periods_median,
        r.gap_days,
        r.min_obs,
        r.min_visibility_periods,
        (red.visibility_periods_median.floor() as usize).max(1)
    ))
}

/// Solves one linear step by the configured method.
fn inner_solve<const NS: usize, R: DesignRow<NS>>(
    sys: &System<NS, R>,
    ws: &mut crate::system::Workspace,
    cfg: &SolverConfig,
    tol: f64,
    on_iter: &mut dyn FnMut(usize, f64) -> bool,
) -> Result<InnerOutcome, SolveError> {
    let step_tol = crate::config::INNER_STEP_FRACTION * cfg.outer_tol_uas * UAS;
    Ok(match cfg.method {
        Method::Cg => {
            let (x, r) = pcg(sys, ws, tol, step_tol, cfg.max_inner, on_iter);
            (x, r, None, None)
        }
        Method::Bi => {
            let (x, r) = simple_iteration(sys, ws, tol, step_tol, cfg.max_inner, on_iter);
            (x, r, None, None)
        }
        Method::Lsqr => {
            let rows = Rows::new(sys);
            let pre = Preconditioned::new(&rows, cfg.lsqr.preconditioner);
            let u = rows.rhs();
            let lc = LsqrConfig {
                damp: 0.0,
                atol: cfg.lsqr.atol,
                btol: cfg.lsqr.atol,
                normal_rtol: tol,
                conlim: cfg.lsqr.conlim,
                iter_lim: cfg.max_inner,
                calc_var: cfg.lsqr.calc_var,
            };
            let n = sys.n();
            let mut var = vec![0.0; if lc.calc_var { n } else { 0 }];
            let mut tmp = vec![0.0; n];
            let res = lsqr(
                &pre,
                &u,
                &lc,
                &mut |dk| {
                    tmp.copy_from_slice(dk);
                    pre.solve(&mut tmp);
                    var.par_iter_mut().zip(&tmp).for_each(|(v, t)| *v += t * t);
                },
                on_iter,
            );
            let mut x = res.x;
            pre.solve(&mut x);
            let rep = InnerReport {
                iterations: res.itn,
                converged: res.stop.converged(),
                history: res.history,
            };
            (x, rep, Some(res.stop), lc.calc_var.then_some(var))
        }
        Method::Direct => {
            let mut red = Reduced::assemble(sys, true);
            let comm = sys.comm;
            let x = if cfg.keep_rank_defect {
                let n_null = sys.frame.len().max(6).min(red.n);
                agree(comm, red.solve_pseudo_inverse_on(n_null, comm))?.0
            } else {
                agree(comm, red.solve_constrained_on(comm))?.0
            };
            on_iter(1, 0.0);
            (
                x,
                InnerReport {
                    iterations: 1,
                    converged: true,
                    history: vec![0.0],
                },
                None,
                None,
            )
        }
    })
}

/// Inner tolerance of each outer iteration, an inexact Newton method's forcing term
/// (Eisenstat & Walker 1996, choice 2, with the largest update standing for the residual):
/// η_k = γ (u_{k−1}/u_{k−2})² with γ = 0.9, safeguarded by η_k ≥ γ η_{k−1}² where that is
/// above 0.1, bounded to [inner_tol, η_max]; the first step uses η_max. Early steps, whose
/// linearisation or weights are still far from final, are solved only as far as it pays.
#[derive(Default)]
struct Forcing {
    updates: Vec<f64>,
    last: Option<f64>,
}

/// Loosest inner tolerance of the forcing term.
const ETA_MAX: f64 = 1e-3;

impl Forcing {
    fn tolerance(&mut self, floor: f64) -> f64 {
        const GAMMA: f64 = 0.9;
        let n = self.updates.len();
        let mut eta = if n >= 2 && self.updates[n - 2] > 0.0 {
            GAMMA * (self.updates[n - 1] / self.updates[n - 2]).powi(2)
        } else {
            ETA_MAX
        };
        if let Some(prev) = self.last {
            let safe = GAMMA * prev * prev;
            if safe > 0.1 {
                eta = eta.max(safe);
            }
        }
        let eta = eta.clamp(floor.min(ETA_MAX), ETA_MAX);
        self.last = Some(eta);
        eta
    }

    fn record(&mut self, update: f64) {
        self.updates.push(update);
    }
}

/// Growth of the largest update, outer iteration on outer iteration, taken as divergence
/// when it happens twice in a row.
const DIVERGENCE_GROWTH: f64 = 10.0;
/// Largest update (µas) beyond which a step is taken as divergence at once: one radian.
const DIVERGENCE_UPDATE_UAS: f64 = 1.0 / UAS;

/// Why the outer iterations diverge (None while they do not): a non-finite update, an update
/// beyond [`DIVERGENCE_UPDATE_UAS`], or one that grew by more than [`DIVERGENCE_GROWTH`] in
/// each of the last two iterations. Gauss–Newton steps near a minimum shrink; steps that grow
/// like this mean that the linearisation is not valid where the data leave the unknowns free.
fn diverging(
    history: &[OuterRecord],
    red: Option<&Redundancy>,
    cfg: &SolverConfig,
) -> Option<String> {
    let u: Vec<f64> = history.iter().map(|r| r.max_update_uas).collect();
    let n = u.len();
    let last = u[n - 1];
    let growing = n >= 3
        && u[n - 1] > DIVERGENCE_GROWTH * u[n - 2]
        && u[n - 2] > DIVERGENCE_GROWTH * u[n - 3];
    if last.is_finite() && last < DIVERGENCE_UPDATE_UAS && !growing {
        return None;
    }
    let figures = red
        .map(|r| {
            format!(
                " ({} of {} sources solved, median {:.0} measurements and {:.0} visibility periods per source)",
                r.n_solvable_sources, r.n_sources, r.rows_per_source_median, r.visibility_periods_median
            )
        })
        .unwrap_or_default();
    // the start-up screening's diagnosis of a starting point far from the data
    let start = red
        .and_then(|r| r.screening.as_ref())
        .and_then(|s| s.start_diagnosis())
        .map(|d| format!("the starting point may be too far from the solution for the linearisation to hold — {d} — or "))
        .unwrap_or_default();
    Some(format!(
        "the solution diverges: the largest update grew to {last:.3e} µas at outer iteration {n} (updates {}): {start}the data do not determine the unknowns well enough{figures}, so nothing was written. {} more visibility periods per source (--min-visibility-periods, now {}), or observe longer or more often",
        u.iter().map(|v| format!("{v:.1e}")).collect::<Vec<_>>().join(", "),
        if start.is_empty() {
            "Require"
        } else {
            "Correct those starting values, or require"
        },
        cfg.solvable.min_visibility_periods
    ))
}

/// Runs the outer iterations from `start`.
pub fn solve<const NS: usize, P: Problem<NS>>(
    p: &P,
    start: P::State,
    cfg: &SolverConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<Solution<P::State, NS>, SolveError> {
    solve_resumable(p, start, cfg, progress, None, &mut |_| true)
}

/// [`solve`], resumed from the checkpoint `from` (taken from a solve of the same problem from
/// the same `start` and configuration) and handing `save` a checkpoint after every outer
/// iteration that another follows ([`crate::checkpoint`]); `save` returns false to stop the
/// solve (then `SolveError::Interrupted`; the caller knows why). The screening of gross
/// outliers is recomputed from `start`; everything else the loop carries comes from `from`,
/// so the resumed solve ends bit-for-bit where the uninterrupted one ends.
pub fn solve_resumable<const NS: usize, P: Problem<NS>>(
    p: &P,
    start: P::State,
    cfg: &SolverConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
    from: Option<Checkpoint<P::State>>,
    save: &mut dyn FnMut(&CheckpointRef<P::State>) -> bool,
) -> Result<Solution<P::State, NS>, SolveError> {
    if cfg.max_outer == 0 {
        return Err(SolveError::Config(
            "max_outer is 0: at least one outer iteration is needed".into(),
        ));
    }
    if let Some(t) = cfg.outer_tol_sigma {
        if !(t > 0.0 && t.is_finite()) {
            return Err(SolveError::Config(format!(
                "tol_sigma is {t}: a positive fraction of the formal uncertainties is needed (e.g. 0.01)"
            )));
        }
    }
    if !(cfg.robust_start_uas >= 0.0 && cfg.robust_start_uas.is_finite()) {
        return Err(SolveError::Config(format!(
            "robust_start_uas is {}: a finite update in µas (≥ 0) is needed",
            cfg.robust_start_uas
        )));
    }
    let comm = p.comm();
    agree(comm, p.check_start(&start))?;
    // refused before any work when the solve cannot fit in memory (crate::memory; each rank
    // its own share)
    let avail = crate::memory::available(cfg.max_memory_bytes);
    let sizes = crate::memory::Sizes::of_problem(p, &start);
    agree(comm, crate::memory::check_solve(&sizes, cfg, &avail, None))?;
    let t_start = Instant::now();
    let n_src = p.n_sources();
    let mut state = start;
    let mut design: Design<P::Row> = Design::default();
    let mut history: Vec<OuterRecord> = Vec::new();
    let mut converged = false;
    let mut redundancy_report = None;
    let mut last_weights = Vec::new();
    let mut last_active = vec![false; n_src];
    let mut last_cov: Vec<[[f64; NS]; NS]> = Vec::new();
    let mut last_var: Option<Vec<f64>> = None;
    let mut last_frame = FrameFix::default();
    let mut layout = GlobalLayout::new();
    let mut interrupted = false;
    let mut forcing = Forcing::default();
    // outer iterations done with robust weights
    let mut robust_iterations = 0usize;
    let mut settled = false;
    // gross outliers at the starting point, left out of every step (robust solves)
    let screen = match cfg.robust {
        true => Some(agree(comm, crate::gross::screen(p, &state))?),
        false => None,
    };
    let mut first = 0;
    if let Some(ck) = from {
        if comm.size() > 1 {
            // every rank must resume from the same outer iteration (its own checkpoint)
            let n = ck.outer_iterations as f64;
            if comm.max_scalar(n) != n || -comm.max_scalar(-n) != n {
                return Err(SolveError::Config(format!(
                    "the ranks' checkpoints hold different numbers of outer iterations (this rank, {}: {}); they are not from one solve: solve without resuming",
                    comm.rank(),
                    ck.outer_iterations
                )));
            }
        }
        if ck.outer_iterations >= cfg.max_outer {
            return Err(SolveError::Config(format!(
                "the checkpoint holds {} outer iterations and max_outer is {}: raise max_outer (--max-outer) to go on",
                ck.outer_iterations, cfg.max_outer
            )));
        }
        first = ck.outer_iterations;
        state = ck.state;
        history = ck.history;
        forcing = Forcing {
            updates: ck.forcing_updates,
            last: ck.forcing_last,
        };
        settled = ck.settled;
        robust_iterations = ck.robust_iterations;
        redundancy_report = Some(ck.redundancy);
    }
    for outer in first..cfg.max_outer {
        let t_outer = Instant::now();
        let robust_now = cfg.robust && settled;
        let weights = agree(
            comm,
            linearise_screened(p, &state, &mut design, robust_now, cfg, screen.as_ref()),
        )?;
        layout = p.global_layout(&state);
        if redundancy_report.is_none() {
            let (mut red, per_block) = redundancy(&design, &layout, &weights, comm);
            if red.n_solvable_sources == 0 {
                return Err(nothing_to_solve(&red, cfg));
            }
            red.warnings = agree(
                comm,
                p.check_redundancy(&design, &weights, &layout, &per_block, cfg),
            )?;
            if let Some(s) = &screen {
                red.warnings.extend(s.warnings());
                red.screening = Some(s.clone());
            }
            redundancy_report = Some(red);
        }
        let (sys, mut ws) = agree(comm, system(p, &state, &design, &weights))?;
        if outer == first && cfg.method == Method::Direct && avail.bytes.is_some() {
            // the direct solver's source couplings are known now, before the first assembly
            let sizes = crate::memory::Sizes {
                frame_rows: sys.frame.len(),
                ..sizes
            };
            let couplings = crate::schur::coupling_bytes(&sys);
            agree(
                comm,
                crate::memory::check_solve(&sizes, cfg, &avail, Some(couplings)),
            )?;
        }
        let mut stopped = false;
        let mut on_iter = |it: usize, r: f64| {
            let go_on = progress(Progress::Inner {
                outer,
                iteration: it,
                residual: r,
            });
            // any rank stopping (Ctrl-C) stops every rank
            let go_on = !comm.any(!go_on);
            stopped |= !go_on;
            go_on
        };
        let tol = forcing.tolerance(cfg.inner_tol);
        let (dx, rep, stop, var) = agree(comm, inner_solve(&sys, &mut ws, cfg, tol, &mut on_iter))?;
        agree(
            comm,
            crate::gross::non_finite_update(&dx, NS, n_src, &sys.layout, outer + 1)
                .map_or(Ok(()), Err),
        )?;
        interrupted |= stopped;
        let cov: Vec<[[f64; NS]; NS]> = (0..n_src)
            .into_par_iter()
            .map(|i| {
                let c = sys.source_covariance(i);
                c.map(|row| row.map(|v| v * W_SCALE))
            })
            .collect();
        // the global unknowns are replicated: the same figure on every rank
        let global_sigma = crate::converge::max_global_update_in_sigma(&sys, &dx);
        let active = sys.active.clone();
        drop(sys);
        if interrupted {
            return Err(SolveError::Interrupted);
        }
        let before = state.clone();
        p.apply_update(&mut state, &dx, &active);
        let frame = p.fix_frame(
            &mut state,
            &FrameContext {
                source_cov: &cov,
                active: &active,
            },
        );
        let mut parts = p.max_change(&before, &state, &active);
        comm.max(&mut parts);
        let max_update = parts[0].max(parts[1]).max(parts[2]);
        let source_sigma = cfg.outer_tol_sigma.map(|_| {
            comm.max_scalar(crate::converge::max_source_update_in_sigma(
                &dx, &cov, &active,
            ))
        });
        let max_update_sigma = source_sigma.map(|s| s.max(global_sigma));
        let rec = OuterRecord {
            iteration: outer + 1,
            inner_iterations: rep.iterations,
            inner_converged: rep.converged,
            max_update_uas: max_update / UAS,
            max_update_parts_uas: parts.map(|v| v / UAS),
            max_update_sigma,
            inner_history: rep.history,
            lsqr_stop: stop,
            n_solved_sources: comm.sum_count(active.iter().filter(|&&a| a).count()),
            n_outliers: comm.sum_count(
                weights
                    .iter()
                    .zip(&active)
                    .filter(|(_, &a)| a)
                    .map(|(w, _)| w.n_bad as usize)
                    .sum(),
            ),
            frame,
            wall_seconds: t_outer.elapsed().as_secs_f64(),
        };
        let go_on = !comm.any(!progress(Progress::Outer(&rec)));
        history.push(rec);
        if let Some(why) = diverging(&history, redundancy_report.as_ref(), cfg) {
            return Err(SolveError::Diverged(why));
        }
        last_weights = weights;
        last_active = active;
        last_cov = cov;
        last_var = var;
        last_frame = frame;
        forcing.record(max_update);
        if robust_now {
            robust_iterations += 1;
        }
        settled |= max_update / UAS < cfg.robust_start_uas;
        // converged once the updates are tiny, or far below their uncertainties (the global
        // unknowns always, the sources if asked: crate::converge), and the robust weights
        // have settled
        let tol = cfg.outer_tol_uas * UAS;
        let sources_done = parts[0] < tol
            || matches!((cfg.outer_tol_sigma, source_sigma), (Some(t), Some(s)) if s < t);
        let global_done = parts[1].max(parts[2]) < tol
            || global_sigma
                < cfg
                    .outer_tol_sigma
                    .unwrap_or(crate::config::GLOBAL_TOL_SIGMA);
        if sources_done && global_done && (!cfg.robust || robust_iterations >= 2) {
            converged = true;
            break;
        }
        // the state to go on from, when another outer iteration follows
        if outer + 1 < cfg.max_outer {
            if let Some(red) = &redundancy_report {
                let ck = CheckpointRef {
                    outer_iterations: outer + 1,
                    state: &state,
                    history: &history,
                    forcing_updates: &forcing.updates,
                    forcing_last: forcing.last,
                    settled,
                    robust_iterations,
                    redundancy: red,
                };
                let saved = save(&ck);
                if comm.any(!saved) {
                    return Err(SolveError::Interrupted);
                }
            }
        }
        if !go_on {
            return Err(SolveError::Interrupted);
        }
    }

    // not converged: an error unless partial results are asked for (nothing more is computed)
    if !converged && !cfg.allow_unconverged {
        return Err(unconverged(not_converged(
            &history,
            redundancy_report.as_ref(),
            cfg,
        )));
    }

    // Direct solver: full covariance and spectrum at the solution (one more linearisation).
    let mut covariance = None;
    let mut spectrum = None;
    let mut smallest = None;
    let mut full: Option<Vec<[[f64; NS]; NS]>> = None;
    if cfg.method == Method::Direct && (cfg.covariance || cfg.spectrum) {
        let weights = agree(
            comm,
            linearise_screened(p, &state, &mut design, cfg.robust, cfg, screen.as_ref()),
        )?;
        let (sys, _) = agree(comm, system(p, &state, &design, &weights))?;
        if cfg.spectrum {
            let ev = agree(comm, Reduced::assemble(&sys, false).spectrum())?;
            let top = ev.last().copied().unwrap_or(1.0);
            smallest = Some(ev.iter().take(7).map(|v| v / top).collect::<Vec<f64>>());
            spectrum = Some(ev);
        }
        if cfg.covariance {
            let mut red = Reduced::assemble(&sys, true);
            let (_, cons) = agree(comm, red.solve_constrained_on(comm))?;
            let cov = red.covariance(cons);
            full = Some(
                cov.source_blocks()
                    .into_iter()
                    .map(|c| c.map(|row| row.map(|v| v * W_SCALE)))
                    .collect(),
            );
            covariance = Some(cov);
            last_cov = (0..n_src)
                .into_par_iter()
                .map(|i| sys.source_covariance(i).map(|row| row.map(|v| v * W_SCALE)))
                .collect();
            last_active = sys.active.clone();
            last_weights = weights;
        }
    }
    let mut sources: Vec<SourceResult<NS>> = (0..n_src)
        .map(|i| {
            let w = last_weights[i];
            let solved = last_active[i];
            let dof = w.n_good as f64 - NS as f64;
            SourceResult {
                solved,
                cov: full.as_ref().map(|f| f[i]).unwrap_or(last_cov[i]),
                cov_block: full.as_ref().map(|_| last_cov[i]),
                var_lsqr: last_var
                    .as_ref()
                    .map(|v| std::array::from_fn(|k| v[NS * i + k] * W_SCALE)),
                weighting: w,
                uwe: (solved && dof > 0.0).then(|| (w.chi2 / dof).sqrt()),
                ruwe: None,
            }
        })
        .collect();
    let uwes: Vec<f64> = sources.iter().filter_map(|s| s.uwe).collect();
    if let Some(median) = gathered_median(comm, uwes) {
        for s in sources.iter_mut() {
            s.ruwe = s.uwe.map(|u| u / median);
        }
    }
    // median ratio of two σ per source parameter over the solved sources
    let median_ratio = |f: &dyn Fn(&SourceResult<NS>, usize) -> Option<f64>| -> Vec<f64> {
        (0..NS)
            .map(|k| {
                let r: Vec<f64> = sources
                    .iter()
                    .filter(|s| s.solved)
                    .filter_map(|s| f(s, k))
                    .filter(|v| v.is_finite())
                    .collect();
                gathered_median(comm, r).unwrap_or(0.0)
            })
            .collect()
    };
    let block_underestimation = full
        .as_ref()
        .map(|_| median_ratio(&|s, k| s.cov_block.map(|b| (s.cov[k][k] / b[k][k]).sqrt())));
    let lsqr_sigma_over_block = last_var
        .as_ref()
        .map(|_| median_ratio(&|s, k| s.var_lsqr.map(|v| (v[k] / s.cov[k][k]).sqrt())));
    let mut report = SolveReport {
        verdict: CONVERGED.into(),
        solver: cfg.method.name().into(),
        converged,
        outer_iterations: history.len(),
        inner_iterations: history.iter().map(|r| r.inner_iterations).sum(),
        n_sources: comm.sum_count(n_src),
        n_solved_sources: comm.sum_count(sources.iter().filter(|s| s.solved).count()),
        n_rows: comm.sum_count(design.n_rows()),
        n_global_unknowns: layout.n,
        n_outliers: comm.sum_count(
            sources
                .iter()
                .filter(|s| s.solved)
                .map(|s| s.weighting.n_bad as usize)
                .sum(),
        ),
        design_bytes_per_row: comm.sum_scalar(design.bytes() as f64)
            / comm.sum_count(design.n_rows()).max(1) as f64,
        redundancy: redundancy_report.unwrap_or_default(),
        frame: last_frame,
        smallest_eigenvalues_relative: smallest,
        block_underestimation,
        lsqr_sigma_over_block,
        wall_seconds: t_start.elapsed().as_secs_f64(),
        warnings: Vec::new(),
        history,
    };
    if !converged {
        let why = not_converged(&report.history, Some(&report.redundancy), cfg);
        report.fail(why, true)?;
    }
    Ok(Solution {
        state,
        sources,
        report,
        covariance,
        spectrum,
        layout,
    })
}
