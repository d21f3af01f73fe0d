//! `astrosolve`: global astrometric solutions from the command line.
//!
//! simulate → (files) → solve → catalogue, attitude, calibration, report.json, plots;
//! `demo` does all of it in one go on the embedded default mission; `vsh` analyses a
//! catalogue's proper-motion field.

mod args;
mod cmd_epoch;
mod cmd_vsh;
mod config;
mod covariance;
mod epoch_plot;
mod exit;
mod interrupt;
#[cfg(feature = "mpi")]
mod mpi;
mod plots;
mod pointed;
mod progress;
mod scanning;

use clap::{Parser, Subcommand};
use std::path::Path;

/// Global astrometric solutions (sphere reconstruction) for scanning (Gaia-like) missions.
#[derive(Parser, Debug)]
#[command(
    name = "astrosolve",
    version,
    about,
    long_about = "astrosolve computes global astrometric solutions: \
from one-dimensional measurements of star images it solves at once for every source's position, \
parallax and proper motion, the instrument's attitude and its calibration (as Gaia's AGIS).\n\n\
Quick start:\n  astrosolve demo                       simulate the default mission, solve it, report accuracy vs truth\n  \
astrosolve simulate --out sim          write a simulated data set (Parquet + mission.toml + truth/)\n  \
astrosolve solve sim --out sol         solve a data set (yours or simulated)\n  \
astrosolve vsh sol/catalogue.parquet --select is_qso   vector spherical harmonics of proper motions\n  \
astrosolve epoch FILE... --out fit     fit sources to Gaia DR4 epoch astrometry or Hipparcos IAD"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Simulate a Gaia-like scanning mission (or, with --mission jasmine, a JASMINE-like pointed
    /// survey) with ground truth and write it as a data set.
    Simulate(args::SimulateArgs),
    /// Solve a data set: sources, attitude and calibration (block-iterative or conjugate gradients);
    /// for a JASMINE-like data set, the plate-by-plate and the global solutions (docs/jasmine.md).
    Solve(args::SolveArgs),
    /// Simulate the default small mission, solve it and report the accuracy against the truth.
    Demo(args::DemoArgs),
    /// Vector spherical harmonics analysis of a catalogue's proper-motion field.
    Vsh(cmd_vsh::VshArgs),
    /// Fit sources to real epoch astrometry: Gaia DR4 epoch astrometry, Hipparcos IAD.
    Epoch(cmd_epoch::EpochArgs),
}

fn main() {
    let cli = Cli::parse();
    // MPI is initialised once, here (feature `mpi`); with one rank everything runs as without it
    #[cfg(feature = "mpi")]
    let mpi_env = mpi::init();
    #[cfg(feature = "mpi")]
    let rank = mpi_env.as_ref().map_or(0, |m| m.rank());
    #[cfg(not(feature = "mpi"))]
    let rank = 0;
    // ranks other than 0 stay quiet (their warnings are rank 0's) unless RUST_LOG asks
    let default_filter = if rank == 0 { "warn" } else { "error" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    interrupt::install();
    #[cfg(feature = "mpi")]
    if let Some(env) = mpi_env.as_ref().filter(|m| m.size() > 1) {
        let code = mpi::run(env, &cli.command);
        // MPI_Finalize before the exit
        drop(mpi_env);
        std::process::exit(code);
    }
    let code = run(&cli);
    #[cfg(feature = "mpi")]
    drop(mpi_env);
    if code != 0 {
        std::process::exit(code);
    }
}

/// Runs the command as one process; the exit status (0: done), the error printed.
fn run(cli: &Cli) -> i32 {
    let result: Result<(), Box<dyn std::error::Error>> = match &cli.command {
        Command::Simulate(a) => match a.mission {
            args::MissionArg::Gaia => scanning::simulate(a),
            args::MissionArg::Jasmine => pointed::simulate(a),
        },
        Command::Solve(a) => {
            if astrosolve_io::is_pointed_dataset(&a.dir) {
                pointed::solve(a)
            } else {
                scanning::solve(a)
            }
        }
        Command::Demo(a) => scanning::demo(a),
        Command::Vsh(a) => cmd_vsh::run(a),
        Command::Epoch(a) => cmd_epoch::run(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => report_error(&cli.command, e.as_ref()),
    }
}

/// Prints the error `e` of `command` (for Ctrl-C: what was and was not written, and the
/// checkpoint to resume from) and returns its exit status.
fn report_error(command: &Command, e: &(dyn std::error::Error + 'static)) -> i32 {
    report_error_text(command, &e.to_string(), exit::code(e))
}

/// [`report_error`] of an error already turned into its message and exit status `code`.
fn report_error_text(command: &Command, message: &str, code: i32) -> i32 {
    if code == exit::INTERRUPTED {
        // a solver stopped by Ctrl-C: nothing of the solution was written
        let (out, what) = match command {
            Command::Solve(a) => (a.out.as_path(), "nothing of the solution"),
            Command::Demo(a) => (a.out.as_path(), "no solution"),
            _ => (Path::new("."), "nothing"),
        };
        eprintln!("{}", interrupt::stopped_message(out, what));
        let ckp = out.join(astrosolve_scanning::run::CHECKPOINT_FILE);
        let ckp0 = out.join(astrosolve_scanning::run::rank_checkpoint_file(0, 2));
        if matches!(command, Command::Solve(_)) && (ckp.exists() || ckp0.exists()) {
            eprintln!(
                "{} holds the last completed outer iteration: the same command with --resume continues from it",
                if ckp.exists() { ckp.display() } else { ckp0.display() }
            );
        }
        return code;
    }
    eprintln!("error: {message}");
    code
}

/// Prepares an output directory before any work (`astrosolve_scanning::run::prepare_out_dir`,
/// shared with the Python bindings): refuses one that is, is inside or contains an input
/// directory of `inputs`, or contains an input file of `inputs`; refuses to reuse one that
/// holds one of `names` unless forced; creates it and checks that it can be written.
pub fn prepare_out_dir(
    dir: &Path,
    names: &[&str],
    force: bool,
    inputs: &[&Path],
) -> Result<(), String> {
    astrosolve_scanning::run::prepare_out_dir(dir, names, force, inputs).map_err(|e| e.to_string())
}

/// Writes `text` to `path` (replacing it) through a temporary file and a rename
/// (`astrosolve_io::write_text`): an interrupted run never leaves a half-written file under
/// the final name.
pub fn write_text_atomically(path: &Path, text: &str) -> Result<(), String> {
    astrosolve_io::write_text(path, text, true).map_err(|e| e.to_string())
}
