//! observations.parquet: one row per CCD observation, field angles in mas, 1-based CCD
//! numbering, AL-only observations with a null `zeta` (docs/formats.md).
//!
//! Streamed both ways, so that neither holds a second copy of the observations: the writer
//! converts and writes one row group at a time ([`ROW_GROUP_ROWS`] rows, extended to the end
//! of the last source's run so that a file sorted by source never splits a source between two
//! groups, [`row_groups`]); the reader decodes [`READ_BATCH_ROWS`] rows at a time straight into
//! the in-memory records.

use crate::error::{require_finite, require_positive_uncertainty, IoError};
use crate::table::{col, Prepared, Table};
use astrosolve_model::instrument::{Fov, InstrumentConfig};
use astrosolve_model::source::Source;
use astrosolve_model::units::MAS;
use astrosolve_model::Observation;
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

/// Rows per row group of observations.parquet written here, at least: a group ends at the
/// first change of `source_id` after this many rows (observations written in source order, as
/// a data set's are, therefore never have a source split between two row groups).
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// Rows decoded at a time when reading observations.parquet.
pub const READ_BATCH_ROWS: usize = 1 << 16;

/// The row groups [`write_observations`] writes `obs` in: consecutive ranges of at least
/// [`ROW_GROUP_ROWS`] rows (the last may be shorter), each ended where `source_index` changes.
pub fn row_groups(obs: &[Observation]) -> Vec<Range<usize>> {
    let mut groups = Vec::with_capacity(obs.len() / ROW_GROUP_ROWS + 1);
    let mut start = 0;
    while start < obs.len() {
        let mut end = (start + ROW_GROUP_ROWS).min(obs.len());
        while end < obs.len() && obs[end].source_index == obs[end - 1].source_index {
            end += 1;
        }
        groups.push(start..end);
        start = end;
    }
    groups
}

/// Largest CCD row or strip number an `int8` column can hold.
const INT8_MAX: i64 = i8::MAX as i64;

/// Tolerance on |ac_coord| ≤ 1 (rounding in whoever computed it).
const AC_COORD_SLACK: f64 = 1e-9;

/// Smallest `eta_error` / `zeta_error` accepted (mas): 10 nano-arcseconds, three orders of
/// magnitude below the best single measurement of any astrometric instrument (Gaia's per-CCD
/// AL σ is ≳ 50 µas) and above the solver's floor (`astrosolve_core::robust::SIGMA_MIN`,
/// 2 nas), so every σ read is used as given. A smaller σ is no measurement's — typically a
/// column in rad or deg instead of mas — and would give its observation all the weight.
pub const MIN_UNCERTAINTY_MAS: f64 = 1e-5;

/// A σ (mas): finite, positive and at least [`MIN_UNCERTAINTY_MAS`].
fn measurement_uncertainty(x: f64) -> Result<(), String> {
    require_positive_uncertainty(x, "mas")?;
    if x < MIN_UNCERTAINTY_MAS {
        return Err(format!(
            "uncertainty {x:e} mas is below the {MIN_UNCERTAINTY_MAS:e} mas (10 nano-arcseconds) a measurement can have; is the column in mas?"
        ));
    }
    Ok(())
}

/// Observation columns in file units, shared by writer and reader so that both apply the
/// same checks.
pub(crate) struct FileObs {
    /// Data rows of the file before the first of these (row numbers of errors).
    pub first_row: usize,
    pub source_id: Vec<i64>,
    pub t: Vec<f64>,
    pub fov: Vec<i64>,
    pub ccd_row: Vec<i64>,
    pub ccd_strip: Vec<i64>,
    pub eta: Vec<f64>,
    /// NaN where `zeta_given` is false.
    pub zeta: Vec<f64>,
    pub zeta_given: Vec<bool>,
    pub eta_error: Vec<f64>,
    /// NaN (ignored) where `zeta_given` is false.
    pub zeta_error: Vec<f64>,
    pub ac_coord: Vec<f64>,
}

