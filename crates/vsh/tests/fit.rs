//! The fit: normal equations, rotation/glide factors against closed forms, recovery of
//! injected fields within their errors, clipping, and the power bias correction.

use astrosolve_vsh::basis::{coef_index, degree_indices, labels, n_coef, Family, Part, VshBasis};
use astrosolve_vsh::fit::{accumulate_all, fit, FitOptions, PmData};
use astrosolve_vsh::physics::{
    degree1_vector, glide_field, rotation_field, vector_to_coefficients,
};
use astrosolve_vsh::power::power_spectrum;
use astrosolve_vsh::synth::{generate, SplitMix64, SynthConfig};

fn no_clip(lmax: usize) -> FitOptions {
    FitOptions {
        lmax,
        clip_kappa: 0.0,
        max_iter: 1,
    }
}

/// The accumulated (whitened, batched, SIMD) normal equations equal AᵀC⁻¹A and AᵀC⁻¹y built
/// from the explicit design matrix and inverted 2×2 covariances.
#[test]
fn normal_equations_match_explicit_design() {
    let syn = generate(&SynthConfig {
        n: 37,
        truth: vec![5.0; n_coef(1)],
        max_corr: 0.8,
        seed: 9,
        ..Default::default()
    });
    let lmax = 3;
    let n = n_coef(lmax);
    let basis = VshBasis::new(lmax);
    let ne = accumulate_all(&basis, &syn.data);
    let d = &syn.data;
    let mut nn = vec![0.0; n * n];
    let mut b = vec![0.0; n];
    let (mut a, mut dd) = (vec![0.0; n], vec![0.0; n]);
    for i in 0..d.len() {
        basis.eval(d.ra[i], d.dec[i], &mut a, &mut dd);
        let (sa, sd, r) = (d.pmra_error[i], d.pmdec_error[i], d.pmra_pmdec_corr[i]);
        let det = sa * sa * sd * sd * (1.0 - r * r);
        let w = [sd * sd / det, -r * sa * sd / det, sa * sa / det]; // C⁻¹ = [[w0,w1],[w1,w2]]
        for j in 0..n {
            for k in 0..n {
                nn[j * n + k] += w[0] * a[j] * a[k]
                    + w[1] * (a[j] * dd[k] + dd[j] * a[k])
                    + w[2] * dd[j] * dd[k];
            }
            b[j] += w[0] * a[j] * d.pmra[i]
                + w[1] * (a[j] * d.pmdec[i] + dd[j] * d.pmra[i])
                + w[2] * dd[j] * d.pmdec[i];
        }
    }
    let scale = nn.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for j in 0..n {
        for k in 0..n {
            assert!(
                (ne.get(j, k) - nn[j * n + k]).abs() < 1e-12 * scale,
                "N[{j}][{k}]"
            );
        }
        assert!((ne.rhs[j] - b[j]).abs() < 1e-9 * b.iter().fold(0.0f64, |m, v| m.max(v.abs())));
    }
    assert_eq!(ne.n_sources, 37);
}

fn random_positions(n: usize, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            (
                std::f64::consts::TAU * rng.uniform(),
                (2.0 * rng.uniform() - 1.0).asin(),
            )
        })
        .collect()
}

