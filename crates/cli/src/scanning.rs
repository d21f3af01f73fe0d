//! The scanning (Gaia-like) instrument from the command line: simulate, solve, demo.

use crate::args::{DemoArgs, FrameArg, SimulateArgs, SolveArgs, SolverOptions};
use crate::config::MissionFile;
use crate::progress::{bar, solver_events};
use crate::report::{Report, TruthReport};
use crate::{plots, prepare_out_dir};
use astrosolve_core::{Method, SolverConfig};
use astrosolve_io::{self as io, Dataset, Truth, WriteOptions};
use astrosolve_model::source::ReferencePosition;
use astrosolve_model::units::UAS;
use astrosolve_model::{quat, GaiaModel, TabulatedEphemeris};
use astrosolve_scanning::{truth, FrameMode, FrameReference, ScanConfig, Solution};
use astrosolve_sim::{simulate_gaia, Simulation};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

type Res = Result<(), Box<dyn std::error::Error>>;

const SOLUTION_FILES: [&str; 6] = [
    "catalogue.parquet",
    "attitude.parquet",
    "calibration.parquet",
    "report.json",
    "convergence.png",
    "parallax_vs_magnitude.png",
];

fn run_simulation(file: &MissionFile) -> Result<Simulation, String> {
    let pb = bar(file.simulation.n_sources as u64, "simulate");
    let t = Instant::now();
    let sim = simulate_gaia(&file.mission, &file.simulation, &|d| pb.set_position(d))?;
    pb.finish_and_clear();
    println!(
        "simulated {} sources, {} observations ({} with AC), {} attitude knots every {:.1} min, {} calibration interval(s), in {:.1} s",
        sim.truth_sources.len(),
        sim.observations.len(),
        sim.observations.obs.iter().filter(|o| o.has_ac()).count(),
        sim.truth_attitude.coeffs.len(),
        sim.mission.attitude_knot_interval_days * 1440.0,
        sim.truth_calibration.n_intervals,
        t.elapsed().as_secs_f64()
    );
    // the solver's redundancy rule (astrosolve_core::config::MIN_ATTITUDE_REDUNDANCY), from
    // all measurements: the solvable sources have fewer
    let n_ac = sim.observations.obs.iter().filter(|o| o.has_ac()).count();
    let n_att = (4 * sim.truth_attitude.coeffs.len()) as f64;
    let per_unknown = (sim.observations.len() + n_ac) as f64 / n_att;
    let min = astrosolve_core::config::MIN_ATTITUDE_REDUNDANCY;
    if per_unknown < min {
        eprintln!(
            "warning: {per_unknown:.1} measurements per attitude unknown, fewer than the {min:.0} `astrosolve solve` needs by default (it will refuse these data): the knot interval is at its longest (half a revolution); simulate ≈ {:.0} or more sources (more where not every source reaches the visibility periods; a longer mission adds knots as fast as measurements)",
            (sim.truth_sources.len() as f64 * min / per_unknown).ceil()
        );
    } else if (n_ac as f64 / n_att) < min / 3.0 {
        eprintln!(
            "warning: {:.1} AC measurements per attitude unknown, fewer than the {:.0} `astrosolve solve` needs by default (it will refuse these data): raise [simulation] g_ac_max",
            n_ac as f64 / n_att,
            min / 3.0
        );
    }
    Ok(sim)
}

/// A simulation as the data set a solver starts from, and its truth.
fn dataset_and_truth(sim: &Simulation) -> (Dataset, Truth) {
    let ds = Dataset {
        mission: sim.mission.clone(),
        sources: sim.start_sources.clone(),
        observations: sim.observations.clone(),
        attitude: sim.start_attitude.clone(),
        calibration: sim.start_calibration.clone(),
    };
    let tr = Truth {
        sources: sim.truth_sources.clone(),
        attitude: sim.truth_attitude.clone(),
        calibration: sim.truth_calibration.clone(),
        is_outlier: sim.is_outlier.clone(),
        noise_eta: sim.noise_eta.clone(),
        noise_zeta: sim.noise_zeta.clone(),
    };
    (ds, tr)
}

