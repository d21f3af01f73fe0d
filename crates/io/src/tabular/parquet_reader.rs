//! Parquet tables (Apache Parquet through arrow-rs), streamed by record batches. Float,
//! integer, boolean and string columns, and lists (List, LargeList, FixedSizeList) of
//! floats, integers and booleans; other types (structs, dates, binary, …) are left out of
//! the table. Units from a field's metadata key `unit` (or `units`), when present.

use super::{dedup_names, Column, ColumnData, ListColumn, Table, TableFormat, TableReader};
use crate::error::IoError;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use std::collections::HashMap;
use std::fs::File;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An error about one value: its 0-based row in the array, and the message.
type RowError = (usize, String);

/// Rows per decoded record batch.
const BATCH_ROWS: usize = 1 << 14;

pub(crate) struct ParquetReader {
    path: PathBuf,
    names: Vec<String>,
    units: Vec<Option<String>>,
    reader: ParquetRecordBatchReader,
    pending: Option<(RecordBatch, usize)>,
    rows_read: usize,
    n_rows: usize,
}

/// True if the reader converts this type.
fn supported(dt: &DataType) -> bool {
    match dt {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            scalar_supported(f.data_type()) && !matches!(f.data_type(), DataType::Utf8)
        }
        other => scalar_supported(other),
    }
}

fn scalar_supported(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Boolean
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Null
    )
}

impl ParquetReader {
    pub fn open(path: &Path) -> Result<ParquetReader, IoError> {
        let file = File::open(path).map_err(|e| IoError::os(path, "open", e))?;
        match catch_unwind(AssertUnwindSafe(|| Self::open_file(path, file))) {
            Ok(r) => r,
            Err(_) => Err(IoError::parquet(
                path,
                "corrupt file (the Parquet decoder failed)",
            )),
        }
    }

    fn open_file(path: &Path, file: File) -> Result<ParquetReader, IoError> {
        let p = Projected::open(path, file, &|_| true, BATCH_ROWS)?;
        let names = dedup_names(
            p.roots
                .iter()
                .map(|&i| p.fields[i].name().clone())
                .collect(),
        );
        let units = p.roots.iter().map(|&i| field_unit(&p.fields[i])).collect();
        Ok(ParquetReader {
            path: path.to_path_buf(),
            names,
            units,
            reader: p.reader,
            pending: None,
            rows_read: 0,
            n_rows: p.n_rows,
        })
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, IoError> {
        let path = self.path.clone();
        let next = catch_unwind(AssertUnwindSafe(|| self.reader.next()))
            .map_err(|_| IoError::parquet(&path, "corrupt file (the Parquet decoder failed)"))?;
        match next {
            None => Ok(None),
            Some(Ok(b)) => Ok(Some(b)),
            Some(Err(e)) => Err(IoError::parquet(
                &path,
                format!("after data row {}: {e}", self.rows_read),
            )),
        }
    }
}

/// The unit a field's metadata states (key `unit` or `units`, any case).
fn field_unit(f: &Field) -> Option<String> {
    f.metadata()
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("unit") || k.eq_ignore_ascii_case("units"))
        .map(|(_, v)| v.clone())
}

/// An opened Parquet file with a projection: the reader of record batches, all top-level
/// fields, the indices of those read, the footer's row count and key-value metadata.
struct Projected {
    reader: ParquetRecordBatchReader,
    fields: Vec<Arc<Field>>,
    roots: Vec<usize>,
    n_rows: usize,
    metadata: HashMap<String, String>,
}