/// L = 1: the closed-form rigid-rotation field ω × u and glide field g − (g·u)u are exactly the
/// degree-1 VSH fields with t_10 = sqrt(8π/3) ω_z, t_11^R = −sqrt(4π/3) ω_x,
/// t_11^I = sqrt(4π/3) ω_y (same for s and g), and the fitted coefficients convert back to ω and
/// g with these factors.
#[test]
fn degree1_coefficients_convert_to_rotation_and_glide() {
    let omega = [3.0, -1.5, 2.25];
    let g = [-0.7, -4.4, -2.7];
    let basis = VshBasis::new(1);
    let mut coef = vec![0.0; 6];
    let ct = vector_to_coefficients(omega);
    let cs = vector_to_coefficients(g);
    coef[coef_index(Family::T, 1, 0, Part::Zonal)] = ct[0];
    coef[coef_index(Family::T, 1, 1, Part::Re)] = ct[1];
    coef[coef_index(Family::T, 1, 1, Part::Im)] = ct[2];
    coef[coef_index(Family::S, 1, 0, Part::Zonal)] = cs[0];
    coef[coef_index(Family::S, 1, 1, Part::Re)] = cs[1];
    coef[coef_index(Family::S, 1, 1, Part::Im)] = cs[2];
    let pi = std::f64::consts::PI;
    assert!((ct[0] - (8.0 * pi / 3.0).sqrt() * omega[2]).abs() < 1e-14);
    assert!((ct[1] + (4.0 * pi / 3.0).sqrt() * omega[0]).abs() < 1e-14);
    assert!((ct[2] - (4.0 * pi / 3.0).sqrt() * omega[1]).abs() < 1e-14);
    // Pointwise identity of the fields.
    let mut data = PmData::default();
    for (ra, dec) in random_positions(500, 3) {
        let (ra1, de1) = rotation_field(omega, ra, dec);
        let (ra2, de2) = glide_field(g, ra, dec);
        let (va, vd) = basis.field(&coef, ra, dec);
        assert!((va - ra1 - ra2).abs() < 1e-12 && (vd - de1 - de2).abs() < 1e-12);
        data.push(ra, dec, ra1 + ra2, de1 + de2, 1.0, 2.0, 0.3);
    }
    // The fit of the noiseless closed-form field returns ω and g (L = 1 and L = 4).
    for lmax in [1, 4] {
        let f = fit(&data, &no_clip(lmax)).unwrap();
        let w = degree1_vector(Family::T, &f.coef, &f.cov);
        let gg = degree1_vector(Family::S, &f.coef, &f.cov);
        for i in 0..3 {
            assert!((w.components[i] - omega[i]).abs() < 1e-10, "omega {i}");
            assert!((gg.components[i] - g[i]).abs() < 1e-10, "glide {i}");
        }
        for (j, c) in f.coef.iter().enumerate().skip(6) {
            assert!(c.abs() < 1e-10, "coefficient {j} = {c}");
        }
    }
}

/// The Gaia EDR3 glide (5.05 µas/yr towards α = 269.1°, δ = −31.6°) is recovered with its
/// direction; the galactic direction is near the Galactic centre (l ≈ 0°, b ≈ 0°).
#[test]
fn gaia_edr3_glide_direction() {
    let (amp, ra0, de0) = (5.05, 269.1f64.to_radians(), (-31.6f64).to_radians());
    let g = [
        amp * de0.cos() * ra0.cos(),
        amp * de0.cos() * ra0.sin(),
        amp * de0.sin(),
    ];
    let mut data = PmData::default();
    for (ra, dec) in random_positions(300, 5) {
        let (x, y) = glide_field(g, ra, dec);
        data.push(ra, dec, x, y, 100.0, 100.0, 0.0);
    }
    let f = fit(&data, &no_clip(2)).unwrap();
    let v = degree1_vector(Family::S, &f.coef, &f.cov);
    assert!((v.amplitude - 5.05).abs() < 1e-10);
    assert!((v.equatorial.lon - 269.1).abs() < 1e-8 && (v.equatorial.lat + 31.6).abs() < 1e-8);
    let l = if v.galactic.lon > 180.0 {
        v.galactic.lon - 360.0
    } else {
        v.galactic.lon
    };
    assert!(
        l.abs() < 5.0 && v.galactic.lat.abs() < 5.0,
        "l={l} b={}",
        v.galactic.lat
    );
}

/// Truth with rotation, glide and a degree-2 field (T and S).
fn injected_truth() -> Vec<f64> {
    let mut t = vec![0.0; n_coef(2)];
    let ct = vector_to_coefficients([30.0, -20.0, 25.0]); // rotation ω [µas/yr]
    let cs = vector_to_coefficients([-10.0, -40.0, -22.0]); // glide g
    for (k, (p, m)) in [(Part::Zonal, 0), (Part::Re, 1), (Part::Im, 1)]
        .iter()
        .enumerate()
    {
        t[coef_index(Family::T, 1, *m, *p)] = ct[k];
        t[coef_index(Family::S, 1, *m, *p)] = cs[k];
    }
    t[coef_index(Family::T, 2, 0, Part::Zonal)] = 35.0;
    t[coef_index(Family::T, 2, 2, Part::Im)] = -18.0;
    t[coef_index(Family::S, 2, 1, Part::Re)] = 22.0;
    t[coef_index(Family::S, 2, 2, Part::Re)] = 15.0;
    t[coef_index(Family::S, 2, 0, Part::Zonal)] = -28.0;
    t
}

