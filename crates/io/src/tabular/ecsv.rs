//! ECSV (astropy's Enhanced CSV, APE 6 / ECSV 1.0): `# %ECSV 1.0`, then `# `-prefixed YAML
//! with `datatype` (per column: `name`, `datatype`, `unit`, `subtype` such as
//! `float64[null]` for arrays stored as JSON strings) and `delimiter` (`' '` or `','`;
//! absent = a space, the standard's default, which astropy writes by default); then a line of
//! column names and the rows. The YAML is read by a small parser of the keys above, in block
//! (`- name: x` / `  unit: mas`) or flow (`- {name: x, unit: mas}`) style; other keys are
//! ignored.

use super::delimited::{Declared, DelimitedReader, Spec};
use super::TableFormat;
use crate::error::IoError;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Opens an ECSV file.
pub(crate) fn open(path: &Path) -> Result<DelimitedReader, IoError> {
    let file = File::open(path).map_err(|e| IoError::os(path, "open", e))?;
    let mut r = BufReader::new(file);
    let mut header: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        let peek = r.fill_buf().map_err(|e| IoError::os(path, "read", e))?;
        if peek.first() != Some(&b'#') {
            break;
        }
        line.clear();
        r.read_line(&mut line).map_err(|e| {
            IoError::invalid(
                path,
                format!("line {}: not UTF-8 text ({e})", header.len() + 1),
            )
        })?;
        header.push(line.trim_end_matches(['\n', '\r']).to_string());
    }
    let n_header = header.len() as u64;
    let first = header.first().map(String::as_str).unwrap_or("");
    if !first.starts_with("# %ECSV") {
        return Err(IoError::invalid(
            path,
            "line 1: not an ECSV file (it must start with \"# %ECSV\")",
        ));
    }
    let yaml: Vec<(usize, String)> = header
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, l)| {
            let body = l.strip_prefix('#').unwrap_or(l);
            let body = body.strip_prefix(' ').unwrap_or(body);
            (i + 1, body.to_string())
        })
        .filter(|(_, l)| l.trim() != "---" && !l.trim().is_empty())
        .collect();
    let header = parse_header(&yaml)
        .map_err(|(line, m)| IoError::invalid(path, format!("line {line}: ECSV header: {m}")))?;
    let input: Box<dyn Read + Send> = Box::new(r);
    DelimitedReader::with_specs(
        path,
        TableFormat::Ecsv,
        input,
        header.delimiter,
        header.declared_delimiter,
        header.columns,
        n_header,
    )
}

struct Header {
    delimiter: u8,
    /// True if the header has a `delimiter` entry.
    declared_delimiter: bool,
    columns: Vec<Spec>,
}

/// Indentation (leading spaces).
fn indent(s: &str) -> usize {
    s.len() - s.trim_start_matches(' ').len()
}

/// Removes YAML quotes around a scalar.
fn unquote(s: &str) -> String {
    let t = s.trim();
    if t.len() >= 2
        && ((t.starts_with('\'') && t.ends_with('\'')) || (t.starts_with('"') && t.ends_with('"')))
    {
        let inner = &t[1..t.len() - 1];
        if t.starts_with('\'') {
            inner.replace("''", "'")
        } else {
            inner.replace("\\\"", "\"").replace("\\\\", "\\")
        }
    } else {
        t.to_string()
    }
}

/// `key: value` on one line (value may be empty), or None.
fn key_value(s: &str) -> Option<(String, String)> {
    let t = s.trim();
    let colon = t
        .find(": ")
        .or_else(|| t.strip_suffix(':').map(|k| k.len()))?;
    let key = t[..colon].trim();
    if key.is_empty() || key.contains(' ') && !key.starts_with(['\'', '"']) {
        return None;
    }
    let value = t[colon + 1..].trim();
    Some((unquote(key), value.to_string()))
}

/// Splits a flow mapping `{a: 1, b: 'x, y'}` into key-value pairs (top-level commas only).
fn flow_mapping(s: &str) -> Result<Vec<(String, String)>, String> {
    let t = s.trim();
    let inner = t
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .ok_or_else(|| format!("expected a flow mapping {{…}}, found \"{t}\""))?;
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut cur = String::new();
    for c in inner.chars() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    cur.push(c);
                }
                '{' | '[' => {
                    depth += 1;
                    cur.push(c);
                }
                '}' | ']' => {
                    depth -= 1;
                    cur.push(c);
                }
                ',' if depth == 0 => parts.push(std::mem::take(&mut cur)),
                _ => cur.push(c),
            },
        }
    }
    if !cur.trim().is_empty() {
        parts.push(cur);
    }
    let mut out = Vec::new();
    for p in parts {
        let p = p.trim();
        let colon = p
            .find(':')
            .ok_or_else(|| format!("expected \"key: value\" in \"{p}\""))?;
        out.push((unquote(&p[..colon]), p[colon + 1..].trim().to_string()));
    }
    Ok(out)
}

/// Column under construction from its YAML keys.
#[derive(Default)]
struct Col {
    line: usize,
    name: Option<String>,
    unit: Option<String>,
    datatype: Option<String>,
    subtype: Option<String>,
}

impl Col {
    fn set(&mut self, key: &str, value: &str) {
        let v = unquote(value);
        match key {
            "name" => self.name = Some(v),
            "unit" => self.unit = Some(v),
            "datatype" => self.datatype = Some(v),
            "subtype" => self.subtype = Some(v),
            _ => {}
        }
    }

