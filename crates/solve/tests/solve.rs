//! The global solution against simulated truth and against its own linear algebra.

use astrosolve_model::units::{MAS, UAS};
use astrosolve_model::MissionConfig;
use astrosolve_sim::{simulate_gaia, SimConfig, Simulation};
use astrosolve_solve::design::Design;
use astrosolve_solve::frame::{null_vectors, position_difference};
use astrosolve_solve::system::System;
use astrosolve_solve::*;

fn simulation(n_sources: usize, noiseless: bool) -> Simulation {
    let mission = MissionConfig::default();
    let sim = SimConfig {
        n_sources,
        noiseless,
        seed: 21,
        ..Default::default()
    };
    simulate_gaia(&mission, &sim, &|_| {}).unwrap()
}

fn frame_reference(s: &Simulation) -> FrameReference {
    FrameReference {
        positions: s
            .reference_positions
            .iter()
            .map(|r| (r.source_index, r.ra, r.dec, r.sigma))
            .collect(),
        zero_spin: s
            .truth_sources
            .iter()
            .enumerate()
            .filter(|(_, x)| x.is_qso)
            .map(|(i, _)| i)
            .collect(),
    }
}

/// Linearises at (params, attitude, calibration) with plain 1/σ² weights and hands the
/// assembled normal equations to `f`.
fn with_system<R>(
    s: &Simulation,
    params: &[astrosolve_model::SourceParams],
    att: &astrosolve_model::BSplineAttitude,
    cal: &astrosolve_model::Calibration,
    f: impl FnOnce(&System) -> R,
) -> R {
    let model = s.model();
    let (w, wz) = astrosolve_solve::design::statistical_weights(&s.observations);
    let design = Design::build(&model, &s.observations, params, att, cal, &w, &wz);
    let norms = astrosolve_solve::system::coefficient_norms(att);
    let sys = System::assemble(
        &s.observations,
        &design,
        att,
        &norms,
        cal,
        &model.instrument,
        10,
    );
    f(&sys)
}

/// The assembled normal equations are those of the model: the true correction Δx (truth −
/// start) satisfies N Δx = b to the single precision of the stored design equations, and the
/// linearised model reproduces the residuals.
#[test]
fn normal_equations_are_consistent_with_the_model() {
    let s = simulation(600, true);
    let params: Vec<_> = s.start_sources.iter().map(|x| x.params).collect();
    with_system(
        &s,
        &params,
        &s.start_attitude,
        &s.start_calibration,
        |sys| {
            let l = sys.layout;
            let mut dx = vec![0.0; l.len()];
            for i in 0..l.n_src {
                let (t, p) = (&s.truth_sources[i].params, &params[i]);
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
                    dx[l.att0() + 4 * k + r] = a[r] - b[r];
                }
            }
            for (k, (a, b)) in s
                .truth_calibration
                .params
                .iter()
                .zip(&s.start_calibration.params)
                .enumerate()
            {
                dx[l.cal0() + k] = a - b;
            }
            // inactive sources keep their starting values: compare active parts only
            for i in 0..l.n_src {
                if !sys.active[i] {
                    dx[5 * i..5 * i + 5].iter_mut().for_each(|v| *v = 0.0);
                }
            }
            let mut ndx = vec![0.0; l.len()];
            sys.apply(&dx, &mut ndx);
            for (a, b, name) in [
                (0, l.att0(), "sources"),
                (l.att0(), l.cal0(), "attitude"),
                (l.cal0(), l.len(), "calibration"),
            ] {
                let num: f64 = (a..b)
                    .filter(|&k| k >= l.att0() || sys.active[k / 5])
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
            // symmetric operator
            let p: Vec<f64> = (0..l.len())
                .map(|i| ((i * 7919) % 1000) as f64 / 1000.0 - 0.5)
                .collect();
            let mut np = vec![0.0; l.len()];
            sys.apply(&p, &mut np);
            let mut nx = vec![0.0; l.len()];
            sys.apply(&dx, &mut nx);
            let a: f64 = dx.iter().zip(&np).map(|(x, y)| x * y).sum();
            let b: f64 = p.iter().zip(&nx).map(|(x, y)| x * y).sum();
            assert!(
                (a - b).abs() < 1e-9 * a.abs().max(b.abs()),
                "pᵀNx {a} vs xᵀNp {b}"
            );
        },
    )
}

