//! Benchmark (not a test): the cost of the solvers' passes against the machine's memory
//! bandwidth. For ≈10⁶ and ≈10⁷ observations (AL for every source, and AC for every source):
//! ns per observation of one CG and one LSQR iteration (whole iterations: the pass over the
//! rows and the vector work), the bytes each pass reads, the resident bytes per observation,
//! and a STREAM triad measured in the same run. CG is timed with the portable and with the
//! AVX2 + FMA compilation of the passes (`astrosolve_core::design::set_simd`).
//!
//! `cargo bench -p astrosolve-scanning --bench passes` (PASSES_SIZES=1e6,1e7 and
//! PASSES_MEASUREMENTS=AL,AL+AC to choose);
//! figures also in target/bench/passes.json.
#![recursion_limit = "256"]

use astrosolve_core::cg::pcg;
use astrosolve_core::design::{set_simd, simd_enabled};
use astrosolve_core::lsqr::{lsqr, LinearOperator, LsqrConfig};
use astrosolve_core::outer::{linearise, system};
use astrosolve_core::rows::{Preconditioned, Rows};
use astrosolve_core::{Design, LsqrPreconditioner, SolverConfig};
use astrosolve_model::MissionConfig;
use astrosolve_scanning::*;
use astrosolve_sim::{simulate_gaia, SimConfig};
use rayon::prelude::*;
use std::time::Instant;

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// The load averages of /proc/loadavg (1, 5, 15 min), to judge a run on a shared machine.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// STREAM triad a = b + s c on three arrays of 2²⁵ doubles (768 MiB), best of 5, GB/s
/// counting 24 bytes per element (no write-allocate).
fn stream_triad() -> f64 {
    let n = 1 << 25;
    let b = vec![1.0f64; n];
    let c = vec![2.0f64; n];
    let mut a = vec![0.0f64; n];
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        a.par_chunks_mut(1 << 16)
            .zip(b.par_chunks(1 << 16).zip(c.par_chunks(1 << 16)))
            .for_each(|(a, (b, c))| {
                for i in 0..a.len() {
                    a[i] = b[i] + 3.0 * c[i];
                }
            });
        best = best.min(t.elapsed().as_secs_f64());
    }
    std::hint::black_box(&a);
    24.0 * n as f64 / best / 1e9
}

/// Median and fastest of repeated timings (s).
#[derive(Clone, Copy)]
struct Stats {
    median: f64,
    min: f64,
}

impl Stats {
    fn of(mut t: Vec<f64>) -> Stats {
        t.sort_by(f64::total_cmp);
        Stats {
            median: t.get(t.len() / 2).copied().unwrap_or(f64::NAN),
            min: t.first().copied().unwrap_or(f64::NAN),
        }
    }

    fn time(n: usize, mut f: impl FnMut()) -> Stats {
        Stats::of(
            (0..n)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64()
                })
                .collect(),
        )
    }
}

