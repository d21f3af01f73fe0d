//! A whole epoch-astrometry run, shared by the command line and the Python bindings: files of
//! any supported kind → sources (streamed, in batches) → fits (in parallel) → the rows of the
//! output catalogue and residual tables (column definitions and values, docs/epoch.md).
//!
//! Each Gaia file is read in chunks and fitted in batches of [`RunOptions::batch`] sources, so a
//! bulk file of millions of sources needs bounded memory; each Hipparcos file is one star.

use std::path::{Path, PathBuf};

use astrosolve_io::hipparcos::{looks_like_iad, read_iad, IadFormat};
use astrosolve_io::{SinkColumn, SinkKind, SinkValues};

use crate::gaia::{GaiaSourceStream, DR4_EPOCH_JYEAR};
use crate::hipparcos::{fit_star, io_error, REF_EPOCH_YR as HIPPARCOS_EPOCH_JYEAR};
use crate::{fit_many, EpochError, FitOptions, FitResult, ModelKind, SourceData, Weighting};

/// Input format of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// Detected from each file's content.
    #[default]
    Auto,
    /// Gaia DR4 epoch astrometry (CSV, ECSV, FITS, VOTable, Parquet).
    Gaia,
    /// Hipparcos IAD of a given edition.
    Hipparcos(IadFormat),
}

/// σ of the pseudo-colour prior (nm⁻¹) of DR4's constrained-colour solutions, as gaia-supdate
/// uses it.
pub const DEFAULT_COLOUR_PRIOR_SIGMA: f64 = crate::gaia::DR4_COLOUR_PRIOR.1;

/// Sources fitted per batch by default.
pub const DEFAULT_BATCH: usize = 4096;

/// Options of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunOptions {
    pub format: InputFormat,
    /// None: 5 parameters for Gaia, the star's own solution type for Hipparcos.
    pub model: Option<ModelKind>,
    /// None: Agis for Gaia, None (plain weights, σ inflated from F2) for Hipparcos.
    pub weighting: Option<Weighting>,
    /// σ of the pseudo-colour prior for model 6 (nm⁻¹; mean 0).
    pub colour_prior_sigma: f64,
    /// Sources per fitted batch.
    pub batch: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            format: InputFormat::Auto,
            model: None,
            weighting: None,
            colour_prior_sigma: DEFAULT_COLOUR_PRIOR_SIGMA,
            batch: DEFAULT_BATCH,
        }
    }
}

/// One fitted source, as it goes to the outputs.
#[derive(Clone, Debug)]
pub struct Fitted {
    pub data: SourceData,
    pub result: FitResult,
    pub model: ModelKind,
    /// Julian year of t = 0 (TCB for Gaia, TT for Hipparcos).
    pub ref_epoch: f64,
    /// Warnings of the fit (Hipparcos file defects handled, …).
    pub warnings: Vec<String>,
    /// Reference position (α, δ in rad) where the data give one (Hipparcos headers).
    pub reference_radec: Option<(f64, f64)>,
    /// Reference values the fitted parameters correct (Hipparcos): ϖ (mas), μα*, μδ (mas/yr),
    /// gα*, gδ (mas/yr²), ġα*, ġδ (mas/yr³); 0 for terms the reference does not have.
    pub reference_motion: Option<[f64; 7]>,
    /// The 7/9-parameter terms are in the Hipparcos catalogues' basis, ½g(t² − A97) and
    /// ⅙ġ(t³ − B97 t) (see [`crate::hipparcos::to_catalogue_basis`]), not the plain ½gt², ⅙ġt³.
    pub catalogue_basis: bool,
}

/// A source (or file) that could not be fitted, and why (file, row, column where known).
#[derive(Clone, Debug)]
pub struct Skipped {
    pub source_id: Option<i64>,
    pub reason: String,
}

/// What kind of data a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Gaia,
    Hipparcos(Option<IadFormat>),
}

/// Classifies `path` for `format` (reads at most the first 8 kB). Errors only when the file
/// cannot be read.
pub fn classify(path: &Path, format: InputFormat) -> Result<FileKind, EpochError> {
    Ok(match format {
        InputFormat::Gaia => FileKind::Gaia,
        InputFormat::Hipparcos(f) => FileKind::Hipparcos(Some(f)),
        InputFormat::Auto => {
            if looks_like_iad(path).map_err(io_error)? {
                FileKind::Hipparcos(None)
            } else {
                FileKind::Gaia
            }
        }
    })
}

