//! Benchmark (not a test): the same simulated mission solved by all four solvers — simple
//! iteration (bi), PCG (cg), LSQR and direct — with wall time, iterations, peak resident memory
//! and the largest disagreement between their catalogues; then one linearised system exported
//! in Matrix Market format for the SciPy LSQR comparison (scripts/bench_lsqr_scipy.sh).
//!
//! `cargo bench -p astrosolve-solve --bench solvers`; figures in target/bench/solvers.json.
//! Environment: SOLVERS_BENCH_SOURCES (3000), SOLVERS_BENCH_DAYS (365.25),
//! SOLVERS_BENCH_SPIN (spin rate in ″/s, 30: 6-h attitude knots, a reduced system of ≈ 7000
//! unknowns; 60 is Gaia's, with 3-h knots), SOLVERS_BENCH_EXPORT (directory: write the Matrix
//! Market files and skip the four solves).

use astrosolve_model::units::UAS;
use astrosolve_model::MissionConfig;
use astrosolve_sim::{simulate_gaia, SimConfig, Simulation};
use astrosolve_solve::design::NS;
use astrosolve_solve::frame::position_difference;
use astrosolve_solve::lsqr::{lsqr, LsqrConfig};
use astrosolve_solve::rows::Rows;
use astrosolve_solve::system::System;
use astrosolve_solve::*;
use std::io::Write;
use std::time::Instant;

fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets the peak-RSS mark (Linux: "5" to clear_refs).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
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

/// Largest difference of any solved source parameter between two solutions (µas, µas/yr).
fn max_diff(a: &Solution, b: &Solution) -> f64 {
    let mut m: f64 = 0.0;
    for (x, y) in a.sources.iter().zip(&b.sources) {
        if !(x.solved && y.solved) {
            continue;
        }
        let (da, dd) = position_difference(&x.params, &y.params);
        m = m
            .max(da.abs())
            .max(dd.abs())
            .max((x.params.parallax - y.params.parallax).abs())
            .max((x.params.pmra - y.params.pmra).abs())
            .max((x.params.pmdec - y.params.pmdec).abs());
    }
    m / UAS
}

fn main() {
    let n_sources: usize = env_or("SOLVERS_BENCH_SOURCES", 3000);
    let days: f64 = env_or("SOLVERS_BENCH_DAYS", 365.25);
    let spin: f64 = env_or("SOLVERS_BENCH_SPIN", 30.0);
    let mission = MissionConfig {
        duration_days: days,
        ..Default::default()
    };
    let sim = SimConfig {
        n_sources,
        spin_rate_arcsec_s: spin,
        outlier_rate: 0.0,
        ..Default::default()
    };
    let s = simulate_gaia(&mission, &sim, &|_| {}).unwrap();
    println!(
        "mission: {n_sources} sources, {days} days, spin {spin}″/s, {} observations, {} attitude + {} calibration unknowns, threads {}",
        s.observations.len(),
        s.start_attitude.n_params(),
        s.start_calibration.n_params(),
        rayon::current_num_threads()
    );
    let base = SolverConfig {
        min_visibility_periods: if days < 365.0 { 3 } else { 6 },
        outer_tol_uas: 0.01,
        inner_tol: 1e-12,
        max_inner: 20_000,
        max_outer: 20,
        lsqr: LsqrConfig {
            atol: 1e-12,
            btol: 1e-12,
            conlim: 1e16,
            max_iter: 20_000,
            ..Default::default()
        },
        spectrum: false,
        // robust re-weighting can toggle single rejections between iterations and keep the
        // largest update above 0.001 µas: compare the solvers on the plain weighted problem
        robust: false,
        ..Default::default()
    };
    let out_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&out_dir).unwrap();

    if let Ok(dir) = std::env::var("SOLVERS_BENCH_EXPORT") {
        export(&s, &base, std::path::Path::new(&dir));
        return;
    }

    let fr = frame_reference(&s);
    let model = s.model();
    let mut sols: Vec<(InnerMethod, Solution, f64, Option<u64>)> = Vec::new();
    for method in [
        InnerMethod::Direct,
        InnerMethod::Cg,
        InnerMethod::Bi,
        InnerMethod::Lsqr,
    ] {
        let cfg = SolverConfig {
            method,
            ..base.clone()
        };
        reset_peak_rss();
        let t = Instant::now();
        let sol = try_solve(
            &model,
            &s.observations,
            &s.start_sources,
            &s.start_attitude,
            &s.start_calibration,
            &fr,
            &cfg,
            &mut |_| {},
        )
        .unwrap();
        let wall = t.elapsed().as_secs_f64();
        let rss = peak_rss_bytes();
        println!(
            "{:<7} {:>7.1} s  outer {:>2}  inner {:>6}  converged {:<5}  peak RSS {:>7.1} MB",
            method.name(),
            wall,
            sol.report.outer_iterations,
            sol.report.inner_iterations,
            sol.report.converged,
            rss.unwrap_or(0) as f64 / 1e6
        );
        let last: Vec<String> = sol
            .report
            .history
            .iter()
            .rev()
            .take(3)
            .map(|h| {
                format!(
                    "{:.1e}/{:.1e}/{:.1e}",
                    h.max_update_parts_uas[0], h.max_update_parts_uas[1], h.max_update_parts_uas[2]
                )
            })
            .collect();
        println!("        last updates (sources/attitude/calibration, µas): {last:?}");
        sols.push((method, sol, wall, rss));
    }
    let mut worst: f64 = 0.0;
    let mut rows = Vec::new();
    for (m, sol, wall, rss) in &sols {
        let d = max_diff(sol, &sols[0].1);
        worst = worst.max(d);
        println!(
            "  {:<7} largest difference from direct: {d:.2e} µas",
            m.name()
        );
        rows.push(serde_json::json!({
            "solver": m.name(),
            "wall_seconds": wall,
            "outer_iterations": sol.report.outer_iterations,
            "inner_iterations": sol.report.inner_iterations,
            "converged": sol.report.converged,
            "peak_rss_bytes": rss,
            "max_difference_from_direct_uas": d,
            "block_underestimation": sol.report.block_underestimation,
            "lsqr_sigma_over_block": sol.report.lsqr_sigma_over_block,
        }));
    }
    // LSQR's variance estimates against the direct covariance, parallax
    let direct = &sols[0].1;
    let lsq = &sols.iter().find(|x| x.0 == InnerMethod::Lsqr).unwrap().1;
    let mut ratios: Vec<f64> = direct
        .sources
        .iter()
        .zip(&lsq.sources)
        .filter(|(a, b)| a.solved && b.solved)
        .filter_map(|(a, b)| b.var_lsqr.map(|v| (v[2] / a.cov[2 * NS + 2]).sqrt()))
        .collect();
    ratios.sort_by(f64::total_cmp);
    let med = ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN);
    let p10 = ratios.get(ratios.len() / 10).copied().unwrap_or(f64::NAN);
    let p90 = ratios
        .get(ratios.len() * 9 / 10)
        .copied()
        .unwrap_or(f64::NAN);
    println!(
        "largest disagreement between the four solvers: {worst:.2e} µas\n\
         LSQR parallax σ / direct full-covariance σ: median {med:.3} (10%: {p10:.3}, 90%: {p90:.3})"
    );
    let json = serde_json::json!({
        "n_sources": n_sources,
        "days": days,
        "spin_arcsec_per_s": spin,
        "n_observations": s.observations.len(),
        "threads": rayon::current_num_threads(),
        "solvers": rows,
        "max_disagreement_uas": worst,
        "lsqr_parallax_sigma_over_direct": {"median": med, "p10": p10, "p90": p90},
    });
    let path = out_dir.join("solvers.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    println!("wrote {}", path.display());
}

