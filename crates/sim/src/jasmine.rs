//! Simulation of a JASMINE-like pointed survey of a Galactic-centre field with ground truth
//! (docs/jasmine.md): a crowded field of stars with Hw magnitudes and kinematics of the
//! nuclear stellar disc, a reference (Gaia-like) catalogue for a subset, observing seasons set
//! by the Sun, dithered overlapping exposures with varying roll, a time-varying focal-plane
//! distortion, and noise growing towards faint stars.
//!
//! Deterministic from the seed: every purpose has its own random stream ([`Rng`]), every
//! exposure its own noise stream, so the same seed with and without a distortion drift gives
//! the same noise.

use crate::rng::Rng;
use astrosolve_model::ephemeris::{Ephemeris, TabulatedEphemeris};
use astrosolve_model::pointed::{
    is_gauge_term, legendre_basis, n_terms, position_angle, term_degrees, Distortion, Exposure,
    PointedMission, PointedModel, PointedObs, RefStar, MAX_DISTORTION_ORDER, N_ATT, N_DETECTORS,
    N_SRC,
};
use astrosolve_model::scalar::f;
use astrosolve_model::units::{galactic_to_icrs, ARCSEC, DEG, MAS};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const STREAM_STARS: u64 = 11 << 40;
const STREAM_NOISE: u64 = 12 << 40;
const STREAM_START: u64 = 13 << 40;
const STREAM_POINTING: u64 = 14 << 40;
const STREAM_DISTORTION: u64 = 15 << 40;
const STREAM_REFERENCE: u64 = 16 << 40;
const STREAM_DRIFT: u64 = 17 << 40;

/// Settings of the JASMINE-like simulation (`[simulation]` of a JASMINE mission.toml).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JasmineSimConfig {
    pub seed: u64,
    /// Number of stars in the simulated field.
    pub n_stars: usize,
    /// Centre (Galactic l, b) and size (Δl, Δb) of the simulated field (deg): a sub-region of
    /// the survey region l ∈ [−1.4°, +0.7°], b ∈ [−0.6°, +0.6°].
    pub field_l_deg: f64,
    pub field_b_deg: f64,
    pub field_size_l_deg: f64,
    pub field_size_b_deg: f64,
    /// Hw range and slope k of dN/dHw ∝ 10^(k Hw).
    pub hw_min: f64,
    pub hw_max: f64,
    pub hw_slope: f64,
    /// Single-exposure precision per coordinate at Hw = 12.5 (mas) and its bright floor:
    /// σ² = floor² + (σ₁₂.₅² − floor²) 10^(0.4 (Hw − 12.5)).
    pub sigma_at_12_5_mas: f64,
    pub sigma_floor_mas: f64,
    /// No measurement noise and an exact reference catalogue (its stated uncertainties are
    /// kept as weights): for model checks.
    pub noiseless: bool,
    /// Fraction of nuclear-disc stars (distance 8.2 ± 0.6 kpc); the rest are foreground disc
    /// stars at 2–6 kpc.
    pub nsd_fraction: f64,
    /// Seasons: the field is observed when its solar elongation is within
    /// 90° ± `season_half_width_deg` (spring and autumn for the Galactic centre).
    pub season_half_width_deg: f64,
    /// Exposures per season (a scaled-down number, see docs/jasmine.md).
    pub exposures_per_season: usize,
    /// Calibration units per season (the distortion is constant within a unit).
    pub units_per_season: usize,
    /// Pointings are dithered uniformly within ± this (deg) around the field centre.
    pub dither_deg: f64,
    /// RMS random roll offset (deg) on top of the Sun-driven roll.
    pub roll_dither_deg: f64,
    /// RMS error of the nominal (starting) attitude: pointing (arcsec) and roll (arcsec).
    pub attitude_error_arcsec: f64,
    pub roll_error_arcsec: f64,
    /// Order of the true distortion and its RMS size (pixels) per coefficient of degree 1;
    /// degree-n coefficients scale as 1, 1, 0.5, 0.3, 0.2, 0.1 for n = 0 … 5.
    pub distortion_order: usize,
    pub distortion_px: f64,
    /// RMS change of the coefficients from one calibration unit to the next (pixels).
    pub distortion_unit_change_px: f64,
    /// RMS linear drift of the coefficients within each calibration unit, from its start to
    /// its end (pixels). Zero: the distortion is constant within a unit (default).
    pub distortion_drift_px: f64,
    /// Fraction of stars in the reference catalogue (Gaia-visible foreground stars: random).
    pub reference_fraction: f64,
    /// Reference-catalogue position uncertainty: log-uniform in [min, max] (mas); parallax
    /// uncertainty 1.25×, proper-motion uncertainty 1.1× (mas/yr).
    pub reference_sigma_min_mas: f64,
    pub reference_sigma_max_mas: f64,
    /// Catalogue epoch minus the mission reference epoch (Julian years). 0: the catalogue is
    /// given at the mission epoch; −17.5 would be Gaia DR3 (2016.0) for the default mission.
    pub reference_epoch_offset_yr: f64,
    /// Errors of the starting catalogue of non-reference stars.
    pub start_position_error_mas: f64,
    pub start_parallax_error_mas: f64,
    pub start_pm_error_mas_yr: f64,
}

