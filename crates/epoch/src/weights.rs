//! Weighting of one source's observations, as AGIS's source update and ESA's gaia-supdate do it
//! (Lindegren et al. 2012, A&A 538, A78, section 5.1.2; gaia-supdate `solver.py`,
//! `DesignEquation.solve_like_agis`, which mirrors AGIS `RobustSourceUpdateCalculator`):
//!
//! - [`Weighting::Dr4`]: the heaviside weighting of DR4 (gaia-supdate
//!   `compute_source_parameters(…, compute_excess_noise=False)`): the rows with `used`, variance
//!   σ² + ε² with the published excess noise ε, downweights 1, no iteration.
//! - [`Weighting::Agis`]: `DesignEquation.calculate_estimate` then `calculate_excess_source_noise`:
//!   1. ε² = 0, downweights f = 1; solve; S₀ = Σ f r²/(σ² + ε²); ν = n − n_p − n_out.
//!   2. If S₀ > ν: ε = ½(q₅/₆ − q₁/₆) + |q₁/₂| of the pre-fit abscissae (`get_initial_dispersion_
//!      estimate`, linear quantiles as `numpy.quantile`), f = D(w/√(σ² + ε²)) (eq. 66, `decay_
//!      downweight`), n_out = #(f < 0.2), then iterate (at most 30 times, until |Δε²| ≤ 10⁻⁶ ε²):
//!      one Newton step of eq. 64 on ε² with the parameters re-solved (Δε² = −(S/S′)(S/ν − 1),
//!      ε² ≥ 0: `get_improved_estimate_of_excess_source_variance`), then f from the post-fit
//!      residuals, n_out and ν again.
//!   3. With f fixed: ε² from 0 by the same Newton steps (at most 1 + 10, tolerance 10⁻⁶), and the
//!      significance (S₀ − ν)/√(2ν) with S₀ at ε = 0 (eq. 10 of GAIA-C3-TN-LU-LL-083).
//!   4. The solution with f and ε²; outliers (n_bad) are the rows with f < 0.2; χ² = Σ r²/σ² and
//!      F2 over the others, with ν = n_good − n_p.
//! - [`Weighting::Huber`]: the same procedure with Huber's downweight (c = 2, AGIS
//!   `HuberDownweight`) in place of eq. 66; outliers are still where eq. 66's downweight would fall
//!   below 0.2 (|z| > 3 ln 5), as in the global solvers, and they are left out of eq. 64's sum
//!   (Huber leaves them a weight ~4/|z| that would otherwise inflate ε).
//! - [`Weighting::None`]: the used rows, weight 1/σ², no excess noise.
//!
//! The downweight functions are those of `astrosolve_core::robust` (same constants as AGIS). The
//! excess-noise Newton iteration is kept here rather than in `core::robust::excess_variance`: the
//! source update re-solves the parameters at every Newton step (as AGIS and gaia-supdate do),
//! whereas the global solvers' version holds the residuals of the current linearisation fixed;
//! changing the latter would change the global solutions.

use crate::fit::{design_rows, residuals, solve, Solved};
use crate::{EpochError, FitOptions, FitResult, ModelKind, SourceData, Weighting, N_EPOCH_MAX};
use astrosolve_core::robust::Downweight;
use astrosolve_model::epoch::EpochLayout;

/// Default largest number of robust iterations (AGIS `maxIterRobust`).
pub const MAX_ITER: usize = 30;
/// Downweight below which an observation is an outlier (AGIS `downweightLimit`).
pub const OUTLIER_LIMIT: f64 = 0.2;
/// Relative tolerance on ε² of the robust loop (AGIS `tolEsvRobust`).
const TOL_ESV_ROBUST: f64 = 1e-6;
/// Relative tolerance and iterations of the final excess-noise loop (`tolEsvExcess`,
/// `maxIterExcess`).
const TOL_ESV_EXCESS: f64 = 1e-6;
const MAX_ITER_EXCESS: usize = 10;

fn check(data: &SourceData) -> Result<(), EpochError> {
    for (l, o) in data.obs.iter().enumerate() {
        if !o.used {
            continue;
        }
        if !(o.sigma > 0.0 && o.sigma.is_finite()) {
            return Err(EpochError::BadInput {
                source_id: data.id,
                message: format!("observation {l}: σ = {} is not positive", o.sigma),
            });
        }
        let v = [
            o.t,
            o.a_alpha,
            o.a_delta,
            o.a_parallax,
            o.a_pmra,
            o.a_pmdec,
            o.a_colour,
            o.w,
        ];
        if !v.iter().all(|x| x.is_finite()) {
            return Err(EpochError::BadInput {
                source_id: data.id,
                message: format!("observation {l}: a non-finite time, coefficient or abscissa"),
            });
        }
    }
    Ok(())
}