/// The model whose columns the catalogue of a run has: the one asked for, else 9 parameters
/// when a Hipparcos file is among the inputs (their own solution types vary), else 5.
pub fn output_model(kinds: &[FileKind], opts: &RunOptions) -> ModelKind {
    match opts.model {
        Some(m) => m,
        None if kinds.iter().any(|k| matches!(k, FileKind::Hipparcos(_))) => ModelKind::Nine,
        None => ModelKind::Five,
    }
}

/// Fits every source of `files` (classified as `kinds`), calling `on_batch` with each batch
/// of fitted sources in file order and `on_skip` for each source or file that could not be
/// fitted. Stops at the first error of `on_batch`, or when a Gaia file cannot be opened or
/// read further (a bad source inside a readable file is skipped).
pub fn fit_files<E: From<EpochError>>(
    files: &[PathBuf],
    kinds: &[FileKind],
    opts: &RunOptions,
    mut on_batch: impl FnMut(Vec<Fitted>) -> Result<(), E>,
    mut on_skip: impl FnMut(Skipped),
) -> Result<(), E> {
    let skip = |e: &EpochError| Skipped {
        source_id: e.source_id(),
        reason: e.to_string(),
    };
    for (file, kind) in files.iter().zip(kinds) {
        match kind {
            FileKind::Gaia => {
                let stream = GaiaSourceStream::open(file)?;
                fit_gaia_stream(stream, file, opts, &mut on_batch, &mut on_skip)?;
            }
            FileKind::Hipparcos(fmt) => match fit_hipparcos(file, *fmt, opts) {
                Ok(f) => on_batch(vec![f])?,
                Err(e) => on_skip(skip(&e)),
            },
        }
    }
    Ok(())
}

/// Fits the sources of one Gaia stream (a file, or a table in memory) in batches of
/// [`RunOptions::batch`]: the Gaia part of [`fit_files`]. `file` names the data in messages.
pub fn fit_gaia_stream<E: From<EpochError>>(
    mut stream: GaiaSourceStream,
    file: &Path,
    opts: &RunOptions,
    mut on_batch: impl FnMut(Vec<Fitted>) -> Result<(), E>,
    mut on_skip: impl FnMut(Skipped),
) -> Result<(), E> {
    let model = opts.model.unwrap_or(ModelKind::Five);
    let fo = FitOptions {
        model,
        weighting: opts.weighting.unwrap_or(Weighting::Agis),
        colour_prior: Some((0.0, opts.colour_prior_sigma)),
        ..FitOptions::default()
    };
    let mut done = false;
    while !done {
        let mut batch: Vec<SourceData> = Vec::with_capacity(opts.batch);
        while batch.len() < opts.batch.max(1) {
            match stream.next() {
                None => {
                    done = true;
                    break;
                }
                Some(Ok(s)) => batch.push(s),
                Some(Err(e)) if e.source_id().is_some() => on_skip(Skipped {
                    source_id: e.source_id(),
                    reason: e.to_string(),
                }),
                Some(Err(e)) => return Err(e.into()),
            }
        }
        let results = fit_many(&batch, &fo);
        let mut fitted = Vec::with_capacity(batch.len());
        for (data, r) in batch.into_iter().zip(results) {
            match r {
                Ok(result) => fitted.push(Fitted {
                    data,
                    result,
                    model,
                    ref_epoch: DR4_EPOCH_JYEAR,
                    warnings: vec![],
                    reference_radec: None,
                    reference_motion: None,
                    catalogue_basis: false,
                }),
                Err(e) => on_skip(Skipped {
                    source_id: Some(data.id),
                    reason: format!("{}: {e}", file.display()),
                }),
            }
        }
        if !fitted.is_empty() {
            on_batch(fitted)?;
        }
    }
    Ok(())
}

