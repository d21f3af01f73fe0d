//! Four solvers, one answer: simple iteration, PCG, LSQR and the direct solver of the core solve
//! the same linearised, frame-constrained system of the scanning instrument; the reduced normal
//! matrix shows the six frame modes; the full covariance is exact and calibrated.
#![allow(clippy::needless_range_loop)]

mod common;

use astrosolve_core::cg::pcg;
use astrosolve_core::gauss_seidel::simple_iteration;
use astrosolve_core::lsqr::{lsqr, LinearOperator, LsqrConfig};
use astrosolve_core::rows::{Preconditioned, Rows};
use astrosolve_core::schur::Reduced;
use astrosolve_core::{LsqrPreconditioner, Method, SolverConfig, W_SCALE};
use astrosolve_model::quat;
use astrosolve_scanning::frame::null_vectors;
use astrosolve_scanning::*;
use common::*;
use std::time::Instant;

/// The row form is the normal equations: Aᵀu = b and Aᵀ(A p) = N p; the reduced matrix
/// matches the operator; the direct solution solves N x = b.
#[test]
fn rows_reproduce_the_normal_equations() {
    let s = slow_spin(800, 3);
    let st = state(&s, true);
    with_linear_system(&s, &st, |sys, ws| {
        let n = sys.n();
        let rows = Rows::new(sys);
        let u = rows.rhs();
        let mut atb = vec![0.0; n];
        rows.rmatvec(&u, &mut atb);
        let e = atb
            .iter()
            .zip(&sys.b)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let bmax = sys.b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        println!("Aᵀu vs b: {e:.3e} of {bmax:.3e}");
        assert!(e < 1e-9 * bmax);
        let p: Vec<f64> = (0..n)
            .map(|j| (j * 7919 % 1000) as f64 / 500.0 - 1.0)
            .collect();
        let mut ap = vec![0.0; rows.n_rows()];
        rows.matvec(&p, &mut ap);
        let mut atap = vec![0.0; n];
        rows.rmatvec(&ap, &mut atap);
        let mut mp = vec![0.0; n];
        sys.apply(&p, &mut mp, ws);
        let e = atap
            .iter()
            .zip(&mp)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let mmax = mp.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        println!("AᵀAp vs Np: {e:.3e} of {mmax:.3e}");
        assert!(e < 1e-9 * mmax);
        // R p_g against the operator: p_s = −D⁻¹ E p_g, then N (p_s, p_g) = (0, R p_g)
        let red = Reduced::assemble(sys, true);
        let g0 = sys.g0();
        let mut pa = vec![0.0; n];
        for j in g0..n {
            pa[j] = (j * 131 % 97) as f64 / 48.0 - 1.0;
        }
        let mut t = vec![0.0; n];
        sys.apply_unconstrained(&pa, &mut t, ws);
        let mut z = vec![0.0; n];
        sys.precondition(&t, &mut z);
        for j in 0..g0 {
            pa[j] = -z[j];
        }
        sys.apply_unconstrained(&pa, &mut t, ws);
        let rp = red.mul(&pa[g0..]);
        let e = rp
            .iter()
            .zip(&t[g0..])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let m = rp.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        println!("R p vs operator: {e:.3e} of {m:.3e}");
        assert!(e < 1e-8 * m);
        let mut red = red;
        let (x, _) = red.solve_constrained().unwrap();
        let r = residual(sys, ws, &x);
        println!("direct: relative residual {r:.3e}");
        assert!(r < 1e-8);
    });
}

