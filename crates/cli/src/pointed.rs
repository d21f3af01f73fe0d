//! JASMINE-like pointed surveys from the command line (docs/jasmine.md):
//! `astrosolve simulate --mission jasmine` and `astrosolve solve DIR` on such a data set
//! (recognised by the `[jasmine]` table of its mission.toml), which runs the plate-by-plate
//! solution, the global block-iterative solution and, where the reduced system fits, the
//! direct solution, and compares them with the truth.

use crate::args::{SimulateArgs, SolveArgs, SolverOptions};
use crate::prepare_out_dir;
use crate::progress::{bar, solver_events};
use astrosolve_core::{Method, SolverConfig};
use astrosolve_io::{self as io, PointedDataset, PointedStars, PointedTruth};
use astrosolve_model::pointed::{PointedMission, PointedModel, N_SRC};
use astrosolve_model::source::{Source, SourceParams};
use astrosolve_pointed::compare::PARAM_NAMES;
use astrosolve_pointed::report::{TradeOff, HW_BINS, PARALLAX_GOAL_UAS};
use astrosolve_pointed::{
    solve_global, solve_global_resumable, solve_plates, trade_off, GlobalSolution, PlateConfig,
    PlateSolution, PointedReport, Problem, SourceSolution,
};
use astrosolve_scanning::run;
use astrosolve_sim::jasmine::{simulate_jasmine, JasmineSimConfig};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

type Res = Result<(), Box<dyn std::error::Error>>;

/// Largest reduced system for the direct cross-check after an iterative solve (memory 8 n²
/// bytes, n³/3 flops to factor, n³ to invert).
const DIRECT_CHECK_MAX_UNKNOWNS: usize = 6000;

/// mission.toml of a JASMINE-like data set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JasmineFile {
    pub jasmine: PointedMission,
    pub simulation: JasmineSimConfig,
}

/// Files `solve` writes for a JASMINE-like data set.
pub const SOLUTION_FILES: [&str; 8] = [
    "catalogue_plate.parquet",
    "catalogue_global.parquet",
    "exposures_global.parquet",
    "distortion_global.parquet",
    "report.json",
    "parallax_vs_hw.png",
    "pm_vs_hw.png",
    run::CHECKPOINT_FILE,
];

/// The files of a pointed data set the global solution depends on (a checkpoint's data
/// fingerprint; the reference catalogue may be absent).
const INPUT_FILES: [&str; 5] = [
    io::MISSION_FILE,
    io::EXPOSURES_FILE,
    io::IMAGES_FILE,
    io::STARS_FILE,
    io::REFERENCE_CATALOGUE_FILE,
];

pub fn simulate(a: &SimulateArgs) -> Res {
    let mut file: JasmineFile = match &a.config {
        Some(p) => io::read_toml(p)?,
        None => JasmineFile::default(),
    };
    if let Some(s) = a.seed {
        file.simulation.seed = s;
    }
    if let Some(n) = a.n_sources {
        file.simulation.n_stars = n;
    }
    if let Some(d) = a.days {
        file.jasmine.duration_days = d;
        file.jasmine.start_day = -d / 2.0;
    }
    if a.outlier_rate.is_some() {
        return Err("--outlier-rate is not supported for --mission jasmine".into());
    }
    prepare_out_dir(
        &a.out,
        &[io::MISSION_FILE, io::IMAGES_FILE, io::STARS_FILE],
        a.force,
        &[],
    )?;
    let t = Instant::now();
    // number of exposures is known only after the seasons are found: count as we go
    let pb = bar(0, "simulate");
    let sim = simulate_jasmine(&file.jasmine, &file.simulation, &|d| {
        pb.set_length(pb.length().unwrap_or(0).max(d));
        pb.set_position(d)
    })?;
    pb.finish_and_clear();
    println!(
        "simulated {} stars ({} reference), {} exposures in {} seasons ({} calibration units), {} images, in {:.1} s",
        sim.source_ids.len(),
        sim.reference.len(),
        sim.exposures.len(),
        sim.seasons.len(),
        sim.n_units(),
        sim.observations.len(),
        t.elapsed().as_secs_f64()
    );
    let ds = PointedDataset {
        mission: sim.mission.clone(),
        exposures: sim.exposures.clone(),
        images: sim.observations.clone(),
        stars: PointedStars {
            source_id: sim.source_ids.clone(),
            params: sim.start_sources.clone(),
            hw_mag: sim.hw.clone(),
        },
        reference: sim.reference.clone(),
    };
    let truth = PointedTruth {
        stars: PointedStars {
            source_id: sim.source_ids.clone(),
            params: sim.truth_sources.clone(),
            hw_mag: sim.hw.clone(),
        },
        attitude: sim.truth_attitude.clone(),
        distortion: sim.truth_distortion.clone(),
    };
    let _writing = crate::interrupt::Writing::start();
    io::write_pointed_dataset(&a.out, &ds, Some(&truth), a.force)?;
    io::write_toml(a.out.join(io::MISSION_FILE), &file, a.force)?;
    println!("wrote JASMINE-like data set to {}", a.out.display());
    Ok(())
}

