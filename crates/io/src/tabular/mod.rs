//! One reader for the tables astronomers exchange: CSV, ECSV (astropy), FITS binary tables,
//! VOTable 1.x (TABLEDATA, BINARY, BINARY2) and Parquet, read into one in-memory form
//! ([`Table`]: named columns of floats, integers, booleans, text or lists of those) with the
//! units the file states. Format references: ECSV 1.0 (astropy APE 6), FITS 4.0 §7.3
//! (binary tables), IVOA VOTable 1.4 §5–6, Apache Parquet.
//!
//! Reading is streamed in chunks of rows with bounded memory ([`open_table`] and
//! [`TableReader::next_chunk`]): Parquet by record batches, CSV, ECSV and FITS row by row,
//! VOTable TABLEDATA row by row; a VOTable BINARY/BINARY2 stream is decoded whole (its
//! base64 text is one XML text node). [`read_table`] concatenates all chunks.
//!
//! Values are typed where the file says so (ECSV `datatype`, FITS `TFORMn`, VOTable
//! `datatype`, Parquet schema); CSV cells stay text and are parsed by the accessors
//! ([`Table::f64_column`], …), which also parse array strings such as
//! `"(1.0, 2.0, , null, NaN)"`, `"[1.0,null]"` or `"{1 2}"`. Float32 values, binary or text,
//! are read as float32 and widened, so a text file's float32 column gives the same bits as
//! its binary twin. Units: see [`Unit`]; a stated unit is converted to the caller's, an
//! incompatible one is an error naming the column.
//!
//! Quirks handled: a repeated column name is renamed (`x_al` → `x_ac` when that name is
//! absent, else `x_2`: the Gaia archive CSV repeats `used_by_agis_al` for `used_by_agis_ac`);
//! `#` comment lines in CSV; an ECSV header without `delimiter` means a space; FITS booleans
//! are the bytes 'T' / 'F' (0 = null); null list elements read as NaN / None; a null list
//! reads as an empty list.
//!
//! Every error is an [`IoError`] naming the file and, where it applies, the 1-based data row
//! and the column; a text file's syntax error also names the line.

mod delimited;
mod ecsv;
mod fits;
mod fits_write;
mod parquet_reader;
mod text;
mod units;
mod votable;

pub use fits_write::write_fits;
pub(crate) use parquet_reader::{read_columns, stream_columns, ColumnStream, IntError, ReadColumn};
pub(crate) use units::factor as unit_factor;
pub use units::Unit;

use crate::error::IoError;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The table file formats this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// Comma-separated values with a header line; `#` comment lines allowed.
    Csv,
    /// astropy's Enhanced CSV: a `# %ECSV` YAML header with column types and units.
    Ecsv,
    /// The first binary-table (BINTABLE) extension of a FITS file.
    Fits,
    /// The first TABLE of an IVOA VOTable (TABLEDATA, BINARY or BINARY2 serialisation).
    VoTable,
    /// Apache Parquet.
    Parquet,
}

