//! Property test (issue #14, item 3): the solver ends every data set with a result or an
//! error, never a panic. Tiny simulated missions (100–200 sources, 20–30 days) are perturbed
//! at random — wild values, zero, tiny and huge σ, NaN-free extremes, duplicates in time,
//! removed observations, empty sources, an empty calibration unit or knot span, flipped, zero
//! or rescaled attitude coefficients, absurd starting catalogue entries, frames without
//! references — and solved with random solver settings (at most two outer iterations), in
//! memory; a dozen of them also go through the data-set writer and reader, so that their
//! validation is exercised. A result must hold finite values for every solved source. Each
//! case is reproducible from its number (printed on failure): `PROPERTY_CASE=k` runs case k
//! alone (with its settings printed), `PROPERTY_VERBOSE=1` prints every case's outcome.

use astrosolve_core::{Method, SolverConfig};
use astrosolve_io::{self as io, Dataset, WriteOptions};
use astrosolve_model::source::{ReferencePosition, Source};
use astrosolve_model::units::MAS;
use astrosolve_model::{BSplineAttitude, Calibration, MissionConfig, Observation, ObservationSet};
use astrosolve_scanning::run::{self, RunError};
use astrosolve_scanning::*;
use astrosolve_sim::rng::Rng;
use astrosolve_sim::{simulate_gaia, SimConfig, Simulation};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// Cases solved in memory and through files.
const N_MEMORY: u64 = 216;
const N_FILES: u64 = 12;
const SEED: u64 = 0x1415_9265;

/// A base mission: `n` sources over `days` days.
fn base(n: usize, days: f64, seed: u64, g_ac_max: f64) -> Simulation {
    let mission = MissionConfig {
        duration_days: days,
        start_day: -days / 2.0,
        ..Default::default()
    };
    let sim = SimConfig {
        n_sources: n,
        seed,
        g_ac_max,
        ..Default::default()
    };
    simulate_gaia(&mission, &sim, &|_| {}).expect("base simulation")
}

/// Everything a solve starts from, to be perturbed.
#[derive(Clone)]
struct Data {
    obs: Vec<Observation>,
    sources: Vec<Source>,
    attitude: BSplineAttitude,
    calibration: Calibration,
    refs: Vec<ReferencePosition>,
}

impl Data {
    fn of(s: &Simulation) -> Self {
        Data {
            obs: s.observations.obs.clone(),
            sources: s.start_sources.clone(),
            attitude: s.start_attitude.clone(),
            calibration: s.start_calibration.clone(),
            refs: s.reference_positions.clone(),
        }
    }
}