/// Refuses the flags that do not apply to a pointed survey, before any work.
pub fn check_flags(opts: &SolverOptions) -> Res {
    opts.check_direct_flags()?;
    if opts.min_attitude_redundancy.is_some() {
        return Err("--min-attitude-redundancy does not apply to a pointed survey: each exposure's attitude must be determined by its own images, which the solver checks exposure by exposure; drop --min-attitude-redundancy".into());
    }
    if opts.frame.is_some() {
        return Err("--frame does not apply to a pointed survey: its frame is fixed by the reference stars' priors (reference catalogue); drop --frame".into());
    }
    if opts.pseudo_inverse {
        return Err("--pseudo-inverse does not apply to a pointed survey: the reference stars remove the frame defect, so the reduced matrix is regular; use --solver direct".into());
    }
    if opts.cov_pairs.is_some() {
        return Err("--cov-pairs is available for scanning data sets only; for a pointed survey the direct solver writes every star's full covariance into catalogue_global.parquet".into());
    }
    Ok(())
}

/// The global solution's configuration of the solver flags.
pub fn global_config(opts: &SolverOptions) -> SolverConfig {
    opts.core_config(SolverConfig::pointed())
}

/// The checkpoints of the global solution in OUT (the plate solutions are recomputed on
/// --resume).
pub fn checkpointing(
    a: &SolveArgs,
    cfg: &SolverConfig,
) -> Result<run::Checkpointing, Box<dyn std::error::Error>> {
    Ok(run::Checkpointing::new(
        &a.out,
        &a.dir,
        &INPUT_FILES,
        astrosolve_core::checkpoint::config_fingerprint(cfg, b"pointed global"),
        a.resume,
    )?)
}

/// A pointed data set read, with its truth (when there) and the problem of every star.
pub struct Read {
    pub ds: PointedDataset,
    pub truth: Option<PointedTruth>,
    pub p: Problem,
}

/// Reads the data set `a.dir` and sets up its problem; prints what was read when `print`.
pub fn read(a: &SolveArgs, print: bool) -> Result<Read, Box<dyn std::error::Error>> {
    let ds = io::read_pointed_dataset(&a.dir)?;
    let truth = io::read_pointed_truth(&a.dir, &ds)?;
    if print {
        println!(
            "read {} stars ({} reference), {} exposures and {} images from {}",
            ds.stars.source_id.len(),
            ds.reference.len(),
            ds.exposures.len(),
            ds.images.len(),
            a.dir.display()
        );
    }
    let m = &ds.mission;
    let model = PointedModel::new(
        m.instrument.clone(),
        m.distortion_order,
        Arc::new(m.ephemeris()),
    );
    let p = Problem::new(
        model,
        ds.exposures.clone(),
        ds.images.clone(),
        ds.stars.params.clone(),
        ds.reference.clone(),
    )?;
    if print {
        let n_active = p.active.iter().filter(|&&a| a).count();
        println!(
            "{} stars enter the solutions (reference stars, and stars with ≥ {} images in ≥ {} calibration units)",
            n_active,
            astrosolve_pointed::MIN_IMAGES,
            astrosolve_pointed::MIN_UNITS
        );
    }
    Ok(Read { ds, truth, p })
}

