//! Shared fixtures of the scanning tests: simulations and the linear system of one step.
#![allow(dead_code)]

use astrosolve_core::outer::{linearise, system};
use astrosolve_core::system::{System, Workspace};
use astrosolve_core::{Design, SolverConfig};
use astrosolve_model::units::UAS;
use astrosolve_model::MissionConfig;
use astrosolve_scanning::*;
use astrosolve_sim::{simulate_gaia, SimConfig, Simulation};

/// The default mission with `n_sources`, optionally noiseless.
pub fn simulation(n_sources: usize, noiseless: bool, seed: u64) -> Simulation {
    let sim = SimConfig {
        n_sources,
        noiseless,
        seed,
        ..Default::default()
    };
    simulate_gaia(&MissionConfig::default(), &sim, &|_| {}).unwrap()
}

/// A one-year mission of an instrument spinning at 30″/s (12 h per revolution), which allows
/// 6-h attitude knots: the reduced system stays at ≈ 7000 unknowns while every source gets the
/// visibility periods of a year.
pub fn slow_spin(n_sources: usize, seed: u64) -> Simulation {
    let sim = SimConfig {
        n_sources,
        seed,
        outlier_rate: 0.0,
        spin_rate_arcsec_s: 30.0,
        ..Default::default()
    };
    simulate_gaia(&MissionConfig::default(), &sim, &|_| {}).unwrap()
}

pub fn frame_reference(s: &Simulation) -> FrameReference {
    FrameReference::new(&s.reference_positions, &s.truth_sources)
}

/// The state of the truth or of the start.
pub fn state(s: &Simulation, at_truth: bool) -> ScanState {
    let (sources, att, cal) = if at_truth {
        (&s.truth_sources, &s.truth_attitude, &s.truth_calibration)
    } else {
        (&s.start_sources, &s.start_attitude, &s.start_calibration)
    };
    ScanState {
        params: sources.iter().map(|x| x.params).collect(),
        attitude: att.clone(),
        calibration: cal.clone(),
    }
}

/// A linear step as the outer loop's first iteration makes it (1/σ² weights, unsolvable
/// sources dropped, frame rows set), linearised at `st`.
pub fn with_linear_system<T>(
    s: &Simulation,
    st: &ScanState,
    f: impl FnOnce(&System<NS, ScanRow>, &mut Workspace) -> T,
) -> T {
    let model = s.model();
    let fr = frame_reference(s);
    let p = ScanningProblem::new(&model, &s.observations, st.clone(), FrameMode::Gaia, &fr);
    let mut design = Design::default();
    let w = linearise(&p, st, &mut design, false, &SolverConfig::scanning()).unwrap();
    let (sys, mut ws) = system(&p, st, &design, &w).unwrap();
    f(&sys, &mut ws)
}

/// The global solution with `cfg`.
pub fn solve_with(s: &Simulation, cfg: &ScanConfig) -> Solution {
    solve_store(s, &s.observations, cfg).unwrap()
}

/// The global solution of `s` with `cfg`, its observations read from `obs` (in memory, on
/// disk, or in another set).
pub fn solve_store(
    s: &Simulation,
    obs: &dyn astrosolve_model::ObservationStore,
    cfg: &ScanConfig,
) -> Result<Solution, astrosolve_core::SolveError> {
    solve::solve_resumable_on(
        &s.model(),
        obs,
        &s.start_sources,
        &s.start_attitude,
        &s.start_calibration,
        &frame_reference(s),
        cfg,
        &mut |_| true,
        None,
        &mut |_| true,
        &astrosolve_core::comm::Single,
        run::catalogue_chunks(obs),
    )
}

/// Largest difference between two updates in µas (µas/yr): source parameters as they are,
/// attitude coefficients ×2 (rotation angle), calibration as it is.
pub fn max_diff_uas(sys: &System<NS, ScanRow>, n_att: usize, a: &[f64], b: &[f64]) -> f64 {
    let g0 = sys.g0();
    let mut m: f64 = 0.0;
    for j in 0..sys.n() {
        let f = if j >= g0 && j < g0 + n_att { 2.0 } else { 1.0 };
        m = m.max(f * (a[j] - b[j]).abs());
    }
    m / UAS
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Relative residual ‖N x − b‖ / ‖b‖.
pub fn residual(sys: &System<NS, ScanRow>, ws: &mut Workspace, x: &[f64]) -> f64 {
    let mut mx = vec![0.0; x.len()];
    sys.apply(x, &mut mx, ws);
    let r: Vec<f64> = mx.iter().zip(&sys.b).map(|(a, b)| a - b).collect();
    (dot(&r, &r) / dot(&sys.b, &sys.b)).sqrt()
}

/// Largest difference of two solutions' source parameters (µas, µas/yr), solved sources.
pub fn max_source_diff_uas(a: &Solution, b: &Solution) -> f64 {
    let mut worst: f64 = 0.0;
    for (x, y) in a.sources.iter().zip(&b.sources) {
        if !(x.solved && y.solved) {
            continue;
        }
        let (da, dd) = frame::position_difference(&x.params, &y.params);
        for d in [
            da,
            dd,
            x.params.parallax - y.params.parallax,
            x.params.pmra - y.params.pmra,
            x.params.pmdec - y.params.pmdec,
        ] {
            worst = worst.max(d.abs());
        }
    }
    worst / UAS
}

pub fn rms(v: &[f64]) -> f64 {
    (v.iter().map(|x| x * x).sum::<f64>() / v.len().max(1) as f64).sqrt()
}

/// Largest |a − b| / σ_b over the five parameters of one source.
pub fn normalised_difference(a: &SourceResult, b: &SourceResult) -> f64 {
    let (da, dd) = astrosolve_scanning::frame::position_difference(&a.params, &b.params);
    let d = [
        da,
        dd,
        a.params.parallax - b.params.parallax,
        a.params.pmra - b.params.pmra,
        a.params.pmdec - b.params.pmdec,
    ];
    (0..5).map(|k| d[k].abs() / b.sigma(k)).fold(0.0, f64::max)
}
