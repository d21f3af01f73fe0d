//! End-to-end simulation of a Gaia-like scanning mission with ground truth.
//!
//! Truth attitude: the nominal scanning law fitted by the mission's B-spline, times a smooth
//! random rotation (AR(1) per knot). Transits: for every source, hourly steps find where it
//! crosses the scanned great circle within the field; each CCD crossing time is then solved
//! exactly (Newton) from the same model the solvers use, so noiseless observations are
//! reproduced by the model to round-off. Observations: η at the fiducial line of each strip
//! plus noise σ_AL(G); ζ for bright sources; optional outliers.

use crate::config::{sigma_al_mas, SimConfig, SkyModel};
use crate::rng::Rng;
use crate::scanning::ScanningLaw;
use astrosolve_model::bspline::UniformKnots;
use astrosolve_model::ephemeris::{GaiaL2Ephemeris, TabulatedEphemeris};
use astrosolve_model::quat;
use astrosolve_model::scalar::f;
use astrosolve_model::source::{ReferencePosition, Source};
use astrosolve_model::units::{galactic_to_icrs, DEG, MAS};
use astrosolve_model::*;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Random-number stream identifiers (one family per purpose).
const STREAM_SKY: u64 = 1 << 40;
const STREAM_NOISE: u64 = 2 << 40;
const STREAM_START: u64 = 3 << 40;
const STREAM_ATTITUDE: u64 = 4 << 40;
const STREAM_CALIBRATION: u64 = 5 << 40;
const STREAM_REFERENCE: u64 = 6 << 40;

/// A simulated data set: the solver's inputs and the truth they came from.
pub struct Simulation {
    /// The mission as simulated (with derived knot and calibration intervals).
    pub mission: MissionConfig,
    pub config: SimConfig,
    pub ephemeris: Arc<TabulatedEphemeris>,
    pub observations: ObservationSet,
    /// Starting point of a solver: perturbed catalogue, nominal attitude, zero calibration.
    pub start_sources: Vec<Source>,
    pub start_attitude: BSplineAttitude,
    pub start_calibration: Calibration,
    /// Ground truth, in source_id order (sky cell, then draw number), as are the start
    /// sources and the observations.
    pub truth_sources: Vec<Source>,
    pub truth_attitude: BSplineAttitude,
    pub truth_calibration: Calibration,
    /// Per observation (same order): outlier flag and the noise added to η and ζ (rad).
    pub is_outlier: Vec<bool>,
    pub noise_eta: Vec<f64>,
    pub noise_zeta: Vec<f64>,
    /// Reference positions of the quasar-like sources (VLBI-like errors), for the frame.
    pub reference_positions: Vec<ReferencePosition>,
}

impl Simulation {
    /// The observation model of this mission (tabulated ephemeris).
    pub fn model(&self) -> GaiaModel {
        GaiaModel::new(
            self.mission.instrument(),
            &self.truth_calibration,
            self.ephemeris.clone(),
        )
    }
}

/// Expected AL observation rate (per day) of `n_sources` uniformly spread sources: each
/// revolution both fields sweep a band of width w across, holding a fraction w/2·2 of the
/// sky, and each field transit gives one observation per strip.
pub fn expected_obs_rate(mission: &MissionConfig, sim: &SimConfig) -> f64 {
    let inst = mission.instrument();
    let w = 2.0 * inst.zeta_half_width();
    let rev_per_day = sim.spin_rate_arcsec_s * 86_400.0 / 1_296_000.0;
    sim.n_sources as f64 * inst.config.n_strips as f64 * w * rev_per_day
}

/// Knot interval and calibration interval (days) that give the configured redundancy
/// (AGISLab-style scaling, Holl et al. 2012): h = 4 R_att / rate, Δt_cal = R_cal n_AL / rate_unit.
pub fn derived_intervals(mission: &MissionConfig, sim: &SimConfig) -> (f64, f64) {
    let rate = expected_obs_rate(mission, sim);
    let h =
        (4.0 * sim.obs_per_attitude_param / rate).clamp(30.0 / 86_400.0, max_knot_interval(sim));
    let n_units = 2 * mission.instrument.n_rows * mission.instrument.n_strips;
    let rate_unit = rate / n_units as f64;
    let cal = sim.obs_per_calibration_param * mission.calibration.n_al() as f64 / rate_unit;
    let cal = if cal > mission.duration_days / 1.5 {
        0.0
    } else {
        cal
    };
    (h, cal)
}