impl FileObs {
    /// Row `i` (0-based within these columns) as an observation of source `source_index`
    /// (internal units: radians, days).
    pub(crate) fn observation(&self, i: usize, source_index: u32) -> Observation {
        let given = self.zeta_given[i];
        Observation {
            source_index,
            fov: if self.fov[i] == 0 {
                Fov::Preceding
            } else {
                Fov::Following
            },
            row: (self.ccd_row[i] - 1) as u8,
            strip: (self.ccd_strip[i] - 1) as u8,
            t: self.t[i],
            eta: self.eta[i] * MAS,
            zeta: if given { self.zeta[i] * MAS } else { f64::NAN },
            sigma_eta: self.eta_error[i] * MAS,
            sigma_zeta: if given {
                self.zeta_error[i] * MAS
            } else {
                f64::NAN
            },
            ac_coord: self.ac_coord[i],
        }
    }
}

fn each<T: Copy>(
    path: &Path,
    first_row: usize,
    name: &str,
    v: &[T],
    f: impl Fn(usize, T) -> Result<(), String>,
) -> Result<(), IoError> {
    for (i, &x) in v.iter().enumerate() {
        f(i, x).map_err(|m| IoError::value(path, first_row + i + 1, name, m))?;
    }
    Ok(())
}

/// `column` ("ccd_row"/"ccd_strip") value `v` within 1..=n (n CCD `what`, when known).
fn range_check(column: &str, what: &str, v: i64, n: Option<usize>) -> Result<(), String> {
    let max = n.map_or(INT8_MAX, |n| n as i64);
    if (1..=max).contains(&v) {
        return Ok(());
    }
    match n {
        Some(n) => Err(format!(
            "{column} {v} outside 1..={n} (the mission has {n} CCD {what}, numbered from 1)"
        )),
        None => Err(format!(
            "{column} {v} outside 1..={INT8_MAX} (numbered from 1)"
        )),
    }
}

/// Per-value checks. `layout` = (n_rows, n_strips) of the mission when known.
pub(crate) fn validate(
    path: &Path,
    c: &FileObs,
    layout: Option<(usize, usize)>,
) -> Result<(), IoError> {
    each(path, c.first_row, "t", &c.t, |_, x| {
        require_finite(x, "observation time")
    })?;
    each(path, c.first_row, "fov", &c.fov, |_, x| match x {
        0 | 1 => Ok(()),
        _ => Err(format!(
            "fov {x} is neither 0 (preceding) nor 1 (following)"
        )),
    })?;
    each(path, c.first_row, "ccd_row", &c.ccd_row, |_, x| {
        range_check("ccd_row", "rows", x, layout.map(|l| l.0))
    })?;
    each(path, c.first_row, "ccd_strip", &c.ccd_strip, |_, x| {
        range_check("ccd_strip", "strips", x, layout.map(|l| l.1))
    })?;
    each(path, c.first_row, "eta", &c.eta, |_, x| {
        require_finite(x, "field angle")
    })?;
    each(path, c.first_row, "zeta", &c.zeta, |i, x| {
        if c.zeta_given[i] {
            require_finite(x, "field angle")
                .map_err(|m| format!("{m} (AL-only observations have a null zeta)"))
        } else {
            Ok(())
        }
    })?;
    each(path, c.first_row, "eta_error", &c.eta_error, |_, x| {
        measurement_uncertainty(x)
    })?;
    each(path, c.first_row, "zeta_error", &c.zeta_error, |i, x| {
        if c.zeta_given[i] {
            if x.is_nan() {
                return Err("null in a required value (zeta is given)".into());
            }
            measurement_uncertainty(x)
        } else {
            Ok(())
        }
    })?;
    each(path, c.first_row, "ac_coord", &c.ac_coord, |_, x| {
        require_finite(x, "AC coordinate")?;
        if x.abs() > 1.0 + AC_COORD_SLACK {
            return Err(format!("ac_coord {x} outside [-1, 1]"));
        }
        Ok(())
    })
}

