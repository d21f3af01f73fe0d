//! MPI (issue 11, item 1): `mpirun -np 2` and `-np 3` (oversubscribed) give the
//! single-process catalogue, attitude and calibration for the cg, lsqr and direct solvers on
//! a small Gaia-like mission, and the single-process catalogue_global, exposure attitudes and
//! distortion for cg on a small JASMINE-like survey; `--resume` continues a distributed solve
//! from its per-rank checkpoints to the same solution; the per-rank checkpoints are removed
//! once a solution is written.
//!
//! The test builds the binary with the `mpi` feature itself (`cargo build --profile test -p
//! astrosolve --features mpi` into `<target>/mpi`, so that the normal binary is not disturbed;
//! a fresh build of the workspace with the feature takes minutes on 2 cores, an incremental one
//! seconds) and compares it run as one process with the same binary under mpirun. Without
//! `mpirun` it prints a loud SKIPPED and passes, unless ASTROSOLVE_REQUIRE_MPI=1 (set by
//! .ci/run after scripts/install_mpi.sh), which makes a missing MPI a failure.
//!
//! Requirement: bit for bit. The ranks are cut at the catalogue's fixed chunk boundaries
//! (`astrosolve_model::obs::partition_chunks`) and every sum over sources is added chunk by
//! chunk in global chunk order over the ranks (`astrosolve_core::comm::Comm::ordered_sum`), so
//! every element of every compared column must have the single-process bits (`f64::to_bits`),
//! which meets the "≤ 1e-12 relative" with nothing to spare. The largest absolute and
//! relative differences are printed beside the count of differing elements, and every
//! comparison is printed before any assertion.
//!
//! Missions: the default one-year Gaia-like mission of 5000 sources; cg and lsqr run four outer
//! iterations, direct one (`--allow-unconverged`). The resume check uses the small mission.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// `mpirun`'s version line, or None when it is not installed.
fn mpirun_version() -> Option<String> {
    let o = Command::new("mpirun").arg("--version").output().ok()?;
    o.status
        .success()
        .then(|| text(&o).lines().next().unwrap_or("").to_string())
}

/// The workspace's target directory (the normal binary is `<target>/<profile>/astrosolve`).
fn target_dir() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_astrosolve"));
    bin.parent()
        .and_then(|p| p.parent())
        .expect("the binary lies in <target>/<profile>/")
        .to_path_buf()
}

/// Builds the binary with the `mpi` feature into `<target>/mpi`; its path.
fn build_mpi_binary() -> PathBuf {
    let target = target_dir().join("mpi");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let t = Instant::now();
    let o = Command::new(cargo)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .env("CARGO_TARGET_DIR", &target)
        .args([
            "build",
            "--profile",
            "test",
            "-p",
            "astrosolve",
            "--features",
            "mpi",
        ])
        .output()
        .expect("cargo runs");
    assert!(
        o.status.success(),
        "building astrosolve with --features mpi failed (is an MPI library with its headers and libclang installed? scripts/install_mpi.sh):\n{}",
        text(&o)
    );
    eprintln!(
        "built astrosolve --features mpi in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // the test profile's binaries lie in debug/
    let bin = target.join("debug").join("astrosolve");
    assert!(bin.is_file(), "{} was not built", bin.display());
    bin
}

fn run_ok(cmd: &mut Command, what: &str) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let t = text(&o);
    assert!(o.status.success(), "{what} failed ({}):\n{t}", o.status);
    assert!(!t.contains("panicked"), "{what}:\n{t}");
    t
}

/// `mpirun -np n` (oversubscribed, allowed as root) of `bin args`.
fn mpirun(n: usize, bin: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("mpirun");
    c.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        // one thread per rank: the ranks share the machine's cores (the results do not depend
        // on the thread count)
        .env("RAYON_NUM_THREADS", "1")
        .args(["--oversubscribe", "-np", &n.to_string()])
        .arg(bin)
        .args(args);
    c
}