    fn spec(self) -> Result<Spec, (usize, String)> {
        let line = self.line;
        let name = self
            .name
            .ok_or((line, "a datatype entry without a name".to_string()))?;
        let datatype = self
            .datatype
            .ok_or((line, format!("column \"{name}\" has no datatype")))?;
        let declared = declared(&datatype, self.subtype.as_deref())
            .map_err(|m| (line, format!("column \"{name}\": {m}")))?;
        Ok(Spec {
            name,
            unit: self.unit.filter(|u| !u.trim().is_empty()),
            declared,
        })
    }
}

/// The reader's type for an ECSV `datatype` and optional `subtype`.
fn declared(datatype: &str, subtype: Option<&str>) -> Result<Declared, String> {
    let scalar = |d: &str| -> Result<Declared, String> {
        Ok(match d {
            "bool" => Declared::Bool,
            "int8" | "int16" | "int32" | "int64" | "uint8" | "uint16" | "uint32" | "uint64" => {
                Declared::Int
            }
            "float16" | "float32" => Declared::Float32,
            "float64" | "float128" => Declared::Float64,
            "string" | "complex64" | "complex128" | "complex256" | "object" => Declared::Text,
            other => return Err(format!("unknown datatype \"{other}\"")),
        })
    };
    let base = scalar(datatype.trim())?;
    match (base, subtype.map(str::trim)) {
        (Declared::Text, Some(sub)) if sub.contains('[') => {
            let elem = &sub[..sub.find('[').unwrap_or(sub.len())];
            Ok(match scalar(elem)? {
                Declared::Float64 => Declared::FloatList,
                Declared::Float32 => Declared::Float32List,
                Declared::Int => Declared::IntList,
                Declared::Bool => Declared::BoolList,
                _ => Declared::Text,
            })
        }
        (d, _) => Ok(d),
    }
}

/// Parses the YAML lines (1-based line number, text without the `# ` prefix).
fn parse_header(lines: &[(usize, String)]) -> Result<Header, (usize, String)> {
    let mut delimiter = b' ';
    let mut declared_delimiter = false;
    let mut columns: Vec<Spec> = Vec::new();
    let mut have_datatype = false;
    let mut i = 0;
    while i < lines.len() {
        let (ln, l) = (&lines[i].0, &lines[i].1);
        if indent(l) != 0 {
            i += 1;
            continue;
        }
        let Some((key, value)) = key_value(l) else {
            i += 1;
            continue;
        };
        match key.as_str() {
            "delimiter" => {
                declared_delimiter = true;
                let d = unquote(&value);
                delimiter = match d.as_str() {
                    " " | "" => b' ',
                    "," => b',',
                    other => return Err((*ln, format!("delimiter \"{other}\" is not ' ' or ','"))),
                };
                i += 1;
            }
            "datatype" => {
                have_datatype = true;
                i += 1;
                // The list: items "- …" at indent `base` (0 or more), keys of a block
                // item at base + 2; the list ends at a line at indent 0 that is not an item.
                let mut base: Option<usize> = None;
                let mut cur: Option<Col> = None;
                while i < lines.len() {
                    let (ln, l) = (lines[i].0, &lines[i].1);
                    let ind = indent(l);
                    let t = l.trim();
                    let is_item = t.starts_with("- ") || t == "-";
                    if base.is_none() && is_item {
                        base = Some(ind);
                    }
                    let Some(b) = base else {
                        return Err((
                            ln,
                            "expected the list of columns after \"datatype:\"".into(),
                        ));
                    };
                    if ind < b || (ind == b && !is_item) || (ind == 0 && !is_item) {
                        break;
                    }
                    if ind == b && is_item {
                        if let Some(c) = cur.take() {
                            columns.push(c.spec()?);
                        }
                        let mut c = Col {
                            line: ln,
                            ..Col::default()
                        };
                        let rest = t.strip_prefix('-').unwrap_or("").trim();
                        if rest.starts_with('{') {
                            for (k, v) in flow_mapping(rest).map_err(|m| (ln, m))? {
                                c.set(&k, &v);
                            }
                        } else if let Some((k, v)) = key_value(rest) {
                            c.set(&k, &v);
                        }
                        cur = Some(c);
                    } else if ind == b + 2 && !is_item {
                        if let (Some(c), Some((k, v))) = (cur.as_mut(), key_value(t)) {
                            c.set(&k, &v);
                        }
                    }
                    i += 1;
                }
                if let Some(c) = cur.take() {
                    columns.push(c.spec()?);
                }
            }
            _ => i += 1,
        }
    }
    if !have_datatype || columns.is_empty() {
        let ln = lines.first().map_or(2, |l| l.0);
        return Err((ln, "no \"datatype\" list of columns".to_string()));
    }
    Ok(Header {
        delimiter,
        declared_delimiter,
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<(usize, String)> {
        s.lines()
            .enumerate()
            .map(|(i, l)| (i + 2, l.to_string()))
            .collect()
    }

    #[test]
    fn block_and_flow() {
        let h = parse_header(&lines(
            "datatype:\n- {name: a, unit: uas / yr, datatype: float64}\n- name: b\n  datatype: string\n  meta: !!omap\n  - {ucd: x}\n  subtype: int64[null]\n- {name: 'c d', datatype: bool}\ndelimiter: ','\nschema: astropy-2.0",
        ))
        .unwrap();
        assert_eq!(h.delimiter, b',');
        assert_eq!(h.columns.len(), 3);
        assert_eq!(h.columns[0].unit.as_deref(), Some("uas / yr"));
        assert_eq!(h.columns[1].declared, Declared::IntList);
        assert_eq!(h.columns[2].name, "c d");
        assert_eq!(h.columns[2].declared, Declared::Bool);
    }
}
