//! The fit on simulated sources: exact recovery, correlated pairs against a dense generalised
//! least-squares solution, the colour prior, typed errors, robust weighting, thread independence.
#![allow(clippy::needless_range_loop)]

use astrosolve_epoch::{
    fit_many, fit_source, EpochError, EpochObs, FitOptions, ModelKind, SourceData, Weighting,
};

/// Small deterministic Gaussian generator (LCG + Box–Muller).
struct Rng(u64);
impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn gauss(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

const TRUTH: [f64; 9] = [0.4, -0.7, 3.2, -9.8, 6.1, 0.02, -0.03, 0.01, 0.005];

/// A Gaia-like source: `n` observations over ±2.5 yr, σ, noise scale, with model `m`'s truth.
fn source(id: i64, n: usize, sigma: f64, noise: f64, m: ModelKind, seed: u64) -> SourceData {
    let mut rng = Rng(seed);
    let layout = m.layout();
    let obs = (0..n)
        .map(|l| {
            let t = -2.5 + 5.0 * (l as f64 + 0.5) / n as f64;
            let th = 6.0 * rng.uniform();
            let (s, c) = th.sin_cos();
            let mut o = EpochObs {
                t,
                a_alpha: s,
                a_delta: c,
                a_parallax: (2.0 * std::f64::consts::PI * t).sin() * 0.9,
                a_pmra: s * t,
                a_pmdec: c * t,
                a_colour: 10.0 * rng.gauss(),
                w: 0.0,
                sigma,
                used: true,
                transit: (l / 9) as u32,
            };
            let p: Vec<f64> = TRUTH[..layout.n_params()].to_vec();
            o.w = astrosolve_model::epoch::abscissa::<f64>(&layout, &p, &o.geometry())
                + noise * sigma * rng.gauss();
            o
        })
        .collect();
    SourceData {
        id,
        obs,
        pairs: Vec::new(),
        excess_noise: None,
        colour_prior: Some((0.0, 1.0)),
    }
}

fn opts(model: ModelKind, weighting: Weighting) -> FitOptions {
    FitOptions {
        model,
        weighting,
        ..FitOptions::default()
    }
}

#[test]
fn noise_free_data_give_the_truth_for_every_model() {
    for m in [
        ModelKind::Five,
        ModelKind::Six,
        ModelKind::Seven,
        ModelKind::Nine,
    ] {
        let mut d = source(7, 300, 0.1, 0.0, m, 1);
        d.colour_prior = Some((TRUTH[5], 1e-3)); // a prior at the truth does not bias
        let r = fit_source(&d, &opts(m, Weighting::None)).expect("fit");
        assert_eq!(r.params.len(), m.n_params());
        for (k, (&p, &t)) in r.params.iter().zip(TRUTH.iter()).enumerate() {
            assert!((p - t).abs() < 1e-9, "{m:?} param {k}: {p} vs {t}");
        }
        assert!(r.chi2 < 1e-12, "{m:?} chi2 {}", r.chi2);
        assert!(r.residuals.iter().all(|x| x.abs() < 1e-9));
        assert_eq!(r.n_obs_al, 300);
    }
}

#[test]
fn covariance_is_the_inverse_normal_matrix_and_errors_scale_with_sigma() {
    let d1 = source(1, 200, 0.1, 1.0, ModelKind::Five, 3);
    let mut d2 = d1.clone();
    for o in &mut d2.obs {
        o.sigma *= 2.0;
    }
    let o = opts(ModelKind::Five, Weighting::None);
    let (r1, r2) = (fit_source(&d1, &o).unwrap(), fit_source(&d2, &o).unwrap());
    for k in 0..5 {
        assert!((r2.error(k) / r1.error(k) - 2.0).abs() < 1e-12);
        assert!((r1.params[k] - r2.params[k]).abs() < 1e-12);
    }
    // N · C = I with N built from the rows
    let n = 5;
    let mut nm = [0.0; 25];
    for ob in &d1.obs {
        let a = [ob.a_alpha, ob.a_delta, ob.a_parallax, ob.a_pmra, ob.a_pmdec];
        for i in 0..n {
            for j in 0..n {
                nm[i * n + j] += a[i] * a[j] / (ob.sigma * ob.sigma);
            }
        }
    }
    for i in 0..n {
        for j in 0..n {
            let x: f64 = (0..n).map(|k| nm[i * n + k] * r1.cov[k * n + j]).sum();
            let e = if i == j { 1.0 } else { 0.0 };
            assert!((x - e).abs() < 1e-9, "NC[{i}][{j}] = {x}");
        }
    }
}

/// Solves min (y − A p)ᵀ C⁻¹ (y − A p) with C block-diagonal in 2×2 blocks, densely.
fn dense_gls(d: &SourceData) -> Vec<f64> {
    let m = d.obs.len();
    let mut cinv = vec![0.0; m * m];
    let mut paired = vec![false; m];
    for &(i, j, rho) in &d.pairs {
        let (si, sj) = (d.obs[i].sigma, d.obs[j].sigma);
        let det = si * si * sj * sj * (1.0 - rho * rho);
        cinv[i * m + i] = sj * sj / det;
        cinv[j * m + j] = si * si / det;
        cinv[i * m + j] = -rho * si * sj / det;
        cinv[j * m + i] = -rho * si * sj / det;
        paired[i] = true;
        paired[j] = true;
    }
    for l in 0..m {
        if !paired[l] {
            cinv[l * m + l] = 1.0 / (d.obs[l].sigma * d.obs[l].sigma);
        }
    }
    let a: Vec<[f64; 5]> = d
        .obs
        .iter()
        .map(|o| [o.a_alpha, o.a_delta, o.a_parallax, o.a_pmra, o.a_pmdec])
        .collect();
    let mut nm = [[0.0; 5]; 5];
    let mut b = [0.0; 5];
    for k in 0..m {
        for l in 0..m {
            let c = cinv[k * m + l];
            if c == 0.0 {
                continue;
            }
            for i in 0..5 {
                b[i] += a[k][i] * c * d.obs[l].w;
                for j in 0..5 {
                    nm[i][j] += a[k][i] * c * a[l][j];
                }
            }
        }
    }
    // Gaussian elimination
    for col in 0..5 {
        for r in col + 1..5 {
            let f = nm[r][col] / nm[col][col];
            for c in col..5 {
                nm[r][c] -= f * nm[col][c];
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = [0.0; 5];
    for r in (0..5).rev() {
        let s: f64 = (r + 1..5).map(|c| nm[r][c] * x[c]).sum();
        x[r] = (b[r] - s) / nm[r][r];
    }
    x.to_vec()
}

#[test]
fn correlated_pairs_are_solved_as_generalised_least_squares() {
    // Hipparcos 1997-like: FAST and NDAC abscissae of one orbit, correlated
    let mut d = source(27321, 120, 1.0, 1.0, ModelKind::Five, 11);
    let mut rng = Rng(5);
    for k in 0..60 {
        let (i, j) = (2 * k, 2 * k + 1);
        d.obs[j] = EpochObs {
            w: d.obs[i].w + 0.5 * rng.gauss(),
            sigma: 1.3,
            ..d.obs[i]
        };
        if k % 7 != 3 {
            d.pairs.push((i, j, 0.4 + 0.4 * rng.uniform()));
        }
    }
    let r = fit_source(&d, &opts(ModelKind::Five, Weighting::None)).unwrap();
    let x = dense_gls(&d);
    for k in 0..5 {
        assert!(
            (r.params[k] - x[k]).abs() < 1e-10,
            "{k}: {} vs {}",
            r.params[k],
            x[k]
        );
    }
    // ignoring the correlations gives a different answer
    let mut u = d.clone();
    u.pairs.clear();
    let ru = fit_source(&u, &opts(ModelKind::Five, Weighting::None)).unwrap();
    assert!((0..5).any(|k| (ru.params[k] - r.params[k]).abs() > 1e-6));
    // χ² is the whitened quadratic form: positive, of the order of ν
    assert!(r.chi2 > 0.2 * 115.0 && r.chi2 < 3.0 * 115.0, "{}", r.chi2);
}

#[test]
fn colour_prior_pulls_toward_its_mean() {
    let mut d = source(3, 400, 0.1, 1.0, ModelKind::Six, 21);
    for o in &mut d.obs {
        o.a_colour *= 1e-3; // weakly determined colour
    }
    d.colour_prior = Some((0.5, 1e-4));
    let r = fit_source(&d, &opts(ModelKind::Six, Weighting::None)).unwrap();
    assert!((r.params[5] - 0.5).abs() < 1e-3, "{}", r.params[5]);
    assert!(r.error(5) < 1e-4);
    d.colour_prior = None;
    let e = fit_source(&d, &opts(ModelKind::Six, Weighting::None)).unwrap_err();
    assert!(
        matches!(e, EpochError::BadInput { source_id: 3, .. }),
        "{e}"
    );
}

#[test]
fn degenerate_sources_give_typed_errors_naming_the_source() {
    let mut d = source(42, 50, 0.1, 1.0, ModelKind::Five, 2);
    for o in &mut d.obs {
        o.a_parallax = 0.0;
    }
    let e = fit_source(&d, &opts(ModelKind::Five, Weighting::None)).unwrap_err();
    assert!(
        matches!(e, EpochError::Singular { source_id: 42, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("source 42"), "{e}");

    let mut d = source(43, 50, 0.1, 1.0, ModelKind::Five, 2);
    for o in d.obs.iter_mut().skip(4) {
        o.used = false;
    }
    let e = fit_source(&d, &opts(ModelKind::Five, Weighting::Agis)).unwrap_err();
    assert!(matches!(
        e,
        EpochError::TooFewObservations {
            source_id: 43,
            n_used: 4,
            ..
        }
    ));

    let mut d = source(44, 50, 0.1, 1.0, ModelKind::Five, 2);
    d.obs[3].sigma = 0.0;
    let e = fit_source(&d, &opts(ModelKind::Five, Weighting::None)).unwrap_err();
    assert!(e.to_string().contains("source 44") && e.to_string().contains("observation 3"));
}

#[test]
fn agis_weighting_finds_outliers_and_excess_noise() {
    // σ = 0.1 mas, true scatter √(0.1² + 0.3²), five gross outliers
    let mut d = source(5, 600, 0.1, 0.0, ModelKind::Five, 8);
    let mut rng = Rng(99);
    for o in &mut d.obs {
        o.w += (0.01f64 + 0.09).sqrt() * rng.gauss();
    }
    let bad = [10, 100, 200, 300, 555];
    for &k in &bad {
        d.obs[k].w += 20.0;
    }
    d.obs[17].used = false;
    d.obs[17].w += 50.0;
    for w in [Weighting::Agis, Weighting::Huber] {
        let r = fit_source(&d, &opts(ModelKind::Five, w)).unwrap();
        assert_eq!(r.n_obs_al, 599);
        assert_eq!(r.n_bad_obs_al, 5, "{w:?}");
        for &k in &bad {
            assert!(
                r.weights[k] < 0.2,
                "{w:?} outlier {k} weight {}",
                r.weights[k]
            );
        }
        assert_eq!(r.weights[17], 0.0);
        assert!(
            (r.residuals[17] - 50.0).abs() < 2.0,
            "unused residual {}",
            r.residuals[17]
        );
        assert!(
            (r.excess_noise - 0.3).abs() < 0.03,
            "{w:?} excess noise {}",
            r.excess_noise
        );
        assert!(r.excess_noise_sig > 10.0);
        for k in 0..5 {
            assert!(
                (r.params[k] - TRUTH[k]).abs() < 5.0 * r.error(k),
                "{w:?} {k}"
            );
        }
        // F2 from χ² over the good observations with ν = n_good − 5
        let nu = (r.n_good_obs_al - 5) as f64;
        assert!((r.gof_al - astrosolve_epoch::weights::gof(r.chi2, nu)).abs() < 1e-12);
        assert!((r.uwe - (r.chi2 / nu).sqrt()).abs() < 1e-12);
    }
    // clean data: no excess noise, no iteration
    let d = source(6, 600, 0.1, 1.0, ModelKind::Five, 9);
    let r = fit_source(&d, &opts(ModelKind::Five, Weighting::Agis)).unwrap();
    if r.excess_noise == 0.0 {
        assert_eq!(r.excess_noise_sig, 0.0);
        assert_eq!(r.n_bad_obs_al, 0);
    }
    assert!(r.excess_noise < 0.03);
}

#[test]
fn dr4_weighting_uses_the_published_excess_noise() {
    let mut d = source(8, 300, 0.1, 2.0, ModelKind::Five, 4);
    d.excess_noise = Some(0.2);
    let r = fit_source(&d, &opts(ModelKind::Five, Weighting::Dr4)).unwrap();
    let mut e = d.clone();
    for o in &mut e.obs {
        o.sigma = (o.sigma * o.sigma + 0.04).sqrt();
    }
    let r2 = fit_source(&e, &opts(ModelKind::Five, Weighting::None)).unwrap();
    for k in 0..5 {
        assert!((r.params[k] - r2.params[k]).abs() < 1e-12);
        assert!((r.error(k) / r2.error(k) - 1.0).abs() < 1e-12);
    }
    assert_eq!(r.excess_noise, 0.2);
    assert_eq!(r.n_bad_obs_al, 0);
    // χ² uses the formal σ
    assert!((r.chi2 * 0.01 - r2.chi2 * 0.05).abs() / r.chi2 < 0.5);
}

#[test]
fn fit_many_is_in_order_and_independent_of_threads() {
    let sources: Vec<SourceData> = (0..200)
        .map(|i| {
            source(
                i,
                100 + (i as usize % 50),
                0.1,
                1.5,
                ModelKind::Five,
                i as u64,
            )
        })
        .collect();
    let o = opts(ModelKind::Five, Weighting::Agis);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| fit_many(&sources, &o))
    };
    let (a, b) = (run(1), run(3));
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let (x, y) = (x.as_ref().unwrap(), y.as_ref().unwrap());
        assert_eq!(x, y, "source {i}");
        assert_eq!(x, &fit_source(&sources[i], &o).unwrap());
    }
}