/// (a) The plate-by-plate solution, printed.
pub fn plates(r: &Read) -> Result<PlateSolution, Box<dyn std::error::Error>> {
    let p = &r.p;
    let pb = bar(p.exposures.len() as u64, "plates");
    let plate = solve_plates(
        p,
        &PlateConfig {
            order: r.ds.mission.plate_order,
            ..Default::default()
        },
        &|d| pb.set_position(d),
    )?;
    pb.finish_and_clear();
    let r = &plate.report;
    println!(
        "(a) plate-by-plate: {} plates ({} failed), {:.1} reference images per plate, {} images left out (detectors with too few reference stars), {} epoch positions, {:.1} s",
        r.n_exposures,
        r.n_failed_plates,
        r.mean_reference_images_per_plate,
        r.n_detectors_left_out,
        r.n_epoch_positions,
        r.wall_seconds
    );
    Ok(plate)
}

/// Refuses the `solve` flags that apply to scanning data sets only.
pub fn check_solve_args(a: &SolveArgs) -> Res {
    if a.observations_on_disk {
        return Err("--observations-on-disk does not apply to a pointed survey (its observations stay in memory); it is for scanning data sets".into());
    }
    Ok(())
}

pub fn solve(a: &SolveArgs) -> Res {
    // flags that do not apply to a pointed survey are refused before any work
    let opts = &a.solver;
    check_flags(opts)?;
    check_solve_args(a)?;
    // resuming finishes the solve whose checkpoint OUT holds: its outputs may be replaced
    prepare_out_dir(&a.out, &SOLUTION_FILES, a.force || a.resume, &[&a.dir])?;
    let cfg = global_config(opts);
    let ck = checkpointing(a, &cfg)?;
    if !a.resume {
        ck.remove()?;
    }
    let read = read(a, true)?;
    let plate = plates(&read)?;

    // (b) global, self-calibrated: the core's solver of --solver
    let pb = bar(cfg.max_outer as u64, "global");
    let global = ck.run(|from, save| {
        solve_global_resumable(&read.p, None, &cfg, &mut solver_events(&pb), from, save)
    })?;
    pb.finish_and_clear();
    write_solution(a, &read, &cfg, plate, global)?;
    // the solution is written: its checkpoint is no longer needed
    ck.remove()?;
    println!(
        "wrote {}/{{catalogue_plate,catalogue_global,exposures_global,distortion_global}}.parquet, report.json and plots",
        a.out.display()
    );
    Ok(())
}

