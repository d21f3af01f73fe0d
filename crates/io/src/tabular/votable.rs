//! VOTable 1.x (IVOA VOTable 1.4, §5–6): the first TABLE of the file. Columns from FIELD
//! (`name`, `datatype`, `arraysize`, `unit`, VALUES `null`); data as TABLEDATA (TR/TD text,
//! array elements separated by white space, an empty TD = null) or as a base64 STREAM of
//! BINARY or BINARY2 (big-endian; a variable-length array `*` is preceded by its int32
//! length; BINARY2 starts each row with a null bit mask). TABLEDATA is streamed row by row;
//! a BINARY/BINARY2 stream is one XML text node and is decoded whole when the table is
//! opened (memory: the decoded table). The FITS serialisation and remote streams (`href`)
//! are not read. Complex datatypes are left out of the table.
//!
//! astropy (`astropy.io.votable.converters.Bit`, as in the Gaia archive's files) writes a
//! scalar bit as the byte 0x08 and a variable-length bit array as one such byte per bit,
//! where the standard packs 8 bits a byte from the most significant: a scalar bit is true
//! when its byte is non-zero, and a stream whose rows only fit the one-byte-per-bit layout
//! is read with it.

use super::text;
use super::{dedup_names, Builder, Column, ListColumn, Table, TableFormat, TableReader};
use crate::error::IoError;
use base64::Engine;
use quick_xml::events::{BytesStart, Event};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// A BufRead that counts the lines consumed, for error messages.
struct Lines<R> {
    inner: R,
    newlines: u64,
}

impl<R: BufRead> std::io::Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let avail = self.inner.fill_buf()?;
            let n = avail.len().min(buf.len());
            buf[..n].copy_from_slice(&avail[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Lines<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        if let Ok(b) = self.inner.fill_buf() {
            let k = amt.min(b.len());
            self.newlines += b[..k].iter().filter(|&&c| c == b'\n').count() as u64;
        }
        self.inner.consume(amt);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dt {
    Boolean,
    Bit,
    U8,
    I16,
    I32,
    I64,
    Char,
    UnicodeChar,
    F32,
    F64,
    ComplexF32,
    ComplexF64,
}

impl Dt {
    fn parse(s: &str) -> Option<Dt> {
        Some(match s.trim() {
            "boolean" => Dt::Boolean,
            "bit" => Dt::Bit,
            "unsignedByte" => Dt::U8,
            "short" => Dt::I16,
            "int" => Dt::I32,
            "long" => Dt::I64,
            "char" => Dt::Char,
            "unicodeChar" => Dt::UnicodeChar,
            "float" => Dt::F32,
            "double" => Dt::F64,
            "floatComplex" => Dt::ComplexF32,
            "doubleComplex" => Dt::ComplexF64,
            _ => return None,
        })
    }

    /// Bytes of `n` elements in a binary stream.
    fn bytes(self, n: usize) -> usize {
        match self {
            Dt::Boolean | Dt::U8 | Dt::Char => n,
            Dt::Bit => n.div_ceil(8),
            Dt::I16 | Dt::UnicodeChar => 2 * n,
            Dt::I32 | Dt::F32 => 4 * n,
            Dt::I64 | Dt::F64 | Dt::ComplexF32 => 8 * n,
            Dt::ComplexF64 => 16 * n,
        }
    }

    fn is_int(self) -> bool {
        matches!(self, Dt::U8 | Dt::I16 | Dt::I32 | Dt::I64)
    }
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    unit: Option<String>,
    dt: Dt,
    /// Elements of a fixed array (product of the fixed dimensions; 1 for a scalar).
    fixed: usize,
    /// True for a variable-length array (`*` in the last dimension).
    variable: bool,
    /// True if the column is read as a list.
    list: bool,
    /// VALUES null, for integers.
    null: Option<String>,
    /// Left out of the table (complex).
    skip: bool,
    /// A variable-length bit array written as one byte per bit (astropy's convention, see
    /// the module doc), decided per stream by which layout reads the whole stream exactly.
    byte_bits: bool,
}

impl Field {
    fn builder(&self) -> Builder {
        match (self.dt, self.list) {
            (Dt::Char | Dt::UnicodeChar, _) => Builder::Text(Vec::new()),
            (Dt::Boolean | Dt::Bit, false) => Builder::Bool(Vec::new()),
            (Dt::Boolean | Dt::Bit, true) => Builder::BoolList(ListColumn::default()),
            (Dt::F32 | Dt::F64 | Dt::ComplexF32 | Dt::ComplexF64, false) => {
                Builder::Float(Vec::new())
            }
            (Dt::F32 | Dt::F64 | Dt::ComplexF32 | Dt::ComplexF64, true) => {
                Builder::FloatList(ListColumn::default())
            }
            (_, false) => Builder::Int(Vec::new()),
            (_, true) => Builder::IntList(ListColumn::default()),
        }
    }
}

/// Parses `arraysize` ("10", "*", "10*", "2x3", "2x*"): (fixed elements, variable).
fn parse_arraysize(s: Option<&str>) -> Option<(usize, bool)> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Some((1, false));
    };
    let mut fixed = 1usize;
    let mut variable = false;
    let dims: Vec<&str> = s.split('x').collect();
    for (k, d) in dims.iter().enumerate() {
        if let Some(n) = d.strip_suffix('*') {
            if k + 1 != dims.len() {
                return None;
            }
            variable = true;
            let _ = n; // a maximum length: not needed to read
        } else {
            fixed = fixed.checked_mul(d.parse::<usize>().ok()?)?;
        }
    }
    Some((fixed, variable))
}

