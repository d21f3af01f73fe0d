//! Hipparcos Intermediate Astrometric Data → [`SourceData`] → fitted, checked star.
//!
//! The IAD give, per record, the abscissa residual w.r.t. the catalogue solution and its
//! partial derivatives, so the fit's parameters are corrections to the catalogue values
//! (ESA 1997, vol. 1, §2.8; van Leeuwen 2007, App. G.8). 7- and 9-parameter results are given
//! in the catalogues' basis ½g(t² − 0.81 yr²), ⅙ġ(t³ − 1.69 yr² t) (ESA 1997 vol. 1 §2.3.3;
//! htof `validation/utils.py`, `compute_basis_offsets`; the 2007/2014 errors of HIP 9631 and
//! 10160 are reproduced only in that basis) — see [`to_catalogue_basis`]. Per format:
//!
//! * 1997: the FAST and NDAC abscissae of one orbit are correlated (IA10): they go to
//!   [`SourceData::pairs`] and the engine whitens each pair; lower-case records are rejected.
//!   The residuals refer to the 5-parameter part of the catalogue solution, so for the
//!   7/9-parameter stars the fitted extra terms are the terms themselves (not corrections).
//! * 2007/2014: σ is inflated as the catalogue did, u² = Q/ν with Q = ν[√(2/(9ν))·F2 + 1 −
//!   2/(9ν)]³ from the header's F2 and ν = N_used − n_params (Michalik et al. 2014, A&A 571,
//!   A85, App. B, eqs. B.1–B.4; htof `parse.py`, `error_inflation_factor`); errors are scaled
//!   by u.
//! * Consistency with the header (2007/2014): the catalogue solution must be the least-squares
//!   solution of the file's own records — refitting it may move it only by the rounding of the
//!   printed values, Δχ² = χ²(catalogue) − χ²(refit) ≤ [`DELTA_CHI2_TOLERANCE`] (the
//!   stationarity test of htof's `find_epochs_to_reject_*`) — and the goodness of fit
//!   recomputed from the residuals, F2 = √(9ν/2)[(χ²/ν)^⅓ + 2/(9ν) − 1] (eq. B.2), must match
//!   the header's within [`F2_TOLERANCE`]. A 2007 file whose rejected records are not marked
//!   (the DVD gives only their percentage F1) gets them found as htof does (the set allowed by
//!   F1 that restores both); a file that still fails (HIP 39's 2007 file) is reported as
//!   corrupt with the figures and not fitted.
//! * 2014 files with NRES > NOB (the write-out defect of Brandt et al. 2021, AJ 162, 186, §4;
//!   htof `parse.py`, `find_epochs_to_reject_java`): the last NRES − NOB residual rows (RES,
//!   SRES) are repeats and as many orbit rows (IORB … SPSI) are surplus; the residual rows
//!   left are paired in order with the orbit rows left, the dropped orbit rows being those
//!   that make the catalogue solution a stationary point of χ² (smallest |Σ 2 r a/σ²| over the
//!   partials a = (PARF, CPSI, SPSI, t·CPSI, t·SPSI) of the records not rejected). Here every
//!   combination is tried (htof tries every one up to 3 and distributes 4 or more over whole
//!   orbits). The fit reports it in its warnings.
//!
//! Units: corrections in mas, mas/yr, mas/yr², mas/yr³; t in Julian years from J1991.25.

use crate::{
    fit_source, EpochError, EpochObs, FitOptions, FitResult, ModelKind, SourceData, Weighting,
};
use astrosolve_io::hipparcos::{read_iad, IadFormat, IadStar};
use astrosolve_io::IoError;
use std::path::Path;

/// Reference epoch of Hipparcos data, Julian year (TT).
pub const REF_EPOCH_YR: f64 = astrosolve_io::hipparcos::HIPPARCOS_EPOCH_YR;

/// Largest |F2(recomputed) − F2(header)| of a sound file. The header F2 is printed with two
/// decimals (±0.005) and the residuals with two (0.01 mas); the good stars of the test data
/// agree to ≤ 0.015 (tests/hipparcos.rs prints the figures).
pub const F2_TOLERANCE: f64 = 0.1;

/// The Hipparcos 7/9-parameter basis offsets: ½g(t² − A97), ⅙ġ(t³ − B97 t), yr².
pub const A97: f64 = 0.81;
/// See [`A97`].
pub const B97: f64 = 1.69;