/// Prints the global solution `global` (of `read`'s whole problem), adds the direct solution
/// from there where the reduced system fits (--solver cg, lsqr, simple), compares with the
/// truth and writes every output file of a pointed solve.
pub fn write_solution(
    a: &SolveArgs,
    read: &Read,
    cfg: &SolverConfig,
    plate: PlateSolution,
    global: GlobalSolution,
) -> Res {
    let (ds, truth, p) = (&read.ds, &read.truth, &read.p);
    let m = &ds.mission;
    let r = &global.report.solve;
    if r.verdict != astrosolve_core::outer::CONVERGED {
        println!("{}", r.verdict);
    }
    for w in r.redundancy.warnings.iter().chain(&r.warnings) {
        println!("warning: {w}");
    }
    println!(
        "(b) global, {}: {} after {} outer / {} inner iterations, {} global unknowns, {} outliers, {:.1} s",
        r.solver,
        if r.converged { "converged" } else { "NOT converged" },
        r.outer_iterations,
        r.inner_iterations,
        r.n_global_unknowns,
        r.n_outliers,
        r.wall_seconds
    );

    // (b') the direct solution from there, with the full covariance, where the reduced system fits
    let n_red = r.n_global_unknowns;
    let (global_final, bi_vs_direct, direct_s) = if cfg.method != Method::Direct
        && n_red <= DIRECT_CHECK_MAX_UNKNOWNS
    {
        let pb = bar(cfg.max_outer as u64, "direct");
        pb.set_message(format!("reduced system {n_red} × {n_red}"));
        let d = solve_global(
            p,
            Some(global.state.clone()),
            &SolverConfig {
                method: Method::Direct,
                ..cfg.clone()
            },
            &mut solver_events(&pb),
        )?;
        pb.finish_and_clear();
        let diff = global
            .sources
            .iter()
            .zip(&d.sources)
            .filter(|(x, y)| x.solved && y.solved)
            .map(|(x, y)| {
                astrosolve_pointed::param_diff(&x.params, &y.params)
                    .iter()
                    .fold(0.0f64, |m, v| m.max(v.abs()))
            })
            .fold(0.0f64, f64::max)
            / astrosolve_model::units::UAS;
        println!(
            "    direct (Cholesky of the {n_red} × {n_red} reduced system, full covariance): {:.1} s; largest difference from the {} solution {:.2e} µas",
            d.report.solve.wall_seconds, r.solver, diff
        );
        let s = d.report.solve.wall_seconds;
        (d, Some(diff), Some(s))
    } else {
        if cfg.method != Method::Direct {
            println!(
                "    direct solver skipped: reduced system {n_red} > {DIRECT_CHECK_MAX_UNKNOWNS}"
            );
        }
        (global, None, None)
    };

    let is_ref = p.is_reference();
    let tr = truth.as_ref().map(|t| {
        trade_off(
            &plate.sources,
            &global_final.sources,
            &t.stars.params,
            &ds.stars.hw_mag,
            &is_ref,
        )
    });
    let report = PointedReport {
        verdict: global_final.report.solve.verdict.clone(),
        plate_report: plate.report.clone(),
        global_report: global_final.report.clone(),
        bi_vs_direct_max_difference_uas: bi_vs_direct,
        direct_seconds: direct_s,
        trade_off: tr.clone(),
    };

    // files
    let _writing = crate::interrupt::Writing::start();
    let epoch = io::julian_year(m.reference_epoch_jd);
    write_catalogue(
        &a.out.join("catalogue_plate.parquet"),
        ds,
        &plate.sources,
        &is_ref,
        epoch,
    )?;
    write_catalogue(
        &a.out.join("catalogue_global.parquet"),
        ds,
        &global_final.sources,
        &is_ref,
        epoch,
    )?;
    let ex: Vec<_> = ds
        .exposures
        .iter()
        .zip(&global_final.state.attitude)
        .map(|(e, att)| astrosolve_model::pointed::Exposure {
            attitude: *att,
            ..*e
        })
        .collect();
    io::write_exposures(a.out.join("exposures_global.parquet"), &ex, true)?;
    io::write_distortion(
        a.out.join("distortion_global.parquet"),
        &global_final.state.distortion,
        true,
    )?;
    let mut json = serde_json::to_value(&report)?;
    if let Some(t) = &tr {
        json["plate_vs_global_parallax_improvement"] =
            t.plate_vs_global_parallax_improvement.into();
        json["plate_vs_global_parallax_improvement_rms"] =
            t.plate_vs_global_parallax_improvement_rms.into();
        json["parallax_precision_at_hw_12_5"] = serde_json::json!({
            "global_rms_error_uas": t.parallax_at_hw_12_5.global_parallax_rms_error_uas,
            "global_median_formal_uas": t.parallax_at_hw_12_5.global_parallax_median_formal_uas,
            "plate_rms_error_uas": t.parallax_at_hw_12_5.plate_parallax_rms_error_uas,
            "mission_goal_uas": PARALLAX_GOAL_UAS,
            "hw_range": [t.parallax_at_hw_12_5.hw_min, t.parallax_at_hw_12_5.hw_max],
            "median_images_per_star": t.parallax_at_hw_12_5.median_images_per_star,
            "images_per_star_for_goal": t.parallax_at_hw_12_5.images_per_star_for_goal,
        });
        let nrms = |c: &astrosolve_pointed::Comparison| {
            serde_json::Value::Object(
                PARAM_NAMES
                    .iter()
                    .zip(&c.params)
                    .map(|(n, s)| (n.to_string(), s.normalised_rms.into()))
                    .collect(),
            )
        };
        json["normalised_rms"] = serde_json::json!({
            "plate": nrms(&t.plate.comparison),
            "global": nrms(&t.global.comparison),
        });
    }
    json["bi_vs_direct_max_difference_uas"] = bi_vs_direct.into();
    io::write_text(
        &a.out.join("report.json"),
        &serde_json::to_string_pretty(&json)?,
        true,
    )?;
    if let Some(t) = &truth {
        plot_vs_hw(
            &a.out.join("parallax_vs_hw.png"),
            &plate.sources,
            &global_final.sources,
            &t.stars.params,
            &ds.stars.hw_mag,
            &is_ref,
            Quantity::Parallax,
        )?;
        plot_vs_hw(
            &a.out.join("pm_vs_hw.png"),
            &plate.sources,
            &global_final.sources,
            &t.stars.params,
            &ds.stars.hw_mag,
            &is_ref,
            Quantity::ProperMotion,
        )?;
    }
    if let Some(t) = &tr {
        print_trade_off(t);
    }
    Ok(())
}