impl TableFormat {
    /// Lower-case name of the format, as in messages.
    pub fn name(self) -> &'static str {
        match self {
            TableFormat::Csv => "CSV",
            TableFormat::Ecsv => "ECSV",
            TableFormat::Fits => "FITS",
            TableFormat::VoTable => "VOTable",
            TableFormat::Parquet => "Parquet",
        }
    }

    /// The format of `path`, from its first bytes (`PAR1`, `SIMPLE  =`, `<?xml` /
    /// `<VOTABLE`, `# %ECSV`), else from its extension (`.csv`/`.txt`/`.tsv`, `.ecsv`,
    /// `.fits`/`.fit`/`.fts`, `.xml`/`.vot`/`.votable`, `.parquet`/`.pq`), else CSV if the
    /// file is text whose first line has a comma. Anything else is an error.
    pub fn detect(path: &Path) -> Result<TableFormat, IoError> {
        let mut head = Vec::with_capacity(4096);
        std::fs::File::open(path)
            .and_then(|f| f.take(4096).read_to_end(&mut head))
            .map_err(|e| IoError::os(path, "open", e))?;
        if head.starts_with(b"PAR1") {
            return Ok(TableFormat::Parquet);
        }
        if head.starts_with(b"SIMPLE  =") {
            return Ok(TableFormat::Fits);
        }
        let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
        let start = text
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(text.len());
        let text = &text[start..];
        if text.starts_with(b"<?xml") || text.starts_with(b"<VOTABLE") {
            return Ok(TableFormat::VoTable);
        }
        if text.starts_with(b"# %ECSV") {
            return Ok(TableFormat::Ecsv);
        }
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let looks_text = !head.contains(&0) && std::str::from_utf8(cut_utf8(&head)).is_ok();
        match ext.as_str() {
            "parquet" | "pq" => return Ok(TableFormat::Parquet),
            "fits" | "fit" | "fts" => return Ok(TableFormat::Fits),
            "xml" | "vot" | "votable" if looks_text => return Ok(TableFormat::VoTable),
            "ecsv" if looks_text => return Ok(TableFormat::Ecsv),
            "csv" | "txt" | "tsv" | "dat" if looks_text => return Ok(TableFormat::Csv),
            _ => {}
        }
        if looks_text {
            let first = text
                .split(|&b| b == b'\n')
                .find(|l| !l.starts_with(b"#") && !l.iter().all(u8::is_ascii_whitespace));
            if first.is_some_and(|l| l.contains(&b',')) {
                return Ok(TableFormat::Csv);
            }
        }
        Err(IoError::invalid(
            path,
            "unknown table format: not Parquet, FITS, VOTable, ECSV or CSV \
             (neither the first bytes nor the file name extension tell)",
        ))
    }
}

/// Drops an incomplete UTF-8 sequence cut at the end of a 4 KiB head.
fn cut_utf8(b: &[u8]) -> &[u8] {
    match std::str::from_utf8(b) {
        Ok(_) => b,
        Err(e) if e.error_len().is_none() => &b[..e.valid_up_to()],
        Err(_) => b,
    }
}

/// A column of lists: row `i` holds `values[offsets[i]..offsets[i + 1]]`; `offsets` has
/// `n_rows + 1` entries starting at 0. A null list is an empty one.
#[derive(Debug, Clone, PartialEq)]
pub struct ListColumn<T> {
    pub offsets: Vec<usize>,
    pub values: Vec<T>,
}

impl<T> Default for ListColumn<T> {
    fn default() -> Self {
        ListColumn {
            offsets: vec![0],
            values: Vec::new(),
        }
    }
}

impl<T> ListColumn<T> {
    /// The list of row `i` (0-based within this column). Panics if `i >= n_rows()`.
    pub fn row(&self, i: usize) -> &[T] {
        &self.values[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Number of rows (lists).
    pub fn n_rows(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Appends one list.
    pub fn push_row(&mut self, items: impl IntoIterator<Item = T>) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.values.extend(items);
        self.offsets.push(self.values.len());
    }

    /// Appends all rows of `other`.
    pub fn append(&mut self, other: ListColumn<T>) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        let base = self.values.len();
        self.values.extend(other.values);
        self.offsets
            .extend(other.offsets.iter().skip(1).map(|o| o + base));
    }

    /// Builds a list column from one list per row.
    pub fn from_rows(rows: impl IntoIterator<Item = Vec<T>>) -> Self {
        let mut c = ListColumn::default();
        for r in rows {
            c.push_row(r);
        }
        c
    }

    fn map<U>(self, f: impl FnMut(T) -> U) -> ListColumn<U> {
        ListColumn {
            offsets: self.offsets,
            values: self.values.into_iter().map(f).collect(),
        }
    }
}

/// The values of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// Floats (float32 widened); null → NaN.
    Float(Vec<f64>),
    /// Integers of any width (unsigned 64-bit beyond the int64 range is an error).
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    /// Text cells, untyped (CSV) or strings; None = null.
    Text(Vec<Option<String>>),
    /// Lists of floats; a null element → NaN.
    FloatList(ListColumn<f64>),
    IntList(ListColumn<Option<i64>>),
    BoolList(ListColumn<Option<bool>>),
}

