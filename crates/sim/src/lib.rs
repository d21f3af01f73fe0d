//! # astrosolve-sim
//!
//! Mission simulators with ground truth: the Gaia-like scanning satellite ([`gaia`]) and the
//! JASMINE-like pointed survey ([`jasmine`]).
//! Deterministic from a seed ([`rng`]); settings in [`config`].

pub mod config;
pub mod gaia;
pub mod jasmine;
pub mod rng;
pub mod scanning;

pub use config::{SimConfig, SkyModel};
pub use gaia::{simulate_gaia, Simulation};
pub use jasmine::{simulate_jasmine, JasmineSimConfig, JasmineSimulation};