fn print_trade_off(t: &TradeOff) {
    println!(
        "\naccuracy against the truth ({} non-reference stars solved by both):",
        t.n_compared
    );
    println!("  parameter   plate: RMS error  formal  RMS(err/formal) | global: RMS error  formal  RMS(err/formal)");
    for (k, name) in PARAM_NAMES.iter().enumerate() {
        let (a, b) = (
            &t.plate.comparison.params[k],
            &t.global.comparison.params[k],
        );
        let unit = if k < 3 { "µas   " } else { "µas/yr" };
        println!(
            "  {:<9} {:>10.1} {unit} {:>7.1} {:>8.3}        | {:>10.1} {unit} {:>7.1} {:>8.3}",
            name,
            a.rms_error,
            a.median_formal_error,
            a.normalised_rms,
            b.rms_error,
            b.median_formal_error,
            b.normalised_rms
        );
    }
    println!("  parallax RMS error against Hw (µas):   plate    global   ratio");
    for (a, b) in t.plate.by_magnitude.iter().zip(&t.global.by_magnitude) {
        println!(
            "    Hw {:>4.1}–{:<4.1} ({:>4} stars) {:>9.1} {:>9.1} {:>7.2}",
            a.hw_min,
            a.hw_max,
            a.n_sources,
            a.parallax_rms_error_uas,
            b.parallax_rms_error_uas,
            a.parallax_rms_error_uas / b.parallax_rms_error_uas
        );
    }
    let g = &t.parallax_at_hw_12_5;
    println!(
        "global vs plate-by-plate: parallax {:.2}× more precise (robust scatter; RMS {:.2}×), proper motion {:.2}× (RMS)",
        t.plate_vs_global_parallax_improvement,
        t.plate_vs_global_parallax_improvement_rms,
        t.plate_vs_global_pm_improvement
    );
    println!(
        "parallax at Hw {}–{}: global {:.0} µas (formal {:.0}), plate {:.0} µas; mission goal {} µas (Hw < 12.5): this scaled-down simulation has {:.0} images per star, the goal needs ≈ {:.2e}",
        g.hw_min, g.hw_max, g.global_parallax_rms_error_uas, g.global_parallax_median_formal_uas, g.plate_parallax_rms_error_uas, g.goal_uas, g.median_images_per_star, g.images_per_star_for_goal
    );
}

