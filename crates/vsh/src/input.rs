//! Catalogue readers: Parquet (astrosolve catalogues, Gaia archive exports) and CSV / ECSV
//! (Gaia archive exports), with Gaia column names and units.
//!
//! Columns read: `ra`, `dec` [deg], `pmra` (µα*), `pmdec`, `pmra_error`, `pmdec_error`
//! [mas/yr], `pmra_pmdec_corr`, plus every column a selection uses. Names are matched exactly,
//! else case-insensitively. Values are converted to radians and µas/yr.
//!
//! Selection first, validation second: only selected rows must have valid values. A selected
//! row with a missing (null / empty), NaN or out-of-range value in a needed column is an error
//! naming the file, the row (Parquet: 0-based data row) or line (CSV: 1-based text line) and
//! the column — or, with `skip_invalid`, the row is skipped and counted per column.
//! Valid ranges: finite values; |dec| ≤ 90°; errors > 0; |pmra_pmdec_corr| < 1.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
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

/// Input file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values (Gaia archive CSV, or ECSV with `#` header lines).
    Csv,
}

impl InputFormat {
    /// Guesses the format from the extension, else from the `PAR1` magic bytes.
    pub fn detect(path: &Path) -> Result<InputFormat, VshError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("parquet") | Some("pq") => return Ok(InputFormat::Parquet),
            Some("csv") | Some("ecsv") | Some("txt") => return Ok(InputFormat::Csv),
            _ => {}
        }
        let mut magic = [0u8; 4];
        let mut f = File::open(path).map_err(|source| VshError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let n = f.read(&mut magic).map_err(|source| VshError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(if n == 4 && &magic == b"PAR1" {
            InputFormat::Parquet
        } else {
            InputFormat::Csv
        })
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

/// Reads `path` (format detected when `format` is None), applying `selection`.
pub fn read_catalogue(
    path: &Path,
    format: Option<InputFormat>,
    selection: &Selection,
    skip_invalid: bool,
) -> Result<Catalogue, VshError> {
    let format = match format {
        Some(f) => f,
        None => InputFormat::detect(path)?,
    };
    let sel_cols = selection.columns();
    let mut acc = Accumulator {
        path: path.to_path_buf(),
        skip_invalid,
        data: PmData::default(),
        n_rows: 0,
        n_selected: 0,
        skipped: BTreeMap::new(),
    };
    match format {
        InputFormat::Parquet => read_parquet(path, selection, &sel_cols, &mut acc)?,
        InputFormat::Csv => read_csv(path, selection, &sel_cols, &mut acc)?,
    }
    let summary = InputSummary {
        path: path.to_path_buf(),
        format,
        n_rows: acc.n_rows,
        n_selected: acc.n_selected,
        n_valid: acc.data.len(),
        skipped_invalid: acc.skipped,
        selection: selection.exprs.clone(),
    };
    Ok(Catalogue {
        data: acc.data,
        summary,
    })
}

/// A cell of a needed column: `None` when missing (null / empty field).
type Cell = Option<f64>;

struct Accumulator {
    path: PathBuf,
    skip_invalid: bool,
    data: PmData,
    n_rows: usize,
    n_selected: usize,
    skipped: BTreeMap<String, usize>,
}

impl Accumulator {
    /// Validates one selected row (`v` in [`REQUIRED_COLUMNS`] order) and stores it.
    fn push(&mut self, v: [Cell; 7], location: impl Fn() -> String) -> Result<(), VshError> {
        for (k, cell) in v.iter().enumerate() {
            let problem = match *cell {
                None => Some("missing value (null or empty field)".to_string()),
                Some(x) if x.is_nan() => Some("NaN".to_string()),
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
            };
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

/// Finds `name` among `names`: exact match first, else case-insensitive.
fn find_column(names: &[String], name: &str) -> Option<usize> {
    names
        .iter()
        .position(|n| n == name)
        .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(name)))
}

fn missing_column(path: &Path, column: &str, names: &[String]) -> VshError {
    let mut available = names.join(", ");
    if available.len() > 400 {
        available.truncate(400);
        available.push_str(", …");
    }
    VshError::MissingColumn {
        path: path.to_path_buf(),
        column: column.to_string(),
        available,
    }
}

// ---------------------------------------------------------------- Parquet

/// Typed view of a numeric or boolean Arrow column.
enum Col<'a> {
    F64(&'a arrow_array::Float64Array),
    F32(&'a arrow_array::Float32Array),
    I64(&'a arrow_array::Int64Array),
    I32(&'a arrow_array::Int32Array),
    I16(&'a arrow_array::Int16Array),
    I8(&'a arrow_array::Int8Array),
    U64(&'a arrow_array::UInt64Array),
    U32(&'a arrow_array::UInt32Array),
    U16(&'a arrow_array::UInt16Array),
    U8(&'a arrow_array::UInt8Array),
    Bool(&'a arrow_array::BooleanArray),
}

fn numeric_type(dt: &DataType, allow_bool: bool) -> bool {
    matches!(
        dt,
        DataType::Float64
            | DataType::Float32
            | DataType::Int64
            | DataType::Int32
            | DataType::Int16
            | DataType::Int8
            | DataType::UInt64
            | DataType::UInt32
            | DataType::UInt16
            | DataType::UInt8
    ) || (allow_bool && *dt == DataType::Boolean)
}

impl<'a> Col<'a> {
    fn new(a: &'a ArrayRef) -> Option<Col<'a>> {
        Some(match a.data_type() {
            DataType::Float64 => Col::F64(a.as_primitive::<Float64Type>()),
            DataType::Float32 => Col::F32(a.as_primitive::<Float32Type>()),
            DataType::Int64 => Col::I64(a.as_primitive::<Int64Type>()),
            DataType::Int32 => Col::I32(a.as_primitive::<Int32Type>()),
            DataType::Int16 => Col::I16(a.as_primitive::<Int16Type>()),
            DataType::Int8 => Col::I8(a.as_primitive::<Int8Type>()),
            DataType::UInt64 => Col::U64(a.as_primitive::<UInt64Type>()),
            DataType::UInt32 => Col::U32(a.as_primitive::<UInt32Type>()),
            DataType::UInt16 => Col::U16(a.as_primitive::<UInt16Type>()),
            DataType::UInt8 => Col::U8(a.as_primitive::<UInt8Type>()),
            DataType::Boolean => Col::Bool(a.as_boolean()),
            _ => return None,
        })
    }

    #[inline]
    fn get(&self, i: usize) -> Cell {
        macro_rules! g {
            ($a:expr) => {
                if $a.is_null(i) {
                    None
                } else {
                    Some($a.value(i) as f64)
                }
            };
        }
        match self {
            Col::F64(a) => g!(a),
            Col::F32(a) => g!(a),
            Col::I64(a) => g!(a),
            Col::I32(a) => g!(a),
            Col::I16(a) => g!(a),
            Col::I8(a) => g!(a),
            Col::U64(a) => g!(a),
            Col::U32(a) => g!(a),
            Col::U16(a) => g!(a),
            Col::U8(a) => g!(a),
            Col::Bool(a) => {
                if a.is_null(i) {
                    None
                } else {
                    Some(if a.value(i) { 1.0 } else { 0.0 })
                }
            }
        }
    }
}

fn typed_column<'a>(a: &'a ArrayRef, path: &Path, name: &str) -> Result<Col<'a>, VshError> {
    Col::new(a).ok_or_else(|| VshError::WrongType {
        path: path.to_path_buf(),
        column: name.to_string(),
        found: format!("{}", a.data_type()),
        expected: "a numeric type",
    })
}

fn read_parquet(
    path: &Path,
    selection: &Selection,
    sel_cols: &[String],
    acc: &mut Accumulator,
) -> Result<(), VshError> {
    let perr = |e: parquet::errors::ParquetError| VshError::Format {
        path: path.to_path_buf(),
        format: "Parquet",
        message: e.to_string(),
    };
    let file = File::open(path).map_err(|source| VshError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(perr)?;
    let schema = builder.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    // Resolve and type-check all needed columns before reading any data.
    let resolve = |name: &str, allow_bool: bool| -> Result<usize, VshError> {
        let k = find_column(&names, name).ok_or_else(|| missing_column(path, name, &names))?;
        let dt = schema.field(k).data_type();
        if !numeric_type(dt, allow_bool) {
            return Err(VshError::WrongType {
                path: path.to_path_buf(),
                column: names[k].clone(),
                found: format!("{dt}"),
                expected: if allow_bool {
                    "a numeric or boolean type"
                } else {
                    "a numeric type (float or integer)"
                },
            });
        }
        Ok(k)
    };
    let req: Vec<usize> = REQUIRED_COLUMNS
        .iter()
        .map(|c| resolve(c, false))
        .collect::<Result<_, _>>()?;
    let sel: Vec<usize> = sel_cols
        .iter()
        .map(|c| resolve(c, true))
        .collect::<Result<_, _>>()?;
    let mut roots: Vec<usize> = req.iter().chain(&sel).copied().collect();
    roots.sort_unstable();
    roots.dedup();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(65_536)
        .build()
        .map_err(perr)?;
    let mut row0 = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| VshError::Format {
            path: path.to_path_buf(),
            format: "Parquet",
            message: e.to_string(),
        })?;
        let get = |k: usize| -> Result<&ArrayRef, VshError> {
            batch
                .column_by_name(&names[k])
                .ok_or_else(|| missing_column(path, &names[k], &names))
        };
        let req_arrays: Vec<&ArrayRef> = req.iter().map(|&k| get(k)).collect::<Result<_, _>>()?;
        let sel_arrays: Vec<&ArrayRef> = sel.iter().map(|&k| get(k)).collect::<Result<_, _>>()?;
        let rc: Vec<Col> = req_arrays
            .iter()
            .zip(&req)
            .map(|(a, &k)| typed_column(a, path, &names[k]))
            .collect::<Result<_, _>>()?;
        let sc: Vec<Col> = sel_arrays
            .iter()
            .zip(&sel)
            .map(|(a, &k)| typed_column(a, path, &names[k]))
            .collect::<Result<_, _>>()?;
        for i in 0..batch.num_rows() {
            acc.n_rows += 1;
            if !selection.is_empty()
                && !selection.eval(sel_cols, |k| sc[k].get(i).unwrap_or(f64::NAN))
            {
                continue;
            }
            acc.n_selected += 1;
            let v = [0, 1, 2, 3, 4, 5, 6].map(|k| rc[k].get(i));
            let row = row0 + i;
            acc.push(v, || format!("row {row} (0-based)"))?;
        }
        row0 += batch.num_rows();
    }
    Ok(())
}

// ---------------------------------------------------------------- CSV

/// Delimiter declared in an ECSV header (`# delimiter: ' '`), else `,`.
fn csv_delimiter(path: &Path) -> Result<u8, VshError> {
    let f = File::open(path).map_err(|source| VshError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    for line in BufReader::new(f).lines().take(10_000) {
        let line = line.map_err(|source| VshError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if !line.starts_with('#') {
            break;
        }
        if let Some(rest) = line
            .trim_start_matches('#')
            .trim()
            .strip_prefix("delimiter:")
        {
            let d = rest.trim().trim_matches('\'').trim_matches('"');
            if d.is_empty() {
                // `delimiter: ' '` trimmed to nothing: a space.
                return Ok(b' ');
            }
            return Ok(d.as_bytes()[0]);
        }
    }
    Ok(b',')
}

/// Parses a numeric field; `Ok(None)` when missing, `Err(())` when not a number.
fn parse_number(field: &[u8]) -> Result<Cell, ()> {
    let s = std::str::from_utf8(field).map_err(|_| ())?.trim();
    match s {
        "" | "null" | "NULL" | "Null" | "--" | "nan" | "NaN" | "NAN" => {
            if s.eq_ignore_ascii_case("nan") {
                Ok(Some(f64::NAN))
            } else {
                Ok(None)
            }
        }
        _ => s.parse::<f64>().map(Some).map_err(|_| ()),
    }
}

/// Parses a selection field: numbers, or booleans `true/false/t/f/yes/no` (as 1/0).
fn parse_selection_value(field: &[u8]) -> Result<Cell, ()> {
    let s = std::str::from_utf8(field).map_err(|_| ())?.trim();
    match s.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" => Ok(Some(1.0)),
        "false" | "f" | "no" => Ok(Some(0.0)),
        _ => parse_number(field),
    }
}

fn read_csv(
    path: &Path,
    selection: &Selection,
    sel_cols: &[String],
    acc: &mut Accumulator,
) -> Result<(), VshError> {
    let cerr = |message: String| VshError::Format {
        path: path.to_path_buf(),
        format: "CSV",
        message,
    };
    let delimiter = csv_delimiter(path)?;
    let mut rdr = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .from_path(path)
        .map_err(|e| cerr(e.to_string()))?;
    let names: Vec<String> = rdr
        .headers()
        .map_err(|e| cerr(e.to_string()))?
        .iter()
        .map(|s| s.trim().trim_matches('"').to_string())
        .collect();
    let req: Vec<usize> = REQUIRED_COLUMNS
        .iter()
        .map(|c| find_column(&names, c).ok_or_else(|| missing_column(path, c, &names)))
        .collect::<Result<_, _>>()?;
    let sel: Vec<usize> = sel_cols
        .iter()
        .map(|c| find_column(&names, c).ok_or_else(|| missing_column(path, c, &names)))
        .collect::<Result<_, _>>()?;
    let mut rec = csv::ByteRecord::new();
    let mut vals: Vec<f64> = Vec::with_capacity(sel.len());
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(cerr(e.to_string())),
        }
        acc.n_rows += 1;
        let line = rec.position().map_or(0, |p| p.line());
        let not_a_number = |k: usize, field: &[u8]| {
            cerr(format!(
                "line {line}, column '{}': cannot parse '{}' as a number",
                names[k],
                String::from_utf8_lossy(field)
            ))
        };
        if !selection.is_empty() {
            vals.clear();
            for &k in &sel {
                let f = rec.get(k).unwrap_or(b"");
                vals.push(
                    parse_selection_value(f)
                        .map_err(|_| not_a_number(k, f))?
                        .unwrap_or(f64::NAN),
                );
            }
            if !selection.eval(sel_cols, |k| vals[k]) {
                continue;
            }
        }
        acc.n_selected += 1;
        let mut v: [Cell; 7] = [None; 7];
        for (c, &k) in v.iter_mut().zip(&req) {
            let f = rec.get(k).unwrap_or(b"");
            *c = parse_number(f).map_err(|_| not_a_number(k, f))?;
        }
        acc.push(v, || format!("line {line}"))?;
    }
    Ok(())
}