/// Longest knot interval, as a fraction of a revolution, that still represents the spin:
/// at half a turn per interval the cubic spline of the quaternion follows the scanning law
/// to a few degrees (the truth attitude is that spline, so the model stays exact).
pub const KNOT_MAX_TURN: f64 = 0.5;

/// Longest knot interval (days) that still represents the spin, see [`KNOT_MAX_TURN`].
pub fn max_knot_interval(sim: &SimConfig) -> f64 {
    let rev_per_day = sim.spin_rate_arcsec_s * 86_400.0 / 1_296_000.0;
    KNOT_MAX_TURN / rev_per_day
}

/// Simulates the mission. `progress` is called with the number of sources completed.
pub fn simulate_gaia(
    mission: &MissionConfig,
    config: &SimConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Simulation, String> {
    mission.validate()?;
    config.validate()?;
    let mut mission = mission.clone();
    if config.auto_intervals {
        let (h, cal) = derived_intervals(&mission, config);
        mission.attitude_knot_interval_days = h;
        mission.calibration.interval_days = cal;
    }
    let (t0, t1) = (mission.t_start(), mission.t_end());
    let inst = mission.instrument();
    let analytic = GaiaL2Ephemeris {
        reference_epoch_jd: mission.reference_epoch_jd,
        l2_scale: mission.l2_scale,
    };
    let eph = Arc::new(TabulatedEphemeris::sample(
        &analytic,
        t0 - 1.0,
        t1 + 1.0,
        0.25,
    ));
    let law = ScanningLaw::new(
        config.spin_rate_arcsec_s,
        config.solar_aspect_angle_deg,
        config.precession_period_days,
    );

    // Attitude: nominal scanning law fitted by the spline, then a smooth perturbation.
    let knots = UniformKnots::covering(t0, t1, mission.attitude_knot_interval_days);
    let step = (knots.h / 8.0).min(5.0 / 1440.0);
    let n_samples = ((t1 - t0) / step).ceil() as usize + 1;
    let times: Vec<f64> = (0..n_samples)
        .map(|i| (t0 + i as f64 * step).min(t1))
        .collect();
    let mut quats: Vec<[f64; 4]> = times
        .par_iter()
        .map(|&t| law.quat(eph.as_ref(), t))
        .collect();
    for i in 1..quats.len() {
        let d: f64 = (0..4).map(|k| quats[i - 1][k] * quats[i][k]).sum();
        if d < 0.0 {
            quats[i] = quats[i].map(|v| -v);
        }
    }
    let start_attitude = BSplineAttitude::fit(knots, &times, &quats);
    let mut truth_attitude = start_attitude.clone();
    {
        let mut rng = Rng::new(config.seed, STREAM_ATTITUDE);
        let rho = (-knots.h / config.attitude_noise_correlation_days).exp();
        let sigma = config.attitude_noise_arcsec * units::ARCSEC;
        let mut theta = [0.0; 3].map(|_: f64| sigma * rng.normal());
        for c in truth_attitude.coeffs.iter_mut() {
            for th in theta.iter_mut() {
                *th = rho * *th + (1.0 - rho * rho).sqrt() * sigma * rng.normal();
            }
            *c = quat::mul(c, &quat::from_rotation_vector(theta));
        }
    }

    // Calibration truth: random per unit, drifting between intervals, obeying the SRS convention.
    let start_calibration = Calibration::zeros(&mission.calibration, &inst, t0, t1);
    let mut truth_calibration = start_calibration.clone();
    {
        let mut rng = Rng::new(config.seed, STREAM_CALIBRATION);
        let terms = mission.calibration.terms();
        let n = truth_calibration.n_per_unit();
        let n_base = 2 * inst.n_ccds();
        let mut base: Vec<f64> = Vec::with_capacity(n_base * n);
        for _ in 0..n_base {
            for term in &terms {
                let s = match term {
                    calibration::CalTerm::AlLegendre(0) => config.cal_al_offset_mas,
                    calibration::CalTerm::AlLegendre(_) => config.cal_al_shape_mas,
                    calibration::CalTerm::AlChromatic => config.cal_chromatic_mas,
                    calibration::CalTerm::AcOffset => config.cal_ac_offset_mas,
                };
                base.push(s * MAS * rng.normal());
            }
        }
        for iv in 0..truth_calibration.n_intervals {
            for (k, b) in base.iter_mut().enumerate() {
                if iv > 0 {
                    *b += config.cal_drift_mas * MAS * rng.normal();
                }
                truth_calibration.params[iv * n_base * n + k] = *b;
            }
        }
        truth_calibration.project_onto_constraints(&inst);
    }

    // Sources, in source_id order (sky cell, then draw number), as the Gaia archive gives
    // them: neighbours on the sky are neighbours in the tables, so a pass over the sources
    // touches the attitude of a few scans at a time. Each source keeps the random streams of
    // its draw number `draw[k]` (position, start, noise, reference position).
    let (truth_sources, draw) = {
        let drawn: Vec<Source> = (0..config.n_sources)
            .map(|i| make_source(config, i))
            .collect();
        let mut draw: Vec<usize> = (0..config.n_sources).collect();
        draw.sort_by_key(|&i| drawn[i].source_id);
        (draw.iter().map(|&i| drawn[i]).collect::<Vec<_>>(), draw)
    };
    let start_sources: Vec<Source> = truth_sources
        .iter()
        .zip(&draw)
        .map(|(s, &i)| perturb_source(config, i, s))
        .collect();

    // Transits and observations.
    let model = GaiaModel::new(inst.clone(), &truth_calibration, eph.clone());
    let coarse_step = 1.0 / 24.0;
    let n_coarse = ((t1 - t0) / coarse_step).ceil() as usize;
    let coarse_z: Vec<[f64; 3]> = (0..n_coarse)
        .into_par_iter()
        .map(|k| {
            quat::srs_to_icrs(
                &truth_attitude.quat(t0 + k as f64 * coarse_step),
                &[0.0, 0.0, 1.0],
            )
        })
        .collect();
    let done = AtomicU64::new(0);
    // sources in blocks, each block's observations appended to the flat vectors before the
    // next is simulated: the per-source vectors of one block exist beside the flat ones, not
    // those of the whole mission; the vectors grow by the expected rate (not doubling) to
    // end near their size
    let expected = (expected_obs_rate(&mission, config) * (t1 - t0) * 1.02) as usize + 1024;
    let mut obs = Vec::with_capacity(expected);
    let mut is_outlier = Vec::with_capacity(expected);
    let mut noise_eta = Vec::with_capacity(expected);
    let mut noise_zeta = Vec::with_capacity(expected);
    let mut source_offsets = Vec::with_capacity(config.n_sources + 1);
    source_offsets.push(0);
    for block in (0..config.n_sources).step_by(SOURCE_BLOCK) {
        let block = block..(block + SOURCE_BLOCK).min(config.n_sources);
        let per_source: Vec<Vec<(Observation, bool, f64, f64)>> = block
            .into_par_iter()
            .map(|i| {
                let r = observe_source(
                    &model,
                    &truth_attitude,
                    &truth_calibration,
                    &law,
                    config,
                    (i, draw[i]),
                    &truth_sources[i],
                    t0,
                    t1,
                    coarse_step,
                    &coarse_z,
                );
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                if d.is_multiple_of(64) || d as usize == config.n_sources {
                    progress(d);
                }
                r
            })
            .collect();
        let n: usize = per_source.iter().map(|v| v.len()).sum();
        reserve_exact_growth(&mut obs, n);
        reserve_exact_growth(&mut is_outlier, n);
        reserve_exact_growth(&mut noise_eta, n);
        reserve_exact_growth(&mut noise_zeta, n);
        for v in per_source {
            for (o, out, ne, nz) in v {
                obs.push(o);
                is_outlier.push(out);
                noise_eta.push(ne);
                noise_zeta.push(nz);
            }
            source_offsets.push(obs.len());
        }
    }
    obs.shrink_to_fit();
    is_outlier.shrink_to_fit();
    noise_eta.shrink_to_fit();
    noise_zeta.shrink_to_fit();
    let reference_positions = truth_sources
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_qso)
        .map(|(i, s)| {
            let mut rng = Rng::new(config.seed, STREAM_REFERENCE + draw[i] as u64);
            let sigma = config.reference_position_error_mas * MAS;
            let mut p = s.params;
            p.apply_update(
                &[sigma * rng.normal(), sigma * rng.normal(), 0.0, 0.0, 0.0],
                5,
            );
            ReferencePosition {
                source_index: i,
                ra: p.ra,
                dec: p.dec,
                sigma,
            }
        })
        .collect();
    Ok(Simulation {
        reference_positions,
        mission,
        config: config.clone(),
        ephemeris: eph,
        observations: ObservationSet {
            obs,
            source_offsets,
        },
        start_sources,
        start_attitude,
        start_calibration,
        truth_sources,
        truth_attitude,
        truth_calibration,
        is_outlier,
        noise_eta,
        noise_zeta,
    })
}

