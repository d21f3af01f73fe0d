//! The core's memory check (crates/core/src/memory.rs) on a real problem: a solve estimated to
//! need more than the memory it may use is refused before any outer iteration, with the
//! figures; the direct solver's estimate is completed with its source couplings after the
//! first linearisation, before the first dense allocation.

mod common;

use astrosolve_core::memory::{fmt_bytes, gb, Sizes};
use astrosolve_core::outer::Progress;
use astrosolve_core::schur::{coupling_bytes, Reduced};
use astrosolve_core::{Method, SolveError, SolverConfig};
use astrosolve_scanning::*;
use common::*;

fn config(method: Method, max_memory_bytes: Option<u64>) -> ScanConfig {
    ScanConfig {
        solver: SolverConfig {
            method,
            max_memory_bytes,
            // the small test mission is below the default attitude redundancy
            min_attitude_redundancy: 0.0,
            ..SolverConfig::scanning()
        },
        frame: FrameMode::Gaia,
    }
}

/// Solves with `cfg`; returns the result and the number of progress events (inner and outer).
fn run(s: &astrosolve_sim::Simulation, cfg: &ScanConfig) -> (Result<Solution, SolveError>, usize) {
    let mut events = 0usize;
    let r = solve(
        &s.model(),
        &s.observations,
        &s.start_sources,
        &s.start_attitude,
        &s.start_calibration,
        &frame_reference(s),
        cfg,
        &mut |_: Progress| {
            events += 1;
            true
        },
    );
    (r, events)
}

#[test]
fn solves_that_do_not_fit_are_refused_before_they_start() {
    let s = slow_spin(400, 11);
    let start = state(&s, false);
    let model = s.model();
    let fr = frame_reference(&s);
    let p = ScanningProblem::new(&model, &s.observations, start.clone(), FrameMode::Gaia, &fr);
    let sizes = Sizes::of_problem(&p, &start);
    let direct = config(Method::Direct, None);
    let need1 = sizes.estimate(&direct.solver, None).total();
    let n = sizes.n_global as f64;
    println!(
        "{} sources, {} rows, n = {}: direct solver at least {:.3} GB",
        sizes.n_sources,
        sizes.n_rows,
        sizes.n_global,
        gb(need1)
    );
    // the default (Cholesky, covariance, spectrum) holds three n × n matrices at once
    assert!(need1 as f64 > 3.0 * 8.0 * n * n);

    // 10 MB: refused before anything is linearised
    let (r, events) = run(&s, &config(Method::Direct, Some(10_000_000)));
    let err = r.err().expect("a direct solve in 10 MB was not refused");
    println!("{err}");
    let SolveError::Memory {
        need_bytes,
        available_bytes,
        ..
    } = &err
    else {
        panic!("not a memory refusal: {err}")
    };
    assert_eq!((*need_bytes, *available_bytes), (need1, 10_000_000));
    assert_eq!(events, 0, "progress before the refusal");
    let msg = err.to_string();
    for s in [
        format!("{} at its peak", fmt_bytes(need1)),
        "10.0 MB are available (set by --max-memory".to_string(),
        format!("{} × {} matrices", sizes.n_global, sizes.n_global),
        "--solver cg (needs".to_string(),
        "--solver lsqr (needs".to_string(),
        "--no-covariance (needs".to_string(),
        "design rows".to_string(),
    ] {
        assert!(msg.contains(&s), "{s:?} not in: {msg}");
    }
    assert!(!msg.contains("NaN"));

    // between the estimate without and with the source couplings: refused after the first
    // linearisation, before the first assembly and before any progress
    let (couplings, frame_rows, held) = with_linear_system(&s, &start, |sys, _| {
        let held = Reduced::assemble(sys, true).couplings_held();
        (coupling_bytes(sys), sys.frame.len(), held)
    });
    // the estimate is what the assembly holds, the index vectors' growth bounded from above
    println!("couplings: estimated {couplings} bytes, held {held}");
    assert!(held <= couplings && couplings as f64 <= 1.1 * held as f64);
    let need2 = Sizes {
        frame_rows,
        ..sizes
    }
    .estimate(&direct.solver, Some(couplings))
    .total();
    println!(
        "source couplings {:.3} GB, frame rows {frame_rows}: {:.3} GB in all",
        gb(couplings),
        gb(need2)
    );
    assert!(couplings > 0 && need2 > need1 + 1);
    let limit = need1 + (need2 - need1) / 2;
    let (r, events) = run(&s, &config(Method::Direct, Some(limit)));
    match r {
        Err(SolveError::Memory {
            need_bytes,
            available_bytes,
            ..
        }) => assert_eq!((need_bytes, available_bytes), (need2, limit)),
        Err(e) => panic!("not a memory refusal: {e}"),
        Ok(_) => panic!("not refused at {limit} bytes for {need2}"),
    }
    assert_eq!(events, 0, "progress before the refusal");

    // PCG: refused one byte below its estimate, not at it
    let cg_need = sizes
        .estimate(&config(Method::Cg, None).solver, None)
        .total();
    assert!(cg_need < need1 / 10, "PCG {cg_need} vs direct {need1}");
    let (r, _) = run(&s, &config(Method::Cg, Some(cg_need - 1)));
    assert!(matches!(r, Err(SolveError::Memory { .. })));
    // keeping the observations on disk is offered: their records freed
    let records = (s.observations.obs.capacity()
        * std::mem::size_of::<astrosolve_model::Observation>()) as u64;
    assert_eq!(sizes.resident_records, records);
    let msg = r.err().unwrap().to_string();
    let offer = format!(
        "--observations-on-disk (needs {})",
        fmt_bytes(cg_need - records)
    );
    assert!(msg.contains(&offer), "{offer:?} not in: {msg}");
    let mut cfg = config(Method::Cg, Some(cg_need));
    cfg.solver.max_outer = 1;
    let (r, events) = run(&s, &cfg);
    if let Err(e) = &r {
        assert!(!matches!(e, SolveError::Memory { .. }), "{e}");
    }
    assert!(events > 0);
}