impl Default for JasmineSimConfig {
    fn default() -> Self {
        JasmineSimConfig {
            seed: 1,
            n_stars: 2000,
            field_l_deg: -0.35,
            field_b_deg: 0.0,
            field_size_l_deg: 0.8,
            field_size_b_deg: 0.8,
            hw_min: 9.5,
            hw_max: 15.0,
            hw_slope: 0.3,
            sigma_at_12_5_mas: 4.0,
            sigma_floor_mas: 1.0,
            noiseless: false,
            nsd_fraction: 0.85,
            season_half_width_deg: 20.0,
            exposures_per_season: 48,
            units_per_season: 1,
            dither_deg: 0.2,
            roll_dither_deg: 3.0,
            attitude_error_arcsec: 1.0,
            roll_error_arcsec: 5.0,
            distortion_order: 3,
            distortion_px: 2.0,
            distortion_unit_change_px: 0.2,
            distortion_drift_px: 0.0,
            reference_fraction: 0.12,
            reference_sigma_min_mas: 0.02,
            reference_sigma_max_mas: 0.3,
            reference_epoch_offset_yr: 0.0,
            start_position_error_mas: 20.0,
            start_parallax_error_mas: 0.5,
            start_pm_error_mas_yr: 2.0,
        }
    }
}

impl JasmineSimConfig {
    /// Checks ranges; the message names the offending key.
    pub fn validate(&self) -> Result<(), String> {
        let check = |ok: bool, msg: &str| {
            if ok {
                Ok(())
            } else {
                Err(format!("simulation.{msg}"))
            }
        };
        check(self.n_stars > 0, "n_stars must be > 0")?;
        check(self.hw_min < self.hw_max, "hw_min must be below hw_max")?;
        check(
            self.field_size_l_deg > 0.0 && self.field_size_b_deg > 0.0,
            "field_size_l_deg and field_size_b_deg must be > 0",
        )?;
        check(
            self.sigma_at_12_5_mas > self.sigma_floor_mas && self.sigma_floor_mas > 0.0,
            "sigma_at_12_5_mas must exceed sigma_floor_mas > 0",
        )?;
        check(
            (0.0..=1.0).contains(&self.nsd_fraction),
            "nsd_fraction must be within [0, 1]",
        )?;
        check(
            self.season_half_width_deg > 0.0 && self.season_half_width_deg < 90.0,
            "season_half_width_deg must be within (0, 90)",
        )?;
        check(
            self.exposures_per_season > 0,
            "exposures_per_season must be > 0",
        )?;
        check(self.units_per_season > 0, "units_per_season must be > 0")?;
        check(
            self.distortion_order <= MAX_DISTORTION_ORDER,
            "distortion_order must be ≤ 5",
        )?;
        check(
            self.reference_fraction > 0.0 && self.reference_fraction <= 1.0,
            "reference_fraction must be within (0, 1]",
        )?;
        check(
            self.reference_sigma_min_mas > 0.0
                && self.reference_sigma_max_mas >= self.reference_sigma_min_mas,
            "reference_sigma_min_mas must be > 0 and ≤ reference_sigma_max_mas",
        )?;
        check(self.dither_deg >= 0.0, "dither_deg must be ≥ 0")?;
        Ok(())
    }
}

