//! Power per degree, its noise-bias correction and its significance.
//!
//! Power of a family at degree `l` (MK12, power per degree): `P_l = Σ_m |t_lm|² = t_l0² + 2 Σ_{m>0}
//! [(t^R_lm)² + (t^I_lm)²]`, i.e. `P = x̂ᵀ D x̂` with `D = diag(1, 2, 2, …)` over the `2l+1` real
//! unknowns. `P_l` is the integral of the squared degree-`l` field over the sphere (no 1/4π);
//! `sqrt(P_l / 4π)` is its RMS over the sky.
//!
//! Noise bias: for unbiased `x̂` with covariance `C`, `E[x̂ᵀ D x̂] = xᵀ D x + tr(D C)`; the
//! bias-corrected power is `P − tr(D C)`, unbiased whatever the truth (it can be negative).
//! Its error: `Var(x̂ᵀDx̂) = 2 tr((DC)²) + 4 xᵀDCDx` (Gaussian quadratic form), estimated with
//! the unbiased `x̂ᵀDCDx̂ − tr((DC)²)` for `xᵀDCDx`, floored at zero.
//!
//! Significance: under the null hypothesis (no signal at that degree) the Wald statistic
//! `χ² = x̂ᵀ C⁻¹ x̂` (C the block of the covariance) follows χ² with `ν = 2l+1` degrees of freedom
//! for one family and `2(2l+1)` for both. We report its p-value (upper tail) and the
//! Wilson–Hilferty normal deviate `Z = [(χ²/ν)^{1/3} − (1 − 2/(9ν))] / sqrt(2/(9ν))` (as in MK12's significance test).

use serde::Serialize;

use crate::basis::{degree_indices, labels, lmax_from_ncoef, Family};
use crate::linalg::{cholesky_in_place, cholesky_solve};

/// Power statistics of one set of coefficients (one family or both at one degree).
#[derive(Clone, Debug, Serialize)]
pub struct PowerStat {
    /// Raw power `x̂ᵀ D x̂` [(µas/yr)²].
    pub power: f64,
    /// Expected contribution of the noise `tr(D C)` [(µas/yr)²].
    pub noise_bias: f64,
    /// Bias-corrected power `power − noise_bias` [(µas/yr)²].
    pub power_corrected: f64,
    /// Standard error of the corrected power [(µas/yr)²].
    pub power_corrected_error: f64,
    /// RMS over the sky of the bias-corrected field, `sqrt(max(0, corrected)/4π)` [µas/yr].
    pub rms_corrected: f64,
    /// Wald statistic `x̂ᵀ C⁻¹ x̂`.
    pub chi2: f64,
    /// Degrees of freedom of `chi2`.
    pub dof: usize,
    /// Probability of a χ² at least this large from noise alone.
    pub p_value: f64,
    /// Wilson–Hilferty normal deviate of `chi2` (≈ number of sigmas).
    pub z: f64,
}

/// Power statistics at one degree.
#[derive(Clone, Debug, Serialize)]
pub struct DegreePower {
    /// Degree.
    pub l: usize,
    /// Toroidal family.
    pub toroidal: PowerStat,
    /// Spheroidal family.
    pub spheroidal: PowerStat,
    /// Both families together.
    pub total: PowerStat,
}

/// Statistics of the coefficients `idx` of `coef` with covariance `cov` (`n × n` row-major).
pub fn power_stat(coef: &[f64], cov: &[f64], idx: &[usize]) -> PowerStat {
    let n = coef.len();
    let all = labels(lmax_from_ncoef(n));
    let k = idx.len();
    let w: Vec<f64> = idx.iter().map(|&i| all[i].power_weight()).collect();
    let x: Vec<f64> = idx.iter().map(|&i| coef[i]).collect();
    let mut c = vec![0.0; k * k];
    for a in 0..k {
        for b in 0..k {
            c[a * k + b] = cov[idx[a] * n + idx[b]];
        }
    }
    let power: f64 = x.iter().zip(&w).map(|(x, w)| w * x * x).sum();
    let noise_bias: f64 = (0..k).map(|a| w[a] * c[a * k + a]).sum();
    // tr((DC)²) = Σ_ab w_a C_ab w_b C_ba; (DCDx)ᵀ... xᵀDCDx = Σ_ab (w_a x_a) C_ab (w_b x_b).
    let mut tr2 = 0.0;
    let mut q = 0.0;
    for a in 0..k {
        for b in 0..k {
            tr2 += w[a] * c[a * k + b] * w[b] * c[b * k + a];
            q += w[a] * x[a] * c[a * k + b] * w[b] * x[b];
        }
    }
    let var = 2.0 * tr2 + 4.0 * (q - tr2).max(0.0);
    // Wald statistic via Cholesky of the block.
    let mut l = c.clone();
    let chi2 = if cholesky_in_place(&mut l, k).is_ok() {
        let mut y = x.clone();
        cholesky_solve(&l, k, &mut y);
        x.iter().zip(&y).map(|(a, b)| a * b).sum()
    } else {
        f64::NAN
    };
    let corrected = power - noise_bias;
    PowerStat {
        power,
        noise_bias,
        power_corrected: corrected,
        power_corrected_error: var.sqrt(),
        rms_corrected: (corrected.max(0.0) / (4.0 * std::f64::consts::PI)).sqrt(),
        chi2,
        dof: k,
        p_value: chi2_sf(chi2, k as f64),
        z: wilson_hilferty(chi2, k as f64),
    }
}

