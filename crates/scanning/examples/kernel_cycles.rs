//! CPU cycles of the N p kernel alone, for comparing kernel variants on a busy machine:
//! `perf stat -e cycles:u,instructions:u target/release/examples/kernel_cycles N` with N = 0
//! and N = 200 passes over ≈3·10⁵ rows on one thread; the difference ÷ (N · rows) is the
//! kernel's cycles per row, insensitive to other processes sharing the cores.
//! KC_SOURCES sets the mission's sources (2500: rows in cache; 78125: the 10⁷-row mission,
//! rows from main memory), KC_THREADS the threads (each its own share of the sources and its
//! own accumulator, as the solver's chunks).

use astrosolve_core::design::normal_rows;
use astrosolve_core::outer::linearise;
use astrosolve_core::{Design, SolverConfig};
use astrosolve_model::MissionConfig;
use astrosolve_scanning::*;
use astrosolve_sim::{simulate_gaia, SimConfig};

fn main() {
    let passes: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let s = simulate_gaia(
        &MissionConfig::default(),
        &SimConfig {
            // KC_SOURCES: 78125 for the 10⁷-row mission of the passes bench
            n_sources: std::env::var("KC_SOURCES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2500),
            // KC_AL: AL only (no AC rows), as the passes bench's AL case
            g_ac_max: if std::env::var("KC_AL").is_ok() {
                0.0
            } else {
                SimConfig::default().g_ac_max
            },
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
    linearise(&p, &start, &mut design, false, &SolverConfig::scanning()).unwrap();
    let g = design
        .rows
        .iter()
        .map(|r| (r.att as usize + 16).max(r.cal_first() + r.n_cal()))
        .max()
        .unwrap_or(0);
    let pg: Vec<f64> = (0..g).map(|j| ((j % 13) as f64 - 6.0) * 1e-3).collect();
    let threads: usize = std::env::var("KC_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let ns = design.n_sources();
    let t0 = std::time::Instant::now();
    let sums: Vec<f64> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let (design, pg) = (&design, &pg);
                sc.spawn(move || {
                    let mut acc = vec![0.0; g];
                    let mut total = 0.0;
                    for _ in 0..passes {
                        for i in ns * t / threads..ns * (t + 1) / threads {
                            let ps = [1e-3, -2e-3, 0.5e-3, 1e-4, -3e-4];
                            let mut y = [0.0; NS];
                            normal_rows(design.of_source(i), &ps, pg, &mut y, &mut acc);
                            total += y[0];
                        }
                    }
                    total + acc.iter().sum::<f64>()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    eprintln!(
        "{} rows, {passes} passes, {threads} threads, checksum {:e}; {:.2} ns per row (wall clock: on a quiet machine only)",
        design.n_rows(),
        sums.iter().sum::<f64>(),
        t0.elapsed().as_secs_f64() / (passes.max(1) * design.n_rows()) as f64 * 1e9
    );
}