/// Reads and fits one Hipparcos IAD file.
pub fn fit_hipparcos(
    file: &Path,
    format: Option<IadFormat>,
    opts: &RunOptions,
) -> Result<Fitted, EpochError> {
    let star = read_iad(file, format).map_err(io_error)?;
    let fit = fit_star(&star, opts.model, opts.weighting.unwrap_or(Weighting::None))?;
    Ok(Fitted {
        reference_radec: star.reference.as_ref().map(|r| (r.ra_rad, r.dec_rad)),
        reference_motion: star.reference.as_ref().map(|r| {
            let [ga, gd] = r.accel.unwrap_or([0.0; 2]);
            let [da, dd] = r.accel_deriv.unwrap_or([0.0; 2]);
            [r.parallax, r.pmra, r.pmdec, ga, gd, da, dd]
        }),
        catalogue_basis: true,
        model: fit.model,
        data: fit.data,
        result: fit.result,
        ref_epoch: HIPPARCOS_EPOCH_JYEAR,
        warnings: fit.warnings,
    })
}

/// Base name of a parameter in correlation columns (Gaia: `ra_dec_corr`).
fn corr_base(name: &str) -> &str {
    name.trim_end_matches("_offset")
}

/// Unit of a parameter in astropy's spelling.
fn astropy_unit(u: &str) -> Option<&'static str> {
    match u {
        "mas" => Some("mas"),
        "mas/yr" => Some("mas / yr"),
        "mas/yr^2" => Some("mas / yr2"),
        "mas/yr^3" => Some("mas / yr3"),
        "1/nm" => Some("1 / nm"),
        _ => None,
    }
}

/// Gaia's `astrometric_params_solved` for 5 and 6 parameters (31, 95); for the Hipparcos
/// 7- and 9-parameter models, the number of parameters.
pub fn params_solved(m: ModelKind) -> i32 {
    match m {
        ModelKind::Five => 31,
        ModelKind::Six => 95,
        ModelKind::Seven => 7,
        ModelKind::Nine => 9,
    }
}

/// The catalogue's columns for the output model of a run (docs/epoch.md).
pub fn catalogue_columns(model: ModelKind) -> Vec<SinkColumn> {
    let names = model.names();
    let units = model.units();
    let mut c = vec![
        SinkColumn::new("source_id", SinkKind::I64, None),
        SinkColumn::new("ref_epoch", SinkKind::F64, Some("yr")),
        SinkColumn::new("astrometric_params_solved", SinkKind::I32, None),
    ];
    for (n, u) in names.iter().zip(units) {
        c.push(SinkColumn::new(*n, SinkKind::F64, astropy_unit(u)));
        c.push(SinkColumn::new(
            format!("{n}_error"),
            SinkKind::F64,
            astropy_unit(u),
        ));
    }
    for k in 0..names.len() {
        for l in k + 1..names.len() {
            c.push(SinkColumn::new(
                format!("{}_{}_corr", corr_base(names[k]), corr_base(names[l])),
                SinkKind::F64,
                None,
            ));
        }
    }
    for (n, k, u) in [
        ("astrometric_n_obs_al", SinkKind::I32, None),
        ("astrometric_n_good_obs_al", SinkKind::I32, None),
        ("astrometric_n_bad_obs_al", SinkKind::I32, None),
        ("astrometric_excess_noise", SinkKind::F64, Some("mas")),
        ("astrometric_excess_noise_sig", SinkKind::F64, None),
        ("astrometric_chi2_al", SinkKind::F64, None),
        ("astrometric_gof_al", SinkKind::F64, None),
        ("uwe", SinkKind::F64, None),
        ("n_iterations", SinkKind::I32, None),
    ] {
        c.push(SinkColumn::new(n, k, u));
    }
    c
}