/// Largest number of combinations tried by the NRES > NOB realignment.
const MAX_COMBINATIONS: u64 = 200_000_000;

/// What was done for a 2014 file with NRES > NOB.
#[derive(Clone, Debug, PartialEq)]
pub struct NresNobFix {
    /// NRES − NOB.
    pub n_extra: usize,
    /// File lines whose residual columns (RES, SRES) were dropped: the last n_extra.
    pub dropped_residual_lines: Vec<usize>,
    /// File lines whose orbit columns (IORB, EPOCH, PARF, CPSI, SPSI) were dropped.
    pub dropped_orbit_lines: Vec<usize>,
    /// 0-based record indices of the same (as htof reports them).
    pub dropped_orbit_rows: Vec<usize>,
    /// |∇χ²| at the catalogue solution, without the fix (last rows dropped) and with it.
    pub gradient_before: f64,
    pub gradient_after: f64,
}

/// The fit of one Hipparcos star.
#[derive(Clone, Debug)]
pub struct HipFit {
    /// HIP number.
    pub hip: u32,
    /// File format.
    pub format: IadFormat,
    /// Model fitted.
    pub model: ModelKind,
    /// The observations fitted (σ as in the file, not inflated; 2014 NRES > NOB realigned).
    pub data: SourceData,
    /// The engine's result. `params` are corrections to the catalogue values, 7/9-parameter
    /// models in the catalogues' basis ([`to_catalogue_basis`]; 1997: the extra terms are the
    /// fitted terms themselves, the residuals referring to the 5-parameter part); `cov` is
    /// scaled by `inflation²`; `chi2`, `gof_al`, `uwe` are of the formal σ.
    pub result: FitResult,
    /// u, the σ inflation factor applied to the errors (1 when none).
    pub inflation: f64,
    /// F2 of the header (2007/2014).
    pub f2_header: Option<f64>,
    /// F2 recomputed from the residuals of the catalogue model's fit (2007/2014 stars with a
    /// 5/7/9-parameter solution).
    pub f2_recomputed: Option<f64>,
    /// The figures of the check against the header (2007/2014).
    pub consistency: Option<Consistency>,
    /// The NRES > NOB realignment, when one was made.
    pub nres_nob_fix: Option<NresNobFix>,
    /// Everything a user should know (defects handled, checks skipped).
    pub warnings: Vec<String>,
}

impl HipFit {
    /// Error of parameter k (mas, mas/yr, …), inflated.
    pub fn error(&self, k: usize) -> f64 {
        self.result.error(k)
    }
}

/// Goodness of fit F2 of χ² with ν degrees of freedom (Wilson–Hilferty; Michalik et al. 2014,
/// eq. B.2). Given: χ² ≥ 0, ν > 0. Returned: F2 (≈ N(0, 1) for a good fit); NaN if ν ≤ 0.
pub fn f2_from_chi2(chi2: f64, nu: f64) -> f64 {
    if !(nu > 0.0) {
        return f64::NAN;
    }
    (4.5 * nu).sqrt() * ((chi2 / nu).cbrt() + 2.0 / (9.0 * nu) - 1.0)
}

/// χ² = Q for a goodness of fit F2 with ν degrees of freedom (inverse of [`f2_from_chi2`],
/// Michalik et al. 2014, eq. B.3). NaN if ν ≤ 0.
pub fn chi2_from_f2(f2: f64, nu: f64) -> f64 {
    if !(nu > 0.0) {
        return f64::NAN;
    }
    let x = (2.0 / (9.0 * nu)).sqrt() * f2 + 1.0 - 2.0 / (9.0 * nu);
    nu * x * x * x
}

/// The σ inflation factor u = √(Q/ν) of a header F2 (Michalik et al. 2014, eq. B.4).
/// Given: F2, ν = N_used − n_params > 0. Returned: u > 0, or None when Q ≤ 0 or ν ≤ 0.
pub fn inflation_factor(f2: f64, nu: f64) -> Option<f64> {
    let q = chi2_from_f2(f2, nu);
    (q > 0.0 && q.is_finite()).then(|| (q / nu).sqrt())
}

