//! JSON report and terminal summary of a VSH analysis (field list in docs/vsh.md).

use std::fmt::Write as _;

use serde::Serialize;

use crate::basis::{labels, Family, Part};
use crate::fit::VshFit;
use crate::input::InputSummary;
use crate::physics::{degree1_vector, VectorEstimate};
use crate::power::{power_spectrum, DegreePower};

/// Units used in the report.
#[derive(Clone, Debug, Serialize)]
pub struct Units {
    /// Proper motions, coefficients, rotation and glide.
    pub proper_motion: &'static str,
    /// Power.
    pub power: &'static str,
    /// Angles.
    pub angle: &'static str,
}

/// Settings of the analysis.
#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    /// Maximum degree.
    pub lmax: usize,
    /// κ of the clipping rule `X > κ · median(X)` (0: no clipping).
    pub clip_kappa: f64,
    /// Maximum number of fits in the clipping loop.
    pub max_iter: usize,
}

/// Summary of the least-squares fit.
#[derive(Clone, Debug, Serialize)]
pub struct FitSummary {
    /// Number of unknowns `2 L (L+2)`.
    pub n_coefficients: usize,
    /// Sources given to the fit.
    pub n_sources: usize,
    /// Sources used in the final fit.
    pub n_used: usize,
    /// Sources rejected by the clipping.
    pub n_rejected: usize,
    /// Fits made.
    pub iterations: usize,
    /// Whether the clipping converged.
    pub converged: bool,
    /// Median of the normalised residuals X (all sources).
    pub median_x: f64,
    /// Rejection threshold `κ · median(X)` (null without clipping).
    pub clip_threshold: Option<f64>,
    /// χ² of the used sources.
    pub chi2: f64,
    /// Degrees of freedom.
    pub dof: usize,
    /// `sqrt(χ²/dof)`; the coefficient errors are formal (not multiplied by it).
    pub unit_weight_error: f64,
}

/// One coefficient.
#[derive(Clone, Debug, Serialize)]
pub struct CoefEntry {
    /// Name (`t10`, `s11r`, `t10_3i`, …).
    pub name: String,
    /// `t` or `s`.
    pub family: Family,
    /// Degree.
    pub l: usize,
    /// Order.
    pub m: usize,
    /// `zonal`, `re` or `im`.
    pub part: Part,
    /// Value [µas/yr].
    pub value: f64,
    /// Formal error [µas/yr].
    pub error: f64,
}

/// Wall-clock times of the stages [s].
#[derive(Clone, Debug, Default, Serialize)]
pub struct Timings {
    /// Reading and selecting the catalogue.
    pub read_s: f64,
    /// Fitting, clipping included.
    pub fit_s: f64,
}

/// The full report written as JSON.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Producer.
    pub tool: String,
    /// Conventions reference.
    pub conventions: &'static str,
    /// Units.
    pub units: Units,
    /// What was read (absent for in-memory data).
    pub input: Option<InputSummary>,
    /// Settings.
    pub settings: Settings,
    /// Fit summary.
    pub fit: FitSummary,
    /// Rotation (spin) ω from t_1m.
    pub rotation: VectorEstimate,
    /// Glide g from s_1m.
    pub glide: VectorEstimate,
    /// Coefficients in packed order.
    pub coefficients: Vec<CoefEntry>,
    /// Correlation matrix of the coefficients (same order), rows of `n` numbers.
    pub correlation: Vec<Vec<f64>>,
    /// Power per degree.
    pub power: Vec<DegreePower>,
    /// Times.
    pub timings: Timings,
}

