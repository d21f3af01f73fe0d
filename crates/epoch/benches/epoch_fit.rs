//! Benchmark (not a test): the robust (AGIS-like) 5-parameter source update of ≥ 10⁶ simulated
//! Gaia DR4-like sources, and of the first 10³ of them with ESA's PyPI package `gaiasupdate` in
//! the same run: sources per second of both, their ratio, and the largest parameter difference.
//!
//! `scripts/bench_epoch.sh` (installs gaiasupdate into target/gaiasupdate-venv, then runs
//! `cargo bench -p astrosolve-epoch --bench epoch_fit`). Environment: EPOCH_SOURCES (default
//! 1000000), PEER_SOURCES (1000; 0 skips the peer), EPOCH_CHUNK (2000 sources simulated and
//! fitted at a time: memory stays bounded), EPOCH_SEED (1), GAIASUPDATE_PYTHON (default
//! target/gaiasupdate-venv/bin/python). Figures also in target/bench/epoch_fit.json; the peer's
//! input is target/bench/epoch_peer.parquet (CU9 layout, as gaia-supdate's
//! tests/test_data/gacs_data_link/1_epoch_astrometry.parquet) and its output
//! target/bench/epoch_peer_gaiasupdate.json (scripts/gaiasupdate_driver.py).
//!
//! Simulation (per source, seeded by its index, independent of the number of threads):
//! uniform sky position; G uniform in 12–19 with σ_AL = 0.1 mas × 10^(0.25 (G − 15)) clipped to
//! 0.1–1 mas, ×U(0.8, 1.25) per CCD (sky mapper ×1.6); 25–45 visits uniform in the DR4 interval
//! (2014.56–2020.05), each two FoV transits 106.5 min apart with one scan angle θ uniform in
//! (−180°, 180°]; 10 CCDs per transit (SM, AF1–9 at +4.57 + 4.86 k s); parallax factor and Rømer
//! delay from Gaia at 1.01 × the Earth's barycentric position (Astronomical Almanac low-precision
//! Sun, obliquity 23.44°); truth Δα*, Δδ ~ N(0, 1) mas, ϖ ~ U(0.05, 5) mas, μ ~ N(0, 8) mas/yr;
//! excess noise ε ~ U(0.05, 0.5) mas for 30 % of sources; 3 % of AF CCDs outliers of
//! (5 + Exp(15)) σ, 0.5 % of transits shifted by 6–12 σ as a whole; SM and 2 % of AF not
//! used_by_agis_al; colour factor N(0, 0.005) per transit with no colour signal. The stored values
//! are quantised to the CU9 file's types (σ, parallax factor, Rømer delay in f32) and both fits
//! read the same numbers; t follows gaiasupdate's set_relative_time (epoch_astrometry.py).

use arrow_array::builder::{BooleanBuilder, Float32Builder, Float64Builder, ListBuilder};
use arrow_array::{ArrayRef, Float32Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field};
use astrosolve_epoch::{
    fit_many, EpochObs, FitOptions, FitResult, ModelKind, SourceData, Weighting,
};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

/// Nanoseconds to Julian years (astropy's u.nanosecond.to(u.year)).
const NS_YR: f64 = 1e-9 / (365.25 * 86400.0);
/// Start and end of the DR4 data (Julian years, TCB).
const DR4_START: f64 = 2014.5626;
const DR4_END: f64 = 2020.0507;
/// Light time for one au, s.
const AU_LIGHT_S: f64 = 499.004_783_836_156;
const N_CCD: usize = 10;
const NAMES: [&str; 5] = ["ra_offset", "dec_offset", "parallax", "pmra", "pmdec"];
const UNITS: [&str; 5] = ["mas", "mas", "mas", "mas/yr", "mas/yr"];

/// The simulator's generator (xoshiro256** seeded from (seed, stream)): one stream per source.
use astrosolve_sim::rng::Rng;

/// A Bernoulli draw with probability p.
fn chance(rng: &mut Rng, p: f64) -> bool {
    rng.uniform() < p
}