/// The model of the catalogue solution (5, 7, 9 parameters), None for other solution types.
pub fn catalogue_model(star: &IadStar) -> Option<ModelKind> {
    star.n_params().and_then(ModelKind::from_n)
}

/// The observations of a star, ready for the engine, with what was done to them.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub data: SourceData,
    pub nres_nob_fix: Option<NresNobFix>,
    pub warnings: Vec<String>,
}

/// Converts the records to [`SourceData`]: t = epoch (yr from J1991.25), partials, w = abscissa
/// residual, σ as in the file, used = not rejected, transit = orbit; 1997 FAST/NDAC records of
/// one orbit → a correlated pair; 2014 NRES > NOB → realigned ([`NresNobFix`]).
/// Errors (naming the source and file) when the file cannot be used as is.
pub fn prepare(star: &IadStar) -> Result<Prepared, EpochError> {
    let id = star.hip as i64;
    let mut warnings = Vec::new();
    let mut nres_nob_fix = None;
    let obs_of = |r: &astrosolve_io::hipparcos::IadRecord| EpochObs {
        t: r.epoch,
        a_alpha: r.partials[0],
        a_delta: r.partials[1],
        a_parallax: r.partials[2],
        a_pmra: r.partials[3],
        a_pmdec: r.partials[4],
        a_colour: 0.0,
        w: r.residual,
        sigma: r.sigma,
        used: !r.rejected,
        transit: r.orbit,
    };
    let mut obs: Vec<EpochObs> = star.records.iter().map(obs_of).collect();
    let mut pairs = Vec::new();
    match star.format {
        IadFormat::Hip1997 => {
            // Records of one orbit are adjacent: pair FAST with NDAC.
            let mut k = 0;
            while k < star.records.len() {
                let a = &star.records[k];
                let mut j = k + 1;
                while j < star.records.len() && star.records[j].orbit == a.orbit {
                    j += 1;
                }
                match j - k {
                    1 => {}
                    2 => {
                        let b = &star.records[k + 1];
                        if a.consortium == b.consortium {
                            return Err(bad(
                                star,
                                format!(
                                    "lines {} and {}: two records of orbit {} from the same consortium",
                                    a.line, b.line, a.orbit
                                ),
                            ));
                        }
                        match (a.correlation, b.correlation) {
                            (Some(ra), Some(rb)) if ra != rb => {
                                return Err(bad(
                                    star,
                                    format!(
                                        "lines {} and {}: orbit {} has two F–N correlations ({ra}, {rb})",
                                        a.line, b.line, a.orbit
                                    ),
                                ))
                            }
                            (Some(r), _) | (None, Some(r)) => {
                                if r.abs() >= 1.0 {
                                    return Err(bad(
                                        star,
                                        format!("line {}: correlation {r} is not in (-1, 1)", a.line),
                                    ));
                                }
                                if r != 0.0 {
                                    pairs.push((k, k + 1, r));
                                }
                            }
                            (None, None) => warnings.push(format!(
                                "HIP {}: orbit {} has FAST and NDAC records without a correlation (lines {}, {}): fitted as independent",
                                star.hip, a.orbit, a.line, b.line
                            )),
                        }
                    }
                    n => {
                        return Err(bad(
                            star,
                            format!(
                                "line {}: orbit {} has {n} records (at most one FAST and one NDAC)",
                                a.line, a.orbit
                            ),
                        ))
                    }
                }
                k = j;
            }
        }
        IadFormat::Hip2007 => {
            if let Some(f1) = star.f1.filter(|&f| f > 0.0) {
                warnings.push(format!(
                    "HIP {}: the 2007 catalogue rejected {f1}% of the records (header F1) and the DVD file does not mark them",
                    star.hip
                ));
            }
        }
        IadFormat::Hip2014 => {
            if let Some(nob) = star.nob {
                let nres = star.records.len();
                if nres > nob {
                    let fix = realign_nres_nob(star, nres - nob)?;
                    let n = nres - fix.n_extra;
                    let keep_orbit: Vec<usize> = (0..nres)
                        .filter(|j| !fix.dropped_orbit_rows.contains(j))
                        .collect();
                    obs = (0..n)
                        .map(|k| {
                            let o = &star.records[keep_orbit[k]];
                            let r = &star.records[k];
                            EpochObs {
                                w: r.residual,
                                sigma: r.sigma,
                                used: !r.rejected,
                                ..obs_of(o)
                            }
                        })
                        .collect();
                    warnings.push(format!(
                        "HIP {}: NRES = {nres} > NOB = {nob} (2014 write-out defect, Brandt et al. 2021 §4): \
                         dropped the residuals of lines {:?} and the orbit columns of lines {:?} \
                         (|grad chi2| at the catalogue solution {:.3} -> {:.3})",
                        star.hip,
                        fix.dropped_residual_lines,
                        fix.dropped_orbit_lines,
                        fix.gradient_before,
                        fix.gradient_after
                    ));
                    nres_nob_fix = Some(fix);
                } else if nres < nob {
                    warnings.push(format!(
                        "HIP {}: NRES = {nres} < NOB = {nob}: fewer records than the catalogue used",
                        star.hip
                    ));
                }
            }
            if let Some(nr) = star.nr {
                let rej = obs.iter().filter(|o| !o.used).count();
                if rej != nr {
                    warnings.push(format!(
                        "HIP {}: {rej} records marked rejected (SRES < 0), the header's NR says {nr}",
                        star.hip
                    ));
                }
            }
        }
    }
    Ok(Prepared {
        data: SourceData {
            id,
            obs,
            pairs,
            excess_noise: None,
            colour_prior: None,
        },
        nres_nob_fix,
        warnings,
    })
}

