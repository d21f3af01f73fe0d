//! FITS binary tables (FITS Standard 4.0, §7.3): the first `XTENSION= 'BINTABLE'` HDU.
//! Header: 2880-byte blocks of 80-character cards; columns from `TTYPEn`, `TFORMn` (`rTa`:
//! L logical, X bit, B u8, I i16, J i32, K i64, A char, E f32, D f64, and the variable-length
//! descriptors `P`/`Q` into the heap), `TUNITn`, `TNULLn`, `TSCALn`/`TZEROn` (integer
//! offsets such as TZERO = 32768 for unsigned 16-bit stay exact integers); big-endian data.
//! Logicals are the bytes 'T' (84) / 'F' (70), 0 = null. Rows are streamed from the main
//! table; heap arrays are read through a window of the heap. Complex columns (C, M) and
//! columns of repeat 0 are left out of the table.

use super::{dedup_names, Builder, Column, ListColumn, Table, TableFormat, TableReader};
use crate::error::IoError;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

const BLOCK: u64 = 2880;
const CARD: usize = 80;
/// Heap bytes read at once.
const HEAP_WINDOW: usize = 1 << 20;

/// A header card's value.
#[derive(Debug, Clone)]
enum Value {
    Str(String),
    Num(f64),
    /// An integer as written (exact for 64-bit values).
    Int(i128),
    Logical(bool),
}

/// One header: keyword → value (first occurrence wins).
struct Header {
    cards: Vec<(String, Value)>,
}

impl Header {
    fn get(&self, key: &str) -> Option<&Value> {
        self.cards.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn int(&self, key: &str) -> Option<i128> {
        match self.get(key)? {
            Value::Int(i) => Some(*i),
            Value::Num(x) if x.fract() == 0.0 => Some(*x as i128),
            _ => None,
        }
    }

    fn num(&self, key: &str) -> Option<f64> {
        match self.get(key)? {
            Value::Int(i) => Some(*i as f64),
            Value::Num(x) => Some(*x),
            _ => None,
        }
    }

    fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }
}

/// Parses the value field of a card (after `= `), without its comment.
fn parse_value(s: &str) -> Option<Value> {
    let t = s.trim_start();
    if let Some(rest) = t.strip_prefix('\'') {
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    out.push('\'');
                    chars.next();
                } else {
                    return Some(Value::Str(out.trim_end().to_string()));
                }
            } else {
                out.push(c);
            }
        }
        return Some(Value::Str(out.trim_end().to_string()));
    }
    let v = t.split('/').next().unwrap_or("").trim();
    match v {
        "" => None,
        "T" => Some(Value::Logical(true)),
        "F" => Some(Value::Logical(false)),
        _ => {
            if let Ok(i) = v.parse::<i128>() {
                Some(Value::Int(i))
            } else {
                v.replace(['D', 'd'], "E")
                    .parse::<f64>()
                    .ok()
                    .map(Value::Num)
            }
        }
    }
}

/// Element type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    Logical,
    Bit,
    U8,
    I16,
    I32,
    I64,
    Char,
    F32,
    F64,
    Complex32,
    Complex64,
}

impl Elem {
    fn from_code(c: char) -> Option<Elem> {
        Some(match c {
            'L' => Elem::Logical,
            'X' => Elem::Bit,
            'B' => Elem::U8,
            'I' => Elem::I16,
            'J' => Elem::I32,
            'K' => Elem::I64,
            'A' => Elem::Char,
            'E' => Elem::F32,
            'D' => Elem::F64,
            'C' => Elem::Complex32,
            'M' => Elem::Complex64,
            _ => return None,
        })
    }

    /// Bytes of `n` elements.
    fn bytes(self, n: usize) -> usize {
        match self {
            Elem::Logical | Elem::U8 | Elem::Char => n,
            Elem::Bit => n.div_ceil(8),
            Elem::I16 => 2 * n,
            Elem::I32 | Elem::F32 => 4 * n,
            Elem::I64 | Elem::F64 | Elem::Complex32 => 8 * n,
            Elem::Complex64 => 16 * n,
        }
    }

    fn is_int(self) -> bool {
        matches!(self, Elem::U8 | Elem::I16 | Elem::I32 | Elem::I64)
    }
}

