//! `solve`: a scanning mission through the core's outer iterations.

use crate::frame::{self, FrameMode, FrameReference};
use crate::problem::{ScanState, ScanningProblem};
use crate::row::NS;
use crate::solution::{Solution, SourceResult};
use astrosolve_core::checkpoint::{Checkpoint, CheckpointRef};
use astrosolve_core::comm::{Comm, Single};
use astrosolve_core::{Progress, SolveError, SolverConfig};
use astrosolve_model::source::Source;
use astrosolve_model::{BSplineAttitude, Calibration, GaiaModel, ObservationSet, ObservationStore};

/// Configuration of a scanning solve: the core's settings and the frame mode.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanConfig {
    pub solver: SolverConfig,
    pub frame: FrameMode,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            solver: SolverConfig::scanning(),
            frame: FrameMode::Gaia,
        }
    }
}

/// Runs the global solution from the starting values.
#[allow(clippy::too_many_arguments)]
pub fn solve(
    model: &GaiaModel,
    obs: &ObservationSet,
    start_sources: &[Source],
    start_attitude: &BSplineAttitude,
    start_calibration: &Calibration,
    frame_ref: &FrameReference,
    cfg: &ScanConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<Solution, SolveError> {
    solve_resumable(
        model,
        obs,
        start_sources,
        start_attitude,
        start_calibration,
        frame_ref,
        cfg,
        progress,
        None,
        &mut |_| true,
    )
}

/// [`solve`], resumed from the checkpoint `from` and handing `save` a checkpoint after every
/// outer iteration that another follows (`astrosolve_core::solve_resumable`).
#[allow(clippy::too_many_arguments)]
pub fn solve_resumable(
    model: &GaiaModel,
    obs: &ObservationSet,
    start_sources: &[Source],
    start_attitude: &BSplineAttitude,
    start_calibration: &Calibration,
    frame_ref: &FrameReference,
    cfg: &ScanConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
    from: Option<Checkpoint<ScanState>>,
    save: &mut dyn FnMut(&CheckpointRef<ScanState>) -> bool,
) -> Result<Solution, SolveError> {
    solve_resumable_on(
        model,
        obs,
        start_sources,
        start_attitude,
        start_calibration,
        frame_ref,
        cfg,
        progress,
        from,
        save,
        &Single,
        crate::run::catalogue_chunks(obs),
    )
}

/// [`solve_resumable`] as one rank of a distributed solve: `obs`, `start_sources` and
/// `frame_ref` are this rank's sources (a contiguous range of the catalogue, observations
/// re-indexed to it), the attitude and calibration the full ones; every rank calls it with the
/// same configuration. The solution holds this rank's sources and the (replicated) attitude
/// and calibration (`crate::run::gather` collects the sources on rank 0). `chunks` are the
/// rank's share of the global chunks (`crate::run::Problem::chunks`).
#[allow(clippy::too_many_arguments)]
pub fn solve_resumable_on(
    model: &GaiaModel,
    obs: &dyn ObservationStore,
    start_sources: &[Source],
    start_attitude: &BSplineAttitude,
    start_calibration: &Calibration,
    frame_ref: &FrameReference,
    cfg: &ScanConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
    from: Option<Checkpoint<ScanState>>,
    save: &mut dyn FnMut(&CheckpointRef<ScanState>) -> bool,
    comm: &dyn Comm,
    chunks: Vec<std::ops::Range<usize>>,
) -> Result<Solution, SolveError> {
    if start_sources.len() != obs.n_sources() {
        return Err(SolveError::Config(format!(
            "{} sources but observations of {}",
            start_sources.len(),
            obs.n_sources()
        )));
    }
    let start = ScanState {
        params: start_sources.iter().map(|s| s.params).collect(),
        attitude: start_attitude.clone(),
        calibration: start_calibration.clone(),
    };
    // an unreadable store fails every rank, not only its own
    let problem = astrosolve_core::outer::agree(
        comm,
        ScanningProblem::on_store(model, obs, start.clone(), cfg.frame, frame_ref),
    )?
    .with_comm(comm)
    .with_chunks(chunks);
    let mut sol =
        astrosolve_core::solve_resumable(&problem, start, &cfg.solver, progress, from, save)?;
    sol.report
        .warnings
        .extend(frame_ref.warnings.iter().cloned());
    // the frame as fixed by the last outer iteration, over the sources solved there: checked,
    // and its uncertainty added to the full covariance of every source (direct solver)
    let fit = (cfg.frame == FrameMode::Gaia).then(|| {
        let covs: Vec<[[f64; NS]; NS]> = sol
            .sources
            .iter()
            .map(|s| s.cov_block.unwrap_or(s.cov))
            .collect();
        let active: Vec<bool> = sol.sources.iter().map(|s| s.solved).collect();
        frame::gaia_frame_on(&sol.state.params, &covs, &active, frame_ref, comm)
    });
    if let Some(fit) = &fit {
        sol.report.warnings.extend(fit.warnings());
        if let Some(why) = fit.undetermined() {
            sol.report.fail(why, cfg.solver.allow_unconverged)?;
        }
    }
    let frame_cov = fit.filter(|_| sol.covariance.is_some());
    let st = sol.state;
    let sources = sol
        .sources
        .iter()
        .zip(&st.params)
        .map(|(r, p)| {
            let mut cov = r.cov;
            if let (Some(fit), Some(_)) = (&frame_cov, r.cov_block) {
                if let (Some(ce), Some(co)) = (fit.rotation_cov, fit.spin_cov) {
                    frame::add_frame_covariance(p, &mut cov, &ce, &co);
                }
            }
            SourceResult {
                params: *p,
                cov,
                cov_block: r.cov_block,
                var_lsqr: r.var_lsqr,
                solved: r.solved,
                n_obs_al: r.weighting.n_obs,
                n_good_obs_al: r.weighting.n_good,
                n_bad_obs_al: r.weighting.n_bad,
                visibility_periods: r.weighting.visibility_periods,
                excess_noise: r.weighting.excess_noise,
                uwe: r.uwe,
                ruwe: r.ruwe,
            }
        })
        .collect();
    Ok(Solution {
        sources,
        attitude: st.attitude,
        calibration: st.calibration,
        report: sol.report,
        frame: match cfg.frame {
            FrameMode::Gaia => "gaia".into(),
            FrameMode::MinNorm => "min-norm".into(),
        },
        covariance: sol.covariance,
        spectrum: sol.spectrum,
        layout: sol.layout,
    })
}
