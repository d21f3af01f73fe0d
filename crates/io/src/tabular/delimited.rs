//! Delimited text tables (RFC 4180 CSV, and the body of an ECSV file), streamed record by
//! record with the `csv` crate. CSV: a header line of names, `#` comment lines allowed
//! anywhere a record starts, cells kept as text (typed later by the accessors). ECSV: the
//! same body with per-column types declared by the header (see `ecsv.rs`).

use super::text;
use super::{dedup_names, Column, ColumnData, ListColumn, Table, TableFormat, TableReader};
use crate::error::IoError;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Declared type of a text column (ECSV `datatype`/`subtype`; CSV: all `Text`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Declared {
    /// Untyped text: parsed by the accessors.
    Text,
    Float64,
    /// float32: parsed as float32 and widened.
    Float32,
    Int,
    Bool,
    /// Lists (ECSV strings with a `subtype` such as `float64[null]`, JSON arrays).
    FloatList,
    Float32List,
    IntList,
    BoolList,
}

/// Column description for the delimited reader.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub name: String,
    pub unit: Option<String>,
    pub declared: Declared,
}

/// A delimited text table being read.
pub(crate) struct DelimitedReader {
    path: PathBuf,
    format: TableFormat,
    names: Vec<String>,
    specs: Vec<Spec>,
    reader: csv::Reader<Box<dyn Read + Send>>,
    /// Lines before the csv reader's first line (ECSV header), for line numbers.
    line_offset: u64,
    /// Data rows read so far.
    rows_read: usize,
    record: csv::StringRecord,
    done: bool,
}

impl DelimitedReader {
    /// Opens a CSV file: comma-separated, header line, `#` comments.
    pub fn open(path: &Path) -> Result<DelimitedReader, IoError> {
        let file = File::open(path).map_err(|e| IoError::os(path, "open", e))?;
        let input: Box<dyn Read + Send> = Box::new(BufReader::new(file));
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b',')
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .has_headers(true)
            .from_reader(input);
        let header = reader
            .headers()
            .map_err(|e| csv_error(path, TableFormat::Csv, &e, 0, None))?
            .clone();
        if header.is_empty() || header.iter().all(|h| h.trim().is_empty()) {
            return Err(IoError::invalid(
                path,
                "empty CSV file: no header line of column names",
            ));
        }
        let names = dedup_names(header.iter().map(str::to_string).collect());
        let specs = names
            .iter()
            .map(|n| Spec {
                name: n.clone(),
                unit: None,
                declared: Declared::Text,
            })
            .collect();
        Ok(DelimitedReader {
            path: path.to_path_buf(),
            format: TableFormat::Csv,
            names,
            specs,
            reader,
            line_offset: 0,
            rows_read: 0,
            record: csv::StringRecord::new(),
            done: false,
        })
    }

    /// A reader of a delimited body whose header line (names) is next in `input`, with the
    /// column types declared in `specs` (matched by name; the header must list them).
    pub fn with_specs(
        path: &Path,
        format: TableFormat,
        input: Box<dyn Read + Send>,
        delimiter: u8,
        declared_delimiter: bool,
        specs: Vec<Spec>,
        line_offset: u64,
    ) -> Result<DelimitedReader, IoError> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .has_headers(true)
            .from_reader(input);
        let header = reader
            .headers()
            .map_err(|e| csv_error(path, format, &e, line_offset, None))?
            .clone();
        let found: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
        let declared: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        if found != declared {
            return Err(IoError::invalid(
                path,
                format!(
                    "line {}: the column names {:?} differ from those the header declares {:?}{}",
                    line_offset + 1,
                    found,
                    declared,
                    match (delimiter, declared_delimiter) {
                        (b' ', false) => {
                            " (the header has no `delimiter` entry, so the columns are \
                             space-separated as the ECSV standard says)"
                        }
                        (b' ', true) => " (the header declares a space delimiter)",
                        _ => " (the header declares a comma delimiter)",
                    }
                ),
            ));
        }
        let names = dedup_names(found);
        let specs = specs
            .into_iter()
            .zip(&names)
            .map(|(mut s, n)| {
                s.name = n.clone();
                s
            })
            .collect();
        Ok(DelimitedReader {
            path: path.to_path_buf(),
            format,
            names,
            specs,
            reader,
            line_offset,
            rows_read: 0,
            record: csv::StringRecord::new(),
            done: false,
        })
    }
}

/// Column under construction.
enum Builder {
    Text(Vec<Option<String>>),
    Float(Vec<f64>, bool),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    FloatList(ListColumn<f64>, bool),
    IntList(ListColumn<Option<i64>>),
    BoolList(ListColumn<Option<bool>>),
}

