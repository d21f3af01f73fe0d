//! The simulate, solve and demo commands.

use crate::config::MissionFile;
use crate::report::{Report, TruthReport};
use crate::{plots, prepare_out_dir};
use astrosolve_io::{self as io, Dataset, Truth, WriteOptions};
use astrosolve_model::source::ReferencePosition;
use astrosolve_model::units::UAS;
use astrosolve_model::{quat, GaiaModel, TabulatedEphemeris};
use astrosolve_sim::{simulate_gaia, Simulation};
use astrosolve_solve::solve::Progress;
use astrosolve_solve::{truth, FrameMode, FrameReference, InnerMethod, Solution, SolverConfig};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

type Res = Result<(), Box<dyn std::error::Error>>;

#[derive(clap::Args, Debug)]
pub struct SimulateArgs {
    /// Mission family: gaia (scanning, default) or jasmine (pointed survey, docs/jasmine.md).
    #[arg(long, value_enum, default_value_t = crate::cmd_jasmine::MissionArg::Gaia)]
    pub mission: crate::cmd_jasmine::MissionArg,
    /// mission.toml with [mission] and [simulation] sections (all keys optional; defaults:
    /// the small Gaia-like mission, see docs/simulation.md).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output directory of the data set.
    #[arg(long, value_name = "DIR", default_value = "astrosolve-sim")]
    pub out: PathBuf,
    /// Overwrite files of an existing data set in --out.
    #[arg(long)]
    pub force: bool,
    /// Random seed (overrides [simulation].seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of sources (overrides [simulation].n_sources).
    #[arg(long)]
    pub n_sources: Option<usize>,
    /// Mission length in days (overrides [mission].duration_days; the reference epoch stays in the middle).
    #[arg(long)]
    pub days: Option<f64>,
    /// Fraction of observations replaced by outliers (overrides [simulation].outlier_rate).
    #[arg(long)]
    pub outlier_rate: Option<f64>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum SolverArg {
    /// Block-iterative simple iteration (AGIS / JAXBIS).
    Bi,
    /// Conjugate gradients preconditioned by the block solves (Bombrun et al. 2012).
    Cg,
    /// LSQR on the whole system with column scaling (Paige & Saunders 1982; Gaia AVU-GSR).
    Lsqr,
    /// Direct: reduced normal matrix by dense Cholesky, full covariance, eigenvalue spectrum
    /// (JASMINE AJAS). Memory grows as the square of the attitude + calibration unknowns.
    Direct,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum FrameArg {
    /// Orientation from reference positions (reference_positions.parquet), spin from quasars (is_qso).
    Gaia,
    /// Minimum-norm correction relative to the starting catalogue and attitude.
    MinNorm,
}

#[derive(clap::Args, Debug, Clone)]
pub struct SolverOptions {
    /// Inner solver of each linearised system.
    #[arg(long, value_enum, default_value_t = SolverArg::Cg)]
    pub solver: SolverArg,
    /// How the six-dimensional frame defect (orientation and spin) is fixed.
    #[arg(long, value_enum, default_value_t = FrameArg::Gaia)]
    pub frame: FrameArg,
    /// Stop when the largest parameter update is below this (µas, µas/yr).
    #[arg(long, default_value_t = 1.0, value_name = "UAS")]
    pub tol_uas: f64,
    /// Most outer (relinearisation) iterations.
    #[arg(long, default_value_t = 12)]
    pub max_outer: usize,
    /// Most inner iterations per outer iteration [default: 400 for bi and cg, 20000 for lsqr].
    #[arg(long)]
    pub max_inner: Option<usize>,
    /// Relative residual at which an inner solve stops (LSQR: its atol and btol).
    #[arg(long, default_value_t = 1e-6)]
    pub inner_tol: f64,
    /// No down-weighting of outliers (and no excess noise).
    #[arg(long)]
    pub no_robust: bool,
    /// Fewest visibility periods (groups of observations more than 4 days apart) for a source
    /// to be solved; Gaia DR2/DR3 use 6, which needs about a year of data.
    #[arg(long, default_value_t = 6, value_name = "N")]
    pub min_visibility_periods: usize,
    /// Direct solver: keep the frame defect and solve by the pseudo-inverse (symmetric
    /// eigendecomposition, the six smallest eigenvalues dropped) instead of Cholesky.
    #[arg(long)]
    pub pseudo_inverse: bool,
    /// Direct solver: skip the full covariance (an n³ inversion of the reduced matrix).
    #[arg(long)]
    pub no_covariance: bool,
    /// Direct solver: skip the eigenvalue spectrum of the reduced matrix.
    #[arg(long)]
    pub no_spectrum: bool,
    /// Direct solver: CSV file with pairs of unknowns (columns `a`, `b`, each like
    /// `source:SOURCE_ID:parallax`, `attitude:K` or `calibration:K`) whose covariance is
    /// written to covariance_pairs.csv.
    #[arg(long, value_name = "FILE")]
    pub cov_pairs: Option<PathBuf>,
}

impl SolverOptions {
    fn config(&self) -> SolverConfig {
        SolverConfig {
            method: match self.solver {
                SolverArg::Bi => InnerMethod::Bi,
                SolverArg::Cg => InnerMethod::Cg,
                SolverArg::Lsqr => InnerMethod::Lsqr,
                SolverArg::Direct => InnerMethod::Direct,
            },
            frame: match self.frame {
                FrameArg::Gaia => FrameMode::Gaia,
                FrameArg::MinNorm => FrameMode::MinNorm,
            },
            outer_tol_uas: self.tol_uas,
            max_outer: self.max_outer,
            max_inner: self.max_inner.unwrap_or(match self.solver {
                SolverArg::Lsqr => 20_000,
                _ => 400,
            }),
            inner_tol: self.inner_tol,
            robust: !self.no_robust,
            lsqr: astrosolve_solve::lsqr::LsqrConfig {
                atol: self.inner_tol,
                btol: self.inner_tol,
                ..Default::default()
            },
            keep_rank_defect: self.pseudo_inverse,
            min_visibility_periods: self.min_visibility_periods,
            covariance: !self.no_covariance,
            spectrum: !self.no_spectrum,
            ..Default::default()
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct SolveArgs {
    /// Data set directory (mission.toml, observations.parquet, sources.parquet, attitude.parquet,
    /// calibration.parquet; optional reference_positions.parquet and truth/).
    pub dir: PathBuf,
    /// Output directory (catalogue.parquet, attitude.parquet, calibration.parquet, report.json, plots).
    #[arg(long, value_name = "OUT", default_value = "astrosolve-solution")]
    pub out: PathBuf,
    /// Overwrite existing outputs in OUT.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub solver: SolverOptions,
}

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Output directory (data set in OUT/data, solution files, report.json, plots).
    #[arg(long, value_name = "OUT", default_value = "astrosolve-demo")]
    pub out: PathBuf,
    /// Overwrite existing outputs in OUT.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub solver: SolverOptions,
}

const SOLUTION_FILES: [&str; 6] = [
    "catalogue.parquet",
    "attitude.parquet",
    "calibration.parquet",
    "report.json",
    "convergence.png",
    "parallax_vs_magnitude.png",
];

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what:<10} [{{bar:30}}] {{pos}}/{{len}} {{msg}} ({{elapsed}})"
        ))
        .unwrap()
        .progress_chars("=> "),
    );
    pb
}

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
    if a.mission == crate::cmd_jasmine::MissionArg::Jasmine {
        return crate::cmd_jasmine::simulate(a);
    }
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