impl ColumnData {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Float(v) => v.len(),
            ColumnData::Int(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
            ColumnData::Text(v) => v.len(),
            ColumnData::FloatList(l) => l.n_rows(),
            ColumnData::IntList(l) => l.n_rows(),
            ColumnData::BoolList(l) => l.n_rows(),
        }
    }

    /// True if there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Name of the kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            ColumnData::Float(_) => "float",
            ColumnData::Int(_) => "integer",
            ColumnData::Bool(_) => "boolean",
            ColumnData::Text(_) => "text",
            ColumnData::FloatList(_) => "list of floats",
            ColumnData::IntList(_) => "list of integers",
            ColumnData::BoolList(_) => "list of booleans",
        }
    }

    /// An empty column of the same kind.
    fn empty_like(&self) -> ColumnData {
        match self {
            ColumnData::Float(_) => ColumnData::Float(Vec::new()),
            ColumnData::Int(_) => ColumnData::Int(Vec::new()),
            ColumnData::Bool(_) => ColumnData::Bool(Vec::new()),
            ColumnData::Text(_) => ColumnData::Text(Vec::new()),
            ColumnData::FloatList(_) => ColumnData::FloatList(ListColumn::default()),
            ColumnData::IntList(_) => ColumnData::IntList(ListColumn::default()),
            ColumnData::BoolList(_) => ColumnData::BoolList(ListColumn::default()),
        }
    }

    /// Appends `other` (same kind) to `self`; false if the kinds differ.
    fn append(&mut self, other: ColumnData) -> bool {
        match (self, other) {
            (ColumnData::Float(a), ColumnData::Float(b)) => a.extend(b),
            (ColumnData::Int(a), ColumnData::Int(b)) => a.extend(b),
            (ColumnData::Bool(a), ColumnData::Bool(b)) => a.extend(b),
            (ColumnData::Text(a), ColumnData::Text(b)) => a.extend(b),
            (ColumnData::FloatList(a), ColumnData::FloatList(b)) => a.append(b),
            (ColumnData::IntList(a), ColumnData::IntList(b)) => a.append(b),
            (ColumnData::BoolList(a), ColumnData::BoolList(b)) => a.append(b),
            _ => return false,
        }
        true
    }
}

/// A column under construction by a reader.
pub(crate) enum Builder {
    Float(Vec<f64>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Text(Vec<Option<String>>),
    FloatList(ListColumn<f64>),
    IntList(ListColumn<Option<i64>>),
    BoolList(ListColumn<Option<bool>>),
}

impl Builder {
    pub(crate) fn finish(self) -> ColumnData {
        match self {
            Builder::Float(v) => ColumnData::Float(v),
            Builder::Int(v) => ColumnData::Int(v),
            Builder::Bool(v) => ColumnData::Bool(v),
            Builder::Text(v) => ColumnData::Text(v),
            Builder::FloatList(l) => ColumnData::FloatList(l),
            Builder::IntList(l) => ColumnData::IntList(l),
            Builder::BoolList(l) => ColumnData::BoolList(l),
        }
    }
}

/// One named column with the unit its file states (None: no unit given).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub unit: Option<String>,
    pub data: ColumnData,
}

/// A chunk of rows of a table file (or the whole of it, from [`read_table`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The file read.
    pub path: PathBuf,
    pub format: TableFormat,
    /// 1-based data-row number, in the file, of this chunk's first row (header not counted).
    pub first_row: usize,
    pub columns: Vec<Column>,
}

/// A streaming reader of one table file: the column names, then chunks of rows.
pub trait TableReader: Send {
    /// Column names in file order (after renaming repeated names).
    fn column_names(&self) -> &[String];
    /// The next at most `max_rows` rows (at least one row), or None at the end of the file.
    fn next_chunk(&mut self, max_rows: usize) -> Result<Option<Table>, IoError>;
    /// Units stated by the file, in the order of [`TableReader::column_names`].
    fn column_units(&self) -> Vec<Option<String>> {
        vec![None; self.column_names().len()]
    }
}

/// Opens a table for streaming; `format` None detects it ([`TableFormat::detect`]).
pub fn open_table(
    path: &Path,
    format: Option<TableFormat>,
) -> Result<Box<dyn TableReader>, IoError> {
    let format = match format {
        Some(f) => f,
        None => TableFormat::detect(path)?,
    };
    open_as(path, format)
}

