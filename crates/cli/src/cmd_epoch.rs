//! `astrosolve epoch`: the source update of the astrometric solution on real epoch astrometry —
//! Gaia DR4 epoch astrometry (every DataLink format) and Hipparcos Intermediate Astrometric
//! Data (1997, 2007, 2014). The numerics live in `astrosolve-epoch`; the columns are documented
//! in docs/epoch.md.
//!
//! files → sources (streamed, in batches) → fits (in parallel) → catalogue.parquet,
//! residuals.parquet (and CSV), summary.json, plots.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use astrosolve_epoch::run::{self, Fitted, InputFormat, RunOptions, Skipped};
use astrosolve_epoch::{ModelKind, Weighting};
use astrosolve_io::hipparcos::IadFormat;
use astrosolve_io::TableSink;
use serde::Serialize;

use crate::epoch_plot;

/// Input format names for `--format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EpochFormat {
    /// Detect from the content of each file.
    #[default]
    Auto,
    /// Gaia DR4 epoch astrometry: CSV, ECSV, FITS, VOTable (binary or TABLEDATA) or Parquet,
    /// archive (snake_case) or CU9 (camelCase) column names.
    Gaia,
    /// Hipparcos IAD, ESA 1997 (FAST and NDAC abscissae).
    Hip1997,
    /// Hipparcos IAD, 2007 reduction (van Leeuwen), DVD format.
    Hip2007,
    /// Hipparcos IAD, ESA 2014 Java tool format.
    Hip2014,
}

/// `--weights`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightsArg {
    /// DR4 as published: the rows flagged used_by_agis_al, variance σ² + ε² with the published
    /// excess noise ε, no iteration (reproduces AGIS DR4).
    Dr4,
    /// Robust AGIS-like update (Lindegren et al. 2012, eqs. 64–66; as ESA's gaia-supdate):
    /// downweights, excess noise, outliers where the downweight < 0.2.
    Agis,
    /// Huber downweights (c = 2), iterated, with excess noise.
    Huber,
    /// Weight 1/σ² for every usable observation.
    None,
}

impl From<WeightsArg> for Weighting {
    fn from(w: WeightsArg) -> Self {
        match w {
            WeightsArg::Dr4 => Weighting::Dr4,
            WeightsArg::Agis => Weighting::Agis,
            WeightsArg::Huber => Weighting::Huber,
            WeightsArg::None => Weighting::None,
        }
    }
}

/// Arguments of `astrosolve epoch`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    about = "Fit sources to Gaia DR4 epoch astrometry or Hipparcos intermediate data (5, 6, 7 or 9 parameters)",
    long_about = "The source update of the astrometric solution on real epoch astrometry: for every source \
in the files, a weighted least-squares fit of its along-scan abscissae with 5 parameters (position offset, \
parallax, proper motion), 6 (plus the pseudo-colour with its Gaussian prior, as DR4's constrained-colour \
solutions), 7 or 9 (plus the proper-motion derivatives, in Hipparcos's parameterisation).\n\n\
Inputs: Gaia DR4 epoch astrometry in any DataLink format (CSV, ECSV, FITS, VOTable, Parquet; archive or \
CU9 column names; many sources per file, streamed) and Hipparcos IAD files (1997, 2007, 2014 formats). \
Outputs in --out: catalogue.parquet (one row per source, Gaia archive names), residuals.parquet (one row \
per observation), summary.json; --csv adds CSV copies, --plot SOURCE_ID draws the residuals and the fitted \
path on the sky. Columns: docs/epoch.md.\n\n\
Examples:\n  astrosolve epoch 'EPOCH_ASTROMETRY-Gaia DR4 1.fits' --out fit\n  \
astrosolve epoch dr4_bulk_*.csv.gz --weights dr4 --out dr4fit\n  \
astrosolve epoch HIP027321.d --model 5 --out hip --plot 27321"
)]
pub struct EpochArgs {
    /// Input files (any number; Gaia tables and Hipparcos IAD may be mixed).
    #[arg(value_name = "FILE", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,

