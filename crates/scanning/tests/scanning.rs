//! The scanning instrument over the core, against simulated truth and against its own linear
//! algebra.

mod common;

use astrosolve_core::{Method, SolverConfig};
use astrosolve_model::units::{MAS, UAS};
use astrosolve_scanning::frame::{null_vectors, position_difference};
use astrosolve_scanning::*;
use common::*;

/// The assembled normal equations are those of the model: the true correction Δx (truth −
/// start) satisfies N Δx = b to the single precision of the stored design rows, and N is
/// symmetric.
#[test]
fn normal_equations_are_consistent_with_the_model() {
    let s = simulation(600, true, 21);
    let st = state(&s, false);
    with_linear_system(&s, &st, |sys, ws| {
        let n = sys.n();
        let g0 = sys.g0();
        let n_att = s.start_attitude.n_params();
        let mut dx = vec![0.0; n];
        for i in 0..sys.n_src {
            if !sys.active[i] {
                continue;
            }
            let (t, p) = (&s.truth_sources[i].params, &st.params[i]);
            let (da, dd) = position_difference(t, p);
            dx[5 * i..5 * i + 5].copy_from_slice(&[
                da,
                dd,
                t.parallax - p.parallax,
                t.pmra - p.pmra,
                t.pmdec - p.pmdec,
            ]);
        }
        for (k, (a, b)) in s
            .truth_attitude
            .coeffs
            .iter()
            .zip(&s.start_attitude.coeffs)
            .enumerate()
        {
            for r in 0..4 {
                dx[g0 + 4 * k + r] = a[r] - b[r];
            }
        }
        for (k, (a, b)) in s
            .truth_calibration
            .params
            .iter()
            .zip(&s.start_calibration.params)
            .enumerate()
        {
            dx[g0 + n_att + k] = a - b;
        }
        let mut ndx = vec![0.0; n];
        sys.apply_unconstrained(&dx, &mut ndx, ws);
        for (a, b, name) in [
            (0, g0, "sources"),
            (g0, g0 + n_att, "attitude"),
            (g0 + n_att, n, "calibration"),
        ] {
            let num: f64 = (a..b)
                .filter(|&k| k >= g0 || sys.active[k / 5])
                .map(|k| (sys.b[k] - ndx[k]).powi(2))
                .sum::<f64>()
                .sqrt();
            let den: f64 = (a..b).map(|k| sys.b[k].powi(2)).sum::<f64>().sqrt();
            assert!(
                num < 1e-4 * den,
                "{name}: |b − NΔx|/|b| = {:.2e}",
                num / den
            );
        }
        let p: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f64 / 1000.0 - 0.5)
            .collect();
        let (mut np, mut nx) = (vec![0.0; n], vec![0.0; n]);
        sys.apply(&p, &mut np, ws);
        sys.apply(&dx, &mut nx, ws);
        let (a, b) = (dot(&dx, &np), dot(&p, &nx));
        assert!(
            (a - b).abs() < 1e-9 * a.abs().max(b.abs()),
            "pᵀNx {a} vs xᵀNp {b}"
        );
    })
}

/// The six frame vectors are (near-)null vectors of the normal matrix without frame rows:
/// orientation exactly (to the f32 rows), spin to the B-spline's ability to represent a
/// linearly growing rotation; a rotation of the sources alone is not.
#[test]
fn frame_rotations_and_spins_are_null_vectors() {
    let s = simulation(600, true, 21);
    let st = state(&s, true);
    with_linear_system(&s, &st, |sys, ws| {
        let n = sys.n();
        let g0 = sys.g0();
        let mut rayleigh = |v: &[f64]| {
            let mut nv = vec![0.0; n];
            sys.apply_unconstrained(v, &mut nv, ws);
            dot(v, &nv) / dot(v, v)
        };
        let mut vecs = null_vectors(&st.params, &sys.active, &st.attitude);
        vecs.iter_mut().for_each(|v| v.resize(n, 0.0));
        let mut src_only = vecs[2].clone();
        src_only[g0..].iter_mut().for_each(|v| *v = 0.0);
        let scale = rayleigh(&src_only);
        for (k, v) in vecs.iter().enumerate() {
            let r = rayleigh(v) / scale;
            let limit = if k < 3 { 1e-6 } else { 1e-3 };
            assert!(
                r < limit,
                "frame vector {k}: Rayleigh quotient {r:.2e} of the non-null reference"
            );
        }
    })
}

