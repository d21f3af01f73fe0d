//! `astrosolve.epoch`: source updates on Gaia DR4 epoch astrometry and Hipparcos IAD through
//! `astrosolve_epoch::run`, exactly as `astrosolve epoch` (crates/cli/src/cmd_epoch.rs) calls
//! it: classify the files, the output model, `fit_files`, `catalogue_values` and
//! `residual_values` batch by batch. A table in memory goes through
//! `GaiaSourceStream::from_table` and the same batches (see [`fit_table`]).

use crate::columns::{table_from_py, Accumulated, InColumn, PyColumn};
use crate::engine_error;
use crate::progress::Progress;
use astrosolve_epoch::gaia::GaiaSourceStream;
use astrosolve_epoch::run::{self, Fitted, InputFormat, RunOptions, Skipped};
use astrosolve_epoch::{EpochError, ModelKind, Weighting};
use astrosolve_io::hipparcos::IadFormat;
use astrosolve_io::tabular::Table;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

/// What a fit returns to Python: catalogue, residuals (None when not asked for), skipped
/// sources (source_id, reason), warnings, wall time of the engine (s).
type EpochOut = (
    Vec<PyColumn>,
    Option<Vec<PyColumn>>,
    Vec<(Option<i64>, String)>,
    Vec<String>,
    f64,
);

/// Why a run stopped.
enum Stop {
    Epoch(EpochError),
    /// Ctrl-C or an exception in the progress callback (kept by the progress).
    Interrupted,
    Message(String),
}

impl From<EpochError> for Stop {
    fn from(e: EpochError) -> Self {
        Stop::Epoch(e)
    }
}

fn run_options(
    format: &str,
    model: Option<usize>,
    weights: Option<&str>,
    colour_prior_sigma: f64,
) -> PyResult<RunOptions> {
    if !(colour_prior_sigma.is_finite() && colour_prior_sigma > 0.0) {
        return Err(PyValueError::new_err(format!(
            "colour_prior_sigma must be a positive number of nm⁻¹ (got {colour_prior_sigma})"
        )));
    }
    let format = match format {
        "auto" => InputFormat::Auto,
        "gaia" => InputFormat::Gaia,
        "hip1997" => InputFormat::Hipparcos(IadFormat::Hip1997),
        "hip2007" => InputFormat::Hipparcos(IadFormat::Hip2007),
        "hip2014" => InputFormat::Hipparcos(IadFormat::Hip2014),
        other => {
            return Err(PyValueError::new_err(format!(
                "format must be auto, gaia, hip1997, hip2007 or hip2014 (got \"{other}\")"
            )))
        }
    };
    let model = match model {
        None => None,
        Some(n) => Some(ModelKind::from_n(n).ok_or_else(|| {
            PyValueError::new_err(format!("model must be 5, 6, 7 or 9 (got \"{n}\")"))
        })?),
    };
    let weighting = match weights {
        None => None,
        Some("dr4") => Some(Weighting::Dr4),
        Some("agis") => Some(Weighting::Agis),
        Some("huber") => Some(Weighting::Huber),
        Some("none") => Some(Weighting::None),
        Some(other) => {
            return Err(PyValueError::new_err(format!(
                "weights must be dr4, agis, huber or none (got \"{other}\")"
            )))
        }
    };
    Ok(RunOptions {
        format,
        model,
        weighting,
        colour_prior_sigma,
        ..RunOptions::default()
    })
}

/// The outputs of a run, accumulated batch by batch (as cmd_epoch writes them).
struct Outputs<'a> {
    model: ModelKind,
    catalogue: Accumulated,
    residuals: Option<Accumulated>,
    skipped: Vec<Skipped>,
    warnings: Vec<String>,
    n_fitted: usize,
    progress: &'a Progress,
}

impl<'a> Outputs<'a> {
    fn new(model: ModelKind, residuals: bool, progress: &'a Progress) -> Self {
        Outputs {
            model,
            catalogue: Accumulated::new(run::catalogue_columns(model)),
            residuals: residuals.then(|| Accumulated::new(run::residual_columns())),
            skipped: Vec::new(),
            warnings: Vec::new(),
            n_fitted: 0,
            progress,
        }
    }

    fn batch(&mut self, batch: Vec<Fitted>) -> Result<(), Stop> {
        self.catalogue
            .push(run::catalogue_values(&batch, self.model));
        if let Some(r) = self.residuals.as_mut() {
            r.push(run::residual_values(&batch));
        }
        self.n_fitted += batch.len();
        for f in &batch {
            for w in &f.warnings {
                self.warnings.push(format!("source {}: {w}", f.data.id));
            }
        }
        if self.progress.report(self.n_fitted as u64, 0, "", false) {
            Ok(())
        } else {
            Err(Stop::Interrupted)
        }
    }

    /// The result, or cmd_epoch's error when no source could be fitted.
    fn finish(self, py: Python<'_>, seconds: f64) -> PyResult<EpochOut> {
        if self.n_fitted == 0 {
            let mut msg = String::from("no source could be fitted");
            for s in self.skipped.iter().take(10) {
                msg.push_str(&format!("\n  {}", s.reason));
            }
            return Err(engine_error(msg));
        }
        Ok((
            self.catalogue.into_py(py),
            self.residuals.map(|r| r.into_py(py)),
            self.skipped
                .into_iter()
                .map(|s| (s.source_id, s.reason))
                .collect(),
            self.warnings,
            seconds,
        ))
    }
}

