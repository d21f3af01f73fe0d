//! `astrosolve.simulate` and `astrosolve.solve`: the Gaia-like mission through
//! `astrosolve_scanning::run`, the calls `astrosolve simulate` and `astrosolve solve` make
//! (crates/cli/src/scanning.rs), with the solver options translated as the command line's
//! `SolverOptions::core_config` translates its flags (crates/cli/src/args.rs).

use crate::columns::{table_to_py, PyColumn};
use crate::engine_error;
use crate::progress::Progress;
use astrosolve_core::{Method, SolveError, SolverConfig, SolverOverrides};
use astrosolve_scanning::run::{self, MissionFile, Problem, RunError};
use astrosolve_scanning::{FrameMode, ScanConfig};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::path::PathBuf;

/// A run error as a Python exception; an interruption raises what stopped it (Ctrl-C).
fn run_error(e: RunError, progress: &Progress) -> PyErr {
    match e {
        RunError::Solve(SolveError::Interrupted) => progress
            .take_error()
            .unwrap_or_else(|| pyo3::exceptions::PyKeyboardInterrupt::new_err("interrupted")),
        e => engine_error(e),
    }
}

/// Simulates a Gaia-like mission and writes the data set to `out` (as `astrosolve simulate`).
/// `config`: a mission.toml path; `config_json`: the same tables as JSON (from a dict); the
/// overrides as the command line's flags. Returns (summary line, warnings, number of
/// sources, number of observations).
#[pyfunction]
#[pyo3(signature = (out, config=None, config_json=None, seed=None, n_sources=None, days=None, outlier_rate=None, force=false, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn simulate(
    py: Python<'_>,
    out: PathBuf,
    config: Option<PathBuf>,
    config_json: Option<String>,
    seed: Option<u64>,
    n_sources: Option<usize>,
    days: Option<f64>,
    outlier_rate: Option<f64>,
    force: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<(String, Vec<String>, usize, usize)> {
    let file: MissionFile = match (&config, &config_json) {
        (Some(p), _) => astrosolve_io::read_toml(p).map_err(engine_error)?,
        (None, Some(j)) => {
            serde_json::from_str(j).map_err(|e| PyValueError::new_err(format!("config: {e}")))?
        }
        (None, None) => MissionFile::default(),
    };
    let file = file.with_overrides(seed, n_sources, days, outlier_rate);
    run::prepare_out_dir(&out, &run::DATASET_FILES, force, &[]).map_err(engine_error)?;
    let total = file.simulation.n_sources as u64;
    let progress = Progress::new(progress, "simulate");
    let s = py
        .detach(|| {
            let s = run::simulate(&file, &|d| {
                progress.report(d, total, "", false);
            })?;
            if progress.failed() {
                return Err(RunError::Solve(SolveError::Interrupted));
            }
            run::write_simulation(&out, &file, &s.sim, force)?;
            progress.report(total, total, "", true);
            Ok(s)
        })
        .map_err(|e| run_error(e, &progress))?;
    if let Some(e) = progress.take_error() {
        return Err(e);
    }
    Ok((
        s.summary_line(),
        s.warnings.clone(),
        s.sim.truth_sources.len(),
        s.sim.observations.len(),
    ))
}

/// The core configuration of the solver options: `SolverConfig::overridden` over
/// `SolverConfig::scanning()`, as the command line's `SolverOptions::core_config`.
#[allow(clippy::too_many_arguments)]
fn scan_config(
    solver: &str,
    frame: Option<&str>,
    tol_uas: Option<f64>,
    tol_sigma: Option<f64>,
    max_outer: usize,
    max_inner: Option<usize>,
    inner_tol: Option<f64>,
    robust: bool,
    min_visibility_periods: Option<usize>,
    min_attitude_redundancy: Option<f64>,
    allow_unconverged: bool,
) -> PyResult<ScanConfig> {
    let method = match solver {
        "bi" => Method::Bi,
        "cg" => Method::Cg,
        "lsqr" => Method::Lsqr,
        "direct" => Method::Direct,
        other => {
            return Err(PyValueError::new_err(format!(
                "solver must be bi, cg, lsqr or direct (got \"{other}\")"
            )))
        }
    };
    let frame = match frame.unwrap_or("gaia") {
        "gaia" => FrameMode::Gaia,
        "min-norm" | "min_norm" => FrameMode::MinNorm,
        other => {
            return Err(PyValueError::new_err(format!(
                "frame must be gaia or min-norm (got \"{other}\")"
            )))
        }
    };
    Ok(ScanConfig {
        solver: SolverConfig::scanning().overridden(&SolverOverrides {
            method,
            outer_tol_uas: tol_uas,
            outer_tol_sigma: tol_sigma,
            robust_start_uas: None,
            max_outer,
            max_inner,
            inner_tol,
            robust,
            keep_rank_defect: false,
            min_visibility_periods,
            min_attitude_redundancy,
            covariance: true,
            spectrum: true,
            max_memory_bytes: None,
            allow_unconverged,
        }),
        frame,
    })
}

