//! Catalogue tables (sources.parquet, truth/sources.parquet, solution catalogues): Gaia
//! archive column names and units, with optional solution columns (uncertainties,
//! correlations, observation counts, excess noise, RUWE, Gaia's `astrometric_params_solved`)
//! and free extra numeric columns. A solution value that is not available (a source not
//! solved) is written as null, never as NaN.

use crate::error::{non_finite, require_finite, IoError};
use crate::table::{col, Prepared, Table};
use crate::tabular::Unit;
use astrosolve_model::source::{Source, SourceParams};
use astrosolve_model::units::{DEG, JD_J2000, JULIAN_YEAR_DAYS, MAS};
use std::collections::HashMap;
use std::path::Path;

/// Julian year (e.g. 2016.0) of a Julian date: J2000.0 + (JD − 2451545)/365.25.
pub fn julian_year(jd: f64) -> f64 {
    2000.0 + (jd - JD_J2000) / JULIAN_YEAR_DAYS
}

/// Largest difference (Julian years, ≈ 3 s) accepted between a catalogue's `ref_epoch` and
/// the mission's reference epoch.
pub const REF_EPOCH_TOLERANCE_YR: f64 = 1e-7;

/// A catalogue as read from or written to a file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Catalogue {
    pub sources: Vec<Source>,
    /// Reference epoch of the astrometric parameters (Julian year, TCB), e.g. 2016.0.
    pub ref_epoch: f64,
    /// Optional solution columns and extra columns, aligned with `sources`.
    pub solved: SolvedColumns,
}

/// Optional per-source columns of a solution catalogue, in internal units (rad, rad/yr),
/// each `None` when absent, otherwise one value per source. A float value of NaN means
/// "not available" (written as null; a null in a file reads as NaN).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SolvedColumns {
    /// σ(α*) = σ(α) cos δ (rad); file column `ra_error` (mas).
    pub ra_error: Option<Vec<f64>>,
    /// σ(δ) (rad); `dec_error` (mas).
    pub dec_error: Option<Vec<f64>>,
    /// σ(ϖ) (rad); `parallax_error` (mas).
    pub parallax_error: Option<Vec<f64>>,
    /// σ(µα*) (rad/yr); `pmra_error` (mas/yr).
    pub pmra_error: Option<Vec<f64>>,
    /// σ(µδ) (rad/yr); `pmdec_error` (mas/yr).
    pub pmdec_error: Option<Vec<f64>>,
    pub ra_dec_corr: Option<Vec<f64>>,
    pub ra_parallax_corr: Option<Vec<f64>>,
    pub ra_pmra_corr: Option<Vec<f64>>,
    pub ra_pmdec_corr: Option<Vec<f64>>,
    pub dec_parallax_corr: Option<Vec<f64>>,
    pub dec_pmra_corr: Option<Vec<f64>>,
    pub dec_pmdec_corr: Option<Vec<f64>>,
    pub parallax_pmra_corr: Option<Vec<f64>>,
    pub parallax_pmdec_corr: Option<Vec<f64>>,
    pub pmra_pmdec_corr: Option<Vec<f64>>,
    /// Number of AL observations used (int32).
    pub astrometric_n_obs_al: Option<Vec<i32>>,
    /// Number of AL observations not down-weighted as outliers (int32).
    pub astrometric_n_good_obs_al: Option<Vec<i32>>,
    /// Number of AL observations rejected or strongly down-weighted (int32).
    pub astrometric_n_bad_obs_al: Option<Vec<i32>>,
    /// Astrometric excess noise ε (rad); `astrometric_excess_noise` (mas).
    pub astrometric_excess_noise: Option<Vec<f64>>,
    /// Renormalised unit weight error.
    pub ruwe: Option<Vec<f64>>,
    /// Which astrometric parameters were solved, Gaia's bit code (Gaia DR3 data model,
    /// `astrometric_params_solved`): [`PARAMS_SOLVED_NONE`] (0, nothing solved: the values
    /// are the starting ones and the uncertainties null), [`PARAMS_SOLVED_POSITION`] (3),
    /// [`PARAMS_SOLVED_5`] (31), [`PARAMS_SOLVED_6`] (95). Written as int8.
    pub astrometric_params_solved: Option<Vec<u8>>,
    /// Any further numeric columns, stored as float64 under their own names. On reading,
    /// every numeric column the reader does not know lands here (integers converted to
    /// float64, nulls as NaN), in file order.
    pub extra: Vec<(String, Vec<f64>)>,
}