fn main() {
    let threads = rayon::current_num_threads();
    let bw = stream_triad();
    println!("STREAM triad: {bw:.1} GB/s on {threads} threads");
    let sizes: Vec<f64> = std::env::var("PASSES_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|v| v.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1e6, 1e7]);
    // PASSES_MEASUREMENTS: AL, AL+AC or both (the default), comma-separated
    let measurements: Vec<String> = std::env::var("PASSES_MEASUREMENTS")
        .map(|s| s.split(',').map(|v| v.trim().to_string()).collect())
        .unwrap_or_else(|_| vec!["AL".into(), "AL+AC".into()]);
    if let Some(m) = measurements.iter().find(|m| *m != "AL" && *m != "AL+AC") {
        panic!("PASSES_MEASUREMENTS: {m:?} is neither AL nor AL+AC");
    }
    let mut out = Vec::new();
    for &target in &sizes {
        for (ac, g_ac_max) in [("AL", 0.0), ("AL+AC", 21.0)] {
            if !measurements.iter().any(|m| m == ac) {
                continue;
            }
            // ≈ 128 observations per source in the default year
            let n_sources = (target / 128.0) as usize;
            let rss0 = rss_bytes();
            let t = Instant::now();
            let mut s = simulate_gaia(
                &MissionConfig::default(),
                &SimConfig {
                    n_sources,
                    g_ac_max,
                    ..Default::default()
                },
                &|_| {},
            )
            .unwrap();
            let t_sim = t.elapsed().as_secs_f64();
            let n_obs = s.observations.len();
            let model = s.model();
            let fr = FrameReference::new(&s.reference_positions, &s.truth_sources);
            let start = ScanState {
                params: s.start_sources.iter().map(|x| x.params).collect(),
                attitude: s.start_attitude.clone(),
                calibration: s.start_calibration.clone(),
            };
            let p =
                ScanningProblem::new(&model, &s.observations, start.clone(), FrameMode::Gaia, &fr);
            let cfg = SolverConfig::scanning();
            let mut design = Design::default();
            let t = Instant::now();
            let w = linearise(&p, &start, &mut design, false, &cfg).unwrap();
            let t_lin = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let (sys, mut ws) = system(&p, &start, &design, &w).unwrap();
            let t_asm = t.elapsed().as_secs_f64();
            let n_rows = design.n_rows();
            let iters: usize = std::env::var("PASSES_ITERS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(40);
            // every iteration timed on its own; the figures are the median and the fastest
            // (the least disturbed by other processes on a shared machine)
            let time_cg = |ws: &mut astrosolve_core::system::Workspace| {
                let mut ts = Vec::with_capacity(iters);
                let mut last = Instant::now();
                pcg(&sys, ws, 0.0, 0.0, iters, &mut |_, _| {
                    ts.push(last.elapsed().as_secs_f64());
                    last = Instant::now();
                    true
                });
                Stats::of(ts)
            };
            // the portable compilation of the passes, then the one the CPU allows (AVX2)
            set_simd(false);
            let t_cg_portable = time_cg(&mut ws);
            set_simd(true);
            let simd = simd_enabled();
            let t_cg = time_cg(&mut ws);
            // the parts of a CG iteration: N p (the pass, then the frame terms), the update
            // (x, r and z = K⁻¹ r with its dot product) and z = K⁻¹ r (the preconditioner) alone
            let pvec: Vec<f64> = (0..sys.n())
                .map(|j| ((j % 13) as f64 - 6.0) * 1e-3)
                .collect();
            let mut qvec = vec![0.0; sys.n()];
            let t_apply = Stats::time(iters, || sys.apply(&pvec, &mut qvec, &mut ws));
            let t_apply_obs =
                Stats::time(iters, || sys.apply_unconstrained(&pvec, &mut qvec, &mut ws));
            // CG's update after α (x, r, z = K⁻¹ r, rᵀz and max |z| in one visit per chunk)
            let (mut xv, mut rv, mut zv) = (vec![0.0; sys.n()], pvec.clone(), vec![0.0; sys.n()]);
            let t_update = Stats::time(iters, || {
                std::hint::black_box(sys.cg_update(1e-9, &pvec, &qvec, &mut xv, &mut rv, &mut zv));
            });
            let t_precond = Stats::time(iters, || sys.precondition(&pvec, &mut qvec));
            let mut gvec = pvec[sys.g0()..].to_vec();
            let t_precond_g =
                Stats::time(iters, || sys.blocks.solve_in_place(&sys.layout, &mut gvec));
            let rss_cg = rss_bytes();
            let rows = Rows::new(&sys);
            let pre = Preconditioned::new(&rows, LsqrPreconditioner::Blocks);
            let m = rows.n_rows();
            let rhs = rows.rhs();
            let lsqr_cfg = LsqrConfig {
                atol: 0.0,
                btol: 0.0,
                conlim: 0.0,
                iter_lim: iters,
                calc_var: false,
                ..Default::default()
            };
            // whole LSQR iterations (one fused pass over the rows each, and the vector work)
            let t_lsqr = {
                let mut ts = Vec::with_capacity(iters);
                let mut last = Instant::now();
                lsqr(&pre, &rhs, &lsqr_cfg, &mut |_| {}, &mut |_, _| {
                    ts.push(last.elapsed().as_secs_f64());
                    last = Instant::now();
                    true
                });
                // the first includes the set-up (u = b, Aᵀu)
                ts.remove(0);
                Stats::of(ts)
            };
            // bytes a CG pass reads: the design rows, the offsets, the source parts of p and
            // out, the global accumulators (zeroed, filled, reduced: ≈ 3 passes per chunk)
            let row_bytes = std::mem::size_of::<ScanRow>();
            let g = sys.layout.n;
            let pass_bytes = (n_rows * row_bytes
                + 8 * (sys.n_src + 1)
                + 2 * 8 * NS * sys.n_src
                + 3 * 8 * g * sys.chunks.len()) as f64;
            let t_mem = pass_bytes / (bw * 1e9);
            // everything a whole CG iteration moves besides the pass (core::cg::pcg): the frame
            // terms (k frame vectors: their source part for the dots, all of them for the
            // update, out read and written: 2n), the vector work (p·q 2n; the update 7n: x, r,
            // p, q read, x, r, z written, rᵀz from cache; p 3n), the preconditioner's source
            // factors (NS² per source) and global blocks
            let (n_all, k_frame) = (sys.n(), sys.frame.len());
            let iteration_extra = 8.0
                * (14 * n_all
                    + k_frame * (NS * sys.n_src + n_all)
                    + NS * sys.n_src
                    + NS * NS * sys.n_src
                    + sys.blocks.values.len()) as f64;
            let t_mem_all = (pass_bytes + iteration_extra) / (bw * 1e9);
            // LSQR's fused pass reads the rows and reads and writes u (8 B per row each way)
            let lsqr_bytes = pass_bytes + 16.0 * m as f64;
            let t_mem_lsqr = lsqr_bytes / (bw * 1e9);
            // resident bytes, accounted: observation records, design rows, CG's five vectors
            let obs_bytes = n_obs * std::mem::size_of::<astrosolve_model::Observation>();
            let vec_bytes = 5 * 8 * sys.n();
            // LSQR instead: u (8 B per row) and its five vectors of the unknowns
            let lsqr_vec_bytes = 8 * m + 5 * 8 * sys.n();
            // and the passes' accumulators of the global unknowns (one per chunk)
            let slots =
                astrosolve_core::chunks::OrderedSum::for_chunks(sys.chunks.len(), g).n_slots();
            let acc_bytes = 8 * g * slots;
            let accounted =
                (obs_bytes + design.bytes() + vec_bytes + 8 * sys.blocks.values.len() + acc_bytes)
                    as f64;
            let n_src = sys.n_src;
            // the observations on disk (--observations-on-disk): spilled, dropped from memory,
            // the rows linearised again from the file (the same rows, bit for bit)
            drop(pre);
            drop(rows);
            drop(sys);
            drop(ws);
            drop(p);
            let spill_path =
                bench_dir().join(format!(".passes-observations-{}.bin", std::process::id()));
            let file =
                astrosolve_io::ObservationFile::create(&spill_path, &s.observations).unwrap();
            let rows_in_memory = design.rows.clone();
            s.observations.obs = Vec::new();
            let pd = ScanningProblem::on_store(&model, &file, start.clone(), FrameMode::Gaia, &fr)
                .unwrap();
            let t = Instant::now();
            linearise(&pd, &start, &mut design, false, &cfg).unwrap();
            let t_lin_disk = t.elapsed().as_secs_f64();
            assert!(
                design.rows == rows_in_memory,
                "the rows linearised from the file differ from those from memory"
            );
            drop(rows_in_memory);
            let rss_disk = rss_bytes();
            let accounted_disk = accounted - obs_bytes as f64 + file.resident_bytes() as f64;
            let ns = |t: f64| t / n_obs as f64 * 1e9;
            let rec = serde_json::json!({
                "measurements": ac,
                "n_observations": n_obs,
                "n_rows": n_rows,
                "n_sources": n_src,
                "n_global_unknowns": g,
                "threads": threads,
                "stream_triad_gb_s": bw,
                "simulate_s": t_sim,
                "linearise_ns_per_row": t_lin / n_rows as f64 * 1e9,
                "assemble_ns_per_row": t_asm / n_rows as f64 * 1e9,
                "simd_avx2": simd,
                "uptime_load": load_average(),
                "cg_iteration_ns_per_obs": ns(t_cg.median),
                "cg_iteration_ns_per_obs_fastest": ns(t_cg.min),
                "cg_iteration_ns_per_obs_portable": ns(t_cg_portable.median),
                "cg_iteration_ns_per_obs_portable_fastest": ns(t_cg_portable.min),
                "cg_apply_ns_per_obs": ns(t_apply.median),
                "cg_apply_ns_per_obs_fastest": ns(t_apply.min),
                "cg_frame_terms_ns_per_obs": ns(t_apply.median) - ns(t_apply_obs.median),
                "cg_update_ns_per_obs": ns(t_update.median),
                "cg_precondition_ns_per_obs": ns(t_precond.median),
                "cg_precondition_global_blocks_ns_per_obs": ns(t_precond_g.median),
                "lsqr_iteration_ns_per_obs": ns(t_lsqr.median),
                "lsqr_iteration_ns_per_obs_fastest": ns(t_lsqr.min),
                "pass_bytes_per_obs": pass_bytes / n_obs as f64,
                "lsqr_pass_bytes_per_obs": lsqr_bytes / n_obs as f64,
                "bandwidth_limit_ns_per_obs": t_mem / n_obs as f64 * 1e9,
                "cg_pass_over_bandwidth_limit": t_cg.median / t_mem,
                "cg_pass_over_bandwidth_limit_fastest": t_cg.min / t_mem,
                "cg_iteration_bytes_per_obs_all": (pass_bytes + iteration_extra) / n_obs as f64,
                "cg_iteration_over_all_bytes_limit": t_cg.median / t_mem_all,
                "lsqr_iteration_over_bandwidth_limit": t_lsqr.median / t_mem_lsqr,
                "lsqr_iteration_over_bandwidth_limit_fastest": t_lsqr.min / t_mem_lsqr,
                "lsqr_iteration_over_two_pass_limit": t_lsqr.median / (2.0 * t_mem),
                "row_bytes": row_bytes,
                "observation_record_bytes": std::mem::size_of::<astrosolve_model::Observation>(),
                "resident_accounted_bytes_per_obs": accounted / n_obs as f64,
                "resident_accounted_bytes_per_obs_lsqr":
                    (accounted - vec_bytes as f64 + lsqr_vec_bytes as f64) / n_obs as f64,
                "rss_growth_bytes_per_obs": (rss_cg.saturating_sub(rss0)) as f64 / n_obs as f64,
                "observations_on_disk": {
                    "file_bytes_per_obs": file.file_bytes() as f64 / n_obs as f64,
                    "linearise_ns_per_row": t_lin_disk / n_rows as f64 * 1e9,
                    "resident_accounted_bytes_per_obs": accounted_disk / n_obs as f64,
                    // the whole process (with the simulation's truth and sources)
                    "process_rss_bytes_per_obs": rss_disk as f64 / n_obs as f64,
                },
            });
            println!("{}", serde_json::to_string_pretty(&rec).unwrap());
            out.push(rec);
        }
    }
    std::fs::write(
        bench_dir().join("passes.json"),
        serde_json::to_string_pretty(&out).unwrap(),
    )
    .unwrap();
}

/// target/bench (created on first use: a fresh checkout has none).
fn bench_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}