/// One FoV transit as stored in the CU9 file.
struct Transit {
    /// obsTimeTcb, ns since 2010.0 TCB (integer-valued f64, as the real file).
    tcb: [f64; N_CCD],
    /// obsTimeBaryCorr, ns (f32 in the file).
    bary: f32,
    /// centroidPosAl, mas.
    w: [f64; N_CCD],
    /// centroidPosErrorAl, mas (f32).
    sigma: [f32; N_CCD],
    /// scanPosAngle, deg.
    theta: [f64; N_CCD],
    /// parallaxFactorAl (f32).
    pf: f32,
    /// colourFactorAl (f32).
    cf: f32,
    /// usedByAgisAl.
    used: [bool; N_CCD],
    /// Injected outliers (not stored).
    outlier: [bool; N_CCD],
}

struct SimSource {
    id: i64,
    truth: [f64; 5],
    eps: f32,
    nu_eff: f32,
    transits: Vec<Transit>,
}

/// Gaia's barycentric position (au, ICRS axes) at Julian year `jyr`: 1.01 × the Earth's,
/// from the Astronomical Almanac's low-precision Sun.
fn gaia_position(jyr: f64) -> [f64; 3] {
    let d = (jyr - 2000.0) * 365.25;
    let l = (280.460 + 0.985_647_4 * d).to_radians();
    let g = (357.528 + 0.985_600_3 * d).to_radians();
    let lam = l + (1.915f64.to_radians()) * g.sin() + (0.020f64.to_radians()) * (2.0 * g).sin();
    let r = 1.000_14 - 0.016_71 * g.cos() - 0.000_14 * (2.0 * g).cos();
    let eps = 23.439f64.to_radians();
    let s = 1.01 * r;
    // the Sun seen from the Earth, negated
    [
        -s * lam.cos(),
        -s * eps.cos() * lam.sin(),
        -s * eps.sin() * lam.sin(),
    ]
}

/// t (Julian years from J2017.5) of one CCD as gaiasupdate's set_relative_time computes it:
/// 2010.0 + tcb·K + bary·K − 2017.5, where bary·K is evaluated in float32 (a float32 column
/// times a Python float under NumPy 2).
fn rel_time(tcb: f64, bary: f32) -> f64 {
    let bary_yr = (bary * NS_YR as f32) as f64;
    ((2010.0 + tcb * NS_YR) + bary_yr) - 2017.5
}

/// The 5-parameter abscissa of the truth.
fn model_w(p: &[f64; 5], theta_deg: f64, pf: f64, t: f64) -> f64 {
    let (s, c) = theta_deg.to_radians().sin_cos();
    s * p[0] + c * p[1] + pf * p[2] + t * s * p[3] + t * c * p[4]
}

