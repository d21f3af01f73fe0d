//! Tables between Rust and Python: engine output columns → `(name, unit, ndarray)` (the `Vec`
//! handed to NumPy without a copy), and NumPy columns → an in-memory
//! [`astrosolve_io::tabular::Table`] read by the engine as it reads a file.
//!
//! From Python every column arrives normalised by `astrosolve/_tables.py`: values as a 1-D
//! float64, int64 or bool array; for a list column the int64 offsets (row i holds
//! `values[offsets[i]:offsets[i+1]]`); optionally a bool mask of valid values (a masked float
//! reads as NaN, a masked integer or boolean as null, as a null in a file); text arrives as a
//! list of `str` or `None`.

use astrosolve_io::tabular::{Column, ColumnData, ListColumn, Table, TableFormat};
use astrosolve_io::{SinkColumn, SinkValues};
use numpy::{IntoPyArray, PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use std::path::PathBuf;

/// A column handed to Python: name, unit (astropy spelling; None: dimensionless), array.
pub type PyColumn = (String, Option<String>, Py<PyAny>);

/// Output columns accumulated batch by batch.
pub struct Accumulated {
    pub columns: Vec<SinkColumn>,
    pub values: Vec<SinkValues>,
}

impl Accumulated {
    pub fn new(columns: Vec<SinkColumn>) -> Self {
        Accumulated {
            columns,
            values: Vec::new(),
        }
    }

    /// Appends a batch (one value vector per column, as `catalogue_values` gives them).
    pub fn push(&mut self, batch: Vec<SinkValues>) {
        if self.values.is_empty() {
            self.values = batch;
            return;
        }
        for (acc, b) in self.values.iter_mut().zip(batch) {
            match (acc, b) {
                (SinkValues::F64(a), SinkValues::F64(b)) => a.extend(b),
                (SinkValues::I64(a), SinkValues::I64(b)) => a.extend(b),
                (SinkValues::I32(a), SinkValues::I32(b)) => a.extend(b),
                (SinkValues::Bool(a), SinkValues::Bool(b)) => a.extend(b),
                // the engine gives every batch the same column types
                _ => unreachable!("column types differ between batches"),
            }
        }
    }

    /// The columns as NumPy arrays (no copy).
    pub fn into_py(self, py: Python<'_>) -> Vec<PyColumn> {
        let n = self.columns.len();
        let mut values = self.values;
        if values.is_empty() {
            values = self
                .columns
                .iter()
                .map(|c| match c.kind {
                    astrosolve_io::SinkKind::F64 => SinkValues::F64(vec![]),
                    astrosolve_io::SinkKind::I64 => SinkValues::I64(vec![]),
                    astrosolve_io::SinkKind::I32 => SinkValues::I32(vec![]),
                    astrosolve_io::SinkKind::Bool => SinkValues::Bool(vec![]),
                })
                .collect();
        }
        debug_assert_eq!(values.len(), n);
        self.columns
            .into_iter()
            .zip(values)
            .map(|(c, v)| {
                let array = match v {
                    SinkValues::F64(v) => v.into_pyarray(py).into_any().unbind(),
                    SinkValues::I64(v) => v.into_pyarray(py).into_any().unbind(),
                    SinkValues::I32(v) => v.into_pyarray(py).into_any().unbind(),
                    SinkValues::Bool(v) => v.into_pyarray(py).into_any().unbind(),
                };
                (c.name, c.unit.map(str::to_string), array)
            })
            .collect()
    }
}

/// The columns of a table read by the engine's reader (a Parquet file it wrote), as NumPy
/// arrays: floats (null → NaN), integers (null → refused: the engine writes none), booleans.
pub fn table_to_py(py: Python<'_>, t: Table) -> PyResult<Vec<PyColumn>> {
    let mut out = Vec::with_capacity(t.columns.len());
    for c in t.columns {
        let array = match c.data {
            ColumnData::Float(v) => v.into_pyarray(py).into_any().unbind(),
            ColumnData::Int(v) => {
                let v: Option<Vec<i64>> = v.into_iter().collect();
                match v {
                    Some(v) => v.into_pyarray(py).into_any().unbind(),
                    None => {
                        return Err(PyValueError::new_err(format!(
                            "{}: column \"{}\" has null integers",
                            t.path.display(),
                            c.name
                        )))
                    }
                }
            }
            ColumnData::Bool(v) => v
                .into_iter()
                .map(|b| b.unwrap_or(false))
                .collect::<Vec<bool>>()
                .into_pyarray(py)
                .into_any()
                .unbind(),
            other => {
                return Err(PyValueError::new_err(format!(
                    "{}: column \"{}\" is a {}, not a number",
                    t.path.display(),
                    c.name,
                    other.kind()
                )))
            }
        };
        out.push((c.name, c.unit, array));
    }
    Ok(out)
}

/// One column from Python: name, unit, values, list offsets, valid mask.
pub type InColumn<'py> = (
    String,
    Option<String>,
    Bound<'py, PyAny>,
    Option<PyReadonlyArray1<'py, i64>>,
    Option<PyReadonlyArray1<'py, bool>>,
);

