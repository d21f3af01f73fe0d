//! calibration.parquet: one row per calibration unit (time interval, field of view, CCD
//! row, CCD strip), one float64 column per calibration term, the calibration model and
//! its time grid in the key-value metadata.

use crate::error::{require_finite, within, IoError};
use crate::table::{col, fmt_f64, Prepared, Table};
use astrosolve_model::calibration::CalTerm;
use astrosolve_model::units::MAS;
use astrosolve_model::{Calibration, CalibrationConfig};
use std::path::Path;

/// Metadata keys of the calibration model ([`CalibrationConfig`]) and its time grid.
pub mod meta {
    pub const AL_DEGREE: &str = "astrosolve.calibration.al_degree";
    pub const CHROMATIC: &str = "astrosolve.calibration.chromatic";
    pub const AC_OFFSET: &str = "astrosolve.calibration.ac_offset";
    pub const INTERVAL_DAYS: &str = "astrosolve.calibration.interval_days";
    pub const NU_EFF_REF: &str = "astrosolve.calibration.nu_eff_ref";
    /// Start of the first time interval (days from the reference epoch).
    pub const T0: &str = "astrosolve.calibration.t0_days";
    /// Actual length of each time interval (days).
    pub const INTERVAL_LENGTH: &str = "astrosolve.calibration.interval_length_days";
    pub const N_INTERVALS: &str = "astrosolve.calibration.n_intervals";
    pub const N_ROWS: &str = "astrosolve.calibration.n_rows";
    pub const N_STRIPS: &str = "astrosolve.calibration.n_strips";
}

/// Column name of a calibration term: its name with the unit suffix `_mas` (for the
/// chromatic term: mas per µm⁻¹).
pub fn term_column(term: CalTerm) -> String {
    format!("{}_mas", term.name())
}

/// True for column names that look like calibration terms (checked against the config).
fn looks_like_term(name: &str) -> bool {
    name.starts_with("al_legendre_")
        || name.starts_with("al_chromatic")
        || name.starts_with("ac_offset")
}

fn describe(c: &CalibrationConfig) -> String {
    format!(
        "al_degree = {}, chromatic = {}, ac_offset = {}",
        c.al_degree, c.chromatic, c.ac_offset
    )
}

fn check_grid(path: &Path, c: &Calibration) -> Result<(), IoError> {
    c.config
        .validate()
        .map_err(|e| IoError::invalid(path, format!("invalid calibration model: {e}")))?;
    let ok = c.t0.is_finite()
        && c.interval > 0.0
        && c.interval.is_finite()
        && c.n_intervals >= 1
        && (1..=i8::MAX as usize).contains(&c.n_rows)
        && (1..=i8::MAX as usize).contains(&c.n_strips)
        && c.n_intervals <= i32::MAX as usize;
    if !ok {
        return Err(IoError::invalid(
            path,
            format!(
                "invalid calibration grid: t0 = {} days, interval = {} days, n_intervals = {}, n_rows = {}, n_strips = {} (need finite t0, interval > 0, n_intervals ≥ 1, 1 ≤ n_rows, n_strips ≤ 127)",
                c.t0, c.interval, c.n_intervals, c.n_rows, c.n_strips
            ),
        ));
    }
    Ok(())
}

/// Writes the calibration, units in [`Calibration::unit`] order. Refuses to replace an
/// existing file unless `overwrite`.
pub fn write_calibration(
    path: impl AsRef<Path>,
    cal: &Calibration,
    overwrite: bool,
) -> Result<(), IoError> {
    let path = path.as_ref();
    prepare(path, cal)?.write(path, overwrite)
}

