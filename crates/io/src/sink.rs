//! A streaming table writer: rows arrive in batches and go to a Parquet file (and, when asked,
//! a CSV file with the same columns), so tables of millions of rows are written with bounded
//! memory. Both files are filled under a temporary name and renamed into place by
//! [`TableSink::finish`] ([`crate::output::PartialFile`]); a sink dropped without `finish`
//! removes its temporary files, so an interrupted run never leaves a half-written table under
//! the final name.
//!
//! Each column carries its unit in the Parquet field metadata (key `unit`, astropy spelling:
//! `mas`, `mas / yr`, `yr`), and the CSV header is the column names; floats are written so that
//! parsing them back gives the same bits. A NaN value is written as null (empty in CSV): the
//! writer never prints NaN as a figure.

use crate::error::IoError;
use crate::output::{check_overwrite, PartialFile};
use crate::table::{fmt_f64, META_FORMAT_VERSION, META_TABLE};
use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Value type of an output column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    /// 64-bit float; NaN is written as null.
    F64,
    /// 64-bit integer (source identifiers).
    I64,
    /// 32-bit integer (counts, indices).
    I32,
    /// Boolean flag.
    Bool,
}

/// One output column: name, type and unit (None for dimensionless).
#[derive(Debug, Clone)]
pub struct SinkColumn {
    pub name: String,
    pub kind: SinkKind,
    pub unit: Option<&'static str>,
}

impl SinkColumn {
    pub fn new(name: impl Into<String>, kind: SinkKind, unit: Option<&'static str>) -> Self {
        SinkColumn {
            name: name.into(),
            kind,
            unit,
        }
    }
}

/// The values of one column for one batch of rows.
#[derive(Debug, Clone)]
pub enum SinkValues {
    F64(Vec<f64>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    Bool(Vec<bool>),
}

impl SinkValues {
    fn len(&self) -> usize {
        match self {
            SinkValues::F64(v) => v.len(),
            SinkValues::I64(v) => v.len(),
            SinkValues::I32(v) => v.len(),
            SinkValues::Bool(v) => v.len(),
        }
    }

