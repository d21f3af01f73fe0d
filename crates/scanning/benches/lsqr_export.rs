//! Benchmark helper (not a test) for scripts/bench_lsqr_scipy.sh: one linearised system of a
//! simulated mission, column-scaled as AVU-GSR does (Â = A D⁻¹), solved by astrosolve's LSQR
//! to convergence and exported in Matrix Market format so that scipy.sparse.linalg.lsqr solves
//! the very same Â in the same run.
//!
//! Environment: LSQR_BENCH_SOURCES (default 3000), LSQR_BENCH_TOL (1e-10), LSQR_BENCH_OUT
//! (directory, default target/bench/lsqr_system).

use astrosolve_core::lsqr::{lsqr, LinearOperator, LsqrConfig};
use astrosolve_core::outer::{linearise, system};
use astrosolve_core::rows::{Preconditioned, Rows};
use astrosolve_core::{Design, LsqrPreconditioner, SolverConfig};
use astrosolve_model::MissionConfig;
use astrosolve_scanning::*;
use astrosolve_sim::{simulate_gaia, SimConfig};
use std::io::Write;
use std::time::Instant;

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn write_vec(path: &std::path::Path, v: &[f64]) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "%%MatrixMarket matrix array real general\n{} 1", v.len()).unwrap();
    for x in v {
        writeln!(f, "{x:.17e}").unwrap();
    }
}

fn main() {
    let n_sources = env_or("LSQR_BENCH_SOURCES", 3000usize);
    let tol = env_or("LSQR_BENCH_TOL", 1e-10f64);
    let dir = std::env::var("LSQR_BENCH_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench/lsqr_system")
        });
    std::fs::create_dir_all(&dir).unwrap();
    let s = simulate_gaia(
        &MissionConfig::default(),
        &SimConfig {
            n_sources,
            ..Default::default()
        },
        &|_| {},
    )
    .unwrap();
    let model = s.model();
    let fr = FrameReference::new(&s.reference_positions, &s.truth_sources);
    let start = ScanState {
        params: s.start_sources.iter().map(|x| x.params).collect(),
        attitude: s.start_attitude.clone(),
        calibration: s.start_calibration.clone(),
    };
    let p = ScanningProblem::new(&model, &s.observations, start.clone(), FrameMode::Gaia, &fr);
    let mut design = Design::default();
    let w = linearise(&p, &start, &mut design, false, &SolverConfig::scanning()).unwrap();
    let (sys, _) = system(&p, &start, &design, &w).unwrap();
    let rows = Rows::new(&sys);
    let pre = Preconditioned::new(&rows, LsqrPreconditioner::Columns);
    // D⁻¹ from the preconditioner: apply it to ones
    let mut dinv = vec![1.0; rows.n_cols()];
    pre.solve(&mut dinv);
    let u = rows.rhs();
    let t = Instant::now();
    let res = lsqr(
        &pre,
        &u,
        &LsqrConfig {
            atol: tol,
            btol: tol,
            conlim: 0.0,
            iter_lim: 200_000,
            calc_var: false,
            ..Default::default()
        },
        &mut |_| {},
        &mut |_, _| true,
    );
    let sec = t.elapsed().as_secs_f64();
    let per = sec / res.itn.max(1) as f64;
    let mut x = res.x.clone();
    pre.solve(&mut x);
    println!(
        "astrosolve LSQR: {} × {} rows view, stop {:?} after {} iterations, {:.3} ms per iteration ({} threads)",
        rows.n_rows(),
        rows.n_cols(),
        res.stop,
        res.itn,
        per * 1e3,
        rayon::current_num_threads()
    );
    // the scaled matrix Â = A D⁻¹, CSR order
    let mut entries: Vec<(u32, u32, f64)> = Vec::new();
    rows.for_each_entry(|r, c, v| entries.push((r as u32, c as u32, v * dinv[c])));
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("A.mtx")).unwrap());
    writeln!(f, "%%MatrixMarket matrix coordinate real general").unwrap();
    writeln!(f, "{} {} {}", rows.n_rows(), rows.n_cols(), entries.len()).unwrap();
    for (r, c, v) in &entries {
        writeln!(f, "{} {} {v:.17e}", r + 1, c + 1).unwrap();
    }
    drop(f);
    write_vec(&dir.join("b.mtx"), &u);
    write_vec(&dir.join("dinv.mtx"), &dinv);
    write_vec(&dir.join("x_astrosolve.mtx"), &x);
    let meta = serde_json::json!({
        "n_rows": rows.n_rows(),
        "n_cols": rows.n_cols(),
        "nnz": entries.len(),
        "n_source_unknowns": NS * sys.n_src,
        "iterations": res.itn,
        "stop": format!("{:?}", res.stop),
        "seconds_per_iteration": per,
        "threads": rayon::current_num_threads(),
        "tol": tol,
    });
    std::fs::write(
        dir.join("astrosolve.json"),
        serde_json::to_string_pretty(&meta).unwrap(),
    )
    .unwrap();
    println!("wrote {} ({} non-zeros)", dir.display(), entries.len());
}
