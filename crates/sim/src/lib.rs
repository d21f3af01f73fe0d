//! # astrosolve-sim
//!
//! Mission simulators with ground truth: the Gaia-like scanning satellite ([`gaia`]).
//! Deterministic from a seed ([`rng`]); settings in [`config`].

pub mod config;
pub mod gaia;
pub mod rng;
pub mod scanning;

pub use config::{SimConfig, SkyModel};
pub use gaia::{simulate_gaia, Simulation};
