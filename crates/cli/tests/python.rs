//! The Python package `astrosolve` (crates/python, docs/python.md): built and installed as a
//! user would (`pip install ./crates/python` into a virtual environment under target/, with
//! pytest, pyarrow, numpy and astropy), then its pytest suite run against this build's
//! `astrosolve` binary (Python results equal the command line's to the last bit), then the
//! overhead benchmark (printed, not asserted: speed lives in benchmarks).
//!
//! Needs python3 with venv and pip, and the package registries (PyPI, crates.io) for the first
//! run; the virtual environment and the extension's build (crates/python/target) are kept
//! between runs. Set ASTROSOLVE_PYTHON to use another interpreter.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn show(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run(what: &str, cmd: &mut Command) -> Output {
    let t = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    eprintln!("{what}: {:.0} s", t.elapsed().as_secs_f64());
    assert!(out.status.success(), "{}", show(what, &out));
    out
}

#[test]
fn python_package_builds_installs_and_passes_its_tests() {
    let root = repo();
    let python = std::env::var("ASTROSOLVE_PYTHON").unwrap_or_else(|_| "python3".into());
    match Command::new(&python).arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => panic!(
            "the Python package's tests need `{python}` (Python ≥ 3.9 with venv and pip): \
             install Python 3 (e.g. apt-get install python3 python3-venv) or set ASTROSOLVE_PYTHON"
        ),
    }
    let venv = root.join("target/python-venv");
    let bin = venv.join("bin");
    if !bin.join("python").exists() {
        let out = Command::new(&python)
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .expect("python3 -m venv");
        assert!(
            out.status.success(),
            "cannot create a virtual environment (on Debian: apt-get install python3-venv)\n{}",
            show("python3 -m venv", &out)
        );
    }
    let pip = || {
        let mut c = Command::new(bin.join("python"));
        c.args(["-m", "pip", "--disable-pip-version-check", "--no-input"]);
        c
    };
    run(
        "pip install pytest pyarrow numpy astropy",
        pip().args(["install", "-q", "pytest", "pyarrow", "numpy", "astropy"]),
    );
    // the package itself, rebuilt from the working tree (cargo rebuilds what changed)
    run(
        "pip install ./crates/python",
        pip()
            .args(["install", "-q", "--force-reinstall", "--no-deps"])
            .arg(root.join("crates/python"))
            .current_dir(&root),
    );
    let out = Command::new(bin.join("python"))
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "crates/python/tests",
        ])
        .env("ASTROSOLVE_CLI", env!("CARGO_BIN_EXE_astrosolve"))
        .current_dir(&root)
        .output()
        .expect("pytest");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "{}", show("pytest", &out));

    let bench = run(
        "bench_overhead.py",
        Command::new(bin.join("python"))
            .args(["crates/python/bench_overhead.py", "--repeat", "5"])
            .current_dir(&root),
    );
    println!("{}", String::from_utf8_lossy(&bench.stdout));
}
