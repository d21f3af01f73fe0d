//! Plumbing shared by all data-set tables: writing one Parquet record batch with key-value
//! metadata (snappy; atomic rename and overwrite refusal by [`crate::output`]), and reading selected columns by name
//! through the one table reader [`crate::tabular`] (Parquet: lenient numeric types, Float32
//! for Float64 and any integer width for integers, nulls told from NaN; FITS, VOTable, ECSV,
//! CSV: the typed accessors of [`crate::tabular::Table`]) with row-numbered errors.

use crate::error::IoError;
pub(crate) use crate::output::check_overwrite;
use crate::output::write_atomically;
use crate::tabular::{self, ColumnData, IntError, ReadColumn, TableFormat, Unit};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Key-value metadata key naming the table kind, written into every file.
pub const META_TABLE: &str = "astrosolve.table";
/// Key-value metadata key of the file-format version, written into every file.
pub const META_FORMAT_VERSION: &str = "astrosolve.format_version";
/// Current format version.
pub const FORMAT_VERSION: &str = "1";

/// A table checked and converted to file columns, ready to be written.
pub(crate) struct Prepared {
    pub table: &'static str,
    pub columns: Vec<(Field, ArrayRef)>,
    pub metadata: Vec<(String, String)>,
}

impl Prepared {
    pub fn write(self, path: &Path, overwrite: bool) -> Result<(), IoError> {
        write_table(path, self.table, self.columns, self.metadata, overwrite)
    }
}

/// Writes one table: `columns` (field, array) in order, key-value `metadata` besides the
/// table name and format version, snappy-compressed.
fn write_table(
    path: &Path,
    table: &str,
    columns: Vec<(Field, ArrayRef)>,
    metadata: Vec<(String, String)>,
    overwrite: bool,
) -> Result<(), IoError> {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays)
        .map_err(|e| IoError::invalid(path, format!("cannot assemble the table: {e}")))?;
    let mut kv = vec![
        KeyValue::new(META_TABLE.to_string(), table.to_string()),
        KeyValue::new(META_FORMAT_VERSION.to_string(), FORMAT_VERSION.to_string()),
    ];
    kv.extend(metadata.into_iter().map(|(k, v)| KeyValue::new(k, v)));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("astrosolve-io {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(kv))
        .build();
    write_atomically(path, overwrite, |file| {
        let err = |e: parquet::errors::ParquetError| {
            IoError::invalid(path, format!("cannot write Parquet: {e}"))
        };
        let mut writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(err)?;
        writer.write(&batch).map_err(err)?;
        writer.close().map_err(err)?;
        Ok(())
    })
}