/// How a column's raw values become values.
#[derive(Debug, Clone, Copy)]
enum Scaling {
    None,
    /// Integer offset (TSCAL = 1, integral TZERO): exact.
    IntOffset(i128),
    /// value = raw × scale + zero, as float.
    Linear(f64, f64),
}

#[derive(Debug, Clone)]
struct Col {
    name: String,
    unit: Option<String>,
    elem: Elem,
    /// Elements in the row (fixed), or None for a P/Q descriptor.
    repeat: usize,
    /// Descriptor width: 0 (fixed), 8 (P) or 16 (Q).
    descriptor: usize,
    /// Byte offset in the row.
    offset: usize,
    tnull: Option<i128>,
    scaling: Scaling,
    /// True if the column is read as a list (repeat > 1 or variable length).
    list: bool,
}

impl Col {
    /// Bytes of the field in the main table.
    fn width(&self) -> usize {
        if self.descriptor > 0 {
            self.descriptor * self.repeat.min(1)
        } else {
            self.elem.bytes(self.repeat)
        }
    }
}

/// Reads the heap through a window.
struct Heap {
    file: File,
    start: u64,
    size: u64,
    window_start: u64,
    window: Vec<u8>,
}

impl Heap {
    fn read(&mut self, offset: u64, len: usize) -> Result<&[u8], String> {
        let end = offset
            .checked_add(len as u64)
            .ok_or("array descriptor overflows")?;
        if end > self.size {
            return Err(format!(
                "array descriptor points beyond the heap (bytes {offset}..{end} of {})",
                self.size
            ));
        }
        let in_window =
            offset >= self.window_start && end <= self.window_start + self.window.len() as u64;
        if !in_window {
            let want = (len.max(HEAP_WINDOW) as u64).min(self.size - offset) as usize;
            self.window.resize(want, 0);
            self.file
                .seek(SeekFrom::Start(self.start + offset))
                .and_then(|_| self.file.read_exact(&mut self.window))
                .map_err(|e| format!("cannot read the heap: {e}"))?;
            self.window_start = offset;
        }
        let s = (offset - self.window_start) as usize;
        Ok(&self.window[s..s + len])
    }
}

pub(crate) struct FitsReader {
    path: PathBuf,
    names: Vec<String>,
    cols: Vec<Col>,
    file: BufReader<File>,
    heap: Heap,
    row_len: usize,
    n_rows: usize,
    rows_read: usize,
    buf: Vec<u8>,
}

fn invalid(path: &Path, m: impl Into<String>) -> IoError {
    IoError::invalid(path, format!("not a valid FITS file: {}", m.into()))
}

/// Reads one header starting at the current position; returns it and its length in bytes.
fn read_header(path: &Path, f: &mut BufReader<File>, hdu: usize) -> Result<Header, IoError> {
    let mut cards = Vec::new();
    let mut block = vec![0u8; BLOCK as usize];
    loop {
        f.read_exact(&mut block).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                invalid(path, format!("HDU {hdu}: truncated header (no END card)"))
            } else {
                IoError::os(path, "read", e)
            }
        })?;
        for card in block.chunks(CARD) {
            let key = String::from_utf8_lossy(&card[..8]).trim().to_string();
            if cards.is_empty() && hdu == 1 && !card.starts_with(b"SIMPLE  =") {
                return Err(invalid(path, "the first card is not SIMPLE = T"));
            }
            if key == "END" {
                return Ok(Header { cards });
            }
            if &card[8..10] == b"= " {
                if let Some(v) = parse_value(&String::from_utf8_lossy(&card[10..])) {
                    cards.push((key, v));
                }
            }
        }
        if cards.len() > 100_000 {
            return Err(invalid(path, format!("HDU {hdu}: header without END")));
        }
    }
}

/// Bytes of an HDU's data (without padding).
fn data_bytes(h: &Header) -> u64 {
    let bitpix = h.int("BITPIX").unwrap_or(8).unsigned_abs() as u64 / 8;
    let naxis = h.int("NAXIS").unwrap_or(0).max(0) as usize;
    if naxis == 0 {
        return 0;
    }
    let mut n: u64 = 1;
    for i in 1..=naxis {
        n = n.saturating_mul(h.int(&format!("NAXIS{i}")).unwrap_or(0).max(0) as u64);
    }
    let pcount = h.int("PCOUNT").unwrap_or(0).max(0) as u64;
    let gcount = h.int("GCOUNT").unwrap_or(1).max(1) as u64;
    bitpix.saturating_mul(gcount.saturating_mul(pcount.saturating_add(n)))
}

fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK) * BLOCK
}

/// Parses `TFORMn`: `rT`, `rPT(max)` or `rQT(max)`.
fn parse_tform(s: &str) -> Option<(usize, Elem, usize)> {
    let t = s.trim();
    let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
    let repeat: usize = if digits == 0 {
        1
    } else {
        t[..digits].parse().ok()?
    };
    let mut rest = t[digits..].chars();
    let code = rest.next()?;
    match code {
        'P' | 'Q' => {
            let elem = Elem::from_code(rest.next()?)?;
            Some((repeat, elem, if code == 'P' { 8 } else { 16 }))
        }
        c => Some((repeat, Elem::from_code(c)?, 0)),
    }
}

impl FitsReader {
    pub fn open(path: &Path) -> Result<FitsReader, IoError> {
        let file = File::open(path).map_err(|e| IoError::os(path, "open", e))?;
        let file_len = file
            .metadata()
            .map_err(|e| IoError::os(path, "read", e))?
            .len();
        let mut f = BufReader::new(file);
        let mut pos: u64 = 0;
        let mut hdu = 1;
        let (h, data_start) = loop {
            if pos >= file_len {
                return Err(invalid(path, "no binary-table (BINTABLE) extension"));
            }
            f.seek(SeekFrom::Start(pos))
                .map_err(|e| IoError::os(path, "seek", e))?;
            let h = read_header(path, &mut f, hdu)?;
            let header_len = f
                .stream_position()
                .map_err(|e| IoError::os(path, "seek", e))?
                - pos;
            if hdu == 1 && !matches!(h.get("SIMPLE"), Some(Value::Logical(true))) {
                return Err(invalid(path, "the first card is not SIMPLE = T"));
            }
            let data_start = pos + header_len;
            if h.str("XTENSION").map(str::trim) == Some("BINTABLE") {
                break (h, data_start);
            }
            if h.str("XTENSION").map(str::trim) == Some("TABLE") {
                return Err(invalid(
                    path,
                    format!("HDU {hdu} is an ASCII table extension; only binary tables are read"),
                ));
            }
            pos = data_start + padded(data_bytes(&h));
            hdu += 1;
        };
        let need = |k: &str| {
            h.int(k)
                .filter(|&v| v >= 0)
                .ok_or_else(|| invalid(path, format!("HDU {hdu}: missing or bad {k}")))
        };
        let row_len = need("NAXIS1")? as usize;
        let n_rows = need("NAXIS2")? as usize;
        let n_fields = need("TFIELDS")? as usize;
        let pcount = h.int("PCOUNT").unwrap_or(0).max(0) as u64;
        let main = (row_len as u64).saturating_mul(n_rows as u64);
        let theap = h.int("THEAP").map_or(main, |t| t.max(0) as u64);
        let total = main.saturating_add(pcount);
        if data_start.saturating_add(total) > file_len {
            return Err(invalid(
                path,
                format!(
                    "truncated: the header announces {total} bytes of table data from byte \
                     {data_start}, the file has {file_len} bytes"
                ),
            ));
        }
        let mut cols = Vec::new();
        let mut offset = 0usize;
        for n in 1..=n_fields {
            let tform = h
                .str(&format!("TFORM{n}"))
                .ok_or_else(|| invalid(path, format!("missing TFORM{n}")))?;
            let (repeat, elem, descriptor) = parse_tform(tform)
                .ok_or_else(|| invalid(path, format!("TFORM{n} = '{tform}' is not understood")))?;
            let name = h
                .str(&format!("TTYPE{n}"))
                .map(str::to_string)
                .unwrap_or_else(|| format!("col{n}"));
            let scal = h.num(&format!("TSCAL{n}")).unwrap_or(1.0);
            let zero_int = h.int(&format!("TZERO{n}"));
            let zero = h.num(&format!("TZERO{n}")).unwrap_or(0.0);
            let scaling = if scal == 1.0 && zero == 0.0 {
                Scaling::None
            } else if scal == 1.0 && elem.is_int() && zero_int.is_some() {
                Scaling::IntOffset(zero_int.unwrap_or(0))
            } else {
                Scaling::Linear(scal, zero)
            };
            let col = Col {
                name,
                unit: h
                    .str(&format!("TUNIT{n}"))
                    .map(|u| u.trim().to_string())
                    .filter(|u| !u.is_empty()),
                elem,
                repeat,
                descriptor,
                offset,
                tnull: h.int(&format!("TNULL{n}")),
                scaling,
                list: descriptor > 0 || (repeat != 1 && elem != Elem::Char) || elem == Elem::Bit,
            };
            let width = if descriptor > 0 {
                descriptor * repeat.min(1)
            } else {
                elem.bytes(repeat)
            };
            offset += width;
            let skip = width == 0
                || matches!(elem, Elem::Complex32 | Elem::Complex64)
                || (descriptor > 0 && repeat > 1);
            if !skip {
                cols.push(col);
            }
        }
        if offset != row_len {
            return Err(invalid(
                path,
                format!("the columns' widths add up to {offset} bytes, NAXIS1 = {row_len}"),
            ));
        }
        let names = dedup_names(cols.iter().map(|c| c.name.clone()).collect());
        for (c, n) in cols.iter_mut().zip(&names) {
            c.name = n.clone();
        }
        f.seek(SeekFrom::Start(data_start))
            .map_err(|e| IoError::os(path, "seek", e))?;
        let heap_file = File::open(path).map_err(|e| IoError::os(path, "open", e))?;
        let heap_size = pcount.saturating_sub(theap.saturating_sub(main));
        Ok(FitsReader {
            path: path.to_path_buf(),
            names,
            cols,
            file: f,
            heap: Heap {
                file: heap_file,
                start: data_start + theap,
                size: heap_size,
                window_start: 0,
                window: Vec::new(),
            },
            row_len,
            n_rows,
            rows_read: 0,
            buf: Vec::new(),
        })
    }
}