/// `astrometric_params_solved` of a source not solved at all (astrosolve's convention: Gaia
/// publishes no such source; its values are the starting ones, its uncertainties null).
pub const PARAMS_SOLVED_NONE: u8 = 0;
/// `astrometric_params_solved` of a position-only (2-parameter) solution: bits 0, 1.
pub const PARAMS_SOLVED_POSITION: u8 = 3;
/// `astrometric_params_solved` of a 5-parameter solution (position, parallax, proper motion).
pub const PARAMS_SOLVED_5: u8 = 31;
/// `astrometric_params_solved` of a 6-parameter solution (5 and the pseudocolour).
pub const PARAMS_SOLVED_6: u8 = 95;
/// Name of the column.
const PARAMS_SOLVED: &str = "astrometric_params_solved";

/// What a float solution column holds (for validation and unit conversion).
#[derive(Clone, Copy)]
enum Kind {
    /// Standard uncertainty, rad ↔ mas (or rad/yr ↔ mas/yr): NaN or > 0.
    Uncertainty(&'static str),
    /// Correlation coefficient: NaN or within [−1, 1].
    Correlation,
    /// Excess noise, rad ↔ mas: NaN or ≥ 0.
    ExcessNoise,
    /// Dimensionless positive number: NaN or > 0.
    Positive,
}

impl Kind {
    /// Internal value of one file unit.
    fn scale(self) -> f64 {
        match self {
            Kind::Uncertainty(_) | Kind::ExcessNoise => MAS,
            Kind::Correlation | Kind::Positive => 1.0,
        }
    }
    /// The unit of the file column (converted from the one a file states).
    fn unit(self) -> Unit {
        match self {
            Kind::Uncertainty("mas/yr") => Unit::MasPerYr,
            Kind::Uncertainty(_) | Kind::ExcessNoise => Unit::Mas,
            Kind::Correlation | Kind::Positive => Unit::Any,
        }
    }
    fn check(self, v: f64) -> Result<(), String> {
        if v.is_nan() {
            return Ok(());
        }
        if let Some(s) = non_finite(v) {
            return Err(format!(
                "{s} is not a valid value (use NaN or null when unknown)"
            ));
        }
        match self {
            Kind::Uncertainty(unit) if v <= 0.0 => Err(format!(
                "uncertainty must be positive (got {v} {unit}); zero or negative uncertainties are not allowed"
            )),
            Kind::Correlation if v.abs() > 1.0 + 1e-6 => {
                Err(format!("correlation {v} outside [-1, 1]"))
            }
            Kind::ExcessNoise if v < 0.0 => Err(format!("excess noise must be ≥ 0 (got {v} mas)")),
            Kind::Positive if v <= 0.0 => Err(format!("must be positive (got {v})")),
            _ => Ok(()),
        }
    }
}

type Get = fn(&SolvedColumns) -> &Option<Vec<f64>>;
type GetMut = fn(&mut SolvedColumns) -> &mut Option<Vec<f64>>;
type GetI = fn(&SolvedColumns) -> &Option<Vec<i32>>;
type GetIMut = fn(&mut SolvedColumns) -> &mut Option<Vec<i32>>;

macro_rules! float_columns {
    ($($name:ident : $kind:expr),* $(,)?) => {
        const FLOAT_COLUMNS: &[(&str, Kind, Get, GetMut)] = &[
            $((stringify!($name), $kind, |s| &s.$name, |s| &mut s.$name)),*
        ];
    };
}
float_columns! {
    ra_error: Kind::Uncertainty("mas"),
    dec_error: Kind::Uncertainty("mas"),
    parallax_error: Kind::Uncertainty("mas"),
    pmra_error: Kind::Uncertainty("mas/yr"),
    pmdec_error: Kind::Uncertainty("mas/yr"),
    ra_dec_corr: Kind::Correlation,
    ra_parallax_corr: Kind::Correlation,
    ra_pmra_corr: Kind::Correlation,
    ra_pmdec_corr: Kind::Correlation,
    dec_parallax_corr: Kind::Correlation,
    dec_pmra_corr: Kind::Correlation,
    dec_pmdec_corr: Kind::Correlation,
    parallax_pmra_corr: Kind::Correlation,
    parallax_pmdec_corr: Kind::Correlation,
    pmra_pmdec_corr: Kind::Correlation,
    astrometric_excess_noise: Kind::ExcessNoise,
    ruwe: Kind::Positive,
}

macro_rules! int_columns {
    ($($name:ident),* $(,)?) => {
        const INT_COLUMNS: &[(&str, GetI, GetIMut)] = &[
            $((stringify!($name), |s| &s.$name, |s| &mut s.$name)),*
        ];
    };
}
int_columns! { astrometric_n_obs_al, astrometric_n_good_obs_al, astrometric_n_bad_obs_al }

/// Columns every catalogue has (is_qso may be absent on reading: all false).
const BASE_COLUMNS: &[&str] = &[
    "source_id",
    "ra",
    "dec",
    "parallax",
    "pmra",
    "pmdec",
    "nu_eff_used_in_astrometry",
    "phot_g_mean_mag",
    "is_qso",
    "ref_epoch",
];

/// Names of the 10 correlation columns in the order of the upper triangle of the 5×5
/// covariance of (α*, δ, ϖ, µα*, µδ).
const CORR_ORDER: [(usize, usize); 10] = [
    (0, 1),
    (0, 2),
    (0, 3),
    (0, 4),
    (1, 2),
    (1, 3),
    (1, 4),
    (2, 3),
    (2, 4),
    (3, 4),
];

impl SolvedColumns {
    /// Uncertainties and correlations from 5×5 covariance matrices of
    /// (α*, δ, ϖ, µα*, µδ) in internal units (rad², rad²/yr, rad²/yr²), one per source.
    /// Sources with a non-positive variance get NaN uncertainties and correlations.
    pub fn from_covariances(covs: &[[[f64; 5]; 5]]) -> Self {
        let mut s = SolvedColumns::default();
        let mut err: [Vec<f64>; 5] = Default::default();
        let mut corr: [Vec<f64>; 10] = Default::default();
        for c in covs {
            let sig: [f64; 5] = std::array::from_fn(|i| {
                if c[i][i] > 0.0 {
                    c[i][i].sqrt()
                } else {
                    f64::NAN
                }
            });
            for i in 0..5 {
                err[i].push(sig[i]);
            }
            for (k, &(i, j)) in CORR_ORDER.iter().enumerate() {
                corr[k].push((c[i][j] / (sig[i] * sig[j])).clamp(-1.0, 1.0));
            }
        }
        let [e0, e1, e2, e3, e4] = err;
        s.ra_error = Some(e0);
        s.dec_error = Some(e1);
        s.parallax_error = Some(e2);
        s.pmra_error = Some(e3);
        s.pmdec_error = Some(e4);
        // FLOAT_COLUMNS lists the ten correlations right after the five errors, in CORR_ORDER.
        for (k, v) in corr.into_iter().enumerate() {
            debug_assert!(FLOAT_COLUMNS[5 + k].0.ends_with("_corr"));
            *(FLOAT_COLUMNS[5 + k].3)(&mut s) = Some(v);
        }
        s
    }