impl Projected {
    /// Reads the top-level columns of a supported type for which `want` is true.
    fn open(
        path: &Path,
        file: File,
        want: &dyn Fn(&Field) -> bool,
        batch_rows: usize,
    ) -> Result<Projected, IoError> {
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| IoError::parquet(path, e))?;
        let n_rows = usize::try_from(builder.metadata().file_metadata().num_rows())
            .map_err(|_| IoError::parquet(path, "negative row count"))?;
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
        let fields: Vec<Arc<Field>> = builder.schema().fields().iter().cloned().collect();
        let roots: Vec<usize> = fields
            .iter()
            .enumerate()
            .filter(|(_, f)| supported(f.data_type()) && want(f))
            .map(|(i, _)| i)
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
        let reader = builder
            .with_projection(mask)
            .with_batch_size(batch_rows)
            .build()
            .map_err(|e| IoError::parquet(path, e))?;
        Ok(Projected {
            reader,
            fields,
            roots,
            n_rows,
            metadata,
        })
    }
}

/// One column of [`ParquetColumns`]: the file's field and the decoded arrays, converted on
/// request by the conversions of the streamed reader (so that a typed reader pays one copy
/// and can tell a null from a NaN).
pub(crate) struct ReadColumn {
    pub field: Arc<Field>,
    chunks: Vec<ArrayRef>,
    n_rows: usize,
}

/// Why an integer column cannot be read without nulls: the 0-based row of the first null,
/// or of a value out of the int64 range (with the message).
pub(crate) enum IntError {
    Null(usize),
    Value(usize, String),
}

impl ReadColumn {
    /// The unit the field's metadata states.
    pub fn unit(&self) -> Option<String> {
        field_unit(&self.field)
    }

    /// The values of a numeric column as floats, nulls as NaN, and the validity of each row
    /// when there are nulls (None: no null); None if not numeric.
    pub fn floats(&self) -> Option<(Vec<f64>, Option<Vec<bool>>)> {
        let mut out = Vec::with_capacity(self.n_rows);
        let mut valid: Option<Vec<bool>> = None;
        for a in &self.chunks {
            let start = out.len();
            if !floats_into(a.as_ref(), &mut out) {
                return None;
            }
            if a.null_count() > 0 {
                let v = valid.get_or_insert_with(|| vec![true; start]);
                v.extend((0..a.len()).map(|i| a.is_valid(i)));
            } else if let Some(v) = valid.as_mut() {
                v.resize(out.len(), true);
            }
        }
        Some((out, valid))
    }

    /// The values of an integer column without nulls, exact; None if not an integer type.
    pub fn ints_required(&self) -> Option<Result<Vec<i64>, IntError>> {
        let mut out: Vec<i64> = Vec::with_capacity(self.n_rows);
        let mut tmp: Vec<Option<i64>> = Vec::new();
        for a in &self.chunks {
            let start = out.len();
            if a.null_count() > 0 {
                let i = (0..a.len()).position(|i| a.is_null(i)).unwrap_or(0);
                return Some(Err(IntError::Null(start + i)));
            }
            macro_rules! prim {
                ($t:ty) => {
                    out.extend(
                        a.as_primitive::<$t>()
                            .values()
                            .iter()
                            .map(|&v| i64::from(v)),
                    )
                };
            }
            match a.data_type() {
                DataType::Int64 => out.extend_from_slice(a.as_primitive::<Int64Type>().values()),
                DataType::Int32 => prim!(Int32Type),
                DataType::Int16 => prim!(Int16Type),
                DataType::Int8 => prim!(Int8Type),
                DataType::UInt32 => prim!(UInt32Type),
                DataType::UInt16 => prim!(UInt16Type),
                DataType::UInt8 => prim!(UInt8Type),
                _ => {
                    tmp.clear();
                    match ints_into(a.as_ref(), &mut tmp)? {
                        Ok(()) => out.extend(tmp.iter().map(|v| v.unwrap_or_default())),
                        Err((i, m)) => return Some(Err(IntError::Value(start + i, m))),
                    }
                }
            }
        }
        Some(Ok(out))
    }

