//! A distributed solve (sources partitioned over ranks, `astrosolve_core::comm`) gives the
//! one-process solution bit for bit: a small Gaia-like mission solved with one process, then
//! split with `partition_chunks` (ranks cut at the global chunk boundaries) into 2, 3 and 4
//! ranks (`run::Problem::part`), each rank a thread with its `Threads` communicator, gathered
//! on rank 0 (`run::gather`), for CG, LSQR and the direct solver; and ranks that hold no
//! source at all.
//!
//! Every sum over sources is taken per global chunk and the chunks' partial sums are added in
//! global chunk order over the ranks (`Comm::ordered_sum`, `Comm::chain`), so every parameter
//! must have the same bits (`f64::to_bits`) as in one process: no tolerance.

use astrosolve_core::comm::{Comm, Threads};
use astrosolve_core::{Method, SolverConfig};
use astrosolve_model::obs::partition_chunks;
use astrosolve_model::MissionConfig;
use astrosolve_scanning::run::{self, Problem};
use astrosolve_scanning::{ScanConfig, Solution};
use astrosolve_sim::{simulate_gaia, SimConfig, Simulation};
use std::ops::Range;
use std::sync::Arc;

/// A small mission: `n` sources over a year of an instrument spinning at 15″/s (12-h knots:
/// ≈ 3000 global unknowns), no outliers (the start-up screening of gross outliers uses each
/// rank's own time-span medians, see `core::gross`).
fn mission(n: usize, seed: u64) -> Simulation {
    let days = 365.25;
    let mission = MissionConfig {
        duration_days: days,
        start_day: -days / 2.0,
        ..Default::default()
    };
    let sim = SimConfig {
        n_sources: n,
        seed,
        outlier_rate: 0.0,
        spin_rate_arcsec_s: 15.0,
        ..Default::default()
    };
    simulate_gaia(&mission, &sim, &|_| {}).expect("simulation")
}

/// One outer iteration (a short mission does not converge; what is compared is the
/// computation).
fn config(method: Method) -> ScanConfig {
    ScanConfig {
        solver: SolverConfig {
            method,
            max_outer: 1,
            allow_unconverged: true,
            robust: false,
            // the direct solver's spectrum and full covariance at the end are not compared
            covariance: false,
            spectrum: false,
            min_attitude_redundancy: 0.0,
            ..SolverConfig::scanning()
        },
        ..Default::default()
    }
}

