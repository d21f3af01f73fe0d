//! attitude.parquet: the B-spline coefficients of the attitude quaternion, one row per
//! coefficient, with the knot sequence in the key-value metadata.

use crate::error::{require_finite, within, IoError};
use crate::table::{col, fmt_f64, Prepared, Table};
use astrosolve_model::bspline::UniformKnots;
use astrosolve_model::BSplineAttitude;
use std::path::Path;

/// Metadata key: start t0 of the spline (days from the reference epoch).
pub const META_T0: &str = "astrosolve.attitude.t0_days";
/// Metadata key: knot interval h (days).
pub const META_H: &str = "astrosolve.attitude.knot_interval_days";
/// Metadata key: number of knot intervals (the file has n_intervals + 3 rows).
pub const META_N_INTERVALS: &str = "astrosolve.attitude.n_intervals";

/// Centre of coefficient k's basis function: t0 + (k − 1) h.
pub fn coeff_centre(knots: &UniformKnots, k: usize) -> f64 {
    knots.t0 + (k as f64 - 1.0) * knots.h
}

fn check_knots(path: &Path, k: &UniformKnots) -> Result<(), IoError> {
    if !(k.t0.is_finite() && k.h > 0.0 && k.h.is_finite()) || k.n_intervals == 0 {
        return Err(IoError::invalid(
            path,
            format!(
                "invalid knot sequence: t0 = {} days, knot interval = {} days, n_intervals = {} (need finite t0, interval > 0, n_intervals ≥ 1)",
                k.t0, k.h, k.n_intervals
            ),
        ));
    }
    Ok(())
}

/// Writes the attitude: columns coeff_index (int32), t_centre (days), q1, q2, q3, q4, and
/// the knots in the metadata. Refuses to replace an existing file unless `overwrite`.
pub fn write_attitude(
    path: impl AsRef<Path>,
    attitude: &BSplineAttitude,
    overwrite: bool,
) -> Result<(), IoError> {
    let path = path.as_ref();
    prepare(path, attitude)?.write(path, overwrite)
}

/// Checks and converts an attitude for writing to `path`.
pub(crate) fn prepare(path: &Path, attitude: &BSplineAttitude) -> Result<Prepared, IoError> {
    let k = &attitude.knots;
    check_knots(path, k)?;
    let n = attitude.coeffs.len();
    if n != k.n_coeffs() {
        return Err(IoError::invalid(
            path,
            format!(
                "{n} coefficients for {} knot intervals (need n_intervals + 3 = {})",
                k.n_intervals,
                k.n_coeffs()
            ),
        ));
    }
    if n > i32::MAX as usize {
        return Err(IoError::invalid(path, "too many attitude coefficients"));
    }
    for (i, c) in attitude.coeffs.iter().enumerate() {
        for (j, q) in c.iter().enumerate() {
            require_finite(*q, "quaternion coefficient")
                .map_err(|m| IoError::value(path, i + 1, &format!("q{}", j + 1), m))?;
        }
    }
    let q = |j: usize| attitude.coeffs.iter().map(|c| c[j]).collect::<Vec<f64>>();
    let columns = vec![
        col::i32("coeff_index", (0..n as i32).collect()),
        col::f64("t_centre", (0..n).map(|i| coeff_centre(k, i)).collect()),
        col::f64("q1", q(0)),
        col::f64("q2", q(1)),
        col::f64("q3", q(2)),
        col::f64("q4", q(3)),
    ];
    let meta = vec![
        (META_T0.to_string(), fmt_f64(k.t0)),
        (META_H.to_string(), fmt_f64(k.h)),
        (META_N_INTERVALS.to_string(), k.n_intervals.to_string()),
    ];
    Ok(Prepared {
        table: "attitude",
        columns,
        metadata: meta,
    })
}