    /// The values of a boolean column; None if not boolean.
    pub fn bools(&self) -> Option<Vec<Option<bool>>> {
        let mut out = Vec::with_capacity(self.n_rows);
        for a in &self.chunks {
            if *a.data_type() != DataType::Boolean {
                return None;
            }
            out.extend(a.as_boolean().iter());
        }
        Some(out)
    }
}

/// Selected columns of a Parquet file, read whole, for readers that check the file's own
/// types and tell a null from a NaN (the data-set tables of [`crate::table`]).
pub(crate) struct ParquetColumns {
    /// All top-level fields of the file, including those not read.
    pub fields: Vec<Arc<Field>>,
    /// The file's key-value metadata.
    pub metadata: HashMap<String, String>,
    /// Row count from the footer (checked against the rows decoded).
    pub n_rows: usize,
    /// The columns read, by name (names as in the file; a repeated name is an error).
    pub columns: HashMap<String, ReadColumn>,
}

/// Rows per record batch of [`read_columns`] (whole-file reads).
const READ_ALL_BATCH_ROWS: usize = 1 << 16;

/// Reads the top-level columns of `path` of a supported type for which `want` is true,
/// whole, with the file's fields and key-value metadata. A wanted name present twice is an
/// error.
pub(crate) fn read_columns(
    path: &Path,
    want: &dyn Fn(&Field) -> bool,
) -> Result<ParquetColumns, IoError> {
    let file = File::open(path).map_err(|e| IoError::os(path, "open", e))?;
    // The Parquet decoder is not expected to panic on corrupt input, but a data file must
    // never bring the program down: turn any panic into an error.
    match catch_unwind(AssertUnwindSafe(|| read_columns_of(path, file, want))) {
        Ok(r) => r,
        Err(_) => Err(IoError::parquet(
            path,
            "corrupt file (the Parquet decoder failed)",
        )),
    }
}

fn read_columns_of(
    path: &Path,
    file: File,
    want: &dyn Fn(&Field) -> bool,
) -> Result<ParquetColumns, IoError> {
    let p = Projected::open(path, file, want, READ_ALL_BATCH_ROWS)?;
    let mut columns: HashMap<String, ReadColumn> = HashMap::with_capacity(p.roots.len());
    for &i in &p.roots {
        let f = &p.fields[i];
        if columns.contains_key(f.name()) {
            return Err(IoError::invalid(
                path,
                format!("column \"{}\" appears more than once", f.name()),
            ));
        }
        columns.insert(
            f.name().clone(),
            ReadColumn {
                field: f.clone(),
                chunks: Vec::new(),
                n_rows: p.n_rows,
            },
        );
    }
    let mut rows_read = 0usize;
    for batch in p.reader {
        let batch = batch
            .map_err(|e| IoError::parquet(path, format!("after data row {rows_read}: {e}")))?;
        for (f, array) in batch.schema().fields().iter().zip(batch.columns()) {
            if let Some(c) = columns.get_mut(f.name()) {
                c.chunks.push(array.clone());
            }
        }
        rows_read += batch.num_rows();
    }
    if !p.roots.is_empty() && rows_read != p.n_rows {
        return Err(IoError::parquet(
            path,
            format!(
                "footer announces {} rows but {rows_read} were decoded",
                p.n_rows
            ),
        ));
    }
    Ok(ParquetColumns {
        fields: p.fields,
        metadata: p.metadata,
        n_rows: p.n_rows,
        columns,
    })
}

/// Selected columns of a Parquet file streamed by record batches (at most `batch_rows` rows,
/// never across a row group), so that a reader converting them into its own records holds
/// one batch of Arrow arrays at a time ([`stream_columns`]).
pub(crate) struct ColumnStream {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    /// All top-level fields of the file, including those not read.
    pub fields: Vec<Arc<Field>>,
    /// Row count from the footer (checked against the rows decoded at the end).
    pub n_rows: usize,
    roots: Vec<usize>,
    rows_read: usize,
}