enum Data {
    /// TABLEDATA rows still to read from the XML stream.
    Rows,
    /// A decoded binary stream and the read position.
    Binary {
        bytes: Vec<u8>,
        pos: usize,
        binary2: bool,
    },
    /// No DATA (0 rows) or the end reached.
    Done,
}

pub(crate) struct VoTableReader {
    path: PathBuf,
    names: Vec<String>,
    fields: Vec<Field>,
    xml: quick_xml::Reader<Lines<BufReader<File>>>,
    buf: Vec<u8>,
    data: Data,
    rows_read: usize,
}

fn attr(e: &BytesStart, name: &[u8]) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        if a.key.local_name().as_ref() == name {
            Some(
                a.unescape_value()
                    .map(|v| v.into_owned())
                    .unwrap_or_else(|_| String::from_utf8_lossy(&a.value).into_owned()),
            )
        } else {
            None
        }
    })
}

fn xml_entity(name: &[u8]) -> Option<char> {
    Some(match name {
        b"lt" => '<',
        b"gt" => '>',
        b"amp" => '&',
        b"quot" => '"',
        b"apos" => '\'',
        _ => return None,
    })
}

impl VoTableReader {
    pub fn open(path: &Path) -> Result<VoTableReader, IoError> {
        let file = File::open(path).map_err(|e| IoError::os(path, "open", e))?;
        let mut xml = quick_xml::Reader::from_reader(Lines {
            inner: BufReader::new(file),
            newlines: 0,
        });
        xml.config_mut().trim_text(false);
        let mut r = VoTableReader {
            path: path.to_path_buf(),
            names: Vec::new(),
            fields: Vec::new(),
            xml,
            buf: Vec::new(),
            data: Data::Done,
            rows_read: 0,
        };
        r.read_header()?;
        Ok(r)
    }

    fn line(&self) -> u64 {
        self.xml.get_ref().newlines + 1
    }

    fn xml_error(&self, e: impl std::fmt::Display) -> IoError {
        IoError::invalid(
            &self.path,
            format!("not a valid VOTable file: line {}: {e}", self.line()),
        )
    }

