use astrosolve_model::MissionConfig;
use astrosolve_sim::{simulate_gaia, SimConfig};
use astrosolve_solve::solve::Progress;
use astrosolve_solve::*;
thread_local! { static MAXOUT: std::cell::Cell<usize> = const { std::cell::Cell::new(30) }; }
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(2000);
    let days: f64 = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(365.25);
    let method = if args.get(3).map(|s| s == "bi").unwrap_or(false) {
        InnerMethod::Bi
    } else {
        InnerMethod::Cg
    };
    let mission = MissionConfig {
        start_day: -days / 2.0,
        duration_days: days,
        ..Default::default()
    };
    let mut sim = SimConfig {
        n_sources: n,
        ..Default::default()
    };
    let mut mission = mission;
    if let Ok(v) = std::env::var("GAC") {
        sim.g_ac_max = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("ALDEG") {
        mission.calibration.al_degree = v.parse().unwrap();
    }
    if std::env::var("NOCHROM").is_ok() {
        mission.calibration.chromatic = false;
    }
    if let Ok(v) = std::env::var("RATT") {
        sim.obs_per_attitude_param = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("MAXOUT") {
        MAXOUT.with(|m| m.set(v.parse().unwrap()));
    }
    let t = std::time::Instant::now();
    let s = simulate_gaia(&mission, &sim, &|_| {}).unwrap();
    println!(
        "sim {} obs in {:.2}s",
        s.observations.len(),
        t.elapsed().as_secs_f64()
    );
    let fr = FrameReference {
        positions: s
            .reference_positions
            .iter()
            .map(|r| (r.source_index, r.ra, r.dec, r.sigma))
            .collect(),
        zero_spin: s
            .truth_sources
            .iter()
            .enumerate()
            .filter(|(_, x)| x.is_qso)
            .map(|(i, _)| i)
            .collect(),
    };
    let cfg = SolverConfig {
        method,
        max_outer: MAXOUT.with(|m| m.get()),
        ..Default::default()
    };
    let model = s.model();
    let sol = solve(
        &model,
        &s.observations,
        &s.start_sources,
        &s.start_attitude,
        &s.start_calibration,
        &fr,
        &cfg,
        &mut |p| {
            if let Progress::Inner {
                outer,
                iteration,
                residual,
            } = p
            {
                if iteration % 100 == 0 {
                    println!("  outer {outer} it {iteration} rel {residual:.3e}");
                }
            }
            if let Progress::Outer(r) = p {
                println!("outer {} inner {} max update {:.3} µas {:?} rejected {} frame {:?} {:?} {:.2}s", r.iteration, r.inner_iterations, r.max_update_uas, r.max_update_parts_uas, r.n_rejected, r.frame_rotation_uas, r.frame_spin_uas_per_yr, r.wall_seconds);
            }
        },
    );
    let c = truth::compare(&sol.sources, &s.truth_sources, 20);
    for (g0, g1) in [(9.0, 13.0), (13.0, 16.0), (16.0, 18.0), (18.0, 20.0)] {
        let mut z = [0.0f64; 5];
        let mut n = 0;
        for (i, r) in sol.sources.iter().enumerate() {
            let g = s.truth_sources[i].phot_g_mean_mag;
            if !r.solved || r.n_good_obs_al < 20 || g < g0 || g >= g1 {
                continue;
            }
            let e = truth::errors(r, &s.truth_sources[i]);
            for k in 0..5 {
                z[k] += (e[k] / r.sigma(k)).powi(2);
            }
            n += 1;
        }
        println!(
            "G {g0}-{g1}: n {n} normalised rms {:?}",
            z.map(|v| (v / n as f64).sqrt())
        );
    }
    println!("{}", serde_json::to_string_pretty(&c).unwrap());
    println!(
        "converged {} outer {} inner {} time {:.2}s bytes/obs {:.1}",
        sol.report.converged,
        sol.report.outer_iterations,
        sol.report.inner_iterations,
        sol.report.wall_seconds,
        sol.report.design_bytes_per_observation
    );
}
