//! Benchmark (not a test): time per observation per inner iteration and resident bytes per
//! observation of the design equations, for two problem sizes a factor 10 apart.
//! `cargo bench -p astrosolve-solve --bench solve`; figures also in target/bench/solve.json.

use astrosolve_model::MissionConfig;
use astrosolve_sim::{simulate_gaia, SimConfig};
use astrosolve_solve::design::Design;
use astrosolve_solve::inner;
use astrosolve_solve::system::System;
use std::time::Instant;

fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn main() {
    let mut rows = Vec::new();
    for n_sources in [1_000usize, 10_000] {
        let mission = MissionConfig::default();
        let sim = SimConfig {
            n_sources,
            ..Default::default()
        };
        let t = Instant::now();
        let s = simulate_gaia(&mission, &sim, &|_| {}).unwrap();
        let t_sim = t.elapsed().as_secs_f64();
        let model = s.model();
        let n_obs = s.observations.len();
        let params: Vec<_> = s.start_sources.iter().map(|x| x.params).collect();
        let (w, wz) = astrosolve_solve::design::statistical_weights(&s.observations);
        let t = Instant::now();
        let design = Design::build(
            &model,
            &s.observations,
            &params,
            &s.start_attitude,
            &s.start_calibration,
            &w,
            &wz,
        );
        let t_lin = t.elapsed().as_secs_f64();
        let norms = astrosolve_solve::system::coefficient_norms(&s.start_attitude);
        let t = Instant::now();
        let sys = System::assemble(
            &s.observations,
            &design,
            &s.start_attitude,
            &norms,
            &s.start_calibration,
            &model.instrument,
            10,
        );
        let t_asm = t.elapsed().as_secs_f64();
        let iters = 30;
        let t = Instant::now();
        let (_, rep) = inner::pcg(&sys, 0.0, iters, &mut |_, _| {});
        let t_cg = t.elapsed().as_secs_f64() / rep.iterations.max(1) as f64;
        let t = Instant::now();
        let (_, rep_si) = inner::simple_iteration(&sys, 0.0, iters, &mut |_, _| {});
        let t_si = t.elapsed().as_secs_f64() / rep_si.iterations.max(1) as f64;
        let obs_record = std::mem::size_of::<astrosolve_model::Observation>();
        let row = serde_json::json!({
            "n_sources": n_sources,
            "n_observations": n_obs,
            "n_ac_measurements": design.ac.len(),
            "threads": rayon::current_num_threads(),
            "simulate_seconds": t_sim,
            "linearise_ns_per_observation": t_lin * 1e9 / n_obs as f64,
            "assemble_ns_per_observation": t_asm * 1e9 / n_obs as f64,
            "cg_iteration_ns_per_observation": t_cg * 1e9 / n_obs as f64,
            "si_iteration_ns_per_observation": t_si * 1e9 / n_obs as f64,
            "design_bytes_per_observation": design.bytes() as f64 / n_obs as f64,
            "al_row_bytes": std::mem::size_of::<astrosolve_solve::design::AlRow>(),
            "ac_row_bytes": std::mem::size_of::<astrosolve_solve::design::AcRow>(),
            "observation_record_bytes": obs_record,
            "peak_rss_bytes": peak_rss_bytes(),
        });
        println!(
            "{n_sources:>6} sources, {n_obs:>8} observations: linearise {:.0} ns/obs, CG iteration {:.1} ns/obs, SI iteration {:.1} ns/obs, design {:.1} B/obs (AL row {} B, AC row {} B), peak RSS {:.0} MB",
            t_lin * 1e9 / n_obs as f64,
            t_cg * 1e9 / n_obs as f64,
            t_si * 1e9 / n_obs as f64,
            design.bytes() as f64 / n_obs as f64,
            std::mem::size_of::<astrosolve_solve::design::AlRow>(),
            std::mem::size_of::<astrosolve_solve::design::AcRow>(),
            peak_rss_bytes().unwrap_or(0) as f64 / 1e6
        );
        rows.push(row);
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(
        dir.join("solve.json"),
        serde_json::to_string_pretty(&rows).unwrap(),
    );
}
