//! Error type of the VSH analysis.

use std::path::PathBuf;

/// Everything that can go wrong in a VSH analysis. Messages name the file, row and column
/// where that applies.
#[derive(Debug, thiserror::Error)]
pub enum VshError {
    /// File system error.
    #[error("{path}: {source}")]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Could not decode the input file.
    #[error("{path}: cannot read as {format}: {message}")]
    Format {
        /// File concerned.
        path: PathBuf,
        /// `Parquet`, `CSV`, `ECSV`, `FITS` or `VOTable`.
        format: &'static str,
        /// What the decoder said.
        message: String,
    },
    /// Any other error of the table reader (a cell that is not a number, a unit that does
    /// not convert, …): names the file, row and column where they apply.
    #[error("{0}")]
    Input(astrosolve_io::IoError),
    /// A needed column is absent.
    #[error("{path}: missing column '{column}' (columns present: {available})")]
    MissingColumn {
        /// File concerned.
        path: PathBuf,
        /// Column name.
        column: String,
        /// Comma-separated list of the columns in the file.
        available: String,
    },
    /// A column has a type that cannot be used.
    #[error("{path}: column '{column}' has type {found}, expected {expected}")]
    WrongType {
        /// File concerned.
        path: PathBuf,
        /// Column name.
        column: String,
        /// Type in the file.
        found: String,
        /// Acceptable types.
        expected: &'static str,
    },
    /// A value is missing, not a number, or out of its valid range.
    #[error(
        "{path}: {location}, column '{column}': {problem} (use --skip-invalid to skip such rows)"
    )]
    InvalidValue {
        /// File concerned.
        path: PathBuf,
        /// `row N` (1-based data row of the file).
        location: String,
        /// Column name.
        column: String,
        /// What is wrong with the value.
        problem: String,
    },
    /// The `--select` expression could not be parsed.
    #[error("selection '{expr}': {message}")]
    Selection {
        /// Offending expression.
        expr: String,
        /// Explanation.
        message: String,
    },
    /// Not enough sources for the requested degree.
    #[error("{n_sources} sources give {n_obs} observations for {n_coef} unknowns (lmax {lmax}): need more sources or a lower --lmax")]
    TooFewSources {
        /// Sources available.
        n_sources: usize,
        /// Observations (2 per source).
        n_obs: usize,
        /// Unknowns.
        n_coef: usize,
        /// Degree.
        lmax: usize,
    },
    /// The normal matrix is singular (e.g. sky coverage too poor for the degree).
    #[error("the normal matrix is singular at unknown {coefficient}: sky coverage too poor for lmax {lmax}; lower --lmax")]
    Singular {
        /// Name of the coefficient where the factorisation failed.
        coefficient: String,
        /// Degree.
        lmax: usize,
    },
    /// Invalid option value.
    #[error("invalid option: {0}")]
    Option(String),
    /// An output file exists already.
    #[error("{0} exists already: choose another --out directory or pass --force to overwrite")]
    OutputExists(PathBuf),
    /// Plotting failed.
    #[error("plot {path}: {message}")]
    Plot {
        /// Output file.
        path: PathBuf,
        /// Explanation.
        message: String,
    },
    /// JSON serialisation failed.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<astrosolve_io::IoError> for VshError {
    /// A file error of the table reader or the atomic writer (its message names the file).
    fn from(e: astrosolve_io::IoError) -> Self {
        VshError::Input(e)
    }
}