    /// Output directory.
    #[arg(long, value_name = "DIR", default_value = "astrosolve-epoch")]
    pub out: PathBuf,

    /// Input format; detected from each file's content by default.
    #[arg(long, value_enum, default_value_t = EpochFormat::Auto)]
    pub format: EpochFormat,

    /// Number of parameters: 5, 6 (pseudo-colour with prior), 7 or 9 (proper-motion
    /// derivatives). Default: 5 for Gaia; for Hipparcos the star's own solution type.
    #[arg(long, value_name = "N", value_parser = parse_model)]
    pub model: Option<ModelKind>,

    /// Weighting: dr4, agis, huber or none. Default: agis for Gaia data, none for Hipparcos
    /// (whose rejected records are skipped and whose σ are inflated as the catalogue did).
    #[arg(long, value_enum, value_name = "SCHEME")]
    pub weights: Option<WeightsArg>,

    /// σ of the Gaussian prior on the pseudo-colour offset for --model 6 (nm⁻¹).
    #[arg(long, value_name = "SIGMA", default_value_t = run::DEFAULT_COLOUR_PRIOR_SIGMA)]
    pub colour_prior_sigma: f64,

    /// Also write catalogue.csv and residuals.csv.
    #[arg(long)]
    pub csv: bool,

    /// Do not write residuals.parquet (one row per observation: large for bulk files).
    #[arg(long)]
    pub no_residuals: bool,

    /// Draw epoch_SOURCE_ID.png for this source (repeatable): residuals against time and the
    /// fitted path on the sky.
    #[arg(long, value_name = "SOURCE_ID")]
    pub plot: Vec<i64>,

    /// Overwrite existing outputs in --out.
    #[arg(long)]
    pub force: bool,
}

fn parse_model(s: &str) -> Result<ModelKind, String> {
    s.trim()
        .parse::<usize>()
        .ok()
        .and_then(ModelKind::from_n)
        .ok_or_else(|| format!("model must be 5, 6, 7 or 9 (got \"{s}\")"))
}

const CATALOGUE: &str = "catalogue.parquet";
const RESIDUALS: &str = "residuals.parquet";
const SUMMARY: &str = "summary.json";