/// Single-exposure precision per coordinate (rad) at magnitude Hw.
pub fn sigma_single(cfg: &JasmineSimConfig, hw: f64) -> f64 {
    let a = cfg.sigma_floor_mas;
    let b2 = cfg.sigma_at_12_5_mas.powi(2) - a * a;
    (a * a + b2 * 10f64.powf(0.4 * (hw - 12.5))).sqrt() * MAS
}

/// A simulated JASMINE-like data set and its truth.
pub struct JasmineSimulation {
    pub mission: PointedMission,
    pub config: JasmineSimConfig,
    pub ephemeris: Arc<TabulatedEphemeris>,
    /// Exposures with the nominal (starting) attitude.
    pub exposures: Vec<Exposure>,
    /// Observations, ordered by exposure.
    pub observations: Vec<PointedObs>,
    pub source_ids: Vec<i64>,
    /// Hw magnitude of every star.
    pub hw: Vec<f64>,
    /// Starting catalogue (α, δ, ϖ, μα*, μδ; rad, rad/yr) at the reference epoch.
    pub start_sources: Vec<[f64; N_SRC]>,
    pub reference: Vec<RefStar>,
    /// Truth.
    pub truth_sources: Vec<[f64; N_SRC]>,
    pub truth_attitude: Vec<[f64; N_ATT]>,
    /// True distortion of each unit at the middle of the unit (order `config.distortion_order`).
    pub truth_distortion: Distortion,
    /// Noise added to x and y of each observation (rad).
    pub noise: Vec<[f64; 2]>,
    /// Observing seasons (start, end; days).
    pub seasons: Vec<(f64, f64)>,
}

impl JasmineSimulation {
    pub fn model(&self, order: usize) -> PointedModel {
        PointedModel::new(
            self.mission.instrument.clone(),
            order,
            self.ephemeris.clone(),
        )
    }
    /// Number of calibration units.
    pub fn n_units(&self) -> usize {
        self.truth_distortion.n_units
    }
}

/// Observing seasons: spans (days) where the solar elongation of `dir` is within
/// 90° ± half_width, sampled daily.
pub fn seasons(
    eph: &dyn Ephemeris,
    dir: &[f64; 3],
    t0: f64,
    t1: f64,
    half_width_deg: f64,
) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut start: Option<f64> = None;
    let step = 0.25;
    let n = ((t1 - t0) / step).floor() as usize;
    for i in 0..=n {
        let t = t0 + i as f64 * step;
        let sun = f::normalize(&f::sub(&eph.sun_au(t), &eph.observer_au(t)));
        let elong = f::dot(&sun, dir).clamp(-1.0, 1.0).acos() / DEG;
        let ok = (elong - 90.0).abs() <= half_width_deg;
        match (ok, start) {
            (true, None) => start = Some(t),
            (false, Some(s)) => {
                out.push((s, t - step));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, t0 + n as f64 * step));
    }
    // drop fragments shorter than a few days (mission edges)
    out.retain(|(a, b)| b - a > 3.0);
    out
}

/// RMS scale of a distortion coefficient of total degree n.
fn degree_scale(n: usize) -> f64 {
    [1.0, 1.0, 0.5, 0.3, 0.2, 0.1][n]
}

fn random_distortion(
    order: usize,
    n_units: usize,
    px: f64,
    rng: &mut Rng,
    scale_px: f64,
) -> Distortion {
    let mut d = Distortion::zeros(order, n_units);
    let t = n_terms(order);
    for unit in 0..n_units {
        for det in 0..N_DETECTORS {
            for axis in 0..2 {
                let o = d.offset(unit, det, axis);
                for k in 0..t {
                    let g = rng.normal();
                    if !is_gauge_term(0, det, axis, k) {
                        let (i, j) = term_degrees(k);
                        d.coeffs[o + k] = g * scale_px * px * degree_scale(i + j);
                    }
                }
            }
        }
    }
    d
}