    fn kind(&self) -> SinkKind {
        match self {
            SinkValues::F64(_) => SinkKind::F64,
            SinkValues::I64(_) => SinkKind::I64,
            SinkValues::I32(_) => SinkKind::I32,
            SinkValues::Bool(_) => SinkKind::Bool,
        }
    }
}

/// A table being written: Parquet always, CSV beside it when asked.
pub struct TableSink {
    path: PathBuf,
    /// The Parquet file's temporary, removed if the sink is dropped unfinished.
    partial: Option<PartialFile>,
    csv: Option<(PathBuf, PartialFile, BufWriter<File>)>,
    columns: Vec<SinkColumn>,
    schema: Arc<Schema>,
    writer: Option<ArrowWriter<File>>,
    rows: usize,
}

impl TableSink {
    /// Starts writing the table `table` (a name stored in the file's metadata) to `path`, and
    /// to `csv` if given. Fails if a target exists and `overwrite` is false: nothing the user
    /// has is replaced without asking. `metadata` is stored as Parquet key-value metadata.
    pub fn create(
        path: &Path,
        csv: Option<&Path>,
        table: &str,
        columns: Vec<SinkColumn>,
        metadata: Vec<(String, String)>,
        overwrite: bool,
    ) -> Result<TableSink, IoError> {
        check_overwrite(path, overwrite)?;
        if let Some(c) = csv {
            check_overwrite(c, overwrite)?;
        }
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| {
                let (dt, nullable) = match c.kind {
                    SinkKind::F64 => (DataType::Float64, true),
                    SinkKind::I64 => (DataType::Int64, false),
                    SinkKind::I32 => (DataType::Int32, false),
                    SinkKind::Bool => (DataType::Boolean, false),
                };
                let mut md = HashMap::new();
                if let Some(u) = c.unit {
                    md.insert("unit".to_string(), u.to_string());
                }
                Field::new(&c.name, dt, nullable).with_metadata(md)
            })
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let mut kv = vec![
            KeyValue::new(META_TABLE.to_string(), table.to_string()),
            KeyValue::new(
                META_FORMAT_VERSION.to_string(),
                crate::table::FORMAT_VERSION.to_string(),
            ),
        ];
        kv.extend(metadata.into_iter().map(|(k, v)| KeyValue::new(k, v)));
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("astrosolve-io {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(kv))
            .build();
        let (partial, file) = PartialFile::create(path, overwrite)?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
            .map_err(|e| IoError::invalid(path, format!("cannot write Parquet: {e}")))?;
        let mut sink = TableSink {
            path: path.to_path_buf(),
            partial: Some(partial),
            csv: None,
            columns,
            schema,
            writer: Some(writer),
            rows: 0,
        };
        if let Some(c) = csv {
            let (ctmp, f) = PartialFile::create(c, overwrite)?;
            let mut w = BufWriter::new(f);
            let header: Vec<&str> = sink.columns.iter().map(|c| c.name.as_str()).collect();
            writeln!(w, "{}", header.join(",")).map_err(|e| IoError::os(c, "write", e))?;
            sink.csv = Some((c.to_path_buf(), ctmp, w));
        }
        Ok(sink)
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends one batch: one `SinkValues` per column, in the order given to `create`, all of
    /// the same length and of the declared kinds.
    pub fn write(&mut self, values: Vec<SinkValues>) -> Result<(), IoError> {
        if values.len() != self.columns.len() {
            return Err(IoError::invalid(
                &self.path,
                format!(
                    "internal error: {} columns given, {} declared",
                    values.len(),
                    self.columns.len()
                ),
            ));
        }
        let n = values.first().map_or(0, SinkValues::len);
        for (c, v) in self.columns.iter().zip(&values) {
            if v.len() != n || v.kind() != c.kind {
                return Err(IoError::invalid(
                    &self.path,
                    format!(
                        "internal error: column \"{}\" has {} values of {:?}, expected {n} of {:?}",
                        c.name,
                        v.len(),
                        v.kind(),
                        c.kind
                    ),
                ));
            }
        }
        if n == 0 {
            return Ok(());
        }
        if let Some((cpath, _, w)) = self.csv.as_mut() {
            let mut line = String::new();
            for r in 0..n {
                line.clear();
                for (k, v) in values.iter().enumerate() {
                    if k > 0 {
                        line.push(',');
                    }
                    match v {
                        SinkValues::F64(x) if x[r].is_finite() => line.push_str(&fmt_f64(x[r])),
                        SinkValues::F64(_) => {}
                        SinkValues::I64(x) => line.push_str(&x[r].to_string()),
                        SinkValues::I32(x) => line.push_str(&x[r].to_string()),
                        SinkValues::Bool(x) => line.push_str(if x[r] { "true" } else { "false" }),
                    }
                }
                line.push('\n');
                w.write_all(line.as_bytes())
                    .map_err(|e| IoError::os(cpath, "write", e))?;
            }
        }
        let arrays: Vec<ArrayRef> = values
            .into_iter()
            .map(|v| -> ArrayRef {
                match v {
                    SinkValues::F64(x) => Arc::new(Float64Array::from_iter(
                        x.into_iter().map(|v| v.is_finite().then_some(v)),
                    )),
                    SinkValues::I64(x) => Arc::new(Int64Array::from(x)),
                    SinkValues::I32(x) => Arc::new(Int32Array::from(x)),
                    SinkValues::Bool(x) => Arc::new(BooleanArray::from(x)),
                }
            })
            .collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| IoError::invalid(&self.path, format!("cannot assemble rows: {e}")))?;
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| IoError::invalid(&self.path, "internal error: sink already closed"))?;
        writer
            .write(&batch)
            .map_err(|e| IoError::invalid(&self.path, format!("cannot write Parquet: {e}")))?;
        self.rows += n;
        Ok(())
    }

    /// Closes the files and renames them into place. Returns the number of rows written.
    pub fn finish(mut self) -> Result<usize, IoError> {
        if let Some(w) = self.writer.take() {
            w.close()
                .map_err(|e| IoError::invalid(&self.path, format!("cannot write Parquet: {e}")))?;
        }
        // the CSV first: if it fails, the Parquet temporary is removed with the sink
        if let Some((cpath, ctmp, mut w)) = self.csv.take() {
            w.flush().map_err(|e| IoError::os(&cpath, "write", e))?;
            drop(w);
            ctmp.commit()?;
        }
        if let Some(p) = self.partial.take() {
            p.commit()?;
        }
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_parquet_and_csv_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.parquet");
        let c = dir.path().join("t.csv");
        let cols = vec![
            SinkColumn::new("source_id", SinkKind::I64, None),
            SinkColumn::new("parallax", SinkKind::F64, Some("mas")),
        ];
        let mut s = TableSink::create(&p, Some(&c), "test", cols.clone(), vec![], false).unwrap();
        s.write(vec![
            SinkValues::I64(vec![1, 2]),
            SinkValues::F64(vec![0.1, f64::NAN]),
        ])
        .unwrap();
        assert!(!p.exists(), "the final name appears only at finish");
        assert_eq!(s.finish().unwrap(), 2);
        let text = std::fs::read_to_string(&c).unwrap();
        assert_eq!(text, "source_id,parallax\n1,0.1\n2,\n");
        // Refuses to overwrite without being asked.
        assert!(matches!(
            TableSink::create(&p, None, "test", cols.clone(), vec![], false),
            Err(IoError::Exists { .. })
        ));
        // A sink dropped unfinished leaves no partial file.
        let q = dir.path().join("u.parquet");
        let s = TableSink::create(&q, None, "test", cols, vec![], false).unwrap();
        drop(s);
        assert!(!q.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
