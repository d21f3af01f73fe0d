//! mission.toml as a whole: `[mission]` (the model, see docs/formats.md) and `[simulation]`
//! (the simulator, see docs/simulation.md). Every key has a default.

use astrosolve_model::MissionConfig;
use astrosolve_sim::SimConfig;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MissionFile {
    pub mission: MissionConfig,
    pub simulation: SimConfig,
}