    /// Reads up to the start of the first table's data (or its end).
    fn read_header(&mut self) -> Result<(), IoError> {
        let mut in_table = false;
        let mut seen_votable = false;
        let mut field: Option<Field> = None;
        let mut binary2 = false;
        let mut buf = std::mem::take(&mut self.buf);
        loop {
            buf.clear();
            let ev = self.xml.read_event_into(&mut buf).map_err(|e| {
                IoError::invalid(&self.path, format!("not a valid VOTable file: {e}"))
            })?;
            let line = self.xml.get_ref().newlines + 1;
            let bad = |m: String| IoError::invalid(&self.path, format!("line {line}: {m}"));
            match ev {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let empty = matches!(ev, Event::Empty(_));
                    let name = e.local_name().as_ref().to_vec();
                    match name.as_slice() {
                        b"VOTABLE" => seen_votable = true,
                        b"TABLE" if !in_table => {
                            if !seen_votable {
                                return Err(bad("a TABLE outside a VOTABLE element".into()));
                            }
                            in_table = true;
                            if empty {
                                break;
                            }
                        }
                        b"FIELD" if in_table => {
                            let f = field_from(&self.path, self.fields.len(), e, line)?;
                            if empty {
                                self.fields.push(f);
                            } else {
                                field = Some(f);
                            }
                        }
                        b"VALUES" if field.is_some() => {
                            if let (Some(f), Some(n)) = (field.as_mut(), attr(e, b"null")) {
                                f.null = Some(n);
                            }
                        }
                        b"TABLEDATA" if in_table => {
                            self.data = if empty { Data::Done } else { Data::Rows };
                            break;
                        }
                        b"BINARY" if in_table => binary2 = false,
                        b"BINARY2" if in_table => binary2 = true,
                        b"FITS" if in_table => {
                            return Err(bad(
                                "FITS-serialised VOTable data are not read; convert the table \
                                 to TABLEDATA, BINARY2 or a FITS file"
                                    .into(),
                            ))
                        }
                        b"STREAM" if in_table => {
                            if let Some(href) = attr(e, b"href") {
                                return Err(bad(format!(
                                    "the data are in a remote stream ({href}), not in the file"
                                )));
                            }
                            let enc = attr(e, b"encoding").unwrap_or_default();
                            if enc != "base64" {
                                return Err(bad(format!(
                                    "STREAM encoding \"{enc}\" is not read (only base64)"
                                )));
                            }
                            let bytes = if empty {
                                Vec::new()
                            } else {
                                self.read_stream()?
                            };
                            // Variable-length bit arrays: the standard packs them (8 bits a
                            // byte); astropy writes one byte per bit. Take the layout that
                            // reads the whole stream exactly, the standard's if both do.
                            if self.fields.iter().any(|f| f.dt == Dt::Bit && f.variable)
                                && !walk(&bytes, &self.fields, binary2, false)
                                && walk(&bytes, &self.fields, binary2, true)
                            {
                                for f in self.fields.iter_mut() {
                                    f.byte_bits = f.dt == Dt::Bit && f.variable;
                                }
                            }
                            self.data = Data::Binary {
                                bytes,
                                pos: 0,
                                binary2,
                            };
                            break;
                        }
                        _ => {}
                    }
                }
                Event::End(ref e) => match e.local_name().as_ref() {
                    b"FIELD" => {
                        if let Some(f) = field.take() {
                            self.fields.push(f);
                        }
                    }
                    b"TABLE" if in_table => break,
                    _ => {}
                },
                Event::Eof => {
                    if !seen_votable {
                        return Err(IoError::invalid(
                            &self.path,
                            "not a VOTable file: no VOTABLE element",
                        ));
                    }
                    if !in_table {
                        return Err(IoError::invalid(&self.path, "the VOTable has no TABLE"));
                    }
                    break;
                }
                _ => {}
            }
        }
        self.buf = buf;
        if self.fields.iter().all(|f| f.skip) {
            return Err(IoError::invalid(
                &self.path,
                "the VOTable has no readable FIELD",
            ));
        }
        let kept: Vec<String> = self
            .fields
            .iter()
            .filter(|f| !f.skip)
            .map(|f| f.name.clone())
            .collect();
        self.names = dedup_names(kept);
        for (k, f) in self.fields.iter_mut().filter(|f| !f.skip).enumerate() {
            f.name = self.names[k].clone();
        }
        Ok(())
    }

    /// Collects and decodes the base64 text of a STREAM.
    fn read_stream(&mut self) -> Result<Vec<u8>, IoError> {
        let mut b64: Vec<u8> = Vec::new();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match self.xml.read_event_into(&mut buf).map_err(|e| {
                IoError::invalid(&self.path, format!("not a valid VOTable file: {e}"))
            })? {
                Event::Text(t) => b64.extend(t.iter().filter(|c| !c.is_ascii_whitespace())),
                Event::CData(t) => b64.extend(t.iter().filter(|c| !c.is_ascii_whitespace())),
                Event::End(_) => break,
                Event::Eof => return Err(self.xml_error("the file ends inside a STREAM")),
                _ => {}
            }
        }
        base64::engine::general_purpose::STANDARD
            .decode(&b64)
            .map_err(|e| self.xml_error(format!("the base64 STREAM does not decode: {e}")))
    }

    /// Next TABLEDATA row (cells: None = empty TD), or None at the end.
    fn next_tr(&mut self) -> Result<Option<Vec<Option<String>>>, IoError> {
        let mut row: Option<Vec<Option<String>>> = None;
        let mut cell: Option<String> = None;
        let mut buf = std::mem::take(&mut self.buf);
        let result = loop {
            buf.clear();
            let ev = self.xml.read_event_into(&mut buf).map_err(|e| {
                IoError::invalid(&self.path, format!("not a valid VOTable file: {e}"))
            })?;
            match ev {
                Event::Start(ref e) => match e.local_name().as_ref() {
                    b"TR" => row = Some(Vec::new()),
                    b"TD" => cell = Some(String::new()),
                    _ => {}
                },
                Event::Empty(ref e) => match e.local_name().as_ref() {
                    b"TD" => {
                        if let Some(r) = row.as_mut() {
                            r.push(None)
                        }
                    }
                    b"TR" => break Ok(Some(Vec::new())),
                    _ => {}
                },
                Event::Text(t) => {
                    if let Some(c) = cell.as_mut() {
                        c.push_str(&String::from_utf8_lossy(&t));
                    }
                }
                Event::CData(t) => {
                    if let Some(c) = cell.as_mut() {
                        c.push_str(&String::from_utf8_lossy(&t));
                    }
                }
                Event::GeneralRef(r) => {
                    if let Some(c) = cell.as_mut() {
                        match r.resolve_char_ref() {
                            Ok(Some(ch)) => c.push(ch),
                            _ => match xml_entity(&r) {
                                Some(ch) => c.push(ch),
                                None => {
                                    break Err(self.xml_error(format!(
                                        "unknown entity &{};",
                                        String::from_utf8_lossy(&r)
                                    )))
                                }
                            },
                        }
                    }
                }
                Event::End(ref e) => match e.local_name().as_ref() {
                    b"TD" => {
                        if let (Some(r), Some(c)) = (row.as_mut(), cell.take()) {
                            let t = c.trim();
                            r.push(if t.is_empty() {
                                None
                            } else {
                                Some(t.to_string())
                            });
                        }
                    }
                    b"TR" => break Ok(Some(row.take().unwrap_or_default())),
                    b"TABLEDATA" => break Ok(None),
                    _ => {}
                },
                Event::Eof => break Err(self.xml_error("the file ends inside TABLEDATA")),
                _ => {}
            }
        };
        self.buf = buf;
        result
    }
}

