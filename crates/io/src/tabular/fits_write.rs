//! A minimal FITS binary-table writer (FITS Standard 4.0, §7.3), for tests and examples:
//! an empty primary HDU, then one BINTABLE with float64 (`D`), int64 (`K`), logical (`L`,
//! null = 0) and text (`rA`) columns, and list columns as variable-length heap arrays
//! (`PD`, `PK`, `PL`); units as `TUNITn`, null integers as `TNULLn` = i64::MIN.

use super::{Column, ColumnData, ListColumn};
use crate::error::IoError;
use std::path::Path;

fn card(out: &mut Vec<u8>, text: &str) {
    let mut c = text.as_bytes().to_vec();
    c.resize(80, b' ');
    out.extend_from_slice(&c[..80]);
}

fn kv(out: &mut Vec<u8>, key: &str, value: &str) {
    card(out, &format!("{key:<8}= {value:>20}"));
}

fn kv_str(out: &mut Vec<u8>, key: &str, value: &str) {
    let v = value.replace('\'', "''");
    card(out, &format!("{key:<8}= '{v:<8}'"));
}

fn pad(out: &mut Vec<u8>, with: u8) {
    while !out.len().is_multiple_of(2880) {
        out.push(with);
    }
}

fn heap_push<T>(
    heap: &mut Vec<u8>,
    row: &mut Vec<u8>,
    l: &ListColumn<T>,
    i: usize,
    enc: impl Fn(&T, &mut Vec<u8>),
) {
    let items = l.row(i);
    row.extend_from_slice(&(items.len() as i32).to_be_bytes());
    row.extend_from_slice(&(heap.len() as i32).to_be_bytes());
    for x in items {
        enc(x, heap);
    }
}

fn logical(b: Option<bool>) -> u8 {
    match b {
        Some(true) => b'T',
        Some(false) => b'F',
        None => 0,
    }
}

/// Writes `columns` (all of the same length) as a FITS binary table at `path` (replacing it).
pub fn write_fits(path: &Path, columns: &[Column]) -> Result<(), IoError> {
    let n_rows = columns.first().map_or(0, |c| c.data.len());
    if columns.iter().any(|c| c.data.len() != n_rows) {
        return Err(IoError::invalid(path, "columns of different lengths"));
    }
    // Text widths.
    let width = |c: &Column| -> usize {
        match &c.data {
            ColumnData::Text(v) => v
                .iter()
                .map(|s| s.as_ref().map_or(0, |s| s.len()))
                .max()
                .unwrap_or(0)
                .max(1),
            _ => 0,
        }
    };
    let mut rows: Vec<u8> = Vec::new();
    let mut heap: Vec<u8> = Vec::new();
    for i in 0..n_rows {
        for c in columns {
            match &c.data {
                ColumnData::Float(v) => rows.extend_from_slice(&v[i].to_be_bytes()),
                ColumnData::Int(v) => {
                    rows.extend_from_slice(&v[i].unwrap_or(i64::MIN).to_be_bytes())
                }
                ColumnData::Bool(v) => rows.push(logical(v[i])),
                ColumnData::Text(v) => {
                    let mut s = v[i].clone().unwrap_or_default().into_bytes();
                    s.resize(width(c), b' ');
                    rows.extend_from_slice(&s);
                }
                ColumnData::FloatList(l) => heap_push(&mut heap, &mut rows, l, i, |x, h| {
                    h.extend_from_slice(&x.to_be_bytes())
                }),
                ColumnData::IntList(l) => heap_push(&mut heap, &mut rows, l, i, |x, h| {
                    h.extend_from_slice(&x.unwrap_or(i64::MIN).to_be_bytes())
                }),
                ColumnData::BoolList(l) => {
                    heap_push(&mut heap, &mut rows, l, i, |x, h| h.push(logical(*x)))
                }
            }
        }
    }
    let row_len: usize = columns
        .iter()
        .map(|c| match &c.data {
            ColumnData::Float(_) | ColumnData::Int(_) => 8,
            ColumnData::Bool(_) => 1,
            ColumnData::Text(_) => width(c),
            _ => 8,
        })
        .sum();
    let mut out = Vec::new();
    card(&mut out, &format!("{:<8}= {:>20}", "SIMPLE", "T"));
    kv(&mut out, "BITPIX", "8");
    kv(&mut out, "NAXIS", "0");
    kv(&mut out, "EXTEND", "T");
    card(&mut out, "END");
    pad(&mut out, b' ');
    kv_str(&mut out, "XTENSION", "BINTABLE");
    kv(&mut out, "BITPIX", "8");
    kv(&mut out, "NAXIS", "2");
    kv(&mut out, "NAXIS1", &row_len.to_string());
    kv(&mut out, "NAXIS2", &n_rows.to_string());
    kv(&mut out, "PCOUNT", &heap.len().to_string());
    kv(&mut out, "GCOUNT", "1");
    kv(&mut out, "TFIELDS", &columns.len().to_string());
    for (k, c) in columns.iter().enumerate() {
        let n = k + 1;
        kv_str(&mut out, &format!("TTYPE{n}"), &c.name);
        let tform = match &c.data {
            ColumnData::Float(_) => "D".to_string(),
            ColumnData::Int(_) => "K".to_string(),
            ColumnData::Bool(_) => "L".to_string(),
            ColumnData::Text(_) => format!("{}A", width(c)),
            ColumnData::FloatList(_) => "PD".to_string(),
            ColumnData::IntList(_) => "PK".to_string(),
            ColumnData::BoolList(_) => "PL".to_string(),
        };
        kv_str(&mut out, &format!("TFORM{n}"), &tform);
        if matches!(c.data, ColumnData::Int(_) | ColumnData::IntList(_)) {
            kv(&mut out, &format!("TNULL{n}"), &i64::MIN.to_string());
        }
        if let Some(u) = &c.unit {
            kv_str(&mut out, &format!("TUNIT{n}"), u);
        }
    }
    card(&mut out, "END");
    pad(&mut out, b' ');
    out.extend_from_slice(&rows);
    out.extend_from_slice(&heap);
    pad(&mut out, 0);
    std::fs::write(path, out).map_err(|e| IoError::os(path, "write", e))
}
