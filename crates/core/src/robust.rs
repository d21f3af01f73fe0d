//! Robust weighting of one source's observations (Lindegren et al. 2012, section 5.1.2, as the
//! AGIS source update `RobustSourceUpdateCalculator` and ESA's gaia-supdate reproduce it):
//!
//! - total variance of observation l: σ_l² + ε², ε the source's excess noise;
//! - normalised residual z_l = r_l / √(σ_l² + ε²), downweight f_l = D(z_l) with the decay
//!   function of eq. 66: D = 1 for |z| ≤ 2, 1 − a(|z| − 2)² + b(|z| − 2)³ for 2 < |z| < 3,
//!   exp(−|z|/3) beyond (a = 1.77373519609519, b = 1.14161463726663, `DecayDownweight`);
//!   or Huber's D = c(2|z| − c)/z² beyond c = 2 (`HuberDownweight`);
//! - outliers: eq. 66's downweight below 0.2 (`downweightLimit`), i.e. |z| > 3 ln 5 = 4.83,
//!   whichever function weights the solution; ν = n − NS − n_outliers degrees of freedom;
//! - excess noise from eq. 64: y = ε² solving Σ f_l r_l²/(σ_l² + y) = ν by Newton's method
//!   (`estimate_excess_noise`, at most 10 steps to a relative change of 10⁻⁶), 0 if the
//!   data are consistent with their σ (Σ f r²/σ² ≤ ν);
//! - the weight of the observation is f_l / (σ_l² + ε²).
//!
//! In the global solution the residuals are those at the current linearisation: weights, excess
//! noise and outliers are recomputed by every outer iteration from the same residuals the
//! linear step uses (three alternations of downweights and ε). The global solvers default to
//! Huber's function with eq. 66's decay for outliers ([`Downweight::HuberDecay`]): with the
//! redescending eq. 66 alone this re-weighting converges slowly (measured:
//! the largest update shrinks by only 0.6 per outer iteration on the default 5000-source
//! Gaia-like mission, 0.65 on the JASMINE-like one), with Huber's by 0.07; eq. 66 stays
//! available ([`Downweight::Decay`]) and is what the epoch-astrometry source updates reproduce.

use crate::design::RowMeta;
use serde::{Deserialize, Serialize};

/// Coefficients of the cubic of eq. 66 (AGIS `DecayDownweight`).
const DECAY_A: f64 = 1.77373519609519;
const DECAY_B: f64 = 1.14161463726663;

/// Smallest standard uncertainty (rad) a row may have to be used (2 nano-arcseconds): smaller
/// values are not measurements, they would only overflow the weights.
pub const SIGMA_MIN: f64 = 1e-14;

/// Where [`Downweight::HuberDecay`] turns from Huber to the decay: 3 ln 5, the default
/// outlier limit.
const HUBER_DECAY_Z: f64 = 4.828313737302301;

/// AGIS `HuberDownweight` with c = 2: c(2|z| − c)/z² beyond c.
#[inline]
fn huber(x: f64) -> f64 {
    const C: f64 = 2.0;
    if x <= C {
        1.0
    } else {
        C * (2.0 * x - C) / (x * x)
    }
}

/// Down-weighting function of the normalised residual.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Downweight {
    /// Lindegren et al. 2012, eq. 66 (AGIS).
    Decay,
    /// Huber's function with c = 2 (AGIS `HuberDownweight`).
    Huber,
    /// Huber's function up to the outlier limit |z| = 4.83, then eq. 66's exponential decay
    /// exp(−(|z| − 4.83)/3) times its value there: Huber's fast-converging re-weighting for the
    /// data, gross outliers weighted out smoothly (the global solvers' default).
    HuberDecay,
    /// Every observation weight 1.
    None,
}

impl Downweight {
    /// D(z).
    #[inline]
    pub fn factor(self, z: f64) -> f64 {
        let x = z.abs();
        match self {
            Downweight::Decay => {
                if x <= 2.0 {
                    1.0
                } else if x < 3.0 {
                    let d = x - 2.0;
                    1.0 - DECAY_A * d * d + DECAY_B * d * d * d
                } else {
                    (-x / 3.0).exp()
                }
            }
            Downweight::Huber => huber(x),
            Downweight::HuberDecay => {
                if x <= HUBER_DECAY_Z {
                    huber(x)
                } else {
                    huber(HUBER_DECAY_Z) * (-(x - HUBER_DECAY_Z) / 3.0).exp()
                }
            }
            Downweight::None => 1.0,
        }
    }
}

