//! `astrosolve.vsh.fit`: the VSH analysis of `astrosolve vsh` (`astrosolve_vsh::analyse_data`,
//! docs/vsh.md) on arrays: each row checked as the catalogue reader checks a selected row
//! (crates/vsh/src/input.rs: finite values, |δ| ≤ 90°, errors > 0, |ρ| < 1), converted as it
//! converts (deg → rad by `to_radians`, mas/yr → µas/yr by × 1000), then the same fit, report
//! and JSON.

use crate::engine_error;
use astrosolve_vsh::input::REQUIRED_COLUMNS;
use astrosolve_vsh::{analyse_data, AnalysisOptions, PmData};
use numpy::{IntoPyArray, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// (report JSON, summary text, coefficients, covariance (flat n×n), rejected, normalised
/// residual X, indices of the rows given to the fit)
type VshOut = (
    String,
    String,
    Py<PyAny>,
    Py<PyAny>,
    Py<PyAny>,
    Py<PyAny>,
    Py<PyAny>,
);

/// Why a row cannot enter the fit (the reader's own check), or None.
fn problem(k: usize, x: f64) -> Option<String> {
    astrosolve_vsh::input::cell_problem(k, Some(x))
}

/// VSH fit of a proper-motion field: ra, dec (deg), pmra (µα*), pmdec, pmra_error,
/// pmdec_error (mas/yr), pmra_pmdec_corr, all 1-D float64 of one length. `name` stands for the
/// file in messages. Options as `astrosolve vsh` (lmax 1–30, clip κ ≥ 0, max_iter 1–1000,
/// skip_invalid).
#[pyfunction]
#[pyo3(signature = (ra, dec, pmra, pmdec, pmra_error, pmdec_error, pmra_pmdec_corr, lmax=5, clip=astrosolve_vsh::DEFAULT_CLIP_KAPPA, max_iter=20, skip_invalid=false, name="<arrays>"))]
#[allow(clippy::too_many_arguments)]
pub fn vsh_fit(
    py: Python<'_>,
    ra: PyReadonlyArray1<'_, f64>,
    dec: PyReadonlyArray1<'_, f64>,
    pmra: PyReadonlyArray1<'_, f64>,
    pmdec: PyReadonlyArray1<'_, f64>,
    pmra_error: PyReadonlyArray1<'_, f64>,
    pmdec_error: PyReadonlyArray1<'_, f64>,
    pmra_pmdec_corr: PyReadonlyArray1<'_, f64>,
    lmax: usize,
    clip: f64,
    max_iter: usize,
    skip_invalid: bool,
    name: &str,
) -> PyResult<VshOut> {
    if !(1..=30).contains(&lmax) {
        return Err(PyValueError::new_err(format!(
            "lmax must be 1 to 30 (got {lmax})"
        )));
    }
    if !(clip.is_finite() && clip >= 0.0) {
        return Err(PyValueError::new_err(format!(
            "clip must be a finite number ≥ 0, got {clip}"
        )));
    }
    if !(1..=1000).contains(&max_iter) {
        return Err(PyValueError::new_err(format!(
            "max_iter must be 1 to 1000 (got {max_iter})"
        )));
    }
    let arrays = [
        &ra,
        &dec,
        &pmra,
        &pmdec,
        &pmra_error,
        &pmdec_error,
        &pmra_pmdec_corr,
    ];
    let mut cols: Vec<&[f64]> = Vec::with_capacity(7);
    for (a, name) in arrays.iter().zip(REQUIRED_COLUMNS) {
        cols.push(
            a.as_slice().map_err(|_| {
                PyValueError::new_err(format!("{name}: the array must be contiguous"))
            })?,
        );
    }
    let n = cols[0].len();
    if let Some(k) = cols.iter().position(|c| c.len() != n) {
        return Err(PyValueError::new_err(format!(
            "{} has {} values where ra has {n}",
            REQUIRED_COLUMNS[k],
            cols[k].len()
        )));
    }
    let mut data = PmData::with_capacity(n);
    let mut index: Vec<i64> = Vec::with_capacity(n);
    'rows: for i in 0..n {
        for (k, c) in cols.iter().enumerate() {
            if let Some(p) = problem(k, c[i]) {
                if skip_invalid {
                    continue 'rows;
                }
                return Err(engine_error(format!(
                    "{name}: index {i}, column '{}': {p} (use skip_invalid=True to skip such rows)",
                    REQUIRED_COLUMNS[k]
                )));
            }
        }
        const MAS_TO_UAS: f64 = 1000.0;
        data.push(
            cols[0][i].to_radians(),
            cols[1][i].to_radians(),
            cols[2][i] * MAS_TO_UAS,
            cols[3][i] * MAS_TO_UAS,
            cols[4][i] * MAS_TO_UAS,
            cols[5][i] * MAS_TO_UAS,
            cols[6][i],
        );
        index.push(i as i64);
    }
    let opts = AnalysisOptions {
        lmax,
        clip_kappa: clip,
        max_iter,
        ..AnalysisOptions::default()
    };
    let a = py
        .detach(|| analyse_data(data, None, &opts))
        .map_err(engine_error)?;
    let json = a.to_json().map_err(engine_error)?;
    let summary = a.summary_text();
    let f = a.fit;
    Ok((
        json,
        summary,
        f.coef.into_pyarray(py).into_any().unbind(),
        f.cov.into_pyarray(py).into_any().unbind(),
        f.rejected.into_pyarray(py).into_any().unbind(),
        f.x.into_pyarray(py).into_any().unbind(),
        index.into_pyarray(py).into_any().unbind(),
    ))
}