/// The six frame vectors are (near-)null vectors of the unconstrained normal matrix:
/// orientation exactly (to the f32 design precision), spin to the B-spline's ability to
/// represent a linearly growing rotation; any other direction is not.
#[test]
fn frame_rotations_and_spins_are_null_vectors() {
    let s = simulation(600, true);
    let params: Vec<_> = s.truth_sources.iter().map(|x| x.params).collect();
    with_system(
        &s,
        &params,
        &s.truth_attitude,
        &s.truth_calibration,
        |sys| {
            let l = sys.layout;
            let rayleigh = |v: &[f64]| {
                let mut nv = vec![0.0; l.len()];
                sys.apply(v, &mut nv);
                let vnv: f64 = v.iter().zip(&nv).map(|(a, b)| a * b).sum();
                let vv: f64 = v.iter().map(|a| a * a).sum();
                vnv / vv
            };
            let mut vecs = null_vectors(&params, &sys.active, &s.truth_attitude);
            vecs.iter_mut().for_each(|v| v.resize(l.len(), 0.0));
            // reference: a rotation of the sources alone (attitude fixed) is not a null vector
            let mut src_only = vecs[2].clone();
            src_only[l.att0()..].iter_mut().for_each(|v| *v = 0.0);
            let scale = rayleigh(&src_only);
            for (k, v) in vecs.iter().enumerate() {
                let r = rayleigh(v) / scale;
                let limit = if k < 3 { 1e-6 } else { 1e-3 };
                assert!(
                    r < limit,
                    "frame vector {k}: Rayleigh quotient {r:.2e} of the non-null reference"
                );
            }
        },
    )
}