/// A FIELD element as a column description (`index`: its 0-based position).
fn field_from(path: &Path, index: usize, e: &BytesStart, line: u64) -> Result<Field, IoError> {
    let name = attr(e, b"name")
        .or_else(|| attr(e, b"ID"))
        .unwrap_or_else(|| format!("col{}", index + 1));
    let bad = |m: String| IoError::invalid(path, format!("line {line}: FIELD \"{name}\": {m}"));
    let dts = attr(e, b"datatype").unwrap_or_default();
    let dt = Dt::parse(&dts).ok_or_else(|| bad(format!("unknown datatype \"{dts}\"")))?;
    let arraysize = attr(e, b"arraysize");
    let (fixed, variable) = parse_arraysize(arraysize.as_deref()).ok_or_else(|| {
        bad(format!(
            "arraysize \"{}\" is not understood",
            arraysize.clone().unwrap_or_default()
        ))
    })?;
    let is_char = matches!(dt, Dt::Char | Dt::UnicodeChar);
    let list = !is_char && (variable || fixed != 1);
    Ok(Field {
        name: name.clone(),
        unit: attr(e, b"unit").filter(|u| !u.trim().is_empty()),
        dt,
        fixed,
        variable,
        list,
        null: None,
        skip: matches!(dt, Dt::ComplexF32 | Dt::ComplexF64),
        byte_bits: false,
    })
}