/// Reads an attitude file. Rows may come in any order; each coeff_index in
/// 0..n_intervals + 3 must appear exactly once, and t_centre must agree with the knots in
/// the metadata (to 10⁻⁶ of a knot interval).
pub fn read_attitude(path: impl AsRef<Path>) -> Result<BSplineAttitude, IoError> {
    let path = path.as_ref();
    let t = Table::read(path, &|f| {
        matches!(
            f.name().as_str(),
            "coeff_index" | "t_centre" | "q1" | "q2" | "q3" | "q4"
        )
    })?;
    let what = "attitude knot sequence";
    let knots = UniformKnots {
        t0: t.meta_parse(META_T0, what)?,
        h: t.meta_parse(META_H, what)?,
        n_intervals: t.meta_parse(META_N_INTERVALS, what)?,
    };
    check_knots(path, &knots)?;
    let n = knots.n_coeffs();
    if t.n_rows != n {
        return Err(IoError::invalid(
            path,
            format!(
                "{} rows, but the knot metadata ({META_N_INTERVALS} = {}) needs n_intervals + 3 = {n}",
                t.n_rows, knots.n_intervals
            ),
        ));
    }
    let index = t.i64_required("coeff_index")?;
    let centre = t.f64_required("t_centre")?;
    let q: Vec<Vec<f64>> = ["q1", "q2", "q3", "q4"]
        .iter()
        .map(|c| t.f64_required(c))
        .collect::<Result<_, _>>()?;
    t.check_len("coeff_index", &index)?;
    t.check_len("t_centre", &centre)?;
    for (j, v) in q.iter().enumerate() {
        t.check_len(&format!("q{}", j + 1), v)?;
    }
    let mut coeffs = vec![[f64::NAN; 4]; n];
    let mut seen_at = vec![0usize; n];
    for row in 0..n {
        let k = index[row];
        let ku = usize::try_from(k).ok().filter(|&k| k < n).ok_or_else(|| {
            IoError::value(
                path,
                row + 1,
                "coeff_index",
                format!("coeff_index {k} outside 0..={}", n - 1),
            )
        })?;
        if seen_at[ku] != 0 {
            return Err(IoError::value(
                path,
                row + 1,
                "coeff_index",
                format!("duplicate coeff_index {k} (also in row {})", seen_at[ku]),
            ));
        }
        seen_at[ku] = row + 1;
        let expected = coeff_centre(&knots, ku);
        if !within(centre[row], expected, 1e-6 * knots.h) {
            return Err(IoError::value(
                path,
                row + 1,
                "t_centre",
                format!(
                    "t_centre {} inconsistent with the knot metadata: coefficient {k} is centred at t0 + (k − 1) h = {expected} days",
                    centre[row]
                ),
            ));
        }
        for j in 0..4 {
            let v = q[j][row];
            require_finite(v, "quaternion coefficient")
                .map_err(|m| IoError::value(path, row + 1, &format!("q{}", j + 1), m))?;
            coeffs[ku][j] = v;
        }
    }
    let attitude = BSplineAttitude { knots, coeffs };
    check_coefficient_norms(path, &attitude, &seen_at)?;
    Ok(attitude)
}

/// Range of a coefficient's norm, relative to the median coefficient's, accepted on reading.
pub const COEFF_NORM_RANGE: (f64, f64) = (0.1, 10.0);
/// Range of the un-normalised spline quaternion's norm |Σ c_k B_k(t)| within which a solver
/// can linearise about an attitude (a spline fitted to a unit attitude stays within 0.984–1.016
/// on the default simulated mission, whose coefficients have norms ≈ 1.52).
pub const SPLINE_NORM_RANGE: (f64, f64) = (0.5, 2.0);

/// The spline represents a unit quaternion, normalised on evaluation (Lindegren et al. 2012,
/// section 5.2.2); its coefficients' norms follow from the knot interval (≈ 1 for short
/// intervals, ≈ 1.52 for half a revolution) and vary little. A coefficient whose norm is
/// outside [`COEFF_NORM_RANGE`] times the median norm — a zero, or one off by an order of
/// magnitude — leaves the attitude undefined or meaningless around its knot and the
/// quaternion-norm constraint without a direction. `row_of[k]` is the 1-based row of
/// coefficient k.
fn check_coefficient_norms(
    path: &Path,
    att: &BSplineAttitude,
    row_of: &[usize],
) -> Result<(), IoError> {
    let norm = |c: &[f64; 4]| c.iter().map(|v| v * v).sum::<f64>().sqrt();
    let norms: Vec<f64> = att.coeffs.iter().map(norm).collect();
    let median = {
        let mut v = norms.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (lo, hi) = COEFF_NORM_RANGE;
    for (k, &n) in norms.iter().enumerate() {
        if !(lo * median..=hi * median).contains(&n) {
            return Err(IoError::value(
                path,
                row_of[k],
                "q1",
                format!(
                    "attitude coefficient {k} (q1..q4 of this row) has norm {n:.3e} where the median coefficient has {median:.3}: a spline fitted to a unit attitude has coefficients of similar norms (accepted: {lo}–{hi} times the median); a zero or rescaled coefficient leaves the attitude undefined around t = {} days",
                    coeff_centre(&att.knots, k)
                ),
            ));
        }
    }
    Ok(())
}