/// Writes one table in row groups: `fields` in order, then the arrays of each row group from
/// `next_group` (None after the last), each flushed as its own row group, so that only one
/// group's arrays and encoded pages are held at a time; key-value `metadata` as
/// [`Prepared::write`], snappy-compressed, through a temporary file and a rename.
pub(crate) fn write_row_groups(
    path: &Path,
    table: &str,
    fields: Vec<Field>,
    metadata: Vec<(String, String)>,
    overwrite: bool,
    next_group: &mut dyn FnMut() -> Result<Option<Vec<ArrayRef>>, IoError>,
) -> Result<(), IoError> {
    let schema = Arc::new(Schema::new(fields));
    let mut kv = vec![
        KeyValue::new(META_TABLE.to_string(), table.to_string()),
        KeyValue::new(META_FORMAT_VERSION.to_string(), FORMAT_VERSION.to_string()),
    ];
    kv.extend(metadata.into_iter().map(|(k, v)| KeyValue::new(k, v)));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("astrosolve-io {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(kv))
        // the caller's groups decide the row groups (flushed below), not a row count
        .set_max_row_group_row_count(None)
        .build();
    write_atomically(path, overwrite, |file| {
        let err = |e: parquet::errors::ParquetError| {
            IoError::invalid(path, format!("cannot write Parquet: {e}"))
        };
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(err)?;
        while let Some(arrays) = next_group()? {
            let batch = RecordBatch::try_new(schema.clone(), arrays)
                .map_err(|e| IoError::invalid(path, format!("cannot assemble the table: {e}")))?;
            writer.write(&batch).map_err(err)?;
            writer.flush().map_err(err)?;
        }
        writer.close().map_err(err)?;
        Ok(())
    })
}

/// Formats a float so that parsing it back gives the same bits.
pub(crate) fn fmt_f64(v: f64) -> String {
    format!("{v:?}")
}

/// Selected columns of a data-set table, read into memory through [`crate::tabular`]: a
/// Parquet file keeps its own column types (checked strictly: float64/float32 for floats,
/// any integer width for integers), its key-value metadata and the distinction between a
/// null and a NaN; any other format [`TableFormat::detect`] recognises (FITS, VOTable, ECSV,
/// CSV) is read with the lenient typed accessors of [`tabular::Table`] (integers widened,
/// integral floats and numeric text accepted), and there a NaN float counts as a null.
pub(crate) struct Table {
    pub path: PathBuf,
    pub n_rows: usize,
    /// Top-level fields of the whole file (including columns not read); for a format other
    /// than Parquet, the types the columns were read as (numeric text: Float64).
    pub fields: Vec<Arc<Field>>,
    metadata: HashMap<String, String>,
    source: Source,
    /// Data rows of the file before this table's first (a chunk of [`TableStream`]; 0 for a
    /// whole file): added to the row numbers of errors.
    pub first_row: usize,
}

enum Source {
    Parquet(HashMap<String, ReadColumn>),
    Other(tabular::Table),
}

/// Expected kind of a column, for type errors.
const FLOAT: &str = "float64 (float32 accepted)";
const INT: &str = "an integer type";
const BOOL: &str = "boolean";

impl Table {
    /// Opens `path` (any format [`TableFormat::detect`] recognises) and reads, from a Parquet
    /// file, the top-level columns for which `want` is true (other formats: all columns).
    pub fn read(path: &Path, want: &dyn Fn(&Field) -> bool) -> Result<Table, IoError> {
        let format = TableFormat::detect(path)?;
        if format == TableFormat::Parquet {
            let p = tabular::read_columns(path, want)?;
            return Ok(Table {
                path: path.to_path_buf(),
                n_rows: p.n_rows,
                fields: p.fields,
                metadata: p.metadata,
                source: Source::Parquet(p.columns),
                first_row: 0,
            });
        }
        let t = tabular::read_table(path, Some(format))?;
        let fields = t
            .columns
            .iter()
            .map(|c| {
                let dt = match &c.data {
                    ColumnData::Float(_) => DataType::Float64,
                    ColumnData::Int(_) => DataType::Int64,
                    ColumnData::Bool(_) => DataType::Boolean,
                    ColumnData::Text(v) if v.iter().all(|s| text_is_number(s.as_deref())) => {
                        DataType::Float64
                    }
                    ColumnData::Text(_) => DataType::Utf8,
                    ColumnData::FloatList(_) | ColumnData::IntList(_) | ColumnData::BoolList(_) => {
                        DataType::Null
                    }
                };
                Arc::new(Field::new(c.name.clone(), dt, true))
            })
            .collect();
        Ok(Table {
            path: path.to_path_buf(),
            n_rows: t.n_rows(),
            fields,
            metadata: HashMap::new(),
            source: Source::Other(t),
            first_row: 0,
        })
    }

    /// Opens `path` for reading chunk by chunk ([`TableStream`]): a Parquet file in record
    /// batches of at most `batch_rows` rows of the columns for which `want` is true (one
    /// batch of Arrow arrays held at a time); any other format whole, as one chunk.
    pub fn stream(
        path: &Path,
        want: &dyn Fn(&Field) -> bool,
        batch_rows: usize,
    ) -> Result<TableStream, IoError> {
        let inner = if TableFormat::detect(path)? == TableFormat::Parquet {
            StreamSource::Parquet(tabular::stream_columns(path, want, batch_rows)?)
        } else {
            StreamSource::Whole(Some(Table::read(path, want)?))
        };
        Ok(TableStream {
            path: path.to_path_buf(),
            inner,
        })
    }

    /// True if the file has a top-level column of this name.
    pub fn has(&self, name: &str) -> bool {
        match &self.source {
            Source::Parquet(_) => self.fields.iter().any(|f| f.name() == name),
            Source::Other(t) => t.find(&[name]).is_some(),
        }
    }

    /// A key-value metadata entry (Parquet only).
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// A required key-value metadata entry.
    pub fn meta_required(&self, key: &str, what: &str) -> Result<&str, IoError> {
        self.meta(key).ok_or_else(|| {
            IoError::invalid(
                &self.path,
                format!("missing key-value metadata \"{key}\" ({what})"),
            )
        })
    }

    /// A required key-value metadata entry parsed as `T`.
    pub fn meta_parse<T: std::str::FromStr>(&self, key: &str, what: &str) -> Result<T, IoError> {
        let s = self.meta_required(key, what)?;
        s.trim().parse().map_err(|_| {
            IoError::invalid(
                &self.path,
                format!(
                    "key-value metadata \"{key}\" = \"{s}\" is not a valid {}",
                    std::any::type_name::<T>()
                ),
            )
        })
    }

    /// The column read under `name` (Parquet), with the file's type checked by `accept`.
    fn parquet_column<'a>(
        &self,
        columns: &'a HashMap<String, ReadColumn>,
        name: &str,
        accept: fn(&DataType) -> bool,
        expected: &'static str,
    ) -> Result<&'a ReadColumn, IoError> {
        let f = self
            .fields
            .iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| IoError::MissingColumn {
                path: self.path.clone(),
                column: name.to_string(),
            })?;
        if !accept(f.data_type()) {
            return Err(IoError::ColumnType {
                path: self.path.clone(),
                column: name.to_string(),
                found: f.data_type().to_string(),
                expected,
            });
        }
        columns
            .get(name)
            .ok_or_else(|| IoError::invalid(&self.path, format!("column \"{name}\" was not read")))
    }

    fn kind_error(&self, c: &ReadColumn, expected: &'static str) -> IoError {
        IoError::ColumnType {
            path: self.path.clone(),
            column: c.field.name().clone(),
            found: c.field.data_type().to_string(),
            expected,
        }
    }

    fn null_error(&self, name: &str, row: usize) -> IoError {
        let what = match self.source {
            Source::Parquet(_) => "null in a required value",
            Source::Other(_) => "null or NaN in a required value",
        };
        IoError::value(&self.path, self.first_row + row, name, what)
    }

    /// True if the column's type is a float this reader accepts.
    pub fn is_float(dt: &DataType) -> bool {
        matches!(dt, DataType::Float64 | DataType::Float32)
    }

    /// True if the column's type is an integer this reader accepts.
    pub fn is_int(dt: &DataType) -> bool {
        matches!(
            dt,
            DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::UInt64
        )
    }

    /// A float column, nulls replaced by NaN, plus the validity of each row when the
    /// column has nulls (None: no nulls).
    pub fn f64_nullable(&self, name: &str) -> Result<(Vec<f64>, Option<Vec<bool>>), IoError> {
        self.f64_nullable_in(name, Unit::Any)
    }

    /// [`Table::f64_nullable`] in `unit`, converted from the unit the file states (none
    /// stated: taken as `unit`).
    pub fn f64_nullable_in(
        &self,
        name: &str,
        unit: Unit,
    ) -> Result<(Vec<f64>, Option<Vec<bool>>), IoError> {
        match &self.source {
            Source::Parquet(cols) => {
                let c = self.parquet_column(cols, name, Self::is_float, FLOAT)?;
                let stated = c.unit();
                let factor = tabular::unit_factor(stated.as_deref(), unit).map_err(|message| {
                    IoError::Unit {
                        path: self.path.clone(),
                        column: name.to_string(),
                        unit: stated.clone().unwrap_or_default(),
                        message,
                    }
                })?;
                let (mut v, valid) = c.floats().ok_or_else(|| self.kind_error(c, FLOAT))?;
                if factor != 1.0 {
                    v.iter_mut().for_each(|x| *x *= factor);
                }
                Ok((v, valid))
            }
            Source::Other(t) => {
                let v = t.f64_column(&[name], unit)?;
                let valid = v
                    .iter()
                    .any(|x| x.is_nan())
                    .then(|| v.iter().map(|x| !x.is_nan()).collect());
                Ok((v, valid))
            }
        }
    }

    /// A float column without nulls.
    pub fn f64_required(&self, name: &str) -> Result<Vec<f64>, IoError> {
        self.f64_required_in(name, Unit::Any)
    }

    /// [`Table::f64_required`] in `unit` (see [`Table::f64_nullable_in`]).
    pub fn f64_required_in(&self, name: &str, unit: Unit) -> Result<Vec<f64>, IoError> {
        let (v, valid) = self.f64_nullable_in(name, unit)?;
        if let Some(valid) = valid {
            if let Some(i) = valid.iter().position(|ok| !ok) {
                return Err(self.null_error(name, i + 1));
            }
        }
        Ok(v)
    }

    /// An integer column (any width, signed or unsigned) without nulls, as i64.
    pub fn i64_required(&self, name: &str) -> Result<Vec<i64>, IoError> {
        let v = match &self.source {
            Source::Parquet(cols) => {
                let c = self.parquet_column(cols, name, Self::is_int, INT)?;
                return match c.ints_required() {
                    Some(Ok(v)) => Ok(v),
                    Some(Err(IntError::Null(i))) => Err(self.null_error(name, i + 1)),
                    Some(Err(IntError::Value(i, m))) => {
                        Err(IoError::value(&self.path, self.first_row + i + 1, name, m))
                    }
                    None => Err(self.kind_error(c, INT)),
                };
            }
            Source::Other(t) => t.i64_column(&[name])?,
        };
        self.no_null(name, &v)
    }

    /// The values of `v`, or an error naming the first null.
    fn no_null<T: Copy>(&self, name: &str, v: &[Option<T>]) -> Result<Vec<T>, IoError> {
        let mut out = Vec::with_capacity(v.len());
        for (i, x) in v.iter().enumerate() {
            match x {
                Some(x) => out.push(*x),
                None => return Err(self.null_error(name, i + 1)),
            }
        }
        Ok(out)
    }

    /// An integer column of any width as float64, nulls as NaN (for extra columns).
    pub fn int_as_f64(&self, name: &str) -> Result<Vec<f64>, IoError> {
        match &self.source {
            Source::Parquet(cols) => {
                let c = self.parquet_column(cols, name, Self::is_int, INT)?;
                c.floats()
                    .map(|(v, _)| v)
                    .ok_or_else(|| self.kind_error(c, INT))
            }
            Source::Other(t) => t.f64_column(&[name], Unit::Any),
        }
    }

    /// A boolean column without nulls.
    pub fn bool_required(&self, name: &str) -> Result<Vec<bool>, IoError> {
        let v = match &self.source {
            Source::Parquet(cols) => {
                let c = self.parquet_column(cols, name, |dt| *dt == DataType::Boolean, BOOL)?;
                c.bools().ok_or_else(|| self.kind_error(c, BOOL))?
            }
            Source::Other(t) => t.bool_column(&[name])?,
        };
        self.no_null(name, &v)
    }

    /// Checks the number of values read against the row count (guards against
    /// inconsistent files).
    pub fn check_len<T>(&self, name: &str, v: &[T]) -> Result<(), IoError> {
        if v.len() != self.n_rows {
            return Err(IoError::parquet(
                &self.path,
                format!(
                    "column \"{name}\" has {} values for {} rows",
                    v.len(),
                    self.n_rows
                ),
            ));
        }
        Ok(())
    }
}