fn slice<'a, T: numpy::Element>(
    a: &'a PyReadonlyArray1<'_, T>,
    column: &str,
    what: &str,
) -> PyResult<&'a [T]> {
    a.as_slice().map_err(|_| {
        PyValueError::new_err(format!(
            "column \"{column}\": {what} must be a contiguous array"
        ))
    })
}

/// Offsets of a list column, checked: n_rows + 1 values from 0, non-decreasing, up to `len`.
fn offsets(o: &[i64], len: usize, column: &str) -> PyResult<Vec<usize>> {
    let bad = |why: &str| PyValueError::new_err(format!("column \"{column}\": offsets {why}"));
    if o.first() != Some(&0) {
        return Err(bad("must start at 0"));
    }
    if o.windows(2).any(|w| w[1] < w[0]) {
        return Err(bad("must not decrease"));
    }
    if o.last().map(|&x| x as usize) != Some(len) {
        return Err(bad("must end at the number of values"));
    }
    Ok(o.iter().map(|&x| x as usize).collect())
}

/// An in-memory table named `name` (used in messages as a file name) from Python columns.
pub fn table_from_py(name: &str, columns: Vec<InColumn<'_>>) -> PyResult<Table> {
    let mut out = Vec::with_capacity(columns.len());
    for (cname, unit, values, offs, valid) in columns {
        let valid = match &valid {
            Some(v) => Some(slice(v, &cname, "the mask")?),
            None => None,
        };
        let ok = |i: usize| valid.is_none_or(|v| v[i]);
        if let Ok(list) = values.cast::<pyo3::types::PyList>() {
            // text (e.g. array strings "(1.0, 2.0, …)" as the archive writes them)
            if offs.is_some() {
                return Err(PyTypeError::new_err(format!(
                    "column \"{cname}\": lists of text are not supported"
                )));
            }
            let text: Vec<Option<String>> = list.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "column \"{cname}\": text values must be str or None"
                ))
            })?;
            out.push(Column {
                name: cname,
                unit: unit.filter(|u| !u.trim().is_empty()),
                data: ColumnData::Text(text),
            });
            continue;
        }
        let n_values;
        enum Flat {
            F(Vec<f64>),
            I(Vec<Option<i64>>),
            B(Vec<Option<bool>>),
        }
        let flat = if let Ok(a) = values.cast::<PyArray1<f64>>() {
            let r = a.readonly();
            let s = slice(&r, &cname, "values")?;
            n_values = s.len();
            Flat::F(
                s.iter()
                    .enumerate()
                    .map(|(i, &x)| if ok(i) { x } else { f64::NAN })
                    .collect(),
            )
        } else if let Ok(a) = values.cast::<PyArray1<i64>>() {
            let r = a.readonly();
            let s = slice(&r, &cname, "values")?;
            n_values = s.len();
            Flat::I(
                s.iter()
                    .enumerate()
                    .map(|(i, &x)| ok(i).then_some(x))
                    .collect(),
            )
        } else if let Ok(a) = values.cast::<PyArray1<bool>>() {
            let r = a.readonly();
            let s = slice(&r, &cname, "values")?;
            n_values = s.len();
            Flat::B(
                s.iter()
                    .enumerate()
                    .map(|(i, &x)| ok(i).then_some(x))
                    .collect(),
            )
        } else {
            return Err(PyTypeError::new_err(format!(
                "column \"{cname}\": values must be a 1-D float64, int64 or bool array"
            )));
        };
        if let Some(v) = valid {
            if v.len() != n_values {
                return Err(PyValueError::new_err(format!(
                    "column \"{cname}\": mask of {} values for {n_values} values",
                    v.len()
                )));
            }
        }
        let data = match offs {
            None => match flat {
                Flat::F(v) => ColumnData::Float(v),
                Flat::I(v) => ColumnData::Int(v),
                Flat::B(v) => ColumnData::Bool(v),
            },
            Some(o) => {
                let offsets = offsets(slice(&o, &cname, "offsets")?, n_values, &cname)?;
                match flat {
                    Flat::F(values) => ColumnData::FloatList(ListColumn { offsets, values }),
                    Flat::I(values) => ColumnData::IntList(ListColumn { offsets, values }),
                    Flat::B(values) => ColumnData::BoolList(ListColumn { offsets, values }),
                }
            }
        };
        out.push(Column {
            name: cname,
            unit: unit.filter(|u| !u.trim().is_empty()),
            data,
        });
    }
    Ok(Table {
        path: PathBuf::from(name),
        format: TableFormat::Parquet,
        first_row: 1,
        columns: out,
    })
}