fn solve_problem(p: &Problem, opts: &SolverOptions, out: &Path) -> Res {
    let cfg = opts.config();
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
    let pb = bar(cfg.max_outer as u64, "solve");
    if cfg.method == InnerMethod::Direct && !cfg.covariance && opts.cov_pairs.is_some() {
        return Err("--cov-pairs needs the covariance; drop --no-covariance".into());
    }
    let pairs = match &opts.cov_pairs {
        Some(f) if cfg.method == InnerMethod::Direct => Some(crate::covariance::read_pairs(f, p)?),
        Some(_) => return Err("--cov-pairs needs --solver direct (the full covariance)".into()),
        None => None,
    };
    if cfg.method == InnerMethod::Direct {
        pb.suspend(|| {
            println!(
                "direct solver: {} reduced unknowns (attitude + calibration), dense matrix {:.2} GB \
(at the end: full covariance, skip with --no-covariance; eigenvalue spectrum, skip with --no-spectrum)",
                p.ds.attitude.n_params() + p.ds.calibration.n_params(),
                ((p.ds.attitude.n_params() + p.ds.calibration.n_params()) as f64).powi(2) * 8e-9
            )
        });
    }
    let sol = astrosolve_solve::try_solve(
        &model,
        &p.ds.observations,
        &p.ds.sources,
        &p.ds.attitude,
        &p.ds.calibration,
        &fr,
        &cfg,
        &mut |ev| match ev {
            Progress::Inner {
                outer,
                iteration,
                residual,
            } => pb.set_message(format!(
                "outer {} inner {iteration} residual {residual:.1e}",
                outer + 1
            )),
            Progress::Outer(r) => {
                pb.set_position(r.iteration as u64);
                pb.suspend(|| {
                    println!(
                        "  outer {:>2}: {:>4} inner iterations, largest update {:.3} µas (sources {:.3}, attitude {:.3}, calibration {:.3}), {} rejected",
                        r.iteration,
                        r.inner_iterations,
                        r.max_update_uas,
                        r.max_update_parts_uas[0],
                        r.max_update_parts_uas[1],
                        r.max_update_parts_uas[2],
                        r.n_rejected
                    )
                });
            }
        },
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
        .map(|r| {
            std::array::from_fn(|a| {
                std::array::from_fn(|b| if r.solved { r.cov[a * 5 + b] } else { f64::NAN })
            })
        })
        .collect();
    let mut solved = io::SolvedColumns::from_covariances(&covs);
    solved.astrometric_n_obs_al = Some(sol.sources.iter().map(|r| r.n_obs_al as i32).collect());
    solved.astrometric_n_good_obs_al =
        Some(sol.sources.iter().map(|r| r.n_good_obs_al as i32).collect());
    solved.astrometric_n_bad_obs_al =
        Some(sol.sources.iter().map(|r| r.n_bad_obs_al as i32).collect());
    solved.astrometric_excess_noise = Some(sol.sources.iter().map(|r| r.excess_noise).collect());
    solved.ruwe = Some(sol.sources.iter().map(|r| r.ruwe).collect());
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
    let report = Report::new(&sol.report, truth_report);
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
        "\n{} solution: {} after {} outer / {} inner iterations in {:.1} s; {} of {} sources solved, {} observations ({} rejected)",
        r.solver.to_uppercase(),
        if r.converged { "converged" } else { "NOT converged" },
        r.outer_iterations,
        r.inner_iterations,
        r.wall_seconds,
        r.n_solved_sources,
        r.n_sources,
        r.n_observations,
        r.n_rejected_observations
    );
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
        let (se, so) = (r.frame_rotation_sigma_uas, r.frame_spin_sigma_uas_per_yr);
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
    if crate::cmd_jasmine::is_jasmine(&a.dir) {
        return crate::cmd_jasmine::solve(a);
    }
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