/// Noiseless data from a start tens of mas away: the outer iterations converge and recover
/// the truth to a few µas once the frame (fixed by 0.2-mas reference positions) is removed.
#[test]
fn noiseless_solution_recovers_the_truth() {
    let s = simulation(2500, true, 21);
    let cfg = ScanConfig {
        solver: SolverConfig {
            max_outer: 15,
            // ≈ 48 measurements per attitude unknown, below the default redundancy, which
            // guards the formal errors of noisy data; noiseless data are recovered all the same
            min_attitude_redundancy: 0.0,
            ..SolverConfig::scanning()
        },
        frame: FrameMode::Gaia,
    };
    let sol = solve_with(&s, &cfg);
    assert!(
        sol.report.converged,
        "not converged: {:?}",
        sol.report
            .history
            .iter()
            .map(|h| h.max_update_uas)
            .collect::<Vec<_>>()
    );
    let c = truth::compare(&sol.sources, &s.truth_sources, 20);
    assert!(c.n_sources > 1500);
    let est: Vec<_> = sol.sources.iter().map(|x| x.params).collect();
    let tru: Vec<_> = s.truth_sources.iter().map(|x| x.params).collect();
    let idx: Vec<usize> = (0..est.len()).filter(|&i| sol.sources[i].solved).collect();
    let (eps, omega) = frame::relative_frame(&est, &tru, &idx).unwrap();
    let eps_abs = eps.iter().map(|v| v * v).sum::<f64>().sqrt();
    let om_abs = omega.iter().map(|v| v * v).sum::<f64>().sqrt();
    assert!(eps_abs < 0.1 * MAS, "orientation {} µas", eps_abs / UAS);
    assert!(
        om_abs < 1.0 * UAS,
        "spin {} µas/yr (noiseless quasars)",
        om_abs / UAS
    );
    let mut a = est.clone();
    let mut att = sol.attitude.clone();
    let active: Vec<bool> = sol.sources.iter().map(|x| x.solved).collect();
    frame::rotate(
        &mut a,
        &active,
        &mut att,
        eps.map(|v| -v),
        omega.map(|v| -v),
    );
    let mut worst = [0.0f64; 5];
    for &i in &idx {
        let (da, dd) = position_difference(&a[i], &tru[i]);
        let e = [
            da,
            dd,
            a[i].parallax - tru[i].parallax,
            a[i].pmra - tru[i].pmra,
            a[i].pmdec - tru[i].pmdec,
        ];
        for k in 0..5 {
            worst[k] = worst[k].max(e[k].abs());
        }
    }
    for (k, w) in worst.iter().enumerate() {
        assert!(
            *w < 5.0 * UAS,
            "parameter {k}: worst error {:.3} µas",
            w / UAS
        );
    }
}

/// With 1 % gross outliers the robust weighting flags them and the parallaxes stay unbiased
/// (mean normalised error below 0.1 in absolute value).
#[test]
fn outliers_are_flagged_and_parallaxes_stay_unbiased() {
    let mission = astrosolve_model::MissionConfig::default();
    let sim = astrosolve_sim::SimConfig {
        n_sources: 4000,
        outlier_rate: 0.01,
        seed: 33,
        ..Default::default()
    };
    let s = astrosolve_sim::simulate_gaia(&mission, &sim, &|_| {}).unwrap();
    let sol = solve_with(&s, &ScanConfig::default());
    assert!(sol.report.converged);
    let c = truth::compare(&sol.sources, &s.truth_sources, 20);
    assert!(
        c.parallax.normalised_mean.abs() < 0.1,
        "mean normalised parallax error {}",
        c.parallax.normalised_mean
    );
    let (mut flagged, mut n_outliers, mut false_alarms, mut n_good) =
        (0usize, 0usize, 0usize, 0usize);
    for (i, r) in sol.sources.iter().enumerate() {
        if !r.solved {
            continue;
        }
        let range = s.observations.source_offsets[i]..s.observations.source_offsets[i + 1];
        let outl = range.clone().filter(|&l| s.is_outlier[l]).count();
        n_outliers += outl;
        n_good += range.len() - outl;
        flagged += (r.n_bad_obs_al as usize).min(outl);
        false_alarms += (r.n_bad_obs_al as usize).saturating_sub(outl);
    }
    println!(
        "{flagged} of {n_outliers} outliers flagged, {false_alarms} false alarms among {n_good}"
    );
    assert!(n_outliers > 3000);
    assert!(
        flagged as f64 > 0.8 * n_outliers as f64,
        "{flagged} of {n_outliers} outliers flagged"
    );
    assert!(
        (false_alarms as f64) < 1e-3 * n_good as f64,
        "{false_alarms} false alarms among {n_good} good observations"
    );
}

