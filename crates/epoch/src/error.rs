//! Errors of the epoch engine: every one names the source (and, for data, file, 1-based row and
//! column), so that a bad source can be reported and skipped while the others are solved.

use std::path::PathBuf;

/// Failure to fit or to read one source.
#[derive(Debug, thiserror::Error)]
pub enum EpochError {
    /// The normal matrix is not positive definite (too few usable observations, degenerate
    /// geometry, all observations rejected).
    #[error("source {source_id}: singular normal matrix ({detail})")]
    Singular { source_id: i64, detail: String },

    /// Not enough usable observations for the model.
    #[error("source {source_id}: {n_used} usable observations for {n_params} parameters")]
    TooFewObservations {
        source_id: i64,
        n_used: usize,
        n_params: usize,
    },

    /// An input value the fit cannot use (σ ≤ 0, NaN coefficient, pair index out of range, …).
    #[error("source {source_id}: {message}")]
    BadInput { source_id: i64, message: String },

    /// A bad value in a data file: the source is skipped, the others go on.
    #[error("{}: row {row}, column \"{column}\": source {source_id} skipped: {message}", path.display())]
    Data {
        path: PathBuf,
        /// 1-based data row (header not counted).
        row: usize,
        column: String,
        source_id: i64,
        message: String,
    },

    /// A row that belongs to no source (null source_id): skipped.
    #[error("{}: row {row}, column \"{column}\": row skipped: {message}", path.display())]
    Row {
        path: PathBuf,
        row: usize,
        column: String,
        message: String,
    },

    /// The file could not be read (or a chunk of it): reading stops.
    #[error(transparent)]
    Io(#[from] astrosolve_io::IoError),

    /// A file-level problem that is not a single cell (missing column, wrong layout, …).
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
}

impl EpochError {
    /// The source the error is about, if it is about one.
    pub fn source_id(&self) -> Option<i64> {
        match self {
            EpochError::Singular { source_id, .. }
            | EpochError::TooFewObservations { source_id, .. }
            | EpochError::BadInput { source_id, .. }
            | EpochError::Data { source_id, .. } => Some(*source_id),
            _ => None,
        }
    }
}