/// Settings of the robust weighting.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RobustConfig {
    pub downweight: Downweight,
    /// Observations whose eq. 66 downweight would fall below this count as outliers (AGIS
    /// `downweightLimit`), whichever function weights them: |z| > 3 ln(1/limit) = 4.83.
    pub outlier_limit: f64,
    /// Estimate the per-source excess noise (eq. 64).
    pub excess_noise: bool,
    /// Alternations of downweights and excess noise per linearisation.
    pub alternations: usize,
}

impl Default for RobustConfig {
    fn default() -> Self {
        RobustConfig {
            downweight: Downweight::HuberDecay,
            outlier_limit: 0.2,
            excess_noise: true,
            alternations: 3,
        }
    }
}

impl RobustConfig {
    /// Normalised residual beyond which an observation is an outlier: where eq. 66's
    /// exp(−|z|/3) equals `outlier_limit`.
    pub fn outlier_z(&self) -> f64 {
        3.0 * (1.0 / self.outlier_limit).ln()
    }
}

/// Excess variance y = ε² with Σ f r²/(σ² + y) = ν (Lindegren et al. 2012, eq. 64) by
/// Newton's method from y = 0; 0 when Σ f r²/σ² ≤ ν. `var` holds σ².
pub fn excess_variance(res: &[f64], var: &[f64], f: &[f64], nu: f64) -> f64 {
    if nu <= 0.0 {
        return 0.0;
    }
    let q = |y: f64| -> (f64, f64) {
        let mut s = 0.0;
        let mut ds = 0.0;
        for ((r, v), w) in res.iter().zip(var).zip(f) {
            let t = w * r * r / (v + y);
            s += t;
            ds -= t / (v + y);
        }
        (s, ds)
    };
    let (mut s, mut ds) = q(0.0);
    if s <= nu {
        return 0.0;
    }
    let mut y = 0.0;
    for _ in 0..10 {
        // gaia-supdate's step: dy = s/(ds/ds... ) — Newton on ν/s(y) = 1
        let dy = s / ds * (1.0 - s / nu);
        let y_new = (y + dy).max(0.0);
        let done = (y_new - y).abs() <= 1e-6 * y_new;
        y = y_new;
        (s, ds) = q(y);
        if done || ds == 0.0 {
            break;
        }
    }
    y
}

/// Outcome of weighting one source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceWeighting {
    /// Excess noise ε (rad).
    pub excess_noise: f64,
    /// Primary (AL) observations, those kept (downweight ≥ the outlier limit) and outliers.
    pub n_obs: u32,
    pub n_good: u32,
    pub n_bad: u32,
    /// Visibility periods of the kept primary observations.
    pub visibility_periods: u32,
    /// Σ r²/σ² over the kept primary observations (no excess noise, no downweights).
    pub chi2: f64,
    /// Enough kept observations and visibility periods (or a prior) to be solved.
    pub solvable: bool,
}

/// Number of visibility periods: groups of times separated by more than `gap_days`
/// (Lindegren et al. 2018, A&A 616, A2, section 4.1: 4 days). Times need not be sorted.
pub fn visibility_periods(times: impl Iterator<Item = f64>, gap_days: f64) -> usize {
    let mut t: Vec<f64> = times.collect();
    t.sort_by(f64::total_cmp);
    let mut n = 0;
    let mut last = f64::NEG_INFINITY;
    for x in t {
        if x - last > gap_days {
            n += 1;
        }
        last = x;
    }
    n
}

/// Rules for solving a source at all.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SolvableRule {
    /// Fewest kept primary observations.
    pub min_obs: usize,
    /// Fewest visibility periods.
    pub min_visibility_periods: usize,
    /// Gap separating two visibility periods (days).
    pub gap_days: f64,
}