/// The builder for a column.
fn builder(c: &Col) -> Builder {
    let float = matches!(c.elem, Elem::F32 | Elem::F64) || matches!(c.scaling, Scaling::Linear(..));
    match (c.list, c.elem) {
        (_, Elem::Char) => Builder::Text(Vec::new()),
        (false, Elem::Logical) => Builder::Bool(Vec::new()),
        (true, Elem::Logical) | (true, Elem::Bit) => Builder::BoolList(ListColumn::default()),
        (false, _) if float => Builder::Float(Vec::new()),
        (false, _) => Builder::Int(Vec::new()),
        (true, _) if float => Builder::FloatList(ListColumn::default()),
        (true, _) => Builder::IntList(ListColumn::default()),
    }
}

/// Raw integer of element `i` of `b` (big-endian).
fn raw_int(elem: Elem, b: &[u8], i: usize) -> i128 {
    match elem {
        Elem::U8 => b[i] as i128,
        Elem::I16 => i16::from_be_bytes([b[2 * i], b[2 * i + 1]]) as i128,
        Elem::I32 => i32::from_be_bytes(b[4 * i..4 * i + 4].try_into().unwrap_or([0; 4])) as i128,
        Elem::I64 => i64::from_be_bytes(b[8 * i..8 * i + 8].try_into().unwrap_or([0; 8])) as i128,
        _ => 0,
    }
}

fn raw_float(elem: Elem, b: &[u8], i: usize) -> f64 {
    match elem {
        Elem::F32 => f32::from_be_bytes(b[4 * i..4 * i + 4].try_into().unwrap_or([0; 4])) as f64,
        Elem::F64 => f64::from_be_bytes(b[8 * i..8 * i + 8].try_into().unwrap_or([0; 8])),
        _ => f64::NAN,
    }
}