/// Solves the data set in `path` (as `astrosolve solve`) and writes catalogue.parquet,
/// attitude.parquet, calibration.parquet and report.json to `out`. Returns (report JSON,
/// catalogue columns as read back from catalogue.parquet).
#[pyfunction]
#[pyo3(signature = (path, out, solver="cg", frame=None, tol_uas=None, tol_sigma=None, max_outer=30, max_inner=None, inner_tol=None, robust=true, min_visibility_periods=None, min_attitude_redundancy=None, allow_unconverged=false, force=false, progress=None, observations_on_disk=false))]
#[allow(clippy::too_many_arguments)]
pub fn solve(
    py: Python<'_>,
    path: PathBuf,
    out: PathBuf,
    solver: &str,
    frame: Option<&str>,
    tol_uas: Option<f64>,
    tol_sigma: Option<f64>,
    max_outer: usize,
    max_inner: Option<usize>,
    inner_tol: Option<f64>,
    robust: bool,
    min_visibility_periods: Option<usize>,
    min_attitude_redundancy: Option<f64>,
    allow_unconverged: bool,
    force: bool,
    progress: Option<Py<PyAny>>,
    observations_on_disk: bool,
) -> PyResult<(String, Vec<PyColumn>)> {
    let cfg = scan_config(
        solver,
        frame,
        tol_uas,
        tol_sigma,
        max_outer,
        max_inner,
        inner_tol,
        robust,
        min_visibility_periods,
        min_attitude_redundancy,
        allow_unconverged,
    )?;
    if astrosolve_io::is_pointed_dataset(&path) {
        return Err(engine_error(format!(
            "{}: a JASMINE-like (pointed) data set: the Python bindings solve the Gaia-like \
             mission; use `astrosolve solve` for this one",
            path.display()
        )));
    }
    run::prepare_out_dir(&out, &run::SOLUTION_FILES[..4], force, &[path.as_path()])
        .map_err(engine_error)?;
    let progress = Progress::new(progress, "solve");
    let total = cfg.solver.max_outer as u64;
    let (json, table) = py
        .detach(|| {
            let mut p = Problem::read(&path)?;
            p.frame_reference(cfg.frame)?;
            if observations_on_disk {
                p.spill_observations(&out)?;
            }
            let mut done = 0u64;
            let sol = run::solve(&p, &cfg, &mut |ev| match ev {
                astrosolve_core::Progress::Inner {
                    outer,
                    iteration,
                    residual,
                } => progress.report(
                    done,
                    total,
                    &format!(
                        "outer {} inner {iteration} residual {residual:.1e}",
                        outer + 1
                    ),
                    false,
                ),
                astrosolve_core::Progress::Outer(r) => {
                    done = r.iteration as u64;
                    progress.report(
                        done,
                        total,
                        &format!(
                            "outer {} done: {} inner iterations, largest update {:.3} µas",
                            r.iteration, r.inner_iterations, r.max_update_uas
                        ),
                        true,
                    )
                }
            })?;
            let written = run::write_solution(&p, &sol, &out)?;
            let table = astrosolve_io::tabular::read_table(&out.join("catalogue.parquet"), None)?;
            Ok((written.report_json, table))
        })
        .map_err(|e| run_error(e, &progress))?;
    Ok((json, table_to_py(py, table)?))
}