impl Report {
    /// Builds the report of a fit.
    pub fn new(
        fit: &VshFit,
        input: Option<InputSummary>,
        max_iter: usize,
        timings: Timings,
    ) -> Report {
        let n = fit.n_coef();
        let coefficients = labels(fit.lmax)
            .iter()
            .enumerate()
            .map(|(j, c)| CoefEntry {
                name: c.name(),
                family: c.family,
                l: c.l,
                m: c.m,
                part: c.part,
                value: fit.coef[j],
                error: fit.error(j),
            })
            .collect();
        let correlation = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| fit.cov[i * n + j] / (fit.error(i) * fit.error(j)))
                    .collect()
            })
            .collect();
        Report {
            tool: format!("astrosolve-vsh {}", env!("CARGO_PKG_VERSION")),
            conventions: "Mignard & Klioner 2012 (A&A 547, A59), real coefficients t_l0, Re/Im t_lm (m>0); see docs/vsh.md",
            units: Units {
                proper_motion: "uas/yr",
                power: "(uas/yr)^2",
                angle: "deg",
            },
            input,
            settings: Settings {
                lmax: fit.lmax,
                clip_kappa: fit.clip_kappa,
                max_iter,
            },
            fit: FitSummary {
                n_coefficients: n,
                n_sources: fit.n_sources,
                n_used: fit.n_used,
                n_rejected: fit.n_sources - fit.n_used,
                iterations: fit.iterations,
                converged: fit.converged,
                median_x: fit.median_x,
                clip_threshold: fit.clip_threshold,
                chi2: fit.chi2,
                dof: fit.dof,
                unit_weight_error: fit.unit_weight_error(),
            },
            rotation: degree1_vector(Family::T, &fit.coef, &fit.cov),
            glide: degree1_vector(Family::S, &fit.coef, &fit.cov),
            coefficients,
            correlation,
            power: power_spectrum(&fit.coef, &fit.cov),
            timings,
        }
    }

    /// Human-readable summary for the terminal.
    pub fn summary_text(&self) -> String {
        let mut s = String::new();
        if let Some(i) = &self.input {
            let _ = writeln!(
                s,
                "Input   {} ({:?}): {} rows, {} selected{}, {} valid",
                i.path.display(),
                i.format,
                i.n_rows,
                i.n_selected,
                if i.selection.is_empty() {
                    String::new()
                } else {
                    format!(" by [{}]", i.selection.join(" & "))
                },
                i.n_valid
            );
            if i.n_skipped_unsolved > 0 {
                let _ = writeln!(
                    s,
                    "        skipped {} unsolved sources (astrometric_params_solved < 31)",
                    i.n_skipped_unsolved
                );
            }
            for (c, k) in &i.skipped_invalid {
                let _ = writeln!(s, "        warning: skipped {k} rows with an invalid '{c}'");
            }
        }
        let f = &self.fit;
        let _ = writeln!(
            s,
            "Fit     lmax {} ({} unknowns), {} of {} sources used, {} rejected",
            self.settings.lmax, f.n_coefficients, f.n_used, f.n_sources, f.n_rejected
        );
        match f.clip_threshold {
            Some(t) => {
                let _ = writeln!(
                    s,
                    "        clipping X > {} x median(X) = {:.3}; {} fits, {}",
                    self.settings.clip_kappa,
                    t,
                    f.iterations,
                    if f.converged {
                        "converged"
                    } else {
                        "NOT converged (max-iter reached)"
                    }
                );
            }
            None => {
                let _ = writeln!(s, "        no clipping");
            }
        }
        let _ = writeln!(
            s,
            "        chi2/dof = {:.1}/{} , unit-weight error {:.4} (errors below are formal)",
            f.chi2, f.dof, f.unit_weight_error
        );
        for (name, sym, v) in [
            ("Rotation (spin)", "w", &self.rotation),
            ("Glide", "g", &self.glide),
        ] {
            let _ = writeln!(
                s,
                "{name} {sym} [uas/yr]: x = {:+.3} ± {:.3}, y = {:+.3} ± {:.3}, z = {:+.3} ± {:.3}",
                v.components[0],
                v.errors[0],
                v.components[1],
                v.errors[1],
                v.components[2],
                v.errors[2]
            );
            let _ = writeln!(
                s,
                "        |{sym}| = {:.3} ± {:.3} towards (ra, dec) = ({:.1} ± {:.1}, {:+.1} ± {:.1}) deg, (l, b) = ({:.1} ± {:.1}, {:+.1} ± {:.1}) deg",
                v.amplitude,
                v.amplitude_error,
                v.equatorial.lon,
                v.equatorial.lon_error,
                v.equatorial.lat,
                v.equatorial.lat_error,
                v.galactic.lon,
                v.galactic.lon_error,
                v.galactic.lat,
                v.galactic.lat_error
            );
        }
        let _ = writeln!(
            s,
            "Power per degree, bias-corrected [(uas/yr)^2]; Z = Wilson-Hilferty sigmas of chi2 (2l+1 dof), p = chance probability"
        );
        let _ = writeln!(
            s,
            "   l    P_T(corr) ±   err      Z_T    p_T        P_S(corr) ±   err      Z_S    p_S"
        );
        for d in &self.power {
            let _ = writeln!(
                s,
                "  {:2} {:12.4} ± {:<9.4} {:6.2} {:9.2e}  {:12.4} ± {:<9.4} {:6.2} {:9.2e}",
                d.l,
                d.toroidal.power_corrected,
                d.toroidal.power_corrected_error,
                d.toroidal.z,
                d.toroidal.p_value,
                d.spheroidal.power_corrected,
                d.spheroidal.power_corrected_error,
                d.spheroidal.z,
                d.spheroidal.p_value
            );
        }
        let mut idx: Vec<usize> = (0..self.coefficients.len()).collect();
        let snr = |c: &CoefEntry| (c.value / c.error).abs();
        idx.sort_by(|&a, &b| snr(&self.coefficients[b]).total_cmp(&snr(&self.coefficients[a])));
        let _ = write!(s, "Largest coefficients (value ± error, uas/yr):");
        for &j in idx.iter().take(6) {
            let c = &self.coefficients[j];
            let _ = write!(s, "  {} = {:+.3} ± {:.3}", c.name, c.value, c.error);
        }
        let _ = writeln!(s);
        s
    }
}