/// File columns of in-memory observations (checks source indices against `sources`); `obs`
/// are data rows `first_row + 1 ..` of the file.
pub(crate) fn to_file(
    path: &Path,
    obs: &[Observation],
    first_row: usize,
    sources: &[Source],
) -> Result<FileObs, IoError> {
    let mut source_id = Vec::with_capacity(obs.len());
    for (i, o) in obs.iter().enumerate() {
        let s = sources.get(o.source_index as usize).ok_or_else(|| {
            IoError::value(
                path,
                first_row + i + 1,
                "source_id",
                format!(
                    "observation refers to source index {} but there are only {} sources",
                    o.source_index,
                    sources.len()
                ),
            )
        })?;
        source_id.push(s.source_id);
    }
    Ok(FileObs {
        first_row,
        source_id,
        t: obs.iter().map(|o| o.t).collect(),
        fov: obs.iter().map(|o| o.fov.index() as i64).collect(),
        ccd_row: obs.iter().map(|o| o.row as i64 + 1).collect(),
        ccd_strip: obs.iter().map(|o| o.strip as i64 + 1).collect(),
        eta: obs.iter().map(|o| o.eta / MAS).collect(),
        zeta: obs.iter().map(|o| o.zeta / MAS).collect(),
        zeta_given: obs.iter().map(|o| !o.zeta.is_nan()).collect(),
        eta_error: obs.iter().map(|o| o.sigma_eta / MAS).collect(),
        zeta_error: obs
            .iter()
            .map(|o| {
                if o.zeta.is_nan() {
                    f64::NAN
                } else {
                    o.sigma_zeta / MAS
                }
            })
            .collect(),
        ac_coord: obs.iter().map(|o| o.ac_coord).collect(),
    })
}

/// Converts already-validated file columns for writing.
pub(crate) fn prepare(c: FileObs) -> Prepared {
    let opt = |v: Vec<f64>, given: &[bool]| -> Vec<Option<f64>> {
        v.into_iter()
            .zip(given)
            .map(|(x, &g)| g.then_some(x))
            .collect()
    };
    let zeta = opt(c.zeta, &c.zeta_given);
    let zeta_error = opt(c.zeta_error, &c.zeta_given);
    let i8s = |v: Vec<i64>| v.into_iter().map(|x| x as i8).collect::<Vec<i8>>();
    let columns = vec![
        col::i64("source_id", c.source_id),
        col::f64("t", c.t),
        col::i8("fov", i8s(c.fov)),
        col::i8("ccd_row", i8s(c.ccd_row)),
        col::i8("ccd_strip", i8s(c.ccd_strip)),
        col::f64("eta", c.eta),
        col::f64_opt("zeta", zeta),
        col::f64("eta_error", c.eta_error),
        col::f64_opt("zeta_error", zeta_error),
        col::f64("ac_coord", c.ac_coord),
    ];
    Prepared {
        table: "observations",
        columns,
        metadata: vec![],
    }
}

/// Checks every observation as the file will hold it (source indices, values, CCD numbers
/// against `layout` when given), one row group at a time.
pub(crate) fn check(
    path: &Path,
    obs: &[Observation],
    sources: &[Source],
    layout: Option<(usize, usize)>,
) -> Result<(), IoError> {
    for g in row_groups(obs) {
        let c = to_file(path, &obs[g.clone()], g.start, sources)?;
        validate(path, &c, layout)?;
    }
    Ok(())
}

/// Writes already-checked observations ([`check`]) in [`row_groups`], converting one group
/// at a time.
pub(crate) fn write_checked(
    path: &Path,
    obs: &[Observation],
    sources: &[Source],
    overwrite: bool,
) -> Result<(), IoError> {
    let fields: Vec<_> = prepare(to_file(path, &[], 0, sources)?)
        .columns
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    let mut groups = row_groups(obs).into_iter();
    crate::table::write_row_groups(path, "observations", fields, vec![], overwrite, &mut || {
        match groups.next() {
            None => Ok(None),
            Some(g) => {
                let c = to_file(path, &obs[g.clone()], g.start, sources)?;
                Ok(Some(
                    prepare(c).columns.into_iter().map(|(_, a)| a).collect(),
                ))
            }
        }
    })
}