fn uniform(rng: &mut Rng, a: f64, b: f64) -> f64 {
    a + (b - a) * (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn index(rng: &mut Rng, n: usize) -> usize {
    (rng.next_u64() % n.max(1) as u64) as usize
}

fn pick<T: Copy>(rng: &mut Rng, v: &[T]) -> T {
    v[index(rng, v.len())]
}

/// ± 10^e with e uniform in [lo, hi].
fn wild(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    let s = if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 };
    s * 10f64.powf(uniform(rng, lo, hi))
}

/// Applies one random perturbation; returns its description. `finite` keeps every value
/// finite (what a file can hold).
fn perturb(d: &mut Data, rng: &mut Rng, finite: bool) -> String {
    let n_obs = d.obs.len();
    let kinds = 22;
    let k = index(rng, kinds);
    if n_obs == 0 && k < 8 {
        return "nothing (no observations)".into();
    }
    let j = index(rng, n_obs);
    match k {
        0 => {
            let v = wild(rng, 0.0, 300.0);
            d.obs[j].eta = v * MAS;
            format!("eta of observation {j} = {v:e} mas")
        }
        1 => {
            let v = wild(rng, 0.0, 300.0);
            if d.obs[j].zeta.is_finite() {
                d.obs[j].zeta = v * MAS;
            }
            format!("zeta of observation {j} = {v:e} mas")
        }
        2 => {
            let v = pick(rng, &[0.0, -1e-3, 1e-200, 5e-324, 1e-12, 1e300, 1e30]);
            d.obs[j].sigma_eta = v * MAS;
            format!("eta_error of observation {j} = {v:e} mas")
        }
        3 => {
            let v = pick(rng, &[0.0, 1e-200, 1e300, 1e-9]);
            if d.obs[j].zeta.is_finite() {
                d.obs[j].sigma_zeta = v * MAS;
            }
            format!("zeta_error of observation {j} = {v:e} mas")
        }
        4 => {
            let m = 1 + index(rng, 50);
            for _ in 0..m {
                let i = index(rng, d.obs.len());
                let mut o = d.obs[i];
                if rng.next_u64() & 1 == 0 {
                    o.eta += wild(rng, -1.0, 3.0) * MAS;
                }
                d.obs.push(o);
            }
            format!("{m} observations duplicated in time")
        }
        5 => {
            let src = d.obs[j].source_index;
            let t = d.obs[j].t;
            for o in d.obs.iter_mut().filter(|o| o.source_index == src) {
                o.t = t;
            }
            format!("every observation of source {src} at t = {t}")
        }
        6 => {
            let p = uniform(rng, 0.1, 0.999);
            d.obs.retain(|_| uniform(rng, 0.0, 1.0) > p);
            format!("observations removed with probability {p:.3}")
        }
        7 => {
            let f = uniform(rng, 0.0, 1.0);
            let n = d.sources.len();
            let gone: Vec<bool> = (0..n).map(|_| uniform(rng, 0.0, 1.0) < f).collect();
            d.obs.retain(|o| !gone[o.source_index as usize]);
            format!("sources without observations: a fraction {f:.2}")
        }
        8 => {
            for o in d.obs.iter_mut() {
                o.source_index = 0;
            }
            "all observations on source 0".into()
        }
        9 => {
            d.obs.clear();
            "no observations".into()
        }
        10 => {
            let c = index(rng, d.attitude.coeffs.len());
            let how = index(rng, if finite { 5 } else { 6 });
            let q = &mut d.attitude.coeffs[c];
            match how {
                0 => *q = q.map(|v| -v),
                1 => *q = [0.0; 4],
                2 => *q = q.map(|v| v * 1e-6),
                3 => *q = q.map(|v| v * 1e6),
                4 => q.swap(0, 3),
                _ => q[1] = f64::NAN,
            }
            format!("attitude coefficient {c}: change {how}")
        }
        11 => {
            for q in d.attitude.coeffs.iter_mut() {
                *q = q.map(|v| -v);
            }
            "every attitude coefficient negated".into()
        }
        12 => {
            let i = index(rng, d.sources.len());
            let p = &mut d.sources[i].params;
            let how = index(rng, if finite { 5 } else { 6 });
            match how {
                0 => p.parallax = wild(rng, 0.0, 12.0) * MAS,
                1 => p.pmra = wild(rng, 0.0, 12.0) * MAS,
                2 => p.dec = std::f64::consts::FRAC_PI_2,
                3 => p.ra = wild(rng, 0.0, 3.0),
                4 => p.parallax = -p.parallax,
                _ => p.pmdec = f64::NAN,
            }
            format!("starting catalogue source {i}: change {how}")
        }
        13 => {
            let n = d.calibration.params.len();
            let c = index(rng, n);
            if n > 0 {
                d.calibration.params[c] = if finite || rng.next_u64() & 1 == 0 {
                    wild(rng, 0.0, 12.0) * MAS
                } else {
                    f64::NAN
                };
            }
            format!("calibration parameter {c}")
        }
        14 => {
            let row = d.obs[j].row;
            d.obs.retain(|o| o.row != row);
            format!("no observations in CCD row {row} (empty calibration units)")
        }
        15 => {
            let k = &d.attitude.knots;
            let a = k.t0 + index(rng, k.n_intervals) as f64 * k.h;
            let b = a + (1 + index(rng, 4)) as f64 * k.h;
            d.obs.retain(|o| o.t < a || o.t > b);
            format!("no observations in [{a}, {b}] days (empty knot intervals)")
        }
        16 => {
            for o in d.obs.iter_mut().filter(|o| o.source_index % 3 == 0) {
                o.ac_coord = if o.ac_coord < 0.0 { -1.0 } else { 1.0 };
            }
            "ac_coord at ±1".into()
        }
        17 => {
            let keep = index(rng, 2);
            d.refs.truncate(keep);
            format!("{keep} reference positions")
        }
        18 => {
            let keep = index(rng, 2);
            let mut n = 0;
            for s in d.sources.iter_mut() {
                if s.is_qso {
                    n += 1;
                    s.is_qso = n <= keep;
                }
            }
            format!("{keep} quasars")
        }
        19 => {
            let shift = 10f64.to_radians();
            for r in d.refs.iter_mut() {
                r.dec = (r.dec + shift).min(std::f64::consts::FRAC_PI_2);
            }
            "reference positions shifted by 10°".into()
        }
        20 => {
            let k = &d.attitude.knots;
            let (t0, t1) = (k.t0, k.t_end());
            for o in d.obs.iter_mut().filter(|o| o.source_index % 4 == 1) {
                o.t = if o.t < 0.5 * (t0 + t1) { t0 } else { t1 };
            }
            "observation times at the ends of the attitude span".into()
        }
        _ => {
            let f = wild(rng, -6.0, 6.0);
            for o in d.obs.iter_mut() {
                o.sigma_eta *= f.abs();
            }
            format!("every eta_error × {:e}", f.abs())
        }
    }
}

/// Random solver settings (at most two outer iterations).
fn config(rng: &mut Rng) -> ScanConfig {
    let method = pick(rng, &[Method::Cg, Method::Bi, Method::Lsqr, Method::Direct]);
    let mut solver = SolverConfig {
        method,
        max_outer: 1 + index(rng, 2),
        max_inner: pick(rng, &[1, 20, 200]),
        robust: !rng.next_u64().is_multiple_of(4),
        min_attitude_redundancy: pick(rng, &[0.0, 0.0, 0.0, 1.0, 60.0]),
        keep_rank_defect: method == Method::Direct && rng.next_u64().is_multiple_of(3),
        covariance: rng.next_u64() & 1 == 0,
        spectrum: rng.next_u64() & 1 == 0,
        allow_unconverged: !rng.next_u64().is_multiple_of(3),
        ..SolverConfig::scanning()
    };
    solver.solvable.min_visibility_periods = pick(rng, &[1, 1, 1, 2, 6]);
    ScanConfig {
        solver,
        frame: pick(rng, &[FrameMode::Gaia, FrameMode::MinNorm]),
    }
}

/// Every solved source of a result has finite parameters and variances.
fn check_finite(sol: &Solution) -> Result<(), String> {
    for (i, s) in sol.sources.iter().enumerate() {
        if !s.solved {
            continue;
        }
        let p = &s.params;
        let v = [p.ra, p.dec, p.parallax, p.pmra, p.pmdec];
        if v.iter().any(|x| !x.is_finite()) || (0..5).any(|k| !s.cov[k][k].is_finite()) {
            return Err(format!("source {i} solved with a non-finite value: {p:?}"));
        }
    }
    Ok(())
}

/// One case: the base, the perturbations and the settings of case `k`.
fn case(bases: &[Simulation], k: u64, finite: bool) -> (usize, Data, Vec<String>, ScanConfig) {
    let mut rng = Rng::new(SEED, k);
    let b = index(&mut rng, bases.len());
    let mut d = Data::of(&bases[b]);
    let n = index(&mut rng, 4);
    let mut what: Vec<String> = (0..n).map(|_| perturb(&mut d, &mut rng, finite)).collect();
    if what.is_empty() {
        what.push(format!("base {b} as simulated"));
    }
    (b, d, what, config(&mut rng))
}

#[derive(Default)]
struct Tally {
    ok: usize,
    errors: usize,
    panics: Vec<String>,
    /// Errors by the start of their message.
    kinds: std::collections::BTreeMap<String, usize>,
}

impl Tally {
    fn add(
        &mut self,
        k: u64,
        what: &[String],
        r: std::thread::Result<Result<String, String>>,
        seconds: f64,
    ) {
        if std::env::var_os("PROPERTY_VERBOSE").is_some() {
            let o = match &r {
                Ok(Ok(v)) => format!("ok: {v}"),
                Ok(Err(e)) => format!("error: {}", e.chars().take(150).collect::<String>()),
                Err(_) => "PANIC".into(),
            };
            println!("case {k} ({seconds:.2} s) [{}] → {o}", what.join("; "));
        }
        match r {
            Ok(Ok(_)) => self.ok += 1,
            Ok(Err(e)) if e.starts_with("NON-FINITE") => self
                .panics
                .push(format!("case {k} ({}): {e}", what.join("; "))),
            Ok(Err(e)) => {
                self.errors += 1;
                let head: String = e.chars().take(60).collect();
                *self.kinds.entry(head).or_default() += 1;
            }
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                self.panics
                    .push(format!("case {k} ({}): panic: {msg}", what.join("; ")));
            }
        }
    }
}