    /// True if no optional column is present.
    pub fn is_empty(&self) -> bool {
        FLOAT_COLUMNS.iter().all(|c| (c.2)(self).is_none())
            && INT_COLUMNS.iter().all(|c| (c.1)(self).is_none())
            && self.astrometric_params_solved.is_none()
            && self.extra.is_empty()
    }
}

/// A catalogue's columns in file units (deg, mas, mas/yr), shared by writer and reader so
/// that both apply the same checks.
struct FileColumns {
    source_id: Vec<i64>,
    ra: Vec<f64>,
    dec: Vec<f64>,
    parallax: Vec<f64>,
    pmra: Vec<f64>,
    pmdec: Vec<f64>,
    nu_eff: Vec<f64>,
    g: Vec<f64>,
    is_qso: Vec<bool>,
}

fn validate(path: &Path, c: &FileColumns) -> Result<(), IoError> {
    let mut first_row: HashMap<i64, usize> = HashMap::with_capacity(c.source_id.len());
    for (i, &id) in c.source_id.iter().enumerate() {
        if let Some(r) = first_row.insert(id, i + 1) {
            return Err(IoError::value(
                path,
                i + 1,
                "source_id",
                format!("duplicate source_id {id} (also in row {r})"),
            ));
        }
    }
    let check = |name: &str, v: &[f64], f: &dyn Fn(f64) -> Result<(), String>| {
        for (i, &x) in v.iter().enumerate() {
            f(x).map_err(|m| IoError::value(path, i + 1, name, m))?;
        }
        Ok::<(), IoError>(())
    };
    check("ra", &c.ra, &|x| require_finite(x, "right ascension"))?;
    check("dec", &c.dec, &|x| {
        require_finite(x, "declination")?;
        if x.abs() > 90.0 {
            return Err(format!("declination {x} deg outside [-90, 90]"));
        }
        Ok(())
    })?;
    check("parallax", &c.parallax, &|x| require_finite(x, "parallax"))?;
    check("pmra", &c.pmra, &|x| require_finite(x, "proper motion"))?;
    check("pmdec", &c.pmdec, &|x| require_finite(x, "proper motion"))?;
    check("nu_eff_used_in_astrometry", &c.nu_eff, &|x| {
        require_finite(x, "effective wavenumber")?;
        if x <= 0.0 {
            return Err(format!(
                "effective wavenumber must be positive (got {x} µm⁻¹)"
            ));
        }
        Ok(())
    })?;
    check("phot_g_mean_mag", &c.g, &|x| require_finite(x, "magnitude"))?;
    Ok(())
}

fn validate_solved_float(path: &Path, name: &str, kind: Kind, v: &[f64]) -> Result<(), IoError> {
    for (i, &x) in v.iter().enumerate() {
        kind.check(x)
            .map_err(|m| IoError::value(path, i + 1, name, m))?;
    }
    Ok(())
}

fn validate_params_solved(path: &Path, v: &[i64]) -> Result<(), IoError> {
    for (i, &x) in v.iter().enumerate() {
        if !(0..=127).contains(&x) {
            return Err(IoError::value(
                path,
                i + 1,
                PARAMS_SOLVED,
                format!("{x} is not a parameter bit code within [0, 127] (Gaia: 3, 31 or 95)"),
            ));
        }
    }
    Ok(())
}

fn validate_solved_int(path: &Path, name: &str, v: &[i64]) -> Result<(), IoError> {
    for (i, &x) in v.iter().enumerate() {
        if !(0..=i32::MAX as i64).contains(&x) {
            return Err(IoError::value(
                path,
                i + 1,
                name,
                format!("count {x} outside [0, {}]", i32::MAX),
            ));
        }
    }
    Ok(())
}

/// Writes a catalogue: the base columns, then the present solution columns, then the
/// extra columns. `ref_epoch` is the Julian year of the reference epoch (e.g. 2016.0;
/// see [`julian_year`]). Values are checked as the reader would check them, so the file
/// always reads back. Refuses to replace an existing file unless `overwrite`.
pub fn write_catalogue(
    path: impl AsRef<Path>,
    sources: &[Source],
    ref_epoch: f64,
    solved: Option<&SolvedColumns>,
    overwrite: bool,
) -> Result<(), IoError> {
    let path = path.as_ref();
    prepare(path, sources, ref_epoch, solved)?.write(path, overwrite)
}

/// Checks and converts a catalogue for writing to `path`.
pub(crate) fn prepare(
    path: &Path,
    sources: &[Source],
    ref_epoch: f64,
    solved: Option<&SolvedColumns>,
) -> Result<Prepared, IoError> {
    let n = sources.len();
    let fc = FileColumns {
        source_id: sources.iter().map(|s| s.source_id).collect(),
        ra: sources.iter().map(|s| s.params.ra / DEG).collect(),
        dec: sources.iter().map(|s| s.params.dec / DEG).collect(),
        parallax: sources.iter().map(|s| s.params.parallax / MAS).collect(),
        pmra: sources.iter().map(|s| s.params.pmra / MAS).collect(),
        pmdec: sources.iter().map(|s| s.params.pmdec / MAS).collect(),
        nu_eff: sources.iter().map(|s| s.params.nu_eff).collect(),
        g: sources.iter().map(|s| s.phot_g_mean_mag).collect(),
        is_qso: sources.iter().map(|s| s.is_qso).collect(),
    };
    validate(path, &fc)?;
    if !ref_epoch.is_finite() {
        return Err(IoError::invalid(
            path,
            format!("ref_epoch {ref_epoch} is not finite"),
        ));
    }
    let mut columns = vec![
        col::i64("source_id", fc.source_id),
        col::f64("ra", fc.ra),
        col::f64("dec", fc.dec),
        col::f64("parallax", fc.parallax),
        col::f64("pmra", fc.pmra),
        col::f64("pmdec", fc.pmdec),
        col::f64("nu_eff_used_in_astrometry", fc.nu_eff),
        col::f64("phot_g_mean_mag", fc.g),
        col::bool("is_qso", fc.is_qso),
        col::f64("ref_epoch", vec![ref_epoch; n]),
    ];
    if let Some(s) = solved {
        let wrong_len = |name: &str, len: usize| {
            IoError::invalid(
                path,
                format!("column \"{name}\" has {len} values for {n} sources"),
            )
        };
        for &(name, kind, get, _) in FLOAT_COLUMNS {
            if let Some(v) = get(s) {
                if v.len() != n {
                    return Err(wrong_len(name, v.len()));
                }
                let file: Vec<f64> = v.iter().map(|x| x / kind.scale()).collect();
                validate_solved_float(path, name, kind, &file)?;
                // not available: null, never NaN
                columns.push(col::f64_opt(
                    name,
                    file.into_iter()
                        .map(|x| (!x.is_nan()).then_some(x))
                        .collect(),
                ));
            }
        }
        for &(name, get, _) in INT_COLUMNS {
            if let Some(v) = get(s) {
                if v.len() != n {
                    return Err(wrong_len(name, v.len()));
                }
                let wide: Vec<i64> = v.iter().map(|&x| x as i64).collect();
                validate_solved_int(path, name, &wide)?;
                columns.push(col::i32(name, v.clone()));
            }
        }
        if let Some(v) = &s.astrometric_params_solved {
            if v.len() != n {
                return Err(wrong_len(PARAMS_SOLVED, v.len()));
            }
            let wide: Vec<i64> = v.iter().map(|&x| x as i64).collect();
            validate_params_solved(path, &wide)?;
            columns.push(col::i8(PARAMS_SOLVED, v.iter().map(|&x| x as i8).collect()));
        }
        for (name, v) in &s.extra {
            if columns.iter().any(|(f, _)| f.name() == name) || is_known(name) {
                return Err(IoError::invalid(
                    path,
                    format!("extra column \"{name}\" clashes with a catalogue column"),
                ));
            }
            if v.len() != n {
                return Err(wrong_len(name, v.len()));
            }
            columns.push(col::f64(name, v.clone()));
        }
    }
    Ok(Prepared {
        table: "catalogue",
        columns,
        metadata: vec![],
    })
}

fn is_known(name: &str) -> bool {
    name == PARAMS_SOLVED
        || BASE_COLUMNS.contains(&name)
        || FLOAT_COLUMNS.iter().any(|c| c.0 == name)
        || INT_COLUMNS.iter().any(|c| c.0 == name)
}

/// Reads a catalogue written by [`write_catalogue`] or exported from the Gaia archive, in
/// any format [`crate::tabular::TableFormat::detect`] recognises (Parquet, FITS, VOTable,
/// ECSV, CSV). Units stated by the file are converted (ra, dec: deg; parallax and its
/// uncertainties, excess noise: mas; pmra, pmdec and their uncertainties: mas/yr;
/// phot_g_mean_mag: mag); a column without a stated unit is taken in these units. Outside
/// Parquet a NaN float counts as a null.
///
/// Required columns: source_id, ra, dec, parallax, pmra, pmdec, nu_eff_used_in_astrometry
/// (where null, a `pseudocolour` column is used if present, as in Gaia DR3 6-parameter
/// solutions), phot_g_mean_mag, ref_epoch (one value for all rows). `is_qso` is optional
/// (absent: no source is a quasar). Known solution columns are returned in
/// [`SolvedColumns`], other numeric columns in `solved.extra`, non-numeric ones ignored.
pub fn read_catalogue(path: impl AsRef<Path>) -> Result<Catalogue, IoError> {
    let path = path.as_ref();
    let t = Table::read(path, &|f| {
        is_known(f.name())
            || f.name() == "pseudocolour"
            || Table::is_float(f.data_type())
            || Table::is_int(f.data_type())
    })?;
    let mut nu_eff = t.f64_nullable("nu_eff_used_in_astrometry")?;
    if let Some(valid) = nu_eff.1.take() {
        let pseudo = if t.has("pseudocolour") {
            Some(t.f64_nullable("pseudocolour")?)
        } else {
            None
        };
        for (i, ok) in valid.iter().enumerate() {
            if !ok {
                match &pseudo {
                    Some((p, pv)) if pv.as_ref().is_none_or(|pv| pv[i]) => nu_eff.0[i] = p[i],
                    _ => {
                        return Err(IoError::value(
                            path,
                            i + 1,
                            "nu_eff_used_in_astrometry",
                            "null in a required value",
                        ))
                    }
                }
            }
        }
    }
    let fc = FileColumns {
        source_id: t.i64_required("source_id")?,
        ra: t.f64_required_in("ra", Unit::Deg)?,
        dec: t.f64_required_in("dec", Unit::Deg)?,
        parallax: t.f64_required_in("parallax", Unit::Mas)?,
        pmra: t.f64_required_in("pmra", Unit::MasPerYr)?,
        pmdec: t.f64_required_in("pmdec", Unit::MasPerYr)?,
        nu_eff: nu_eff.0,
        g: t.f64_required_in("phot_g_mean_mag", Unit::Mag)?,
        is_qso: if t.has("is_qso") {
            t.bool_required("is_qso")?
        } else {
            vec![false; t.n_rows]
        },
    };
    let ref_epochs = t.f64_required("ref_epoch")?;
    for (name, len) in [
        ("source_id", fc.source_id.len()),
        ("ra", fc.ra.len()),
        ("is_qso", fc.is_qso.len()),
        ("ref_epoch", ref_epochs.len()),
    ] {
        if len != t.n_rows {
            return Err(IoError::parquet(
                path,
                format!("column \"{name}\" has {len} values for {} rows", t.n_rows),
            ));
        }
    }
    let ref_epoch = ref_epochs.first().copied().unwrap_or(f64::NAN);
    for (i, &e) in ref_epochs.iter().enumerate() {
        require_finite(e, "reference epoch")
            .map_err(|m| IoError::value(path, i + 1, "ref_epoch", m))?;
        if e != ref_epoch {
            return Err(IoError::value(
                path,
                i + 1,
                "ref_epoch",
                format!("ref_epoch {e} differs from row 1 ({ref_epoch}); all sources must share one reference epoch"),
            ));
        }
    }
    validate(path, &fc)?;

    let mut solved = SolvedColumns::default();
    for &(name, kind, _, get_mut) in FLOAT_COLUMNS {
        if t.has(name) {
            let (v, _) = t.f64_nullable_in(name, kind.unit())?;
            validate_solved_float(path, name, kind, &v)?;
            *get_mut(&mut solved) = Some(v.into_iter().map(|x| x * kind.scale()).collect());
        }
    }
    for &(name, _, get_mut) in INT_COLUMNS {
        if t.has(name) {
            let v = t.i64_required(name)?;
            validate_solved_int(path, name, &v)?;
            *get_mut(&mut solved) = Some(v.into_iter().map(|x| x as i32).collect());
        }
    }
    if t.has(PARAMS_SOLVED) {
        let v = t.i64_required(PARAMS_SOLVED)?;
        validate_params_solved(path, &v)?;
        solved.astrometric_params_solved = Some(v.into_iter().map(|x| x as u8).collect());
    }
    for f in &t.fields {
        let name = f.name();
        if is_known(name) {
            continue;
        }
        if Table::is_float(f.data_type()) {
            solved.extra.push((name.clone(), t.f64_nullable(name)?.0));
        } else if Table::is_int(f.data_type()) {
            solved.extra.push((name.clone(), t.int_as_f64(name)?));
        }
    }

    let sources = (0..t.n_rows)
        .map(|i| Source {
            source_id: fc.source_id[i],
            params: SourceParams {
                ra: fc.ra[i] * DEG,
                dec: fc.dec[i] * DEG,
                parallax: fc.parallax[i] * MAS,
                pmra: fc.pmra[i] * MAS,
                pmdec: fc.pmdec[i] * MAS,
                nu_eff: fc.nu_eff[i],
            },
            phot_g_mean_mag: fc.g[i],
            is_qso: fc.is_qso[i],
        })
        .collect();
    Ok(Catalogue {
        sources,
        ref_epoch,
        solved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    #[test]
    fn unsolved_sources_are_flagged_and_their_errors_null() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c.parquet");
        let src = |id: i64| Source {
            source_id: id,
            params: SourceParams {
                ra: 1.0,
                dec: 0.5,
                parallax: 1.0 * MAS,
                pmra: 0.0,
                pmdec: 0.0,
                nu_eff: 1.5,
            },
            phot_g_mean_mag: 15.0,
            is_qso: false,
        };
        let solved_cov = {
            let mut c = [[0.0; 5]; 5];
            for (i, row) in c.iter_mut().enumerate() {
                row[i] = (0.1 * MAS).powi(2);
            }
            c
        };
        let mut s = SolvedColumns::from_covariances(&[solved_cov, [[f64::NAN; 5]; 5]]);
        s.astrometric_params_solved = Some(vec![PARAMS_SOLVED_5, PARAMS_SOLVED_NONE]);
        write_catalogue(&p, &[src(1), src(2)], 2016.0, Some(&s), false).unwrap();

        // in the file: nulls for the unsolved source (not NaN), int8 codes
        let f = std::fs::File::open(&p).unwrap();
        let mut r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .build()
            .unwrap();
        let b = r.next().unwrap().unwrap();
        for name in ["ra_error", "pmdec_error", "ra_dec_corr", "pmra_pmdec_corr"] {
            let c = b.column_by_name(name).unwrap();
            assert_eq!(c.null_count(), 1, "{name}");
            assert!(c.is_null(1) && c.is_valid(0), "{name}");
        }
        let codes = b.column_by_name(PARAMS_SOLVED).unwrap();
        assert_eq!(codes.data_type(), &arrow_schema::DataType::Int8);

        let back = read_catalogue(&p).unwrap();
        assert_eq!(back.solved.astrometric_params_solved, Some(vec![31, 0]));
        let e = back.solved.ra_error.unwrap();
        assert!((e[0] / MAS - 0.1).abs() < 1e-12 && e[1].is_nan());
        assert!(back.solved.extra.is_empty(), "{:?}", back.solved.extra);

        // a code outside a byte is refused, naming row and column
        s.astrometric_params_solved = Some(vec![31, 200]);
        let e = write_catalogue(&p, &[src(1), src(2)], 2016.0, Some(&s), true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 2") && e.contains(PARAMS_SOLVED), "{e}");
    }
}