/// CG's fused update (one visit per source chunk) gives the bits of its four sweeps:
/// x += αp, r −= αq, z = K⁻¹r, (rᵀz, max |z|).
#[test]
fn cg_update_gives_the_bits_of_its_four_sweeps() {
    let s = slow_spin(800, 3);
    let st = state(&s, true);
    with_linear_system(&s, &st, |sys, ws| {
        let n = sys.n();
        let v = |a: usize, b: usize| -> Vec<f64> {
            (0..n)
                .map(|j| (j * a % b) as f64 / b as f64 - 0.5)
                .collect()
        };
        let p = v(7919, 1000);
        let mut q = vec![0.0; n];
        sys.apply(&p, &mut q, ws);
        let (x0, r0) = (v(131, 97), v(17, 89));
        let alpha = 0.37;
        let (mut x1, mut r1) = (x0.clone(), r0.clone());
        for j in 0..n {
            x1[j] += alpha * p[j];
            r1[j] -= alpha * q[j];
        }
        let mut z1 = vec![0.0; n];
        sys.precondition(&r1, &mut z1);
        let (rz1, m1) = sys.dot_and_max_abs(&r1, &z1);
        let (mut x2, mut r2, mut z2) = (x0, r0, vec![0.0; n]);
        let (rz2, m2) = sys.cg_update(alpha, &p, &q, &mut x2, &mut r2, &mut z2);
        assert!(sys.chunks.len() > 1, "one chunk only: {:?}", sys.chunks);
        assert_eq!((x1, r1, z1), (x2, r2, z2));
        assert_eq!((rz1.to_bits(), m1.to_bits()), (rz2.to_bits(), m2.to_bits()));
    });
}

/// 3000 sources, one year: ≈ 33 observations per attitude unknown.
fn standard() -> astrosolve_sim::Simulation {
    slow_spin(3000, 7)
}

