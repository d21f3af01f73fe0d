//! The one error type of the data-file layer. Its `Display` always starts with the file's
//! path, then, where it applies, the 1-based data row and the column:
//! `run1/observations.parquet: row 17, column "eta": NaN is not a valid field angle`.

use std::path::{Path, PathBuf};

/// Any failure to read or write a data file.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// The file (or the directory it should be in) does not exist.
    #[error("{}: file not found", path.display())]
    NotFound { path: PathBuf },

    /// Any other operating-system error (permissions, disk full, ...).
    #[error("{}: cannot {action}: {source}", path.display())]
    Os {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// The file exists and overwriting was not asked for.
    #[error("{}: already exists; refusing to overwrite it (use the overwrite option)", path.display())]
    Exists { path: PathBuf },

    /// Not a Parquet file, a truncated or corrupt one, or one the Parquet library cannot decode.
    #[error("{}: not a valid Parquet file: {message}", path.display())]
    Parquet { path: PathBuf, message: String },

    /// A TOML file that does not parse or does not match the expected keys and types.
    #[error("{}: line {line}, column {column}: {message}", path.display())]
    Toml {
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column (characters).
        column: usize,
        message: String,
    },

    /// A required column is absent.
    #[error("{}: missing column \"{column}\"", path.display())]
    MissingColumn { path: PathBuf, column: String },

    /// None of the accepted names of a required column is present (table reader).
    #[error("{}: missing column {}: none of the accepted names is present (columns present: {})",
        path.display(), quote_list(accepted, " or "), quote_list(present, ", "))]
    MissingColumns {
        path: PathBuf,
        /// The names accepted for the column, in order of preference.
        accepted: Vec<String>,
        /// The columns of the file.
        present: Vec<String>,
    },

    /// A column's stated unit cannot be converted to the unit its quantity needs (table
    /// reader), e.g. a proper motion in degrees, or the unit is not understood.
    #[error("{}: column \"{column}\": {message}", path.display())]
    Unit {
        path: PathBuf,
        column: String,
        /// The unit the file states.
        unit: String,
        message: String,
    },

    /// A column has a type that cannot be read as the expected one.
    #[error("{}: column \"{column}\" has type {found}, expected {expected}", path.display())]
    ColumnType {
        path: PathBuf,
        column: String,
        found: String,
        expected: &'static str,
    },

    /// An invalid value (null, NaN, out of range, unknown identifier, ...) in one cell.
    #[error("{}: row {row}, column \"{column}\": {message}", path.display())]
    Value {
        path: PathBuf,
        /// 1-based data row (the header is not counted).
        row: usize,
        column: String,
        message: String,
    },

    /// A problem with the file as a whole: metadata missing or inconsistent with the rows,
    /// row counts, configuration mismatches between files.
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

impl IoError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            IoError::NotFound { path }
            | IoError::Os { path, .. }
            | IoError::Exists { path }
            | IoError::Parquet { path, .. }
            | IoError::Toml { path, .. }
            | IoError::MissingColumn { path, .. }
            | IoError::MissingColumns { path, .. }
            | IoError::Unit { path, .. }
            | IoError::ColumnType { path, .. }
            | IoError::Value { path, .. }
            | IoError::Invalid { path, .. } => path,
        }
    }

    /// 1-based data row, where the error is about one.
    pub fn row(&self) -> Option<usize> {
        match self {
            IoError::Value { row, .. } => Some(*row),
            _ => None,
        }
    }

    /// Column name, where the error is about one.
    pub fn column(&self) -> Option<&str> {
        match self {
            IoError::MissingColumn { column, .. }
            | IoError::ColumnType { column, .. }
            | IoError::Unit { column, .. }
            | IoError::Value { column, .. } => Some(column),
            IoError::MissingColumns { accepted, .. } => accepted.first().map(String::as_str),
            _ => None,
        }
    }

    pub(crate) fn os(path: &Path, action: &'static str, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            IoError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            IoError::Os {
                path: path.to_path_buf(),
                action,
                source,
            }
        }
    }

    pub(crate) fn value(path: &Path, row: usize, column: &str, message: impl Into<String>) -> Self {
        IoError::Value {
            path: path.to_path_buf(),
            row,
            column: column.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> Self {
        IoError::Invalid {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub(crate) fn parquet(path: &Path, message: impl std::fmt::Display) -> Self {
        IoError::Parquet {
            path: path.to_path_buf(),
            message: message.to_string(),
        }
    }
}

/// `"a" or "b"`: names quoted and joined, for messages.
fn quote_list(names: &[String], sep: &str) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(sep)
}

/// |a − b| ≤ tol, false if either is NaN.
pub(crate) fn within(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

/// Describes a non-finite number for error messages ("NaN", "inf", "-inf"); None if finite.
pub(crate) fn non_finite(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("inf")
    } else if v == f64::NEG_INFINITY {
        Some("-inf")
    } else {
        None
    }
}

/// `Err("NaN is not a valid {what}")` for non-finite values.
pub(crate) fn require_finite(v: f64, what: &str) -> Result<(), String> {
    match non_finite(v) {
        Some(s) => Err(format!("{s} is not a valid {what}")),
        None => Ok(()),
    }
}

/// Uncertainties must be finite and strictly positive.
pub(crate) fn require_positive_uncertainty(v: f64, unit: &str) -> Result<(), String> {
    if let Some(s) = non_finite(v) {
        return Err(format!("{s} is not a valid uncertainty"));
    }
    if v <= 0.0 {
        return Err(format!(
            "uncertainty must be positive (got {v} {unit}); zero or negative uncertainties are not allowed"
        ));
    }
    Ok(())
}