/// Parses one TABLEDATA cell of field `f` into `b`.
fn push_text(f: &Field, cell: Option<&str>, b: &mut Builder) -> Result<(), String> {
    let is_null = |s: &str| f.null.as_deref() == Some(s);
    let int_item = |s: &str| -> Result<Option<i64>, String> {
        if is_null(s.trim()) {
            Ok(None)
        } else {
            text::parse_i64_item(s)
        }
    };
    // A float32 scalar or fixed array is rounded to float32 as declared; a variable-length
    // float32 array keeps its printed digits at float64, as astropy.io.votable reads it (the
    // published gaia-supdate results for the DR4 TABLEDATA file depend on it).
    let float_item = |s: &str| -> Result<f64, String> {
        if f.dt == Dt::F32 && !f.variable {
            text::parse_f32_item(s)
        } else {
            text::parse_f64_item(s)
        }
    };
    // Bit arrays may be written without separators ("0110").
    let bits;
    let cell = match cell {
        Some(c)
            if f.dt == Dt::Bit
                && c.len() > 1
                && !c.contains(char::is_whitespace)
                && c.chars().all(|x| x == '0' || x == '1') =>
        {
            bits = c.chars().map(String::from).collect::<Vec<_>>().join(" ");
            Some(bits.as_str())
        }
        other => other,
    };
    match b {
        Builder::Text(v) => v.push(cell.map(str::to_string)),
        Builder::Bool(v) => v.push(text::parse_bool(cell)?),
        Builder::Int(v) => v.push(match cell {
            None => None,
            Some(s) => int_item(s).map_err(|e| format!("{e} (expected an integer)"))?,
        }),
        Builder::Float(v) => v.push(match cell {
            None => f64::NAN,
            Some(s) => float_item(s).map_err(|e| format!("{e} (expected a number)"))?,
        }),
        Builder::FloatList(l) => l.push_row(text::parse_list(cell, float_item)?),
        Builder::IntList(l) => l.push_row(text::parse_list(cell, int_item)?),
        Builder::BoolList(l) => l.push_row(text::parse_list(cell, text::parse_bool_item)?),
    }
    Ok(())
}

/// Bytes of a field's value holding `n` elements.
fn value_bytes(f: &Field, n: usize) -> usize {
    if f.byte_bits {
        n
    } else {
        f.dt.bytes(n)
    }
}

