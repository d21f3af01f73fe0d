//! Catalogue reading through the one table reader of astrosolve
//! ([`astrosolve_io::tabular`]): Parquet, FITS binary tables, VOTable, ECSV (astropy's
//! default: space-separated, no `delimiter` line) and CSV, with Gaia column names and the units
//! the file states.
//!
//! Columns read: `ra`, `dec` (in deg), `pmra` (µα*), `pmdec`, `pmra_error`, `pmdec_error` (in
//! mas/yr), `pmra_pmdec_corr`, plus every column a selection uses. Names are matched exactly,
//! else case-insensitively. A unit stated by the file (ECSV `unit`, FITS `TUNITn`, VOTable
//! `unit`, Parquet field metadata) is converted (e.g. µas/yr → mas/yr, rad → deg) or, when
//! incompatible, is an error naming the column. Values are converted to radians and µas/yr.
//!
//! Selection first, validation second: only selected rows must have valid values. A selected
//! row with a missing (null / empty), NaN or out-of-range value in a needed column is an error
//! naming the file, the 1-based data row and the column — or, with `skip_invalid`, the row is
//! skipped and counted per column. Valid ranges: finite values; |dec| ≤ 90°; errors > 0;
//! |pmra_pmdec_corr| < 1. Text that is not a number in a needed or selection column is an
//! error wherever it is (a malformed file, not a missing value). The file is streamed in
//! chunks of rows.
//!
//! Unsolved sources: a catalogue with Gaia's `astrometric_params_solved` column (an astrosolve
//! solution catalogue, a Gaia archive export) flags the sources whose proper motions were not
//! solved (0: not solved, astrosolve's starting values; 3: position only); selected rows with
//! a code below 31 (or a null code) are skipped by default and counted
//! ([`InputSummary::n_skipped_unsolved`]) before the validation of their values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use astrosolve_io::tabular::{open_table, ColumnData, Table, TableFormat, Unit};
use astrosolve_io::IoError;
use serde::Serialize;

use crate::error::VshError;
use crate::fit::PmData;
use crate::select::Selection;

/// The columns every catalogue must have (Gaia archive names).
pub const REQUIRED_COLUMNS: [&str; 7] = [
    "ra",
    "dec",
    "pmra",
    "pmdec",
    "pmra_error",
    "pmdec_error",
    "pmra_pmdec_corr",
];

/// Units in which the required columns are read.
const REQUIRED_UNITS: [Unit; 7] = [
    Unit::Deg,
    Unit::Deg,
    Unit::MasPerYr,
    Unit::MasPerYr,
    Unit::MasPerYr,
    Unit::MasPerYr,
    Unit::Dimensionless,
];

/// The column flagging which parameters were solved (Gaia's bit code).
pub const PARAMS_SOLVED_COLUMN: &str = "astrometric_params_solved";
/// Smallest `astrometric_params_solved` with proper motions solved (5 parameters: 31).
pub const MIN_PARAMS_SOLVED: i64 = 31;

/// Rows per chunk read.
const CHUNK_ROWS: usize = 1 << 16;

/// Input file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values (Gaia archive CSV; `#` comment lines).
    Csv,
    /// astropy's Enhanced CSV (`# %ECSV` header with types and units).
    Ecsv,
    /// FITS binary table (first BINTABLE extension).
    Fits,
    /// IVOA VOTable (TABLEDATA, BINARY or BINARY2).
    Votable,
}

impl From<TableFormat> for InputFormat {
    fn from(f: TableFormat) -> Self {
        match f {
            TableFormat::Parquet => InputFormat::Parquet,
            TableFormat::Csv => InputFormat::Csv,
            TableFormat::Ecsv => InputFormat::Ecsv,
            TableFormat::Fits => InputFormat::Fits,
            TableFormat::VoTable => InputFormat::Votable,
        }
    }
}

impl From<InputFormat> for TableFormat {
    fn from(f: InputFormat) -> Self {
        match f {
            InputFormat::Parquet => TableFormat::Parquet,
            InputFormat::Csv => TableFormat::Csv,
            InputFormat::Ecsv => TableFormat::Ecsv,
            InputFormat::Fits => TableFormat::Fits,
            InputFormat::Votable => TableFormat::VoTable,
        }
    }
}