fn bad(star: &IadStar, message: String) -> EpochError {
    EpochError::BadInput {
        source_id: star.hip as i64,
        message: format!("{}: {message}", star.path.display()),
    }
}

/// The 2014 NRES > NOB realignment (Brandt et al. 2021 §4): drop the last `n` residual rows
/// and the `n` orbit rows that make the catalogue solution the most nearly stationary.
/// Given: the star's records (2014), n ≥ 1. Returned: the rows dropped and |∇χ²| before/after.
pub fn realign_nres_nob(star: &IadStar, n: usize) -> Result<NresNobFix, EpochError> {
    let recs = &star.records;
    let nres = recs.len();
    if n == 0 || n >= nres {
        return Err(bad(
            star,
            format!("NRES − NOB = {n} cannot be realigned with {nres} records"),
        ));
    }
    let combos = binomial(nres as u64, n as u64);
    if combos > MAX_COMBINATIONS {
        return Err(bad(
            star,
            format!(
                "NRES − NOB = {n}: {combos} ways to drop orbit rows, too many to search; not fitted"
            ),
        ));
    }
    let m = nres - n; // residual rows kept
                      // c_k = 2 r_k / σ_k² of the residual rows kept (0 if rejected); a_j of every orbit row.
    let c: Vec<f64> = recs[..m]
        .iter()
        .map(|r| {
            if r.rejected {
                0.0
            } else {
                2.0 * r.residual / (r.sigma * r.sigma)
            }
        })
        .collect();
    let a: Vec<[f64; 5]> = recs
        .iter()
        .map(|r| {
            [
                r.partials[2],
                r.partials[0],
                r.partials[1],
                r.partials[3],
                r.partials[4],
            ]
        })
        .collect();
    // P[s][j] = Σ_{j' < j, 0 ≤ j' − s < m} c_{j'−s} a_{j'}: orbit row j' paired with residual
    // j' − s once s orbit rows before it are dropped.
    let prefix: Vec<Vec<[f64; 5]>> = (0..=n)
        .map(|s| {
            let mut p = vec![[0.0; 5]; nres + 1];
            for j in 0..nres {
                let mut v = p[j];
                if j >= s && j - s < m {
                    let cc = c[j - s];
                    for q in 0..5 {
                        v[q] += cc * a[j][q];
                    }
                }
                p[j + 1] = v;
            }
            p
        })
        .collect();
    let seg = |s: usize, from: usize, to: usize| -> [f64; 5] {
        let (p, q) = (&prefix[s][to], &prefix[s][from]);
        std::array::from_fn(|k| p[k] - q[k])
    };
    let norm = |g: &[f64; 5]| g.iter().map(|x| x * x).sum::<f64>().sqrt();
    // Without the fix: the last n orbit rows dropped (records paired as written).
    let before = norm(&seg(0, 0, m));
    let mut best = (f64::INFINITY, Vec::new());
    let mut chosen = Vec::with_capacity(n);
    search(&seg, nres, n, 0, 0, [0.0; 5], &mut chosen, &mut best, &norm);
    let (after, rows) = best;
    Ok(NresNobFix {
        n_extra: n,
        dropped_residual_lines: recs[m..].iter().map(|r| r.line).collect(),
        dropped_orbit_lines: rows.iter().map(|&j| recs[j].line).collect(),
        dropped_orbit_rows: rows,
        gradient_before: before,
        gradient_after: after,
    })
}

