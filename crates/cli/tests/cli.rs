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
