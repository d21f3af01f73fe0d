//! The simulator against its own model, its expected rates, and its determinism.

use astrosolve_model::units::{MAS, UAS};
use astrosolve_model::MissionConfig;
use astrosolve_sim::gaia::{derived_intervals, expected_obs_rate, max_knot_interval};
use astrosolve_sim::{simulate_gaia, SimConfig};

fn small(noiseless: bool, seed: u64) -> (MissionConfig, SimConfig) {
    let mission = MissionConfig {
        start_day: -40.0,
        duration_days: 80.0,
        ..Default::default()
    };
    let sim = SimConfig {
        n_sources: 400,
        noiseless,
        seed,
        ..Default::default()
    };
    (mission, sim)
}

#[test]
fn noiseless_observations_are_reproduced_by_the_model_to_1_uas() {
    let (mission, cfg) = small(true, 11);
    let s = simulate_gaia(&mission, &cfg, &|_| {}).unwrap();
    let model = s.model();
    assert!(
        s.observations.len() > 5000,
        "only {} observations",
        s.observations.len()
    );
    let mut n_ac = 0;
    let mut worst: f64 = 0.0;
    for o in &s.observations.obs {
        let src = &s.truth_sources[o.source_index as usize].params;
        let (eta, zeta) = model.predict_obs(src, &s.truth_attitude, &s.truth_calibration, o);
        worst = worst.max((eta - o.eta).abs());
        assert!(
            (eta - o.eta).abs() <= UAS,
            "η residual {} µas",
            (eta - o.eta) / UAS
        );
        if o.has_ac() {
            n_ac += 1;
            assert!(
                (zeta - o.zeta).abs() <= UAS,
                "ζ residual {} µas",
                (zeta - o.zeta) / UAS
            );
        }
        assert!(o.ac_coord.abs() <= 1.0);
    }
    assert!(n_ac > 100, "bright sources should give AC observations");
    eprintln!("worst noiseless η residual: {:.2e} µas", worst / UAS);
}

#[test]
fn rates_noise_and_intervals_follow_the_configuration() {
    let (mission, cfg) = small(false, 12);
    let s = simulate_gaia(&mission, &cfg, &|_| {}).unwrap();
    // observation rate within 25% of the geometric expectation
    let expected = expected_obs_rate(&mission, &cfg) * mission.duration_days;
    let got = s.observations.len() as f64;
    assert!(
        (got / expected - 1.0).abs() < 0.25,
        "{got} observations, expected ≈{expected}"
    );
    // the knot interval gives the configured redundancy per attitude unknown (±30%),
    // unless capped at 90° of spin per knot
    let (h, _) = derived_intervals(&mission, &cfg);
    assert_eq!(s.mission.attitude_knot_interval_days, h);
    let per_param = got / (4.0 * s.truth_attitude.coeffs.len() as f64);
    if h < max_knot_interval(&cfg) {
        assert!(
            (per_param / cfg.obs_per_attitude_param - 1.0).abs() < 0.3,
            "{per_param} obs per attitude unknown"
        );
    } else {
        assert!(per_param < cfg.obs_per_attitude_param);
    }
    // normalised noise has unit variance
    let mut s2 = 0.0;
    for (o, n) in s.observations.obs.iter().zip(&s.noise_eta) {
        s2 += (n / o.sigma_eta).powi(2);
    }
    let var = s2 / got;
    assert!((var - 1.0).abs() < 0.05, "normalised noise variance {var}");
    // starting catalogue is tens of mas from the truth
    let d: f64 = s
        .start_sources
        .iter()
        .zip(&s.truth_sources)
        .map(|(a, b)| ((a.params.dec - b.params.dec) / MAS).powi(2))
        .sum::<f64>()
        / s.truth_sources.len() as f64;
    assert!((d.sqrt() - cfg.start_position_error_mas).abs() < 0.2 * cfg.start_position_error_mas);
}

