//! Speed of the observation table (run with `cargo test --profile test -p astrosolve-io
//! --test perf -- --ignored --nocapture`).

mod common;

use astrosolve_io::*;
use common::*;
use std::time::Instant;

#[test]
#[ignore = "timing; run explicitly"]
fn million_observations() {
    let d = tempfile::tempdir().unwrap();
    let (ds, truth) = dataset_and_truth(31, 20_000, 1_000_000);
    let t = Instant::now();
    write_observations(
        d.path().join("o.parquet"),
        &ds.observations.obs,
        &ds.sources,
        false,
    )
    .unwrap();
    let w_obs = t.elapsed();
    let t = Instant::now();
    let back = read_observations(
        d.path().join("o.parquet"),
        &ds.sources,
        &ds.mission.instrument,
    )
    .unwrap();
    let r_obs = t.elapsed();
    assert_eq!(back.len(), 1_000_000);
    let size = std::fs::metadata(d.path().join("o.parquet")).unwrap().len();

    let dir = d.path().join("ds");
    let t = Instant::now();
    write_dataset(&dir, &ds, Some(&truth), &WriteOptions::default()).unwrap();
    write_mission(dir.join(MISSION_FILE), &ds.mission, false).unwrap();
    let w_ds = t.elapsed();
    let t = Instant::now();
    let (back, tr) = read_dataset_and_truth(&dir).unwrap();
    let r_ds = t.elapsed();
    assert_eq!(back.observations.len(), 1_000_000);
    assert!(tr.is_some());
    println!(
        "10^6 observations: write {w_obs:.2?}, read {r_obs:.2?}, file {:.1} MB; \
         whole data set with truth: write {w_ds:.2?}, read {r_ds:.2?}",
        size as f64 / 1e6
    );
}
