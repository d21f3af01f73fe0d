//! Gross outliers at the starting point, screened once before the first step (the start-up
//! rule of the Gaia AGIS excess noise, Lindegren et al. 2012, section 5.1.2, and Gaia DR2
//! documentation section 3.3.1: modelling errors affect all observations of one source or all
//! observations in one time interval, so the residuals at the start are judged against those
//! two scales):
//!
//!   reject row l if |r_l| > K (m_src(l) + m_time(l) + σ_l),   K = [`GROSS_FACTOR`] = 100,
//!
//! with r_l the residual at the starting point, m_src the median |r| of the usable rows of
//! its source and kind (primary AL / secondary AC), m_time the median |r| of the
//! spans of [`TIME_SPAN_ROWS`] usable rows of its kind, consecutive in time (the largest of its
//! span's and the two neighbouring spans'), σ_l its standard uncertainty. A wrong starting value of a source or of the attitude moves every
//! residual of that source or time span together and raises its median with it; only a value
//! that neither explains is rejected. Medians are lower medians (of two rows, the smaller),
//! so one wild value among two cannot hide itself.
//!
//! Rows with a non-finite value (residual, derivative) or a σ that is not a measurement
//! (≤ 0 or below [`crate::robust::SIGMA_MIN`]) are never used either; a NaN σ is the
//! instrument's own "not used" (AC without an AC calibration) and is not reported.
//!
//! Rejected rows get zero weight in every linearisation of the solve and count as bad
//! primary observations (`SourceWeighting::n_bad`, the catalogue's
//! `astrometric_n_bad_obs_al`); the report lists them ([`Screening`]).

use crate::chunks::split_by_rows;
use crate::design::{DesignRow, RowMeta};
use crate::error::SolveError;
use crate::layout::GlobalLayout;
use crate::outer::Problem;
use crate::robust::SIGMA_MIN;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Residual, in units of the source's plus the time span's median absolute residual, beyond
/// which a row is a gross outlier at the start.
pub const GROSS_FACTOR: f64 = 100.0;
/// Rows of one kind, consecutive in time, whose median |r| is the time span's scale: a
/// quarter of what one 3-h attitude knot interval holds in the default 5000-source Gaia-like
/// mission (≈ 250 AL rows), so that a wrong starting attitude over one knot (four intervals)
/// raises its spans' medians rather than looking like outliers, and enough rows for a
/// median.
pub const TIME_SPAN_ROWS: usize = 64;
/// Rows listed one by one in the report (all are counted).
pub const MAX_LISTED: usize = 1000;

/// µas in rad.
const UAS: f64 = std::f64::consts::PI / (180.0 * 3600.0 * 1e6);

/// Why a row is not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrossReason {
    /// Residual at the start beyond [`GROSS_FACTOR`] times its scales.
    Residual,
    /// A non-finite residual or derivative.
    NonFinite,
    /// σ ≤ 0, or below [`SIGMA_MIN`]: not a measurement uncertainty.
    Sigma,
}

/// One row not used, for the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GrossRow {
    /// Source index and the row's index among that source's rows (the instrument's order).
    pub source: usize,
    pub row: usize,
    /// Observation time (days).
    pub t: f64,
    /// A primary (AL) measurement.
    pub primary: bool,
    pub reason: GrossReason,
    /// Residual at the start (µas), where finite.
    pub residual_uas: Option<f64>,
    /// The limit K (m_src + m_time + σ) it exceeded (µas).
    pub limit_uas: Option<f64>,
    /// Its σ (µas), where finite.
    pub sigma_uas: Option<f64>,
}

/// Suspect sources listed one by one.
pub const MAX_LISTED_SOURCES: usize = 10;

/// A time interval whose residuals at the start are far beyond the others'.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuspectSpan {
    /// First and last observation time (days).
    pub t0: f64,
    pub t1: f64,
    /// Largest median |r| of its spans (µas).
    pub median_residual_uas: f64,
}