fn write_simulation(dir: &Path, file: &MissionFile, sim: &Simulation, force: bool) -> Res {
    let (ds, tr) = dataset_and_truth(sim);
    // the file records the intervals actually simulated
    let mut written = file.clone();
    written.mission = sim.mission.clone();
    std::fs::create_dir_all(dir)?;
    io::write_dataset_with_config(
        dir,
        &written,
        &ds,
        Some(&tr),
        &WriteOptions { overwrite: force },
    )?;
    io::write_reference_positions(
        dir.join(io::REFERENCE_FILE),
        &sim.reference_positions,
        &sim.start_sources,
        force,
    )?;
    println!("wrote data set to {}", dir.display());
    Ok(())
}

pub fn simulate(a: &SimulateArgs) -> Res {
    let mut file: MissionFile = match &a.config {
        Some(p) => io::read_toml(p)?,
        None => MissionFile::default(),
    };
    if let Some(s) = a.seed {
        file.simulation.seed = s;
    }
    if let Some(n) = a.n_sources {
        file.simulation.n_sources = n;
    }
    if let Some(d) = a.days {
        file.mission.duration_days = d;
        file.mission.start_day = -d / 2.0;
    }
    if let Some(r) = a.outlier_rate {
        file.simulation.outlier_rate = r;
    }
    // refuse before spending time on the simulation
    prepare_out_dir(
        &a.out,
        &[io::MISSION_FILE, io::OBSERVATIONS_FILE, io::SOURCES_FILE],
        a.force,
    )?;
    let sim = run_simulation(&file)?;
    write_simulation(&a.out, &file, &sim, a.force)
}

/// Everything a solve needs, from files or from a simulation.
pub(crate) struct Problem {
    pub(crate) mission: astrosolve_model::MissionConfig,
    pub(crate) ds: Dataset,
    pub(crate) truth: Option<Truth>,
    pub(crate) refs: Vec<ReferencePosition>,
}

fn model_of(p: &Problem) -> GaiaModel {
    let m = &p.mission;
    let analytic = astrosolve_model::GaiaL2Ephemeris {
        reference_epoch_jd: m.reference_epoch_jd,
        l2_scale: m.l2_scale,
    };
    let eph = TabulatedEphemeris::sample(&analytic, m.t_start() - 1.0, m.t_end() + 1.0, 0.25);
    GaiaModel::new(m.instrument(), &p.ds.calibration, Arc::new(eph))
}

/// The scanning configuration of the solver flags.
fn scan_config(opts: &SolverOptions) -> ScanConfig {
    ScanConfig {
        solver: opts.core_config(SolverConfig::scanning()),
        frame: match opts.frame.unwrap_or(FrameArg::Gaia) {
            FrameArg::Gaia => FrameMode::Gaia,
            FrameArg::MinNorm => FrameMode::MinNorm,
        },
    }
}

fn solve_problem(p: &Problem, opts: &SolverOptions, out: &Path) -> Res {
    opts.check_direct_flags()?;
    let cfg = scan_config(opts);
    let fr = FrameReference {
        positions: p
            .refs
            .iter()
            .map(|r| (r.source_index, r.ra, r.dec, r.sigma))
            .collect(),
        zero_spin: p
            .ds
            .sources
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_qso)
            .map(|(i, _)| i)
            .collect(),
    };
    if cfg.frame == FrameMode::Gaia && (fr.positions.is_empty() || fr.zero_spin.is_empty()) {
        return Err("the Gaia-like frame needs reference positions (reference_positions.parquet) and quasar-like sources \
(is_qso); use --frame min-norm without them"
            .into());
    }
    let model = model_of(p);
    let pb = bar(cfg.solver.max_outer as u64, "solve");
    let pairs = match &opts.cov_pairs {
        Some(f) => Some(crate::covariance::read_pairs(f, p)?),
        None => None,
    };
    if cfg.solver.method == Method::Direct {
        pb.suspend(|| {
            println!(
                "direct solver: {} reduced unknowns (attitude + calibration), dense matrix {:.2} GB \
(at the end: full covariance, skip with --no-covariance; eigenvalue spectrum, skip with --no-spectrum)",
                p.ds.attitude.n_params() + p.ds.calibration.n_params(),
                ((p.ds.attitude.n_params() + p.ds.calibration.n_params()) as f64).powi(2) * 8e-9
            )
        });
    }
    let sol = astrosolve_scanning::solve(
        &model,
        &p.ds.observations,
        &p.ds.sources,
        &p.ds.attitude,
        &p.ds.calibration,
        &fr,
        &cfg,
        &mut solver_events(&pb),
    )?;
    pb.finish_and_clear();
    write_solution(p, &sol, out)?;
    if let Some(pairs) = pairs {
        crate::covariance::write_pairs(&out.join("covariance_pairs.csv"), &sol, p, &pairs)?;
        println!("wrote {}/covariance_pairs.csv", out.display());
    }
    Ok(())
}

