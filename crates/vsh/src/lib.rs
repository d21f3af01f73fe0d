//! Vector spherical harmonics (VSH) analysis of proper-motion fields (Mignard & Klioner 2012,
//! A&A 547, A59): weighted least-squares fit of toroidal and spheroidal coefficients up to a
//! degree L, rotation (spin) and glide vectors, power per degree with noise-bias correction and
//! significance, iterative outlier clipping, JSON report and all-sky plots.
//!
//! Conventions and formulas: `docs/vsh.md`. Entry points: [`analyse_file`] (read + fit) and
//! [`Analysis::write_outputs`]; the numerics are usable on their own ([`fit::fit`],
//! [`basis::VshBasis`], [`power::power_spectrum`], [`physics::degree1_vector`]).

pub mod basis;
pub mod error;
pub mod fit;
pub mod input;
pub mod linalg;
pub mod normal;
pub mod physics;
pub mod plot;
pub mod power;
pub mod report;
pub mod select;
pub mod synth;

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

pub use basis::{coef_index, labels, n_coef, CoefLabel, Family, Part, VshBasis};
pub use error::VshError;
pub use fit::{fit, FitOptions, PmData, VshFit, DEFAULT_CLIP_KAPPA};
pub use input::{read_catalogue, InputFormat, InputSummary};
pub use report::Report;
pub use select::Selection;

/// Options of a full analysis.
#[derive(Clone, Debug)]
pub struct AnalysisOptions {
    /// Maximum degree L (≥ 1).
    pub lmax: usize,
    /// Selection expressions (ANDed); empty selects every row.
    pub select: Vec<String>,
    /// κ of the clipping rule `X > κ · median(X)`; 0 disables clipping.
    pub clip_kappa: f64,
    /// Maximum number of fits in the clipping loop.
    pub max_iter: usize,
    /// Skip (and count) selected rows with invalid values instead of failing.
    pub skip_invalid: bool,
    /// Keep the sources a catalogue flags as unsolved (`astrometric_params_solved` < 31),
    /// which are otherwise skipped and counted.
    pub include_unsolved: bool,
    /// Input format; detected from the file when None.
    pub format: Option<InputFormat>,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            lmax: 5,
            select: Vec::new(),
            clip_kappa: DEFAULT_CLIP_KAPPA,
            max_iter: 20,
            skip_invalid: false,
            include_unsolved: false,
            format: None,
        }
    }
}

/// A completed analysis: the data used, the fit and its report.
#[derive(Clone, Debug)]
pub struct Analysis {
    /// Sources given to the fit.
    pub data: PmData,
    /// The fit.
    pub fit: VshFit,
    /// The report (what is written as JSON).
    pub report: Report,
}

/// Reads the catalogue at `path`, selects, fits and builds the report.
pub fn analyse_file(path: &Path, opts: &AnalysisOptions) -> Result<Analysis, VshError> {
    let selection = Selection::parse(&opts.select)?;
    let t0 = Instant::now();
    let cat = input::read_catalogue_with(
        path,
        opts.format,
        &selection,
        opts.skip_invalid,
        opts.include_unsolved,
    )?;
    let read_s = t0.elapsed().as_secs_f64();
    let mut a = analyse_data(cat.data, Some(cat.summary), opts)?;
    a.report.timings.read_s = read_s;
    Ok(a)
}

/// Fits in-memory data (internal units) and builds the report.
pub fn analyse_data(
    data: PmData,
    input: Option<InputSummary>,
    opts: &AnalysisOptions,
) -> Result<Analysis, VshError> {
    let t0 = Instant::now();
    let f = fit::fit(
        &data,
        &FitOptions {
            lmax: opts.lmax,
            clip_kappa: opts.clip_kappa,
            max_iter: opts.max_iter,
        },
    )?;
    let fit_s = t0.elapsed().as_secs_f64();
    let report = Report::new(
        &f,
        input,
        opts.max_iter,
        report::Timings { read_s: 0.0, fit_s },
    );
    Ok(Analysis {
        data,
        fit: f,
        report,
    })
}

/// Names of the files [`Analysis::write_outputs`] writes.
pub const OUTPUT_JSON: &str = "vsh.json";
/// Fitted field, all degrees.
pub const OUTPUT_FIELD: &str = "vsh_field.png";
/// Fitted field without degree 1 (rotation and glide removed).
pub const OUTPUT_FIELD_HIGH: &str = "vsh_field_l2plus.png";
/// Binned residuals of the used sources.
pub const OUTPUT_RESIDUALS: &str = "vsh_residuals.png";
/// Power spectrum.
pub const OUTPUT_POWER: &str = "vsh_power.png";

/// Paths that [`Analysis::write_outputs`] writes in `dir` for degree `lmax` (to check for
/// existing files before a long fit).
pub fn output_paths(dir: &Path, lmax: usize, plots: bool) -> Vec<PathBuf> {
    let mut v = vec![dir.join(OUTPUT_JSON)];
    if plots {
        v.push(dir.join(OUTPUT_FIELD));
        if lmax >= 2 {
            v.push(dir.join(OUTPUT_FIELD_HIGH));
        }
        v.push(dir.join(OUTPUT_RESIDUALS));
        v.push(dir.join(OUTPUT_POWER));
    }
    v
}

impl Analysis {
    /// Terminal summary.
    pub fn summary_text(&self) -> String {
        self.report.summary_text()
    }

    /// Full report as pretty JSON.
    pub fn to_json(&self) -> Result<String, VshError> {
        Ok(serde_json::to_string_pretty(&self.report)?)
    }