/// True if the binary stream splits exactly into rows of `fields`, with variable-length bit
/// arrays taken as one byte per bit when `byte_bits`.
fn walk(bytes: &[u8], fields: &[Field], binary2: bool, byte_bits: bool) -> bool {
    let mut pos = 0usize;
    let mask = if binary2 { fields.len().div_ceil(8) } else { 0 };
    while pos < bytes.len() {
        pos += mask;
        for f in fields {
            let n = if f.variable {
                let Some(c) = bytes.get(pos..pos + 4) else {
                    return false;
                };
                pos += 4;
                let Ok(count) = usize::try_from(i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                else {
                    return false;
                };
                count.saturating_mul(f.fixed)
            } else {
                f.fixed
            };
            let size = if byte_bits && f.dt == Dt::Bit && f.variable {
                n
            } else {
                f.dt.bytes(n)
            };
            pos = pos.saturating_add(size);
            if pos > bytes.len() {
                return false;
            }
        }
    }
    pos == bytes.len()
}

/// Reads `n` bytes at `*pos`.
fn take<'a>(bytes: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], String> {
    let end = pos
        .checked_add(n)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| "the binary stream ends inside this row (truncated?)".to_string())?;
    let s = &bytes[*pos..end];
    *pos = end;
    Ok(s)
}