/// cmd_epoch's checks and calls, without the files it writes.
fn fit_paths(paths: &[PathBuf], opts: &RunOptions, out: &mut Outputs) -> Result<(), Stop> {
    let mut kinds = Vec::with_capacity(paths.len());
    for f in paths {
        if !f.exists() {
            return Err(Stop::Message(format!("{}: file not found", f.display())));
        }
        kinds.push(run::classify(f, opts.format)?);
    }
    out.model = run::output_model(&kinds, opts);
    out.catalogue = Accumulated::new(run::catalogue_columns(out.model));
    let mut skipped = Vec::new();
    let r = run::fit_files::<Stop>(paths, &kinds, opts, |b| out.batch(b), |s| skipped.push(s));
    out.skipped = skipped;
    r
}

/// A table in memory through `run::fit_gaia_stream`, the Gaia branch of `run::fit_files`:
/// the same batches and options, sources that cannot be read or fitted skipped with their
/// reason.
fn fit_table(table: Table, opts: &RunOptions, out: &mut Outputs) -> Result<(), Stop> {
    let file: PathBuf = table.path.clone();
    let stream = GaiaSourceStream::from_table(table)?;
    let mut skipped = Vec::new();
    let r =
        run::fit_gaia_stream::<Stop>(stream, &file, opts, |b| out.batch(b), |s| skipped.push(s));
    out.skipped.extend(skipped);
    r
}

fn stop_to_py(stop: Stop, progress: &Progress) -> PyErr {
    match stop {
        Stop::Epoch(e) => engine_error(e),
        Stop::Message(m) => engine_error(m),
        Stop::Interrupted => progress
            .take_error()
            .unwrap_or_else(|| pyo3::exceptions::PyKeyboardInterrupt::new_err("interrupted")),
    }
}

/// Fits every source of `paths` (Gaia DR4 epoch astrometry in any DataLink format, Hipparcos
/// IAD). Arguments as `astrosolve epoch` (format auto|gaia|hip1997|hip2007|hip2014, model
/// 5|6|7|9 or None, weights dr4|agis|huber|none or None, colour_prior_sigma in nm⁻¹).
/// Returns (catalogue, residuals or None, skipped, warnings, seconds).
#[pyfunction]
#[pyo3(signature = (paths, format="auto", model=None, weights=None, colour_prior_sigma=run::DEFAULT_COLOUR_PRIOR_SIGMA, residuals=true, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn epoch_fit_files(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    format: &str,
    model: Option<usize>,
    weights: Option<&str>,
    colour_prior_sigma: f64,
    residuals: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<EpochOut> {
    let opts = run_options(format, model, weights, colour_prior_sigma)?;
    let progress = Progress::new(progress, "epoch");
    let t = Instant::now();
    let mut out = Outputs::new(ModelKind::Five, residuals, &progress);
    let r = py.detach(|| fit_paths(&paths, &opts, &mut out));
    let seconds = t.elapsed().as_secs_f64();
    r.map_err(|s| stop_to_py(s, &progress))?;
    out.finish(py, seconds)
}

/// Fits every source of a table of Gaia DR4 epoch astrometry held in memory: `columns` as
/// prepared by `astrosolve._tables` (name, unit, values, list offsets, mask); `name` stands
/// for the file name in messages. Other arguments and the result as [`epoch_fit_files`].
#[pyfunction]
#[pyo3(signature = (name, columns, model=None, weights=None, colour_prior_sigma=run::DEFAULT_COLOUR_PRIOR_SIGMA, residuals=true, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn epoch_fit_table(
    py: Python<'_>,
    name: &str,
    columns: Vec<InColumn<'_>>,
    model: Option<usize>,
    weights: Option<&str>,
    colour_prior_sigma: f64,
    residuals: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<EpochOut> {
    let opts = run_options("gaia", model, weights, colour_prior_sigma)?;
    let t = Instant::now();
    let table = table_from_py(name, columns)?;
    let progress = Progress::new(progress, "epoch");
    let mut out = Outputs::new(opts.model.unwrap_or(ModelKind::Five), residuals, &progress);
    let r = py.detach(|| fit_table(table, &opts, &mut out));
    let seconds = t.elapsed().as_secs_f64();
    r.map_err(|s| stop_to_py(s, &progress))?;
    out.finish(py, seconds)
}

/// For the overhead benchmark: seconds the engine takes for the same work as
/// [`epoch_fit_files`] (read, fit, build the output columns and free them, all in Rust;
/// nothing handed to Python), best of `repeat` runs.
#[pyfunction]
#[pyo3(signature = (paths, model=None, weights=None, residuals=true, repeat=5))]
pub fn epoch_rust_seconds(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    model: Option<usize>,
    weights: Option<&str>,
    residuals: bool,
    repeat: usize,
) -> PyResult<f64> {
    let opts = run_options("auto", model, weights, run::DEFAULT_COLOUR_PRIOR_SIGMA)?;
    let progress = Progress::silent();
    py.detach(|| {
        let mut best = f64::INFINITY;
        for _ in 0..repeat.max(1) {
            let t = Instant::now();
            let mut out = Outputs::new(ModelKind::Five, residuals, &progress);
            fit_paths(&paths, &opts, &mut out).map_err(|s| match s {
                Stop::Epoch(e) => e.to_string(),
                Stop::Message(m) => m,
                Stop::Interrupted => "interrupted".into(),
            })?;
            std::hint::black_box(&out.catalogue.values);
            // freed inside the timing, as Python frees the arrays of a result it drops
            drop(out);
            best = best.min(t.elapsed().as_secs_f64());
        }
        Ok::<f64, String>(best)
    })
    .map_err(engine_error)
}