impl InputFormat {
    /// The format of `path` from its first bytes, else its extension
    /// ([`TableFormat::detect`]).
    pub fn detect(path: &Path) -> Result<InputFormat, VshError> {
        TableFormat::detect(path)
            .map(InputFormat::from)
            .map_err(|e| table_error(e, None))
    }
}
/// What was read, for the report.
#[derive(Clone, Debug, Serialize)]
pub struct InputSummary {
    /// File read.
    pub path: PathBuf,
    /// Its format.
    pub format: InputFormat,
    /// Data rows in the file.
    pub n_rows: usize,
    /// Rows passing the selection.
    pub n_selected: usize,
    /// Selected rows with valid values (the sources given to the fit).
    pub n_valid: usize,
    /// Selected rows skipped for an invalid value, per column (only with `skip_invalid`).
    pub skipped_invalid: BTreeMap<String, usize>,
    /// Selected rows skipped as unsolved (`astrometric_params_solved` < 31 or null), when the
    /// file has that column and unsolved sources are not included.
    pub n_skipped_unsolved: usize,
    /// Selection expressions.
    pub selection: Vec<String>,
}

/// A catalogue ready for the fit.
#[derive(Clone, Debug)]
pub struct Catalogue {
    /// Proper-motion data in internal units.
    pub data: PmData,
    /// What was read.
    pub summary: InputSummary,
}

/// Reads `path` (format detected when `format` is None), applying `selection`; unsolved
/// sources (see the module documentation) are skipped and counted.
pub fn read_catalogue(
    path: &Path,
    format: Option<InputFormat>,
    selection: &Selection,
    skip_invalid: bool,
) -> Result<Catalogue, VshError> {
    read_catalogue_with(path, format, selection, skip_invalid, false)
}

/// [`read_catalogue`], with the unsolved sources kept when `include_unsolved` (their values
/// are then validated as any other: an unsolved source's null uncertainties are an error, or
/// skipped with `skip_invalid`).
pub fn read_catalogue_with(
    path: &Path,
    format: Option<InputFormat>,
    selection: &Selection,
    skip_invalid: bool,
    include_unsolved: bool,
) -> Result<Catalogue, VshError> {
    let format = match format {
        Some(f) => f,
        None => InputFormat::detect(path)?,
    };
    let mut reader =
        open_table(path, Some(format.into())).map_err(|e| table_error(e, Some(format)))?;
    let sel_cols = selection.columns();
    let mut acc = Accumulator {
        path: path.to_path_buf(),
        skip_invalid,
        data: PmData::default(),
        n_rows: 0,
        n_selected: 0,
        skipped: BTreeMap::new(),
        include_unsolved,
        n_unsolved: 0,
    };
    let mut no_rows = true;
    while let Some(chunk) = reader
        .next_chunk(CHUNK_ROWS)
        .map_err(|e| table_error(e, Some(format)))?
    {
        read_chunk(&chunk, format, selection, &sel_cols, &mut acc)?;
        no_rows = false;
    }
    if no_rows {
        // No rows: the columns must still be there.
        check_columns(reader.column_names(), path, &sel_cols)?;
    }
    let summary = InputSummary {
        path: path.to_path_buf(),
        format,
        n_rows: acc.n_rows,
        n_selected: acc.n_selected,
        n_valid: acc.data.len(),
        skipped_invalid: acc.skipped,
        n_skipped_unsolved: acc.n_unsolved,
        selection: selection.exprs.clone(),
    };
    Ok(Catalogue {
        data: acc.data,
        summary,
    })
}

/// A cell of a needed column: `None` when missing (null / empty field).
pub type Cell = Option<f64>;