/// Depth-first search over increasing orbit rows to drop; `acc` is the gradient of the
/// segments before row `from` (shift `depth`). Keeps the first minimum in lexicographic order.
#[allow(clippy::too_many_arguments)]
fn search(
    seg: &dyn Fn(usize, usize, usize) -> [f64; 5],
    nres: usize,
    n: usize,
    depth: usize,
    from: usize,
    acc: [f64; 5],
    chosen: &mut Vec<usize>,
    best: &mut (f64, Vec<usize>),
    norm: &dyn Fn(&[f64; 5]) -> f64,
) {
    if depth == n {
        let last = seg(n, from, nres);
        let g: [f64; 5] = std::array::from_fn(|k| acc[k] + last[k]);
        let v = norm(&g);
        if v < best.0 {
            *best = (v, chosen.clone());
        }
        return;
    }
    // leave room for the remaining drops
    for s in from..=(nres - (n - depth)) {
        let part = seg(depth, from, s);
        let next: [f64; 5] = std::array::from_fn(|k| acc[k] + part[k]);
        chosen.push(s);
        search(seg, nres, n, depth + 1, s + 1, next, chosen, best, norm);
        chosen.pop();
    }
}

fn binomial(n: u64, k: u64) -> u64 {
    let mut r: u64 = 1;
    for i in 0..k {
        r = r.saturating_mul(n - i) / (i + 1);
    }
    r
}

/// Reads and fits one IAD file ([`read_iad`] then [`fit_star`]); read errors become
/// [`EpochError::Data`] (a bad field: file, line as row, column) or [`EpochError::File`].
pub fn fit_file(
    path: &Path,
    format: Option<IadFormat>,
    model: Option<ModelKind>,
    weighting: Weighting,
) -> Result<HipFit, EpochError> {
    let star = read_iad(path, format).map_err(io_error)?;
    fit_star(&star, model, weighting)
}

/// An [`IoError`] of an IAD file as an [`EpochError`] (source id 0: the file was not read).
pub fn io_error(e: IoError) -> EpochError {
    match e {
        IoError::Value {
            path,
            row,
            column,
            message,
        } => EpochError::Data {
            path,
            row,
            column,
            source_id: 0,
            message,
        },
        other => EpochError::File {
            path: other.path().to_path_buf(),
            message: other.to_string(),
        },
    }
}

/// χ² of the used observations at the catalogue solution (p = 0): Σ (w/σ)².
fn chi2_at_catalogue(data: &SourceData) -> f64 {
    data.obs
        .iter()
        .filter(|o| o.used)
        .map(|o| (o.w / o.sigma) * (o.w / o.sigma))
        .sum()
}

/// The consistency figures of a file against its own header.
#[derive(Clone, Debug, PartialEq)]
pub struct Consistency {
    /// Δχ² = χ²(catalogue solution) − χ²(fit) with the formal σ: 0 when the catalogue solution
    /// is the least-squares solution of the file's data (it is, up to the rounding of the
    /// printed values).
    pub delta_chi2: f64,
    /// Largest |correction| / formal error of the catalogue model's fit.
    pub max_shift_sigma: f64,
    /// F2 recomputed from the residuals of the fit, ν = N_used − n_params.
    pub f2: f64,
    /// N_used.
    pub n_used: usize,
}

fn consistency(
    data: &SourceData,
    model: ModelKind,
) -> Result<(Consistency, FitResult), EpochError> {
    let r = fit_source(
        data,
        &FitOptions {
            model,
            weighting: Weighting::None,
            ..Default::default()
        },
    )?;
    let n_used = data.obs.iter().filter(|o| o.used).count();
    let nu = n_used as f64 - model.n_params() as f64;
    let max_shift_sigma = (0..r.params.len())
        .map(|k| (r.params[k] / r.error(k)).abs())
        .fold(0.0, f64::max);
    Ok((
        Consistency {
            delta_chi2: chi2_at_catalogue(data) - r.chi2,
            max_shift_sigma,
            f2: f2_from_chi2(r.chi2, nu),
            n_used,
        },
        r,
    ))
}

