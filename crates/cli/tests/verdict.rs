//! Never a silent wrong answer: a solve that does not converge exits with status 2 and a
//! diagnosis, writing nothing, unless partial results are asked for (`--allow-unconverged`),
//! and then report.json and the summary say so first; a frame that the reference positions
//! or quasars cannot fix, or references that disagree grossly with the data, are refused
//! before the solve; no NaN is printed as a figure.

use astrosolve_io as io;
use astrosolve_model::source::ReferencePosition;
use astrosolve_model::ObservationSet;
use std::path::Path;
use std::process::{Command, Output};

fn astrosolve(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_astrosolve"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn solve(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "solve",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    astrosolve(&args)
}

/// A copy of the data set in `src` with the data changed by `f` (without the truth when
/// `keep_truth` is false: the observation truth must match the observations).
fn variant(
    src: &Path,
    dst: &Path,
    keep_truth: bool,
    f: impl FnOnce(&mut io::Dataset, &mut Vec<ReferencePosition>),
) {
    let (mut ds, truth) = io::read_dataset_and_truth(src).unwrap();
    let mut refs = io::read_reference_positions(src.join(io::REFERENCE_FILE), &ds.sources).unwrap();
    f(&mut ds, &mut refs);
    let truth = truth.filter(|_| keep_truth);
    io::write_dataset(
        dst,
        &ds,
        truth.as_ref(),
        &io::WriteOptions { overwrite: false },
    )
    .unwrap();
    io::write_reference_positions(dst.join(io::REFERENCE_FILE), &refs, &ds.sources, false).unwrap();
    std::fs::copy(src.join("mission.toml"), dst.join("mission.toml")).unwrap();
}