/// Sources simulated together (in parallel) before their observations join the others.
const SOURCE_BLOCK: usize = 4096;

/// Makes room for `n` more elements, growing by an eighth at least (not doubling) when full,
/// so that a vector sized near its final length does not end at twice it.
fn reserve_exact_growth<T>(v: &mut Vec<T>, n: usize) {
    if v.capacity() - v.len() < n {
        v.reserve_exact(n.max(v.capacity() / 8));
    }
}

fn make_source(config: &SimConfig, i: usize) -> Source {
    let mut rng = Rng::new(config.seed, STREAM_SKY + i as u64);
    let u = match config.sky {
        SkyModel::Uniform => rng.unit_vector(),
        SkyModel::Galactic => loop {
            let v = rng.unit_vector();
            let b = v[2].asin();
            if rng.uniform() * 1.2 < 0.2 + (-b.abs() / (10.0 * DEG)).exp() {
                break galactic_to_icrs(v);
            }
        },
    };
    let (ra, dec) = f::spherical(&u);
    let is_qso = rng.uniform() < config.qso_fraction;
    let (g, plx_mas, pmra, pmdec, nu) = if is_qso {
        let g = rng.range(17.0, config.g_max);
        (
            g,
            0.0,
            0.0,
            0.0,
            (1.6 + 0.05 * rng.normal()).clamp(1.24, 1.72),
        )
    } else {
        // inverse CDF of dN/dG ∝ 10^(k G) on [g_min, g_max] (uniform for k = 0)
        let k = config.g_slope;
        let u = rng.uniform();
        let g = if k.abs() < 1e-9 {
            config.g_min + u * (config.g_max - config.g_min)
        } else {
            let (a, b) = (10f64.powf(k * config.g_min), 10f64.powf(k * config.g_max));
            (a + u * (b - a)).log10() / k
        };
        // distance log-uniform in 0.05–5 kpc; tangential velocity 30 km/s per component
        let d_kpc = 10f64.powf(rng.range(-1.3, 0.7));
        let plx = 1.0 / d_kpc;
        let k_pm = plx / units::KM_S_PER_AU_YR;
        let pmra = 30.0 * rng.normal() * k_pm;
        let pmdec = 30.0 * rng.normal() * k_pm;
        (
            g,
            plx,
            pmra,
            pmdec,
            (1.55 + 0.08 * rng.normal()).clamp(1.24, 1.72),
        )
    };
    Source {
        source_id: source_id(ra, dec, i),
        params: SourceParams {
            ra,
            dec,
            parallax: plx_mas * MAS,
            pmra: pmra * MAS,
            pmdec: pmdec * MAS,
            nu_eff: nu,
        },
        phot_g_mean_mag: g,
        is_qso,
    }
}