/// Writes observations in the given order, in row groups of at least [`ROW_GROUP_ROWS`]
/// rows ([`row_groups`]); `source_index` is mapped to the `source_id` of
/// `sources[source_index]`. AL-only observations (zeta NaN) get null `zeta` and
/// `zeta_error`. CCD numbers are checked to fit the file's int8 (≤ 127); the range check
/// against the mission's layout is done by [`crate::write_dataset`].
/// Refuses to replace an existing file unless `overwrite`.
pub fn write_observations(
    path: impl AsRef<Path>,
    obs: &[Observation],
    sources: &[Source],
    overwrite: bool,
) -> Result<(), IoError> {
    let path = path.as_ref();
    check(path, obs, sources, None)?;
    write_checked(path, obs, sources, overwrite)
}

/// Reads observations.parquet, in file order (row i of the file is element i − 1).
/// A file with neither `zeta` nor `zeta_error` column holds AL-only observations.
/// `source_id`s are mapped to indices into `sources`; CCD rows and strips are checked
/// against the instrument's layout. The caller groups them by source with
/// `ObservationSet::from_unsorted` (or use [`crate::read_dataset`]).
pub fn read_observations(
    path: impl AsRef<Path>,
    sources: &[Source],
    instrument: &InstrumentConfig,
) -> Result<Vec<Observation>, IoError> {
    read_observations_from(path.as_ref(), sources, instrument, "the source catalogue")
}

/// [`read_observations`], naming the catalogue `catalogue` in unknown-source errors.
pub(crate) fn read_observations_from(
    path: &Path,
    sources: &[Source],
    instrument: &InstrumentConfig,
    catalogue: &str,
) -> Result<Vec<Observation>, IoError> {
    let index = source_index_map(path, sources)?;
    let mut stream = Table::stream(path, &want_column, READ_BATCH_ROWS)?;
    // room for the rows the footer announces, as a hint only (a corrupt footer must not make
    // the reader abort): at most one per byte of the file, and none if it cannot be had
    let file_len = std::fs::metadata(path).map_or(0, |m| m.len());
    let hint = stream
        .n_rows()
        .min(usize::try_from(file_len).unwrap_or(usize::MAX));
    let mut obs = Vec::new();
    let _ = obs.try_reserve_exact(hint);
    while let Some(t) = stream.next_chunk()? {
        let c = file_columns(&t)?;
        drop(t);
        validate(path, &c, Some((instrument.n_rows, instrument.n_strips)))?;
        push_observations(path, &c, &index, catalogue, &mut obs)?;
    }
    obs.shrink_to_fit();
    Ok(obs)
}

/// Converts checked file columns into observations appended to `obs`.
fn push_observations(
    path: &Path,
    c: &FileObs,
    index: &HashMap<i64, u32>,
    catalogue: &str,
    obs: &mut Vec<Observation>,
) -> Result<(), IoError> {
    for i in 0..c.t.len() {
        let id = c.source_id[i];
        let source_index = *index.get(&id).ok_or_else(|| {
            IoError::value(
                path,
                c.first_row + i + 1,
                "source_id",
                format!("unknown source_id {id} (not in {catalogue})"),
            )
        })?;
        obs.push(c.observation(i, source_index));
    }
    Ok(())
}

/// source_id → index into `sources`.
pub(crate) fn source_index_map(
    path: &Path,
    sources: &[Source],
) -> Result<HashMap<i64, u32>, IoError> {
    if sources.len() > u32::MAX as usize {
        return Err(IoError::invalid(
            path,
            format!(
                "{} sources exceed the supported {}",
                sources.len(),
                u32::MAX
            ),
        ));
    }
    Ok(sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.source_id, i as u32))
        .collect())
}

