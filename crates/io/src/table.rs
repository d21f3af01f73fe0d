//! Parquet plumbing shared by all tables: writing one record batch with key-value metadata
//! (snappy, atomic rename, overwrite refusal) and reading selected columns by name with
//! lenient numeric types (Float32 for Float64, any integer width for integers) and
//! row-numbered errors.

use crate::error::IoError;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use std::collections::HashMap;
use std::fs::File;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Key-value metadata key naming the table kind, written into every file.
pub const META_TABLE: &str = "astrosolve.table";
/// Key-value metadata key of the file-format version, written into every file.
pub const META_FORMAT_VERSION: &str = "astrosolve.format_version";
/// Current format version.
pub const FORMAT_VERSION: &str = "1";

/// Rows per record batch when reading.
const READ_BATCH_ROWS: usize = 1 << 16;

/// Fails with [`IoError::Exists`] if `path` exists and `overwrite` is false.
pub(crate) fn check_overwrite(path: &Path, overwrite: bool) -> Result<(), IoError> {
    if !overwrite && path.exists() {
        return Err(IoError::Exists {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Path of the temporary file a writer fills before renaming it into place.
pub(crate) fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.partial"))
}

/// Writes `bytes` produced by `fill` to `path` through a temporary file and a rename, so a
/// failed write never leaves a half-written file under the final name.
pub(crate) fn write_atomically(
    path: &Path,
    overwrite: bool,
    fill: impl FnOnce(File) -> Result<(), IoError>,
) -> Result<(), IoError> {
    check_overwrite(path, overwrite)?;
    let tmp = partial_path(path);
    let file = File::create(&tmp).map_err(|e| IoError::os(path, "create", e))?;
    let result = fill(file).and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|e| IoError::os(path, "rename into place", e))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

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

/// Formats a float so that parsing it back gives the same bits.
pub(crate) fn fmt_f64(v: f64) -> String {
    format!("{v:?}")
}

/// Selected columns of a Parquet file, read into memory.
pub(crate) struct Table {
    pub path: PathBuf,
    pub n_rows: usize,
    /// Top-level fields of the whole file (including columns not read).
    pub fields: Vec<Arc<Field>>,
    metadata: HashMap<String, String>,
    columns: HashMap<String, Vec<ArrayRef>>,
}

/// Expected kind of a column, for type errors.
const FLOAT: &str = "float64 (float32 accepted)";
const INT: &str = "an integer type";
const BOOL: &str = "boolean";

impl Table {
    /// Opens `path` and reads the top-level columns for which `want` is true.
    pub fn read(path: &Path, want: &dyn Fn(&Field) -> bool) -> Result<Table, IoError> {
        let file = File::open(path).map_err(|e| IoError::os(path, "open", e))?;
        // The Parquet decoder is not expected to panic on corrupt input, but a data file
        // must never bring the program down: turn any panic into an error.
        match catch_unwind(AssertUnwindSafe(|| Self::read_file(path, file, want))) {
            Ok(r) => r,
            Err(_) => Err(IoError::parquet(
                path,
                "corrupt file (the Parquet decoder failed)",
            )),
        }
    }

    fn read_file(path: &Path, file: File, want: &dyn Fn(&Field) -> bool) -> Result<Table, IoError> {
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| IoError::parquet(path, e))?;
        let fields: Vec<Arc<Field>> = builder.schema().fields().iter().cloned().collect();
        let metadata: HashMap<String, String> = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .map(|kv| {
                kv.iter()
                    .filter_map(|k| k.value.as_ref().map(|v| (k.key.clone(), v.clone())))
                    .collect()
            })
            .unwrap_or_default();
        let n_rows = usize::try_from(builder.metadata().file_metadata().num_rows())
            .map_err(|_| IoError::parquet(path, "negative row count"))?;
        let mut seen = HashMap::new();
        let mut roots = Vec::new();
        for (i, f) in fields.iter().enumerate() {
            if want(f) {
                if seen.insert(f.name().clone(), i).is_some() {
                    return Err(IoError::invalid(
                        path,
                        format!("column \"{}\" appears more than once", f.name()),
                    ));
                }
                roots.push(i);
            }
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
        let reader = builder
            .with_projection(mask)
            .with_batch_size(READ_BATCH_ROWS)
            .build()
            .map_err(|e| IoError::parquet(path, e))?;
        let mut columns: HashMap<String, Vec<ArrayRef>> = HashMap::new();
        let mut read_rows = 0usize;
        for batch in reader {
            let batch = batch.map_err(|e| IoError::parquet(path, e))?;
            read_rows += batch.num_rows();
            for (f, a) in batch.schema().fields().iter().zip(batch.columns()) {
                columns.entry(f.name().clone()).or_default().push(a.clone());
            }
        }
        if !roots.is_empty() && read_rows != n_rows {
            return Err(IoError::parquet(
                path,
                format!("footer announces {n_rows} rows but {read_rows} were decoded"),
            ));
        }
        Ok(Table {
            path: path.to_path_buf(),
            n_rows,
            fields,
            metadata,
            columns,
        })
    }

    /// True if the file has a top-level column of this name.
    pub fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|f| f.name() == name)
    }

    /// A key-value metadata entry.
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

    fn field(&self, name: &str) -> Result<&Field, IoError> {
        self.fields
            .iter()
            .find(|f| f.name() == name)
            .map(|f| f.as_ref())
            .ok_or_else(|| IoError::MissingColumn {
                path: self.path.clone(),
                column: name.to_string(),
            })
    }

    fn chunks(&self, name: &str) -> &[ArrayRef] {
        self.columns.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    fn type_error(&self, name: &str, dt: &DataType, expected: &'static str) -> IoError {
        IoError::ColumnType {
            path: self.path.clone(),
            column: name.to_string(),
            found: dt.to_string(),
            expected,
        }
    }

    fn null_error(&self, name: &str, row: usize) -> IoError {
        IoError::value(&self.path, row, name, "null in a required value")
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
        let dt = self.field(name)?.data_type().clone();
        if !Self::is_float(&dt) {
            return Err(self.type_error(name, &dt, FLOAT));
        }
        let mut out = Vec::with_capacity(self.n_rows);
        let mut valid: Option<Vec<bool>> = None;
        for chunk in self.chunks(name) {
            let start = out.len();
            match chunk.data_type() {
                DataType::Float64 => {
                    out.extend_from_slice(chunk.as_primitive::<Float64Type>().values())
                }
                DataType::Float32 => out.extend(
                    chunk
                        .as_primitive::<Float32Type>()
                        .values()
                        .iter()
                        .map(|&v| v as f64),
                ),
                other => return Err(self.type_error(name, other, FLOAT)),
            }
            if chunk.null_count() > 0 {
                let v = valid.get_or_insert_with(|| vec![true; start]);
                for i in 0..chunk.len() {
                    let ok = chunk.is_valid(i);
                    if !ok {
                        out[start + i] = f64::NAN;
                    }
                    v.push(ok);
                }
            } else if let Some(v) = valid.as_mut() {
                v.resize(out.len(), true);
            }
        }
        Ok((out, valid))
    }

    /// A float column without nulls.
    pub fn f64_required(&self, name: &str) -> Result<Vec<f64>, IoError> {
        let (v, valid) = self.f64_nullable(name)?;
        if let Some(valid) = valid {
            if let Some(i) = valid.iter().position(|ok| !ok) {
                return Err(self.null_error(name, i + 1));
            }
        }
        Ok(v)
    }

    /// An integer column (any width, signed or unsigned) without nulls, as i64.
    pub fn i64_required(&self, name: &str) -> Result<Vec<i64>, IoError> {
        let dt = self.field(name)?.data_type().clone();
        if !Self::is_int(&dt) {
            return Err(self.type_error(name, &dt, INT));
        }
        let mut out: Vec<i64> = Vec::with_capacity(self.n_rows);
        for chunk in self.chunks(name) {
            let start = out.len();
            if chunk.null_count() > 0 {
                let i = (0..chunk.len()).position(|i| chunk.is_null(i)).unwrap_or(0);
                return Err(self.null_error(name, start + i + 1));
            }
            fn ext<T: ArrowPrimitiveType>(out: &mut Vec<i64>, a: &ArrayRef)
            where
                T::Native: Into<i64>,
            {
                out.extend(a.as_primitive::<T>().values().iter().map(|&v| v.into()));
            }
            match chunk.data_type() {
                DataType::Int64 => {
                    out.extend_from_slice(chunk.as_primitive::<Int64Type>().values())
                }
                DataType::Int32 => ext::<Int32Type>(&mut out, chunk),
                DataType::Int16 => ext::<Int16Type>(&mut out, chunk),
                DataType::Int8 => ext::<Int8Type>(&mut out, chunk),
                DataType::UInt32 => ext::<UInt32Type>(&mut out, chunk),
                DataType::UInt16 => ext::<UInt16Type>(&mut out, chunk),
                DataType::UInt8 => ext::<UInt8Type>(&mut out, chunk),
                DataType::UInt64 => {
                    for (i, &v) in chunk
                        .as_primitive::<UInt64Type>()
                        .values()
                        .iter()
                        .enumerate()
                    {
                        let v = i64::try_from(v).map_err(|_| {
                            IoError::value(
                                &self.path,
                                start + i + 1,
                                name,
                                format!("{v} is out of the int64 range"),
                            )
                        })?;
                        out.push(v);
                    }
                }
                other => return Err(self.type_error(name, other, INT)),
            }
        }
        Ok(out)
    }

    /// An integer column of any width as float64, nulls as NaN (for extra columns).
    pub fn int_as_f64(&self, name: &str) -> Result<Vec<f64>, IoError> {
        let dt = self.field(name)?.data_type().clone();
        if !Self::is_int(&dt) {
            return Err(self.type_error(name, &dt, INT));
        }
        let mut out: Vec<f64> = Vec::with_capacity(self.n_rows);
        for chunk in self.chunks(name) {
            let start = out.len();
            fn ext<T: ArrowPrimitiveType>(
                out: &mut Vec<f64>,
                a: &ArrayRef,
                f: fn(T::Native) -> f64,
            ) {
                out.extend(a.as_primitive::<T>().values().iter().map(|&v| f(v)));
            }
            match chunk.data_type() {
                DataType::Int64 => ext::<Int64Type>(&mut out, chunk, |v| v as f64),
                DataType::Int32 => ext::<Int32Type>(&mut out, chunk, |v| v as f64),
                DataType::Int16 => ext::<Int16Type>(&mut out, chunk, |v| v as f64),
                DataType::Int8 => ext::<Int8Type>(&mut out, chunk, |v| v as f64),
                DataType::UInt64 => ext::<UInt64Type>(&mut out, chunk, |v| v as f64),
                DataType::UInt32 => ext::<UInt32Type>(&mut out, chunk, |v| v as f64),
                DataType::UInt16 => ext::<UInt16Type>(&mut out, chunk, |v| v as f64),
                DataType::UInt8 => ext::<UInt8Type>(&mut out, chunk, |v| v as f64),
                other => return Err(self.type_error(name, other, INT)),
            }
            if chunk.null_count() > 0 {
                for i in 0..chunk.len() {
                    if chunk.is_null(i) {
                        out[start + i] = f64::NAN;
                    }
                }
            }
        }
        Ok(out)
    }

    /// A boolean column without nulls.
    pub fn bool_required(&self, name: &str) -> Result<Vec<bool>, IoError> {
        let dt = self.field(name)?.data_type().clone();
        if dt != DataType::Boolean {
            return Err(self.type_error(name, &dt, BOOL));
        }
        let mut out = Vec::with_capacity(self.n_rows);
        for chunk in self.chunks(name) {
            let start = out.len();
            if chunk.null_count() > 0 {
                let i = (0..chunk.len()).position(|i| chunk.is_null(i)).unwrap_or(0);
                return Err(self.null_error(name, start + i + 1));
            }
            out.extend(chunk.as_boolean().values().iter());
        }
        Ok(out)
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
