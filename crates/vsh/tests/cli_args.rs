//! Compiles the `astrosolve vsh` subcommand (crates/cli/src/cmd_vsh.rs) against this crate and
//! checks its argument parsing and a run.

#[path = "../../cli/src/cmd_vsh.rs"]
#[allow(dead_code)]
mod cmd_vsh;
mod common;

use clap::{CommandFactory, Parser};

#[derive(Parser, Debug)]
#[command(name = "astrosolve-vsh-test")]
struct Cli {
    #[command(flatten)]
    args: cmd_vsh::VshArgs,
}

#[test]
fn arguments_defaults_and_validation() {
    let c = Cli::try_parse_from(["x", "cat.parquet"]).unwrap();
    assert_eq!(c.args.lmax, 5);
    assert_eq!(c.args.clip, 3.0);
    assert!(c.args.select.is_empty() && !c.args.no_plot && !c.args.force && c.args.out.is_none());
    let c = Cli::try_parse_from([
        "x",
        "g.csv",
        "--lmax",
        "10",
        "--select",
        "is_qso",
        "--select",
        "phot_g_mean_mag<19",
        "--clip",
        "0",
        "--out",
        "d",
        "--force",
        "--no-plot",
        "--skip-invalid",
        "--format",
        "csv",
    ])
    .unwrap();
    assert_eq!(c.args.lmax, 10);
    assert_eq!(c.args.select, vec!["is_qso", "phot_g_mean_mag<19"]);
    assert_eq!(c.args.format, Some(cmd_vsh::VshFormat::Csv));
    assert!(Cli::try_parse_from(["x", "c", "--lmax", "0"]).is_err());
    assert!(Cli::try_parse_from(["x"]).is_err());
    let help = Cli::command().render_long_help().to_string();
    for word in [
        "CATALOGUE",
        "--lmax",
        "--select",
        "--clip",
        "--out",
        "--force",
        "median",
    ] {
        assert!(help.contains(word), "help lacks {word}");
    }
}

#[test]
fn run_writes_outputs_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("c.parquet");
    common::write_catalogue(&cat, 4000, Vec::new(), 3);
    let out = dir.path().join("res");
    let args = |extra: &[&str]| {
        let mut v = vec![
            "x".to_string(),
            cat.display().to_string(),
            "--lmax".into(),
            "2".into(),
        ];
        v.extend([
            "--select".into(),
            "is_qso".into(),
            "--out".into(),
            out.display().to_string(),
        ]);
        v.extend(extra.iter().map(|s| s.to_string()));
        Cli::try_parse_from(v).unwrap().args
    };
    cmd_vsh::run(&args(&["--no-plot"])).unwrap();
    assert!(out.join("vsh.json").exists() && !out.join("vsh_power.png").exists());
    let e = cmd_vsh::run(&args(&["--no-plot"])).unwrap_err();
    assert!(e.to_string().contains("exists already"), "{e}");
    cmd_vsh::run(&args(&["--force"])).unwrap();
    assert!(out.join("vsh_power.png").exists());
    let e = cmd_vsh::run(&args(&["--force", "--clip=-1"])).unwrap_err();
    assert!(e.to_string().contains("--clip"));
    let mut bad = args(&["--force"]);
    bad.select = vec!["phot_g_mean_mag <".into()];
    assert!(cmd_vsh::run(&bad)
        .unwrap_err()
        .to_string()
        .contains("selection"));
}
