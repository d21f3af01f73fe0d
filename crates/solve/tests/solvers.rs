//! Four solvers, one answer: simple iteration, PCG, LSQR and the direct solver solve the same
//! linearised, frame-constrained system; the direct solver's reduced normal matrix shows the
//! six frame modes; its full covariance is exact and calibrated against the truth.
#![allow(clippy::needless_range_loop)]

use astrosolve_model::quat;
use astrosolve_model::units::UAS;
use astrosolve_model::MissionConfig;
use astrosolve_sim::{simulate_gaia, SimConfig, Simulation};
use astrosolve_solve::design::{NS, W_SCALE};
use astrosolve_solve::direct::Reduced;
use astrosolve_solve::frame::null_vectors;
use astrosolve_solve::lsqr::{lsqr, LsqrConfig};
use astrosolve_solve::rows::Rows;
use astrosolve_solve::system::System;
use astrosolve_solve::*;
use std::time::Instant;

/// A one-year mission of an instrument spinning at 30″/s (12 h per revolution), which allows
/// 6-h attitude knots: the reduced system stays at ≈ 7000 unknowns while every source gets the
/// visibility periods of a year.
fn simulation(n_sources: usize, days: f64, seed: u64) -> Simulation {
    let mission = MissionConfig {
        duration_days: days,
        ..Default::default()
    };
    let sim = SimConfig {
        n_sources,
        seed,
        outlier_rate: 0.0,
        spin_rate_arcsec_s: 30.0,
        ..Default::default()
    };
    simulate_gaia(&mission, &sim, &|_| {}).unwrap()
}

fn solver_config() -> SolverConfig {
    SolverConfig::default()
}

/// A linear step as the outer loop makes it (1/σ² weights, unsolvable sources dropped, frame
/// vectors set), linearised at the true parameters — its solution is then the least-squares
/// estimate's error, as at the end of a solution — or at the far starting point.
fn with_linear_system<R>(s: &Simulation, f: impl FnOnce(&System) -> R) -> R {
    with_linear_system_at(s, true, f)
}

fn with_linear_system_at<R>(s: &Simulation, at_truth: bool, f: impl FnOnce(&System) -> R) -> R {
    let model = s.model();
    let (sources, att, cal) = if at_truth {
        (&s.truth_sources, &s.truth_attitude, &s.truth_calibration)
    } else {
        (&s.start_sources, &s.start_attitude, &s.start_calibration)
    };
    let params: Vec<_> = sources.iter().map(|x| x.params).collect();
    // weights as the outer loop's first iteration sets them (1/σ², unsolvable sources dropped)
    let (design, _) = solve::linearise(
        &model,
        &s.observations,
        &params,
        att,
        cal,
        &solver_config(),
        false,
    );
    let norms = astrosolve_solve::system::coefficient_norms(att);
    let mut sys = System::assemble(
        &s.observations,
        &design,
        att,
        &norms,
        cal,
        &model.instrument,
        10,
    );
    sys.constrain_frame(&params, att);
    f(&sys)
}