fn simulate(seed: u64, index: u64) -> SimSource {
    let mut rng = Rng::new(seed, index);
    let ra = rng.range(0.0, std::f64::consts::TAU);
    let dec = rng.range(-1.0, 1.0).asin();
    let (sa, ca) = ra.sin_cos();
    let (sd, cd) = dec.sin_cos();
    let r_hat = [cd * ca, cd * sa, sd];
    let e_a = [-sa, ca, 0.0];
    let e_d = [-sd * ca, -sd * sa, cd];
    let dot = |a: &[f64; 3], b: &[f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let gmag = rng.range(12.0, 19.0);
    let sigma_g = (0.1 * 10f64.powf(0.25 * (gmag - 15.0))).clamp(0.1, 1.0);
    let truth = [
        rng.normal(),
        rng.normal(),
        rng.range(0.05, 5.0),
        8.0 * rng.normal(),
        8.0 * rng.normal(),
    ];
    let eps = if chance(&mut rng, 0.3) {
        rng.range(0.05, 0.5)
    } else {
        0.0
    };
    let nu_eff = (1.55 + 0.05 * rng.normal()) as f32;
    let n_visits = 25 + (rng.uniform() * 21.0) as usize;
    let mut visits: Vec<(f64, f64)> = (0..n_visits)
        .map(|_| (rng.range(DR4_START, DR4_END), rng.range(-180.0, 180.0)))
        .collect();
    visits.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut transits = Vec::with_capacity(2 * n_visits);
    for &(t_visit, theta_visit) in &visits {
        for fov in 0..2 {
            let jyr = t_visit + fov as f64 * 106.5 * 60.0 / (365.25 * 86400.0);
            let t0_ns = ((jyr - 2010.0) / NS_YR).round();
            let b = gaia_position(jyr);
            let pf = (-(pf_along_scan(&b, &e_a, &e_d, theta_visit, dot))) as f32;
            let bary = (dot(&b, &r_hat) * AU_LIGHT_S * 1e9) as f32;
            let cf = (0.005 * rng.normal()) as f32;
            let whole = if chance(&mut rng, 0.005) {
                rng.range(6.0, 12.0) * if chance(&mut rng, 0.5) { 1.0 } else { -1.0 }
            } else {
                0.0
            };
            let mut tr = Transit {
                tcb: [0.0; N_CCD],
                bary,
                w: [0.0; N_CCD],
                sigma: [0.0; N_CCD],
                theta: [0.0; N_CCD],
                pf,
                cf,
                used: [false; N_CCD],
                outlier: [false; N_CCD],
            };
            for k in 0..N_CCD {
                let dt_s = if k == 0 { 0.0 } else { 4.57 + 4.86 * k as f64 };
                tr.tcb[k] = t0_ns + (dt_s * 1e9).round();
                tr.theta[k] = theta_visit + 0.000_27 * k as f64 + 0.0005 * fov as f64;
                let sm = if k == 0 { 1.6 } else { 1.0 };
                tr.sigma[k] = (sigma_g * sm * rng.range(0.8, 1.25)) as f32;
                tr.used[k] = k > 0 && !chance(&mut rng, 0.02);
                let s_tot = ((tr.sigma[k] as f64).powi(2) + eps * eps).sqrt();
                let t = rel_time(tr.tcb[k], bary);
                let mut w = model_w(&truth, tr.theta[k], pf as f64, t) + s_tot * rng.normal();
                if k > 0 && chance(&mut rng, 0.03) {
                    let size = 5.0 - 15.0 * (1.0 - rng.uniform()).ln();
                    w += size * s_tot * if chance(&mut rng, 0.5) { 1.0 } else { -1.0 };
                    tr.outlier[k] = true;
                }
                if whole != 0.0 {
                    w += whole * s_tot;
                    tr.outlier[k] = true;
                }
                tr.w[k] = w;
            }
            transits.push(tr);
        }
    }
    SimSource {
        id: 1_000_000_000_000_000 + index as i64,
        truth,
        eps: eps as f32,
        nu_eff,
        transits,
    }
}

/// sin θ (b·e_α*) + cos θ (b·e_δ): minus the parallax factor along scan of an observer at b (au).
fn pf_along_scan(
    b: &[f64; 3],
    e_a: &[f64; 3],
    e_d: &[f64; 3],
    theta_deg: f64,
    dot: impl Fn(&[f64; 3], &[f64; 3]) -> f64,
) -> f64 {
    let (s, c) = theta_deg.to_radians().sin_cos();
    s * dot(b, e_a) + c * dot(b, e_d)
}

/// The engine's input, from the stored (quantised) values, as gaiasupdate derives its design
/// matrix: sin θ, cos θ, parallax factor, t sin θ, t cos θ (epoch_astrometry.py,
/// set_scan_angle_derived_columns).
fn source_data(s: &SimSource) -> SourceData {
    let mut obs = Vec::with_capacity(s.transits.len() * N_CCD);
    for (j, tr) in s.transits.iter().enumerate() {
        for k in 0..N_CCD {
            let t = rel_time(tr.tcb[k], tr.bary);
            let (sn, cs) = tr.theta[k].to_radians().sin_cos();
            obs.push(EpochObs {
                t,
                a_alpha: sn,
                a_delta: cs,
                a_parallax: tr.pf as f64,
                a_pmra: t * sn,
                a_pmdec: t * cs,
                a_colour: -1e3 * tr.cf as f64,
                w: tr.w[k],
                sigma: tr.sigma[k] as f64,
                used: tr.used[k],
                transit: j as u32,
            });
        }
    }
    SourceData {
        id: s.id,
        obs,
        pairs: Vec::new(),
        excess_noise: Some(s.eps as f64),
        colour_prior: None,
    }
}

/// Writes sources in gaia-supdate's CU9 Parquet layout (the real datalink file's column names
/// and types: list<double>/list<float>/list<bool> CCD arrays, float scalars).
fn write_cu9_parquet(path: &Path, sources: &[SimSource]) -> Result<(), String> {
    let item = |dt: DataType| Arc::new(Field::new("element", dt, true));
    let l64 = || ListBuilder::new(Float64Builder::new()).with_field(item(DataType::Float64));
    let l32 = || ListBuilder::new(Float32Builder::new()).with_field(item(DataType::Float32));
    let lb = || ListBuilder::new(BooleanBuilder::new()).with_field(item(DataType::Boolean));
    let (mut w, mut tcb, mut theta, mut flags) = (l64(), l64(), l64(), l64());
    let (mut sig, mut ipd) = (l32(), l32());
    let (mut used, mut used_ac) = (lb(), lb());
    let mut sid = Vec::new();
    let (mut bary, mut pf, mut cf, mut eps, mut nu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for s in sources {
        for tr in &s.transits {
            sid.push(s.id);
            bary.push(tr.bary);
            pf.push(tr.pf);
            cf.push(tr.cf);
            eps.push(s.eps);
            nu.push(s.nu_eff);
            w.append_value(tr.w.iter().map(|&x| Some(x)));
            tcb.append_value(tr.tcb.iter().map(|&x| Some(x)));
            theta.append_value(tr.theta.iter().map(|&x| Some(x)));
            flags.append_value((0..N_CCD).map(|_| Some(0.0)));
            sig.append_value(tr.sigma.iter().map(|&x| Some(x)));
            ipd.append_value(tr.sigma.iter().map(|&x| Some(0.9 * x)));
            used.append_value(tr.used.iter().map(|&x| Some(x)));
            used_ac.append_value((0..N_CCD).map(|_| Some(false)));
        }
    }
    let f32col = |v: Vec<f32>| Arc::new(Float32Array::from(v)) as ArrayRef;
    let batch = RecordBatch::try_from_iter_with_nullable(vec![
        (
            "sourceId",
            Arc::new(Int64Array::from(sid)) as ArrayRef,
            true,
        ),
        ("obsTimeBaryCorr", f32col(bary), true),
        ("centroidPosAl", Arc::new(w.finish()) as ArrayRef, true),
        (
            "centroidPosErrorAl",
            Arc::new(sig.finish()) as ArrayRef,
            true,
        ),
        ("scanPosAngle", Arc::new(theta.finish()) as ArrayRef, true),
        ("parallaxFactorAl", f32col(pf), true),
        ("colourFactorAl", f32col(cf), true),
        ("obsTimeTcb", Arc::new(tcb.finish()) as ArrayRef, true),
        ("usedByAgisAl", Arc::new(used.finish()) as ArrayRef, true),
        ("usedByAgisAc", Arc::new(used_ac.finish()) as ArrayRef, true),
        ("agisSourceExcessNoise", f32col(eps), true),
        ("ccdProcFlags", Arc::new(flags.finish()) as ArrayRef, true),
        ("ipdErrorAl", Arc::new(ipd.finish()) as ArrayRef, true),
        ("nuEffUsedInAstrometry", f32col(nu), true),
    ])
    .map_err(|e| format!("building the record batch: {e}"))?;
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    writer
        .write(&batch)
        .and_then(|_| writer.close().map(|_| ()))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as usize)
        .unwrap_or(default)
}

fn peak_rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// CPU time (user + system, all threads) of this process, s: /proc/self/stat fields 14–15 in
/// clock ticks of 1/100 s (Linux's USER_HZ).
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // fields after the command name, which is in parentheses and may hold spaces
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // rest starts at field 3 (state): utime is field 14, stime 15
    (tick(11) + tick(12)) / 100.0
}

