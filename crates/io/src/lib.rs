//! # astrosolve-io
//!
//! The data files of astrosolve (see docs/formats.md for the full specification):
//!
//! ```text
//! DIR/mission.toml                 [mission] (MissionConfig) and producer sections
//! DIR/sources.parquet              starting catalogue (Gaia archive columns and units)
//! DIR/observations.parquet         one row per CCD observation
//! DIR/attitude.parquet             starting attitude: B-spline coefficients
//! DIR/calibration.parquet          starting calibration: one row per unit
//! DIR/truth/sources.parquet        simulation truth (optional directory) ...
//! DIR/truth/attitude.parquet
//! DIR/truth/calibration.parquet
//! DIR/truth/observation_truth.parquet   row-aligned with observations.parquet
//! ```
//!
//! JASMINE-like pointed data sets have their own files (exposures, images, stars,
//! reference catalogue, distortion): see [`read_pointed_dataset`] and docs/formats.md.
//!
//! Units are converted here and only here: files hold degrees, mas, mas/yr and days from
//! the reference epoch; memory holds radians, rad/yr and days (see `astrosolve_model`).
//! Every error is an [`IoError`] whose message names the file and, where it applies, the
//! 1-based data row and the column. Writers never replace an existing file unless asked,
//! and check values as the readers do, so whatever is written reads back. Every file,
//! whatever its kind (Parquet, TOML, JSON, CSV, PNG), is written through [`output`]: to a
//! temporary name, then renamed into place.
//!
//! Entry points: [`write_dataset`] / [`read_dataset`] / [`read_truth`] for whole data sets,
//! the single-table readers and writers for the rest (e.g. a solver writing its solution
//! catalogue with [`write_catalogue`] and [`SolvedColumns`]), [`read_toml`] /
//! [`write_toml`] for configuration files.

mod attitude;
mod calibration;
mod catalogue;
mod dataset;
mod error;
pub mod hipparcos;
mod observations;
pub mod output;
mod partition;
mod pointed;
mod reference;
mod sink;
pub mod spill;
mod table;
pub mod tabular;
mod toml_io;

pub use attitude::{
    coeff_centre, read_attitude, write_attitude, COEFF_NORM_RANGE, SPLINE_NORM_RANGE,
};
pub use calibration::{read_calibration, term_column, write_calibration};
pub use catalogue::{
    julian_year, read_catalogue, write_catalogue, Catalogue, SolvedColumns, PARAMS_SOLVED_5,
    PARAMS_SOLVED_6, PARAMS_SOLVED_NONE, PARAMS_SOLVED_POSITION, REF_EPOCH_TOLERANCE_YR,
};
pub use dataset::{
    check_start_catalogue, read_dataset, read_dataset_and_truth, read_dataset_and_truth_with,
    read_dataset_with_mission, read_observation_truth, read_truth, write_dataset,
    write_dataset_ref, write_dataset_with_config, write_dataset_with_config_ref,
    write_observation_truth, Dataset, DatasetPaths, DatasetRef, ObservationTruth, ReadOptions,
    Truth, TruthRef, WriteOptions, ATTITUDE_FILE, CALIBRATION_FILE, MISSION_FILE,
    OBSERVATIONS_FILE, OBSERVATION_TRUTH_FILE, SOURCES_FILE, START_PARALLAX_MAX_MAS,
    START_PM_MAX_MAS_YR, TRUTH_DIR,
};
pub use error::IoError;
pub use observations::{
    read_observations, row_groups, write_observations, MIN_UNCERTAINTY_MAS, READ_BATCH_ROWS,
    ROW_GROUP_ROWS,
};
pub use output::{
    check_output_location, ensure_writable_dir, write_atomically, write_lines, write_png,
    write_text, PartialFile,
};
pub use partition::{count_observations, read_dataset_part, DatasetPart, ObservationCounts};
pub use pointed::{
    is_pointed_dataset, read_distortion, read_exposures, read_images, read_pointed_dataset,
    read_pointed_mission, read_pointed_truth, read_reference_catalogue, read_stars,
    write_distortion, write_exposures, write_images, write_pointed_dataset,
    write_reference_catalogue, write_stars, PointedDataset, PointedStars, PointedTruth,
    DISTORTION_FILE, EXPOSURES_FILE, IMAGES_FILE, REFERENCE_CATALOGUE_FILE, STARS_FILE,
};
pub use reference::{read_reference_positions, write_reference_positions, REFERENCE_FILE};
pub use sink::{SinkColumn, SinkKind, SinkValues, TableSink};
pub use spill::ObservationFile;
pub use toml_io::{parse_toml, read_mission, read_toml, write_mission, write_toml};

/// Key-value metadata keys of the Parquet files.
pub mod metadata {
    pub use crate::attitude::{
        META_H as ATTITUDE_KNOT_INTERVAL, META_N_INTERVALS as ATTITUDE_N_INTERVALS,
        META_T0 as ATTITUDE_T0,
    };
    pub use crate::calibration::meta as calibration;
    pub use crate::table::{
        FORMAT_VERSION, META_FORMAT_VERSION as FORMAT_VERSION_KEY, META_TABLE as TABLE_KEY,
    };
}