fn open_as(path: &Path, format: TableFormat) -> Result<Box<dyn TableReader>, IoError> {
    Ok(match format {
        TableFormat::Parquet => Box::new(parquet_reader::ParquetReader::open(path)?),
        TableFormat::Csv => Box::new(delimited::DelimitedReader::open(path)?),
        TableFormat::Ecsv => Box::new(ecsv::open(path)?),
        TableFormat::Fits => Box::new(fits::FitsReader::open(path)?),
        TableFormat::VoTable => Box::new(votable::VoTableReader::open(path)?),
    })
}

/// Rows per chunk used by [`read_table`].
const READ_ALL_CHUNK: usize = 1 << 16;

/// Reads a whole table (all chunks concatenated); `format` None detects it. A table with a
/// header and no rows gives a table of 0 rows.
pub fn read_table(path: &Path, format: Option<TableFormat>) -> Result<Table, IoError> {
    let format = match format {
        Some(f) => f,
        None => TableFormat::detect(path)?,
    };
    let mut reader = open_as(path, format)?;
    let mut table: Option<Table> = None;
    while let Some(chunk) = reader.next_chunk(READ_ALL_CHUNK)? {
        match table.as_mut() {
            None => table = Some(chunk),
            Some(t) => t.append(chunk)?,
        }
    }
    Ok(match table {
        Some(t) => t,
        None => Table {
            path: path.to_path_buf(),
            format,
            first_row: 1,
            columns: reader
                .column_names()
                .iter()
                .zip(reader.column_units())
                .map(|(n, u)| Column {
                    name: n.clone(),
                    unit: u,
                    data: ColumnData::Text(Vec::new()),
                })
                .collect(),
        },
    })
}