/// The 1-minute load average (other processes competing for the cores skew wall-clock rates).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

fn median(v: &mut [f32]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let m = v.len() / 2;
    v.select_nth_unstable_by(m, |a, b| a.total_cmp(b));
    v[m] as f64
}

/// What the peer comparison keeps of an astrosolve fit.
struct Kept {
    id: i64,
    params: [f64; 5],
    errors: [f64; 5],
    n_good: usize,
    n_bad: usize,
    eps: f64,
}

fn kept(id: i64, r: &FitResult) -> Kept {
    Kept {
        id,
        params: std::array::from_fn(|k| r.params[k]),
        errors: std::array::from_fn(|k| r.error(k)),
        n_good: r.n_good_obs_al,
        n_bad: r.n_bad_obs_al,
        eps: r.excess_noise,
    }
}

/// Runs gaiasupdate on the peer file; Ok(None) when its venv is missing (said so).
fn run_peer(parquet: &Path, out_json: &Path) -> Result<Option<serde_json::Value>, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var_os("GAIASUPDATE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/gaiasupdate-venv/bin/python"));
    let script = root.join("scripts/gaiasupdate_driver.py");
    if !python.exists() {
        println!(
            "gaiasupdate comparison SKIPPED: no Python at {} — create it with scripts/bench_epoch.sh \
             (or: python3 -m venv target/gaiasupdate-venv && target/gaiasupdate-venv/bin/pip install \
             gaiasupdate pyarrow), or set GAIASUPDATE_PYTHON",
            python.display()
        );
        return Ok(None);
    }
    let status = Command::new(&python)
        .arg(&script)
        .arg(parquet)
        .arg(out_json)
        .status()
        .map_err(|e| format!("running {} {}: {e}", python.display(), script.display()))?;
    if !status.success() {
        return Err(format!(
            "{} {} failed ({status}); is gaiasupdate installed in that environment?",
            python.display(),
            script.display()
        ));
    }
    let text =
        std::fs::read_to_string(out_json).map_err(|e| format!("{}: {e}", out_json.display()))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", out_json.display()))
}