/// Solution catalogue with Gaia archive columns (mas, mas/yr). The catalogue format needs a
/// `phot_g_mean_mag`: it holds Hw here (no G photometry is simulated), also given as `hw_mag`.
fn write_catalogue(
    path: &Path,
    ds: &PointedDataset,
    sol: &[SourceSolution],
    is_ref: &[bool],
    epoch: f64,
) -> Res {
    let sources: Vec<Source> = (0..sol.len())
        .map(|i| {
            let p = if sol[i].solved {
                sol[i].params
            } else {
                ds.stars.params[i]
            };
            Source {
                source_id: ds.stars.source_id[i],
                params: SourceParams {
                    ra: p[0],
                    dec: p[1],
                    parallax: p[2],
                    pmra: p[3],
                    pmdec: p[4],
                    nu_eff: 1.55,
                },
                phot_g_mean_mag: ds.stars.hw_mag[i],
                is_qso: false,
            }
        })
        .collect();
    let covs: Vec<[[f64; 5]; 5]> = sol
        .iter()
        .map(|s| if s.solved { s.cov } else { [[f64::NAN; 5]; 5] })
        .collect();
    let mut solved = io::SolvedColumns::from_covariances(&covs);
    // Gaia's flag: 31 solved (5 parameters), 0 not solved (starting values, null uncertainties)
    solved.astrometric_params_solved = Some(
        sol.iter()
            .map(|s| {
                if s.solved {
                    io::PARAMS_SOLVED_5
                } else {
                    io::PARAMS_SOLVED_NONE
                }
            })
            .collect(),
    );
    solved.extra = vec![
        ("hw_mag".into(), ds.stars.hw_mag.clone()),
        (
            "n_images".into(),
            sol.iter().map(|s| s.n_obs as f64).collect(),
        ),
        (
            "is_reference".into(),
            is_ref.iter().map(|&r| r as u8 as f64).collect(),
        ),
        (
            "solved".into(),
            sol.iter().map(|s| s.solved as u8 as f64).collect(),
        ),
    ];
    io::write_catalogue(path, &sources, epoch, Some(&solved), true)?;
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Quantity {
    Parallax,
    ProperMotion,
}

/// |error| of (a) and (b) against Hw, with the binned RMS and the mission goal (written by
/// `crate::plots::png`: in memory, then atomically).
fn plot_vs_hw(
    path: &Path,
    plate: &[SourceSolution],
    global: &[SourceSolution],
    truth: &[[f64; N_SRC]],
    hw: &[f64],
    is_ref: &[bool],
    q: Quantity,
) -> Res {
    let err = |s: &SourceSolution, t: &[f64; N_SRC]| {
        let e = astrosolve_pointed::compare::errors_uas(s, t);
        match q {
            Quantity::Parallax => e[2].abs(),
            Quantity::ProperMotion => (0.5 * (e[3] * e[3] + e[4] * e[4])).sqrt(),
        }
    };
    let sel: Vec<usize> = (0..truth.len())
        .filter(|&i| !is_ref[i] && plate[i].solved && global[i].solved)
        .collect();
    let pts = |sol: &[SourceSolution]| -> Vec<(f64, f64)> {
        sel.iter()
            .map(|&i| (hw[i], err(&sol[i], &truth[i]).max(1.0).log10()))
            .collect()
    };
    let binned = |sol: &[SourceSolution]| -> Vec<(f64, f64)> {
        HW_BINS
            .windows(2)
            .filter_map(|w| {
                let v: Vec<f64> = sel
                    .iter()
                    .filter(|&&i| hw[i] >= w[0] && hw[i] < w[1])
                    .map(|&i| err(&sol[i], &truth[i]).powi(2))
                    .collect();
                (!v.is_empty()).then(|| {
                    (
                        0.5 * (w[0] + w[1]),
                        (v.iter().sum::<f64>() / v.len() as f64).sqrt().log10(),
                    )
                })
            })
            .collect()
    };
    let (pp, pg) = (pts(plate), pts(global));
    let (bp, bg) = (binned(plate), binned(global));
    let (title, ylab, goal) = match q {
        Quantity::Parallax => (
            "Parallax error against truth: plate-by-plate vs global",
            "log10 |ϖ − ϖ_true| [µas]",
            PARALLAX_GOAL_UAS,
        ),
        Quantity::ProperMotion => (
            "Proper-motion error against truth: plate-by-plate vs global",
            "log10 |µ − µ_true| per component [µas/yr]",
            astrosolve_pointed::report::PM_GOAL_UAS_YR,
        ),
    };
    let ymax = pp
        .iter()
        .chain(&pg)
        .map(|p| p.1)
        .fold(goal.log10(), f64::max)
        + 0.3;
    let ymin = goal
        .log10()
        .min(pg.iter().map(|p| p.1).fold(10.0, f64::min))
        - 0.3;
    crate::plots::png(path, (900, 600), |root| {
        root.fill(&WHITE)?;
        let mut c = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(9.3..15.2, ymin..ymax)?;
        c.configure_mesh().x_desc("Hw [mag]").y_desc(ylab).draw()?;
        c.draw_series(
            pp.iter()
                .map(|&p| Circle::new(p, 2, RED.mix(0.35).filled())),
        )?
        .label("(a) plate-by-plate")
        .legend(|(x, y)| Circle::new((x + 10, y), 3, RED.filled()));
        c.draw_series(
            pg.iter()
                .map(|&p| Circle::new(p, 2, BLUE.mix(0.35).filled())),
        )?
        .label("(b) global")
        .legend(|(x, y)| Circle::new((x + 10, y), 3, BLUE.filled()));
        c.draw_series(LineSeries::new(bp, RED.stroke_width(3)))?
            .label("(a) RMS per bin")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(3)));
        c.draw_series(LineSeries::new(bg, BLUE.stroke_width(3)))?
            .label("(b) RMS per bin")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(3)));
        let goal_hw = if q == Quantity::Parallax { 12.5 } else { 15.0 };
        c.draw_series(LineSeries::new(
            vec![(9.3, goal.log10()), (goal_hw, goal.log10())],
            BLACK.stroke_width(2),
        ))?
        .label(format!(
            "mission goal {goal} {} (Hw < {goal_hw})",
            if q == Quantity::Parallax {
                "µas"
            } else {
                "µas/yr"
            }
        ))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
        c.configure_series_labels()
            .background_style(WHITE)
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()?;
        Ok(())
    })
}
