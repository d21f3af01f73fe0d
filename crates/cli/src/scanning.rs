//! The scanning (Gaia-like) instrument from the command line: simulate, solve, demo. The work
//! is done by `astrosolve_scanning::run` (shared with the Python bindings); this module adds
//! the progress bars, the printed summaries, the plots and the direct solver's extra files.

use crate::args::{DemoArgs, FrameArg, SimulateArgs, SolveArgs, SolverOptions};
use crate::config::MissionFile;
use crate::progress::{bar, solver_events};
use crate::{plots, prepare_out_dir};
use astrosolve_core::{Method, SolverConfig};
use astrosolve_io as io;
use astrosolve_scanning::run::{self, Problem, SOLUTION_FILES};
use astrosolve_scanning::{truth, FrameMode, ScanConfig, Solution};
use astrosolve_sim::Simulation;
use std::path::Path;

type Res = Result<(), Box<dyn std::error::Error>>;

fn run_simulation(file: &MissionFile) -> Result<Simulation, Box<dyn std::error::Error>> {
    let pb = bar(file.simulation.n_sources as u64, "simulate");
    let s = run::simulate(file, &|d| pb.set_position(d))?;
    pb.finish_and_clear();
    println!("{}", s.summary_line());
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
    Ok(s.sim)
}

/// `run::write_simulation`, writing the simulation's parts where they are (borrowed:
/// `io::write_dataset_with_config_ref`) instead of copying them into a data set and a truth
/// first, so that writing a large simulation holds no second copy of its observations.
fn write_simulation(dir: &Path, file: &MissionFile, sim: &Simulation, force: bool) -> Res {
    let _writing = crate::interrupt::Writing::start();
    let mut written = file.clone();
    written.mission = sim.mission.clone();
    io::ensure_writable_dir(dir)?;
    let ds = io::DatasetRef {
        mission: &sim.mission,
        sources: &sim.start_sources,
        observations: &sim.observations,
        attitude: &sim.start_attitude,
        calibration: &sim.start_calibration,
    };
    let tr = io::TruthRef {
        sources: &sim.truth_sources,
        attitude: &sim.truth_attitude,
        calibration: &sim.truth_calibration,
        is_outlier: &sim.is_outlier,
        noise_eta: &sim.noise_eta,
        noise_zeta: &sim.noise_zeta,
    };
    let options = io::WriteOptions { overwrite: force };
    io::write_dataset_with_config_ref(dir, &written, ds, Some(tr), &options)?;
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
    let file: MissionFile = match &a.config {
        Some(p) => io::read_toml(p)?,
        None => MissionFile::default(),
    };
    let file = file.with_overrides(a.seed, a.n_sources, a.days, a.outlier_rate);
    // refuse before spending time on the simulation
    prepare_out_dir(&a.out, &run::DATASET_FILES, a.force, &[])?;
    let sim = run_simulation(&file)?;
    write_simulation(&a.out, &file, &sim, a.force)
}

/// The scanning configuration of the solver flags.
pub(crate) fn scan_config(opts: &SolverOptions) -> ScanConfig {
    ScanConfig {
        solver: opts.core_config(SolverConfig::scanning()),
        frame: match opts.frame.unwrap_or(FrameArg::Gaia) {
            FrameArg::Gaia => FrameMode::Gaia,
            FrameArg::MinNorm => FrameMode::MinNorm,
        },
    }
}

fn solve_problem(
    p: &Problem,
    opts: &SolverOptions,
    out: &Path,
    ck: Option<&run::Checkpointing>,
) -> Res {
    opts.check_direct_flags()?;
    let cfg = scan_config(opts);
    // refused here, before the work, when the frame cannot be fixed
    p.frame_reference(cfg.frame)?;
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
                p.n_reduced_unknowns(),
                (p.n_reduced_unknowns() as f64).powi(2) * 8e-9
            )
        });
    }
    let sol = match ck {
        Some(ck) => run::solve_checkpointed(p, &cfg, &mut solver_events(&pb), ck)?,
        None => run::solve(p, &cfg, &mut solver_events(&pb))?,
    };
    pb.finish_and_clear();
    write_solution(p, &sol, out, sol.covariance.is_some())?;
    if let Some(pairs) = pairs {
        crate::covariance::write_pairs(&out.join("covariance_pairs.csv"), &sol, p, &pairs)?;
        println!("wrote {}/covariance_pairs.csv", out.display());
    }
    // the solution is written: its checkpoint is no longer needed
    if let Some(ck) = ck {
        ck.remove()?;
    }
    Ok(())
}

