//! The command line end to end on small problems.

use std::process::Command;

fn astrosolve() -> Command {
    Command::new(env!("CARGO_BIN_EXE_astrosolve"))
}

#[test]
fn every_command_explains_itself() {
    for args in [
        vec!["--help"],
        vec!["simulate", "--help"],
        vec!["solve", "--help"],
        vec!["demo", "--help"],
        vec!["vsh", "--help"],
    ] {
        let out = astrosolve().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage"), "{args:?}: {text}");
    }
}

#[test]
fn simulate_writes_a_readable_data_set_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sim");
    let run = |extra: &[&str]| {
        astrosolve()
            .args([
                "simulate",
                "--out",
                out.to_str().unwrap(),
                "--n-sources",
                "300",
                "--days",
                "60",
                "--seed",
                "3",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let first = run(&[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let (ds, truth) = astrosolve_io::read_dataset_and_truth(&out).unwrap();
    let truth = truth.expect("truth/ written");
    assert_eq!(ds.sources.len(), 300);
    assert_eq!(truth.sources.len(), 300);
    assert!(
        ds.observations.len() > 3000,
        "{} observations",
        ds.observations.len()
    );
    assert_eq!(truth.is_outlier.len(), ds.observations.len());
    let refs = astrosolve_io::read_reference_positions(
        out.join(astrosolve_io::REFERENCE_FILE),
        &ds.sources,
    )
    .unwrap();
    assert!(!refs.is_empty() && refs.iter().all(|r| truth.sources[r.source_index].is_qso));
    // the written mission.toml reproduces the same data set
    let again = dir.path().join("again");
    let status = astrosolve()
        .args([
            "simulate",
            "--config",
            out.join("mission.toml").to_str().unwrap(),
            "--out",
            again.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let ds2 = astrosolve_io::read_dataset(&again).unwrap();
    assert_eq!(ds2.observations.len(), ds.observations.len());
    assert_eq!(
        ds2.observations.obs[100].t.to_bits(),
        ds.observations.obs[100].t.to_bits()
    );
    // nothing is overwritten without --force
    let second = run(&[]);
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("--force"));
    assert!(run(&["--force"]).status.success());
}

#[test]
fn bad_configuration_names_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("mission.toml");
    std::fs::write(&cfg, "[simulation]\nn_sorces = 10\n").unwrap();
    let out = astrosolve()
        .args([
            "simulate",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            dir.path().join("x").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mission.toml") && err.contains("n_sorces"),
        "{err}"
    );
}

/// `--solver direct` writes the spectrum, the per-source covariance and requested covariance
/// pairs; `--solver lsqr` runs; a bad pairs file is reported with its line and column.
#[test]
fn direct_and_lsqr_solvers_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    let st = astrosolve()
        .args(["simulate", "--out", sim.to_str().unwrap()])
        .args(["--n-sources", "600", "--days", "120", "--seed", "5"])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let ds = astrosolve_io::read_dataset(&sim).unwrap();
    let (id0, id1) = (ds.sources[0].source_id, ds.sources[1].source_id);
    let pairs = dir.path().join("pairs.csv");
    std::fs::write(
        &pairs,
        format!("a,b\nsource:{id0}:parallax,source:{id0}:parallax\nsource:{id0}:ra,source:{id1}:ra\nattitude:5,calibration:3\n"),
    )
    .unwrap();
    let sol = dir.path().join("direct");
    let out = astrosolve()
        .args([
            "solve",
            sim.to_str().unwrap(),
            "--out",
            sol.to_str().unwrap(),
        ])
        .args(["--solver", "direct", "--min-visibility-periods", "3"])
        .args(["--min-attitude-redundancy", "0"])
        // below the redundancy rules this mission does not converge: the files are tested here
        .args(["--max-outer", "4", "--allow-unconverged"])
        .args(["--cov-pairs", pairs.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sol.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["solver"], "direct");
    let ev = std::fs::read_to_string(sol.join("eigenvalues.csv")).unwrap();
    assert_eq!(
        ev.lines().count() - 1,
        report["n_global_unknowns"].as_u64().unwrap() as usize
    );
    let small = report["smallest_eigenvalues_relative"].as_array().unwrap();
    assert_eq!(small.len(), 7);
    assert!(report["block_underestimation"][2].as_f64().unwrap() >= 1.0);
    let cp = std::fs::read_to_string(sol.join("covariance_pairs.csv")).unwrap();
    let rows: Vec<&str> = cp.lines().collect();
    assert_eq!(rows.len(), 4, "{cp}");
    // a variance is positive and its correlation with itself is one
    let f: Vec<&str> = rows[1].split(',').collect();
    assert!(f[2].parse::<f64>().unwrap() > 0.0);
    assert!((f[4].parse::<f64>().unwrap() - 1.0).abs() < 1e-9);
    assert!(sol.join("source_covariance.csv").exists() && sol.join("eigenvalues.png").exists());

    // a malformed pairs file: line and column named, nothing solved
    std::fs::write(
        &pairs,
        "a,b\nsource:{id0}:parallax,source:999999999999:pmra\n",
    )
    .unwrap();
    let bad = astrosolve()
        .args([
            "solve",
            sim.to_str().unwrap(),
            "--out",
            dir.path().join("bad").to_str().unwrap(),
        ])
        .args(["--solver", "direct", "--min-visibility-periods", "3"])
        .args(["--min-attitude-redundancy", "0"])
        .args(["--cov-pairs", pairs.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("line 2") && err.contains("column `a`"),
        "{err}"
    );

    let lsq = dir.path().join("lsqr");
    let out = astrosolve()
        .args([
            "solve",
            sim.to_str().unwrap(),
            "--out",
            lsq.to_str().unwrap(),
        ])
        .args([
            "--solver",
            "lsqr",
            "--min-visibility-periods",
            "3",
            "--max-outer",
            "2",
            "--min-attitude-redundancy",
            "0",
            "--allow-unconverged",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lsq.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["solver"], "lsqr");
    assert!(report["lsqr_sigma_over_block"][2].as_f64().unwrap() > 0.0);

    // the same solve with the observations on disk: the same catalogue to the bit, and no
    // scratch file left in OUT
    let disk = dir.path().join("lsqr-disk");
    let out = astrosolve()
        .args([
            "solve",
            sim.to_str().unwrap(),
            "--out",
            disk.to_str().unwrap(),
        ])
        .args(["--solver", "lsqr", "--min-visibility-periods", "3"])
        .args(["--max-outer", "2", "--min-attitude-redundancy", "0"])
        .args(["--allow-unconverged", "--observations-on-disk"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        log.contains("observations on disk during the solve"),
        "{log}"
    );
    let (a, b) = (
        astrosolve_io::read_catalogue(lsq.join("catalogue.parquet")).unwrap(),
        astrosolve_io::read_catalogue(disk.join("catalogue.parquet")).unwrap(),
    );
    assert_eq!(a.sources.len(), b.sources.len());
    for (x, y) in a.sources.iter().zip(&b.sources) {
        let bits = |s: &astrosolve_model::source::Source| {
            let p = &s.params;
            [p.ra, p.dec, p.parallax, p.pmra, p.pmdec].map(f64::to_bits)
        };
        assert_eq!(bits(x), bits(y), "source {}", x.source_id);
    }
    let left: Vec<_> = std::fs::read_dir(&disk)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".astrosolve-observations"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