/// A table read chunk by chunk ([`Table::stream`]).
pub(crate) struct TableStream {
    path: PathBuf,
    inner: StreamSource,
}

enum StreamSource {
    Parquet(tabular::ColumnStream),
    /// A format other than Parquet, read whole: one chunk.
    Whole(Option<Table>),
}

impl TableStream {
    /// Rows of the whole file (a Parquet file's footer).
    pub fn n_rows(&self) -> usize {
        match &self.inner {
            StreamSource::Parquet(p) => p.n_rows,
            StreamSource::Whole(t) => t.as_ref().map_or(0, |t| t.n_rows),
        }
    }

    /// The next chunk as a [`Table`] (its `first_row` set, no key-value metadata); None
    /// after the last.
    pub fn next_chunk(&mut self) -> Result<Option<Table>, IoError> {
        match &mut self.inner {
            StreamSource::Whole(t) => Ok(t.take()),
            StreamSource::Parquet(p) => Ok(p.next_chunk()?.map(|(first_row, c)| Table {
                path: self.path.clone(),
                n_rows: c.n_rows,
                fields: c.fields,
                metadata: c.metadata,
                source: Source::Parquet(c.columns),
                first_row,
            })),
        }
    }
}

/// True if a text cell reads as a number or a null (for typing the columns of a CSV file).
fn text_is_number(s: Option<&str>) -> bool {
    match s.map(str::trim) {
        None => true,
        Some(t) => {
            t.is_empty()
                || t.parse::<f64>().is_ok()
                || matches!(
                    t.to_ascii_lowercase().as_str(),
                    "nan" | "null" | "inf" | "-inf" | "+inf" | "infinity" | "-infinity"
                )
        }
    }
}

/// Helpers to build columns.
pub(crate) mod col {
    use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, Int8Array};
    use arrow_schema::{DataType, Field};
    use std::sync::Arc;

    pub fn f64(name: &str, v: Vec<f64>) -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Float64, false),
            Arc::new(Float64Array::from(v)),
        )
    }
    /// Float column with nulls where `v` is None.
    pub fn f64_opt(name: &str, v: Vec<Option<f64>>) -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Float64, true),
            Arc::new(Float64Array::from(v)),
        )
    }
    pub fn i64(name: &str, v: Vec<i64>) -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Int64, false),
            Arc::new(Int64Array::from(v)),
        )
    }
    pub fn i32(name: &str, v: Vec<i32>) -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Int32, false),
            Arc::new(Int32Array::from(v)),
        )
    }
    pub fn i8(name: &str, v: Vec<i8>) -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Int8, false),
            Arc::new(Int8Array::from(v)),
        )
    }
    pub fn bool(name: &str, v: Vec<bool>) -> (Field, ArrayRef) {
        (
            Field::new(name, DataType::Boolean, false),
            Arc::new(BooleanArray::from(v)),
        )
    }
}