/// The catalogue rows of `batch`, one value vector per column of [`catalogue_columns`]
/// (`model`). A parameter a source's own model does not have is NaN (written as null).
pub fn catalogue_values(batch: &[Fitted], model: ModelKind) -> Vec<SinkValues> {
    let width = model.n_params();
    let mut cols: Vec<SinkValues> = Vec::new();
    cols.push(SinkValues::I64(batch.iter().map(|f| f.data.id).collect()));
    cols.push(SinkValues::F64(batch.iter().map(|f| f.ref_epoch).collect()));
    cols.push(SinkValues::I32(
        batch.iter().map(|f| params_solved(f.model)).collect(),
    ));
    // Parameter k of the output model is parameter k of the source's own model when that has
    // it (same order: ra, dec, parallax, pmra, pmdec, then the extra terms).
    let own = |f: &Fitted, k: usize| -> Option<usize> {
        (k < f.model.n_params() && f.model.names()[k] == model.names()[k]).then_some(k)
    };
    for k in 0..width {
        cols.push(SinkValues::F64(
            batch
                .iter()
                .map(|f| own(f, k).map_or(f64::NAN, |i| f.result.params[i]))
                .collect(),
        ));
        cols.push(SinkValues::F64(
            batch
                .iter()
                .map(|f| own(f, k).map_or(f64::NAN, |i| f.result.error(i)))
                .collect(),
        ));
    }
    for k in 0..width {
        for l in k + 1..width {
            cols.push(SinkValues::F64(
                batch
                    .iter()
                    .map(|f| match (own(f, k), own(f, l)) {
                        (Some(i), Some(j)) => f.result.corr(i, j),
                        _ => f64::NAN,
                    })
                    .collect(),
            ));
        }
    }
    let r = |g: &dyn Fn(&FitResult) -> f64| -> SinkValues {
        SinkValues::F64(batch.iter().map(|f| g(&f.result)).collect())
    };
    let i = |g: &dyn Fn(&FitResult) -> usize| -> SinkValues {
        SinkValues::I32(
            batch
                .iter()
                .map(|f| i32::try_from(g(&f.result)).unwrap_or(i32::MAX))
                .collect(),
        )
    };
    cols.push(i(&|f| f.n_obs_al));
    cols.push(i(&|f| f.n_good_obs_al));
    cols.push(i(&|f| f.n_bad_obs_al));
    cols.push(r(&|f| f.excess_noise));
    cols.push(r(&|f| f.excess_noise_sig));
    cols.push(r(&|f| f.chi2));
    cols.push(r(&|f| f.gof_al));
    cols.push(r(&|f| f.uwe));
    cols.push(i(&|f| f.n_iter));
    cols
}

/// The residual table's columns (docs/epoch.md).
pub fn residual_columns() -> Vec<SinkColumn> {
    vec![
        SinkColumn::new("source_id", SinkKind::I64, None),
        SinkColumn::new("transit", SinkKind::I32, None),
        SinkColumn::new("epoch", SinkKind::F64, Some("yr")),
        SinkColumn::new("residual_al", SinkKind::F64, Some("mas")),
        SinkColumn::new("sigma_al", SinkKind::F64, Some("mas")),
        SinkColumn::new("residual_al_norm", SinkKind::F64, None),
        SinkColumn::new("weight_al", SinkKind::F64, None),
        SinkColumn::new("used", SinkKind::Bool, None),
    ]
}

/// The residual rows of `batch` (one per observation), one value vector per column of
/// [`residual_columns`]. The normalised residual is r/√(σ² + ε²).
pub fn residual_values(batch: &[Fitted]) -> Vec<SinkValues> {
    let m: usize = batch.iter().map(|f| f.data.obs.len()).sum();
    let mut id = Vec::with_capacity(m);
    let mut transit = Vec::with_capacity(m);
    let mut epoch = Vec::with_capacity(m);
    let mut resid = Vec::with_capacity(m);
    let mut sigma = Vec::with_capacity(m);
    let mut norm = Vec::with_capacity(m);
    let mut weight = Vec::with_capacity(m);
    let mut used = Vec::with_capacity(m);
    for f in batch {
        let eps2 = f.result.excess_noise.max(0.0).powi(2);
        for (j, o) in f.data.obs.iter().enumerate() {
            id.push(f.data.id);
            transit.push(i32::try_from(o.transit).unwrap_or(i32::MAX));
            epoch.push(f.ref_epoch + o.t);
            let rj = f.result.residuals.get(j).copied().unwrap_or(f64::NAN);
            resid.push(rj);
            sigma.push(o.sigma);
            norm.push(rj / (o.sigma * o.sigma + eps2).sqrt());
            weight.push(f.result.weights.get(j).copied().unwrap_or(0.0));
            used.push(o.used);
        }
    }
    vec![
        SinkValues::I64(id),
        SinkValues::I32(transit),
        SinkValues::F64(epoch),
        SinkValues::F64(resid),
        SinkValues::F64(sigma),
        SinkValues::F64(norm),
        SinkValues::F64(weight),
        SinkValues::Bool(used),
    ]
}