/// Opens `path` for [`ColumnStream::next_chunk`]: the top-level columns of a supported type
/// for which `want` is true, `batch_rows` rows at a time.
pub(crate) fn stream_columns(
    path: &Path,
    want: &dyn Fn(&Field) -> bool,
    batch_rows: usize,
) -> Result<ColumnStream, IoError> {
    let file = File::open(path).map_err(|e| IoError::os(path, "open", e))?;
    let p = catch_unwind(AssertUnwindSafe(|| {
        Projected::open(path, file, want, batch_rows.max(1))
    }))
    .map_err(|_| IoError::parquet(path, "corrupt file (the Parquet decoder failed)"))??;
    let mut seen = std::collections::HashSet::new();
    for &i in &p.roots {
        if !seen.insert(p.fields[i].name().clone()) {
            return Err(IoError::invalid(
                path,
                format!("column \"{}\" appears more than once", p.fields[i].name()),
            ));
        }
    }
    Ok(ColumnStream {
        path: path.to_path_buf(),
        reader: p.reader,
        fields: p.fields,
        n_rows: p.n_rows,
        roots: p.roots,
        rows_read: 0,
    })
}

impl ColumnStream {
    /// The next batch: the 0-based file row of its first row and its columns (the file's
    /// fields, no metadata); None after the last (then the rows decoded are checked against
    /// the footer).
    pub fn next_chunk(&mut self) -> Result<Option<(usize, ParquetColumns)>, IoError> {
        let path = self.path.clone();
        let next = catch_unwind(AssertUnwindSafe(|| self.reader.next()))
            .map_err(|_| IoError::parquet(&path, "corrupt file (the Parquet decoder failed)"))?;
        let batch = match next {
            None => {
                if !self.roots.is_empty() && self.rows_read != self.n_rows {
                    return Err(IoError::parquet(
                        &path,
                        format!(
                            "footer announces {} rows but {} were decoded",
                            self.n_rows, self.rows_read
                        ),
                    ));
                }
                return Ok(None);
            }
            Some(Err(e)) => {
                return Err(IoError::parquet(
                    &path,
                    format!("after data row {}: {e}", self.rows_read),
                ))
            }
            Some(Ok(b)) => b,
        };
        let n = batch.num_rows();
        let mut columns: HashMap<String, ReadColumn> = HashMap::with_capacity(self.roots.len());
        for &i in &self.roots {
            columns.insert(
                self.fields[i].name().clone(),
                ReadColumn {
                    field: self.fields[i].clone(),
                    chunks: Vec::new(),
                    n_rows: n,
                },
            );
        }
        for (f, array) in batch.schema().fields().iter().zip(batch.columns()) {
            if let Some(c) = columns.get_mut(f.name()) {
                c.chunks.push(array.clone());
            }
        }
        let first = self.rows_read;
        self.rows_read += n;
        Ok(Some((
            first,
            ParquetColumns {
                fields: self.fields.clone(),
                metadata: HashMap::new(),
                n_rows: n,
                columns,
            },
        )))
    }
}

impl TableReader for ParquetReader {
    fn column_names(&self) -> &[String] {
        &self.names
    }

    fn column_units(&self) -> Vec<Option<String>> {
        self.units.clone()
    }