#[test]
fn deterministic_from_the_seed_with_outliers_flagged() {
    let (mission, mut cfg) = small(false, 5);
    cfg.n_sources = 100;
    cfg.outlier_rate = 0.01;
    let a = simulate_gaia(&mission, &cfg, &|_| {}).unwrap();
    let b = simulate_gaia(&mission, &cfg, &|_| {}).unwrap();
    let bits = |s: &astrosolve_sim::Simulation| -> Vec<u64> {
        s.observations
            .obs
            .iter()
            .flat_map(|o| {
                [
                    o.t.to_bits(),
                    o.eta.to_bits(),
                    o.zeta.to_bits(),
                    o.source_index as u64,
                ]
            })
            .collect()
    };
    assert!(bits(&a) == bits(&b), "same seed, different data");
    cfg.seed = 6;
    let c = simulate_gaia(&mission, &cfg, &|_| {}).unwrap();
    assert!(bits(&a) != bits(&c), "different seeds, same data");
    // no CCD crossing is found twice
    for w in a.observations.obs.windows(2) {
        let same = w[0].source_index == w[1].source_index
            && w[0].fov == w[1].fov
            && w[0].strip == w[1].strip;
        assert!(
            !(same && (w[1].t - w[0].t) < 1e-3),
            "duplicate observation {:?}",
            w[1]
        );
    }
    let rate = a.is_outlier.iter().filter(|&&x| x).count() as f64 / a.is_outlier.len() as f64;
    assert!(rate > 0.004 && rate < 0.02, "outlier rate {rate}");
    for ((o, &out), n) in a
        .observations
        .obs
        .iter()
        .zip(&a.is_outlier)
        .zip(&a.noise_eta)
    {
        if out {
            assert!(n.abs() > 20.0 * MAS.min(o.sigma_eta * 10.0));
        }
    }
}

#[test]
fn magnitude_distribution_follows_the_slope() {
    let (mission, mut cfg) = small(false, 8);
    cfg.n_sources = 3000;
    cfg.qso_fraction = 0.0;
    for slope in [0.0, 0.15, 0.35] {
        cfg.g_slope = slope;
        let s = simulate_gaia(&mission, &cfg, &|_| {}).unwrap();
        let g: Vec<f64> = s.truth_sources.iter().map(|x| x.phot_g_mean_mag).collect();
        assert!(
            g.iter().all(|&m| m >= cfg.g_min && m <= cfg.g_max),
            "slope {slope}: magnitude out of range"
        );
        // fraction brighter than the mid magnitude against the closed form of dN/dG ∝ 10^(kG)
        let mid = 0.5 * (cfg.g_min + cfg.g_max);
        let frac = g.iter().filter(|&&m| m < mid).count() as f64 / g.len() as f64;
        let expected = if slope == 0.0 {
            0.5
        } else {
            let f = |m: f64| 10f64.powf(slope * m);
            (f(mid) - f(cfg.g_min)) / (f(cfg.g_max) - f(cfg.g_min))
        };
        assert!(
            (frac - expected).abs() < 0.03,
            "slope {slope}: {frac} brighter than G={mid}, expected {expected}"
        );
    }
}

/// Sources come in source_id order (sky cell, then draw number), as the Gaia archive gives
/// them, and each keeps the random draws of its draw number: the 200 sources of a smaller
/// simulation are, parameter for parameter and start for start, 200 of the larger one's.
#[test]
fn sources_in_source_id_order_each_with_the_draws_of_its_number() {
    let (mission, mut cfg) = small(false, 5);
    let big = simulate_gaia(&mission, &cfg, &|_| {}).unwrap();
    cfg.n_sources = 200;
    let small = simulate_gaia(&mission, &cfg, &|_| {}).unwrap();
    for s in [&big, &small] {
        assert!(s
            .truth_sources
            .windows(2)
            .all(|w| w[0].source_id < w[1].source_id));
        // neighbours in the table are neighbours on the sky (the cells come band by band in
        // sin δ): the first tenth of the sources lie in the southern quarter of the sky
        // (sin δ < −0.5; in draw order only about a quarter of them would)
        let n = s.truth_sources.len() / 10;
        assert!(s.truth_sources[..n]
            .iter()
            .all(|x| x.params.dec.sin() < -0.5));
    }
    assert_eq!(small.truth_sources.len(), 200);
    for (k, s) in small.truth_sources.iter().enumerate() {
        let j = big
            .truth_sources
            .iter()
            .position(|b| b.source_id == s.source_id)
            .expect("a source of the smaller simulation is missing from the larger");
        assert_eq!(big.truth_sources[j], *s);
        assert_eq!(big.start_sources[j], small.start_sources[k]);
    }
}