/// Checks and converts a calibration for writing to `path`.
pub(crate) fn prepare(path: &Path, cal: &Calibration) -> Result<Prepared, IoError> {
    check_grid(path, cal)?;
    let n_units = cal.n_units();
    let n_per = cal.n_per_unit();
    if cal.params.len() != n_units * n_per {
        return Err(IoError::invalid(
            path,
            format!(
                "{} parameters for {n_units} units of {n_per} ({})",
                cal.params.len(),
                describe(&cal.config)
            ),
        ));
    }
    let terms = cal.config.terms();
    let mut interval = Vec::with_capacity(n_units);
    let mut fov = Vec::with_capacity(n_units);
    let mut row = Vec::with_capacity(n_units);
    let mut strip = Vec::with_capacity(n_units);
    let mut t_start = Vec::with_capacity(n_units);
    let mut t_end = Vec::with_capacity(n_units);
    for u in 0..n_units {
        let (iv, f, r, s) = cal.unit_parts(u);
        interval.push(iv as i32);
        fov.push(f as i8);
        row.push(r as i8 + 1);
        strip.push(s as i8 + 1);
        t_start.push(cal.t0 + iv as f64 * cal.interval);
        t_end.push(cal.t0 + (iv + 1) as f64 * cal.interval);
    }
    let mut columns = vec![
        col::i32("interval", interval),
        col::f64("t_start", t_start),
        col::f64("t_end", t_end),
        col::i8("fov", fov),
        col::i8("ccd_row", row),
        col::i8("ccd_strip", strip),
    ];
    for (j, term) in terms.iter().enumerate() {
        let name = term_column(*term);
        let mut v = Vec::with_capacity(n_units);
        for u in 0..n_units {
            let p = cal.params[u * n_per + j];
            require_finite(p, "calibration parameter")
                .map_err(|m| IoError::value(path, u + 1, &name, m))?;
            v.push(p / MAS);
        }
        columns.push(col::f64(&name, v));
    }
    let c = &cal.config;
    let meta = vec![
        (meta::AL_DEGREE.into(), c.al_degree.to_string()),
        (meta::CHROMATIC.into(), c.chromatic.to_string()),
        (meta::AC_OFFSET.into(), c.ac_offset.to_string()),
        (meta::INTERVAL_DAYS.into(), fmt_f64(c.interval_days)),
        (meta::NU_EFF_REF.into(), fmt_f64(c.nu_eff_ref)),
        (meta::T0.into(), fmt_f64(cal.t0)),
        (meta::INTERVAL_LENGTH.into(), fmt_f64(cal.interval)),
        (meta::N_INTERVALS.into(), cal.n_intervals.to_string()),
        (meta::N_ROWS.into(), cal.n_rows.to_string()),
        (meta::N_STRIPS.into(), cal.n_strips.to_string()),
    ];
    Ok(Prepared {
        table: "calibration",
        columns,
        metadata: meta,
    })
}