    fn next_chunk(&mut self, max_rows: usize) -> Result<Option<Table>, IoError> {
        let max_rows = max_rows.max(1);
        let (batch, offset) = loop {
            match self.pending.take() {
                Some((b, off)) if off < b.num_rows() => break (b, off),
                _ => match self.next_batch()? {
                    Some(b) => self.pending = Some((b, 0)),
                    None => {
                        if self.rows_read != self.n_rows {
                            return Err(IoError::parquet(
                                &self.path,
                                format!(
                                    "footer announces {} rows but {} were decoded",
                                    self.n_rows, self.rows_read
                                ),
                            ));
                        }
                        return Ok(None);
                    }
                },
            }
        };
        let len = max_rows.min(batch.num_rows() - offset);
        let slice = batch.slice(offset, len);
        self.pending = Some((batch, offset + len));
        let first_row = self.rows_read + 1;
        self.rows_read += len;
        let mut columns = Vec::with_capacity(self.names.len());
        for ((name, unit), array) in self.names.iter().zip(&self.units).zip(slice.columns()) {
            let data = convert(array)
                .map_err(|(i, m)| IoError::value(&self.path, first_row + i, name, m))?;
            columns.push(Column {
                name: name.clone(),
                unit: unit.clone(),
                data,
            });
        }
        Ok(Some(Table {
            path: self.path.clone(),
            format: TableFormat::Parquet,
            first_row,
            columns,
        }))
    }
}

/// Floats of a numeric array, nulls as NaN; None if not numeric.
fn floats(a: &dyn Array) -> Option<Vec<f64>> {
    let mut v = Vec::with_capacity(a.len());
    floats_into(a, &mut v).then_some(v)
}

/// Appends the floats of a numeric array to `out`, nulls as NaN; false (nothing appended) if
/// the array is not numeric.
fn floats_into(a: &dyn Array, out: &mut Vec<f64>) -> bool {
    macro_rules! prim {
        ($t:ty) => {
            out.extend(a.as_primitive::<$t>().values().iter().map(|&v| v as f64))
        };
    }
    let start = out.len();
    match a.data_type() {
        DataType::Float64 => out.extend_from_slice(a.as_primitive::<Float64Type>().values()),
        DataType::Float32 => prim!(Float32Type),
        DataType::Float16 => out.extend(
            a.as_primitive::<Float16Type>()
                .values()
                .iter()
                .map(|v| v.to_f64()),
        ),
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Null => out.resize(start + a.len(), f64::NAN),
        _ => return false,
    }
    if a.null_count() > 0 {
        for (i, x) in out[start..].iter_mut().enumerate() {
            if a.is_null(i) {
                *x = f64::NAN;
            }
        }
    }
    true
}

/// Integers of an integer array, exact; None if not an integer type; Err (index, message) for
/// u64 > i64::MAX.
fn ints(a: &dyn Array) -> Option<Result<Vec<Option<i64>>, RowError>> {
    let mut v = Vec::with_capacity(a.len());
    ints_into(a, &mut v).map(|r| r.map(|()| v))
}

/// Appends the integers of an integer array to `out`, exact; None (nothing appended) if not
/// an integer type; Err (index within `a`, message) for u64 > i64::MAX.
fn ints_into(a: &dyn Array, out: &mut Vec<Option<i64>>) -> Option<Result<(), RowError>> {
    macro_rules! prim {
        ($t:ty) => {{
            let p = a.as_primitive::<$t>();
            if p.null_count() == 0 {
                out.extend(p.values().iter().map(|&v| Some(i64::from(v))));
            } else {
                out.extend(p.iter().map(|v| v.map(i64::from)));
            }
        }};
    }
    match a.data_type() {
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => {
            let start = out.len();
            for (i, v) in a.as_primitive::<UInt64Type>().iter().enumerate() {
                match v.map(i64::try_from) {
                    None => out.push(None),
                    Some(Ok(x)) => out.push(Some(x)),
                    Some(Err(_)) => {
                        out.truncate(start);
                        return Some(Err((
                            i,
                            format!(
                                "unsigned value {} is beyond the int64 range",
                                v.unwrap_or_default()
                            ),
                        )));
                    }
                }
            }
        }
        _ => return None,
    }
    Some(Ok(()))
}

fn is_float(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Float16 | DataType::Float32 | DataType::Float64
    )
}