/// Noisy synthetic data (correlated errors): every coefficient of an L = 4 fit is within 4σ of
/// the injected truth (zero above degree 2), so are ω and g; χ²/dof ≈ 1.
#[test]
fn injected_rotation_glide_and_degree2_are_recovered() {
    let truth = injected_truth();
    let syn = generate(&SynthConfig {
        n: 60_000,
        truth: truth.clone(),
        sigma_range: (100.0, 500.0),
        max_corr: 0.6,
        seed: 2024,
        ..Default::default()
    });
    let f = fit(&syn.data, &no_clip(4)).unwrap();
    let lab = labels(4);
    for (j, c) in f.coef.iter().enumerate() {
        let t = truth.get(j).copied().unwrap_or(0.0);
        let e = f.error(j);
        assert!(
            (c - t).abs() < 4.0 * e,
            "{}: {c} ± {e}, truth {t}",
            lab[j].name()
        );
        // The signal is detected (well above the noise) where injected.
        if t != 0.0 {
            assert!(t.abs() > 4.0 * e);
        }
    }
    let w = degree1_vector(Family::T, &f.coef, &f.cov);
    let g = degree1_vector(Family::S, &f.coef, &f.cov);
    for (est, tr) in [(&w, [30.0f64, -20.0, 25.0]), (&g, [-10.0, -40.0, -22.0])] {
        for (i, t) in tr.iter().enumerate() {
            assert!((est.components[i] - t).abs() < 4.0 * est.errors[i]);
        }
        let amp = tr[0] * tr[0] + tr[1] * tr[1] + tr[2] * tr[2];
        assert!((est.amplitude - amp.sqrt()).abs() < 4.0 * est.amplitude_error);
    }
    let dof = f.dof as f64;
    assert!(
        (f.chi2 / dof - 1.0).abs() < 5.0 * (2.0 / dof).sqrt(),
        "chi2/dof {}",
        f.chi2 / dof
    );
    // Degree-2 power detected, degree 3–4 consistent with noise.
    let p = power_spectrum(&f.coef, &f.cov);
    assert!(p[1].toroidal.z > 10.0 && p[1].spheroidal.z > 10.0);
    for d in &p[2..] {
        assert!(
            d.total.p_value > 1e-4,
            "degree {} p = {}",
            d.l,
            d.total.p_value
        );
    }
    // The bias-corrected degree-2 power matches the injected one within its error.
    let p2t_true: f64 = degree_indices(Family::T, 2)
        .iter()
        .map(|&j| lab[j].power_weight() * truth[j] * truth[j])
        .sum();
    assert!(
        (p[1].toroidal.power_corrected - p2t_true).abs()
            < 4.0 * p[1].toroidal.power_corrected_error
    );
}

/// With 1 % gross outliers (noise × 30) the clipped fit rejects them, keeps nearly all good
/// sources, converges, and recovers the truth within 4σ with a unit-weight error near 1.
#[test]
fn clipping_rejects_outliers() {
    let truth = injected_truth();
    let syn = generate(&SynthConfig {
        n: 40_000,
        truth: truth.clone(),
        sigma_range: (100.0, 500.0),
        max_corr: 0.5,
        outlier_fraction: 0.01,
        outlier_scale: 30.0,
        seed: 77,
    });
    let f = fit(
        &syn.data,
        &FitOptions {
            lmax: 3,
            clip_kappa: 3.0,
            max_iter: 20,
        },
    )
    .unwrap();
    assert!(f.converged && f.iterations >= 2);
    let n_out = syn.outlier.iter().filter(|&&o| o).count();
    let caught = syn
        .outlier
        .iter()
        .zip(&f.rejected)
        .filter(|(&o, &r)| o && r)
        .count();
    let good_rejected = syn
        .outlier
        .iter()
        .zip(&f.rejected)
        .filter(|(&o, &r)| !o && r)
        .count();
    assert!(
        caught as f64 >= 0.97 * n_out as f64,
        "{caught} of {n_out} outliers caught"
    );
    // Gaussian X > 3 × 1.177 = 3.53: P = exp(−6.24) = 0.2 %.
    assert!((good_rejected as f64) < 0.006 * (syn.data.len() - n_out) as f64);
    for (j, c) in f.coef.iter().enumerate() {
        let t = truth.get(j).copied().unwrap_or(0.0);
        assert!((c - t).abs() < 4.0 * f.error(j), "coef {j}");
    }
    assert!(
        (f.unit_weight_error() - 1.0).abs() < 0.03,
        "uwe {}",
        f.unit_weight_error()
    );
    let t = f.clip_threshold.unwrap();
    // The final selection is exactly the documented rule applied to the final residuals.
    assert!((t - 3.0 * f.median_x).abs() <= 1e-12 * t);
    assert!(f.x.iter().zip(&f.rejected).all(|(&x, &r)| r == (x > t)));
    // Without clipping the outliers inflate the unit-weight error far above 1.
    let g = fit(&syn.data, &no_clip(3)).unwrap();
    assert!(g.unit_weight_error() > 2.0);
}

