//! mission.toml as a whole: `[mission]` (the model, see docs/formats.md) and `[simulation]`
//! (the simulator, see docs/simulation.md). Every key has a default. Defined in
//! `astrosolve_scanning::run`, shared with the Python bindings.

pub use astrosolve_scanning::run::MissionFile;