/// A Gaia-like source_id: a coarse sky-cell number (2^35 × cell, 3072 equal-area cells in
/// declination bands and right-ascension slices; not HEALPix) plus a running number.
fn source_id(ra: f64, dec: f64, i: usize) -> i64 {
    let bands = 32.0;
    let band = (((dec.sin() + 1.0) / 2.0 * bands).floor()).clamp(0.0, bands - 1.0);
    let slice = (ra / std::f64::consts::TAU * 96.0).floor().clamp(0.0, 95.0);
    ((band * 96.0 + slice) as i64) * (1i64 << 35) + i as i64
}

fn perturb_source(config: &SimConfig, i: usize, s: &Source) -> Source {
    let mut rng = Rng::new(config.seed, STREAM_START + i as u64);
    let mut p = s.params;
    let dx = [
        config.start_position_error_mas * MAS * rng.normal(),
        config.start_position_error_mas * MAS * rng.normal(),
        config.start_parallax_error_mas * MAS * rng.normal(),
        config.start_pm_error_mas_yr * MAS * rng.normal(),
        config.start_pm_error_mas_yr * MAS * rng.normal(),
    ];
    p.apply_update(&dx, 5);
    Source { params: p, ..*s }
}

/// Largest distance (rad) from a strip's fiducial line at which a CCD crossing is taken.
const ETA_ACCEPT: f64 = 1e-9;

