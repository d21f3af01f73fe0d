//! Checkpoint and restart (issue 11, item 2): a scanning solve killed with SIGKILL in the
//! middle of an outer iteration and resumed with `--resume` ends bit-for-bit equal to an
//! uninterrupted solve (the solution files byte for byte, report.json but for its wall-clock
//! times); a checkpoint that is missing, truncated, corrupt, from another data set or from
//! other solver flags is refused with a message naming the file; a finished solve leaves no
//! checkpoint.
//!
//! The mission is the smallest quick one (600 sources over 120 days, as in the Python tests),
//! below the solver's default redundancy rule, hence the relaxed flags; four outer iterations of
//! at most 400 inner ones.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CHECKPOINT: &str = "checkpoint.bin";

fn astrosolve(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_astrosolve"))
        .args(args)
        .output()
        .expect("the astrosolve binary runs")
}

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

fn simulate(out: &Path, seed: &str) {
    let o = astrosolve(&[
        "simulate",
        "--out",
        s(out),
        "--n-sources",
        "600",
        "--days",
        "120",
        "--seed",
        seed,
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

/// The solver flags of every solve here.
const FLAGS: [&str; 9] = [
    "--max-inner",
    "400",
    "--min-visibility-periods",
    "3",
    "--min-attitude-redundancy",
    "0",
    "--allow-unconverged",
    "--max-outer",
    "4",
];

fn solve_args<'a>(sim: &'a Path, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["solve", s(sim), "--out", s(out)];
    v.extend(FLAGS);
    v.extend(extra);
    v
}

/// Outer iterations held by a checkpoint (its header: bytes 28..36), if it exists and is whole.
fn checkpoint_iterations(path: &Path) -> Option<u64> {
    let b = std::fs::read(path).ok()?;
    (b.len() >= 44 && &b[..8] == b"ASTROCKP")
        .then(|| u64::from_le_bytes(b[28..36].try_into().expect("8 bytes")))
}

/// report.json without its wall-clock times.
fn report_without_times(dir: &Path) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.retain(|k, _| !k.contains("seconds"));
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let path = dir.join("report.json");
    let t = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut v: serde_json::Value = serde_json::from_str(&t).expect("report.json is JSON");
    strip(&mut v);
    v
}

fn refused(args: &[&str], path: &Path, what: &str) -> String {
    let o = astrosolve(args);
    let t = text(&o);
    assert!(!o.status.success(), "not refused: {t}");
    assert!(
        t.contains(&path.display().to_string()) && t.contains(what),
        "the refusal names neither {} nor '{what}': {t}",
        path.display()
    );
    assert!(!t.contains("panicked"), "{t}");
    t
}

#[test]
fn a_killed_solve_resumes_bit_for_bit_and_bad_checkpoints_are_refused() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let sim = dir.path().join("sim");
    simulate(&sim, "5");

    // the uninterrupted solve; it leaves no checkpoint
    let full = dir.path().join("full");
    let t = Instant::now();
    let o = astrosolve(&solve_args(&sim, &full, &[]));
    assert!(o.status.success(), "{}", text(&o));
    let full_seconds = t.elapsed().as_secs_f64();
    assert!(
        !full.join(CHECKPOINT).exists(),
        "a finished solve left its checkpoint"
    );

    // the same solve, killed with SIGKILL once outer iteration 3 has begun (the checkpoint
    // of iteration 2 is in place)
    let part = dir.path().join("part");
    let mut child = Command::new(env!("CARGO_BIN_EXE_astrosolve"))
        .args(solve_args(&sim, &part, &[]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the astrosolve binary starts");
    let ck = part.join(CHECKPOINT);
    let t = Instant::now();
    loop {
        if checkpoint_iterations(&ck).is_some_and(|k| k >= 2) {
            break;
        }
        if let Some(st) = child.try_wait().expect("waits") {
            panic!("the solve ended ({st}) before the checkpoint of outer iteration 2");
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "no checkpoint after 120 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let kill = Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let st = child.wait().expect("waits");
    assert!(!st.success(), "the solve was not killed: {st}");
    assert!(
        !part.join("catalogue.parquet").exists(),
        "killed after the solution was written"
    );
    let k = checkpoint_iterations(&ck).expect("the killed solve left its checkpoint");
    assert!((2..4).contains(&k), "checkpoint of outer iteration {k}");
    let saved = std::fs::read(&ck).expect("the checkpoint reads");

    // resumed: bit-for-bit the uninterrupted solution, and no checkpoint left
    let t = Instant::now();
    let o = astrosolve(&solve_args(&sim, &part, &["--resume"]));
    assert!(o.status.success(), "{}", text(&o));
    let resumed_seconds = t.elapsed().as_secs_f64();
    for f in [
        "catalogue.parquet",
        "attitude.parquet",
        "calibration.parquet",
    ] {
        let a = std::fs::read(full.join(f)).expect("the uninterrupted file");
        let b = std::fs::read(part.join(f)).expect("the resumed file");
        assert!(
            a == b,
            "{f} of the resumed solve differs from the uninterrupted one"
        );
    }
    let (ra, rb) = (report_without_times(&full), report_without_times(&part));
    assert_eq!(ra["outer_iterations"], 4);
    assert!(ra == rb, "report.json differs:\n{ra}\n{rb}");
    assert!(!ck.exists(), "the resumed solve left its checkpoint");

    // refusals, each naming the file
    let none = dir.path().join("none");
    refused(
        &solve_args(&sim, &none, &["--resume"]),
        &none.join(CHECKPOINT),
        "no checkpoint to resume from",
    );
    let cut = dir.path().join("cut");
    std::fs::create_dir(&cut).expect("a directory");
    std::fs::write(cut.join(CHECKPOINT), &saved[..saved.len() / 2]).expect("written");
    refused(
        &solve_args(&sim, &cut, &["--resume"]),
        &cut.join(CHECKPOINT),
        "is truncated",
    );
    let mut flipped = saved.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 1;
    std::fs::write(cut.join(CHECKPOINT), &flipped).expect("written");
    refused(
        &solve_args(&sim, &cut, &["--resume"]),
        &cut.join(CHECKPOINT),
        "is corrupt",
    );
    let sim6 = dir.path().join("sim6");
    simulate(&sim6, "6");
    let other = dir.path().join("other");
    std::fs::create_dir(&other).expect("a directory");
    std::fs::write(other.join(CHECKPOINT), &saved).expect("written");
    refused(
        &solve_args(&sim6, &other, &["--resume"]),
        &other.join(CHECKPOINT),
        "another data set",
    );
    refused(
        &solve_args(&sim, &other, &["--resume", "--solver", "lsqr"]),
        &other.join(CHECKPOINT),
        "another solver configuration",
    );
    // without --resume an existing checkpoint is refused like any other output
    refused(
        &solve_args(&sim, &other, &[]),
        &other.join(CHECKPOINT),
        "--force",
    );
    let dirs: Vec<PathBuf> = [&cut, &other].iter().map(|d| d.to_path_buf()).collect();
    for d in dirs {
        assert!(!d.join("catalogue.parquet").exists());
    }
    eprintln!(
        "uninterrupted solve {full_seconds:.1} s, killed after outer iteration {k}, resumed in {resumed_seconds:.1} s; test {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}
