//! Benchmark: VSH fit of 1.5 million synthetic sources at L = 10 (240 unknowns).
//!
//! `cargo bench -p astrosolve-vsh --bench vsh` prints the timings and writes
//! `target/bench/vsh.json`. Environment:
//! * `VSH_BENCH_N` (default 1 500 000), `VSH_BENCH_LMAX` (default 10), `VSH_BENCH_REPEAT`
//!   (default 3: each stage is timed this many times and the minimum reported);
//! * `VSH_BENCH_DUMP=DIR`: also write the input (`vsh_input.f64`, 7 little-endian f64 columns
//!   ra[rad], dec[rad], pmra, pmdec, pmra_error, pmdec_error [µas/yr], corr, column-major) and the
//!   fitted coefficients/errors (`vsh_astrosolve.json`) for the comparison with `vsh-tools`
//!   made by scripts/bench_vsh.sh.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use astrosolve_vsh::basis::{coef_index, labels, n_coef, Family, Part, VshBasis};
use astrosolve_vsh::fit::{accumulate_all, fit, normalised_residuals, solve, FitOptions};
use astrosolve_vsh::physics::{degree1_vector, vector_to_coefficients};
use astrosolve_vsh::power::power_spectrum;
use astrosolve_vsh::synth::{generate, SynthConfig};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// Runs `f` `repeat` times; returns the sorted times [s] and the last result.
fn timed<T>(repeat: usize, mut f: impl FnMut() -> T) -> (Vec<f64>, T) {
    let mut times = Vec::with_capacity(repeat);
    let mut last = None;
    for _ in 0..repeat {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (times, last.expect("repeat >= 1"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let n = env_usize("VSH_BENCH_N", 1_500_000);
    let lmax = env_usize("VSH_BENCH_LMAX", 10);
    let repeat = env_usize("VSH_BENCH_REPEAT", 3).max(1);
    let threads = rayon::current_num_threads();
    println!(
        "VSH benchmark: {n} sources, lmax {lmax} ({} unknowns), {threads} thread(s)",
        n_coef(lmax)
    );

    // Truth: EDR3-like glide, a rotation, a degree-2 field, some higher-degree power.
    let mut truth = vec![0.0; n_coef(3)];
    let g = vector_to_coefficients([-0.1, -4.3, -2.6]);
    let w = vector_to_coefficients([1.0, -2.0, 0.5]);
    for (k, (p, m)) in [(Part::Zonal, 0), (Part::Re, 1), (Part::Im, 1)]
        .iter()
        .enumerate()
    {
        truth[coef_index(Family::S, 1, *m, *p)] = g[k];
        truth[coef_index(Family::T, 1, *m, *p)] = w[k];
    }
    truth[coef_index(Family::T, 2, 1, Part::Re)] = 3.0;
    truth[coef_index(Family::S, 2, 2, Part::Im)] = -2.5;
    truth[coef_index(Family::S, 3, 3, Part::Re)] = 1.5;
    let t = Instant::now();
    let syn = generate(&SynthConfig {
        n,
        truth,
        sigma_range: (150.0, 1500.0), // µas/yr, like Gaia EDR3 QSO-like sources
        max_corr: 0.4,
        outlier_fraction: 0.002,
        outlier_scale: 20.0,
        seed: 42,
    });
    let t_gen = t.elapsed().as_secs_f64();
    println!("  generate synthetic catalogue        {t_gen:8.3} s");

    // Each stage is timed `repeat` times; the minimum is the figure least disturbed by other
    // processes on the machine (the median is printed too).
    let basis = VshBasis::new(lmax);
    // 1. Normal equations alone (the O(N n²) part).
    let (acc_t, ne) = timed(repeat, || accumulate_all(&basis, &syn.data));
    let (solve_t, sol) = timed(repeat, || solve(&ne, lmax).expect("solve"));
    let coef0 = sol.0;
    // 2. Residual pass alone (basis evaluation and model for every source).
    let (res_t, _) = timed(repeat, || normalised_residuals(&basis, &syn.data, &coef0));
    // 3. Full fit without clipping (accumulate + solve + residual pass).
    let (fit_t, f0) = timed(repeat, || {
        fit(
            &syn.data,
            &FitOptions {
                lmax,
                clip_kappa: 0.0,
                max_iter: 1,
            },
        )
        .expect("fit")
    });
    // 4. Full fit with clipping (default κ = 3).
    let (clip_t, f) = timed(repeat, || {
        fit(
            &syn.data,
            &FitOptions {
                lmax,
                clip_kappa: 3.0,
                max_iter: 20,
            },
        )
        .expect("fit")
    });
    let line = |what: &str, t: &[f64], extra: String| {
        println!(
            "  {what:<36} {:8.3} s  (median {:.3} s){extra}",
            t[0],
            t[t.len() / 2]
        );
    };
    line(
        "accumulate normal equations",
        &acc_t,
        format!(", {:.0} ns/source", acc_t[0] * 1e9 / n as f64),
    );
    line(
        &format!("solve + invert ({} unknowns)", n_coef(lmax)),
        &solve_t,
        String::new(),
    );
    line(
        "residual pass (basis + model)",
        &res_t,
        format!(", {:.0} ns/source", res_t[0] * 1e9 / n as f64),
    );
    line("fit, no clipping", &fit_t, String::new());
    line(
        "fit, clipping κ=3",
        &clip_t,
        format!(
            ", {} fits, {} rejected, converged {}",
            f.iterations,
            f.n_sources - f.n_used,
            f.converged
        ),
    );
    let maxdiff = coef0
        .iter()
        .zip(&f0.coef)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        maxdiff < 1e-9,
        "fit and accumulate+solve differ by {maxdiff}"
    );
    let (t_acc, t_solve, t_fit, t_clip) = (acc_t[0], solve_t[0], fit_t[0], clip_t[0]);
    let gl = degree1_vector(Family::S, &f.coef, &f.cov);
    let rot = degree1_vector(Family::T, &f.coef, &f.cov);
    println!(
        "  glide |g| = {:.3} ± {:.3} µas/yr towards ({:.1}, {:+.1}) deg; |ω| = {:.3} ± {:.3}",
        gl.amplitude,
        gl.amplitude_error,
        gl.equatorial.lon,
        gl.equatorial.lat,
        rot.amplitude,
        rot.amplitude_error
    );
    let p = power_spectrum(&f.coef, &f.cov);
    let uwe = f.unit_weight_error();

    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir).expect("create target/bench");
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let report = serde_json::json!({
        "benchmark": "vsh_fit",
        "n_sources": n,
        "lmax": lmax,
        "n_coefficients": n_coef(lmax),
        "threads": threads,
        "generate_s": t_gen,
        "accumulate_s": t_acc,
        "accumulate_ns_per_source": t_acc * 1e9 / n as f64,
        "solve_s": t_solve,
        "fit_no_clip_s": t_fit,
        "fit_clipped_s": t_clip,
        "residual_pass_s": res_t[0],
        "repeat": repeat,
        "timing_note": "minimum over `repeat` runs",
        "clip_iterations": f.iterations,
        "n_rejected": f.n_sources - f.n_used,
        "unit_weight_error": uwe,
        "glide_uas_yr": gl.components,
        "rotation_uas_yr": rot.components,
        "power_l2_total_z": p.get(1).map(|d| d.total.z),
    });
    let out = dir.join("vsh.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap() + "\n")
        .expect("write json");
    println!("  wrote {}", out.display());

    if let Some(dump) = std::env::var_os("VSH_BENCH_DUMP") {
        let dump = PathBuf::from(dump);
        std::fs::create_dir_all(&dump).expect("create dump dir");
        let d = &syn.data;
        let mut w =
            std::io::BufWriter::new(std::fs::File::create(dump.join("vsh_input.f64")).unwrap());
        for col in [
            &d.ra,
            &d.dec,
            &d.pmra,
            &d.pmdec,
            &d.pmra_error,
            &d.pmdec_error,
            &d.pmra_pmdec_corr,
        ] {
            for v in col.iter() {
                w.write_all(&v.to_le_bytes()).unwrap();
            }
        }
        w.flush().unwrap();
        let names: Vec<String> = labels(lmax).iter().map(|c| c.name()).collect();
        let errors: Vec<f64> = (0..f0.n_coef()).map(|j| f0.error(j)).collect();
        let j = serde_json::json!({
            "n_sources": n,
            "lmax": lmax,
            "names": names,
            "coefficients": f0.coef,
            "errors": errors,
            "fit_no_clip_s": t_fit,
            "accumulate_s": t_acc,
            "threads": threads,
        });
        std::fs::write(
            dump.join("vsh_astrosolve.json"),
            serde_json::to_string(&j).unwrap(),
        )
        .unwrap();
        println!("  dumped input and coefficients to {}", dump.display());
    }
}