/// Largest difference between two updates in µas (µas/yr): source parameters as they are,
/// attitude coefficients ×2 (rotation angle), calibration as it is.
fn max_diff_uas(sys: &System, a: &[f64], b: &[f64]) -> f64 {
    let l = sys.layout;
    let mut m: f64 = 0.0;
    for j in 0..l.len() {
        let f = if j >= l.att0() && j < l.cal0() {
            2.0
        } else {
            1.0
        };
        m = m.max(f * (a[j] - b[j]).abs());
    }
    m / UAS
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Relative residual ‖M x − b‖ / ‖b‖ of the constrained normal equations.
fn residual(sys: &System, x: &[f64]) -> f64 {
    let mut mx = vec![0.0; x.len()];
    sys.apply(x, &mut mx);
    let r: Vec<f64> = mx.iter().zip(&sys.b).map(|(a, b)| a - b).collect();
    (dot(&r, &r) / dot(&sys.b, &sys.b)).sqrt()
}

/// The row form is the normal equations: Aᵀb = b_N and Aᵀ(A p) = M p.
#[test]
fn rows_reproduce_the_normal_equations() {
    let s = simulation(800, 365.25, 3);
    with_linear_system(&s, |sys| {
        let l = sys.layout;
        println!(
            "{} sources ({} solved), {} observations, {} attitude + {} calibration unknowns",
            l.n_src,
            sys.active.iter().filter(|a| **a).count(),
            s.observations.len(),
            l.n_att,
            l.n_cal
        );
        let rows = Rows::new(sys);
        let n = rows.n_cols();
        let u = rows.rhs();
        let mut atb = vec![0.0; n];
        rows.mul_t(&u, &mut atb);
        let e: f64 = atb
            .iter()
            .zip(&sys.b)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let bmax = sys.b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        println!("Aᵀb vs b: {e:.3e} of {bmax:.3e}");
        assert!(e < 1e-9 * bmax);
        let p: Vec<f64> = (0..n)
            .map(|j| ((j * 7919 % 1000) as f64 / 500.0 - 1.0) * 1e-8)
            .collect();
        let mut ap = vec![0.0; rows.n_rows()];
        rows.mul(&p, &mut ap);
        let mut atap = vec![0.0; n];
        rows.mul_t(&ap, &mut atap);
        let mut mp = vec![0.0; n];
        sys.apply(&p, &mut mp);
        let e: f64 = atap
            .iter()
            .zip(&mp)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let mmax = mp.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        println!("AᵀAp vs Mp: {e:.3e} of {mmax:.3e}");
        assert!(e < 1e-9 * mmax);
        let mut red = Reduced::assemble(sys, true);
        {
            // R p_a against the operator: p_s = −D⁻¹ N_sa p_a, then N (p_s, p_a) = (0, R p_a)
            let l = sys.layout;
            let mut pa = vec![0.0; n];
            for j in l.att0()..n {
                pa[j] = ((j * 131 % 97) as f64 / 48.0 - 1.0) * 1e-8;
            }
            let mut t = vec![0.0; n];
            sys.apply_unconstrained(&pa, &mut t);
            let mut z = vec![0.0; n];
            sys.precondition(&t, &mut z);
            for j in 0..l.att0() {
                pa[j] = -z[j];
            }
            sys.apply_unconstrained(&pa, &mut t);
            let rp = red.mul(&pa[l.att0()..]);
            let e: f64 = rp
                .iter()
                .zip(&t[l.att0()..])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            let m = rp.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let es: f64 = t[..l.att0()].iter().fold(0.0f64, |m, v| m.max(v.abs()));
            println!("R p vs operator: {e:.3e} of {m:.3e}; source part {es:.3e}");
        }
        let (x, _) = red.solve_constrained().unwrap();
        let r = residual(sys, &x);
        println!("direct: relative residual {r:.3e}");
        assert!(r < 1e-8);
    });
}

/// 3000 sources, one year: ≈ 33 observations per attitude unknown.
fn standard() -> Simulation {
    simulation(3000, 365.25, 7)
}

#[test]
fn four_solvers_agree_on_one_linear_step() {
    let s = standard();
    with_linear_system(&s, |sys| {
        let l = sys.layout;
        println!(
            "{} sources, {} observations, {} attitude + {} calibration unknowns",
            l.n_src,
            s.observations.len(),
            l.n_att,
            l.n_cal
        );
        let t = Instant::now();
        let mut red = Reduced::assemble(sys, true);
        let (x_direct, _) = red.solve_constrained().unwrap();
        println!(
            "direct: {:.2} s, residual {:.1e}",
            t.elapsed().as_secs_f64(),
            residual(sys, &x_direct)
        );
        let t = Instant::now();
        let (x_cg, rep_cg) = inner::pcg(sys, 1e-11, 20_000, &mut |_, _| {});
        println!(
            "pcg: {} iterations, {:.2} s",
            rep_cg.iterations,
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let (x_si, rep_si) = inner::simple_iteration(sys, 1e-11, 40_000, &mut |_, _| {});
        println!(
            "si: {} iterations, {:.2} s",
            rep_si.iterations,
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let res = lsqr(
            &Rows::new(sys),
            &LsqrConfig {
                atol: 1e-12,
                btol: 1e-12,
                conlim: 1e16,
                max_iter: 50_000,
                ..Default::default()
            },
            &mut |_, _| {},
        );
        println!(
            "lsqr: {} iterations, {:.2} s, stop {:?}, cond estimate {:.2e}",
            res.iterations,
            t.elapsed().as_secs_f64(),
            res.stop,
            res.acond
        );
        let d_cg = max_diff_uas(sys, &x_cg, &x_direct);
        let d_si = max_diff_uas(sys, &x_si, &x_direct);
        let d_lsqr = max_diff_uas(sys, &res.x, &x_direct);
        println!(
            "largest difference from direct: pcg {d_cg:.2e}, si {d_si:.2e}, lsqr {d_lsqr:.2e} µas"
        );
        assert!(rep_cg.converged && rep_si.converged);
        assert!(d_cg < 0.01, "pcg differs by {d_cg} µas");
        assert!(d_si < 0.01, "simple iteration differs by {d_si} µas");
        assert!(d_lsqr < 0.01, "lsqr differs by {d_lsqr} µas");
    });
}

/// Without constraints or damping the reduced normal matrix has exactly six eigenvalues at
/// zero (relative to the largest), and their eigenvectors are the frame rotations and spins:
/// each frame vector (attitude part) lies in the span of the six eigenvectors.
#[test]
fn reduced_matrix_has_exactly_six_frame_modes() {
    let s = standard();
    with_linear_system(&s, |sys| {
        let red = Reduced::assemble(sys, false);
        let t = Instant::now();
        let (ev, u) = red.eigen().unwrap();
        let top = *ev.last().unwrap();
        println!(
            "{} eigenvalues and eigenvectors in {:.1} s",
            ev.len(),
            t.elapsed().as_secs_f64()
        );
        for (j, v) in ev.iter().take(8).enumerate() {
            println!("  λ{} / λmax = {:.3e}", j + 1, v / top);
        }
        let near_zero = ev.iter().filter(|v| v.abs() < 1e-10 * top).count();
        assert_eq!(near_zero, 6, "near-zero eigenvalues: {near_zero}");
        // orientation modes are exact (≈ 1e-17), spin modes only near-exact (≈ 1e-11): a
        // spline attitude cannot follow a rotation that grows within a knot interval
        assert!(
            ev[6] > 50.0 * ev[5].abs(),
            "no clear gap above the six frame modes"
        );
        // frame vectors at the linearisation point (the truth)
        let params: Vec<_> = s.truth_sources.iter().map(|x| x.params).collect();
        let l = sys.layout;
        for (k, v) in null_vectors(&params, &sys.active, &s.truth_attitude)
            .iter()
            .enumerate()
        {
            let mut va = v[l.att0()..].to_vec();
            va.resize(red.n, 0.0);
            let nn = dot(&va, &va).sqrt();
            va.iter_mut().for_each(|x| *x /= nn);
            let mut inside = 0.0;
            for j in 0..6 {
                let c: f64 = (0..red.n).map(|i| u[(i, j)] * va[i]).sum();
                inside += c * c;
            }
            let outside = (1.0 - inside).max(0.0).sqrt();
            println!("  frame vector {k}: norm outside the six eigenvectors {outside:.1e}");
            assert!(outside < 0.01, "frame vector {k}: {outside}");
        }
    });
}

/// The full covariance is the inverse of the constrained normal matrix: M applied to a column
/// of it gives the unit vector (a parallax, an attitude and a calibration unknown).
#[test]
fn full_covariance_inverts_the_normal_matrix() {
    let s = simulation(800, 365.25, 3);
    with_linear_system(&s, |sys| {
        let l = sys.layout;
        let mut red = Reduced::assemble(sys, true);
        let (_, cons) = red.solve_constrained().unwrap();
        let cov = red.covariance(cons);
        let src = (0..l.n_src).find(|&i| sys.active[i]).unwrap();
        for j in [NS * src + 2, l.att0() + l.n_att / 2 + 1, l.cal0() + 7] {
            let col: Vec<f64> = (0..l.len()).map(|i| cov.element(i, j)).collect();
            let mut mc = vec![0.0; l.len()];
            sys.apply(&col, &mut mc);
            mc[j] -= 1.0;
            let e = mc.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            println!("unknown {j}: max |M c − e| = {e:.2e}");
            assert!(e < 1e-6);
            // symmetry of the element accessor
            let i = NS * (src + 1) + 2;
            let (a, b) = (cov.element(i, j), cov.element(j, i));
            assert!((a - b).abs() <= 1e-9 * (a.abs() + b.abs()) + 1e-300);
        }
        let blk = cov.source_block(src);
        for a in 0..NS {
            for b in 0..NS {
                let e = cov.element(NS * src + a, NS * src + b);
                assert!((blk[a * NS + b] - e).abs() <= 1e-12 * e.abs().max(1e-30));
            }
        }
    });
}

/// Honest uncertainties: with the direct solver's full covariance the parallax errors against
/// the truth have RMS(error/σ) within 0.95–1.05; the inverse-block errors underestimate.
#[test]
fn full_covariance_errors_are_calibrated() {
    let s = standard();
    let cfg = SolverConfig {
        method: InnerMethod::Direct,
        robust: false,
        spectrum: false,
        ..solver_config()
    };
    let fr = FrameReference {
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
    };
    let t = Instant::now();
    let sol = try_solve(
        &s.model(),
        &s.observations,
        &s.start_sources,
        &s.start_attitude,
        &s.start_calibration,
        &fr,
        &cfg,
        &mut |_| {},
    )
    .unwrap();
    println!(
        "direct: {} outer iterations, converged {}, {:.1} s",
        sol.report.outer_iterations,
        sol.report.converged,
        t.elapsed().as_secs_f64()
    );
    assert!(sol.report.converged);
    let (mut n, mut s_full, mut s_block) = (0usize, 0.0, 0.0);
    for (r, tr) in sol.sources.iter().zip(&s.truth_sources) {
        if !r.solved || r.n_good_obs_al < 20 {
            continue;
        }
        let e = r.params.parallax - tr.params.parallax;
        s_full += e * e / r.cov[2 * NS + 2];
        s_block += e * e / r.cov_block.unwrap()[2 * NS + 2];
        n += 1;
    }
    let (full, block) = ((s_full / n as f64).sqrt(), (s_block / n as f64).sqrt());
    let under = sol.report.block_underestimation.unwrap();
    let c = truth::compare(&sol.sources, &s.truth_sources, 20);
    println!(
        "full covariance, normalised RMS: ra* {:.3} dec {:.3} parallax {:.3} pmra {:.3} pmdec {:.3}",
        c.ra.normalised_rms,
        c.dec.normalised_rms,
        c.parallax.normalised_rms,
        c.pmra.normalised_rms,
        c.pmdec.normalised_rms
    );
    println!(
        "{n} sources: parallax RMS(error/σ) full covariance {full:.3}, inverse block {block:.3}"
    );
    println!("block errors underestimate by (median σ_full/σ_block) {under:.3?}");
    assert!(n >= 1000);
    assert!(
        (0.95..=1.05).contains(&full),
        "full-covariance normalised RMS {full}"
    );
    assert!(under[2] > 1.0 && block > full);

    // Calibration and attitude recovered within their noise (full covariance).
    let cov = sol.covariance.as_ref().unwrap();
    let n_src = s.truth_sources.len();
    let (att0, n_att) = (NS * n_src, sol.attitude.n_params());
    let cal0 = att0 + n_att;
    let cal_norm: Vec<f64> = sol
        .calibration
        .params
        .iter()
        .zip(&s.truth_calibration.params)
        .enumerate()
        .map(|(j, (e, t))| (e - t) / (cov.element(cal0 + j, cal0 + j) * W_SCALE).sqrt())
        .collect();
    let cal_rms = rms(&cal_norm);
    // attitude: rotation (in the ICRS) of each coefficient from the truth; differences of
    // adjacent coefficients, free of the frame's orientation (common to all coefficients in
    // both the errors and the covariance) and of its spin to ω·h
    let att = &sol.attitude;
    let theta = |c: &[f64; 4], t: &[f64; 4]| {
        let d = quat::mul(&quat::normalize(c), &quat::conj(&quat::normalize(t)));
        let sg = if d[3] < 0.0 { -2.0 } else { 2.0 };
        [sg * d[0], sg * d[1], sg * d[2]]
    };
    let with_jacobian = |k: usize| {
        let (c, t) = (&att.coeffs[k], &s.truth_attitude.coeffs[k]);
        let th = theta(c, t);
        let mut jac = [[0.0; 4]; 3];
        for j in 0..4 {
            let mut cp = *c;
            let h = 1e-7;
            cp[j] += h;
            let tp = theta(&cp, t);
            for a in 0..3 {
                jac[a][j] = (tp[a] - th[a]) / h;
            }
        }
        (th, jac)
    };
    let cov4 = |k: usize, l: usize, ja: &[f64; 4], jb: &[f64; 4]| {
        let mut v = 0.0;
        for i in 0..4 {
            for j in 0..4 {
                v += ja[i] * jb[j] * cov.element(att0 + 4 * k + i, att0 + 4 * l + j);
            }
        }
        v
    };
    let mut att_norm: [Vec<f64>; 3] = Default::default();
    for k in 0..att.coeffs.len() - 1 {
        let (t0, j0) = with_jacobian(k);
        let (t1, j1) = with_jacobian(k + 1);
        for a in 0..3 {
            let var = cov4(k, k, &j0[a], &j0[a]) + cov4(k + 1, k + 1, &j1[a], &j1[a])
                - 2.0 * cov4(k, k + 1, &j0[a], &j1[a]);
            att_norm[a].push((t1[a] - t0[a]) / (var * W_SCALE).sqrt());
        }
    }
    let att_rms = att_norm.each_ref().map(|v| rms(v));
    println!(
        "calibration: RMS(error/σ) {cal_rms:.3} over {} parameters; attitude (ICRS x, y, z, adjacent differences): {att_rms:.3?} over {} coefficients",
        cal_norm.len(),
        att.coeffs.len()
    );
    assert!(
        (0.85..=1.15).contains(&cal_rms),
        "calibration normalised RMS {cal_rms}"
    );
    for v in att_rms {
        assert!((0.85..=1.15).contains(&v), "attitude normalised RMS {v}");
    }
}

fn rms(v: &[f64]) -> f64 {
    (v.iter().map(|x| x * x).sum::<f64>() / v.len().max(1) as f64).sqrt()
}