fn write_solution(p: &Problem, sol: &Solution, out: &Path) -> Res {
    let ref_epoch = io::julian_year(p.mission.reference_epoch_jd);
    let sources: Vec<_> =
        p.ds.sources
            .iter()
            .zip(&sol.sources)
            .map(|(s, r)| astrosolve_model::source::Source {
                params: r.params,
                ..*s
            })
            .collect();
    let covs: Vec<[[f64; 5]; 5]> = sol
        .sources
        .iter()
        .map(|r| if r.solved { r.cov } else { [[f64::NAN; 5]; 5] })
        .collect();
    let mut solved = io::SolvedColumns::from_covariances(&covs);
    solved.astrometric_n_obs_al = Some(sol.sources.iter().map(|r| r.n_obs_al as i32).collect());
    solved.astrometric_n_good_obs_al =
        Some(sol.sources.iter().map(|r| r.n_good_obs_al as i32).collect());
    solved.astrometric_n_bad_obs_al =
        Some(sol.sources.iter().map(|r| r.n_bad_obs_al as i32).collect());
    solved.astrometric_excess_noise = Some(sol.sources.iter().map(|r| r.excess_noise).collect());
    solved.ruwe = Some(
        sol.sources
            .iter()
            .map(|r| r.ruwe.unwrap_or(f64::NAN))
            .collect(),
    );
    io::write_catalogue(
        out.join("catalogue.parquet"),
        &sources,
        ref_epoch,
        Some(&solved),
        true,
    )?;
    io::write_attitude(out.join("attitude.parquet"), &sol.attitude, true)?;
    io::write_calibration(out.join("calibration.parquet"), &sol.calibration, true)?;

    let comparison = p
        .truth
        .as_ref()
        .map(|t| truth::compare(&sol.sources, &t.sources, 20));
    let truth_report = match (&p.truth, &comparison) {
        (Some(t), Some(c)) => Some(TruthReport {
            comparison: c,
            calibration_rms_error_uas: rms(sol
                .calibration
                .params
                .iter()
                .zip(&t.calibration.params)
                .map(|(a, b)| a - b))
                / UAS,
            attitude_rms_error_uas: attitude_error(&sol.attitude, &t.attitude),
        }),
        _ => None,
    };
    let report = Report::new(&sol.report, &sol.frame, truth_report);
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    plots::convergence(&out.join("convergence.png"), &sol.report)?;
    if let Some(ev) = &sol.spectrum {
        crate::covariance::write_spectrum(&out.join("eigenvalues.csv"), ev)?;
        plots::spectrum(&out.join("eigenvalues.png"), ev)?;
    }
    if sol.covariance.is_some() {
        crate::covariance::write_source_covariance(
            &out.join("source_covariance.csv"),
            &sol.sources,
            &p.ds.sources,
        )?;
    }
    if let Some(t) = &p.truth {
        plots::parallax_vs_magnitude(
            &out.join("parallax_vs_magnitude.png"),
            &sol.sources,
            &t.sources,
        )?;
    }
    print_summary(sol, comparison.as_ref());
    println!(
        "wrote {}/{{catalogue,attitude,calibration}}.parquet, report.json and plots",
        out.display()
    );
    Ok(())
}

fn rms(it: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for v in it {
        s += v * v;
        n += 1;
    }
    (s / n.max(1) as f64).sqrt()
}

