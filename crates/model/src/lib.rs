//! # astrosolve-model
//!
//! The observation model of astrosolve, written once over a generic scalar (`f64` or a
//! forward-mode dual number), so that predictions and their exact Jacobians come from the
//! same code (Lindegren et al. 2012, A&A 538, A78, sections 3 and 5).
//!
//! Data flow inside this crate: [`units`] and [`scalar`] → geometry ([`quat`], [`bspline`],
//! [`ephemeris`]) → the pieces of the model ([`source`], [`attitude`], [`instrument`],
//! [`calibration`]) → the mission description ([`mission`]) and observation records ([`obs`])
//! → prediction and linearisation ([`model`]).
//!
//! Internal units: radians, rad/yr, days from the mission reference epoch (TCB), AU for the
//! observer's barycentric position. Conversions to mas, µas, degrees live in [`units`] and are
//! applied only at the edges (files, reports).

pub mod attitude;
pub mod bspline;
pub mod calibration;
pub mod ephemeris;
pub mod epoch;
pub mod instrument;
pub mod linalg;
pub mod mission;
pub mod model;
pub mod obs;
pub mod pointed;
pub mod quat;
pub mod scalar;
pub mod source;
pub mod units;

pub use attitude::BSplineAttitude;
pub use calibration::{Calibration, CalibrationConfig};
pub use calibration::{N_AC_CAL_MAX, N_AL_CAL_MAX};
pub use ephemeris::{EarthEphemeris, Ephemeris, GaiaL2Ephemeris, TabulatedEphemeris};
pub use instrument::{Fov, Instrument, InstrumentConfig};
pub use mission::MissionConfig;
pub use model::{GaiaModel, Geometry, Linearised, SourceJets, N_DUAL};
pub use obs::{Observation, ObservationSet, ObservationStore};
pub use scalar::Real;
pub use source::{SourceParams, N_SRC_MAX};