/// One source's weighted problem: rows, formal variances, which rows are used, the prior.
struct Problem<'a> {
    data: &'a SourceData,
    layout: EpochLayout,
    rows: Vec<[f64; N_EPOCH_MAX]>,
    var: Vec<f64>,
    used: Vec<bool>,
    n_used: usize,
    prior: Option<(usize, f64, f64)>,
    /// The downweight function of the robust procedure.
    dw: Downweight,
}

impl Problem<'_> {
    /// Solves with downweights `f` and excess variance `esv` (mas²); returns the solution and
    /// the residuals of every observation.
    fn solve(&self, f: &[f64], esv: f64) -> Result<(Solved, Vec<f64>), EpochError> {
        let wt: Vec<f64> = (0..self.var.len())
            .map(|l| {
                if self.used[l] {
                    f[l] / (self.var[l] + esv)
                } else {
                    0.0
                }
            })
            .collect();
        let s = solve(self.data, &self.layout, &self.rows, &wt, self.prior)?;
        let r = residuals(self.data, &self.layout, &s.params);
        Ok((s, r))
    }

    /// Weighted sum of squared post-fit residuals S = Σ f r²/(σ² + ε²) and dS/dε²
    /// (gaia-supdate `get_weighted_ssr_and_derivative`).
    fn ssr(&self, f: &[f64], esv: f64) -> Result<(f64, f64), EpochError> {
        let (_, r) = self.solve(f, esv)?;
        let mut s = 0.0;
        let mut ds = 0.0;
        for l in 0..r.len() {
            // Huber's downweights leave gross outliers a weight ~4/|z|: they are left out of
            // eq. 64's sum, as ν leaves them out (eq. 66 makes their terms negligible itself)
            let skip = self.dw == Downweight::Huber && self.is_outlier(self.dw, f[l], r[l], esv, l);
            if self.used[l] && !skip {
                let v = self.var[l] + esv;
                s += r[l] * r[l] * f[l] / v;
                ds -= r[l] * r[l] * f[l] / (v * v);
            }
        }
        Ok((s, ds))
    }

    /// One Newton step of eq. 64 on ε² (`get_improved_estimate_of_excess_source_variance`).
    fn improved_esv(&self, f: &[f64], esv: f64, dof: f64) -> Result<f64, EpochError> {
        let (s, ds) = self.ssr(f, esv)?;
        if ds == 0.0 {
            return Ok(esv);
        }
        let delta = -(s / ds) * (s / dof - 1.0);
        Ok((esv + delta).max(0.0))
    }

    fn downweights(&self, dw: Downweight, r: &[f64], esv: f64, f: &mut [f64]) {
        for l in 0..r.len() {
            if self.used[l] {
                f[l] = dw.factor(r[l] / (self.var[l] + esv).sqrt());
            }
        }
    }

    /// Outliers among the used rows: eq. 66's downweight of the current normalised residual
    /// below 0.2 (with eq. 66 itself that is f < 0.2, AGIS `getNOut`).
    fn n_outliers(&self, dw: Downweight, f: &[f64], r: &[f64], esv: f64) -> usize {
        (0..f.len())
            .filter(|&l| self.used[l] && self.is_outlier(dw, f[l], r[l], esv, l))
            .count()
    }

    fn is_outlier(&self, dw: Downweight, f: f64, r: f64, esv: f64, l: usize) -> bool {
        match dw {
            Downweight::Decay => f < OUTLIER_LIMIT,
            _ => Downweight::Decay.factor(r / (self.var[l] + esv).sqrt()) < OUTLIER_LIMIT,
        }
    }

    fn dof(&self, n_out: usize) -> f64 {
        self.n_used as f64 - self.layout.n_params() as f64 - n_out as f64
    }

    /// `calculate_excess_source_noise`: ε² and its significance with the downweights fixed.
    fn excess_noise(&self, f: &[f64], dof: f64) -> Result<(f64, f64), EpochError> {
        let (s0, _) = self.ssr(f, 0.0)?;
        if !(s0 > dof) || dof <= 0.0 {
            return Ok((0.0, 0.0));
        }
        let mut esv = self.improved_esv(f, 0.0, dof)?;
        let mut delta = esv;
        let mut it = 0;
        while delta.abs() > TOL_ESV_EXCESS * esv && it < MAX_ITER_EXCESS {
            it += 1;
            let old = esv;
            esv = self.improved_esv(f, esv, dof)?;
            delta = esv - old;
        }
        Ok((esv, (s0 - dof) / (2.0 * dof).sqrt()))
    }
}