/// Decodes one binary cell of field `f` at `*pos` into `b` (`null`: BINARY2 null flag).
fn push_binary(
    f: &Field,
    bytes: &[u8],
    pos: &mut usize,
    null: bool,
    b: Option<&mut Builder>,
) -> Result<(), String> {
    let n = if f.variable {
        let c = take(bytes, pos, 4)?;
        let count = i32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        let count = usize::try_from(count).map_err(|_| format!("negative array length {count}"))?;
        count.checked_mul(f.fixed).ok_or("array length overflows")?
    } else {
        f.fixed
    };
    let raw = take(bytes, pos, value_bytes(f, n))?;
    let Some(b) = b else {
        return Ok(());
    };
    let be8 = |i: usize| -> [u8; 8] {
        let mut a = [0u8; 8];
        a.copy_from_slice(&raw[i..i + 8]);
        a
    };
    let int = |i: usize| -> Option<i64> {
        let v = match f.dt {
            Dt::U8 => raw[i] as i64,
            Dt::I16 => i16::from_be_bytes([raw[2 * i], raw[2 * i + 1]]) as i64,
            Dt::I32 => {
                i32::from_be_bytes([raw[4 * i], raw[4 * i + 1], raw[4 * i + 2], raw[4 * i + 3]])
                    as i64
            }
            Dt::I64 => i64::from_be_bytes(be8(8 * i)),
            _ => return None,
        };
        match &f.null {
            Some(s) if s.trim().parse::<i64>().ok() == Some(v) => None,
            _ => Some(v),
        }
    };
    let float = |i: usize| -> f64 {
        match f.dt {
            Dt::F32 => {
                f32::from_be_bytes([raw[4 * i], raw[4 * i + 1], raw[4 * i + 2], raw[4 * i + 3]])
                    as f64
            }
            Dt::F64 => f64::from_be_bytes(be8(8 * i)),
            _ if f.dt.is_int() => int(i).map_or(f64::NAN, |v| v as f64),
            _ => f64::NAN,
        }
    };
    let boolean = |i: usize| -> Option<bool> {
        match f.dt {
            // A scalar bit: any set bit (the standard's 0x80, astropy's 0x08).
            Dt::Bit if f.byte_bits || !f.list => Some(raw[i] != 0),
            Dt::Bit => Some(raw[i / 8] & (0x80 >> (i % 8)) != 0),
            _ => match raw[i] {
                b'T' | b't' | b'1' => Some(true),
                b'F' | b'f' | b'0' => Some(false),
                _ => None,
            },
        }
    };
    match b {
        Builder::Text(v) => {
            let s = if f.dt == Dt::UnicodeChar {
                let u: Vec<u16> = raw
                    .chunks(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                String::from_utf16_lossy(&u)
            } else {
                String::from_utf8_lossy(raw).into_owned()
            };
            let s = s.trim_end_matches(['\0', ' ']);
            v.push(if null || s.is_empty() {
                None
            } else {
                Some(s.to_string())
            });
        }
        Builder::Bool(v) => v.push(if null || n == 0 { None } else { boolean(0) }),
        Builder::Int(v) => v.push(if null || n == 0 { None } else { int(0) }),
        Builder::Float(v) => v.push(if null || n == 0 { f64::NAN } else { float(0) }),
        Builder::BoolList(l) => {
            if null {
                l.push_row(std::iter::empty())
            } else {
                l.push_row((0..n).map(boolean))
            }
        }
        Builder::IntList(l) => {
            if null {
                l.push_row(std::iter::empty())
            } else {
                l.push_row((0..n).map(int))
            }
        }
        Builder::FloatList(l) => {
            if null {
                l.push_row(std::iter::empty())
            } else {
                l.push_row((0..n).map(float))
            }
        }
    }
    Ok(())
}

impl TableReader for VoTableReader {
    fn column_names(&self) -> &[String] {
        &self.names
    }

    fn column_units(&self) -> Vec<Option<String>> {
        self.fields
            .iter()
            .filter(|f| !f.skip)
            .map(|f| f.unit.clone())
            .collect()
    }

    fn next_chunk(&mut self, max_rows: usize) -> Result<Option<Table>, IoError> {
        let max_rows = max_rows.max(1);
        let mut builders: Vec<Option<Builder>> = self
            .fields
            .iter()
            .map(|f| if f.skip { None } else { Some(f.builder()) })
            .collect();
        let first_row = self.rows_read + 1;
        let mut n = 0;
        while n < max_rows {
            match &mut self.data {
                Data::Done => break,
                Data::Rows => {
                    let Some(row) = self.next_tr()? else {
                        self.data = Data::Done;
                        break;
                    };
                    let row_no = self.rows_read + 1;
                    if row.len() != self.fields.len() {
                        return Err(IoError::invalid(
                            &self.path,
                            format!(
                                "line {}: data row {row_no} has {} TD cells, the table has {} FIELDs",
                                self.line(),
                                row.len(),
                                self.fields.len()
                            ),
                        ));
                    }
                    for ((f, b), cell) in self.fields.iter().zip(builders.iter_mut()).zip(&row) {
                        if let Some(b) = b {
                            push_text(f, cell.as_deref(), b)
                                .map_err(|m| IoError::value(&self.path, row_no, &f.name, m))?;
                        }
                    }
                }
                Data::Binary {
                    bytes,
                    pos,
                    binary2,
                } => {
                    if *pos >= bytes.len() {
                        self.data = Data::Done;
                        break;
                    }
                    let row_no = self.rows_read + 1;
                    let mask: Vec<u8> = if *binary2 {
                        take(bytes, pos, self.fields.len().div_ceil(8))
                            .map_err(|m| {
                                IoError::invalid(&self.path, format!("data row {row_no}: {m}"))
                            })?
                            .to_vec()
                    } else {
                        Vec::new()
                    };
                    for (k, (f, b)) in self.fields.iter().zip(builders.iter_mut()).enumerate() {
                        let null = mask.get(k / 8).is_some_and(|m| m & (0x80 >> (k % 8)) != 0);
                        push_binary(f, bytes, pos, null, b.as_mut())
                            .map_err(|m| IoError::value(&self.path, row_no, &f.name, m))?;
                    }
                }
            }
            self.rows_read += 1;
            n += 1;
        }
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(Table {
            path: self.path.clone(),
            format: TableFormat::VoTable,
            first_row,
            columns: builders
                .into_iter()
                .zip(&self.fields)
                .filter_map(|(b, f)| {
                    b.map(|b| Column {
                        name: f.name.clone(),
                        unit: f.unit.clone(),
                        data: b.finish(),
                    })
                })
                .collect(),
        }))
    }
}