impl Builder {
    fn new(d: Declared) -> Builder {
        match d {
            Declared::Text => Builder::Text(Vec::new()),
            Declared::Float64 => Builder::Float(Vec::new(), false),
            Declared::Float32 => Builder::Float(Vec::new(), true),
            Declared::Int => Builder::Int(Vec::new()),
            Declared::Bool => Builder::Bool(Vec::new()),
            Declared::FloatList => Builder::FloatList(ListColumn::default(), false),
            Declared::Float32List => Builder::FloatList(ListColumn::default(), true),
            Declared::IntList => Builder::IntList(ListColumn::default()),
            Declared::BoolList => Builder::BoolList(ListColumn::default()),
        }
    }

    fn push(&mut self, cell: &str) -> Result<(), String> {
        let cell_opt = if cell.is_empty() { None } else { Some(cell) };
        match self {
            Builder::Text(v) => v.push(cell_opt.map(str::to_string)),
            Builder::Float(v, f32) => v.push(if *f32 {
                text::parse_f32_item(cell).map_err(|e| format!("{e} (expected a number)"))?
            } else {
                text::parse_f64(cell_opt)?
            }),
            Builder::Int(v) => v.push(text::parse_i64(cell_opt)?),
            Builder::Bool(v) => v.push(text::parse_bool(cell_opt)?),
            Builder::FloatList(l, f32) => {
                let items = if *f32 {
                    text::parse_list(cell_opt, text::parse_f32_item)?
                } else {
                    text::parse_list(cell_opt, text::parse_f64_item)?
                };
                l.push_row(items)
            }
            Builder::IntList(l) => l.push_row(text::parse_list(cell_opt, text::parse_i64_item)?),
            Builder::BoolList(l) => l.push_row(text::parse_list(cell_opt, text::parse_bool_item)?),
        }
        Ok(())
    }

    fn finish(self) -> ColumnData {
        match self {
            Builder::Text(v) => ColumnData::Text(v),
            Builder::Float(v, _) => ColumnData::Float(v),
            Builder::Int(v) => ColumnData::Int(v),
            Builder::Bool(v) => ColumnData::Bool(v),
            Builder::FloatList(l, _) => ColumnData::FloatList(l),
            Builder::IntList(l) => ColumnData::IntList(l),
            Builder::BoolList(l) => ColumnData::BoolList(l),
        }
    }
}

/// A `csv` crate error as an [`IoError`] naming the line (and data row when known).
fn csv_error(
    path: &Path,
    format: TableFormat,
    e: &csv::Error,
    line_offset: u64,
    row: Option<usize>,
) -> IoError {
    let line = e.position().map(|p| p.line() + line_offset);
    let what = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { err, .. } => format!("not UTF-8 text ({err})"),
        csv::ErrorKind::Io(err) => format!("read error: {err}"),
        _ => e.to_string(),
    };
    let at = match (line, row) {
        (Some(l), Some(r)) => format!("line {l} (data row {r}): "),
        (Some(l), None) => format!("line {l}: "),
        (None, Some(r)) => format!("data row {r}: "),
        (None, None) => String::new(),
    };
    IoError::invalid(
        path,
        format!("not a valid {} file: {at}{what}", format.name()),
    )
}

impl TableReader for DelimitedReader {
    fn column_names(&self) -> &[String] {
        &self.names
    }

    fn column_units(&self) -> Vec<Option<String>> {
        self.specs.iter().map(|s| s.unit.clone()).collect()
    }

    fn next_chunk(&mut self, max_rows: usize) -> Result<Option<Table>, IoError> {
        if self.done {
            return Ok(None);
        }
        let max_rows = max_rows.max(1);
        let mut builders: Vec<Builder> = self
            .specs
            .iter()
            .map(|s| Builder::new(s.declared))
            .collect();
        let first_row = self.rows_read + 1;
        let mut n = 0;
        while n < max_rows {
            let more = self.reader.read_record(&mut self.record).map_err(|e| {
                csv_error(
                    &self.path,
                    self.format,
                    &e,
                    self.line_offset,
                    Some(self.rows_read + 1),
                )
            })?;
            if !more {
                self.done = true;
                break;
            }
            self.rows_read += 1;
            // A line of only white space reads as one empty field: skip it.
            if self.record.len() == 1 && self.record[0].is_empty() && builders.len() > 1 {
                self.rows_read -= 1;
                continue;
            }
            for (k, (b, cell)) in builders.iter_mut().zip(self.record.iter()).enumerate() {
                b.push(cell).map_err(|m| {
                    IoError::value(&self.path, self.rows_read, &self.specs[k].name, m)
                })?;
            }
            n += 1;
        }
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(Table {
            path: self.path.clone(),
            format: self.format,
            first_row,
            columns: builders
                .into_iter()
                .zip(&self.specs)
                .map(|(b, s)| Column {
                    name: s.name.clone(),
                    unit: s.unit.clone(),
                    data: b.finish(),
                })
                .collect(),
        }))
    }
}
