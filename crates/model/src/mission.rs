//! The mission description shared by simulator, files and solvers (`[mission]` in mission.toml).

use crate::calibration::CalibrationConfig;
use crate::instrument::{Instrument, InstrumentConfig};
use crate::units::JD_J2016;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MissionConfig {
    /// Free-text name.
    pub name: String,
    /// Reference epoch of the astrometric parameters and t = 0 of all times: Julian date (TCB).
    pub reference_epoch_jd: f64,
    /// Start of observations (days from the reference epoch).
    pub start_day: f64,
    /// Length of the observing period (days).
    pub duration_days: f64,
    /// Attitude B-spline knot interval (days).
    pub attitude_knot_interval_days: f64,
    /// Heliocentric distance factor of the observer relative to the Earth (L2: 1.01).
    pub l2_scale: f64,
    pub instrument: InstrumentConfig,
    pub calibration: CalibrationConfig,
}

impl Default for MissionConfig {
    fn default() -> Self {
        MissionConfig {
            name: "gaia-like".into(),
            reference_epoch_jd: JD_J2016,
            start_day: -182.625,
            duration_days: 365.25,
            attitude_knot_interval_days: 0.05,
            l2_scale: 1.01,
            instrument: InstrumentConfig::default(),
            calibration: CalibrationConfig::default(),
        }
    }
}

impl MissionConfig {
    pub fn t_start(&self) -> f64 {
        self.start_day
    }
    pub fn t_end(&self) -> f64 {
        self.start_day + self.duration_days
    }
    pub fn instrument(&self) -> Instrument {
        Instrument::new(self.instrument.clone())
    }
    /// Checks ranges; the message names the offending key.
    pub fn validate(&self) -> Result<(), String> {
        let pos = |v: f64, k: &str| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(format!("mission.{k} must be a positive number (got {v})"))
            }
        };
        pos(self.duration_days, "duration_days")?;
        pos(
            self.attitude_knot_interval_days,
            "attitude_knot_interval_days",
        )?;
        pos(self.l2_scale, "l2_scale")?;
        pos(
            self.instrument.basic_angle_deg,
            "instrument.basic_angle_deg",
        )?;
        pos(
            self.instrument.strip_pitch_arcmin,
            "instrument.strip_pitch_arcmin",
        )?;
        pos(
            self.instrument.row_height_arcmin,
            "instrument.row_height_arcmin",
        )?;
        if self.instrument.n_rows == 0 || self.instrument.n_rows > 255 {
            return Err("mission.instrument.n_rows must be within 1..=255".into());
        }
        if self.instrument.n_strips == 0 || self.instrument.n_strips > 255 {
            return Err("mission.instrument.n_strips must be within 1..=255".into());
        }
        if !self.reference_epoch_jd.is_finite() || !self.start_day.is_finite() {
            return Err("mission.reference_epoch_jd and start_day must be finite".into());
        }
        self.calibration
            .validate()
            .map_err(|e| format!("mission.{e}"))
    }
}
