//! reference_positions.parquet: external positions (e.g. VLBI/ICRF of quasars) that orient
//! the frame of a solution. Columns `source_id` (int64), `ra`, `dec` (deg, at the
//! reference epoch), `ref_position_error` (mas, per coordinate). Read from any format
//! `tabular` recognises; units a file states are converted to these.

use crate::error::{require_finite, require_positive_uncertainty, IoError};
use crate::table::{col, Prepared, Table};
use crate::tabular::Unit;
use astrosolve_model::source::{ReferencePosition, Source};
use astrosolve_model::units::{DEG, MAS};
use std::collections::HashMap;
use std::path::Path;

/// File name of the reference positions inside a data set.
pub const REFERENCE_FILE: &str = "reference_positions.parquet";

/// Writes reference positions; `sources` maps source indices to source_ids.
pub fn write_reference_positions(
    path: impl AsRef<Path>,
    refs: &[ReferencePosition],
    sources: &[Source],
    overwrite: bool,
) -> Result<(), IoError> {
    let path = path.as_ref();
    for (i, r) in refs.iter().enumerate() {
        if r.source_index >= sources.len() {
            return Err(IoError::value(
                path,
                i + 1,
                "source_id",
                format!("source index {} outside the catalogue", r.source_index),
            ));
        }
        require_finite(r.ra, "ra").map_err(|m| IoError::value(path, i + 1, "ra", m))?;
        require_finite(r.dec, "dec").map_err(|m| IoError::value(path, i + 1, "dec", m))?;
        require_positive_uncertainty(r.sigma / MAS, "mas")
            .map_err(|m| IoError::value(path, i + 1, "ref_position_error", m))?;
    }
    Prepared {
        table: "reference_positions",
        columns: vec![
            col::i64(
                "source_id",
                refs.iter()
                    .map(|r| sources[r.source_index].source_id)
                    .collect(),
            ),
            col::f64("ra", refs.iter().map(|r| r.ra / DEG).collect()),
            col::f64("dec", refs.iter().map(|r| r.dec / DEG).collect()),
            col::f64(
                "ref_position_error",
                refs.iter().map(|r| r.sigma / MAS).collect(),
            ),
        ],
        metadata: vec![],
    }
    .write(path, overwrite)
}

/// Reads reference positions, resolving source_ids against `sources`.
pub fn read_reference_positions(
    path: impl AsRef<Path>,
    sources: &[Source],
) -> Result<Vec<ReferencePosition>, IoError> {
    let path = path.as_ref();
    let t = Table::read(path, &|f| {
        matches!(
            f.name().as_str(),
            "source_id" | "ra" | "dec" | "ref_position_error"
        )
    })?;
    let ids = t.i64_required("source_id")?;
    let ra = t.f64_required_in("ra", Unit::Deg)?;
    let dec = t.f64_required_in("dec", Unit::Deg)?;
    let err = t.f64_required_in("ref_position_error", Unit::Mas)?;
    let index: HashMap<i64, usize> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.source_id, i))
        .collect();
    let mut out = Vec::with_capacity(ids.len());
    for i in 0..ids.len() {
        let row = i + 1;
        let Some(&k) = index.get(&ids[i]) else {
            return Err(IoError::value(
                path,
                row,
                "source_id",
                format!("unknown source_id {} (not in the catalogue)", ids[i]),
            ));
        };
        require_finite(ra[i], "ra").map_err(|m| IoError::value(path, row, "ra", m))?;
        require_finite(dec[i], "dec").map_err(|m| IoError::value(path, row, "dec", m))?;
        if !(-90.0..=90.0).contains(&dec[i]) {
            return Err(IoError::value(
                path,
                row,
                "dec",
                format!("declination {} outside [-90, 90] deg", dec[i]),
            ));
        }
        require_positive_uncertainty(err[i], "mas")
            .map_err(|m| IoError::value(path, row, "ref_position_error", m))?;
        out.push(ReferencePosition {
            source_index: k,
            ra: ra[i] * DEG,
            dec: dec[i] * DEG,
            sigma: err[i] * MAS,
        });
    }
    Ok(out)
}