/// The solution is the same to the bit with one thread and with two (fixed chunking and
/// reduction order), for the block-iterative solvers and LSQR alike, and (CG) with the
/// observations read from a file at every linearisation instead of memory. A small mission, below
/// the default attitude redundancy, and four outer iterations: bits, not accuracy, are tested.
#[test]
fn results_are_bit_identical_whatever_the_thread_count() {
    let s = simulation(1500, false, 21);
    for method in [Method::Cg, Method::Lsqr] {
        let cfg = ScanConfig {
            solver: SolverConfig {
                method,
                max_outer: 4,
                min_attitude_redundancy: 0.0,
                allow_unconverged: true,
                ..SolverConfig::scanning()
            },
            ..Default::default()
        };
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| solve_with(&s, &cfg))
        };
        let (a, mut b) = (run(1), run(2));
        if method == Method::Cg {
            // the observations read from a file at every linearisation: the same bits too
            assert_same_bits(&a, &b, method);
            b = solve_from_file(&s, &cfg);
        }
        assert_same_bits(&a, &b, method);
    }
}

/// The observations from an `ObservationFile` (on disk, read again at every linearisation).
fn solve_from_file(s: &astrosolve_sim::Simulation, cfg: &ScanConfig) -> Solution {
    let path = std::env::temp_dir().join(format!("astrosolve-test-obs-{}.bin", std::process::id()));
    let file = astrosolve_io::ObservationFile::create(&path, &s.observations).unwrap();
    assert!(
        !path.exists(),
        "the scratch file's name is removed once open"
    );
    solve_store(s, &file, cfg).unwrap()
}

fn assert_same_bits(a: &Solution, b: &Solution, method: Method) {
    assert_eq!(a.report.outer_iterations, b.report.outer_iterations);
    assert_eq!(a.report.inner_iterations, b.report.inner_iterations);
    for (i, (x, y)) in a.sources.iter().zip(&b.sources).enumerate() {
        let (px, py) = (&x.params, &y.params);
        let bits = |p: &astrosolve_model::SourceParams| {
            [p.ra, p.dec, p.parallax, p.pmra, p.pmdec].map(f64::to_bits)
        };
        assert_eq!(bits(px), bits(py), "{method:?}: source {i}");
        assert_eq!(
            x.cov.map(|r| r.map(f64::to_bits)),
            y.cov.map(|r| r.map(f64::to_bits)),
            "{method:?}: covariance of source {i}"
        );
    }
    for (x, y) in a.attitude.coeffs.iter().zip(&b.attitude.coeffs) {
        assert_eq!(
            x.map(f64::to_bits),
            y.map(f64::to_bits),
            "{method:?}: attitude"
        );
    }
    for (x, y) in a.calibration.params.iter().zip(&b.calibration.params) {
        assert_eq!(x.to_bits(), y.to_bits(), "{method:?}: calibration");
    }
}

/// A store that fails on the third read of one source (the first two: the row count and the
/// start check), as a disk error in mid-solve would.
struct FailingStore<'a> {
    inner: &'a astrosolve_model::ObservationSet,
    reads: std::sync::atomic::AtomicUsize,
}

impl astrosolve_model::ObservationStore for FailingStore<'_> {
    fn source_offsets(&self) -> &[usize] {
        &self.inner.source_offsets
    }

    fn with_source(
        &self,
        i: usize,
        f: &mut dyn FnMut(&[astrosolve_model::Observation]),
    ) -> Result<(), String> {
        use std::sync::atomic::Ordering;
        if i == 7 && self.reads.fetch_add(1, Ordering::SeqCst) >= 2 {
            return Err(format!("source {i}: the disk went away"));
        }
        f(self.inner.of_source(i));
        Ok(())
    }
}

/// Observations that cannot be read in mid-solve stop it with the error that names them
/// (every solver), not a panic or a solution without them.
#[test]
fn an_unreadable_store_stops_the_solve_with_its_error() {
    let s = simulation(300, true, 5);
    for method in [Method::Cg, Method::Lsqr, Method::Direct] {
        let store = FailingStore {
            inner: &s.observations,
            reads: Default::default(),
        };
        let cfg = ScanConfig {
            solver: SolverConfig {
                method,
                min_attitude_redundancy: 0.0,
                allow_unconverged: true,
                ..SolverConfig::scanning()
            },
            ..Default::default()
        };
        let r = solve_store(&s, &store, &cfg);
        match r {
            Err(astrosolve_core::SolveError::Data(m)) => {
                assert!(m.contains("source 7: the disk went away"), "{m}")
            }
            Err(e) => panic!("{method:?}: another error: {e}"),
            Ok(_) => panic!("{method:?}: solved without source 7's observations"),
        }
    }
}