/// Solves `p` split into `ranges` (one rank each, as threads) and gathers the solution.
fn solve_split(p: &Problem, cfg: &ScanConfig, ranges: Vec<Range<usize>>) -> (Problem, Solution) {
    let comms = Threads::new(ranges.len());
    let mut out: Vec<Option<(Problem, Solution)>> = std::thread::scope(|s| {
        let hs: Vec<_> = comms
            .into_iter()
            .zip(ranges)
            .map(|(c, r)| {
                s.spawn(move || {
                    let rank = c.rank();
                    let part = p.part(r, Arc::new(c));
                    let sol = run::solve(&part, cfg, &mut |_| true)
                        .unwrap_or_else(|e| panic!("rank {rank}: {e}"));
                    run::gather(&part, &sol).expect("gather")
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("rank")).collect()
    });
    assert!(out[1..].iter().all(|o| o.is_none()), "only rank 0 gathers");
    out[0].take().expect("rank 0 gathers")
}

fn counts(p: &Problem) -> Vec<usize> {
    let o = &p.ds.observations.source_offsets;
    o.windows(2).map(|w| w[1] - w[0]).collect()
}

/// The chunk-aligned ranges of `k` ranks.
fn ranks(p: &Problem, k: usize) -> Vec<Range<usize>> {
    partition_chunks(&counts(p), k).1
}

/// Asserts that `b` is `a` bit for bit (after printing the largest differences: sources,
/// attitude coefficients, calibration; absolute and relative to the larger value).
fn assert_same(a: &Solution, b: &Solution, what: &str) {
    assert_eq!(a.sources.len(), b.sources.len(), "{what}: sources");
    // (largest |a − b|, largest |a − b| / max(|a|, |b|)) per kind, and the first failure
    let mut worst = [[0.0f64; 2]; 3];
    let mut first: Option<String> = None;
    let mut check = |kind: usize, u: f64, v: f64, name: &dyn Fn() -> String| {
        let d = (u - v).abs();
        worst[kind][0] = worst[kind][0].max(d);
        if d > 0.0 {
            worst[kind][1] = worst[kind][1].max(d / u.abs().max(v.abs()));
        }
        if u.to_bits() != v.to_bits() && first.is_none() {
            first = Some(format!("{}: {u:e} vs {v:e}", name()));
        }
    };
    for (i, (x, y)) in a.sources.iter().zip(&b.sources).enumerate() {
        assert_eq!(x.solved, y.solved, "{what}: source {i} solved");
        let (p, q) = (&x.params, &y.params);
        for (k, (u, v)) in [
            (p.ra, q.ra),
            (p.dec, q.dec),
            (p.parallax, q.parallax),
            (p.pmra, q.pmra),
            (p.pmdec, q.pmdec),
        ]
        .into_iter()
        .enumerate()
        {
            check(0, u, v, &|| format!("source {i} parameter {k}"));
        }
    }
    for (k, (c, d)) in a.attitude.coeffs.iter().zip(&b.attitude.coeffs).enumerate() {
        for r in 0..4 {
            check(1, c[r], d[r], &|| format!("attitude coefficient {k}[{r}]"));
        }
    }
    for (k, (u, v)) in a
        .calibration
        .params
        .iter()
        .zip(&b.calibration.params)
        .enumerate()
    {
        check(2, *u, *v, &|| format!("calibration parameter {k}"));
    }
    println!(
        "{what}: {} outer / {} inner iterations (one process: {} / {}); largest differences (absolute, relative): sources {:.1e} rad, {:.1e}; attitude {:.1e}, {:.1e}; calibration {:.1e} rad, {:.1e}",
        b.report.outer_iterations,
        b.report.inner_iterations,
        a.report.outer_iterations,
        a.report.inner_iterations,
        worst[0][0],
        worst[0][1],
        worst[1][0],
        worst[1][1],
        worst[2][0],
        worst[2][1]
    );
    if let Some(f) = first {
        panic!("{what}: {f}");
    }
    assert_eq!(
        a.report.n_solved_sources, b.report.n_solved_sources,
        "{what}: solved sources"
    );
    assert_eq!(a.report.n_rows, b.report.n_rows, "{what}: rows");
}

/// One linear step of `p` (this rank's share when `p` is a part): linearised at the start,
/// its normal equations, and the update by `method` solved tightly. Returns (b_g, (N v)_g for
/// a fixed v, the update's source part, its global part).
fn linear_step(p: &Problem, method: Method) -> [Vec<f64>; 4] {
    use astrosolve_core::lsqr::{lsqr, LsqrConfig};
    use astrosolve_core::outer::{linearise, system};
    use astrosolve_core::rows::{Preconditioned, Rows};
    use astrosolve_core::schur::Reduced;
    use astrosolve_core::{Design, LsqrPreconditioner};
    use astrosolve_scanning::{FrameMode, FrameReference, ScanState, ScanningProblem};
    let model = p.model();
    let fr = FrameReference::new(&p.refs, &p.ds.sources);
    let st = ScanState {
        params: p.ds.sources.iter().map(|s| s.params).collect(),
        attitude: p.ds.attitude.clone(),
        calibration: p.ds.calibration.clone(),
    };
    let sp = ScanningProblem::new(&model, &p.ds.observations, st.clone(), FrameMode::Gaia, &fr)
        .with_comm(p.comm.as_ref())
        .with_chunks(p.chunks.clone());
    let mut design = Design::default();
    let w = linearise(&sp, &st, &mut design, false, &config(method).solver).unwrap();
    let (sys, mut ws) = system(&sp, &st, &design, &w).expect("system");
    let g0 = sys.g0();
    // v: a fixed pattern over the catalogue's sources and the global unknowns
    let off = 5 * p.source_range.start;
    let v: Vec<f64> = (0..sys.n())
        .map(|j| {
            let k = if j < g0 { j + off } else { 1 + j - g0 };
            (k * 7919 % 1000) as f64 / 500.0 - 1.0
        })
        .collect();
    let mut nv = vec![0.0; sys.n()];
    sys.apply(&v, &mut nv, &mut ws);
    let x = match method {
        Method::Cg => {
            let (x, r) =
                astrosolve_core::cg::pcg(&sys, &mut ws, 1e-10, 0.0, 20_000, &mut |_, _| true);
            assert!(r.converged, "cg");
            x
        }
        Method::Bi => {
            let (x, r) = astrosolve_core::gauss_seidel::simple_iteration(
                &sys,
                &mut ws,
                1e-12,
                0.0,
                40_000,
                &mut |_, _| true,
            );
            assert!(r.converged, "bi");
            x
        }
        Method::Lsqr => {
            let rows = Rows::new(&sys);
            let pre = Preconditioned::new(&rows, LsqrPreconditioner::Blocks);
            let res = lsqr(
                &pre,
                &rows.rhs(),
                &LsqrConfig {
                    atol: 0.0,
                    btol: 0.0,
                    conlim: 0.0,
                    normal_rtol: 1e-10,
                    iter_lim: 50_000,
                    calc_var: false,
                    ..Default::default()
                },
                &mut |_| {},
                &mut |_, _| true,
            );
            assert!(res.stop.converged(), "lsqr {:?}", res.stop);
            let mut x = res.x;
            pre.solve(&mut x);
            x
        }
        Method::Direct => {
            Reduced::assemble(&sys, true)
                .solve_constrained_on(p.comm.as_ref())
                .expect("direct")
                .0
        }
    };
    [
        sys.b[g0..].to_vec(),
        nv[g0..].to_vec(),
        x[..g0].to_vec(),
        x[g0..].to_vec(),
    ]
}

/// [`linear_step`] split into `ranges`, one thread per rank: rank 0's global parts, every
/// rank's source part concatenated in rank order; asserts that every rank holds the same
/// global values, to the bit.
fn linear_step_split(p: &Problem, method: Method, ranges: Vec<Range<usize>>) -> [Vec<f64>; 4] {
    let comms = Threads::new(ranges.len());
    let out: Vec<[Vec<f64>; 4]> = std::thread::scope(|s| {
        let hs: Vec<_> = comms
            .into_iter()
            .zip(ranges)
            .map(|(c, r)| s.spawn(move || linear_step(&p.part(r, Arc::new(c)), method)))
            .collect();
        hs.into_iter().map(|h| h.join().expect("rank")).collect()
    });
    for o in &out[1..] {
        for k in [0, 1, 3] {
            assert!(
                o[k].iter()
                    .zip(&out[0][k])
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{method:?}: ranks hold different global values"
            );
        }
    }
    let xs: Vec<f64> = out.iter().flat_map(|o| o[2].iter().copied()).collect();
    let [b, nv, _, xg] = out.into_iter().next().expect("rank 0");
    [b, nv, xs, xg]
}

/// Largest |a − b| over the largest |a|.
fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let d = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    let m = a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    d / m.max(f64::MIN_POSITIVE)
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// One linear step on 3 ranks: the reduced global sums (b_g, the global part of N v) and each
/// solver's update, solved tightly, are the one-process ones bit for bit.
#[test]
fn one_linear_step_is_the_one_process_step() {
    let sim = mission(1000, 5);
    let p = Problem::from_simulation(&sim);
    for method in [Method::Direct, Method::Cg, Method::Lsqr] {
        let one = linear_step(&p, method);
        {
            let k = 3;
            let d = linear_step_split(&p, method, ranks(&p, k));
            let e = [0, 1, 2, 3].map(|i| rel_diff(&one[i], &d[i]));
            println!(
                "{method:?}, {k} ranks: relative differences b_g {:.1e}, (N v)_g {:.1e}, update: sources {:.1e}, global {:.1e}",
                e[0], e[1], e[2], e[3]
            );
            for i in 0..4 {
                assert!(same_bits(&one[i], &d[i]), "{method:?}, {k} ranks: {e:?}");
            }
        }
    }
}

/// The whole path — `Problem::part`, `run::solve` on every rank, `run::gather` — for one
/// outer iteration of each solver: rank 0 gathers every source in catalogue order with the
/// reference positions, and the solution is the one-process one bit for bit.
#[test]
fn two_three_and_four_ranks_give_the_one_process_solution() {
    let sim = mission(1000, 5);
    let p = Problem::from_simulation(&sim);
    for method in [Method::Direct, Method::Cg, Method::Lsqr] {
        let cfg = config(method);
        let one = run::solve(&p, &cfg, &mut |_| true).expect("one process");
        for k in [2, 3, 4] {
            let ranges = ranks(&p, k);
            assert!(ranges.iter().all(|r| !r.is_empty()), "{ranges:?}");
            let (full, sol) = solve_split(&p, &cfg, ranges);
            assert_eq!(full.ds.sources.len(), p.ds.sources.len());
            for (x, y) in full.ds.sources.iter().zip(&p.ds.sources) {
                assert_eq!(x.source_id, y.source_id, "gathered in catalogue order");
            }
            assert_eq!(full.refs.len(), p.refs.len(), "reference positions");
            for (x, y) in full.refs.iter().zip(&p.refs) {
                assert_eq!(x.source_index, y.source_index, "reference positions");
            }
            assert_same(&one, &sol, &format!("{method:?}, {k} ranks"));
        }
    }
}

/// More ranks than are given sources: ranks that hold no source (rank 0 among them) take part
/// in every reduction and the solution is the one-process one bit for bit (direct solver).
#[test]
fn ranks_without_sources_take_part() {
    let sim = mission(1000, 5);
    let p = Problem::from_simulation(&sim);
    let n = p.ds.sources.len();
    let cfg = config(Method::Direct);
    let one = run::solve(&p, &cfg, &mut |_| true).expect("one process");
    let two = ranks(&p, 2);
    let (_, sol) = solve_split(&p, &cfg, vec![0..0, two[0].clone(), two[1].clone(), n..n]);
    assert_same(&one, &sol, "direct, 4 ranks, two empty");
}
