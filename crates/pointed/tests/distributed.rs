//! A distributed global solution of a JASMINE-like survey (sources partitioned over ranks,
//! `astrosolve_core::comm`) is the one-process solution bit for bit: a small survey solved by
//! PCG, LSQR and the direct solver with one process, then split with `partition_chunks` (ranks
//! cut at the global chunk boundaries) into 2, 3 and 4 ranks (`Problem::part`), each rank a
//! thread with its `Threads` communicator, gathered on rank 0 (`gather_global`). Every sum over
//! sources is added in global chunk order over the ranks, so no tolerance: `f64::to_bits`.

use astrosolve_core::comm::{Comm, Threads};
use astrosolve_core::{Method, SolverConfig};
use astrosolve_model::obs::partition_chunks;
use astrosolve_model::pointed::PointedMission;
use astrosolve_pointed::*;
use astrosolve_sim::jasmine::{simulate_jasmine, JasmineSimConfig};
use std::ops::Range;

/// The outer tolerance above the rounding floor of the updates (≈ 0.01 µas here).
fn config(method: Method) -> SolverConfig {
    SolverConfig {
        method,
        outer_tol_uas: 0.05,
        ..SolverConfig::pointed()
    }
}

fn solve_split(p: &Problem, cfg: &SolverConfig, ranges: Vec<Range<usize>>) -> GlobalSolution {
    let comms = Threads::new(ranges.len());
    let mut out: Vec<Option<GlobalSolution>> = std::thread::scope(|s| {
        let hs: Vec<_> = comms
            .into_iter()
            .zip(ranges)
            .map(|(c, r)| {
                s.spawn(move || {
                    let part = p.part(r).expect("part");
                    let sol =
                        solve_global_on(&part, None, cfg, &mut |_| true, None, &mut |_| true, &c)
                            .unwrap_or_else(|e| panic!("rank {}: {e}", c.rank()));
                    gather_global(&sol, &c).expect("gather")
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("rank")).collect()
    });
    assert!(out[1..].iter().all(|o| o.is_none()), "only rank 0 gathers");
    out[0].take().expect("rank 0 gathers")
}

/// Largest |a − b| of source parameters, attitude, distortion.
fn diffs(a: &State, b: &State) -> [f64; 3] {
    let mut m = [0.0f64; 3];
    for (x, y) in a.sources.iter().zip(&b.sources) {
        for k in 0..5 {
            m[0] = m[0].max((x[k] - y[k]).abs());
        }
    }
    for (x, y) in a.attitude.iter().zip(&b.attitude) {
        for k in 0..x.len() {
            m[1] = m[1].max((x[k] - y[k]).abs());
        }
    }
    for (x, y) in a.distortion.coeffs.iter().zip(&b.distortion.coeffs) {
        m[2] = m[2].max((x - y).abs());
    }
    m
}

#[test]
fn two_three_and_four_ranks_give_the_one_process_solution() {
    let sim = simulate_jasmine(
        &PointedMission::default(),
        &JasmineSimConfig {
            n_stars: 700,
            exposures_per_season: 16,
            reference_fraction: 0.3,
            ..Default::default()
        },
        &|_| {},
    )
    .expect("simulation");
    let p = Problem::new(
        sim.model(sim.mission.distortion_order),
        sim.exposures.clone(),
        sim.observations.clone(),
        sim.start_sources.clone(),
        sim.reference.clone(),
    )
    .expect("problem");
    let mut counts = vec![0usize; p.n_sources];
    for o in &p.obs {
        counts[o.source as usize] += 1;
    }
    for method in [Method::Cg, Method::Lsqr, Method::Direct] {
        let cfg = config(method);
        let one = solve_global(&p, None, &cfg, &mut |_| true).expect("one process");
        for k in [2, 3, 4] {
            let ranges = partition_chunks(&counts, k).1;
            assert!(ranges.iter().all(|r| !r.is_empty()), "{ranges:?}");
            let sol = solve_split(&p, &cfg, ranges);
            assert_eq!(sol.sources.len(), p.n_sources);
            let d = diffs(&one.state, &sol.state);
            println!(
                "{method:?}, {k} ranks: {} / {} outer iterations; largest differences: sources {:.1e}, attitude {:.1e}, distortion {:.1e}",
                sol.report.solve.outer_iterations,
                one.report.solve.outer_iterations,
                d[0],
                d[1],
                d[2]
            );
            let what = format!("{method:?}, {k} ranks");
            let same = |a: f64, b: f64| a.to_bits() == b.to_bits();
            for (i, (x, y)) in one.state.sources.iter().zip(&sol.state.sources).enumerate() {
                assert_eq!(
                    one.sources[i].solved, sol.sources[i].solved,
                    "{what}: source {i} solved"
                );
                for c in 0..5 {
                    assert!(
                        same(x[c], y[c]),
                        "{what}: source {i} parameter {c}: {} vs {}",
                        x[c],
                        y[c]
                    );
                }
            }
            for (e, (x, y)) in one
                .state
                .attitude
                .iter()
                .zip(&sol.state.attitude)
                .enumerate()
            {
                for c in 0..x.len() {
                    assert!(same(x[c], y[c]), "{what}: exposure {e} attitude {c}");
                }
            }
            for (j, (x, y)) in one
                .state
                .distortion
                .coeffs
                .iter()
                .zip(&sol.state.distortion.coeffs)
                .enumerate()
            {
                assert!(same(*x, *y), "{what}: distortion {j}: {x} vs {y}");
            }
        }
    }
}