/// The consistency figures of a 2007/2014 file against its own header, before any repair of
/// unmarked rejections (the NRES > NOB realignment included). None for 1997 files and
/// solutions other than 5/7/9 parameters.
pub fn header_consistency(star: &IadStar) -> Result<Option<Consistency>, EpochError> {
    let (Some(_), Some(c)) = (star.f2, catalogue_model(star)) else {
        return Ok(None);
    };
    let p = prepare(star)?;
    Ok(Some(consistency(&p.data, c)?.0))
}

/// Largest Δχ² (χ² at the catalogue solution minus χ² of the refit) of a sound file: the
/// rounding of the printed residuals and partials gives ≲ 1e-3 on the test data, HIP 39's
/// corrupt 2007 file 0.18 (figures printed by tests/hipparcos.rs).
pub const DELTA_CHI2_TOLERANCE: f64 = 0.02;

/// Largest number of record sets tried when looking for the unmarked rejections of a 2007 file.
const MAX_REJECTION_TRIALS: u64 = 1_000_000;

/// What the search for a 2007 file's unmarked rejections found.
struct RejectionSearch {
    /// The set accepted (record indices) and the figures with it removed.
    accepted: Option<(Vec<usize>, Consistency)>,
    /// The smallest Δχ² over every set tried, with the set's size.
    best: Option<(usize, Consistency)>,
    /// Numbers of records tried, k_min..=k_max (from F1).
    k_range: (usize, usize),
    /// A size was skipped: too many combinations.
    capped: bool,
}

/// 2007 DVD files do not mark the records the catalogue rejected; their header gives only the
/// truncated percentage F1. Looks for k records (k/N·100 truncating to F1) whose removal makes
/// the catalogue solution a least-squares solution (Δχ² ≤ [`DELTA_CHI2_TOLERANCE`]) and
/// reproduces the header F2 (|ΔF2| ≤ [`F2_TOLERANCE`]), as htof's `find_epochs_to_reject_DVD`
/// does; of those the one closest in F2 is accepted.
fn find_unmarked_rejections(
    data: &SourceData,
    model: ModelKind,
    f1: f64,
    f2_header: f64,
) -> RejectionSearch {
    let used: Vec<usize> = (0..data.obs.len()).filter(|&i| data.obs[i].used).collect();
    let n = used.len();
    // k/N·100 ∈ [F1, F1 + 1)
    let f1 = f1.max(0.0);
    let k_min = ((f1 * n as f64) / 100.0).ceil() as usize;
    let k_max = ((((f1 + 1.0) * n as f64) / 100.0).ceil() as usize).saturating_sub(1);
    let mut out = RejectionSearch {
        accepted: None,
        best: None,
        k_range: (k_min, k_max),
        capped: false,
    };
    for k in k_min.max(1)..=k_max.min(n.saturating_sub(model.n_params() + 1)) {
        if binomial(n as u64, k as u64) > MAX_REJECTION_TRIALS {
            out.capped = true;
            break;
        }
        let mut trial = data.clone();
        let mut idx: Vec<usize> = (0..k).collect();
        let mut best_k: Option<(Vec<usize>, Consistency)> = None;
        loop {
            for &i in &idx {
                trial.obs[used[i]].used = false;
            }
            if let Ok((c, _)) = consistency(&trial, model) {
                if best_k
                    .as_ref()
                    .is_none_or(|(_, b)| c.delta_chi2 < b.delta_chi2)
                {
                    best_k = Some((idx.iter().map(|&i| used[i]).collect(), c));
                }
            }
            for &i in &idx {
                trial.obs[used[i]].used = true;
            }
            // next combination in lexicographic order
            let mut j = k;
            while j > 0 && idx[j - 1] == n - k + j - 1 {
                j -= 1;
            }
            if j == 0 {
                break;
            }
            idx[j - 1] += 1;
            for l in j..k {
                idx[l] = idx[l - 1] + 1;
            }
        }
        let Some((set, c)) = best_k else { continue };
        if out
            .best
            .as_ref()
            .is_none_or(|(_, b)| c.delta_chi2 < b.delta_chi2)
        {
            out.best = Some((k, c.clone()));
        }
        let ok = c.delta_chi2 <= DELTA_CHI2_TOLERANCE && (c.f2 - f2_header).abs() <= F2_TOLERANCE;
        let closer = out
            .accepted
            .as_ref()
            .is_none_or(|(_, b)| (c.f2 - f2_header).abs() < (b.f2 - f2_header).abs());
        if ok && closer {
            out.accepted = Some((set, c));
        }
    }
    out
}

