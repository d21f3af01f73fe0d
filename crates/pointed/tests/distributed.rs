//! A distributed global solution of a JASMINE-like survey (sources partitioned over ranks,
//! `astrosolve_core::comm`): a small survey solved by PCG with one process, then split with
//! `partition_by_counts` into 2 and 3 ranks (`Problem::part`), each rank a thread with its
//! `Threads` communicator, gathered on rank 0 (`gather_global`).
//!
//! Tolerance (as in the scanning instrument's tests/distributed.rs): |a − b| ≤ 1e-12 ·
//! max(|a|, |b|) + floor per kind of parameter, the floor being twice the distance of the
//! one-process PCG solution from the one-process direct solution (PCG stops at its tolerance
//! on another rounding path when distributed) plus 1e-8 of the largest change from the start
//! (the direct solution's rounding times its condition).

use astrosolve_core::comm::{Comm, Threads};
use astrosolve_core::{Method, SolverConfig};
use astrosolve_model::obs::partition_by_counts;
use astrosolve_model::pointed::PointedMission;
use astrosolve_pointed::*;
use astrosolve_sim::jasmine::{simulate_jasmine, JasmineSimConfig};
use std::ops::Range;

/// The outer tolerance above the rounding floor of the updates (≈ 0.01 µas here, where
/// a run that sums in another order may hover), so both runs converge.
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
fn two_and_three_ranks_give_the_one_process_solution() {
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
    let cfg = config(Method::Cg);
    let one = solve_global(&p, None, &cfg, &mut |_| true).expect("one process");
    let exact = solve_global(&p, None, &config(Method::Direct), &mut |_| true).expect("direct");
    let change = diffs(&p.start_state(), &one.state);
    let off = diffs(&exact.state, &one.state);
    let floors = [0, 1, 2].map(|k| 2.0 * off[k] + 1e-8 * change[k]);
    let mut counts = vec![0usize; p.n_sources];
    for o in &p.obs {
        counts[o.source as usize] += 1;
    }
    for k in [2, 3] {
        let ranges = partition_by_counts(&counts, k);
        assert!(ranges.iter().all(|r| !r.is_empty()), "{ranges:?}");
        let sol = solve_split(&p, &cfg, ranges);
        assert_eq!(sol.sources.len(), p.n_sources);
        let d = diffs(&one.state, &sol.state);
        println!(
            "cg, {k} ranks: {} / {} outer iterations; largest differences: sources {:.1e}, attitude {:.1e}, distortion {:.1e} (floors {floors:?}, one process from direct {off:?})",
            sol.report.solve.outer_iterations,
            one.report.solve.outer_iterations,
            d[0],
            d[1],
            d[2]
        );
        let close = |a: f64, b: f64, f: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs()) + f;
        for (i, (x, y)) in one.state.sources.iter().zip(&sol.state.sources).enumerate() {
            assert_eq!(
                one.sources[i].solved, sol.sources[i].solved,
                "source {i} solved"
            );
            for c in 0..5 {
                assert!(
                    close(x[c], y[c], floors[0]),
                    "{k} ranks: source {i} parameter {c}: {} vs {}",
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
                assert!(
                    close(x[c], y[c], floors[1]),
                    "{k} ranks: exposure {e} attitude {c}"
                );
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
            assert!(
                close(*x, *y, floors[2]),
                "{k} ranks: distortion {j}: {x} vs {y}"
            );
        }
    }
}