/// What the run did, written to summary.json.
#[derive(Serialize, Default)]
struct Summary {
    verdict: String,
    files: Vec<String>,
    model: Option<usize>,
    weights: String,
    n_sources_fitted: usize,
    n_sources_skipped: usize,
    n_observations: usize,
    wall_seconds: f64,
    sources_per_second: f64,
    skipped: Vec<SkippedJson>,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct SkippedJson {
    source_id: Option<i64>,
    reason: String,
}

/// Runs `astrosolve epoch`.
pub fn run(a: &EpochArgs) -> Result<(), Box<dyn std::error::Error>> {
    if !(a.colour_prior_sigma.is_finite() && a.colour_prior_sigma > 0.0) {
        return Err(format!(
            "--colour-prior-sigma must be a positive number of nm⁻¹ (got {})",
            a.colour_prior_sigma
        )
        .into());
    }
    let start = Instant::now();
    let opts = RunOptions {
        format: match a.format {
            EpochFormat::Auto => InputFormat::Auto,
            EpochFormat::Gaia => InputFormat::Gaia,
            EpochFormat::Hip1997 => InputFormat::Hipparcos(IadFormat::Hip1997),
            EpochFormat::Hip2007 => InputFormat::Hipparcos(IadFormat::Hip2007),
            EpochFormat::Hip2014 => InputFormat::Hipparcos(IadFormat::Hip2014),
        },
        model: a.model,
        weighting: a.weights.map(Weighting::from),
        colour_prior_sigma: a.colour_prior_sigma,
        ..RunOptions::default()
    };
    // Classify every file first: a wrong path fails before any work.
    let mut kinds = Vec::with_capacity(a.files.len());
    for f in &a.files {
        if !f.exists() {
            return Err(format!("{}: file not found", f.display()).into());
        }
        kinds.push(run::classify(f, opts.format)?);
    }
    let out_model = run::output_model(&kinds, &opts);

    let mut outputs_names = vec![CATALOGUE, SUMMARY];
    if !a.no_residuals {
        outputs_names.push(RESIDUALS);
    }
    if a.csv {
        outputs_names.push("catalogue.csv");
        if !a.no_residuals {
            outputs_names.push("residuals.csv");
        }
    }
    let plot_names: Vec<String> = a.plot.iter().map(|id| format!("epoch_{id}.png")).collect();
    // Never write over an input.
    for f in &a.files {
        let fc = f.canonicalize().unwrap_or_else(|_| f.clone());
        for n in outputs_names
            .iter()
            .copied()
            .chain(plot_names.iter().map(String::as_str))
        {
            let o = a.out.join(n);
            if o.canonicalize().map(|o| o == fc).unwrap_or(false) {
                return Err(format!(
                    "{}: is an input; choose another --out directory",
                    o.display()
                )
                .into());
            }
        }
    }
    let inputs: Vec<&Path> = a.files.iter().map(PathBuf::as_path).collect();
    crate::prepare_out_dir(&a.out, &outputs_names, a.force, &inputs)?;
    for p in &plot_names {
        if a.out.join(p).exists() && !a.force {
            return Err(format!(
                "{} exists; use --force to overwrite it",
                a.out.join(p).display()
            )
            .into());
        }
    }

    let csv = |n: &str| a.out.join(n);
    let mut catalogue = TableSink::create(
        &a.out.join(CATALOGUE),
        a.csv.then(|| csv("catalogue.csv")).as_deref(),
        "epoch_catalogue",
        run::catalogue_columns(out_model),
        vec![],
        a.force,
    )?;
    let mut residuals = if a.no_residuals {
        None
    } else {
        Some(TableSink::create(
            &a.out.join(RESIDUALS),
            a.csv.then(|| csv("residuals.csv")).as_deref(),
            "epoch_residuals",
            run::residual_columns(),
            vec![],
            a.force,
        )?)
    };

    let mut summary = Summary {
        files: a.files.iter().map(|f| f.display().to_string()).collect(),
        model: a.model.map(ModelKind::n_params),
        weights: a
            .weights
            .map_or("default (agis for Gaia, none for Hipparcos)".into(), |w| {
                format!("{w:?}").to_lowercase()
            }),
        ..Summary::default()
    };
    let want_plot: HashSet<i64> = a.plot.iter().copied().collect();
    let mut to_plot: Vec<Fitted> = Vec::new();
    let mut shown: Vec<Fitted> = Vec::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    let pb = crate::progress::spinner("sources");
    let mut n_fitted = 0usize;
    let mut n_obs = 0usize;
    let mut warnings: Vec<String> = Vec::new();
    run::fit_files::<Box<dyn std::error::Error>>(
        &a.files,
        &kinds,
        &opts,
        |batch| {
            catalogue.write(run::catalogue_values(&batch, out_model))?;
            if let Some(r) = residuals.as_mut() {
                r.write(run::residual_values(&batch))?;
            }
            n_fitted += batch.len();
            n_obs += batch.iter().map(|f| f.result.n_obs_al).sum::<usize>();
            for f in batch {
                for w in &f.warnings {
                    warnings.push(format!("source {}: {w}", f.data.id));
                }
                if want_plot.contains(&f.data.id) {
                    to_plot.push(f);
                } else if shown.len() < SHOW {
                    shown.push(f);
                }
            }
            pb.set_position(n_fitted as u64);
            Ok(())
        },
        |s| skipped.push(s),
    )?;
    pb.finish_and_clear();

    summary.n_sources_fitted = n_fitted;
    summary.n_observations = n_obs;
    summary.warnings = warnings;
    summary.skipped = skipped
        .into_iter()
        .map(|s| SkippedJson {
            source_id: s.source_id,
            reason: s.reason,
        })
        .collect();
    summary.n_sources_skipped = summary.skipped.len();
    summary.wall_seconds = start.elapsed().as_secs_f64();
    summary.sources_per_second = summary.n_sources_fitted as f64 / summary.wall_seconds.max(1e-9);
    summary.verdict = if summary.n_sources_fitted == 0 {
        "FAILED: no source could be fitted".into()
    } else if summary.n_sources_skipped > 0 {
        format!(
            "fitted {} sources; {} skipped (see \"skipped\")",
            summary.n_sources_fitted, summary.n_sources_skipped
        )
    } else {
        format!("fitted {} sources", summary.n_sources_fitted)
    };

    if summary.n_sources_fitted == 0 {
        // Nothing to keep: the sinks are dropped unfinished (no empty tables left behind).
        drop(catalogue);
        drop(residuals);
        let mut msg = String::from("no source could be fitted");
        for s in summary.skipped.iter().take(10) {
            msg.push_str(&format!("\n  {}", s.reason));
        }
        return Err(msg.into());
    }
    let n_cat = catalogue.finish()?;
    if let Some(r) = residuals {
        r.finish()?;
    }
    let json = serde_json::to_string_pretty(&summary)?;
    crate::write_text_atomically(&a.out.join(SUMMARY), &json)?;

    print_summary(&summary, &shown, &to_plot, n_cat);
    // One plot per fitted source with that id (a HIP number may come from several editions):
    // epoch_ID.png, then epoch_ID_2.png, ...
    let mut drawn: Vec<i64> = Vec::new();
    for f in &to_plot {
        let k = drawn.iter().filter(|&&d| d == f.data.id).count();
        drawn.push(f.data.id);
        let name = if k == 0 {
            format!("epoch_{}.png", f.data.id)
        } else {
            format!("epoch_{}_{}.png", f.data.id, k + 1)
        };
        let p = a.out.join(name);
        if p.exists() && !a.force {
            eprintln!("warning: {} exists; not redrawn (use --force)", p.display());
            continue;
        }
        epoch_plot::draw(&p, f)?;
        println!("wrote {}", p.display());
    }
    for id in &a.plot {
        if !to_plot.iter().any(|f| f.data.id == *id) {
            eprintln!("warning: --plot {id}: no such source was fitted");
        }
    }
    println!(
        "wrote {}/{CATALOGUE}{}{}",
        a.out.display(),
        if a.no_residuals {
            String::new()
        } else {
            format!(", {RESIDUALS}")
        },
        if a.csv { " (and CSV)" } else { "" }
    );
    Ok(())
}

/// Sources shown in the printed summary.
const SHOW: usize = 10;

/// A figure with `decimals` decimals, or "undetermined" (never "NaN").
fn figure(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "undetermined".into()
    }
}

fn print_summary(s: &Summary, shown: &[Fitted], plotted: &[Fitted], n_cat: usize) {
    println!(
        "{}: {} observations, {:.2} s ({:.0} sources/s)",
        s.verdict, s.n_observations, s.wall_seconds, s.sources_per_second
    );
    debug_assert_eq!(n_cat, s.n_sources_fitted);
    for f in shown.iter().chain(plotted).take(SHOW) {
        let r = &f.result;
        let names = f.model.names();
        let units = f.model.units();
        println!(
            "source {} ({} obs, {} outliers, excess noise {} mas, F2 {}):",
            f.data.id,
            r.n_obs_al,
            r.n_bad_obs_al,
            figure(r.excess_noise, 3),
            figure(r.gof_al, 2)
        );
        for k in 0..names.len() {
            println!(
                "  {:<20} {:>14} ± {:<10} {}",
                names[k],
                figure(r.params[k], 6),
                figure(r.error(k), 6),
                units[k]
            );
        }
    }
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
    for sk in s.skipped.iter().take(20) {
        eprintln!("skipped: {}", sk.reason);
    }
    if s.skipped.len() > 20 {
        eprintln!("... {} more skipped (summary.json)", s.skipped.len() - 20);
    }
}