/// The observations of the source at table index `i`, drawn from its random streams `draw`.
#[allow(clippy::too_many_arguments)]
fn observe_source(
    model: &GaiaModel,
    att: &BSplineAttitude,
    cal: &Calibration,
    law: &ScanningLaw,
    config: &SimConfig,
    (i, draw): (usize, usize),
    src: &Source,
    t0: f64,
    t1: f64,
    coarse_step: f64,
    coarse_z: &[[f64; 3]],
) -> Vec<(Observation, bool, f64, f64)> {
    let inst = &model.instrument;
    let u0 = f::unit(src.params.ra, src.params.dec);
    let margin = (inst.zeta_half_width() + 0.6 * DEG).sin();
    let omega = law.omega;
    let mut out = Vec::new();
    let geometric = |t: f64, fov: Fov| -> (f64, f64) {
        let q = att.unnormalised(t).0;
        let g = Geometry {
            tau_yr: units::years(t),
            b_au: model.ephemeris.observer_au(t),
            fov,
            ac_coord: 0.0,
        };
        let (eta, zeta) = model_geometric(model, &src.params, &q, &g);
        (eta, zeta)
    };
    for (k, z) in coarse_z.iter().enumerate() {
        if f::dot(&u0, z).abs() > margin {
            continue;
        }
        let tk = t0 + k as f64 * coarse_step;
        for fov in [Fov::Preceding, Fov::Following] {
            // the field centre is crossed in [t_k, t_k+1) when η changes sign from + to −
            let eta = wrap(geometric(tk, fov).0);
            if !(eta > 0.0 && eta < 1.0) {
                continue;
            }
            let eta_next = wrap(geometric(tk + coarse_step, fov).0);
            if !(eta_next <= 0.0 && eta_next > -1.0) {
                continue;
            }
            let t_centre = tk + coarse_step * eta / (eta - eta_next);
            for (strip, &eta_j) in inst.strip_eta.iter().enumerate() {
                // Newton on η_model(t) = η_j, slope from a finite difference
                let mut t = t_centre - eta_j / omega;
                let mut accepted: Option<Observation> = None;
                let mut o = Observation {
                    source_index: i as u32,
                    fov,
                    row: 0,
                    strip: strip as u8,
                    t,
                    eta: eta_j,
                    zeta: f64::NAN,
                    sigma_eta: 0.0,
                    sigma_zeta: f64::NAN,
                    ac_coord: 0.0,
                };
                for _ in 0..10 {
                    if t < t0 || t > t1 {
                        break;
                    }
                    let (_, zeta_g) = geometric(t, fov);
                    let Some(row) = inst.row_of(zeta_g) else {
                        break;
                    };
                    o.row = row as u8;
                    o.ac_coord = inst.ac_coord(row, zeta_g);
                    o.t = t;
                    let (e, _) = model.predict_obs(&src.params, att, cal, &o);
                    let r = wrap(e - eta_j);
                    // near the fiducial line: the image's η is the model's at this t, exactly
                    // (t − t₀ is quantised to ulp·ω ≈ 1e-12 rad of scan late in a long mission,
                    // so η_j itself may not be reachable); refine while it helps
                    if r.abs() < ETA_ACCEPT {
                        accepted = Some(Observation { eta: e, ..o });
                        if r.abs() < 5e-13 {
                            break;
                        }
                    }
                    let (e2, _) = model.predict_at(&src.params, att, cal, &o, t + 1e-6);
                    let slope = (wrap(e2 - e)) / 1e-6;
                    t -= r / slope;
                }
                if let Some(a) = accepted {
                    out.push(a);
                }
            }
        }
    }
    out.sort_by(|a, b| a.t.total_cmp(&b.t));

    // Measurements: η at the fiducial line, ζ for bright sources, noise, outliers.
    let mut rng = Rng::new(config.seed, STREAM_NOISE + draw as u64);
    let sigma = sigma_al_mas(src.phot_g_mean_mag) * config.noise_scale * MAS;
    let with_ac = src.phot_g_mean_mag < config.g_ac_max;
    out.into_iter()
        .map(|mut o| {
            o.sigma_eta = sigma;
            let mut ne = if config.noiseless {
                0.0
            } else {
                sigma * rng.normal()
            };
            let outlier = config.outlier_rate > 0.0 && rng.uniform() < config.outlier_rate;
            if outlier {
                let sign = if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
                ne += sign * config.outlier_scale_mas * MAS * (1.0 + rng.uniform());
            }
            o.eta += ne;
            let mut nz = f64::NAN;
            if with_ac {
                let (_, zeta) = model.predict_obs(&src.params, att, cal, &o);
                o.sigma_zeta = sigma * config.ac_noise_factor;
                nz = if config.noiseless {
                    0.0
                } else {
                    o.sigma_zeta * rng.normal()
                };
                o.zeta = zeta + nz;
            }
            (o, outlier, ne, nz)
        })
        .collect()
}

/// Geometric field angles (no calibration) through the shared generic model.
fn model_geometric(model: &GaiaModel, p: &SourceParams, q: &[f64; 4], g: &Geometry) -> (f64, f64) {
    model.predict(&p.to_array(), q, &[], &[], g)
}

#[inline]
fn wrap(x: f64) -> f64 {
    (x + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI
}