fn outcome(r: Result<Solution, String>) -> Result<String, String> {
    match r {
        Ok(sol) => match check_finite(&sol) {
            Ok(()) => Ok(sol.report.verdict.clone()),
            Err(e) => Err(format!("NON-FINITE {e}")),
        },
        Err(e) => Err(e),
    }
}

#[test]
fn perturbed_data_sets_end_in_a_result_or_an_error_never_a_panic() {
    let t = Instant::now();
    let bases = [
        base(100, 30.0, 11, 21.0),
        base(200, 30.0, 12, 21.0),
        base(150, 20.0, 13, 15.0),
    ];
    let model: Vec<_> = bases.iter().map(|b| b.model()).collect();
    println!("bases simulated in {:.1} s", t.elapsed().as_secs_f64());
    // no panic message on stderr for every caught panic
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));

    let mut tally = Tally::default();
    // PROPERTY_CASE=k runs case k alone
    let only: Option<u64> = std::env::var("PROPERTY_CASE")
        .ok()
        .and_then(|v| v.parse().ok());
    let selected = |k: u64| only.is_none_or(|o| o == k);
    for k in (0..N_MEMORY).filter(|&k| selected(k)) {
        let t_case = Instant::now();
        let (b, d, what, cfg) = case(&bases, k, false);
        if only.is_some() {
            println!("{cfg:?}");
        }
        let n_src = d.sources.len();
        let r = catch_unwind(AssertUnwindSafe(|| {
            let obs = ObservationSet::from_unsorted(d.obs.clone(), n_src);
            let fr = FrameReference::new(&d.refs, &d.sources);
            outcome(
                solve(
                    &model[b],
                    &obs,
                    &d.sources,
                    &d.attitude,
                    &d.calibration,
                    &fr,
                    &cfg,
                    &mut |_| true,
                )
                .map_err(|e| e.to_string()),
            )
        }));
        tally.add(k, &what, r, t_case.elapsed().as_secs_f64());
    }
    let t_mem = t.elapsed().as_secs_f64();

    let dir = std::env::temp_dir().join(format!("astrosolve-property-{}", std::process::id()));
    let mut read_back = 0;
    for k in (N_MEMORY..N_MEMORY + N_FILES).filter(|&k| selected(k)) {
        let t_case = Instant::now();
        let (b, d, what, cfg) = case(&bases, k, true);
        let r = catch_unwind(AssertUnwindSafe(|| {
            let mut run = || -> Result<Solution, RunError> {
                let n_src = d.sources.len();
                let ds = Dataset {
                    mission: bases[b].mission.clone(),
                    sources: d.sources.clone(),
                    observations: ObservationSet::from_unsorted(d.obs.clone(), n_src),
                    attitude: d.attitude.clone(),
                    calibration: d.calibration.clone(),
                };
                io::write_dataset(&dir, &ds, None, &WriteOptions { overwrite: true })?;
                io::write_mission(dir.join(io::MISSION_FILE), &ds.mission, true)?;
                io::write_reference_positions(
                    dir.join(io::REFERENCE_FILE),
                    &d.refs,
                    &d.sources,
                    true,
                )?;
                let p = run::Problem::read(&dir)?;
                read_back += 1;
                run::solve(&p, &cfg, &mut |_| true)
            };
            outcome(run().map_err(|e| e.to_string()))
        }));
        tally.add(k, &what, r, t_case.elapsed().as_secs_f64());
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::panic::set_hook(hook);
    println!(
        "{} cases ({} through files, {read_back} of them read back): {} results, {} errors, {} failures; {:.1} s in memory, {:.1} s in all",
        N_MEMORY + N_FILES,
        N_FILES,
        tally.ok,
        tally.errors,
        tally.panics.len(),
        t_mem,
        t.elapsed().as_secs_f64()
    );
    for (head, n) in &tally.kinds {
        println!("{n:4} × {head}…");
    }
    assert!(
        tally.panics.is_empty(),
        "{} of {} cases panicked or returned non-finite values:\n{}",
        tally.panics.len(),
        N_MEMORY + N_FILES,
        tally.panics.join("\n")
    );
    if only.is_some() {
        return;
    }
    // the cases exercise the solver, not only its refusals
    assert!(
        tally.ok >= 20,
        "only {} cases ended with a result",
        tally.ok
    );
    assert!(read_back >= 5, "only {read_back} file cases were read back");
}