/// Noiseless data from a start tens of mas away: the outer iterations converge (largest
/// update below 1 µas) and recover the truth to a few µas; the frame matches the truth to
/// the precision of the reference positions and quasar proper motions.
#[test]
fn noiseless_solution_recovers_the_truth() {
    let s = simulation(2500, true);
    let cfg = SolverConfig {
        max_outer: 15,
        ..Default::default()
    };
    let sol = solve(
        &s.model(),
        &s.observations,
        &s.start_sources,
        &s.start_attitude,
        &s.start_calibration,
        &frame_reference(&s),
        &cfg,
        &mut |_| {},
    );
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
    // the frame is fixed by 0.2-mas reference positions: compare after removing it
    let est: Vec<_> = sol.sources.iter().map(|x| x.params).collect();
    let tru: Vec<_> = s.truth_sources.iter().map(|x| x.params).collect();
    let idx: Vec<usize> = (0..est.len()).filter(|&i| sol.sources[i].solved).collect();
    let (eps, omega) = frame::relative_frame(&est, &tru, &idx).unwrap();
    let eps_abs = eps.iter().map(|v| v * v).sum::<f64>().sqrt();
    let om_abs = omega.iter().map(|v| v * v).sum::<f64>().sqrt();
    // reference positions: 0.2 mas over ~100 quasars → ~0.02 mas per axis
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
        let e = [
            position_difference(&a[i], &tru[i]).0,
            position_difference(&a[i], &tru[i]).1,
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

/// Simple iteration and PCG solve the same non-linear problem to the same answer (every
/// parameter within 0.01 µas), PCG with clearly fewer inner iterations.
#[test]
fn simple_iteration_and_cg_agree() {
    let s = simulation(4000, false);
    let run = |method| {
        let cfg = SolverConfig {
            method,
            outer_tol_uas: 0.002,
            inner_tol: 1e-11,
            max_inner: 4000,
            max_outer: 20,
            ..Default::default()
        };
        solve(
            &s.model(),
            &s.observations,
            &s.start_sources,
            &s.start_attitude,
            &s.start_calibration,
            &frame_reference(&s),
            &cfg,
            &mut |_| {},
        )
    };
    let cg = run(InnerMethod::Cg);
    let bi = run(InnerMethod::Bi);
    assert!(cg.report.converged && bi.report.converged);
    eprintln!(
        "inner iterations: CG {} in {} outer, SI {} in {} outer",
        cg.report.inner_iterations,
        cg.report.outer_iterations,
        bi.report.inner_iterations,
        bi.report.outer_iterations
    );
    assert!(
        4 * cg.report.inner_iterations < 3 * bi.report.inner_iterations,
        "CG should need clearly fewer iterations"
    );
    let mut worst: f64 = 0.0;
    for (a, b) in cg.sources.iter().zip(&bi.sources) {
        assert_eq!(a.solved, b.solved);
        if !a.solved {
            continue;
        }
        let (da, dd) = position_difference(&a.params, &b.params);
        for d in [
            da,
            dd,
            a.params.parallax - b.params.parallax,
            a.params.pmra - b.params.pmra,
            a.params.pmdec - b.params.pmdec,
        ] {
            worst = worst.max(d.abs());
        }
    }
    for (a, b) in cg.calibration.params.iter().zip(&bi.calibration.params) {
        worst = worst.max((a - b).abs());
    }
    for t in
        (0..2000).map(|i| s.mission.t_start() + s.mission.duration_days * (i as f64 + 0.5) / 2000.0)
    {
        let d = astrosolve_model::quat::mul(
            &astrosolve_model::quat::conj(&cg.attitude.quat(t)),
            &bi.attitude.quat(t),
        );
        worst = worst.max(2.0 * (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt());
    }
    eprintln!("largest CG − SI difference: {:.5} µas", worst / UAS);
    assert!(
        worst < 0.01 * UAS,
        "CG and SI differ by {} µas",
        worst / UAS
    );
}

/// With 1 % gross outliers the robust weighting rejects them and the parallaxes stay
/// unbiased (mean normalised error below 0.1 in absolute value).
#[test]
fn outliers_are_flagged_and_parallaxes_stay_unbiased() {
    let mission = MissionConfig::default();
    let sim = SimConfig {
        n_sources: 4000,
        outlier_rate: 0.01,
        seed: 33,
        ..Default::default()
    };
    let s = simulate_gaia(&mission, &sim, &|_| {}).unwrap();
    let sol = solve(
        &s.model(),
        &s.observations,
        &s.start_sources,
        &s.start_attitude,
        &s.start_calibration,
        &frame_reference(&s),
        &SolverConfig::default(),
        &mut |_| {},
    );
    assert!(sol.report.converged);
    let c = truth::compare(&sol.sources, &s.truth_sources, 20);
    assert!(
        c.parallax.normalised_mean.abs() < 0.1,
        "mean normalised parallax error {}",
        c.parallax.normalised_mean
    );
    // outliers of solved sources are flagged: compare the rejected observations with the truth
    let mut flagged_outliers = 0usize;
    let mut n_outliers = 0usize;
    let mut false_alarms = 0usize;
    let mut n_good = 0usize;
    for (i, r) in sol.sources.iter().enumerate() {
        if !r.solved {
            continue;
        }
        let range = s.observations.source_offsets[i]..s.observations.source_offsets[i + 1];
        let outl = range.clone().filter(|&l| s.is_outlier[l]).count();
        n_outliers += outl;
        n_good += range.len() - outl;
        // bad = rejected; at most the outliers plus a few false alarms
        flagged_outliers += (r.n_bad_obs_al as usize).min(outl);
        false_alarms += (r.n_bad_obs_al as usize).saturating_sub(outl);
    }
    assert!(n_outliers > 3000);
    assert!(
        flagged_outliers as f64 > 0.8 * n_outliers as f64,
        "{flagged_outliers} of {n_outliers} outliers flagged"
    );
    assert!(
        (false_alarms as f64) < 1e-3 * n_good as f64,
        "{false_alarms} false alarms among {n_good} good observations"
    );
}