/// One arrow array as column data; errors carry the 0-based row within the array.
fn convert(a: &ArrayRef) -> Result<ColumnData, RowError> {
    let dt = a.data_type();
    if is_float(dt) || matches!(dt, DataType::Null) {
        return floats(a.as_ref())
            .map(ColumnData::Float)
            .ok_or_else(|| (0, format!("unsupported type {dt}")));
    }
    if let Some(v) = ints(a.as_ref()) {
        return v.map(ColumnData::Int);
    }
    match dt {
        DataType::Boolean => Ok(ColumnData::Bool(a.as_boolean().iter().collect())),
        DataType::Utf8 => Ok(ColumnData::Text(
            a.as_string::<i32>()
                .iter()
                .map(|s| s.map(str::to_string))
                .collect(),
        )),
        DataType::LargeUtf8 => Ok(ColumnData::Text(
            a.as_string::<i64>()
                .iter()
                .map(|s| s.map(str::to_string))
                .collect(),
        )),
        DataType::Utf8View => Ok(ColumnData::Text(
            a.as_string_view()
                .iter()
                .map(|s| s.map(str::to_string))
                .collect(),
        )),
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            let offs: Vec<usize> = l.value_offsets().iter().map(|&o| o as usize).collect();
            lists(a.as_ref(), l.values(), &offs)
        }
        DataType::LargeList(_) => {
            let l = a.as_list::<i64>();
            let offs: Vec<usize> = l.value_offsets().iter().map(|&o| o as usize).collect();
            lists(a.as_ref(), l.values(), &offs)
        }
        DataType::FixedSizeList(_, n) => {
            let l = a.as_fixed_size_list();
            let n = usize::try_from(*n).unwrap_or(0);
            let mut offs: Vec<usize> = (0..a.len()).map(|i| l.value_offset_at(i)).collect();
            offs.push(offs.last().map_or(0, |o| o + n));
            lists(a.as_ref(), l.values(), &offs)
        }
        other => Err((0, format!("unsupported type {other}"))),
    }
}

/// A list array as a list column: `offs[i]..offs[i+1]` index `values`; null lists are empty.
fn lists(a: &dyn Array, values: &ArrayRef, offs: &[usize]) -> Result<ColumnData, RowError> {
    // Only the part of the child array this slice uses.
    let lo = offs.first().copied().unwrap_or(0);
    let hi = offs.last().copied().unwrap_or(lo).max(lo);
    if hi > values.len() {
        return Err((0, "list offsets beyond the values".to_string()));
    }
    let values = &values.slice(lo, hi - lo);
    let offs: Vec<usize> = offs.iter().map(|o| o.saturating_sub(lo)).collect();
    let offs = &offs;
    let rows = |push: &mut dyn FnMut(usize, usize)| {
        for i in 0..a.len() {
            if a.is_null(i) {
                push(0, 0);
            } else {
                push(offs[i], offs[i + 1]);
            }
        }
    };
    let vdt = values.data_type();
    if is_float(vdt) || matches!(vdt, DataType::Null) {
        let v = floats(values.as_ref()).ok_or((0, "unsupported list element type".to_string()))?;
        let mut l = ListColumn::default();
        rows(&mut |s, e| l.push_row(v[s..e].iter().copied()));
        return Ok(ColumnData::FloatList(l));
    }
    if let Some(v) = ints(values.as_ref()) {
        // An element error: the row holding that element.
        let v = v.map_err(|(k, m)| (offs.partition_point(|&o| o <= k).saturating_sub(1), m))?;
        let mut l = ListColumn::default();
        rows(&mut |s, e| l.push_row(v[s..e].iter().copied()));
        return Ok(ColumnData::IntList(l));
    }
    if *vdt == DataType::Boolean {
        let v: Vec<Option<bool>> = values.as_boolean().iter().collect();
        let mut l = ListColumn::default();
        rows(&mut |s, e| l.push_row(v[s..e].iter().copied()));
        return Ok(ColumnData::BoolList(l));
    }
    Err((0, format!("unsupported list element type {vdt}")))
}