fn main() {
    let n_sources = env_usize("EPOCH_SOURCES", 1_000_000);
    let n_peer = env_usize("PEER_SOURCES", 1000).min(n_sources);
    let chunk = env_usize("EPOCH_CHUNK", 2000).max(1);
    let seed = env_usize("EPOCH_SEED", 1) as u64;
    let threads = rayon::current_num_threads();
    let opts = FitOptions {
        model: ModelKind::Five,
        weighting: Weighting::Agis,
        ..Default::default()
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("{}: {e}", dir.display());
        std::process::exit(1);
    }
    println!(
        "epoch_fit: {n_sources} simulated DR4-like sources (seed {seed}), chunks of {chunk}, \
         model 5, weighting Agis, {threads} threads; peer: the first {n_peer} with gaiasupdate"
    );

    let mut t_sim = 0.0;
    let mut t_fit = 0.0;
    let mut cpu_fit = 0.0;
    let load_start = load_average();
    let mut n_obs_total = 0usize;
    let mut n_used_total = 0usize;
    let mut n_failed = 0usize;
    let mut first_errors: Vec<String> = Vec::new();
    let mut z: [Vec<f32>; 5] = Default::default();
    let mut n_z3 = [0usize; 5];
    let (mut inj, mut inj_flagged, mut clean, mut clean_flagged) = (0usize, 0usize, 0usize, 0usize);
    let mut n_iter_total = 0usize;
    let mut peer_src: Vec<SimSource> = Vec::new();
    let mut peer_fit: Vec<Option<Kept>> = Vec::new();
    let t_all = Instant::now();
    let mut done = 0usize;
    let mut last_report = Instant::now();
    while done < n_sources {
        let end = (done + chunk).min(n_sources);
        let t = Instant::now();
        let sims: Vec<(SourceData, SimSource)> = (done..end)
            .into_par_iter()
            .map(|i| {
                let s = simulate(seed, i as u64);
                (source_data(&s), s)
            })
            .collect();
        let (data, sims): (Vec<SourceData>, Vec<SimSource>) = sims.into_iter().unzip();
        t_sim += t.elapsed().as_secs_f64();

        let t = Instant::now();
        let c = cpu_seconds();
        let results = fit_many(&data, &opts);
        t_fit += t.elapsed().as_secs_f64();
        cpu_fit += cpu_seconds() - c;

        for ((d, s), r) in data.iter().zip(&sims).zip(&results) {
            n_obs_total += d.obs.len();
            n_used_total += d.obs.iter().filter(|o| o.used).count();
            match r {
                Ok(r) => {
                    n_iter_total += r.n_iter;
                    for k in 0..5 {
                        let zk = ((r.params[k] - s.truth[k]) / r.error(k)) as f32;
                        if zk.abs() > 3.0 {
                            n_z3[k] += 1;
                        }
                        z[k].push(zk.abs());
                    }
                    let flags = s
                        .transits
                        .iter()
                        .flat_map(|tr| (0..N_CCD).map(move |k| (tr.used[k], tr.outlier[k])));
                    for ((used, out), wgt) in flags.zip(&r.weights) {
                        if !used {
                            continue;
                        }
                        let flagged = *wgt < 0.2;
                        if out {
                            inj += 1;
                            inj_flagged += flagged as usize;
                        } else {
                            clean += 1;
                            clean_flagged += flagged as usize;
                        }
                    }
                }
                Err(e) => {
                    n_failed += 1;
                    if first_errors.len() < 5 {
                        first_errors.push(e.to_string());
                    }
                }
            }
        }
        if peer_src.len() < n_peer {
            for ((d, s), r) in data.iter().zip(sims).zip(&results) {
                if peer_src.len() >= n_peer {
                    break;
                }
                peer_fit.push(r.as_ref().ok().map(|r| kept(d.id, r)));
                peer_src.push(s);
            }
        }
        done = end;
        if last_report.elapsed().as_secs_f64() > 30.0 {
            println!(
                "  {done} sources: {:.0} sources/s fitting, {:.0} s elapsed",
                done as f64 / t_fit,
                t_all.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    let t_total = t_all.elapsed().as_secs_f64();
    let rate = n_sources as f64 / t_fit;
    let rate_cpu = n_sources as f64 / cpu_fit;
    let load_end = load_average();
    let med: Vec<f64> = z.iter_mut().map(|v| median(v)).collect();
    let n_ok = n_sources - n_failed;
    println!(
        "astrosolve: {n_sources} sources, {n_obs_total} CCD observations ({:.0} per source, {:.0} \
         used_by_agis_al), fitted in {t_fit:.1} s on {threads} threads: {rate:.0} sources/s; \
         {cpu_fit:.1} CPU-s: {rate_cpu:.0} sources per CPU-second (the threads were on a core \
         {:.0} % of the time; load average {load_start:.1} at the start, {load_end:.1} at the end); \
         simulation {t_sim:.1} s; {n_failed} failed",
        n_obs_total as f64 / n_sources as f64,
        n_used_total as f64 / n_sources as f64,
        100.0 * cpu_fit / (t_fit * threads as f64),
    );
    for e in &first_errors {
        println!("  failed: {e}");
    }
    println!(
        "truth check: median |Δ|/σ (expect 0.674 for Gaussian errors with correct σ), share with \
         |Δ|/σ > 3 (expect 0.0027):"
    );
    for k in 0..5 {
        println!(
            "  {:<10} {:.3}  {:.4}",
            NAMES[k],
            med[k],
            n_z3[k] as f64 / n_ok.max(1) as f64
        );
    }
    println!(
        "outliers: {inj} injected in used observations, {:.1} % of them weighted < 0.2; {:.3} % of \
         the {clean} clean used observations weighted < 0.2; {:.2} weighting iterations per source",
        100.0 * inj_flagged as f64 / inj.max(1) as f64,
        100.0 * clean_flagged as f64 / clean.max(1) as f64,
        n_iter_total as f64 / n_ok.max(1) as f64
    );

    // ---- the peer: gaiasupdate on the first n_peer sources
    let mut peer_json = serde_json::Value::Null;
    let mut cmp_json = serde_json::Value::Null;
    let mut peer_status = String::from("skipped (PEER_SOURCES=0)");
    let mut ratio = None;
    let mut ratio_cpu = None;
    if n_peer > 0 {
        let pq = dir.join("epoch_peer.parquet");
        let pj = dir.join("epoch_peer_gaiasupdate.json");
        let _ = std::fs::remove_file(&pj);
        let peer = write_cu9_parquet(&pq, &peer_src).and_then(|_| {
            println!("wrote {} ({} sources)", pq.display(), peer_src.len());
            run_peer(&pq, &pj)
        });
        match peer {
            Ok(None) => peer_status = "skipped (no gaiasupdate venv)".into(),
            Err(e) => {
                println!("gaiasupdate comparison FAILED: {e}");
                peer_status = format!("failed: {e}");
            }
            Ok(Some(v)) => {
                peer_status = "ran".into();
                let peer_rate = v["sources_per_second_fit"].as_f64().unwrap_or(f64::NAN);
                let peer_rate_all = v["sources_per_second_prepare_fit"]
                    .as_f64()
                    .unwrap_or(f64::NAN);
                let srcs = &v["sources"];
                let mut max_abs = [0.0f64; 5];
                let mut max_sig = [0.0f64; 5];
                let mut max_rel = [0.0f64; 5];
                let mut max_err_rel = [0.0f64; 5];
                let mut worst_src = [0i64; 5];
                let (mut n_cmp, mut n_missing, mut n_nbad_diff) = (0usize, 0usize, 0usize);
                let mut max_eps_diff = 0.0f64;
                for k in peer_fit.iter().flatten() {
                    let p = &srcs[k.id.to_string()];
                    let (Some(pp), Some(pe)) = (p["params"].as_array(), p["errors"].as_array())
                    else {
                        n_missing += 1;
                        continue;
                    };
                    n_cmp += 1;
                    for i in 0..5 {
                        let a = pp.get(i).and_then(|x| x.as_f64()).unwrap_or(f64::NAN);
                        let ae = pe.get(i).and_then(|x| x.as_f64()).unwrap_or(f64::NAN);
                        let d = (k.params[i] - a).abs();
                        // NaN-safe maxima: a NaN difference counts as infinite
                        let d = if d.is_nan() { f64::INFINITY } else { d };
                        if d > max_abs[i] {
                            max_abs[i] = d;
                            worst_src[i] = k.id;
                        }
                        max_sig[i] = max_sig[i].max(d / k.errors[i]);
                        max_rel[i] = max_rel[i].max(d / a.abs().max(f64::MIN_POSITIVE));
                        let de = ((k.errors[i] - ae) / ae).abs();
                        max_err_rel[i] =
                            max_err_rel[i].max(if de.is_nan() { f64::INFINITY } else { de });
                    }
                    if p["n_bad_obs_al"].as_u64() != Some(k.n_bad as u64)
                        || p["n_good_obs_al"].as_u64() != Some(k.n_good as u64)
                    {
                        n_nbad_diff += 1;
                    }
                    let pe = p["excess_noise"].as_f64().unwrap_or(f64::NAN);
                    let de = (k.eps - pe).abs();
                    max_eps_diff = max_eps_diff.max(if de.is_nan() { f64::INFINITY } else { de });
                }
                let n_ast_failed = peer_fit.iter().filter(|k| k.is_none()).count();
                let r = rate / peer_rate;
                ratio = Some(r);
                let name = format!(
                    "gaiasupdate {}",
                    v["gaiasupdate_version"].as_str().unwrap_or("?")
                );
                println!();
                println!("{:<34}{:>16}{:>22}", "", "astrosolve", name);
                println!(
                    "{:<34}{:>16}{:>22}",
                    "sources fitted",
                    n_sources,
                    peer_src.len()
                );
                println!("{:<34}{:>16}{:>22}", "threads", threads, 1);
                let peer_cpu = v["cpu_seconds"]["fit"].as_f64().unwrap_or(f64::NAN);
                let peer_rate_cpu = peer_src.len() as f64 / peer_cpu;
                println!(
                    "{:<34}{:>16.2}{:>22.2}",
                    "fit time, wall clock s",
                    t_fit,
                    v["seconds"]["fit"].as_f64().unwrap_or(f64::NAN)
                );
                println!(
                    "{:<34}{:>16.2}{:>22.2}",
                    "fit time, CPU s", cpu_fit, peer_cpu
                );
                println!("{:<34}{:>16.0}{:>22.2}", "sources/s (fit)", rate, peer_rate);
                println!(
                    "{:<34}{:>16}{:>22.2}",
                    "sources/s (explode + fit)", "", peer_rate_all
                );
                println!(
                    "{:<34}{:>16.0}{:>22.2}",
                    "sources per CPU-second", rate_cpu, peer_rate_cpu
                );
                println!(
                    "ratio astrosolve/gaiasupdate: {r:.0}× in sources/s ({:.0}× against explode + \
                     fit); {:.0}× in sources per CPU-second; goal ≥ 100×",
                    rate / peer_rate_all,
                    rate_cpu / peer_rate_cpu
                );
                ratio_cpu = Some(rate_cpu / peer_rate_cpu);
                println!(
                    "agreement over {n_cmp} sources ({n_missing} missing from gaiasupdate, \
                     {n_ast_failed} failed in astrosolve, {} failed in gaiasupdate):",
                    v["n_failed"]
                );
                println!(
                    "  {:<10}{:>14}{:>12}{:>14}{:>14}  worst source",
                    "parameter", "max |Δ|", "max |Δ|/σ", "max |Δ|/|p|", "max Δσ/σ"
                );
                for i in 0..5 {
                    println!(
                        "  {:<10}{:>10.2e} {:<6}{:>9.2e}{:>14.2e}{:>14.2e}  {}",
                        NAMES[i],
                        max_abs[i],
                        UNITS[i],
                        max_sig[i],
                        max_rel[i],
                        max_err_rel[i],
                        worst_src[i]
                    );
                }
                println!(
                    "  sources whose good/bad observation counts differ: {n_nbad_diff}; largest \
                     excess-noise difference {max_eps_diff:.2e} mas"
                );
                cmp_json = serde_json::json!({
                    "n_compared": n_cmp,
                    "n_missing_in_gaiasupdate": n_missing,
                    "n_failed_astrosolve": n_ast_failed,
                    "parameters": NAMES,
                    "units": UNITS,
                    "max_abs_difference": max_abs,
                    "max_difference_over_sigma": max_sig,
                    "max_relative_difference": max_rel,
                    "max_relative_error_difference": max_err_rel,
                    "worst_source": worst_src,
                    "n_sources_obs_counts_differ": n_nbad_diff,
                    "max_excess_noise_difference_mas": max_eps_diff,
                });
                if let serde_json::Value::Object(mut m) = v {
                    m.remove("sources");
                    peer_json = serde_json::Value::Object(m);
                }
            }
        }
    }
    let peak = peak_rss_bytes();
    println!(
        "peak resident memory {:.0} MiB; total wall clock {t_total:.1} s (simulation + fit)",
        peak as f64 / 1048576.0
    );
    let rec = serde_json::json!({
        "n_sources": n_sources,
        "chunk": chunk,
        "seed": seed,
        "threads": threads,
        "model": 5,
        "weighting": "agis",
        "n_ccd_observations": n_obs_total,
        "n_used_by_agis_al": n_used_total,
        "n_failed": n_failed,
        "simulate_s": t_sim,
        "fit_s": t_fit,
        "sources_per_second": rate,
        "fit_cpu_s": cpu_fit,
        "sources_per_cpu_second": rate_cpu,
        "load_average_start": load_start,
        "load_average_end": load_end,
        "truth_median_abs_z": NAMES.iter().zip(&med).map(|(n, m)| (n.to_string(), serde_json::json!(m))).collect::<serde_json::Map<_, _>>(),
        "truth_share_abs_z_gt_3": NAMES.iter().zip(&n_z3).map(|(n, c)| (n.to_string(), serde_json::json!(*c as f64 / n_ok.max(1) as f64))).collect::<serde_json::Map<_, _>>(),
        "outliers_injected": inj,
        "outliers_flagged_share": inj_flagged as f64 / inj.max(1) as f64,
        "clean_flagged_share": clean_flagged as f64 / clean.max(1) as f64,
        "peer_status": peer_status,
        "peer_sources": peer_src.len(),
        "gaiasupdate": peer_json,
        "ratio_sources_per_second": ratio,
        "ratio_sources_per_cpu_second": ratio_cpu,
        "comparison": cmp_json,
        "peak_rss_bytes": peak,
        "total_s": t_total,
    });
    let out = dir.join("epoch_fit.json");
    match serde_json::to_string_pretty(&rec) {
        Ok(s) => match std::fs::write(&out, s) {
            Ok(()) => println!("wrote {}", out.display()),
            Err(e) => eprintln!("{}: {e}", out.display()),
        },
        Err(e) => eprintln!("epoch_fit.json: {e}"),
    }
}
