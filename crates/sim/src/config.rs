//! Simulation settings (`[simulation]` in mission.toml). Every key has a default, so an
//! empty section simulates the default small Gaia-like mission.

use serde::{Deserialize, Serialize};

/// How sources are distributed on the sky.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SkyModel {
    /// Uniform over the celestial sphere.
    Uniform,
    /// Density ∝ 0.2 + exp(−|b|/10°) in Galactic latitude b (a thin disc on a halo floor).
    Galactic,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Seed of every random number; the same seed gives the same data set.
    pub seed: u64,
    /// Number of sources (stars and quasar-like sources together).
    pub n_sources: usize,
    pub sky: SkyModel,
    /// Fraction of quasar-like sources (zero parallax and proper motion; G in [17, g_max]).
    pub qso_fraction: f64,
    /// Magnitude range of stars and the slope k of dN/dG ∝ 10^(k G).
    pub g_min: f64,
    pub g_max: f64,
    pub g_slope: f64,
    /// Sources brighter than this also get across-scan (AC) measurements. Gaia: G < 13 (2D
    /// windows); the default 21 gives AC to every source to keep the AC redundancy per attitude
    /// knot realistic at laptop scale (docs/simulation.md).
    pub g_ac_max: f64,
    /// σ_AC / σ_AL for sources with AC measurements.
    pub ac_noise_factor: f64,
    /// Multiplies the per-CCD AL noise curve σ_AL(G).
    pub noise_scale: f64,
    /// Simulate noiseless observations (for model checks).
    pub noiseless: bool,
    /// Fraction of observations replaced by outliers, and their spread (mas).
    pub outlier_rate: f64,
    pub outlier_scale_mas: f64,

    /// Nominal scanning law (Gaia: 60″/s, ξ = 45°, precession period 63.12 d).
    pub spin_rate_arcsec_s: f64,
    pub solar_aspect_angle_deg: f64,
    pub precession_period_days: f64,
    /// RMS of the smooth random attitude perturbation about each axis (arcsec) and its
    /// correlation time (days).
    pub attitude_noise_arcsec: f64,
    pub attitude_noise_correlation_days: f64,

    /// Derive the attitude knot interval and calibration interval from the source density
    /// (overrides the mission's values); see docs/simulation.md.
    pub auto_intervals: bool,
    /// Target AL observations per attitude unknown (4 unknowns per knot).
    pub obs_per_attitude_param: f64,
    /// Target AL observations per AL calibration unknown.
    pub obs_per_calibration_param: f64,

    /// RMS of the true calibration parameters: AL offset, AL higher Legendre terms (mas),
    /// chromatic term (mas per µm⁻¹), AC offset (mas), and the RMS change between intervals.
    pub cal_al_offset_mas: f64,
    pub cal_al_shape_mas: f64,
    pub cal_chromatic_mas: f64,
    pub cal_ac_offset_mas: f64,
    pub cal_drift_mas: f64,

    /// Errors of the starting catalogue: positions (mas), parallax (mas), proper motions (mas/yr).
    pub start_position_error_mas: f64,
    pub start_parallax_error_mas: f64,
    pub start_pm_error_mas_yr: f64,
    /// Error of the reference (VLBI-like) positions of quasar-like sources that orient the frame (mas).
    pub reference_position_error_mas: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            n_sources: 5000,
            sky: SkyModel::Uniform,
            qso_fraction: 0.05,
            g_min: 9.0,
            g_max: 20.0,
            g_slope: 0.15,
            g_ac_max: 21.0,
            ac_noise_factor: 5.0,
            noise_scale: 1.0,
            noiseless: false,
            outlier_rate: 0.0,
            outlier_scale_mas: 50.0,
            spin_rate_arcsec_s: 60.0,
            solar_aspect_angle_deg: 45.0,
            precession_period_days: 63.12,
            attitude_noise_arcsec: 1.0,
            attitude_noise_correlation_days: 0.5,
            auto_intervals: true,
            obs_per_attitude_param: 100.0,
            obs_per_calibration_param: 200.0,
            cal_al_offset_mas: 30.0,
            cal_al_shape_mas: 3.0,
            cal_chromatic_mas: 2.0,
            cal_ac_offset_mas: 50.0,
            cal_drift_mas: 1.0,
            start_position_error_mas: 30.0,
            start_parallax_error_mas: 10.0,
            start_pm_error_mas_yr: 10.0,
            reference_position_error_mas: 0.2,
        }
    }
}

impl SimConfig {
    /// Checks ranges; the message names the offending key.
    pub fn validate(&self) -> Result<(), String> {
        let check = |ok: bool, msg: &str| {
            if ok {
                Ok(())
            } else {
                Err(format!("simulation.{msg}"))
            }
        };
        check(self.n_sources > 0, "n_sources must be > 0")?;
        check(
            (0.0..=1.0).contains(&self.qso_fraction),
            "qso_fraction must be within [0, 1]",
        )?;
        check(self.g_min < self.g_max, "g_min must be below g_max")?;
        check(
            self.g_max >= 17.0 || self.qso_fraction == 0.0,
            "g_max must be ≥ 17 when qso_fraction > 0",
        )?;
        check(
            (0.0..1.0).contains(&self.outlier_rate),
            "outlier_rate must be within [0, 1)",
        )?;
        check(
            self.spin_rate_arcsec_s > 0.0,
            "spin_rate_arcsec_s must be > 0",
        )?;
        check(
            self.precession_period_days > 0.0,
            "precession_period_days must be > 0",
        )?;
        check(
            self.solar_aspect_angle_deg > 0.0 && self.solar_aspect_angle_deg < 90.0,
            "solar_aspect_angle_deg must be within (0, 90)",
        )?;
        check(self.noise_scale > 0.0, "noise_scale must be > 0")?;
        check(self.ac_noise_factor > 0.0, "ac_noise_factor must be > 0")?;
        check(
            self.obs_per_attitude_param > 0.0,
            "obs_per_attitude_param must be > 0",
        )?;
        check(
            self.obs_per_calibration_param > 0.0,
            "obs_per_calibration_param must be > 0",
        )?;
        check(
            self.attitude_noise_correlation_days > 0.0,
            "attitude_noise_correlation_days must be > 0",
        )?;
        Ok(())
    }
}

/// Per-CCD AL standard uncertainty (mas) at magnitude G: a bright floor, photon noise and a
/// background term, σ² = a² + b² z + c² z², z = 10^(0.4 (max(G, 12) − 15)) — shaped after
/// the Gaia DR3 per-CCD AL precision (Lindegren et al. 2021, Fig. A.1): ≈0.1 mas at G ≤ 13,
/// ≈0.2 mas at G = 15, ≈3.5 mas at G = 20.
pub fn sigma_al_mas(g: f64) -> f64 {
    let z = 10f64.powf(0.4 * (g.max(12.0) - 15.0));
    (0.08f64.powi(2) + 0.17f64.powi(2) * z + 0.03f64.powi(2) * z * z).sqrt()
}