/// On pure noise the mean bias-corrected power over many realisations is zero within its
/// standard error, while the raw power is biased by tr(DC); the χ² p-values are uniform.
#[test]
fn power_bias_correction_is_unbiased_on_pure_noise() {
    let lmax = 3;
    let reps = 400;
    let mut sum_corr = vec![[0.0f64; 2]; lmax];
    let mut sum_corr2 = vec![[0.0f64; 2]; lmax];
    let mut sum_raw = vec![[0.0f64; 2]; lmax];
    let mut sum_raw2 = vec![[0.0f64; 2]; lmax];
    let mut below_5pc = 0usize;
    let mut n_tests = 0usize;
    for r in 0..reps {
        let syn = generate(&SynthConfig {
            n: 1500,
            truth: Vec::new(),
            sigma_range: (50.0, 300.0),
            max_corr: 0.5,
            seed: 1000 + r as u64,
            ..Default::default()
        });
        let f = fit(&syn.data, &no_clip(lmax)).unwrap();
        for (k, d) in power_spectrum(&f.coef, &f.cov).iter().enumerate() {
            for (q, s) in [&d.toroidal, &d.spheroidal].iter().enumerate() {
                sum_corr[k][q] += s.power_corrected;
                sum_corr2[k][q] += s.power_corrected * s.power_corrected;
                sum_raw[k][q] += s.power;
                sum_raw2[k][q] += s.power * s.power;
                n_tests += 1;
                if s.p_value < 0.05 {
                    below_5pc += 1;
                }
            }
        }
    }
    let n = reps as f64;
    for k in 0..lmax {
        for q in 0..2 {
            let mean = sum_corr[k][q] / n;
            let se = ((sum_corr2[k][q] / n - mean * mean) / n).sqrt();
            assert!(
                mean.abs() < 4.0 * se,
                "degree {} family {q}: mean corrected power {mean} ± {se}",
                k + 1
            );
            let mraw = sum_raw[k][q] / n;
            let seraw = ((sum_raw2[k][q] / n - mraw * mraw) / n).sqrt();
            assert!(mraw > 10.0 * seraw, "raw power should be visibly biased");
        }
    }
    let frac = below_5pc as f64 / n_tests as f64;
    assert!((frac - 0.05).abs() < 0.02, "fraction of p < 0.05: {frac}");
}

/// Too few sources or a degenerate sky give clear errors, not panics or NaN.
#[test]
fn degenerate_inputs_are_errors() {
    let mut d = PmData::default();
    for k in 0..10 {
        d.push(0.1 * k as f64, 0.2, 1.0, 1.0, 1.0, 1.0, 0.0);
    }
    assert!(matches!(
        fit(&d, &no_clip(3)),
        Err(astrosolve_vsh::VshError::TooFewSources { .. })
    ));
    // 200 sources all at the same position: singular for L = 2.
    let mut d = PmData::default();
    for _ in 0..200 {
        d.push(0.5, 0.2, 1.0, 1.0, 1.0, 1.0, 0.0);
    }
    assert!(matches!(
        fit(&d, &no_clip(2)),
        Err(astrosolve_vsh::VshError::Singular { .. })
    ));
}

/// The normal equations are bitwise identical with 1 and 2 threads (fixed blocks, fixed order).
#[test]
fn accumulation_does_not_depend_on_thread_count() {
    let syn = generate(&SynthConfig {
        n: 80_000,
        truth: injected_truth(),
        seed: 8,
        ..Default::default()
    });
    let basis = VshBasis::new(3);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| accumulate_all(&basis, &syn.data))
    };
    let (a, b) = (run(1), run(2));
    assert_eq!(a, b);
    assert_eq!(a.n_sources, 80_000);
}

/// Noise-free data with clipping on (median X at rounding level) keeps an exact fit.
#[test]
fn clipping_noise_free_data_keeps_the_exact_fit() {
    let mut data = PmData::default();
    for (ra, dec) in random_positions(400, 11) {
        let (a, d) = rotation_field([1.0, 2.0, 3.0], ra, dec);
        data.push(ra, dec, a, d, 1.0, 1.0, 0.0);
    }
    let f = fit(
        &data,
        &FitOptions {
            lmax: 2,
            clip_kappa: 3.0,
            max_iter: 20,
        },
    )
    .unwrap();
    // Residuals are rounding errors: either none rejected, or the rule still leaves a fit that
    // reproduces ω exactly.
    let w = degree1_vector(Family::T, &f.coef, &f.cov);
    for (i, t) in [1.0, 2.0, 3.0].iter().enumerate() {
        assert!((w.components[i] - t).abs() < 1e-9);
    }
    assert!(f.n_used > 200);
}