/// Decodes `n` elements of column `c` from `b` into values pushed by the builder.
fn decode(c: &Col, b: &[u8], n: usize, out: &mut Builder) -> Result<(), String> {
    let logical = |x: u8| -> Result<Option<bool>, String> {
        match x {
            b'T' => Ok(Some(true)),
            b'F' => Ok(Some(false)),
            0 => Ok(None),
            other => Err(format!(
                "byte {other} is not a FITS logical ('T', 'F' or 0)"
            )),
        }
    };
    let int = |i: usize| -> Result<Option<i64>, String> {
        let raw = raw_int(c.elem, b, i);
        if c.tnull == Some(raw) {
            return Ok(None);
        }
        let v = match c.scaling {
            Scaling::IntOffset(z) => raw + z,
            _ => raw,
        };
        i64::try_from(v)
            .map(Some)
            .map_err(|_| format!("{v} is beyond the int64 range"))
    };
    let float = |i: usize| -> f64 {
        let v = if c.elem.is_int() {
            let raw = raw_int(c.elem, b, i);
            if c.tnull == Some(raw) {
                return f64::NAN;
            }
            raw as f64
        } else {
            raw_float(c.elem, b, i)
        };
        match c.scaling {
            Scaling::Linear(s, z) => v * s + z,
            Scaling::IntOffset(z) => v + z as f64,
            Scaling::None => v,
        }
    };
    match out {
        Builder::Text(v) => {
            let s = String::from_utf8_lossy(&b[..n.min(b.len())]);
            let s = s.trim_end_matches(['\0', ' ']);
            v.push(if s.is_empty() {
                None
            } else {
                Some(s.to_string())
            });
        }
        Builder::Bool(v) => v.push(logical(b[0])?),
        Builder::Int(v) => v.push(int(0)?),
        Builder::Float(v) => v.push(float(0)),
        Builder::BoolList(l) => {
            if c.elem == Elem::Bit {
                l.push_row((0..n).map(|i| Some(b[i / 8] & (0x80 >> (i % 8)) != 0)));
            } else {
                let row = b[..n]
                    .iter()
                    .map(|&x| logical(x))
                    .collect::<Result<Vec<_>, _>>()?;
                l.push_row(row);
            }
        }
        Builder::IntList(l) => {
            let row = (0..n).map(int).collect::<Result<Vec<_>, _>>()?;
            l.push_row(row);
        }
        Builder::FloatList(l) => l.push_row((0..n).map(float)),
    }
    Ok(())
}

impl TableReader for FitsReader {
    fn column_names(&self) -> &[String] {
        &self.names
    }

    fn column_units(&self) -> Vec<Option<String>> {
        self.cols.iter().map(|c| c.unit.clone()).collect()
    }

    fn next_chunk(&mut self, max_rows: usize) -> Result<Option<Table>, IoError> {
        let n = max_rows.max(1).min(self.n_rows - self.rows_read);
        if n == 0 {
            return Ok(None);
        }
        self.buf.resize(n * self.row_len, 0);
        self.file
            .read_exact(&mut self.buf)
            .map_err(|e| IoError::os(&self.path, "read", e))?;
        let first_row = self.rows_read + 1;
        let mut builders: Vec<Builder> = self.cols.iter().map(builder).collect();
        for r in 0..n {
            let row = &self.buf[r * self.row_len..(r + 1) * self.row_len];
            let row_no = first_row + r;
            for (c, b) in self.cols.iter().zip(builders.iter_mut()) {
                let field = &row[c.offset..c.offset + c.width()];
                let err = |m: String| IoError::value(&self.path, row_no, &c.name, m);
                if c.descriptor > 0 {
                    let (count, off) = if c.descriptor == 8 {
                        (
                            i32::from_be_bytes(field[0..4].try_into().unwrap_or([0; 4])) as i64,
                            i32::from_be_bytes(field[4..8].try_into().unwrap_or([0; 4])) as i64,
                        )
                    } else {
                        (
                            i64::from_be_bytes(field[0..8].try_into().unwrap_or([0; 8])),
                            i64::from_be_bytes(field[8..16].try_into().unwrap_or([0; 8])),
                        )
                    };
                    if count < 0 || off < 0 {
                        return Err(err(format!(
                            "negative array descriptor ({count} elements at {off})"
                        )));
                    }
                    let count = count as usize;
                    let bytes = c.elem.bytes(count);
                    let data = self.heap.read(off as u64, bytes).map_err(err)?;
                    decode(c, data, count, b).map_err(err)?;
                } else {
                    decode(c, field, c.repeat, b).map_err(err)?;
                }
            }
        }
        self.rows_read += n;
        Ok(Some(Table {
            path: self.path.clone(),
            format: TableFormat::Fits,
            first_row,
            columns: builders
                .into_iter()
                .zip(&self.cols)
                .map(|(b, c)| Column {
                    name: c.name.clone(),
                    unit: c.unit.clone(),
                    data: b.finish(),
                })
                .collect(),
        }))
    }
}