/// Solver flags of the small mission's solves (the resume check): below the default redundancy
/// rule, partial results allowed.
const FLAGS: [&str; 5] = [
    "--min-visibility-periods",
    "3",
    "--min-attitude-redundancy",
    "0",
    "--allow-unconverged",
];

/// The solves on the default mission with the default rules: four outer iterations of cg and
/// lsqr, one of direct (≈ 35 s each: 15 480 reduced unknowns), without the covariance and the
/// spectrum (n³ each, not compared).
fn solve_args_default<'a>(sim: &'a Path, out: &'a Path, solver: &'a str) -> Vec<&'a str> {
    let mut v = vec!["solve", s(sim), "--out", s(out), "--solver", solver];
    if solver == "direct" {
        v.extend(["--max-outer", "1", "--no-covariance", "--no-spectrum"]);
    } else {
        v.extend(["--max-outer", "4"]);
    }
    v.push("--allow-unconverged");
    v
}

/// A solve of the small mission (`sim`) with `outer` outer iterations.
fn solve_args_outer<'a>(
    sim: &'a Path,
    out: &'a Path,
    solver: &'a str,
    outer: &'a str,
) -> Vec<&'a str> {
    let mut v = vec!["solve", s(sim), "--out", s(out), "--solver", solver];
    v.extend(FLAGS);
    v.extend(["--max-outer", outer]);
    if solver == "direct" {
        // not compared: the full covariance and the spectrum (n³ each)
        v.extend(["--no-covariance", "--no-spectrum"]);
    }
    v
}

/// One column compared: largest |a − b|, the column's scale max |b|, the largest plain
/// relative difference |a − b| / |b| over the elements with b ≠ 0, the number of elements
/// whose bits differ.
#[derive(Debug)]
struct Diff {
    case: String,
    column: String,
    max_abs: f64,
    scale: f64,
    plain_rel: f64,
    n_differ: usize,
}

impl Diff {
    fn scaled(&self) -> f64 {
        if self.scale > 0.0 {
            self.max_abs / self.scale
        } else {
            self.max_abs
        }
    }
    fn ok(&self) -> bool {
        self.n_differ == 0
    }
}

fn diff(case: &str, column: &str, a: &[f64], b: &[f64]) -> Diff {
    assert_eq!(a.len(), b.len(), "{case} {column}: lengths differ");
    let mut d = Diff {
        case: case.into(),
        column: column.into(),
        max_abs: 0.0,
        scale: 0.0,
        plain_rel: 0.0,
        n_differ: 0,
    };
    for (x, y) in a.iter().zip(b) {
        d.n_differ += (x.to_bits() != y.to_bits()) as usize;
        let e = (x - y).abs();
        d.max_abs = if e.is_nan() {
            f64::NAN
        } else {
            d.max_abs.max(e)
        };
        d.scale = d.scale.max(y.abs());
        if *y != 0.0 {
            d.plain_rel = d.plain_rel.max(e / y.abs());
        }
    }
    d
}

type Get = fn(&astrosolve_model::source::SourceParams) -> f64;
const SOURCE_COLUMNS: [(&str, Get); 5] = [
    ("ra", |p| p.ra),
    ("dec", |p| p.dec),
    ("parallax", |p| p.parallax),
    ("pmra", |p| p.pmra),
    ("pmdec", |p| p.pmdec),
];

/// Every column of a catalogue file compared.
fn compare_catalogue(case: &str, a: &Path, b: &Path, out: &mut Vec<Diff>) {
    let ca = astrosolve_io::read_catalogue(a).expect("catalogue a");
    let cb = astrosolve_io::read_catalogue(b).expect("catalogue b");
    let ids =
        |c: &astrosolve_io::Catalogue| c.sources.iter().map(|s| s.source_id).collect::<Vec<_>>();
    assert_eq!(
        ids(&ca),
        ids(&cb),
        "{case}: the catalogues hold other sources"
    );
    for (name, f) in SOURCE_COLUMNS {
        let x: Vec<f64> = ca.sources.iter().map(|s| f(&s.params)).collect();
        let y: Vec<f64> = cb.sources.iter().map(|s| f(&s.params)).collect();
        out.push(diff(case, name, &x, &y));
    }
}

