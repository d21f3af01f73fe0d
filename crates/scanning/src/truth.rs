//! Comparison of a solution with simulated truth: errors in µas, errors normalised by the
//! formal uncertainties, and the frame (orientation and spin) relative to the truth.

use crate::frame;
use crate::row::NS;
use crate::solution::SourceResult;
use astrosolve_model::source::Source;
use astrosolve_model::units::UAS;
use serde::Serialize;

/// Statistics of one parameter over the selected sources.
#[derive(Clone, Debug, Serialize)]
pub struct ParamStats {
    /// RMS of estimate − truth (µas or µas/yr).
    pub rms_error_uas: f64,
    /// Mean of estimate − truth (µas or µas/yr).
    pub mean_error_uas: f64,
    /// RMS of (estimate − truth)/formal error.
    pub normalised_rms: f64,
    /// Mean of (estimate − truth)/formal error.
    pub normalised_mean: f64,
    /// Median formal error (µas or µas/yr).
    pub median_formal_error_uas: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct TruthComparison {
    pub n_sources: usize,
    pub min_obs: u32,
    pub ra: ParamStats,
    pub dec: ParamStats,
    pub parallax: ParamStats,
    pub pmra: ParamStats,
    pub pmdec: ParamStats,
    /// Orientation ε and spin ω of the solution relative to the truth (all compared sources).
    pub rotation_uas: [f64; 3],
    pub spin_uas_per_yr: [f64; 3],
}

/// Per-source errors (estimate − truth) of the five parameters in rad, rad/yr.
pub fn errors(s: &SourceResult, truth: &Source) -> [f64; NS] {
    let (da, dd) = frame::position_difference(&s.params, &truth.params);
    [
        da,
        dd,
        s.params.parallax - truth.params.parallax,
        s.params.pmra - truth.params.pmra,
        s.params.pmdec - truth.params.pmdec,
    ]
}

/// Compares solved sources with at least `min_obs` good AL observations.
pub fn compare(sol: &[SourceResult], truth: &[Source], min_obs: u32) -> TruthComparison {
    let idx: Vec<usize> = (0..sol.len())
        .filter(|&i| sol[i].solved && sol[i].n_good_obs_al >= min_obs)
        .collect();
    let stats = |k: usize| {
        let n = idx.len().max(1) as f64;
        let (mut s2, mut s1, mut z2, mut z1) = (0.0, 0.0, 0.0, 0.0);
        let mut sig: Vec<f64> = Vec::with_capacity(idx.len());
        for &i in &idx {
            let e = errors(&sol[i], &truth[i])[k];
            let s = sol[i].sigma(k);
            s2 += e * e;
            s1 += e;
            z2 += (e / s).powi(2);
            z1 += e / s;
            sig.push(s);
        }
        sig.sort_by(f64::total_cmp);
        ParamStats {
            rms_error_uas: (s2 / n).sqrt() / UAS,
            mean_error_uas: s1 / n / UAS,
            normalised_rms: (z2 / n).sqrt(),
            normalised_mean: z1 / n,
            median_formal_error_uas: sig.get(sig.len() / 2).copied().unwrap_or(f64::NAN) / UAS,
        }
    };
    let est: Vec<_> = sol.iter().map(|s| s.params).collect();
    let tru: Vec<_> = truth.iter().map(|s| s.params).collect();
    let (eps, omega) =
        frame::relative_frame(&est, &tru, &idx).unwrap_or(([f64::NAN; 3], [f64::NAN; 3]));
    TruthComparison {
        n_sources: idx.len(),
        min_obs,
        ra: stats(0),
        dec: stats(1),
        parallax: stats(2),
        pmra: stats(3),
        pmdec: stats(4),
        rotation_uas: eps.map(|v| v / UAS),
        spin_uas_per_yr: omega.map(|v| v / UAS),
    }
}