/// The columns of observations.parquet the readers decode.
pub(crate) const COLUMNS: &[&str] = &[
    "source_id",
    "t",
    "fov",
    "ccd_row",
    "ccd_strip",
    "eta",
    "zeta",
    "eta_error",
    "zeta_error",
    "ac_coord",
];

fn want_column(f: &arrow_schema::Field) -> bool {
    COLUMNS.contains(&f.name().as_str())
}

/// The file columns of a table or of one chunk of it (types and nulls checked, values not yet).
fn file_columns(t: &Table) -> Result<FileObs, IoError> {
    let n = t.n_rows;
    // a file without both zeta columns holds AL-only observations
    let (zeta, zeta_given, mut zeta_error) = if !t.has("zeta") && !t.has("zeta_error") {
        (vec![f64::NAN; n], vec![false; n], vec![f64::NAN; n])
    } else {
        let (zeta, zeta_valid) = t.f64_nullable("zeta")?;
        let zeta_given = zeta_valid.unwrap_or_else(|| vec![true; n]);
        (zeta, zeta_given, t.f64_nullable("zeta_error")?.0)
    };
    // zeta_error is ignored for AL-only observations; make that explicit
    for (e, &g) in zeta_error.iter_mut().zip(&zeta_given) {
        if !g {
            *e = f64::NAN;
        }
    }
    let c = FileObs {
        first_row: t.first_row,
        source_id: t.i64_required("source_id")?,
        t: t.f64_required("t")?,
        fov: t.i64_required("fov")?,
        ccd_row: t.i64_required("ccd_row")?,
        ccd_strip: t.i64_required("ccd_strip")?,
        eta: t.f64_required("eta")?,
        zeta,
        zeta_given,
        eta_error: t.f64_required("eta_error")?,
        zeta_error,
        ac_coord: t.f64_required("ac_coord")?,
    };
    t.check_len("source_id", &c.source_id)?;
    t.check_len("t", &c.t)?;
    t.check_len("fov", &c.fov)?;
    t.check_len("ccd_row", &c.ccd_row)?;
    t.check_len("ccd_strip", &c.ccd_strip)?;
    t.check_len("eta", &c.eta)?;
    t.check_len("zeta", &c.zeta)?;
    t.check_len("eta_error", &c.eta_error)?;
    t.check_len("zeta_error", &c.zeta_error)?;
    t.check_len("ac_coord", &c.ac_coord)?;
    Ok(c)
}

/// Only `source_id` and `t` (to reconstruct the in-memory order for the truth tables).
pub(crate) fn read_keys(path: &Path) -> Result<(Vec<i64>, Vec<f64>), IoError> {
    let t = Table::read(path, &|f| f.name() == "source_id" || f.name() == "t")?;
    let ids = t.i64_required("source_id")?;
    let times = t.f64_required("t")?;
    t.check_len("source_id", &ids)?;
    t.check_len("t", &times)?;
    Ok((ids, times))
}

#[cfg(test)]
mod tests {
    use super::*;
    use astrosolve_model::source::SourceParams;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    /// `n` observations, `per_source` per source in source order, AC for every other one.
    fn sorted_obs(n: usize, per_source: usize) -> (Vec<Observation>, Vec<Source>) {
        let n_src = n.div_ceil(per_source);
        let sources = (0..n_src)
            .map(|i| Source {
                source_id: 1_000_000_007 * (n_src - i) as i64,
                params: SourceParams {
                    ra: 1.0,
                    dec: 0.5,
                    parallax: 0.0,
                    pmra: 0.0,
                    pmdec: 0.0,
                    nu_eff: 1.5,
                },
                phot_g_mean_mag: 15.0,
                is_qso: false,
            })
            .collect();
        let obs = (0..n)
            .map(|k| {
                let ac = k % 2 == 0;
                Observation {
                    source_index: (k / per_source) as u32,
                    fov: if k % 3 == 0 {
                        Fov::Preceding
                    } else {
                        Fov::Following
                    },
                    row: (k % 7) as u8,
                    strip: (k % 9) as u8,
                    t: (k % per_source) as f64 * 0.7 - 100.0 + k as f64 * 1e-9,
                    eta: (k as f64 * 0.37).sin() * 1e-5,
                    zeta: if ac {
                        (k as f64 * 0.11).cos() * 1e-2
                    } else {
                        f64::NAN
                    },
                    sigma_eta: (0.1 + (k % 13) as f64 * 0.01) * MAS,
                    sigma_zeta: if ac { 0.7 * MAS } else { f64::NAN },
                    ac_coord: (k as f64 * 0.013).sin(),
                }
            })
            .collect();
        (obs, sources)
    }

