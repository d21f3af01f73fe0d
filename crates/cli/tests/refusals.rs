//! Missions the solver cannot solve are refused with the reason and what to change, and a
//! diverging solution is stopped; nothing is written in either case.

use std::path::Path;
use std::process::{Command, Output};

fn astrosolve(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_astrosolve"))
        .args(args)
        .output()
        .unwrap()
}

fn simulate(out: &Path, n_sources: &str, days: &str) -> String {
    let o = astrosolve(&[
        "simulate",
        "--out",
        out.to_str().unwrap(),
        "--n-sources",
        n_sources,
        "--days",
        days,
        "--seed",
        "5",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `solve`, expects a failure, returns stderr; checks that no catalogue was written.
fn refused(data: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "solve",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = astrosolve(&args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "solve {extra:?} succeeded: {err}");
    assert!(
        !out.join("catalogue.parquet").exists(),
        "a catalogue was written"
    );
    assert!(!err.contains("NaN"), "{err}");
    err
}

#[test]
fn unsolvable_missions_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    // 60 days: two visibility periods per source, none reaches the default six
    let short = dir.path().join("short");
    simulate(&short, "600", "60");
    let err = refused(&short, &dir.path().join("a"), &[]);
    assert!(
        err.contains("no source can be solved")
            && err.contains("2 visibility periods")
            && err.contains("--min-visibility-periods"),
        "{err}"
    );
    // forcing two visibility periods: parallaxes and proper motions are not determined, the
    // iterations run away, and the solver says so instead of writing nonsense
    let err = refused(
        &short,
        &dir.path().join("b"),
        &[
            "--min-visibility-periods",
            "2",
            "--min-attitude-redundancy",
            "0",
        ],
    );
    assert!(err.contains("the solution diverges"), "{err}");

    // 1000 sources over a year: ≈ 20 measurements per attitude unknown at the longest knot
    // interval; simulate warns, solve refuses up front and says how many sources would do
    let sparse = dir.path().join("sparse");
    let warn = simulate(&sparse, "1000", "365.25");
    assert!(warn.contains("measurements per attitude unknown"), "{warn}");
    let err = refused(&sparse, &dir.path().join("c"), &[]);
    assert!(
        err.contains("the attitude is too weakly determined")
            && err.contains("measurements of solvable sources per attitude unknown")
            && err.contains("--min-attitude-redundancy"),
        "{err}"
    );

    // Gaia's rule, AC measurements only for G < 13: enough measurements per attitude unknown in
    // all, but too few across scan for the rotations AL cannot see
    let toml = dir.path().join("gaia_ac.toml");
    std::fs::write(
        &toml,
        "[simulation]\nn_sources = 8000\ng_ac_max = 13\nseed = 5\n",
    )
    .unwrap();
    let bright = dir.path().join("bright");
    let o = astrosolve(&[
        "simulate",
        "--config",
        toml.to_str().unwrap(),
        "--out",
        bright.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = refused(&bright, &dir.path().join("d"), &[]);
    assert!(
        err.contains("too weakly determined across scan") && err.contains("g_ac_max"),
        "{err}"
    );
}