/// Power spectrum for degrees `1..=lmax` (lmax inferred from `coef.len()`).
pub fn power_spectrum(coef: &[f64], cov: &[f64]) -> Vec<DegreePower> {
    let lmax = lmax_from_ncoef(coef.len());
    (1..=lmax)
        .map(|l| {
            let it = degree_indices(Family::T, l);
            let is = degree_indices(Family::S, l);
            let both: Vec<usize> = it.iter().chain(&is).copied().collect();
            DegreePower {
                l,
                toroidal: power_stat(coef, cov, &it),
                spheroidal: power_stat(coef, cov, &is),
                total: power_stat(coef, cov, &both),
            }
        })
        .collect()
}

/// Wilson–Hilferty transform of a χ² with `nu` degrees of freedom to a standard normal deviate.
pub fn wilson_hilferty(chi2: f64, nu: f64) -> f64 {
    let v = 2.0 / (9.0 * nu);
    ((chi2 / nu).cbrt() - (1.0 - v)) / v.sqrt()
}

/// Survival function of χ² with `nu` degrees of freedom: `Q(ν/2, χ²/2)`.
pub fn chi2_sf(chi2: f64, nu: f64) -> f64 {
    if chi2.is_nan() {
        return f64::NAN;
    }
    if chi2 <= 0.0 {
        return 1.0;
    }
    gamma_q(0.5 * nu, 0.5 * chi2)
}

/// `ln Γ(x)`, x > 0 (Lanczos approximation, g = 7, n = 9; Numerical Recipes 3rd ed. sect. 6.1).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularised upper incomplete gamma function `Q(a, x)` (series for x < a+1, continued
/// fraction otherwise; Numerical Recipes 3rd ed. sect. 6.2).
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let gln = ln_gamma(a);
    if x < a + 1.0 {
        let mut ap = a;
        let mut sum = 1.0 / a;
        let mut del = sum;
        for _ in 0..10_000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        1.0 - sum * (-x + a * x.ln() - gln).exp()
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (-x + a * x.ln() - gln).exp() * h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi2_survival_known_values() {
        // Tabulated 5 % and 1 % critical values of χ².
        for (x, nu, p) in [
            (3.841_458_820_694_124, 1.0, 0.05),
            (5.991_464_547_107_979, 2.0, 0.05),
            (18.307_038_053_275_146, 10.0, 0.05),
            (6.634_896_601_021_213, 1.0, 0.01),
            (37.566_234_786_625_84, 20.0, 0.01),
        ] {
            let q = chi2_sf(x, nu);
            assert!(((q - p) / p).abs() < 1e-9, "Q({x},{nu}) = {q}, want {p}");
        }
        // ν = 2: Q = exp(−χ²/2) exactly.
        for x in [0.1, 1.0, 7.0, 50.0, 600.0] {
            let q = chi2_sf(x, 2.0);
            assert!(((q - (-0.5 * x).exp()) / (-0.5 * x).exp()).abs() < 1e-12);
        }
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
    }

    #[test]
    fn wilson_hilferty_median_near_zero() {
        // Median of χ²(ν) ≈ ν (1 − 2/(9ν))³ maps to Z = 0 exactly.
        let nu: f64 = 7.0;
        let med = nu * (1.0 - 2.0 / (9.0 * nu)).powi(3);
        assert!(wilson_hilferty(med, nu).abs() < 1e-12);
    }
}