    /// Paths [`Self::write_outputs`] would write in `dir`.
    pub fn output_paths(&self, dir: &Path, plots: bool) -> Vec<PathBuf> {
        output_paths(dir, self.fit.lmax, plots)
    }

    /// Writes the JSON report and (if `plots`) the PNG plots into `dir` (created if needed),
    /// each through a temporary file and a rename (`astrosolve_io::output`): a failure leaves
    /// no half-written file. Refuses, before writing anything, when one of the files exists
    /// and `force` is false.
    pub fn write_outputs(
        &self,
        dir: &Path,
        force: bool,
        plots: bool,
    ) -> Result<Vec<PathBuf>, VshError> {
        let paths = self.output_paths(dir, plots);
        if !force {
            if let Some(p) = paths.iter().find(|p| p.exists()) {
                return Err(VshError::OutputExists(p.clone()));
            }
        }
        std::fs::create_dir_all(dir).map_err(|source| VshError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        astrosolve_io::write_text(&dir.join(OUTPUT_JSON), &(self.to_json()? + "\n"), true)?;
        if plots {
            let l = self.fit.lmax;
            plot::plot_field(
                &dir.join(OUTPUT_FIELD),
                &format!("Fitted VSH field, degrees 1–{l} (T + S)"),
                &self.field_grid(1, 700),
            )?;
            if l >= 2 {
                plot::plot_field(
                    &dir.join(OUTPUT_FIELD_HIGH),
                    &format!("Fitted VSH field, degrees 2–{l} (rotation and glide removed)"),
                    &self.field_grid(2, 700),
                )?;
            }
            plot::plot_field(
                &dir.join(OUTPUT_RESIDUALS),
                "Residuals of the used sources, weighted mean per equal-area cell",
                &self.binned_residuals(18),
            )?;
            plot::plot_power(&dir.join(OUTPUT_POWER), &self.report.power)?;
        }
        Ok(paths)
    }

    /// Fitted field of degrees `lmin..=L` on `n` near-uniform points.
    pub fn field_grid(&self, lmin: usize, n: usize) -> Vec<plot::FieldVector> {
        let basis = VshBasis::new(self.fit.lmax);
        let mut coef = self.fit.coef.clone();
        // Degrees below lmin occupy the first n_coef(lmin−1) entries.
        coef[..n_coef(lmin.saturating_sub(1))].fill(0.0);
        plot::fibonacci_points(n)
            .into_iter()
            .map(|(ra, dec)| {
                let (va, vd) = basis.field(&coef, ra, dec);
                plot::FieldVector { ra, dec, va, vd }
            })
            .collect()
    }

    /// Weighted mean residual `(observed − fitted)` of the used sources in `nbands` equal-area
    /// bands of sin δ, each cut into cells of about equal area; cells with < 5 sources omitted.
    pub fn binned_residuals(&self, nbands: usize) -> Vec<plot::FieldVector> {
        let basis = VshBasis::new(self.fit.lmax);
        // Cells per band ∝ band's mean circumference, 2·nbands cells on the equator.
        let cells: Vec<usize> = (0..nbands)
            .map(|b| {
                let z = -1.0 + 2.0 * (b as f64 + 0.5) / nbands as f64;
                ((2.0 * nbands as f64 * (1.0 - z * z).sqrt()).round() as usize).max(1)
            })
            .collect();
        let offsets: Vec<usize> = cells
            .iter()
            .scan(0, |s, &c| {
                let o = *s;
                *s += c;
                Some(o)
            })
            .collect();
        let ncell = cells.iter().sum::<usize>();
        let cell_of = |ra: f64, dec: f64| {
            let z = dec.sin();
            let b = (((z + 1.0) / 2.0 * nbands as f64) as usize).min(nbands - 1);
            let c = ((ra.rem_euclid(std::f64::consts::TAU) / std::f64::consts::TAU
                * cells[b] as f64) as usize)
                .min(cells[b] - 1);
            offsets[b] + c
        };
        let data = &self.data;
        let fit = &self.fit;
        // Per cell: Σw_a r_a, Σw_a, Σw_d r_d, Σw_d, count.
        let sums = (0..data.len())
            .into_par_iter()
            .fold(
                || vec![[0.0f64; 5]; ncell],
                |mut acc, i| {
                    if !fit.rejected[i] {
                        let (va, vd) = basis.field(&fit.coef, data.ra[i], data.dec[i]);
                        let wa = 1.0 / (data.pmra_error[i] * data.pmra_error[i]);
                        let wd = 1.0 / (data.pmdec_error[i] * data.pmdec_error[i]);
                        let c = &mut acc[cell_of(data.ra[i], data.dec[i])];
                        c[0] += wa * (data.pmra[i] - va);
                        c[1] += wa;
                        c[2] += wd * (data.pmdec[i] - vd);
                        c[3] += wd;
                        c[4] += 1.0;
                    }
                    acc
                },
            )
            .reduce(
                || vec![[0.0f64; 5]; ncell],
                |mut x, y| {
                    for (a, b) in x.iter_mut().zip(&y) {
                        for q in 0..5 {
                            a[q] += b[q];
                        }
                    }
                    x
                },
            );
        let mut out = Vec::new();
        for b in 0..nbands {
            let z = -1.0 + 2.0 * (b as f64 + 0.5) / nbands as f64;
            for c in 0..cells[b] {
                let s = &sums[offsets[b] + c];
                if s[4] >= 5.0 {
                    out.push(plot::FieldVector {
                        ra: std::f64::consts::TAU * (c as f64 + 0.5) / cells[b] as f64,
                        dec: z.asin(),
                        va: s[0] / s[1],
                        vd: s[2] / s[3],
                    });
                }
            }
        }
        out
    }
}