/// Simulates the JASMINE-like survey. `progress` receives the number of exposures done.
pub fn simulate_jasmine(
    mission: &PointedMission,
    cfg: &JasmineSimConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<JasmineSimulation, String> {
    cfg.validate()?;
    mission.validate()?;
    let inst = &mission.instrument;
    let px = inst.pixel_scale();
    let eph = Arc::new(mission.ephemeris());
    let centre = galactic_to_icrs(f::unit(cfg.field_l_deg * DEG, cfg.field_b_deg * DEG));
    let (ra_c, dec_c) = f::spherical(&centre);
    let t0 = mission.start_day;
    let t1 = mission.start_day + mission.duration_days;

    // --- stars
    let n = cfg.n_stars;
    let mut truth_sources = Vec::with_capacity(n);
    let mut hw = Vec::with_capacity(n);
    let mut rng = Rng::new(cfg.seed, STREAM_STARS);
    let k = cfg.hw_slope * std::f64::consts::LN_10;
    for _ in 0..n {
        let l = cfg.field_l_deg + cfg.field_size_l_deg * (rng.uniform() - 0.5);
        let b = cfg.field_b_deg + cfg.field_size_b_deg * (rng.uniform() - 0.5);
        let (ra, dec) = f::spherical(&galactic_to_icrs(f::unit(l * DEG, b * DEG)));
        // inverse CDF of dN/dHw ∝ exp(k Hw) on [hw_min, hw_max]
        let u = rng.uniform();
        let (ea, eb) = ((k * cfg.hw_min).exp(), (k * cfg.hw_max).exp());
        hw.push((ea + u * (eb - ea)).ln() / k);
        let (dist_kpc, pm_mean, pm_disp) = if rng.uniform() < cfg.nsd_fraction {
            // nuclear stellar disc: Sgr A*-like mean motion (Reid & Brunthaler 2020), ~100 km/s
            (8.2 + 0.6 * rng.normal(), [-3.16, -5.59], 2.5)
        } else {
            (rng.range(2.0, 6.0), [-2.0, -4.0], 4.0)
        };
        let plx = 1.0 / dist_kpc.max(1.0) * MAS;
        truth_sources.push([
            ra,
            dec,
            plx,
            (pm_mean[0] + pm_disp * rng.normal()) * MAS,
            (pm_mean[1] + pm_disp * rng.normal()) * MAS,
        ]);
    }
    let source_ids: Vec<i64> = (0..n as i64).map(|i| 1_000_000 + i).collect();

    // --- reference catalogue (random subset), at its catalogue epoch
    let mut rrng = Rng::new(cfg.seed, STREAM_REFERENCE);
    let mut reference = Vec::new();
    let d = cfg.reference_epoch_offset_yr;
    for (i, p) in truth_sources.iter().enumerate() {
        if rrng.uniform() >= cfg.reference_fraction {
            continue;
        }
        let (lo, hi) = (
            cfg.reference_sigma_min_mas.ln(),
            cfg.reference_sigma_max_mas.ln(),
        );
        let s = rrng.range(lo, hi).exp() * MAS;
        let sigma = [s, s, 1.25 * s, 1.1 * s, 1.1 * s];
        let mut cat = [
            p[0] + d * p[3] / p[1].cos(),
            p[1] + d * p[4],
            p[2],
            p[3],
            p[4],
        ];
        let e: [f64; N_SRC] = std::array::from_fn(|k| {
            let g = rrng.normal();
            if cfg.noiseless {
                0.0
            } else {
                g * sigma[k]
            }
        });
        cat[0] += e[0] / cat[1].cos();
        for k in 1..N_SRC {
            cat[k] += e[k];
        }
        reference.push(RefStar {
            source_index: i,
            params: cat,
            sigma,
            epoch_offset_yr: d,
        });
    }
    // --- starting catalogue
    let mut srng = Rng::new(cfg.seed, STREAM_START);
    let mut start_sources: Vec<[f64; N_SRC]> = truth_sources
        .iter()
        .map(|p| {
            let e = cfg.start_position_error_mas * MAS;
            [
                p[0] + e * srng.normal() / p[1].cos(),
                p[1] + e * srng.normal(),
                p[2] + cfg.start_parallax_error_mas * MAS * srng.normal(),
                p[3] + cfg.start_pm_error_mas_yr * MAS * srng.normal(),
                p[4] + cfg.start_pm_error_mas_yr * MAS * srng.normal(),
            ]
        })
        .collect();
    for r in &reference {
        start_sources[r.source_index] = r.prior_at_reference_epoch().0;
    }

    // --- seasons, calibration units, exposures
    let seasons = seasons(eph.as_ref(), &centre, t0, t1, cfg.season_half_width_deg);
    if seasons.is_empty() {
        return Err("the field is never observable: no season within the mission".into());
    }
    let n_units = seasons.len() * cfg.units_per_season;
    let mut prng = Rng::new(cfg.seed, STREAM_POINTING);
    let mut exposures = Vec::new();
    let mut truth_attitude = Vec::new();
    let mut unit_span = vec![(0.0, 0.0); n_units];
    let [pc, qc, _] = astrosolve_model::source::normal_triad(ra_c, dec_c);
    for (si, &(a, b)) in seasons.iter().enumerate() {
        let m = cfg.exposures_per_season;
        let len = (b - a) / cfg.units_per_season as f64;
        for u in 0..cfg.units_per_season {
            unit_span[si * cfg.units_per_season + u] =
                (a + u as f64 * len, a + (u + 1) as f64 * len);
        }
        for j in 0..m {
            let t = a + (b - a) * (j as f64 + prng.uniform()) / m as f64;
            let unit = si * cfg.units_per_season
                + (((t - a) / len).floor() as usize).min(cfg.units_per_season - 1);
            // dithered pointing in the tangent plane of the field centre
            let (dx, dy) = (
                cfg.dither_deg * DEG * prng.range(-1.0, 1.0),
                cfg.dither_deg * DEG * prng.range(-1.0, 1.0),
            );
            let dir = f::normalize(&[
                centre[0] + dx * pc[0] + dy * qc[0],
                centre[1] + dx * pc[1] + dy * qc[1],
                centre[2] + dx * pc[2] + dy * qc[2],
            ]);
            let (ra, dec) = f::spherical(&dir);
            // roll follows the Sun (the +y axis points away from it), plus a small dither
            let sun = f::sub(&eph.sun_au(t), &eph.observer_au(t));
            let roll = position_angle(ra, dec, &f::normalize(&sun))
                + std::f64::consts::PI
                + cfg.roll_dither_deg * DEG * prng.normal();
            let truth = [ra, dec, roll];
            let nominal = [
                ra + cfg.attitude_error_arcsec * ARCSEC * prng.normal() / dec.cos(),
                dec + cfg.attitude_error_arcsec * ARCSEC * prng.normal(),
                roll + cfg.roll_error_arcsec * ARCSEC * prng.normal(),
            ];
            exposures.push(Exposure {
                exposure_id: 1 + exposures.len() as i64,
                t,
                cal_unit: unit,
                attitude: nominal,
            });
            truth_attitude.push(truth);
        }
    }

    // --- distortion truth: base + per-unit change (+ drift within each unit)
    let mut drng = Rng::new(cfg.seed, STREAM_DISTORTION);
    let order = cfg.distortion_order;
    let base = random_distortion(order, 1, px, &mut drng, cfg.distortion_px);
    let change = random_distortion(order, n_units, px, &mut drng, cfg.distortion_unit_change_px);
    let mut truth_distortion = Distortion::zeros(order, n_units);
    let per_unit = base.coeffs.len();
    for unit in 0..n_units {
        for k in 0..per_unit {
            truth_distortion.coeffs[unit * per_unit + k] =
                base.coeffs[k] + change.coeffs[unit * per_unit + k];
        }
    }
    let mut xrng = Rng::new(cfg.seed, STREAM_DRIFT);
    let drift = random_distortion(order, n_units, px, &mut xrng, cfg.distortion_drift_px);

    // --- observations
    let dirs: Vec<[f64; 3]> = truth_sources.iter().map(|p| f::unit(p[0], p[1])).collect();
    let cos_r = (inst.field_radius() + 0.01 * DEG).cos();
    let done = AtomicU64::new(0);
    let t_terms = n_terms(order);
    let per_exposure: Vec<(Vec<PointedObs>, Vec<[f64; 2]>)> = (0..exposures.len())
        .into_par_iter()
        .map(|e| {
            let ex = &exposures[e];
            let att = truth_attitude[e];
            let axis = f::unit(att[0], att[1]);
            let tau = astrosolve_model::units::years(ex.t);
            let b = eph.observer_au(ex.t);
            let (us, ue) = unit_span[ex.cal_unit];
            let frac = if ue > us {
                ((ex.t - us) / (ue - us) - 0.5).clamp(-0.5, 0.5)
            } else {
                0.0
            };
            let mut rng = Rng::new(cfg.seed, STREAM_NOISE + e as u64);
            let mut obs = Vec::new();
            let mut noise = Vec::new();
            let mut cx = vec![0.0; t_terms];
            let mut cy = vec![0.0; t_terms];
            for (s, p) in truth_sources.iter().enumerate() {
                if f::dot(&dirs[s], &axis) < cos_r {
                    continue;
                }
                let (x, y): (f64, f64) = PointedModel::project(p, &att, tau, &b);
                // keep images ≥ 12 px inside a detector (the distortion moves them ≤ a few px)
                let Some(det) = inst.locate(x, y, 12.0) else {
                    continue;
                };
                let o = truth_distortion.offset(ex.cal_unit, det, 0);
                for k in 0..t_terms {
                    cx[k] = truth_distortion.coeffs[o + k] + frac * drift.coeffs[o + k];
                    cy[k] = truth_distortion.coeffs[o + t_terms + k]
                        + frac * drift.coeffs[o + t_terms + k];
                }
                // the distortion is a function of the measured position: solve
                // (xo, yo) = (x, y) + D(xo, yo) by fixed-point iteration (|∇D| ~ 1e-3)
                let (mut xo, mut yo) = (x, y);
                for _ in 0..6 {
                    let (u, v) = inst.normalised(det, xo, yo);
                    let bs = legendre_basis(order, u, v);
                    let (mut dx, mut dy) = (0.0, 0.0);
                    for k in 0..t_terms {
                        dx += cx[k] * bs[k];
                        dy += cy[k] * bs[k];
                    }
                    xo = x + dx;
                    yo = y + dy;
                }
                let sigma = sigma_single(cfg, hw[s]);
                let (nx, ny) = if cfg.noiseless {
                    (0.0, 0.0)
                } else {
                    (sigma * rng.normal(), sigma * rng.normal())
                };
                obs.push(PointedObs {
                    exposure: e as u32,
                    source: s as u32,
                    detector: det as u8,
                    x: xo + nx,
                    y: yo + ny,
                    sigma,
                });
                noise.push([nx, ny]);
            }
            progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            (obs, noise)
        })
        .collect();
    let mut observations = Vec::new();
    let mut noise = Vec::new();
    for (o, nz) in per_exposure {
        observations.extend(o);
        noise.extend(nz);
    }
    Ok(JasmineSimulation {
        mission: mission.clone(),
        config: cfg.clone(),
        ephemeris: eph,
        exposures,
        observations,
        source_ids,
        hw,
        start_sources,
        reference,
        truth_sources,
        truth_attitude,
        truth_distortion,
        noise,
        seasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_simulation_is_jasmine_like() {
        let cfg = JasmineSimConfig {
            n_stars: 600,
            exposures_per_season: 10,
            ..Default::default()
        };
        let sim = simulate_jasmine(&PointedMission::default(), &cfg, &|_| {}).unwrap();
        // two seasons a year (spring and autumn) over three years
        assert_eq!(sim.seasons.len(), 6, "{:?}", sim.seasons);
        for (a, b) in &sim.seasons {
            assert!((b - a) > 30.0 && (b - a) < 50.0, "season {a}..{b}");
        }
        assert_eq!(sim.exposures.len(), 60);
        let per_exposure = sim.observations.len() as f64 / 60.0;
        assert!(per_exposure > 150.0, "{per_exposure} images per exposure");
        // noiseless model reproduces the simulated positions up to the noise
        let model = sim.model(cfg.distortion_order);
        for (o, nz) in sim.observations.iter().zip(&sim.noise).step_by(97) {
            let ex = &sim.exposures[o.exposure as usize];
            let g = model.geometry(ex.t, o.detector as usize, o.x - nz[0], o.y - nz[1]);
            let d = &sim.truth_distortion;
            let (x, y) = model.predict_f64(
                &sim.truth_sources[o.source as usize],
                &sim.truth_attitude[o.exposure as usize],
                d.coefficients(ex.cal_unit, o.detector as usize, 0),
                d.coefficients(ex.cal_unit, o.detector as usize, 1),
                &g,
            );
            assert!((x - (o.x - nz[0])).abs() < 1e-12 && (y - (o.y - nz[1])).abs() < 1e-12);
        }
        // roll differs between spring and autumn by about 180°
        let r0 = sim.truth_attitude[0][2];
        let r1 = sim.truth_attitude[15][2];
        let dr = (r1 - r0).rem_euclid(std::f64::consts::TAU) / DEG;
        assert!((dr - 180.0).abs() < 40.0, "roll change {dr}°");
        assert!(!sim.reference.is_empty());
    }
}