/// Fits one star.
/// Given: the star, the model (None: the catalogue's, 5 when its solution type has none), the
/// weighting (Hipparcos: [`Weighting::None`]; the σ inflation applies only to it).
/// Returned: corrections to the catalogue values with errors (7/9-parameter models in the
/// catalogue's basis, [`to_catalogue_basis`]); an error naming the star when the file is
/// corrupt (its catalogue solution is not the least-squares solution of its data, or its F2
/// is not reproduced) or cannot be fitted.
pub fn fit_star(
    star: &IadStar,
    model: Option<ModelKind>,
    weighting: Weighting,
) -> Result<HipFit, EpochError> {
    let Prepared {
        mut data,
        nres_nob_fix,
        mut warnings,
    } = prepare(star)?;
    let cat = catalogue_model(star);
    let model = match (model, cat) {
        (Some(m), _) => m,
        (None, Some(c)) => c,
        (None, None) => {
            warnings.push(format!(
                "HIP {}: solution type {} is not a 5/7/9-parameter solution: fitted 5 parameters",
                star.hip, star.solution_type
            ));
            ModelKind::Five
        }
    };
    if model == ModelKind::Six {
        return Err(bad(
            star,
            "the 6-parameter (pseudo-colour) model does not apply to Hipparcos data".into(),
        ));
    }
    // Checks against the header (2007/2014) on the catalogue model's fit; σ inflation factor.
    let mut f2_recomputed = None;
    let mut consistency_figures = None;
    let mut inflation = 1.0;
    let mut cat_fit = None;
    match (star.f2, cat) {
        (Some(f2h), Some(c)) => {
            let (mut fig, mut r) = consistency(&data, c)?;
            let mut search_note = String::new();
            if fig.delta_chi2 > DELTA_CHI2_TOLERANCE && star.format == IadFormat::Hip2007 {
                let f1 = star.f1.unwrap_or(0.0);
                let found = find_unmarked_rejections(&data, c, f1, f2h);
                if let Some((dropped, fig2)) = found.accepted {
                    let lines: Vec<usize> = dropped.iter().map(|&i| star.records[i].line).collect();
                    warnings.push(format!(
                        "HIP {}: the catalogue solution is not the least-squares solution of all the records \
                         (delta chi2 = {:.3}); rejecting the records of lines {lines:?}, which the DVD file does \
                         not mark (header F1 = {f1}%), makes it one (delta chi2 = {:.2e}) and reproduces F2 \
                         ({:.3} vs {f2h})",
                        star.hip, fig.delta_chi2, fig2.delta_chi2, fig2.f2
                    ));
                    for &i in &dropped {
                        data.obs[i].used = false;
                    }
                    (fig, r) = consistency(&data, c)?;
                } else {
                    let (k0, k1) = found.k_range;
                    search_note = match (&found.best, found.capped) {
                        (_, true) => format!(
                            "; the {k0}..={k1} records the DVD file leaves unmarked (F1 = {f1}%) could not be \
                             searched (too many combinations)"
                        ),
                        (Some((k, b)), false) => format!(
                            "; no set of unmarked rejections allowed by F1 = {f1}% ({k0}..={k1} records) makes it \
                             one (best: {k} record(s), delta chi2 = {:.3}, F2 = {:.3})",
                            b.delta_chi2, b.f2
                        ),
                        (None, false) => format!(
                            "; F1 = {f1}% allows no unmarked rejection ({k0}..={k1} records)"
                        ),
                    };
                }
            }
            let nu = fig.n_used as f64 - c.n_params() as f64;
            if fig.delta_chi2 > DELTA_CHI2_TOLERANCE || !((fig.f2 - f2h).abs() <= F2_TOLERANCE) {
                return Err(bad(
                    star,
                    format!(
                        "corrupt intermediate data: the {}-parameter catalogue solution is not the \
                         least-squares solution of the file's records (refitting moves it by up to \
                         {:.2} sigma, delta chi2 = {:.3}, tolerance {DELTA_CHI2_TOLERANCE}){search_note}; \
                         F2 from the residuals {:.3} vs header {f2h:.2} (tolerance {F2_TOLERANCE}); \
                         not fitted",
                        c.n_params(),
                        fig.max_shift_sigma,
                        fig.delta_chi2,
                        fig.f2,
                    ),
                ));
            }
            match inflation_factor(f2h, nu) {
                Some(u) => inflation = u,
                None => {
                    return Err(bad(
                        star,
                        format!("header F2 = {f2h} with ν = {nu} gives no inflation factor"),
                    ))
                }
            }
            f2_recomputed = Some(fig.f2);
            consistency_figures = Some(fig);
            cat_fit = Some(r);
        }
        (Some(_), None) => warnings.push(format!(
            "HIP {}: solution type {}: consistency check and σ inflation skipped (not a 5/7/9-parameter solution)",
            star.hip, star.solution_type
        )),
        _ => {}
    }
    let mut result = match cat_fit {
        Some(r) if Some(model) == cat && weighting == Weighting::None => r,
        _ => fit_source(
            &data,
            &FitOptions {
                model,
                weighting,
                ..Default::default()
            },
        )?,
    };
    if inflation != 1.0 {
        if weighting == Weighting::None {
            let u2 = inflation * inflation;
            result.cov.iter_mut().for_each(|c| *c *= u2);
        } else {
            warnings.push(format!(
                "HIP {}: σ inflation u = {inflation:.4} from F2 not applied (weighting {weighting:?})",
                star.hip
            ));
            inflation = 1.0;
        }
    }
    to_catalogue_basis(&mut result, model);
    Ok(HipFit {
        hip: star.hip,
        format: star.format,
        model,
        data,
        result,
        inflation,
        f2_header: star.f2,
        f2_recomputed,
        consistency: consistency_figures,
        nres_nob_fix,
        warnings,
    })
}