/// RMS rotation (x, y, z in the SRS) between two attitudes, sampled over their common span.
fn attitude_error(
    a: &astrosolve_model::BSplineAttitude,
    b: &astrosolve_model::BSplineAttitude,
) -> [f64; 3] {
    let (t0, t1) = (
        a.knots.t0.max(b.knots.t0),
        a.knots.t_end().min(b.knots.t_end()),
    );
    let n = 20_000;
    let mut s = [0.0; 3];
    for i in 0..n {
        let t = t0 + (t1 - t0) * (i as f64 + 0.5) / n as f64;
        let d = quat::mul(&quat::conj(&b.quat(t)), &a.quat(t));
        let sign = if d[3] < 0.0 { -1.0 } else { 1.0 };
        for k in 0..3 {
            s[k] += (2.0 * sign * d[k]).powi(2);
        }
    }
    s.map(|v| (v / n as f64).sqrt() / UAS)
}

fn print_summary(sol: &Solution, c: Option<&truth::TruthComparison>) {
    let r = &sol.report;
    println!(
        "\n{} solution: {} after {} outer / {} inner iterations in {:.1} s; {} of {} sources solved, {} measurements ({} outliers)",
        r.solver.to_uppercase(),
        if r.converged { "converged" } else { "NOT converged" },
        r.outer_iterations,
        r.inner_iterations,
        r.wall_seconds,
        r.n_solved_sources,
        r.n_sources,
        r.n_rows,
        r.n_outliers
    );
    for w in &r.redundancy.warnings {
        println!("warning: {w}");
    }
    if let Some(c) = c {
        println!(
            "accuracy against the truth ({} sources with ≥ {} good observations):",
            c.n_sources, c.min_obs
        );
        println!("  parameter   RMS error      median formal   RMS(error/formal)");
        for (name, s, unit) in [
            ("ra*", &c.ra, "µas"),
            ("dec", &c.dec, "µas"),
            ("parallax", &c.parallax, "µas"),
            ("pmra", &c.pmra, "µas/yr"),
            ("pmdec", &c.pmdec, "µas/yr"),
        ] {
            println!(
                "  {name:<10} {:>9.1} {unit:<7} {:>9.1} {unit:<7} {:>8.3}",
                s.rms_error_uas, s.median_formal_error_uas, s.normalised_rms
            );
        }
        let nan3 = [f64::NAN; 3];
        let (se, so) = (
            r.frame.rotation_sigma_uas.unwrap_or(nan3),
            r.frame.spin_sigma_uas_per_yr.unwrap_or(nan3),
        );
        let v = |x: [f64; 3]| format!("({:.1}, {:.1}, {:.1})", x[0], x[1], x[2]);
        println!(
            "  frame vs truth: rotation {} ± {} µas, spin {} ± {} µas/yr",
            v(c.rotation_uas),
            v(se),
            v(c.spin_uas_per_yr),
            v(so)
        );
    }
}

pub fn solve(a: &SolveArgs) -> Res {
    prepare_out_dir(&a.out, &SOLUTION_FILES, a.force)?;
    let (ds, truth) = io::read_dataset_and_truth(&a.dir)?;
    let ref_path = a.dir.join(io::REFERENCE_FILE);
    let refs = if ref_path.exists() {
        io::read_reference_positions(&ref_path, &ds.sources)?
    } else {
        Vec::new()
    };
    println!(
        "read {} sources and {} observations from {}",
        ds.sources.len(),
        ds.observations.len(),
        a.dir.display()
    );
    let p = Problem {
        mission: ds.mission.clone(),
        ds,
        truth,
        refs,
    };
    solve_problem(&p, &a.solver, &a.out)
}

pub fn demo(a: &DemoArgs) -> Res {
    prepare_out_dir(&a.out, &SOLUTION_FILES, a.force)?;
    let file = MissionFile::default();
    let sim = run_simulation(&file)?;
    write_simulation(&a.out.join("data"), &file, &sim, a.force)?;
    let (ds, tr) = dataset_and_truth(&sim);
    let p = Problem {
        mission: sim.mission.clone(),
        ds,
        truth: Some(tr),
        refs: sim.reference_positions.clone(),
    };
    solve_problem(&p, &a.solver, &a.out)
}