/// A Gaia-like solution's catalogue, attitude (each quaternion component) and calibration.
fn compare(case: &str, a: &Path, b: &Path, out: &mut Vec<Diff>) {
    compare_catalogue(
        case,
        &a.join("catalogue.parquet"),
        &b.join("catalogue.parquet"),
        out,
    );
    let aa = astrosolve_io::read_attitude(a.join("attitude.parquet")).expect("attitude a");
    let ab = astrosolve_io::read_attitude(b.join("attitude.parquet")).expect("attitude b");
    for k in 0..4 {
        let x: Vec<f64> = aa.coeffs.iter().map(|q| q[k]).collect();
        let y: Vec<f64> = ab.coeffs.iter().map(|q| q[k]).collect();
        out.push(diff(case, &format!("attitude q{k}"), &x, &y));
    }
    let la = astrosolve_io::read_calibration(a.join("calibration.parquet")).expect("calibration a");
    let lb = astrosolve_io::read_calibration(b.join("calibration.parquet")).expect("calibration b");
    out.push(diff(case, "calibration", &la.params, &lb.params));
}

/// A JASMINE-like solution's global catalogue, exposure attitudes (pointing α, δ, roll) and
/// distortion.
fn compare_pointed(case: &str, a: &Path, b: &Path, out: &mut Vec<Diff>) {
    compare_catalogue(
        case,
        &a.join("catalogue_global.parquet"),
        &b.join("catalogue_global.parquet"),
        out,
    );
    let ea = astrosolve_io::read_exposures(a.join("exposures_global.parquet")).expect("exp a");
    let eb = astrosolve_io::read_exposures(b.join("exposures_global.parquet")).expect("exp b");
    for (k, name) in ["pointing ra", "pointing dec", "roll"].iter().enumerate() {
        let x: Vec<f64> = ea.iter().map(|e| e.attitude[k]).collect();
        let y: Vec<f64> = eb.iter().map(|e| e.attitude[k]).collect();
        out.push(diff(case, name, &x, &y));
    }
    let da = astrosolve_io::read_distortion(a.join("distortion_global.parquet")).expect("dist a");
    let db = astrosolve_io::read_distortion(b.join("distortion_global.parquet")).expect("dist b");
    out.push(diff(case, "distortion", &da.coeffs, &db.coeffs));
}

fn print_table(diffs: &[Diff]) {
    eprintln!(
        "{:<28} {:<13} {:>10} {:>10} {:>10} {:>10} {:>8}  verdict",
        "case", "column", "max|a-b|", "scale", "/scale", "plain rel", "differ"
    );
    for d in diffs {
        eprintln!(
            "{:<28} {:<13} {:>10.2e} {:>10.2e} {:>10.2e} {:>10.2e} {:>8}  {}",
            d.case,
            d.column,
            d.max_abs,
            d.scale,
            d.scaled(),
            d.plain_rel,
            d.n_differ,
            if d.ok() { "ok" } else { "FAILS bit for bit" }
        );
    }
}

