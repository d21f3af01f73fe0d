//! `astrosolve vsh`: vector spherical harmonics (VSH) analysis of a proper-motion catalogue
//! (Mignard & Klioner 2012). The numerics live in the `astrosolve-vsh` crate; conventions in
//! docs/vsh.md.

use std::path::PathBuf;

use astrosolve_vsh::{analyse_file, output_paths, AnalysisOptions, InputFormat, VshError};

/// Input format names for `--format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum VshFormat {
    /// Apache Parquet (astrosolve catalogues, Gaia archive Parquet).
    Parquet,
    /// CSV (Gaia archive export; `#` lines are comments).
    Csv,
    /// ECSV (astropy; space-separated unless the header declares `delimiter: ','`).
    Ecsv,
    /// FITS binary table (the first BINTABLE extension).
    Fits,
    /// VOTable (TABLEDATA, BINARY or BINARY2).
    Votable,
}

/// Arguments of `astrosolve vsh`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    about = "Vector spherical harmonics analysis of a proper-motion field: rotation (spin), glide, power per degree",
    long_about = "Fits toroidal (t_lm) and spheroidal (s_lm) vector spherical harmonics up to degree L to the \
proper motions of a catalogue (weighted least squares with each source's pmra_error, pmdec_error and \
pmra_pmdec_corr; Mignard & Klioner 2012, A&A 547, A59), with iterative outlier clipping. Prints the \
rotation and glide vectors (µas/yr, equatorial and galactic directions) and the bias-corrected power \
per degree with its significance; --out DIR writes the full JSON report and PNG plots.\n\n\
Needed columns (Gaia archive names and units): ra, dec [deg], pmra (= µα cos δ), pmdec, pmra_error, \
pmdec_error [mas/yr], pmra_pmdec_corr; plus the columns used by --select. Conventions: docs/vsh.md.\n\n\
Examples:\n  astrosolve vsh cat.parquet --select is_qso --lmax 8 --out vsh_qso\n  \
astrosolve vsh gaia_export.csv --select 'phot_g_mean_mag>=15 & phot_g_mean_mag<19' --clip 4"
)]
pub struct VshArgs {
    /// Catalogue: Parquet, FITS binary table, VOTable, ECSV or CSV (astrosolve catalogue, Gaia
    /// archive export, astropy table); the format is detected from the content, else the
    /// extension, unless --format is given. Units stated in the file are honoured.
    #[arg(value_name = "CATALOGUE")]
    pub catalogue: PathBuf,

    /// Maximum VSH degree L; the fit has 2L(L+2) unknowns (6 for L=1, 70 for L=5, 240 for L=10).
    #[arg(long, value_name = "L", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=30))]
    pub lmax: u32,

    /// Source selection; terms joined by '&' and repeated flags are ANDed. A term is a boolean
    /// column (`is_qso`), its negation (`!is_qso`), or COLUMN OP NUMBER with OP one of
    /// < <= > >= == != (e.g. `phot_g_mean_mag<19`). Rows with a missing value in a selection
    /// column are not selected.
    #[arg(long = "select", value_name = "EXPR")]
    pub select: Vec<String>,

    /// Outlier clipping factor κ: a source is rejected when its normalised residual
    /// X = sqrt(Δᵀ C⁻¹ Δ) exceeds κ × median(X) (median over all sources); the fit is repeated,
    /// re-classifying every source, until the rejected set no longer changes. 0 disables clipping.
    /// For Gaussian errors the median of X is 1.18, so κ = 3 rejects X > 3.5 (0.2 % of good sources).
    #[arg(long, value_name = "KAPPA", default_value_t = astrosolve_vsh::DEFAULT_CLIP_KAPPA)]
    pub clip: f64,

    /// Maximum number of fits in the clipping iteration.
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_iter: u32,

    /// Output directory for vsh.json (full results) and the PNG plots (created if missing).
    /// Without it only the summary is printed.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Overwrite existing output files in --out.
    #[arg(long)]
    pub force: bool,

    /// Do not write plots (they are written by default with --out: fitted field, field of
    /// degrees ≥ 2, binned residuals on Aitoff all-sky maps, and the power spectrum).
    #[arg(long)]
    pub no_plot: bool,

    /// Skip selected rows with a missing, NaN or out-of-range value in a needed column (counted
    /// and reported per column) instead of stopping with an error naming the row and column.
    #[arg(long)]
    pub skip_invalid: bool,

    /// Keep the sources the catalogue flags as unsolved (astrometric_params_solved < 31, e.g. an
    /// astrosolve solution's sources that kept their starting values, with null
    /// uncertainties); by default they are skipped and counted.
    #[arg(long)]
    pub include_unsolved: bool,

    /// Input format (default: from the file's first bytes, else its extension).
    #[arg(long, value_enum)]
    pub format: Option<VshFormat>,

    /// Also print the full JSON report on standard output (the summary then goes to stderr).
    #[arg(long)]
    pub json: bool,
}

/// Runs `astrosolve vsh`.
pub fn run(args: &VshArgs) -> Result<(), Box<dyn std::error::Error>> {
    if args.clip.is_nan() || args.clip < 0.0 || !args.clip.is_finite() {
        return Err(Box::new(VshError::Option(format!(
            "--clip must be a finite number ≥ 0, got {}",
            args.clip
        ))));
    }
    let opts = AnalysisOptions {
        lmax: args.lmax as usize,
        select: args.select.clone(),
        clip_kappa: args.clip,
        max_iter: args.max_iter as usize,
        skip_invalid: args.skip_invalid,
        include_unsolved: args.include_unsolved,
        format: args.format.map(|f| match f {
            VshFormat::Parquet => InputFormat::Parquet,
            VshFormat::Csv => InputFormat::Csv,
            VshFormat::Ecsv => InputFormat::Ecsv,
            VshFormat::Fits => InputFormat::Fits,
            VshFormat::Votable => InputFormat::Votable,
        }),
    };
    let plots = !args.no_plot;
    // Refuse early, before a long fit: an output that would replace the input (even with
    // --force), outputs that exist, a directory that cannot be written.
    if let Some(dir) = &args.out {
        let input = astrosolve_io::output::canonical_path(&args.catalogue);
        let paths = output_paths(dir, opts.lmax, plots);
        if let Some(p) = paths
            .iter()
            .find(|p| astrosolve_io::output::canonical_path(p) == input)
        {
            return Err(format!(
                "{}: is the input catalogue; choose another --out directory",
                p.display()
            )
            .into());
        }
        if !args.force {
            if let Some(p) = paths.into_iter().find(|p| p.exists()) {
                return Err(Box::new(VshError::OutputExists(p)));
            }
        }
        astrosolve_io::ensure_writable_dir(dir)?;
    }
    eprintln!(
        "astrosolve vsh: {} (lmax {}, {} thread(s))",
        args.catalogue.display(),
        opts.lmax,
        rayon::current_num_threads()
    );
    let analysis = analyse_file(&args.catalogue, &opts)?;
    let summary = analysis.summary_text();
    if args.json {
        eprint!("{summary}");
    } else {
        print!("{summary}");
    }
    let t = &analysis.report.timings;
    eprintln!("time: read {:.2} s, fit {:.2} s", t.read_s, t.fit_s);
    match &args.out {
        Some(dir) => {
            let files = analysis.write_outputs(dir, args.force, plots)?;
            for f in files {
                eprintln!("wrote {}", f.display());
            }
        }
        None => eprintln!("(use --out DIR to write the full JSON report and the plots)"),
    }
    if args.json {
        println!("{}", analysis.to_json()?);
    }
    Ok(())
}