/// Renames repeated column names: the second `x_al` becomes `x_ac` if no column has that
/// name, any other repeat gets `_2`, `_3`, … (the Gaia archive CSV repeats `used_by_agis_al`
/// where the second column is `used_by_agis_ac`). Names are trimmed first (white space and a
/// byte-order mark).
pub(crate) fn dedup_names(names: Vec<String>) -> Vec<String> {
    let names: Vec<String> = names
        .into_iter()
        .map(|n| n.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for n in &names {
        if !out.contains(n) {
            out.push(n.clone());
            continue;
        }
        let taken =
            |c: &str, out: &[String]| out.iter().any(|o| o == c) || names.contains(&c.to_string());
        let mut candidate = None;
        if let Some(stem) = n.strip_suffix("_al") {
            let ac = format!("{stem}_ac");
            if !taken(&ac, &out) {
                candidate = Some(ac);
            }
        }
        let candidate = candidate.unwrap_or_else(|| {
            let mut k = 2;
            loop {
                let c = format!("{n}_{k}");
                if !taken(&c, &out) {
                    break c;
                }
                k += 1;
            }
        });
        out.push(candidate);
    }
    out
}

impl Table {
    /// Number of rows (of the first column; 0 without columns).
    pub fn n_rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.data.len())
    }

    /// Column names in order.
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// The first present of several accepted names (e.g. `&["centroid_pos_al",
    /// "centroidPosAl"]`): exact matches (after trimming) first, then case-insensitive.
    pub fn find(&self, names: &[&str]) -> Option<&Column> {
        for n in names {
            let n = n.trim();
            if let Some(c) = self.columns.iter().find(|c| c.name.trim() == n) {
                return Some(c);
            }
        }
        for n in names {
            let n = n.trim();
            if let Some(c) = self
                .columns
                .iter()
                .find(|c| c.name.trim().eq_ignore_ascii_case(n))
            {
                return Some(c);
            }
        }
        None
    }

    /// Like [`Table::find`], or an error listing the accepted names and the columns present.
    pub fn require(&self, names: &[&str]) -> Result<&Column, IoError> {
        self.find(names).ok_or_else(|| IoError::MissingColumns {
            path: self.path.clone(),
            accepted: names.iter().map(|n| n.trim().to_string()).collect(),
            present: self.columns.iter().map(|c| c.name.clone()).collect(),
        })
    }

    /// Array strings of a text column parsed element by element with `item`.
    fn parse_text_lists<U>(
        &self,
        v: &[Option<String>],
        name: &str,
        item: impl Fn(&str) -> Result<U, String>,
    ) -> Result<ListColumn<U>, IoError> {
        let mut l = ListColumn::default();
        for (i, s) in v.iter().enumerate() {
            let items =
                text::parse_list(s.as_deref(), &item).map_err(|m| self.value_error(i, name, m))?;
            l.push_row(items);
        }
        Ok(l)
    }

    /// The elements of every row converted by `f` (an error names the row).
    fn convert_list_rows<T, U>(
        &self,
        l: &ListColumn<T>,
        name: &str,
        f: impl Fn(&T) -> Result<U, String>,
    ) -> Result<ListColumn<U>, IoError> {
        let mut out = ListColumn::default();
        for i in 0..l.n_rows() {
            let row = l
                .row(i)
                .iter()
                .map(&f)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| self.value_error(i, name, m))?;
            out.push_row(row);
        }
        Ok(out)
    }

    fn value_error(&self, row: usize, column: &str, message: impl Into<String>) -> IoError {
        IoError::value(&self.path, self.first_row + row, column, message)
    }

    fn type_error(&self, c: &Column, expected: &'static str) -> IoError {
        IoError::ColumnType {
            path: self.path.clone(),
            column: c.name.clone(),
            found: c.data.kind().to_string(),
            expected,
        }
    }

    /// Factor converting the column's stated unit to `unit` (1 when either is absent/Any).
    fn unit_factor(&self, c: &Column, unit: Unit) -> Result<f64, IoError> {
        units::factor(c.unit.as_deref(), unit).map_err(|message| IoError::Unit {
            path: self.path.clone(),
            column: c.name.clone(),
            unit: c.unit.clone().unwrap_or_default(),
            message,
        })
    }

    /// A float column found by any of `names`, in `unit` (converted from the unit the file
    /// states; an incompatible unit is an error). Integers are widened, text is parsed,
    /// null → NaN.
    pub fn f64_column(&self, names: &[&str], unit: Unit) -> Result<Vec<f64>, IoError> {
        let c = self.require(names)?;
        let factor = self.unit_factor(c, unit)?;
        let mut v = match &c.data {
            ColumnData::Float(v) => v.clone(),
            ColumnData::Int(v) => v.iter().map(|x| x.map_or(f64::NAN, |x| x as f64)).collect(),
            ColumnData::Text(v) => v
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    text::parse_f64(s.as_deref()).map_err(|m| self.value_error(i, &c.name, m))
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(self.type_error(c, "a number (float, integer or numeric text)")),
        };
        scale(&mut v, factor);
        Ok(v)
    }

    /// An integer column found by any of `names`, exact (integers and integer text never go
    /// through a float); a float column is accepted where its values are integral (converted
    /// exactly, whatever precision the file's writer kept).
    pub fn i64_column(&self, names: &[&str]) -> Result<Vec<Option<i64>>, IoError> {
        let c = self.require(names)?;
        match &c.data {
            ColumnData::Int(v) => Ok(v.clone()),
            ColumnData::Text(v) => v
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    text::parse_i64(s.as_deref()).map_err(|m| self.value_error(i, &c.name, m))
                })
                .collect(),
            ColumnData::Float(v) => v
                .iter()
                .enumerate()
                .map(|(i, &x)| text::float_to_i64(x).map_err(|m| self.value_error(i, &c.name, m)))
                .collect(),
            ColumnData::Bool(v) => Ok(v.iter().map(|b| b.map(i64::from)).collect()),
            _ => Err(self.type_error(c, "an integer")),
        }
    }

    /// A boolean column found by any of `names`: booleans, text `true`/`false`/`T`/`F`/`1`/
    /// `0`, or integers 0/1.
    pub fn bool_column(&self, names: &[&str]) -> Result<Vec<Option<bool>>, IoError> {
        let c = self.require(names)?;
        match &c.data {
            ColumnData::Bool(v) => Ok(v.clone()),
            ColumnData::Text(v) => v
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    text::parse_bool(s.as_deref()).map_err(|m| self.value_error(i, &c.name, m))
                })
                .collect(),
            ColumnData::Int(v) => v
                .iter()
                .enumerate()
                .map(|(i, x)| text::int_to_bool(*x).map_err(|m| self.value_error(i, &c.name, m)))
                .collect(),
            _ => Err(self.type_error(c, "a boolean")),
        }
    }

    /// A column of float lists found by any of `names`, in `unit`: real list columns, or
    /// array strings (`"(1.0, 2.0, , null, NaN)"`, `"[…]"`, `"{…}"`; null elements → NaN);
    /// a scalar column gives lists of length 1 (a null scalar: `[NaN]`).
    pub fn f64_lists(&self, names: &[&str], unit: Unit) -> Result<ListColumn<f64>, IoError> {
        let c = self.require(names)?;
        let factor = self.unit_factor(c, unit)?;
        let mut l = match &c.data {
            ColumnData::FloatList(l) => l.clone(),
            ColumnData::IntList(l) => l.clone().map(|x| x.map_or(f64::NAN, |x| x as f64)),
            ColumnData::Float(v) => ListColumn::from_rows(v.iter().map(|&x| vec![x])),
            ColumnData::Int(v) => {
                ListColumn::from_rows(v.iter().map(|x| vec![x.map_or(f64::NAN, |x| x as f64)]))
            }
            ColumnData::Text(v) => self.parse_text_lists(v, &c.name, text::parse_f64_item)?,
            _ => return Err(self.type_error(c, "a list of numbers")),
        };
        scale(&mut l.values, factor);
        Ok(l)
    }

    /// A column of integer lists found by any of `names` (exact; see [`Table::f64_lists`]).
    pub fn i64_lists(&self, names: &[&str]) -> Result<ListColumn<Option<i64>>, IoError> {
        let c = self.require(names)?;
        match &c.data {
            ColumnData::IntList(l) => Ok(l.clone()),
            ColumnData::Int(v) => Ok(ListColumn::from_rows(v.iter().map(|&x| vec![x]))),
            ColumnData::BoolList(l) => Ok(l.clone().map(|b| b.map(i64::from))),
            ColumnData::FloatList(l) => {
                self.convert_list_rows(l, &c.name, |&x| text::float_to_i64(x))
            }
            ColumnData::Text(v) => self.parse_text_lists(v, &c.name, text::parse_i64_item),
            _ => Err(self.type_error(c, "a list of integers")),
        }
    }

    /// A column of boolean lists found by any of `names` (see [`Table::f64_lists`]).
    pub fn bool_lists(&self, names: &[&str]) -> Result<ListColumn<Option<bool>>, IoError> {
        let c = self.require(names)?;
        match &c.data {
            ColumnData::BoolList(l) => Ok(l.clone()),
            ColumnData::Bool(v) => Ok(ListColumn::from_rows(v.iter().map(|&x| vec![x]))),
            ColumnData::IntList(l) => self.convert_list_rows(l, &c.name, |&x| text::int_to_bool(x)),
            ColumnData::Text(v) => self.parse_text_lists(v, &c.name, text::parse_bool_item),
            _ => Err(self.type_error(c, "a list of booleans")),
        }
    }

    /// Appends the rows of `other` (a later chunk of the same file).
    pub fn append(&mut self, other: Table) -> Result<(), IoError> {
        if other.columns.len() != self.columns.len() {
            return Err(IoError::invalid(
                &self.path,
                "chunks with different columns cannot be joined",
            ));
        }
        let first_row = other.first_row;
        for (a, b) in self.columns.iter_mut().zip(other.columns) {
            if a.data.is_empty() && a.data.kind() != b.data.kind() {
                a.data = b.data.empty_like();
            }
            if b.data.is_empty() {
                continue;
            }
            let kind = b.data.kind();
            if !a.data.append(b.data) {
                return Err(IoError::value(
                    &self.path,
                    first_row,
                    &a.name,
                    format!(
                        "{kind} values after {} values in the same column",
                        a.data.kind()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Multiplies by `factor` unless it is exactly 1 (keeps bits).
fn scale(v: &mut [f64], factor: f64) {
    if factor != 1.0 {
        for x in v {
            *x *= factor;
        }
    }
}
