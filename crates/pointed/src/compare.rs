//! Comparison of solutions with the simulated truth: errors, formal errors, normalised
//! errors per parameter, and precision against magnitude.

use crate::problem::param_diff;
use crate::SourceSolution;
use astrosolve_model::pointed::N_SRC;
use astrosolve_model::units::UAS;
use serde::{Deserialize, Serialize};

/// Names of the five parameters (Gaia archive style).
pub const PARAM_NAMES: [&str; N_SRC] = ["ra", "dec", "parallax", "pmra", "pmdec"];

/// Statistics of one parameter over the compared sources (µas or µas/yr).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct ParamStats {
    pub rms_error: f64,
    pub mean_error: f64,
    pub median_formal_error: f64,
    /// RMS of error / formal error (1 when the formal errors are right).
    pub normalised_rms: f64,
    /// Mean of error / formal error, and its standard error 1/√n.
    pub mean_normalised: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Comparison {
    pub n_sources: usize,
    /// In the order of [`PARAM_NAMES`].
    pub params: [ParamStats; N_SRC],
}

impl Comparison {
    pub fn get(&self, name: &str) -> &ParamStats {
        &self.params[PARAM_NAMES
            .iter()
            .position(|n| *n == name)
            .expect("parameter name")]
    }
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Errors (µas, µas/yr) of a solution against the truth, in linearisation units.
pub fn errors_uas(sol: &SourceSolution, truth: &[f64; N_SRC]) -> [f64; N_SRC] {
    param_diff(&sol.params, truth).map(|v| v / UAS)
}

/// Compares the selected, solved sources with the truth.
pub fn compare(sol: &[SourceSolution], truth: &[[f64; N_SRC]], select: &[bool]) -> Comparison {
    let mut params = [ParamStats::default(); N_SRC];
    let idx: Vec<usize> = (0..sol.len())
        .filter(|&i| select[i] && sol[i].solved)
        .collect();
    let n = idx.len().max(1) as f64;
    for (k, ps) in params.iter_mut().enumerate() {
        let mut formal = Vec::with_capacity(idx.len());
        let (mut s2, mut s1, mut z2, mut z1) = (0.0, 0.0, 0.0, 0.0);
        for &i in &idx {
            let e = errors_uas(&sol[i], &truth[i])[k];
            let f = sol[i].sigma(k) / UAS;
            formal.push(f);
            s2 += e * e;
            s1 += e;
            z2 += (e / f).powi(2);
            z1 += e / f;
        }
        *ps = ParamStats {
            rms_error: (s2 / n).sqrt(),
            mean_error: s1 / n,
            median_formal_error: median(&mut formal),
            normalised_rms: (z2 / n).sqrt(),
            mean_normalised: z1 / n,
        };
    }
    Comparison {
        n_sources: idx.len(),
        params,
    }
}

/// Precision in one magnitude bin.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MagBin {
    pub hw_min: f64,
    pub hw_max: f64,
    pub n_sources: usize,
    /// RMS parallax error against truth and median formal error (µas).
    pub parallax_rms_error_uas: f64,
    pub parallax_median_formal_uas: f64,
    /// RMS proper-motion error per component against truth and median formal (µas/yr).
    pub pm_rms_error_uas_yr: f64,
    pub pm_median_formal_uas_yr: f64,
}

/// Precision per magnitude bin (`edges` in Hw).
pub fn by_magnitude(
    sol: &[SourceSolution],
    truth: &[[f64; N_SRC]],
    hw: &[f64],
    select: &[bool],
    edges: &[f64],
) -> Vec<MagBin> {
    edges
        .windows(2)
        .map(|w| {
            let idx: Vec<usize> = (0..sol.len())
                .filter(|&i| select[i] && sol[i].solved && hw[i] >= w[0] && hw[i] < w[1])
                .collect();
            let n = idx.len().max(1) as f64;
            let (mut p2, mut m2) = (0.0, 0.0);
            let mut pf = Vec::new();
            let mut mf = Vec::new();
            for &i in &idx {
                let e = errors_uas(&sol[i], &truth[i]);
                p2 += e[2] * e[2];
                m2 += 0.5 * (e[3] * e[3] + e[4] * e[4]);
                pf.push(sol[i].sigma(2) / UAS);
                mf.push((0.5 * (sol[i].cov[3][3] + sol[i].cov[4][4])).sqrt() / UAS);
            }
            MagBin {
                hw_min: w[0],
                hw_max: w[1],
                n_sources: idx.len(),
                parallax_rms_error_uas: (p2 / n).sqrt(),
                parallax_median_formal_uas: median(&mut pf),
                pm_rms_error_uas_yr: (m2 / n).sqrt(),
                pm_median_formal_uas_yr: median(&mut mf),
            }
        })
        .collect()
}
