//! Speed of `read_observations` on a simulated data set (run with
//! `ASTROSOLVE_SIM_DIR=/tmp/simx cargo test --profile test -p astrosolve-io --test read_speed
//! -- --ignored --nocapture`, after `cargo run --profile test -- simulate --out /tmp/simx`).

use astrosolve_io::*;
use std::path::PathBuf;
use std::time::Instant;

#[test]
#[ignore = "timing; run explicitly with ASTROSOLVE_SIM_DIR set"]
fn read_observations_of_a_simulated_data_set() {
    let dir = PathBuf::from(
        std::env::var("ASTROSOLVE_SIM_DIR")
            .expect("set ASTROSOLVE_SIM_DIR to a simulated data set"),
    );
    let mission = read_mission(dir.join(MISSION_FILE)).unwrap();
    let cat = read_catalogue(dir.join("sources.parquet")).unwrap();
    let path = dir.join("observations.parquet");
    let mut best = f64::INFINITY;
    let mut n = 0;
    for _ in 0..7 {
        let t = Instant::now();
        let obs = read_observations(&path, &cat.sources, &mission.instrument).unwrap();
        best = best.min(t.elapsed().as_secs_f64());
        n = obs.len();
    }
    println!(
        "read_observations: {n} rows, best of 7: {:.1} ms",
        best * 1e3
    );
}