/// Writes the first linearised system as Â = A D⁻¹ (column-scaled, Matrix Market) with b,
/// D⁻¹, and astrosolve's LSQR solution and time per iteration on it.
fn export(s: &Simulation, cfg: &SolverConfig, dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    let model = s.model();
    let params: Vec<_> = s.start_sources.iter().map(|x| x.params).collect();
    let (att, cal) = (&s.start_attitude, &s.start_calibration);
    let (design, _) = solve::linearise(&model, &s.observations, &params, att, cal, cfg, false);
    let norms = astrosolve_solve::system::coefficient_norms(att);
    let mut sys = System::assemble(
        &s.observations,
        &design,
        att,
        &norms,
        cal,
        &model.instrument,
        cfg.min_obs,
    );
    sys.constrain_frame(&params, att);
    let rows = Rows::new(&sys);
    let dinv: Vec<f64> = rows
        .column_sq_norms()
        .into_iter()
        .map(|c| if c > 0.0 { 1.0 / c.sqrt() } else { 1.0 })
        .collect();
    let mut entries = Vec::new();
    rows.for_each_entry(|r, c, v| entries.push((r, c, v * dinv[c])));
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("A.mtx")).unwrap());
    writeln!(f, "%%MatrixMarket matrix coordinate real general").unwrap();
    writeln!(
        f,
        "% astrosolve: column-scaled observation equations of one outer iteration"
    )
    .unwrap();
    writeln!(f, "{} {} {}", rows.n_rows(), rows.n_cols(), entries.len()).unwrap();
    for (r, c, v) in &entries {
        writeln!(f, "{} {} {:.17e}", r + 1, c + 1, v).unwrap();
    }
    drop(f);
    let write_vec = |name: &str, v: &[f64]| {
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join(name)).unwrap());
        writeln!(f, "%%MatrixMarket matrix array real general").unwrap();
        writeln!(f, "{} 1", v.len()).unwrap();
        for x in v {
            writeln!(f, "{x:.17e}").unwrap();
        }
    };
    write_vec("b.mtx", &rows.rhs());
    write_vec("dinv.mtx", &dinv);
    // to convergence: iterates of LSQR on this ill-conditioned system depend on rounding
    // (even on the number of threads), only the converged solutions can be compared
    let iters = env_or("SOLVERS_BENCH_LSQR_ITERS", 50_000usize);
    let tol = env_or("SOLVERS_BENCH_LSQR_TOL", 1e-10f64);
    let t = Instant::now();
    let res = lsqr(
        &rows,
        &LsqrConfig {
            atol: tol,
            btol: tol,
            conlim: 1e16,
            max_iter: iters,
            // SciPy iterates on the exported column-scaled matrix: the same operator
            preconditioner: astrosolve_solve::lsqr::LsqrPreconditioner::Columns,
        },
        &mut |_, _| {},
    );
    let per_iter = t.elapsed().as_secs_f64() / res.iterations.max(1) as f64;
    write_vec("x_astrosolve.mtx", &res.x);
    let meta = serde_json::json!({
        "n_rows": rows.n_rows(),
        "n_cols": rows.n_cols(),
        "nnz": entries.len(),
        "iterations": res.iterations,
        "tol": tol,
        "n_source_unknowns": NS * sys.layout.n_src,
        "seconds_per_iteration": per_iter,
        "threads": rayon::current_num_threads(),
    });
    std::fs::write(dir.join("astrosolve.json"), meta.to_string()).unwrap();
    println!(
        "exported {} × {} with {} non-zeros to {}; astrosolve LSQR: {} iterations, {:.3} ms per iteration",
        rows.n_rows(),
        rows.n_cols(),
        entries.len(),
        dir.display(),
        res.iterations,
        per_iter * 1e3
    );
}