/// A source whose residuals at the start are far beyond the others'.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuspectSource {
    pub source: usize,
    /// Median |r| of its primary rows (µas).
    pub median_residual_uas: f64,
}

/// The outcome of the screening at the start.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Screening {
    /// Rows screened.
    pub n_rows: usize,
    /// Rows rejected for their residual, and not used for a non-finite value or σ.
    pub n_rejected: usize,
    pub n_non_finite: usize,
    pub n_bad_sigma: usize,
    /// The first [`MAX_LISTED`] of them, in row order.
    pub rows: Vec<GrossRow>,
    /// Median |r| and median σ of the usable primary rows at the start (µas).
    pub median_residual_uas: f64,
    pub median_sigma_uas: f64,
    /// Time intervals whose median |r| (primary rows) exceeds [`GROSS_FACTOR`] times the
    /// median residual plus the median σ: where the starting attitude (or calibration) is
    /// probably wrong.
    pub suspect_spans: Vec<SuspectSpan>,
    /// Sources whose median |r| exceeds that likewise (starting values probably wrong): their
    /// number and the first [`MAX_LISTED_SOURCES`], largest first.
    pub n_suspect_sources: usize,
    pub suspect_sources: Vec<SuspectSource>,
    /// Global indices of the rows rejected for their residual, sorted.
    #[serde(skip)]
    rejected: Vec<usize>,
}

impl Screening {
    /// Rows rejected for their residual among the global rows `range`.
    pub fn rejected_in(&self, range: Range<usize>) -> &[usize] {
        let a = self.rejected.partition_point(|&l| l < range.start);
        let b = self.rejected.partition_point(|&l| l < range.end);
        &self.rejected[a..b]
    }

    /// Global indices of the rows rejected for their residual.
    pub fn rejected(&self) -> &[usize] {
        &self.rejected
    }