/// Why a value of column `k` (in [`REQUIRED_COLUMNS`] order: ra, dec, pmra, pmdec,
/// pmra_error, pmdec_error, pmra_pmdec_corr; None = null) cannot enter the fit, or None.
pub fn cell_problem(k: usize, cell: Cell) -> Option<String> {
    match cell {
        None => Some("missing value (null or empty field)".to_string()),
        // a float column's null reads as NaN: the two cannot be told apart here
        Some(x) if x.is_nan() => Some("NaN or null (missing value)".to_string()),
        Some(x) if !x.is_finite() => Some(format!("non-finite value {x}")),
        Some(x) if k == 1 && x.abs() > 90.0 => {
            Some(format!("declination {x} outside [-90, 90] deg"))
        }
        Some(x) if (k == 4 || k == 5) && x <= 0.0 => {
            Some(format!("standard error must be positive, got {x}"))
        }
        Some(x) if k == 6 && x.abs() >= 1.0 => Some(format!(
            "correlation must lie strictly within (-1, 1), got {x}"
        )),
        _ => None,
    }
}

struct Accumulator {
    path: PathBuf,
    skip_invalid: bool,
    data: PmData,
    n_rows: usize,
    n_selected: usize,
    skipped: BTreeMap<String, usize>,
    include_unsolved: bool,
    n_unsolved: usize,
}

impl Accumulator {
    /// Validates one selected row (`v` in [`REQUIRED_COLUMNS`] order) and stores it.
    fn push(&mut self, v: [Cell; 7], location: impl Fn() -> String) -> Result<(), VshError> {
        for (k, cell) in v.iter().enumerate() {
            let problem = cell_problem(k, *cell);
            if let Some(problem) = problem {
                let column = REQUIRED_COLUMNS[k].to_string();
                if self.skip_invalid {
                    *self.skipped.entry(column).or_insert(0) += 1;
                    return Ok(());
                }
                return Err(VshError::InvalidValue {
                    path: self.path.clone(),
                    location: location(),
                    column,
                    problem,
                });
            }
        }
        let x = v.map(|c| c.unwrap_or(f64::NAN));
        const MAS_TO_UAS: f64 = 1000.0;
        self.data.push(
            x[0].to_radians(),
            x[1].to_radians(),
            x[2] * MAS_TO_UAS,
            x[3] * MAS_TO_UAS,
            x[4] * MAS_TO_UAS,
            x[5] * MAS_TO_UAS,
            x[6],
        );
        Ok(())
    }
}

/// Maps a table-reader error to the VSH error of the same meaning.
fn table_error(e: IoError, format: Option<InputFormat>) -> VshError {
    let path = e.path().to_path_buf();
    let format_name = |f: Option<InputFormat>| match f {
        Some(InputFormat::Parquet) => "Parquet",
        Some(InputFormat::Csv) => "CSV",
        Some(InputFormat::Ecsv) => "ECSV",
        Some(InputFormat::Fits) => "FITS",
        Some(InputFormat::Votable) => "VOTable",
        None => "a table",
    };
    match e {
        IoError::MissingColumns {
            path,
            accepted,
            present,
        } => VshError::MissingColumn {
            path,
            column: accepted.first().cloned().unwrap_or_default(),
            available: available(&present),
        },
        IoError::ColumnType {
            path,
            column,
            found,
            expected,
        } => VshError::WrongType {
            path,
            column,
            found,
            expected,
        },
        IoError::NotFound { path } => VshError::Io {
            path,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
        },
        IoError::Os { path, source, .. } => VshError::Io { path, source },
        IoError::Parquet { .. } | IoError::Invalid { .. } => {
            let full = e.to_string();
            let prefix = format!("{}: ", path.display());
            VshError::Format {
                format: format_name(format),
                message: full.strip_prefix(&prefix).unwrap_or(&full).to_string(),
                path,
            }
        }
        other => VshError::Input(other),
    }
}

/// The column list for a missing-column message (cut after 400 characters).
fn available(names: &[String]) -> String {
    let mut available = names.join(", ");
    if available.len() > 400 {
        let mut cut = 400;
        while !available.is_char_boundary(cut) {
            cut -= 1;
        }
        available.truncate(cut);
        available.push_str(", …");
    }
    available
}