#[test]
fn four_solvers_agree_on_one_linear_step() {
    let s = standard();
    let st = state(&s, true);
    let n_att = st.attitude.n_params();
    with_linear_system(&s, &st, |sys, ws| {
        println!(
            "{} sources, {} rows, {} global unknowns",
            sys.n_src,
            sys.design.n_rows(),
            sys.layout.n
        );
        let t = Instant::now();
        let mut red = Reduced::assemble(sys, true);
        let (x_direct, _) = red.solve_constrained().unwrap();
        println!(
            "direct: {:.2} s, residual {:.1e}",
            t.elapsed().as_secs_f64(),
            residual(sys, ws, &x_direct)
        );
        let t = Instant::now();
        let (x_cg, rep_cg) = pcg(sys, ws, 1e-11, 0.0, 20_000, &mut |_, _| true);
        println!(
            "pcg: {} iterations, {:.2} s",
            rep_cg.iterations,
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let (x_si, rep_si) = simple_iteration(sys, ws, 1e-11, 0.0, 40_000, &mut |_, _| true);
        println!(
            "si: {} iterations, {:.2} s",
            rep_si.iterations,
            t.elapsed().as_secs_f64()
        );
        let rows = Rows::new(sys);
        let pre = Preconditioned::new(&rows, LsqrPreconditioner::Blocks);
        let t = Instant::now();
        let res = lsqr(
            &pre,
            &rows.rhs(),
            &LsqrConfig {
                atol: 1e-12,
                btol: 1e-12,
                conlim: 0.0,
                iter_lim: 50_000,
                calc_var: false,
                ..Default::default()
            },
            &mut |_| {},
            &mut |_, _| true,
        );
        let mut x_lsqr = res.x.clone();
        pre.solve(&mut x_lsqr);
        println!(
            "lsqr: {} iterations, {:.2} s, stop {:?}",
            res.itn,
            t.elapsed().as_secs_f64(),
            res.stop
        );
        let d_cg = max_diff_uas(sys, n_att, &x_cg, &x_direct);
        let d_si = max_diff_uas(sys, n_att, &x_si, &x_direct);
        let d_lsqr = max_diff_uas(sys, n_att, &x_lsqr, &x_direct);
        println!(
            "largest difference from direct: pcg {d_cg:.2e}, si {d_si:.2e}, lsqr {d_lsqr:.2e} µas"
        );
        assert!(rep_cg.converged && rep_si.converged && res.stop.converged());
        assert!(d_cg < 0.01, "pcg differs by {d_cg} µas");
        assert!(d_si < 0.01, "simple iteration differs by {d_si} µas");
        assert!(d_lsqr < 0.01, "lsqr differs by {d_lsqr} µas");
    });
}

/// Without constraints or damping the reduced normal matrix has exactly six eigenvalues at
/// zero (relative to the largest), and their eigenvectors are the frame rotations and spins.
#[test]
fn reduced_matrix_has_exactly_six_frame_modes() {
    let s = standard();
    let st = state(&s, true);
    with_linear_system(&s, &st, |sys, _| {
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
        assert!(
            ev[6] > 50.0 * ev[5].abs(),
            "no clear gap above the six frame modes"
        );
        let g0 = sys.g0();
        for (k, v) in null_vectors(&st.params, &sys.active, &st.attitude)
            .iter()
            .enumerate()
        {
            let mut va = v[g0..].to_vec();
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

/// The full covariance is the inverse of the constrained normal matrix: N applied to a column
/// of it gives the unit vector (a parallax, an attitude and a calibration unknown).
#[test]
fn full_covariance_inverts_the_normal_matrix() {
    let s = slow_spin(800, 3);
    let st = state(&s, true);
    let n_att = st.attitude.n_params();
    with_linear_system(&s, &st, |sys, ws| {
        let n = sys.n();
        let g0 = sys.g0();
        let mut red = Reduced::assemble(sys, true);
        let (_, cons) = red.solve_constrained().unwrap();
        let cov = red.covariance(cons);
        let src = (0..sys.n_src).find(|&i| sys.active[i]).unwrap();
        for j in [NS * src + 2, g0 + n_att / 2 + 1, g0 + n_att + 7] {
            let col: Vec<f64> = (0..n).map(|i| cov.element(i, j)).collect();
            let mut mc = vec![0.0; n];
            sys.apply(&col, &mut mc, ws);
            mc[j] -= 1.0;
            let e = mc.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            println!("unknown {j}: max |N c − e| = {e:.2e}");
            assert!(e < 1e-6);
            let i = NS * (src + 1) + 2;
            let (a, b) = (cov.element(i, j), cov.element(j, i));
            assert!((a - b).abs() <= 1e-9 * (a.abs() + b.abs()) + 1e-300);
        }
        let blk = cov.source_block(src);
        for a in 0..NS {
            for b in 0..NS {
                let e = cov.element(NS * src + a, NS * src + b);
                assert!((blk[a][b] - e).abs() <= 1e-12 * e.abs().max(1e-30));
            }
        }
    });
}

/// Honest uncertainties: with the direct solver's full covariance the parallax errors against
/// the truth have RMS(error/σ) within 0.95–1.05, the inverse-block errors underestimate them,
/// and the attitude and calibration are recovered within their noise.
#[test]
fn full_covariance_errors_are_calibrated() {
    let s = standard();
    let cfg = ScanConfig {
        solver: SolverConfig {
            method: Method::Direct,
            robust: false,
            spectrum: false,
            // ≈ 33 measurements per attitude unknown: below the default redundancy, which
            // protects the inverse-block errors; the full covariance is the honest one here
            min_attitude_redundancy: 0.0,
            ..SolverConfig::scanning()
        },
        frame: FrameMode::Gaia,
    };
    let t = Instant::now();
    let sol = solve_with(&s, &cfg);
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
        s_full += e * e / r.cov[2][2];
        s_block += e * e / r.cov_block.unwrap()[2][2];
        n += 1;
    }
    let (full, block) = ((s_full / n as f64).sqrt(), (s_block / n as f64).sqrt());
    let under = sol.report.block_underestimation.clone().unwrap();
    println!("{n} sources: parallax RMS(error/σ) full covariance {full:.3}, inverse block {block:.3}; block underestimation {under:.3?}");
    assert!(n >= 1000);
    assert!(
        (0.95..=1.05).contains(&full),
        "full-covariance normalised RMS {full}"
    );
    assert!(under[2] > 1.0 && block > full);

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
    // attitude: adjacent-coefficient differences of the rotation from the truth (ICRS), free of
    // the frame's orientation
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
    println!("calibration: RMS(error/σ) {cal_rms:.3} over {} parameters; attitude: {att_rms:.3?} over {} coefficients", cal_norm.len(), att.coeffs.len());
    assert!(
        (0.85..=1.15).contains(&cal_rms),
        "calibration normalised RMS {cal_rms}"
    );
    for v in att_rms {
        assert!((0.85..=1.15).contains(&v), "attitude normalised RMS {v}");
    }
}