    fn same(a: &Observation, b: &Observation) -> bool {
        let f = |x: f64, y: f64| x.to_bits() == y.to_bits() || (x - y).abs() <= 2e-16 * x.abs();
        a.source_index == b.source_index
            && a.fov == b.fov
            && a.row == b.row
            && a.strip == b.strip
            && a.t.to_bits() == b.t.to_bits()
            && f(a.eta, b.eta)
            && (f(a.zeta, b.zeta) || a.zeta.is_nan() && b.zeta.is_nan())
            && f(a.sigma_eta, b.sigma_eta)
            && (f(a.sigma_zeta, b.sigma_zeta) || a.sigma_zeta.is_nan() && b.sigma_zeta.is_nan())
            && a.ac_coord.to_bits() == b.ac_coord.to_bits()
    }

    #[test]
    fn row_groups_end_between_sources_and_cover_all() {
        let (obs, _) = sorted_obs(ROW_GROUP_ROWS + 5000, 7);
        let g = row_groups(&obs);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].start, 0);
        assert_eq!(g[1].end, obs.len());
        assert_eq!(g[0].end, g[1].start);
        assert!(g[0].len() >= ROW_GROUP_ROWS && g[0].len() < ROW_GROUP_ROWS + 7);
        let k = g[0].end;
        assert_ne!(obs[k - 1].source_index, obs[k].source_index);
        assert!(row_groups(&[]).is_empty());
    }

    #[test]
    fn written_in_row_groups_and_read_back_in_batches() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("observations.parquet");
        let (obs, sources) = sorted_obs(ROW_GROUP_ROWS + 3 * READ_BATCH_ROWS + 123, 11);
        write_observations(&path, &obs, &sources, false).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let meta = SerializedFileReader::new(file).unwrap().metadata().clone();
        let rows: Vec<i64> = meta.row_groups().iter().map(|g| g.num_rows()).collect();
        let expect: Vec<i64> = row_groups(&obs).iter().map(|g| g.len() as i64).collect();
        assert_eq!(rows, expect);
        let back = read_observations(&path, &sources, &InstrumentConfig::default()).unwrap();
        assert_eq!(back.len(), obs.len());
        for (i, (a, b)) in obs.iter().zip(&back).enumerate() {
            assert!(same(a, b), "observation {i}: {a:?} read back as {b:?}");
        }
    }

    #[test]
    fn errors_of_later_batches_name_the_file_row() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("observations.parquet");
        let (mut obs, sources) = sorted_obs(3 * READ_BATCH_ROWS, 5);
        let bad = 2 * READ_BATCH_ROWS + 17; // 0-based, in the third batch
        obs[bad].sigma_eta = -1.0;
        // the writer refuses it, naming the row
        let e = write_observations(&path, &obs, &sources, false).unwrap_err();
        assert!(
            matches!(&e, IoError::Value { row, column, .. } if *row == bad + 1 && column == "eta_error"),
            "{e}"
        );
        assert!(!path.exists());
        // a file holding it (written unchecked) is refused by the reader, naming the row
        prepare(to_file(&path, &obs, 0, &sources).unwrap())
            .write(&path, false)
            .unwrap();
        let e = read_observations(&path, &sources, &InstrumentConfig::default()).unwrap_err();
        assert!(
            matches!(&e, IoError::Value { row, column, .. } if *row == bad + 1 && column == "eta_error"),
            "{e}"
        );
    }
}