/// Checks that the needed columns exist in a table without rows.
fn check_columns(names: &[String], path: &Path, sel_cols: &[String]) -> Result<(), VshError> {
    for c in REQUIRED_COLUMNS
        .iter()
        .copied()
        .chain(sel_cols.iter().map(String::as_str))
    {
        let c = c.trim();
        if !names
            .iter()
            .any(|n| n.trim() == c || n.trim().eq_ignore_ascii_case(c))
        {
            return Err(VshError::MissingColumn {
                path: path.to_path_buf(),
                column: c.to_string(),
                available: available(names),
            });
        }
    }
    Ok(())
}

/// A needed column of a chunk: values in `unit`, None where the cell is null (where the
/// file tells null from NaN: text and integer columns). Text is accepted from CSV only.
fn cells(chunk: &Table, name: &str, unit: Unit) -> Result<Vec<Cell>, IoError> {
    let col = chunk.require(&[name])?;
    // Typed files (all but CSV) must store these columns as numbers.
    if chunk.format != TableFormat::Csv && matches!(col.data, ColumnData::Text(_)) {
        return Err(IoError::ColumnType {
            path: chunk.path.clone(),
            column: col.name.clone(),
            found: "text".to_string(),
            expected: "a numeric type (float or integer)",
        });
    }
    let v = chunk.f64_column(&[name], unit)?;
    Ok(match &col.data {
        ColumnData::Text(t) => t
            .iter()
            .zip(v)
            .map(|(s, x)| s.as_ref().map(|_| x))
            .collect(),
        ColumnData::Int(t) => t.iter().zip(v).map(|(s, x)| s.map(|_| x)).collect(),
        _ => v.into_iter().map(Some).collect(),
    })
}

/// A selection column of a chunk: numbers, or booleans as 1/0; NaN where missing.
fn selection_values(chunk: &Table, name: &str) -> Result<Vec<f64>, IoError> {
    let col = chunk.require(&[name])?;
    let as_bool = |b: Vec<Option<bool>>| -> Vec<f64> {
        b.into_iter()
            .map(|x| x.map_or(f64::NAN, |x| if x { 1.0 } else { 0.0 }))
            .collect()
    };
    match &col.data {
        ColumnData::Bool(_) => Ok(as_bool(chunk.bool_column(&[name])?)),
        ColumnData::Text(_) => match chunk.f64_column(&[name], Unit::Any) {
            Ok(v) => Ok(v),
            Err(e) => chunk.bool_column(&[name]).map(as_bool).map_err(|_| e),
        },
        _ => chunk.f64_column(&[name], Unit::Any),
    }
}

/// Selects, validates and stores the rows of one chunk.
fn read_chunk(
    chunk: &Table,
    format: InputFormat,
    selection: &Selection,
    sel_cols: &[String],
    acc: &mut Accumulator,
) -> Result<(), VshError> {
    let err = |e: IoError| table_error(e, Some(format));
    let req: Vec<Vec<Cell>> = REQUIRED_COLUMNS
        .iter()
        .zip(REQUIRED_UNITS)
        .map(|(c, u)| cells(chunk, c, u))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let sel: Vec<Vec<f64>> = sel_cols
        .iter()
        .map(|c| selection_values(chunk, c))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let params_solved = if acc.include_unsolved {
        None
    } else {
        chunk
            .find(&[PARAMS_SOLVED_COLUMN])
            .map(|_| chunk.i64_column(&[PARAMS_SOLVED_COLUMN]))
            .transpose()
            .map_err(err)?
    };
    for i in 0..chunk.n_rows() {
        acc.n_rows += 1;
        if !selection.is_empty() && !selection.eval(sel_cols, |k| sel[k][i]) {
            continue;
        }
        acc.n_selected += 1;
        if let Some(ps) = &params_solved {
            if ps[i].is_none_or(|c| c < MIN_PARAMS_SOLVED) {
                acc.n_unsolved += 1;
                continue;
            }
        }
        let v = [0, 1, 2, 3, 4, 5, 6].map(|k| req[k][i]);
        let row = chunk.first_row + i;
        acc.push(v, || format!("row {row}"))?;
    }
    Ok(())
}