/// Linear-interpolation quantile of sorted data, as `numpy.quantile`'s default method
/// (virtual index (n − 1) p, numpy's two-sided `_lerp`).
fn quantile_sorted(x: &[f64], p: f64) -> f64 {
    let n = x.len();
    if n == 1 {
        return x[0];
    }
    let h = (n - 1) as f64 * p;
    let lo = (h.floor() as usize).min(n - 1);
    let hi = (lo + 1).min(n - 1);
    let t = h - lo as f64;
    let (a, b) = (x[lo], x[hi]);
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// Initial dispersion ½(q₅/₆ − q₁/₆) + |q₁/₂| (mas) of the pre-fit abscissae (AGIS
/// `getInitialDispersionEstimate`, as gaia-supdate computes it).
fn initial_dispersion(w: &[f64]) -> f64 {
    let mut x = w.to_vec();
    x.sort_by(f64::total_cmp);
    0.5 * (quantile_sorted(&x, 5.0 / 6.0) - quantile_sorted(&x, 1.0 / 6.0))
        + quantile_sorted(&x, 0.5).abs()
}

/// Fits with the weighting of `opts`.
pub(crate) fn fit_weighted(data: &SourceData, opts: &FitOptions) -> Result<FitResult, EpochError> {
    check(data)?;
    let layout = opts.model.layout();
    let np = layout.n_params();
    let prior = if opts.model == ModelKind::Six {
        let (m, s) =
            data.colour_prior
                .or(opts.colour_prior)
                .ok_or_else(|| EpochError::BadInput {
                    source_id: data.id,
                    message: "the 6-parameter model needs a prior on the pseudo-colour".into(),
                })?;
        if !(s > 0.0 && s.is_finite() && m.is_finite()) {
            return Err(EpochError::BadInput {
                source_id: data.id,
                message: format!("bad pseudo-colour prior (mean {m}, σ {s})"),
            });
        }
        Some((5, m, s))
    } else {
        None
    };
    let used: Vec<bool> = data.obs.iter().map(|o| o.used).collect();
    let n_used = used.iter().filter(|&&u| u).count();
    if n_used < np {
        return Err(EpochError::TooFewObservations {
            source_id: data.id,
            n_used,
            n_params: np,
        });
    }
    let p = Problem {
        data,
        layout,
        rows: design_rows(data, &layout),
        var: data.obs.iter().map(|o| o.sigma * o.sigma).collect(),
        used,
        n_used,
        prior,
        dw: match opts.weighting {
            Weighting::Agis => Downweight::Decay,
            Weighting::Huber => Downweight::Huber,
            _ => Downweight::None,
        },
    };
    let n = data.obs.len();
    let mut f: Vec<f64> = p.used.iter().map(|&u| if u { 1.0 } else { 0.0 }).collect();
    let (esv, sig, n_iter, dw) = match opts.weighting {
        Weighting::None => (0.0, 0.0, 1, Downweight::None),
        Weighting::Dr4 => {
            let eps = data.excess_noise.unwrap_or(0.0);
            if !(eps >= 0.0 && eps.is_finite()) {
                return Err(EpochError::BadInput {
                    source_id: data.id,
                    message: format!("published excess noise {eps} mas is not usable"),
                });
            }
            // significance of the data's excess noise at ε = 0 (eq. 10), for information
            let dof = p.dof(0);
            let (s0, _) = p.ssr(&f, 0.0)?;
            let sig = if s0 > dof && dof > 0.0 {
                (s0 - dof) / (2.0 * dof).sqrt()
            } else {
                0.0
            };
            (eps * eps, sig, 1, Downweight::None)
        }
        Weighting::Agis | Weighting::Huber => {
            let dw = if opts.weighting == Weighting::Agis {
                Downweight::Decay
            } else {
                Downweight::Huber
            };
            let (esv, sig, it) = robust(&p, dw, opts.max_iter, &mut f)?;
            (esv, sig, it, dw)
        }
    };
    let (s, res) = p.solve(&f, esv)?;
    // kept (good) rows and statistics over them with the formal σ
    let good: Vec<bool> = (0..n)
        .map(|l| p.used[l] && (dw == Downweight::None || !p.is_outlier(dw, f[l], res[l], esv, l)))
        .collect();
    let n_good = good.iter().filter(|&&g| g).count();
    let chi2 = chi2_of(data, &res, &good);
    let nu = n_good as f64 - np as f64;
    Ok(FitResult {
        params: s.params,
        cov: s.cov,
        residuals: res,
        weights: f,
        n_obs_al: n_used,
        n_good_obs_al: n_good,
        n_bad_obs_al: n_used - n_good,
        excess_noise: esv.sqrt(),
        excess_noise_sig: sig,
        chi2,
        gof_al: gof(chi2, nu),
        uwe: if nu > 0.0 { (chi2 / nu).sqrt() } else { 0.0 },
        n_iter,
    })
}

/// The robust procedure of steps 1–3 (module doc). Writes the downweights into `f`; returns
/// ε² (mas²), its significance and the number of robust iterations.
fn robust(
    p: &Problem,
    dw: Downweight,
    max_iter: usize,
    f: &mut [f64],
) -> Result<(f64, f64, usize), EpochError> {
    let (s0, _) = p.ssr(f, 0.0)?;
    let mut dof = p.dof(0);
    if !(s0 > dof) || dof <= 0.0 {
        return Ok((0.0, 0.0, 0));
    }
    let w: Vec<f64> = (0..f.len())
        .filter(|&l| p.used[l])
        .map(|l| p.data.obs[l].w)
        .collect();
    let eps0 = initial_dispersion(&w);
    let mut esv = eps0 * eps0;
    let prefit: Vec<f64> = p.data.obs.iter().map(|o| o.w).collect();
    p.downweights(dw, &prefit, esv, f);
    let mut n_out = p.n_outliers(dw, f, &prefit, esv);
    dof = p.dof(n_out);
    let mut delta = esv;
    let mut it = 0;
    while delta.abs() > TOL_ESV_ROBUST * esv && it < max_iter {
        if dof <= 0.0 {
            return Err(EpochError::TooFewObservations {
                source_id: p.data.id,
                n_used: p.n_used - n_out,
                n_params: p.layout.n_params(),
            });
        }
        it += 1;
        let old = esv;
        esv = p.improved_esv(f, esv, dof)?;
        let (_, r) = p.solve(f, esv)?;
        p.downweights(dw, &r, esv, f);
        n_out = p.n_outliers(dw, f, &r, esv);
        dof = p.dof(n_out);
        delta = esv - old;
    }
    let (esv, sig) = p.excess_noise(f, dof)?;
    Ok((esv, sig, it))
}

/// χ² = Σ r²/σ² over the rows in `keep` with the formal σ; a correlated pair with both rows kept
/// contributes its whitened quadratic form (r_i² /σ_i² − 2ρ r_i r_j/(σ_i σ_j) + r_j²/σ_j²)/(1 − ρ²).
fn chi2_of(data: &SourceData, r: &[f64], keep: &[bool]) -> f64 {
    let mut paired = vec![false; r.len()];
    let mut chi2 = 0.0;
    for &(i, j, rho) in &data.pairs {
        if keep[i] && keep[j] && rho != 0.0 && !paired[i] && !paired[j] {
            paired[i] = true;
            paired[j] = true;
            let zi = r[i] / data.obs[i].sigma;
            let zj = r[j] / data.obs[j].sigma;
            chi2 += (zi * zi - 2.0 * rho * zi * zj + zj * zj) / (1.0 - rho * rho);
        }
    }
    for l in 0..r.len() {
        if keep[l] && !paired[l] {
            let z = r[l] / data.obs[l].sigma;
            chi2 += z * z;
        }
    }
    chi2
}

/// Goodness of fit F2 = √(9ν/2) [(χ²/ν)^(1/3) + 2/(9ν) − 1] (Wilson–Hilferty; gaia-supdate
/// `metrics.gaia_f2`, Gaia archive `astrometric_gof_al`). Given χ² and ν; returns 0 for ν ≤ 0.
pub fn gof(chi2: f64, nu: f64) -> f64 {
    if nu <= 0.0 {
        return 0.0;
    }
    (4.5 * nu).sqrt() * ((chi2 / nu).cbrt() + 2.0 / (9.0 * nu) - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy_linear() {
        // numpy.quantile([1, 2, 3, 4, 10], [1/6, 1/2, 5/6]) = [1.6667, 3.0, 6.0]
        let x = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert!((quantile_sorted(&x, 1.0 / 6.0) - 5.0 / 3.0).abs() < 1e-14);
        assert_eq!(quantile_sorted(&x, 0.5), 3.0);
        assert!((quantile_sorted(&x, 5.0 / 6.0) - (4.0 + 6.0 * (10.0 / 3.0 - 3.0))).abs() < 1e-13);
        assert_eq!(quantile_sorted(&[2.5], 0.3), 2.5);
    }

    #[test]
    fn f2_is_zero_at_its_expectation() {
        // χ²/ν = (1 − 2/(9ν))³ gives F2 = 0
        let nu: f64 = 100.0;
        let c = nu * (1.0 - 2.0 / (9.0 * nu)).powi(3);
        assert!(gof(c, nu).abs() < 1e-12);
    }
}
