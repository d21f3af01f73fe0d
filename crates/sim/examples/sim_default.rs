//! Times the default simulation and prints its size: `cargo run --release --example sim_default`.
use astrosolve_model::MissionConfig;
use astrosolve_sim::{simulate_gaia, SimConfig};
fn main() {
    let t = std::time::Instant::now();
    let s = simulate_gaia(&MissionConfig::default(), &SimConfig::default(), &|_| {}).unwrap();
    println!(
        "{} sources, {} observations, {} attitude knots (h = {:.4} d), {} calibration intervals, {:.2} s",
        s.truth_sources.len(),
        s.observations.len(),
        s.truth_attitude.coeffs.len(),
        s.mission.attitude_knot_interval_days,
        s.truth_calibration.n_intervals,
        t.elapsed().as_secs_f64()
    );
}