/// The linear map J from the engine's 7/9-parameter basis (½gt², ⅙ġt³) to the Hipparcos
/// catalogues' (½g(t² − A97), ⅙ġ(t³ − B97 t)): Δα*, Δδ += (A97/2) g; μ += (B97/6) ġ.
/// Returned: J (n×n, row-major); the identity for 5 and 6 parameters.
pub fn catalogue_basis_jacobian(model: ModelKind) -> Vec<f64> {
    let n = model.n_params();
    let mut j = vec![0.0; n * n];
    for k in 0..n {
        j[k * n + k] = 1.0;
    }
    if matches!(model, ModelKind::Seven | ModelKind::Nine) {
        j[5] = A97 / 2.0; // row Δα*, column gα*
        j[n + 6] = A97 / 2.0; // row Δδ, column gδ
    }
    if model == ModelKind::Nine {
        j[3 * n + 7] = B97 / 6.0; // row μα*, column ġα*
        j[4 * n + 8] = B97 / 6.0; // row μδ, column ġδ
    }
    j
}

/// Converts a fit's parameters and covariance to the Hipparcos catalogues' 7/9-parameter basis
/// (p ← J p, C ← J C Jᵀ with J of [`catalogue_basis_jacobian`]); residuals are unchanged (the
/// fitted path is the same). No change for 5 parameters.
pub fn to_catalogue_basis(r: &mut FitResult, model: ModelKind) {
    if !matches!(model, ModelKind::Seven | ModelKind::Nine) || r.params.len() != model.n_params() {
        return;
    }
    let n = r.params.len();
    let j = catalogue_basis_jacobian(model);
    let p: Vec<f64> = (0..n)
        .map(|a| (0..n).map(|b| j[a * n + b] * r.params[b]).sum())
        .collect();
    let mut jc = vec![0.0; n * n];
    for a in 0..n {
        for b in 0..n {
            jc[a * n + b] = (0..n).map(|k| j[a * n + k] * r.cov[k * n + b]).sum();
        }
    }
    let mut c = vec![0.0; n * n];
    for a in 0..n {
        for b in 0..n {
            c[a * n + b] = (0..n).map(|k| jc[a * n + k] * j[b * n + k]).sum();
        }
    }
    r.params = p;
    r.cov = c;
}