#[test]
fn unconverged_solves_exit_2_unless_partial_results_are_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sim");
    let o = astrosolve(&[
        "simulate",
        "--out",
        data.to_str().unwrap(),
        "--n-sources",
        "5000",
        "--seed",
        "3",
    ]);
    assert!(o.status.success(), "{}", text(&o).1);

    // one outer iteration from the 30-mas start cannot converge
    let out = dir.path().join("a");
    let o = solve(&data, &out, &["--max-outer", "1"]);
    let (stdout, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stdout}\n{err}");
    assert!(
        err.contains("NOT CONVERGED")
            && err.contains("--max-outer 1")
            && err.contains("Redundancy:")
            && err.contains("per unknown")
            && err.contains("--allow-unconverged"),
        "{err}"
    );
    assert!(
        !err.contains("NaN") && !stdout.contains("NaN"),
        "{stdout}\n{err}"
    );
    for f in ["catalogue.parquet", "report.json", "attitude.parquet"] {
        assert!(!out.join(f).exists(), "{f} was written");
    }

    // partial results: written, and marked so first in the summary and in report.json
    let out = dir.path().join("b");
    let o = solve(&data, &out, &["--max-outer", "1", "--allow-unconverged"]);
    let (stdout, err) = text(&o);
    assert!(o.status.success(), "{stdout}\n{err}");
    let first = stdout
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("read "))
        .find(|l| !l.trim_start().starts_with("outer"))
        .unwrap_or_default();
    assert!(
        first.starts_with("PARTIAL RESULTS (--allow-unconverged): NOT CONVERGED"),
        "{stdout}"
    );
    assert!(!stdout.contains("NaN"), "{stdout}");
    let report = std::fs::read_to_string(out.join("report.json")).unwrap();
    let first_key = report.lines().nth(1).unwrap_or_default().trim();
    assert!(
        first_key.starts_with("\"verdict\": \"PARTIAL RESULTS"),
        "{first_key}"
    );
    let json: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(json["converged"], serde_json::Value::Bool(false));
    assert!(out.join("catalogue.parquet").exists());

    // a frame that cannot be fixed is refused before the solve, with the numbers
    let one_qso = dir.path().join("one_qso");
    variant(&data, &one_qso, true, |ds, _| {
        let first = ds.sources.iter().position(|s| s.is_qso).unwrap();
        for (i, s) in ds.sources.iter_mut().enumerate() {
            s.is_qso = i == first;
        }
    });
    let o = solve(&one_qso, &dir.path().join("c"), &[]);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("at least 2")
            && err.contains("quasar-like sources (is_qso in sources.parquet: 1)"),
        "{err}"
    );
    let one_ref = dir.path().join("one_ref");
    variant(&data, &one_ref, true, |_, r| r.truncate(1));
    let err = text(&solve(&one_ref, &dir.path().join("d"), &[])).1;
    assert!(
        err.contains("reference positions (reference_positions.parquet: 1)"),
        "{err}"
    );
    // …but --frame min-norm needs neither
    let o = solve(
        &one_ref,
        &dir.path().join("e"),
        &[
            "--frame",
            "min-norm",
            "--max-outer",
            "1",
            "--allow-unconverged",
        ],
    );
    assert!(o.status.success(), "{}", text(&o).1);

    // reference positions 10° off in right ascension would turn the whole catalogue
    let shifted = dir.path().join("shifted");
    variant(&data, &shifted, true, |_, r| {
        for p in r.iter_mut() {
            p.ra = (p.ra + 10f64.to_radians()).rem_euclid(std::f64::consts::TAU);
        }
    });
    let o = solve(&shifted, &dir.path().join("f"), &[]);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(1), "{err}");
    let angle: f64 = err
        .split("rotated by ")
        .nth(1)
        .and_then(|t| t.split('″').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        (angle - 36000.0).abs() < 10.0 && err.contains("disagree grossly"),
        "{err}"
    );
    assert!(!dir.path().join("f").join("catalogue.parquet").exists());

    // data that leave nothing to solve: refused with the reason, not "converged"
    let none = dir.path().join("none");
    variant(&data, &none, false, |ds, _| {
        ds.observations = ObservationSet::from_unsorted(Vec::new(), ds.sources.len());
    });
    let o = solve(&none, &dir.path().join("g"), &[]);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("no measurements"), "{err}");
    let one_source = dir.path().join("one_source");
    variant(&data, &one_source, false, |ds, _| {
        let mut obs = ds.observations.obs.clone();
        for o in obs.iter_mut() {
            o.source_index = 0;
        }
        ds.observations = ObservationSet::from_unsorted(obs, ds.sources.len());
    });
    let err = text(&solve(&one_source, &dir.path().join("h"), &[])).1;
    assert!(
        err.contains("no source can be solved: 5000 sources, 1 of them observed"),
        "{err}"
    );
    let err = text(&solve(
        &data,
        &dir.path().join("i"),
        &["--min-visibility-periods", "1000"],
    ))
    .1;
    assert!(
        err.contains("no source can be solved")
            && err.contains("in at least 1000 visibility periods"),
        "{err}"
    );
    let o = solve(&data, &dir.path().join("j"), &["--max-outer", "0"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("at least one outer iteration"));
    let o = solve(&data, &dir.path().join("k"), &["--tol-sigma=-0.5"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("tol_sigma is -0.5"), "{}", text(&o).1);
    let o = solve(&data, &dir.path().join("l"), &["--robust-start-uas", "nan"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).1.contains("robust_start_uas is NaN"),
        "{}",
        text(&o).1
    );
    // one sign-flipped attitude coefficient (q and −q are one rotation, but not in a spline):
    // the first step diverges, and the message names the time interval to correct
    let flipped = dir.path().join("flipped");
    variant(&data, &flipped, true, |ds, _| {
        let k = ds.attitude.coeffs.len() / 3;
        ds.attitude.coeffs[k] = ds.attitude.coeffs[k].map(|v| -v);
    });
    let o = solve(&flipped, &dir.path().join("k"), &[]);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the solution diverges")
            && err.contains("starting attitude or calibration there is probably wrong")
            && err.contains("days"),
        "{err}"
    );
    assert!(!err.contains("NaN"), "{err}");
    for d in ["g", "h", "i", "j", "k"] {
        assert!(!dir.path().join(d).join("catalogue.parquet").exists());
    }
}
