//! The JASMINE-like pointed survey from the command line: `simulate --mission jasmine` and
//! `solve` on the result (plate-by-plate, global block-iterative, direct).

use std::path::Path;
use std::process::Command;

fn astrosolve() -> Command {
    Command::new(env!("CARGO_BIN_EXE_astrosolve"))
}

fn run(args: &[&str]) -> std::process::Output {
    let out = astrosolve().args(args).output().unwrap();
    out
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

/// The default JASMINE-like simulation, solved both ways from the command line: errors
/// consistent with formal errors, the global solution more precise, BI = direct.
#[test]
fn default_jasmine_simulation_solved_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    let sol = dir.path().join("sol");
    let s = sim.to_str().unwrap();
    let text = ok(&["simulate", "--mission", "jasmine", "--out", s]);
    assert!(text.contains("2000 stars"), "{text}");
    for f in [
        "mission.toml",
        "exposures.parquet",
        "images.parquet",
        "stars.parquet",
        "reference_catalogue.parquet",
        "truth/stars.parquet",
        "truth/exposures.parquet",
        "truth/distortion.parquet",
    ] {
        assert!(sim.join(f).exists(), "{f}");
    }
    let text = ok(&["solve", s, "--out", sol.to_str().unwrap()]);
    for needle in [
        "(a) plate-by-plate",
        "(b) global",
        "direct (Cholesky",
        "mission goal 25 µas",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    for f in [
        "catalogue_plate.parquet",
        "catalogue_global.parquet",
        "exposures_global.parquet",
        "distortion_global.parquet",
        "parallax_vs_hw.png",
        "pm_vs_hw.png",
    ] {
        assert!(sol.join(f).exists(), "{f}");
    }
    let r = report(&sol);
    for approach in ["plate", "global"] {
        for p in ["ra", "dec", "parallax", "pmra", "pmdec"] {
            let v = r["normalised_rms"][approach][p].as_f64().unwrap();
            assert!(
                (0.8..=1.3).contains(&v),
                "{approach} {p}: normalised RMS {v}"
            );
        }
    }
    let imp = r["plate_vs_global_parallax_improvement"].as_f64().unwrap();
    assert!(imp > 1.3, "improvement {imp}");
    let d = r["bi_vs_direct_max_difference_uas"].as_f64().unwrap();
    assert!(d < 0.01, "BI vs direct {d} µas");
    let g = &r["parallax_precision_at_hw_12_5"];
    assert_eq!(g["mission_goal_uas"].as_f64(), Some(25.0));
    assert!(
        g["global_rms_error_uas"].as_f64().unwrap() < g["plate_rms_error_uas"].as_f64().unwrap()
    );
    // the catalogues are Gaia-style catalogues the rest of astrosolve reads
    let cat = astrosolve_io::read_catalogue(sol.join("catalogue_global.parquet")).unwrap();
    assert_eq!(cat.sources.len(), 2000);
    let e = cat.solved.parallax_error.unwrap();
    assert!(e.iter().filter(|v| v.is_finite()).count() > 1500);
    assert!(cat.solved.extra.iter().any(|(n, _)| n == "hw_mag"));
}

/// Bad input: clear errors (file, row, column), never a panic; outputs not overwritten.
#[test]
fn jasmine_bad_inputs_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("small.toml");
    std::fs::write(
        &cfg,
        "[simulation]\nn_stars = 300\nexposures_per_season = 6\nreference_fraction = 0.5\n",
    )
    .unwrap();
    let sim = dir.path().join("sim");
    let s = sim.to_str().unwrap();
    ok(&[
        "simulate",
        "--mission",
        "jasmine",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        s,
    ]);
    // refuses to overwrite
    let out = run(&["simulate", "--mission", "jasmine", "--out", s]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    // unknown configuration key: line and column
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[simulation]\nn_stars = 300\nn_starz = 3\n").unwrap();
    let out = run(&[
        "simulate",
        "--mission",
        "jasmine",
        "--config",
        bad.to_str().unwrap(),
        "--out",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("line 3") && err.contains("n_starz"),
        "{err}"
    );
    // scanning-only flags are refused up front, with the reason, and nothing is written
    for (flags, says) in [
        (
            &["--frame", "gaia"][..],
            "--frame does not apply to a pointed survey",
        ),
        (
            &["--min-attitude-redundancy", "10"][..],
            "--min-attitude-redundancy does not apply to a pointed survey",
        ),
        (
            &["--pseudo-inverse", "--solver", "direct"][..],
            "--pseudo-inverse does not apply",
        ),
        (
            &["--observations-on-disk"][..],
            "--observations-on-disk does not apply to a pointed survey",
        ),
    ] {
        let o = dir.path().join("refused");
        let mut args = vec!["solve", s, "--out", o.to_str().unwrap()];
        args.extend_from_slice(flags);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{flags:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{flags:?}: {err}");
        assert!(!o.exists(), "{flags:?}: output written");
    }
    // a reference catalogue that names an unknown star
    let stars = astrosolve_io::read_stars(sim.join("stars.parquet")).unwrap();
    let ds = astrosolve_io::read_pointed_dataset(&sim).unwrap();
    let mut ids = stars.source_id.clone();
    ids[ds.reference[0].source_index] = 42;
    astrosolve_io::write_reference_catalogue(
        sim.join("reference_catalogue.parquet"),
        &ds.reference,
        &ids,
        astrosolve_io::julian_year(ds.mission.reference_epoch_jd),
        true,
    )
    .unwrap();
    let out = run(&[
        "solve",
        s,
        "--out",
        dir.path().join("sol").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "reference_catalogue.parquet: row 1, column \"source_id\": unknown source_id 42"
        ),
        "{err}"
    );
    // a truncated images file
    std::fs::write(sim.join("images.parquet"), b"PAR1").unwrap();
    let out = run(&[
        "solve",
        s,
        "--out",
        dir.path().join("sol2").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("images.parquet") && !err.contains("panicked"),
        "{err}"
    );
}
