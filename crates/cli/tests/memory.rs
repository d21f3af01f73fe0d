//! A solve that would not fit the memory it may use (`--max-memory`, else the cgroup limit and
//! MemAvailable) is refused before it starts, with the figures and the alternatives, and
//! writes nothing.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

fn astrosolve(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_astrosolve"))
        .args(args)
        .output()
        .unwrap()
}

/// Files in `dir` (none when it does not exist).
fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_direct_solve_over_the_memory_limit_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = astrosolve(&[
        "simulate",
        "--out",
        data.to_str().unwrap(),
        "--n-sources",
        "200",
        "--days",
        "60",
        "--seed",
        "3",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let out = dir.path().join("sol");
    let t = Instant::now();
    let o = astrosolve(&[
        "solve",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--solver",
        "direct",
        "--max-memory",
        "10MB",
    ]);
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    println!("refused in {secs:.2} s:\n{err}");
    assert!(!o.status.success(), "a direct solve in 10 MB succeeded");
    assert_ne!(o.status.code(), Some(101), "panicked: {err}");
    for s in [
        "not enough memory",
        " at its peak but 10.0 MB are available (set by --max-memory",
        "dense",
        "--solver cg (needs",
        "--solver lsqr (needs",
        "--no-covariance (needs",
        "attitude + calibration unknowns",
    ] {
        assert!(err.contains(s), "{s:?} not in: {err}");
    }
    assert!(!err.contains("NaN"), "{err}");
    // refused before the first outer iteration: seconds, where the solve takes minutes
    assert!(secs < 30.0, "refused only after {secs:.1} s");
    assert!(files_in(&out).is_empty(), "wrote {:?}", files_in(&out));

    // a size that is not one
    let o = astrosolve(&[
        "solve",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--max-memory",
        "lots",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("\"lots\" is not a memory size") && err.contains("8GB"),
        "{err}"
    );
    assert!(files_in(&out).is_empty(), "wrote {:?}", files_in(&out));
}