    /// Where the starting point is far from the data (None if nowhere): time intervals and
    /// sources whose median residual exceeds [`GROSS_FACTOR`] times the median residual plus
    /// the median σ — a wrong starting attitude or catalogue entry, which a Gauss–Newton step
    /// may not recover from.
    pub fn start_diagnosis(&self) -> Option<String> {
        let mut parts = Vec::new();
        let scale = format!(
            "{GROSS_FACTOR:.0} × the median residual {:.3e} µas plus the median σ {:.3e} µas",
            self.median_residual_uas, self.median_sigma_uas
        );
        if let Some(worst) = self
            .suspect_spans
            .iter()
            .max_by(|a, b| a.median_residual_uas.total_cmp(&b.median_residual_uas))
        {
            let n = self.suspect_spans.len();
            parts.push(format!(
                "the residuals exceed {scale} in {n} time interval{} (worst: median {:.3e} µas in [{:.4}, {:.4}] days), so the starting attitude or calibration there is probably wrong",
                if n == 1 { "" } else { "s" },
                worst.median_residual_uas,
                worst.t0,
                worst.t1
            ));
        }
        if !self.suspect_sources.is_empty() {
            let n = self.n_suspect_sources;
            let listed: Vec<String> = self
                .suspect_sources
                .iter()
                .map(|s| format!("{} ({:.3e} µas)", s.source, s.median_residual_uas))
                .collect();
            parts.push(format!(
                "{} {n} source{} the median residual exceeds {scale} (source index and median: {}{}), so {} starting values are probably wrong",
                if parts.is_empty() { "for" } else { "and for" },
                if n == 1 { "" } else { "s" },
                listed.join(", "),
                if n > listed.len() { ", …" } else { "" },
                if n == 1 { "its" } else { "their" }
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// Lines for the report's warnings: rows left out, and the start diagnosis.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self.rows_left_out().into_iter().collect();
        if let Some(d) = self.start_diagnosis() {
            out.push(format!("at the starting point {d}"));
        }
        out
    }

    /// One line when any row is left out.
    fn rows_left_out(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.n_rejected > 0 {
            parts.push(format!(
                "{} of {} measurements rejected at the start as gross outliers (residual more than {GROSS_FACTOR:.0} × the median residual of their source plus that of their time span)",
                self.n_rejected, self.n_rows
            ));
        }
        if self.n_non_finite > 0 {
            parts.push(format!(
                "{} measurements with a non-finite residual or derivative not used",
                self.n_non_finite
            ));
        }
        if self.n_bad_sigma > 0 {
            parts.push(format!(
                "{} measurements with σ ≤ 0 or below {:.0e} µas not used",
                self.n_bad_sigma,
                SIGMA_MIN / UAS
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; ") + " (listed in the report)")
    }
}

/// Whether every value of a design row (source part, residual, global part) is finite.
pub fn row_finite<const NS: usize, R: DesignRow<NS>>(row: &R) -> bool {
    if !row.residual().is_finite() || row.src().iter().any(|v| !v.is_finite()) {
        return false;
    }
    let mut ok = true;
    row.segments(&mut |_, c| ok &= c.iter().all(|v| v.is_finite()));
    ok
}

/// The error for an update `dx` of outer iteration `outer` (1-based) with a non-finite
/// element, naming the first such unknown (None when every element is finite): NaN would
/// otherwise pass the largest-update test unseen and end as the result.
pub fn non_finite_update(
    dx: &[f64],
    ns: usize,
    n_src: usize,
    layout: &GlobalLayout,
    outer: usize,
) -> Option<SolveError> {
    let j = dx.iter().position(|v| !v.is_finite())?;
    let n_bad = dx.iter().filter(|v| !v.is_finite()).count();
    let what = if j < ns * n_src {
        format!("parameter {} of source {}", j % ns, j / ns)
    } else if j - ns * n_src < layout.n {
        layout.describe(layout.block_of(j - ns * n_src))
    } else {
        format!("unknown {j}")
    };
    Some(SolveError::NonFinite(format!(
        "the linear step of outer iteration {outer} gave a non-finite update ({}) for {n_bad} of {} unknowns, first {what}: the normal equations hold values beyond floating point or are too ill-conditioned for the solver. Look for extreme values in the data (the report's screening lists the measurements left out) and in the starting values, or try --solver cg; nothing was written",
        if dx[j].is_nan() { "NaN" } else { "infinite" },
        dx.len()
    )))
}

/// Status of one row at the start.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Usable,
    /// σ NaN: the instrument does not use the row.
    Unused,
    NonFinite,
    Sigma,
}

fn status<const NS: usize, R: DesignRow<NS>>(row: &R, m: &RowMeta) -> Status {
    if m.sigma.is_nan() {
        Status::Unused
    } else if !row_finite(row) {
        Status::NonFinite
    } else if !(m.sigma.is_finite() && m.sigma >= SIGMA_MIN) {
        Status::Sigma
    } else {
        Status::Usable
    }
}

/// Why a row must not be used in a linearisation (None: use it): a non-finite value, or a σ
/// that is not a measurement's (the screening's rejected rows are checked by the caller,
/// `outer::linearise_screened`). A NaN σ (the instrument's "not used") gives None: it is
/// unused already.
pub fn exclusion<const NS: usize, R: DesignRow<NS>>(row: &R, m: &RowMeta) -> Option<GrossReason> {
    match status(row, m) {
        Status::Usable | Status::Unused => None,
        Status::NonFinite => Some(GrossReason::NonFinite),
        Status::Sigma => Some(GrossReason::Sigma),
    }
}

/// One row as the screening sees it.
#[derive(Clone, Copy)]
struct Entry {
    t: f64,
    r: f64,
    sigma: f64,
    /// m_src + σ (usable rows).
    base: f64,
    status: Status,
    primary: bool,
}

/// Lower median of `v` (None when empty); reorders `v`.
fn lower_median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let k = (v.len() - 1) / 2;
    let (_, m, _) = v.select_nth_unstable_by(k, f64::total_cmp);
    Some(*m)
}

/// Linearises every source of `p` at `state` and screens the rows (see the module
/// documentation). Err: the observations of a source could not be read.
pub fn screen<const NS: usize, P: Problem<NS>>(
    p: &P,
    state: &P::State,
) -> Result<Screening, SolveError> {
    let offsets = p.row_offsets();
    let chunks = split_by_rows(offsets);
    let parts: Vec<Vec<Entry>> = chunks
        .par_iter()
        .map(|range| -> Result<Vec<Entry>, SolveError> {
            let mut out = Vec::with_capacity(offsets[range.end] - offsets[range.start]);
            let mut rows: Vec<P::Row> = Vec::new();
            let mut meta: Vec<RowMeta> = Vec::new();
            let mut abs: Vec<f64> = Vec::new();
            for i in range.clone() {
                let n = offsets[i + 1] - offsets[i];
                rows.clear();
                rows.resize(n, P::Row::default());
                meta.clear();
                meta.resize(n, RowMeta::default());
                p.linearise_source(state, i, &mut rows, &mut meta)?;
                let first = out.len();
                for (row, m) in rows.iter().zip(&meta) {
                    out.push(Entry {
                        t: m.t,
                        r: row.residual() as f64,
                        sigma: m.sigma,
                        base: 0.0,
                        status: status(row, m),
                        primary: m.primary,
                    });
                }
                for kind in [true, false] {
                    abs.clear();
                    abs.extend(
                        out[first..]
                            .iter()
                            .filter(|e| e.status == Status::Usable && e.primary == kind)
                            .map(|e| e.r.abs()),
                    );
                    let m_src = lower_median(&mut abs).unwrap_or(0.0);
                    for e in out[first..].iter_mut() {
                        if e.status == Status::Usable && e.primary == kind {
                            e.base = m_src + e.sigma;
                        }
                    }
                }
            }
            Ok(out)
        })
        .collect::<Result<_, _>>()?;
    let entries: Vec<Entry> = parts.into_iter().flatten().collect();
    Ok(classify(&entries, offsets))
}

/// The rule of the module documentation over all rows (`offsets` as [`Problem::row_offsets`]).
fn classify(entries: &[Entry], offsets: &[usize]) -> Screening {
    let n = entries.len();
    let mut limit = vec![f64::INFINITY; n];
    let usable_primary = |e: &Entry| e.status == Status::Usable && e.primary;
    // the starting point's scale: median |r| and median σ of the usable primary rows
    let (median_r, median_sigma) = {
        let mut a: Vec<f64> = entries
            .iter()
            .filter(|e| usable_primary(e))
            .map(|e| e.r.abs())
            .collect();
        let mut b: Vec<f64> = entries
            .iter()
            .filter(|e| usable_primary(e))
            .map(|e| e.sigma)
            .collect();
        (
            lower_median(&mut a).unwrap_or(0.0),
            lower_median(&mut b).unwrap_or(0.0),
        )
    };
    let suspect_above = GROSS_FACTOR * (median_r + median_sigma);
    let mut suspect_spans: Vec<SuspectSpan> = Vec::new();
    for kind in [true, false] {
        let mut idx: Vec<usize> = (0..n)
            .filter(|&l| entries[l].status == Status::Usable && entries[l].primary == kind)
            .collect();
        idx.par_sort_unstable_by(|&a, &b| entries[a].t.total_cmp(&entries[b].t).then(a.cmp(&b)));
        let spans = time_spans(idx.len());
        let mut abs = Vec::with_capacity(TIME_SPAN_ROWS * 2);
        let medians: Vec<f64> = spans
            .iter()
            .map(|span| {
                abs.clear();
                abs.extend(idx[span.clone()].iter().map(|&l| entries[l].r.abs()));
                lower_median(&mut abs).unwrap_or(0.0)
            })
            .collect();
        if kind {
            // suspect spans; consecutive ones make one interval
            let mut last_j = usize::MAX;
            for (j, (span, &m)) in spans.iter().zip(&medians).enumerate() {
                if m.is_nan() || m <= suspect_above || span.is_empty() {
                    continue;
                }
                let (t0, t1) = (entries[idx[span.start]].t, entries[idx[span.end - 1]].t);
                match suspect_spans.last_mut() {
                    Some(last) if last_j + 1 == j => {
                        last.t1 = t1;
                        last.median_residual_uas = last.median_residual_uas.max(m / UAS);
                    }
                    _ => suspect_spans.push(SuspectSpan {
                        t0,
                        t1,
                        median_residual_uas: m / UAS,
                    }),
                }
                last_j = j;
            }
        }
        for (j, span) in spans.into_iter().enumerate() {
            // the larger of this span's and its neighbours' medians: a wrong attitude that
            // starts inside a span does not make the span's first rows look wild
            let m_time = medians[j.saturating_sub(1)..(j + 2).min(medians.len())]
                .iter()
                .fold(0.0, |a: f64, &b| a.max(b));
            for &l in &idx[span] {
                limit[l] = GROSS_FACTOR * (entries[l].base + m_time);
            }
        }
    }
    // sources far from the data at the start
    let mut suspect_sources: Vec<SuspectSource> = Vec::new();
    let mut abs = Vec::new();
    for (i, w) in offsets.windows(2).enumerate() {
        abs.clear();
        abs.extend(
            entries[w[0]..w[1]]
                .iter()
                .filter(|e| usable_primary(e))
                .map(|e| e.r.abs()),
        );
        if let Some(m) = lower_median(&mut abs) {
            if m > suspect_above {
                suspect_sources.push(SuspectSource {
                    source: i,
                    median_residual_uas: m / UAS,
                });
            }
        }
    }
    suspect_sources.sort_by(|a, b| b.median_residual_uas.total_cmp(&a.median_residual_uas));
    let n_suspect_sources = suspect_sources.len();
    suspect_sources.truncate(MAX_LISTED_SOURCES);
    let mut s = Screening {
        n_rows: n,
        median_residual_uas: median_r / UAS,
        median_sigma_uas: median_sigma / UAS,
        suspect_spans,
        n_suspect_sources,
        suspect_sources,
        ..Default::default()
    };
    let finite = |v: f64, scale: f64| v.is_finite().then_some(v / scale);
    for (l, e) in entries.iter().enumerate() {
        let reason = match e.status {
            Status::Usable if e.r.abs() > limit[l] => GrossReason::Residual,
            Status::Usable | Status::Unused => continue,
            Status::NonFinite => GrossReason::NonFinite,
            Status::Sigma => GrossReason::Sigma,
        };
        match reason {
            GrossReason::Residual => {
                s.n_rejected += 1;
                s.rejected.push(l);
            }
            GrossReason::NonFinite => s.n_non_finite += 1,
            GrossReason::Sigma => s.n_bad_sigma += 1,
        }
        if s.rows.len() < MAX_LISTED {
            let source = offsets.partition_point(|&o| o <= l).saturating_sub(1);
            s.rows.push(GrossRow {
                source,
                row: l - offsets[source],
                t: e.t,
                primary: e.primary,
                reason,
                residual_uas: finite(e.r, UAS),
                limit_uas: (reason == GrossReason::Residual).then(|| limit[l] / UAS),
                sigma_uas: finite(e.sigma, UAS),
            });
        }
    }
    s
}

/// Splits `n` time-ordered rows into spans of [`TIME_SPAN_ROWS`] (the last one longer rather
/// than shorter than half of that; one span when there are fewer).
fn time_spans(n: usize) -> Vec<Range<usize>> {
    let k = (n / TIME_SPAN_ROWS).max(1);
    (0..k)
        .map(|j| {
            j * TIME_SPAN_ROWS..if j + 1 == k {
                n
            } else {
                (j + 1) * TIME_SPAN_ROWS
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(t: f64, r: f64, sigma: f64) -> Entry {
        Entry {
            t,
            r,
            sigma,
            base: 0.0,
            status: Status::Usable,
            primary: true,
        }
    }

    /// Fills `base` as [`screen`] does, for sources given by `offsets`.
    fn with_source_medians(mut e: Vec<Entry>, offsets: &[usize]) -> Vec<Entry> {
        for w in offsets.windows(2) {
            let mut abs: Vec<f64> = e[w[0]..w[1]].iter().map(|x| x.r.abs()).collect();
            let m = lower_median(&mut abs).unwrap_or(0.0);
            for x in &mut e[w[0]..w[1]] {
                x.base = m + x.sigma;
            }
        }
        e
    }

    /// 40 sources × 50 rows over 100 days: residuals of ±30 mas at the start (a source's
    /// start error), σ = 0.1 mas.
    fn mission() -> (Vec<Entry>, Vec<usize>) {
        let mas = UAS * 1e3;
        let mut e = Vec::new();
        let mut offsets = vec![0];
        for i in 0..40 {
            for k in 0..50 {
                let t = (k * 2) as f64 + i as f64 * 0.01;
                let r = 30.0 * mas * ((i * 7 + k * 3) as f64).sin();
                e.push(entry(t, r, 0.1 * mas));
            }
            offsets.push(e.len());
        }
        (e, offsets)
    }

    #[test]
    fn one_wild_value_is_rejected_and_nothing_else() {
        let (mut e, offsets) = mission();
        let clean = classify(&with_source_medians(e.clone(), &offsets), &offsets);
        assert_eq!((clean.n_rejected, clean.rows.len()), (0, 0));
        e[123].r = 1e15 * UAS * 1e3; // eta = 1e15 mas
        let s = classify(&with_source_medians(e, &offsets), &offsets);
        assert_eq!(s.rejected(), &[123]);
        assert_eq!((s.rows[0].source, s.rows[0].row), (2, 23));
        assert_eq!(s.rows[0].reason, GrossReason::Residual);
        assert!(s.warnings()[0].contains("1 of 2000"), "{:?}", s.warnings());
        assert!(s.start_diagnosis().is_none());
    }

    #[test]
    fn a_wrong_start_of_a_source_or_a_time_span_is_not_rejected() {
        let (mut e, offsets) = mission();
        // source 5 starts 10° off: all its residuals are huge
        for x in &mut e[250..300] {
            x.r *= 1e6;
        }
        // the attitude is 1° off around t = 50 days (every source's rows there)
        for x in e.iter_mut().filter(|x| (x.t - 50.0).abs() < 5.0) {
            x.r += 1e4 * UAS * 1e3 * 360.0;
        }
        let s = classify(&with_source_medians(e, &offsets), &offsets);
        assert_eq!(s.n_rejected, 0, "{:?}", s.rows.first());
        // both are diagnosed
        assert_eq!(s.suspect_spans.len(), 1, "{:?}", s.suspect_spans);
        let span = &s.suspect_spans[0];
        assert!(span.t0 > 43.0 && span.t1 < 57.0, "{span:?}");
        assert_eq!(s.n_suspect_sources, 1);
        assert_eq!(s.suspect_sources[0].source, 5);
        let d = s.start_diagnosis().unwrap();
        assert!(
            d.contains("1 time interval") && d.contains("1 source"),
            "{d}"
        );
    }

    #[test]
    fn unusable_rows_are_counted_not_rejected() {
        let (mut e, offsets) = mission();
        e[7].status = Status::Sigma;
        e[8].status = Status::NonFinite;
        e[9].status = Status::Unused;
        let s = classify(&with_source_medians(e, &offsets), &offsets);
        assert_eq!((s.n_rejected, s.n_bad_sigma, s.n_non_finite), (0, 1, 1));
        assert_eq!(s.rows.len(), 2);
        assert!(s.rejected().is_empty());
    }

    #[test]
    fn spans_cover_every_row_once() {
        for n in [0, 1, 63, 64, 65, 600, 1024] {
            let s = time_spans(n);
            assert_eq!(s.first().unwrap().start, 0);
            assert_eq!(s.last().unwrap().end, n);
            for w in s.windows(2) {
                assert_eq!(w[0].end, w[1].start);
            }
        }
        let mut v = vec![3.0, -1.0];
        assert_eq!(lower_median(&mut v), Some(-1.0));
    }
}