/// Weights one source: `res` its residuals (rad), `meta` their σ, times and kinds. Writes the
/// weight factor √(σ₀² f/(σ² + ε²)) of every row into `scale` (0 for unusable rows and for
/// sources that are not solvable). `robust` false gives f = 1, ε = 0.
#[allow(clippy::too_many_arguments)]
pub fn weigh_source(
    res: &[f64],
    meta: &[RowMeta],
    robust: bool,
    cfg: &RobustConfig,
    rule: &SolvableRule,
    has_prior: bool,
    n_params: usize,
    scale: &mut [f64],
) -> SourceWeighting {
    let n = res.len();
    debug_assert_eq!(meta.len(), n);
    let usable = |l: usize| {
        let s = meta[l].sigma;
        s.is_finite() && s >= SIGMA_MIN && res[l].is_finite()
    };
    // primary rows: indices, residuals, variances
    let prim: Vec<usize> = (0..n).filter(|&l| meta[l].primary && usable(l)).collect();
    let r: Vec<f64> = prim.iter().map(|&l| res[l]).collect();
    let var: Vec<f64> = prim
        .iter()
        .map(|&l| meta[l].sigma * meta[l].sigma)
        .collect();
    let mut f = vec![1.0; prim.len()];
    let mut eps2 = 0.0;
    let z_out = cfg.outlier_z();
    let outliers = |eps2: f64| {
        (0..prim.len())
            .filter(|&k| r[k].abs() > z_out * (var[k] + eps2).sqrt())
            .count()
    };
    if robust && cfg.downweight != Downweight::None {
        for _ in 0..cfg.alternations.max(1) {
            for k in 0..prim.len() {
                f[k] = cfg.downweight.factor(r[k] / (var[k] + eps2).sqrt());
            }
            if cfg.excess_noise {
                // eq. 64 over the observations that are not outliers (ν excludes them too)
                let fe: Vec<f64> = (0..prim.len())
                    .map(|k| {
                        if r[k].abs() > z_out * (var[k] + eps2).sqrt() {
                            0.0
                        } else {
                            f[k]
                        }
                    })
                    .collect();
                let nu = prim.len() as f64 - n_params as f64 - outliers(eps2) as f64;
                eps2 = excess_variance(&r, &var, &fe, nu);
            }
        }
    } else if robust && cfg.excess_noise {
        let nu = prim.len() as f64 - n_params as f64;
        eps2 = excess_variance(&r, &var, &f, nu);
    }
    let good: Vec<bool> = (0..prim.len())
        .map(|k| !robust || r[k].abs() <= z_out * (var[k] + eps2).sqrt())
        .collect();
    let n_good = good.iter().filter(|&&g| g).count();
    let vp = visibility_periods(
        prim.iter()
            .zip(&good)
            .filter(|(_, &g)| g)
            .map(|(&l, _)| meta[l].t),
        rule.gap_days,
    );
    let solvable =
        has_prior || (n_good >= rule.min_obs.max(n_params) && vp >= rule.min_visibility_periods);
    let chi2 = prim
        .iter()
        .zip(&good)
        .filter(|(_, &g)| g)
        .map(|(&l, _)| res[l] * res[l] / (meta[l].sigma * meta[l].sigma))
        .sum();
    // weights of every row
    scale.iter_mut().for_each(|s| *s = 0.0);
    if solvable {
        let s0 = crate::design::SIGMA_UNIT;
        for (k, &l) in prim.iter().enumerate() {
            scale[l] = s0 * (f[k] / (var[k] + eps2)).sqrt();
        }
        for l in 0..n {
            if meta[l].primary || !usable(l) {
                continue;
            }
            let v = meta[l].sigma * meta[l].sigma + eps2;
            let fl = if robust {
                cfg.downweight.factor(res[l] / v.sqrt())
            } else {
                1.0
            };
            scale[l] = s0 * (fl / v).sqrt();
        }
    }
    SourceWeighting {
        excess_noise: eps2.sqrt(),
        n_obs: prim.len() as u32,
        n_good: n_good as u32,
        n_bad: (prim.len() - n_good) as u32,
        visibility_periods: vp as u32,
        chi2,
        solvable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_downweight_is_continuous_and_matches_eq_66() {
        let d = Downweight::Decay;
        assert_eq!(d.factor(1.9), 1.0);
        for x in [2.0, 3.0] {
            let (a, b) = (d.factor(x - 1e-9), d.factor(x + 1e-9));
            assert!((a - b).abs() < 1e-8, "continuous at {x}: {a} {b}");
        }
        assert!((d.factor(-6.0) - (-2.0f64).exp()).abs() < 1e-15);
        // slope continuity at 3 (the cubic was chosen for it)
        let h = 1e-6;
        let left = (d.factor(3.0 - h) - d.factor(3.0 - 2.0 * h)) / h;
        let right = (d.factor(3.0 + 2.0 * h) - d.factor(3.0 + h)) / h;
        assert!((left - right).abs() < 1e-4, "{left} {right}");
        assert!((Downweight::Huber.factor(4.0) - 2.0 * 6.0 / 16.0).abs() < 1e-15);
        let hd = Downweight::HuberDecay;
        let z0 = RobustConfig::default().outlier_z();
        assert!((z0 - HUBER_DECAY_Z).abs() < 1e-12);
        assert!((hd.factor(z0 - 1e-9) - hd.factor(z0 + 1e-9)).abs() < 1e-8);
        assert_eq!(hd.factor(3.0), Downweight::Huber.factor(3.0));
        assert!(hd.factor(40.0) < 1e-5);
    }

    fn gaussian(n: usize, sigma: f64, seed: u64) -> Vec<f64> {
        // Box–Muller on a small LCG
        let mut s = seed;
        let mut u = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| sigma * (-2.0 * u().ln()).sqrt() * (std::f64::consts::TAU * u()).cos())
            .collect()
    }

    fn meta(n: usize, sigma: f64) -> Vec<RowMeta> {
        (0..n)
            .map(|l| RowMeta {
                sigma,
                t: 5.0 * l as f64,
                primary: true,
            })
            .collect()
    }

    const RULE: SolvableRule = SolvableRule {
        min_obs: 10,
        min_visibility_periods: 6,
        gap_days: 4.0,
    };

    #[test]
    fn outliers_are_flagged_and_clean_data_have_no_excess_noise() {
        let sigma = 1e-9;
        let mut res = gaussian(300, sigma, 7);
        for k in [5, 50, 120] {
            res[k] = 40.0 * sigma;
        }
        let m = meta(300, sigma);
        let mut sc = vec![0.0; 300];
        let w = weigh_source(
            &res,
            &m,
            true,
            &RobustConfig::default(),
            &RULE,
            false,
            5,
            &mut sc,
        );
        assert!(w.n_bad >= 3 && w.n_bad <= 5, "{w:?}");
        for k in [5, 50, 120] {
            assert!(sc[k] < 0.2f64.sqrt() * 1.0, "outlier {k} weight {}", sc[k]);
        }
        assert!(w.solvable);
        // clean data: ε² within three standard deviations of χ²/ν around 1, ε² ≤ 3√(2/ν) σ²
        let bound = (3.0 * (2.0f64 / 292.0).sqrt()).sqrt();
        assert!(
            w.excess_noise < bound * sigma,
            "excess noise {} σ",
            w.excess_noise / sigma
        );
    }

    #[test]
    fn excess_noise_absorbs_underestimated_errors() {
        // true scatter 2σ: ε² ≈ 3σ²
        let sigma = 1e-9;
        let res = gaussian(2000, 2.0 * sigma, 11);
        let m = meta(2000, sigma);
        let mut sc = vec![0.0; 2000];
        let cfg = RobustConfig {
            downweight: Downweight::None,
            ..Default::default()
        };
        let w = weigh_source(&res, &m, true, &cfg, &RULE, false, 5, &mut sc);
        let eps = w.excess_noise / sigma;
        assert!((eps - 3f64.sqrt()).abs() < 0.1, "excess noise {eps:.3} σ");
        // eq. 64 holds at the estimate
        let var: Vec<f64> = vec![sigma * sigma; 2000];
        let s: f64 = res
            .iter()
            .map(|r| r * r / (var[0] + w.excess_noise.powi(2)))
            .sum();
        assert!((s - 1995.0).abs() < 1e-3, "Σ r²/(σ²+ε²) = {s}");
    }

    #[test]
    fn too_few_visibility_periods_leave_a_source_unsolved() {
        assert_eq!(
            visibility_periods([0.0, 0.1, 3.0, 8.0, 8.1, 20.0].into_iter(), 4.0),
            3
        );
        let sigma = 1e-9;
        let res = gaussian(50, sigma, 3);
        let mut m = meta(50, sigma);
        m.iter_mut()
            .enumerate()
            .for_each(|(l, x)| x.t = l as f64 * 0.2);
        let mut sc = vec![1.0; 50];
        let w = weigh_source(
            &res,
            &m,
            false,
            &RobustConfig::default(),
            &RULE,
            false,
            5,
            &mut sc,
        );
        assert!(!w.solvable);
        assert!(sc.iter().all(|&s| s == 0.0));
        // a prior makes it solvable
        let w = weigh_source(
            &res,
            &m,
            false,
            &RobustConfig::default(),
            &RULE,
            true,
            5,
            &mut sc,
        );
        assert!(w.solvable && sc.iter().all(|&s| s > 0.0));
    }

    #[test]
    fn unusable_sigmas_give_zero_weight_not_nan() {
        let res = vec![1e-9; 20];
        let mut m = meta(20, 1e-9);
        m[3].sigma = 0.0;
        m[4].sigma = f64::NAN;
        m[5].sigma = 1e-300;
        let mut sc = vec![0.0; 20];
        let w = weigh_source(
            &res,
            &m,
            true,
            &RobustConfig::default(),
            &RULE,
            false,
            5,
            &mut sc,
        );
        assert!(sc.iter().all(|s| s.is_finite()));
        assert_eq!((sc[3], sc[4]), (0.0, 0.0));
        assert!(w.excess_noise.is_finite());
    }
}