/// Writes the solution files, plots and the direct solver's extra files, and prints the
/// summary; `covariance`: the solve computed the sources' covariances (source_covariance.csv
/// from their blocks in `sol.sources`).
pub(crate) fn write_solution(p: &Problem, sol: &Solution, out: &Path, covariance: bool) -> Res {
    let _writing = crate::interrupt::Writing::start();
    let written = run::write_solution(p, sol, out)?;
    plots::convergence(&out.join("convergence.png"), &sol.report)?;
    if let Some(ev) = &sol.spectrum {
        crate::covariance::write_spectrum(&out.join("eigenvalues.csv"), ev)?;
        plots::spectrum(&out.join("eigenvalues.png"), ev)?;
    }
    if covariance {
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
    print_summary(sol, written.comparison.as_ref());
    println!(
        "wrote {}/{{catalogue,attitude,calibration}}.parquet, report.json and plots",
        out.display()
    );
    Ok(())
}

fn print_summary(sol: &Solution, c: Option<&truth::TruthComparison>) {
    let r = &sol.report;
    if r.verdict != astrosolve_core::outer::CONVERGED {
        println!("\n{}", r.verdict);
    }
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
    for w in r.redundancy.warnings.iter().chain(&r.warnings) {
        println!("warning: {w}");
    }
    if let Some(c) = c {
        if c.n_sources == 0 {
            println!(
                "accuracy against the truth: undetermined (no solved source has ≥ {} good observations)",
                c.min_obs
            );
            return;
        }
        println!(
            "accuracy against the truth ({} sources with ≥ {} good observations):",
            c.n_sources, c.min_obs
        );
        println!("  parameter   RMS error      median formal   RMS(error/formal)");
        let f = |v: f64, w: usize, p: usize| {
            if v.is_finite() {
                format!("{v:>w$.p$}")
            } else {
                format!("{:>w$}", "undetermined")
            }
        };
        for (name, s, unit) in [
            ("ra*", &c.ra, "µas"),
            ("dec", &c.dec, "µas"),
            ("parallax", &c.parallax, "µas"),
            ("pmra", &c.pmra, "µas/yr"),
            ("pmdec", &c.pmdec, "µas/yr"),
        ] {
            println!(
                "  {name:<10} {} {unit:<7} {} {unit:<7} {}",
                f(s.rms_error_uas, 9, 1),
                f(s.median_formal_error_uas, 9, 1),
                f(s.normalised_rms, 8, 3)
            );
        }
        // a vector and its σ, or why there is none
        let v = |x: Option<[f64; 3]>| match x {
            Some(x) if x.iter().all(|v| v.is_finite()) => {
                format!("({:.1}, {:.1}, {:.1})", x[0], x[1], x[2])
            }
            _ => "undetermined".to_string(),
        };
        let pm = |x: Option<[f64; 3]>| match x {
            Some(x) if x.iter().all(|v| v.is_finite()) => format!(" ± {}", v(Some(x))),
            _ if sol.frame == "min-norm" => " (no σ: minimum-norm frame)".to_string(),
            _ => " ± undetermined (too few frame sources solved)".to_string(),
        };
        println!(
            "  frame vs truth: rotation {}{} µas, spin {}{} µas/yr",
            v(Some(c.rotation_uas)),
            pm(r.frame.rotation_sigma_uas),
            v(Some(c.spin_uas_per_yr)),
            pm(r.frame.spin_sigma_uas_per_yr)
        );
    }
}

pub fn solve(a: &SolveArgs) -> Res {
    // resuming finishes the solve whose checkpoint OUT holds: its outputs may be replaced
    prepare_out_dir(&a.out, &SOLUTION_FILES, a.force || a.resume, &[&a.dir])?;
    let ck = run::Checkpointing::new(
        &a.out,
        &a.dir,
        &run::INPUT_FILES,
        run::config_fingerprint(&scan_config(&a.solver)),
        a.resume,
    )?;
    if !a.resume {
        // a checkpoint of an earlier solve (--force) is not resumed from by accident
        ck.remove()?;
    }
    let mut p = Problem::read(&a.dir)?;
    println!(
        "read {} sources and {} observations from {}",
        p.ds.sources.len(),
        p.ds.observations.len(),
        a.dir.display()
    );
    if a.observations_on_disk {
        p.spill_observations(&a.out)?;
        if let Some(f) = &p.spilled {
            println!(
                "observations on disk during the solve: {:.2} GB in a scratch file in {} ({})",
                f.file_bytes() as f64 * 1e-9,
                a.out.display(),
                if cfg!(unix) {
                    "its name removed already"
                } else {
                    "removed at the end"
                }
            );
        }
    }
    solve_problem(&p, &a.solver, &a.out, Some(&ck))
}

pub fn demo(a: &DemoArgs) -> Res {
    prepare_out_dir(&a.out, &SOLUTION_FILES, a.force, &[])?;
    let file = MissionFile::default();
    let sim = run_simulation(&file)?;
    write_simulation(&a.out.join("data"), &file, &sim, a.force)?;
    let p = Problem::from_simulation(&sim);
    solve_problem(&p, &a.solver, &a.out, None)
}