/// Reads a calibration file: the model and grid from the metadata, one row per unit in
/// any order (each unit exactly once), term columns exactly those of the model.
pub fn read_calibration(path: impl AsRef<Path>) -> Result<Calibration, IoError> {
    let path = path.as_ref();
    let t = Table::read(path, &|f| {
        matches!(
            f.name().as_str(),
            "interval" | "t_start" | "t_end" | "fov" | "ccd_row" | "ccd_strip"
        ) || looks_like_term(f.name())
    })?;
    let w = "calibration model";
    let g = "calibration time grid";
    let config = CalibrationConfig {
        al_degree: t.meta_parse(meta::AL_DEGREE, w)?,
        chromatic: t.meta_parse(meta::CHROMATIC, w)?,
        ac_offset: t.meta_parse(meta::AC_OFFSET, w)?,
        interval_days: t.meta_parse(meta::INTERVAL_DAYS, w)?,
        nu_eff_ref: t.meta_parse(meta::NU_EFF_REF, w)?,
    };
    let mut cal = Calibration {
        config,
        n_rows: t.meta_parse(meta::N_ROWS, g)?,
        n_strips: t.meta_parse(meta::N_STRIPS, g)?,
        t0: t.meta_parse(meta::T0, g)?,
        interval: t.meta_parse(meta::INTERVAL_LENGTH, g)?,
        n_intervals: t.meta_parse(meta::N_INTERVALS, g)?,
        params: Vec::new(),
    };
    check_grid(path, &cal)?;
    let terms = cal.config.terms();
    let expected: Vec<String> = terms.iter().map(|t| term_column(*t)).collect();
    for name in &expected {
        if !t.has(name) {
            return Err(IoError::invalid(
                path,
                format!(
                    "calibration model in the metadata ({}) needs column \"{name}\", which is missing",
                    describe(&cal.config)
                ),
            ));
        }
    }
    for f in &t.fields {
        if looks_like_term(f.name()) && !expected.contains(f.name()) {
            return Err(IoError::invalid(
                path,
                format!(
                    "column \"{}\" is not a term of the calibration model in the metadata ({}); expected term columns: {}",
                    f.name(),
                    describe(&cal.config),
                    expected.join(", ")
                ),
            ));
        }
    }
    let n_units = cal.n_units();
    if t.n_rows != n_units {
        return Err(IoError::invalid(
            path,
            format!(
                "{} rows, but the metadata ({} intervals × 2 fields of view × {} rows × {} strips) needs {n_units}",
                t.n_rows, cal.n_intervals, cal.n_rows, cal.n_strips
            ),
        ));
    }
    let interval = t.i64_required("interval")?;
    let t_start = t.f64_required("t_start")?;
    let t_end = t.f64_required("t_end")?;
    let fov = t.i64_required("fov")?;
    let ccd_row = t.i64_required("ccd_row")?;
    let ccd_strip = t.i64_required("ccd_strip")?;
    let values: Vec<Vec<f64>> = expected
        .iter()
        .map(|c| t.f64_required(c))
        .collect::<Result<_, _>>()?;
    t.check_len("interval", &interval)?;
    t.check_len("t_start", &t_start)?;
    t.check_len("t_end", &t_end)?;
    t.check_len("fov", &fov)?;
    t.check_len("ccd_row", &ccd_row)?;
    t.check_len("ccd_strip", &ccd_strip)?;
    for (name, v) in expected.iter().zip(&values) {
        t.check_len(name, v)?;
    }
    let n_per = cal.n_per_unit();
    cal.params = vec![f64::NAN; n_units * n_per];
    let mut seen_at = vec![0usize; n_units];
    let tol = 1e-6 * cal.interval;
    for r in 0..n_units {
        let bad = |column: &str, m: String| IoError::value(path, r + 1, column, m);
        let range = |column: &str, v: i64, lo: i64, hi: i64| {
            if (lo..=hi).contains(&v) {
                Ok(v as usize)
            } else {
                Err(bad(column, format!("{column} {v} outside {lo}..={hi}")))
            }
        };
        let iv = range("interval", interval[r], 0, cal.n_intervals as i64 - 1)?;
        let f = match fov[r] {
            0 | 1 => fov[r] as usize,
            v => {
                return Err(bad(
                    "fov",
                    format!("fov {v} is neither 0 (preceding) nor 1 (following)"),
                ))
            }
        };
        let row = range("ccd_row", ccd_row[r], 1, cal.n_rows as i64)? - 1;
        let strip = range("ccd_strip", ccd_strip[r], 1, cal.n_strips as i64)? - 1;
        let u = cal.unit(iv, f, row, strip);
        if seen_at[u] != 0 {
            return Err(bad(
                "interval",
                format!(
                    "duplicate unit (interval {iv}, fov {f}, ccd_row {}, ccd_strip {}), also in row {}",
                    row + 1,
                    strip + 1,
                    seen_at[u]
                ),
            ));
        }
        seen_at[u] = r + 1;
        let (ts, te) = (
            cal.t0 + iv as f64 * cal.interval,
            cal.t0 + (iv + 1) as f64 * cal.interval,
        );
        if !within(t_start[r], ts, tol) {
            return Err(bad(
                "t_start",
                format!("t_start {} inconsistent with the time grid in the metadata: interval {iv} starts at {ts} days", t_start[r]),
            ));
        }
        if !within(t_end[r], te, tol) {
            return Err(bad(
                "t_end",
                format!("t_end {} inconsistent with the time grid in the metadata: interval {iv} ends at {te} days", t_end[r]),
            ));
        }
        for (j, (name, v)) in expected.iter().zip(&values).enumerate() {
            require_finite(v[r], "calibration parameter").map_err(|m| bad(name, m))?;
            cal.params[u * n_per + j] = v[r] * MAS;
        }
    }
    Ok(cal)
}