#[test]
fn mpi_ranks_give_the_single_process_solution() {
    let t0 = Instant::now();
    let Some(version) = mpirun_version() else {
        if std::env::var("ASTROSOLVE_REQUIRE_MPI").as_deref() == Ok("1") {
            panic!("ASTROSOLVE_REQUIRE_MPI=1 but mpirun is not installed: run scripts/install_mpi.sh (libopenmpi-dev openmpi-bin libclang-dev)");
        }
        eprintln!("\n*** SKIPPED crates/cli/tests/mpi.rs: mpirun is not installed (scripts/install_mpi.sh installs OpenMPI; ASTROSOLVE_REQUIRE_MPI=1 makes this a failure) ***\n");
        return;
    };
    eprintln!("{version}");
    let bin = build_mpi_binary();
    let t_build = t0.elapsed().as_secs_f64();

    let dir = tempfile::tempdir().expect("a temporary directory");
    let sim = dir.path().join("sim");
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_astrosolve")).args([
            "simulate",
            "--out",
            s(&sim),
            "--n-sources",
            "400",
            "--days",
            "60",
            "--seed",
            "7",
        ]),
        "simulate",
    );
    let sim_default = dir.path().join("sim-default");
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_astrosolve")).args([
            "simulate",
            "--out",
            s(&sim_default),
            "--seed",
            "7",
        ]),
        "simulate the default mission",
    );

    let mut diffs: Vec<Diff> = Vec::new();
    let mut timing = String::new();
    for solver in ["cg", "lsqr", "direct"] {
        let one = dir.path().join(format!("{solver}-1"));
        let t = Instant::now();
        let args = |out: &Path| -> Vec<String> {
            let v = solve_args_default(&sim_default, out, solver);
            v.into_iter().map(String::from).collect()
        };
        run_ok(
            Command::new(&bin).args(args(&one)),
            &format!("{solver}, one process"),
        );
        timing += &format!("{solver}: one process {:.1} s", t.elapsed().as_secs_f64());
        for n in [2, 3] {
            let out = dir.path().join(format!("{solver}-{n}"));
            let t = Instant::now();
            let mut a = args(&out);
            // one case with every rank's observations on disk: the same bits too
            let on_disk = solver == "lsqr" && n == 3;
            if on_disk {
                a.push("--observations-on-disk".into());
            }
            let log = run_ok(
                &mut mpirun(n, &bin, &a.iter().map(String::as_str).collect::<Vec<_>>()),
                &format!("{solver}, mpirun -np {n}"),
            );
            timing += &format!(", -np {n} {:.1} s", t.elapsed().as_secs_f64());
            // rank 0 alone prints: one summary, one line per rank
            assert_eq!(log.matches("wrote ").count(), 1, "{log}");
            assert!(log.contains(&format!("on {n} MPI ranks")), "{log}");
            let case = if on_disk {
                format!("gaia {solver} -np {n}, observations on disk")
            } else {
                format!("gaia {solver} -np {n}")
            };
            compare(&case, &out, &one, &mut diffs);
            for r in 0..n {
                let ck = out.join(format!("checkpoint.rank{r}.bin"));
                assert!(!ck.exists(), "{} left behind", ck.display());
            }
            if on_disk {
                let left = std::fs::read_dir(&out)
                    .unwrap()
                    .filter_map(|e| e.ok())
                    .filter(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .starts_with(".astrosolve-obs")
                    })
                    .count();
                assert_eq!(
                    left, 0,
                    "scratch files of --observations-on-disk left in OUT"
                );
            }
        }
        timing += "\n";
    }

    print_table(&diffs);

    // --resume on 2 ranks: a solve of 8 outer iterations stopped (SIGTERM to mpirun, which
    // ends its ranks) once both ranks have checkpointed an outer iteration, resumed, equals
    // the uninterrupted one. The first outer iteration takes ≈ 0.1 s, each of the others
    // ≈ 1.5 s: the solve is stopped with seconds to spare, even on a busy machine.
    const OUTER: &str = "8";
    let whole = dir.path().join("cg-2-whole");
    run_ok(
        &mut mpirun(2, &bin, &solve_args_outer(&sim, &whole, "cg", OUTER)),
        "cg, mpirun -np 2, 8 outer iterations",
    );
    let part = dir.path().join("resume");
    let args = solve_args_outer(&sim, &part, "cg", OUTER);
    let mut child = mpirun(2, &bin, &args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("mpirun starts");
    let cks: Vec<PathBuf> = (0..2)
        .map(|r| part.join(format!("checkpoint.rank{r}.bin")))
        .collect();
    let t = Instant::now();
    while !cks.iter().all(|c| c.is_file()) {
        assert!(
            child.try_wait().expect("mpirun waits").is_none(),
            "the solve ended before both ranks checkpointed"
        );
        assert!(t.elapsed().as_secs() < 120, "no checkpoints after 120 s");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let seen = t.elapsed().as_secs_f64();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let sent = t.elapsed().as_secs_f64();
    child.wait().expect("mpirun ends");
    assert!(
        !part.join("catalogue.parquet").exists(),
        "the solve finished before it was stopped (both checkpoints seen {seen:.2} s after the \
         start, SIGTERM sent at {sent:.2} s, mpirun ended at {:.2} s)",
        t.elapsed().as_secs_f64()
    );
    assert!(cks.iter().all(|c| c.is_file()), "the checkpoints are gone");
    // a resume on another number of ranks is refused (the checkpoints are another partition's)
    let mut args = solve_args_outer(&sim, &part, "cg", OUTER);
    args.push("--resume");
    let o = mpirun(3, &bin, &args).output().expect("mpirun runs");
    assert!(!o.status.success(), "{}", text(&o));
    assert_eq!(text(&o).matches("error:").count(), 1, "{}", text(&o));
    run_ok(&mut mpirun(2, &bin, &args), "cg, mpirun -np 2 --resume");
    compare("gaia cg -np 2 resumed/-np 2", &part, &whole, &mut diffs);
    assert!(
        cks.iter().all(|c| !c.exists()),
        "checkpoints left after the resumed solve"
    );

    // JASMINE-like: cg on 2 ranks equals one process (4 seasons, so that every star has
    // the calibration units it needs; the global solution converges in 10 outer iterations,
    // the solve must say so: no --allow-unconverged)
    let jas = dir.path().join("jasmine");
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_astrosolve")).args([
            "simulate",
            "--mission",
            "jasmine",
            "--out",
            s(&jas),
            "--n-sources",
            "600",
            "--days",
            "800",
            "--seed",
            "3",
        ]),
        "simulate --mission jasmine",
    );
    let jargs = |out: &Path| -> Vec<String> {
        ["solve", s(&jas), "--out", s(out), "--solver", "cg"]
            .map(String::from)
            .to_vec()
    };
    let j1 = dir.path().join("jasmine-1");
    let t = Instant::now();
    run_ok(
        Command::new(&bin).args(jargs(&j1)),
        "jasmine cg, one process",
    );
    timing += &format!("jasmine cg: one process {:.1} s", t.elapsed().as_secs_f64());
    let j2 = dir.path().join("jasmine-2");
    let t = Instant::now();
    let jv = jargs(&j2);
    let jv: Vec<&str> = jv.iter().map(|x| x.as_str()).collect();
    let log = run_ok(&mut mpirun(2, &bin, &jv), "jasmine cg, mpirun -np 2");
    timing += &format!(", -np 2 {:.1} s\n", t.elapsed().as_secs_f64());
    assert_eq!(log.matches("wrote ").count(), 1, "{log}");
    assert!(log.contains("on 2 MPI ranks"), "{log}");
    for r in 0..2 {
        let ck = j2.join(format!("checkpoint.rank{r}.bin"));
        assert!(!ck.exists(), "{} left behind", ck.display());
    }
    compare_pointed("jasmine cg -np 2", &j2, &j1, &mut diffs);

    eprint!("{timing}");
    print_table(&diffs);
    let failed: Vec<String> = diffs
        .iter()
        .filter(|d| !d.ok())
        .map(|d| {
            format!(
                "{} {}: {} elements differ, largest {:.2e} ({:.2e} relative)",
                d.case, d.column, d.n_differ, d.max_abs, d.plain_rel
            )
        })
        .collect();
    eprintln!(
        "mpi test: {:.1} s in all, of which {t_build:.1} s building the mpi binary",
        t0.elapsed().as_secs_f64()
    );
    assert!(
        failed.is_empty(),
        "not bit for bit the single-process solution:\n{}",
        failed.join("\n")
    );
}
