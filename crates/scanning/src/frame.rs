//! The six-dimensional rank defect: orientation ε and spin ω of the reference frame
//! (seed paper section 3; Lindegren et al. 2012, section 6.1, the "frame rotator").
//!
//! A rotation of the frame by θ(t) = ε + ω τ changes every source by Δu = θ × u, i.e.
//! Δα* = θ·q, Δδ = −θ·p (positions at the reference epoch from ε, proper motions from ω),
//! and leaves every observation unchanged if the attitude turns with it: q' = r(θ) ⊗ q.
//! Two ways of fixing it: as Gaia (ε from reference positions of a subset, ω from zero mean
//! spin of quasar-like sources), or minimum norm (no component of the total correction
//! along the six null vectors, in the solver's internal units).

use crate::problem::ScanState;
use crate::row::NS;
use astrosolve_core::comm::{Comm, Single};
use astrosolve_model::quat;
use astrosolve_model::source::normal_triad;
use astrosolve_model::units::years;
use astrosolve_model::{BSplineAttitude, SourceParams};
use serde::{Deserialize, Serialize};

/// How the frame defect is fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FrameMode {
    /// Orientation from a reference subset, spin from quasar-like sources (Gaia).
    Gaia,
    /// Minimum-norm correction relative to the starting point.
    MinNorm,
}

/// External frame information.
#[derive(Clone, Debug, Default)]
pub struct FrameReference {
    /// Reference positions (source index, α, δ in rad, σ in rad), e.g. VLBI positions of quasars.
    pub positions: Vec<(usize, f64, f64, f64)>,
    /// Sources whose true proper motion is zero (quasar-like).
    pub zero_spin: Vec<usize>,
    /// What the checks before the solve found ([`check_references`]), for the report.
    pub warnings: Vec<String>,
}

/// Fewest sources that determine a rotation (two not on one diameter).
pub const MIN_FRAME_SOURCES: usize = 2;
/// Fewer reference positions or quasar-like sources than this leave the frame resting on a
/// handful of sources (the orientation's σ is the reference positions' σ over √N): warned.
pub const FEW_FRAME_SOURCES: usize = 10;
/// Reference positions farther than this from the starting catalogue (rad, 1″) disagree
/// grossly with the data: the frame rotator corrects small rotations (Lindegren et al. 2012,
/// §6.1), not a misidentified source or a reference catalogue in another frame or epoch.
pub const GROSS_REFERENCE_OFFSET: f64 = std::f64::consts::PI / (180.0 * 3600.0);

/// Checks the reference positions against the starting catalogue `start` before the solve.
///
/// Returns the warnings (individual reference positions more than 1″ from the start, naming
/// up to five source ids from `ids`), or an error when the references as a whole are rotated
/// by more than 1″ from the start: the rotator would turn the whole catalogue by that angle.
pub fn check_references(
    fr: &FrameReference,
    start: &[SourceParams],
    ids: &[i64],
) -> Result<Vec<String>, String> {
    check_references_on(fr, start, ids, &Single)
}

/// [`check_references`] over the ranks of `comm`, each with its own sources and reference
/// positions: the rotation is fitted to all of them (normal equations summed), the count of
/// far positions summed; the worst ones named are the rank's own.
pub fn check_references_on(
    fr: &FrameReference,
    start: &[SourceParams],
    ids: &[i64],
    comm: &dyn Comm,
) -> Result<Vec<String>, String> {
    let arcsec = GROSS_REFERENCE_OFFSET;
    let mut far: Vec<(f64, i64)> = Vec::new();
    let eqs: Vec<_> = fr
        .positions
        .iter()
        .map(|&(i, ra, dec, sig)| {
            let (p, q, da, dd) = offset_from_reference(&start[i], ra, dec);
            let sep = da.hypot(dd);
            if sep > arcsec {
                far.push((sep, ids.get(i).copied().unwrap_or(i as i64)));
            }
            (p, q, da, dd, 1.0 / (sig * sig).max(1e-30))
        })
        .collect();
    // rank after rank, continuing the sums in the one-process order
    let mut nb = [0.0; 12];
    comm.chain(&mut nb, &mut |acc| {
        let start: [f64; 12] = std::array::from_fn(|k| acc[k]);
        acc.copy_from_slice(&rotation_normals_from(start, eqs.iter().copied()));
    });
    let n_far = comm.sum_count(far.len());
    let n_positions = comm.sum_count(fr.positions.len());
    if let Some((eps, _)) = solve_rotation(nb) {
        let angle = eps.iter().map(|v| v * v).sum::<f64>().sqrt();
        if angle > arcsec {
            return Err(format!(
                "the reference positions (reference_positions.parquet) are rotated by {:.3}″ (about x, y, z: {:.3}″, {:.3}″, {:.3}″) from the starting catalogue (sources.parquet): they disagree grossly with the data, and fixing the frame to them would turn the whole catalogue by that angle. Check that the reference positions are in ICRS at the catalogue's reference epoch and belong to the right sources, or use --frame min-norm to keep the starting catalogue's frame",
                angle / arcsec,
                eps[0] / arcsec,
                eps[1] / arcsec,
                eps[2] / arcsec
            ));
        }
    }
    let mut warnings = Vec::new();
    if n_far > 0 {
        far.sort_by(|a, b| b.0.total_cmp(&a.0));
        let worst: Vec<String> = far
            .iter()
            .take(5)
            .map(|(sep, id)| format!("{id} ({:.1}″)", sep / arcsec))
            .collect();
        warnings.push(format!(
            "{} of {} reference positions are more than 1″ from the starting catalogue (largest: {}); the frame fit weighs them by their σ, but check them",
            n_far,
            n_positions,
            worst.join(", ")
        ));
    }
    Ok(warnings)
}

impl FrameFit {
    /// Why the frame is not fixed, if it is not: the orientation or the spin undetermined
    /// (too few reference positions or quasar-like sources among the solved sources).
    pub fn undetermined(&self) -> Option<String> {
        let bad = |c: &Option<[[f64; 3]; 3]>| {
            c.is_none_or(|c| (0..3).any(|k| !(c[k][k].is_finite() && c[k][k] > 0.0)))
        };
        let mut why = Vec::new();
        if bad(&self.rotation_cov) {
            why.push(format!(
                "the orientation rests on {} solved sources with reference positions",
                self.n_orientation
            ));
        }
        if bad(&self.spin_cov) {
            why.push(format!(
                "the spin rests on {} solved quasar-like sources",
                self.n_spin
            ));
        }
        (!why.is_empty()).then(|| {
            format!(
                "the reference frame cannot be fixed: {} (at least {MIN_FRAME_SOURCES} are needed, not on one diameter; {FEW_FRAME_SOURCES} or more for a frame that does not hang on a few sources). Add reference positions or quasar-like sources (is_qso), or use --frame min-norm",
                why.join(", and ")
            )
        })
    }

    /// Warnings when the frame rests on few sources (fixed, but fragile).
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.n_orientation < FEW_FRAME_SOURCES {
            w.push(format!(
                "the frame's orientation rests on only {} solved sources with reference positions ({FEW_FRAME_SOURCES} or more recommended)",
                self.n_orientation
            ));
        }
        if self.n_spin < FEW_FRAME_SOURCES {
            w.push(format!(
                "the frame's spin rests on only {} solved quasar-like sources ({FEW_FRAME_SOURCES} or more recommended)",
                self.n_spin
            ));
        }
        w
    }
}

impl FrameReference {
    /// From reference positions and the source table (zero spin: the `is_qso` sources).
    pub fn new(
        refs: &[astrosolve_model::source::ReferencePosition],
        sources: &[astrosolve_model::source::Source],
    ) -> Self {
        FrameReference {
            positions: refs
                .iter()
                .map(|r| (r.source_index, r.ra, r.dec, r.sigma))
                .collect(),
            zero_spin: sources
                .iter()
                .enumerate()
                .filter(|(_, s)| s.is_qso)
                .map(|(i, _)| i)
                .collect(),
            warnings: Vec::new(),
        }
    }
}

/// p and q of the normal triad at (α, δ).
fn pq(p: &SourceParams) -> ([f64; 3], [f64; 3]) {
    let [pv, qv, _] = normal_triad(p.ra, p.dec);
    (pv, qv)
}

/// Weighted least squares of θ from equations (Δα* = θ·q, Δδ = −θ·p). Returns θ and its
/// covariance (3×3); None if the equations do not determine θ.
pub fn fit_rotation(
    eqs: impl Iterator<Item = ([f64; 3], [f64; 3], f64, f64, f64)>,
) -> Option<([f64; 3], [[f64; 3]; 3])> {
    solve_rotation(rotation_normals(eqs))
}

/// The normal equations of [`fit_rotation`]: N (3 × 3, row-major) then b, summed over `eqs`
/// (what ranks reduce before [`solve_rotation`]).
pub fn rotation_normals(
    eqs: impl Iterator<Item = ([f64; 3], [f64; 3], f64, f64, f64)>,
) -> [f64; 12] {
    rotation_normals_from([0.0; 12], eqs)
}

/// [`rotation_normals`] added, equation after equation, to the sums `start` (those of the
/// equations before: over ranks, [`Comm::chain`] gives the one-process bits).
pub fn rotation_normals_from(
    start: [f64; 12],
    eqs: impl Iterator<Item = ([f64; 3], [f64; 3], f64, f64, f64)>,
) -> [f64; 12] {
    let mut n = [0.0; 9];
    let mut b = [0.0; 3];
    n.copy_from_slice(&start[..9]);
    b.copy_from_slice(&start[9..]);
    for (p, q, da, dd, w) in eqs {
        for (a, v) in [(q, da), (p.map(|x| -x), dd)] {
            for r in 0..3 {
                b[r] += w * a[r] * v;
                for c in 0..3 {
                    n[r * 3 + c] += w * a[r] * a[c];
                }
            }
        }
    }
    let mut nb = [0.0; 12];
    nb[..9].copy_from_slice(&n);
    nb[9..].copy_from_slice(&b);
    nb
}

/// ε and its covariance from the normal equations of [`rotation_normals`] (None when they
/// leave it undetermined).
pub fn solve_rotation(nb: [f64; 12]) -> Option<([f64; 3], [[f64; 3]; 3])> {
    let mut n = [0.0; 9];
    n.copy_from_slice(&nb[..9]);
    let mut b = [nb[9], nb[10], nb[11]];
    let mut l = n;
    astrosolve_model::linalg::cholesky_factor(&mut l, 3).ok()?;
    // rank-deficient (one source, or sources on one diameter: the rotation about it is free): a
    // pivot at round-off level of the largest diagonal element leaves θ undetermined
    let top = n[0].max(n[4]).max(n[8]);
    if top.is_nan() || top <= 0.0 || (0..3).any(|k| l[k * 3 + k] * l[k * 3 + k] <= 1e-10 * top) {
        return None;
    }
    astrosolve_model::linalg::cholesky_solve_factored(&l, &mut b, 3);
    let mut inv = [0.0; 9];
    astrosolve_model::linalg::cholesky_inverse(&l, 3, &mut inv);
    Some((
        b,
        [
            [inv[0], inv[1], inv[2]],
            [inv[3], inv[4], inv[5]],
            [inv[6], inv[7], inv[8]],
        ],
    ))
}

/// Orientation ε and spin ω of catalogue `a` relative to catalogue `b` over the sources
/// `idx` (unweighted), with their formal covariances for unit-variance differences.
pub fn relative_frame(
    a: &[SourceParams],
    b: &[SourceParams],
    idx: &[usize],
) -> Option<([f64; 3], [f64; 3])> {
    let eps = fit_rotation(idx.iter().map(|&i| {
        let (p, q) = pq(&b[i]);
        let (da, dd) = position_difference(&a[i], &b[i]);
        (p, q, da, dd, 1.0)
    }))?
    .0;
    let omega = fit_rotation(idx.iter().map(|&i| {
        let (p, q) = pq(&b[i]);
        (p, q, a[i].pmra - b[i].pmra, a[i].pmdec - b[i].pmdec, 1.0)
    }))?
    .0;
    Some((eps, omega))
}

/// One equation of the orientation fit: p and q at the reference position (α, δ) (rad) and
/// (Δα*, Δδ) of the source `s` from it (rad).
fn offset_from_reference(s: &SourceParams, ra: f64, dec: f64) -> ([f64; 3], [f64; 3], f64, f64) {
    let refp = SourceParams { ra, dec, ..*s };
    let (p, q) = pq(&refp);
    let (da, dd) = position_difference(s, &refp);
    (p, q, da, dd)
}

/// (Δα*, Δδ) of a relative to b (rad), α wrapped.
pub fn position_difference(a: &SourceParams, b: &SourceParams) -> (f64, f64) {
    let mut da = a.ra - b.ra;
    da = (da + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI;
    (da * b.dec.cos(), a.dec - b.dec)
}

/// Rotates a solution (sources and attitude together, observations unchanged) by
/// θ(t) = ε + ω τ: u' = u + θ × u, q' = r(θ) ⊗ q.
pub fn rotate(
    sources: &mut [SourceParams],
    active: &[bool],
    att: &mut BSplineAttitude,
    eps: [f64; 3],
    omega: [f64; 3],
) {
    for (s, &on) in sources.iter_mut().zip(active) {
        if !on {
            continue;
        }
        let (p, q) = pq(s);
        let d = |v: &[f64; 3], w: &[f64; 3]| v[0] * w[0] + v[1] * w[1] + v[2] * w[2];
        s.apply_update(
            &[
                d(&eps, &q),
                -d(&eps, &p),
                0.0,
                d(&omega, &q),
                -d(&omega, &p),
            ],
            5,
        );
    }
    let k = att.knots;
    for (i, c) in att.coeffs.iter_mut().enumerate() {
        let tau = years(greville(&k, i));
        let theta = [0, 1, 2].map(|j| eps[j] + omega[j] * tau);
        *c = quat::mul(&quat::from_rotation_vector(theta), c);
    }
}

/// Greville abscissa (knot average) of spline coefficient i: Σ_i B_i(t) t_i* = t exactly.
pub fn greville(k: &astrosolve_model::bspline::UniformKnots, i: usize) -> f64 {
    k.t0 + (i as f64 - 1.0) * k.h
}

/// The six frame vectors in the unknown space [sources (5 each) | attitude (4 per
/// coefficient)]: orientation about x, y, z, then spin about x, y, z. Inactive sources get 0.
pub fn null_vectors(
    sources: &[SourceParams],
    active: &[bool],
    att: &BSplineAttitude,
) -> Vec<Vec<f64>> {
    let n = NS * sources.len() + att.n_params();
    let mut v = vec![vec![0.0; n]; 6];
    for (i, s) in sources.iter().enumerate() {
        if !active[i] {
            continue;
        }
        let (p, q) = pq(s);
        for j in 0..3 {
            v[j][NS * i] = q[j];
            v[j][NS * i + 1] = -p[j];
            v[3 + j][NS * i + 3] = q[j];
            v[3 + j][NS * i + 4] = -p[j];
        }
    }
    let a0 = NS * sources.len();
    for (k, c) in att.coeffs.iter().enumerate() {
        let tau = years(greville(&att.knots, k));
        for j in 0..3 {
            let mut e = [0.0; 4];
            e[j] = 0.5;
            let d = quat::mul(&e, c);
            for r in 0..4 {
                v[j][a0 + 4 * k + r] = d[r];
                v[3 + j][a0 + 4 * k + r] = d[r] * tau;
            }
        }
    }
    v
}

/// Components (ε, ω) of a change vector `d` along the null vectors (least squares).
pub fn null_components(vectors: &[Vec<f64>], d: &[f64]) -> ([f64; 3], [f64; 3]) {
    null_components_on(vectors, d, d.len(), &Single)
}

/// [`null_components`] over the ranks of `comm`: the first `n_src_part` elements of the
/// vectors are this rank's sources, the rest (attitude) is replicated and counted on rank 0
/// only; the dot products are summed over the ranks.
pub fn null_components_on(
    vectors: &[Vec<f64>],
    d: &[f64],
    n_src_part: usize,
    comm: &dyn Comm,
) -> ([f64; 3], [f64; 3]) {
    // the source elements rank after rank ([`Comm::chain`]), then the replicated attitude
    // elements on every rank: each sum continues element by element in the one-process order
    let src = n_src_part.min(d.len());
    let add = |gb: &mut [f64], range: std::ops::Range<usize>| {
        let (g, b) = gb.split_at_mut(36);
        for r in 0..6 {
            b[r] = vectors[r][range.clone()]
                .iter()
                .zip(&d[range.clone()])
                .fold(b[r], |s, (x, y)| s + x * y);
            for c in 0..6 {
                g[r * 6 + c] = vectors[r][range.clone()]
                    .iter()
                    .zip(&vectors[c][range.clone()])
                    .fold(g[r * 6 + c], |s, (x, y)| s + x * y);
            }
        }
    };
    let mut gb = [0.0; 42];
    comm.chain(&mut gb, &mut |acc| add(acc, 0..src));
    add(&mut gb, src..d.len());
    let mut g = [0.0; 36];
    g.copy_from_slice(&gb[..36]);
    let mut b = [0.0; 6];
    b.copy_from_slice(&gb[36..]);
    // the attitude part alone makes the six vectors independent; fall back to no correction
    if astrosolve_model::linalg::cholesky_factor(&mut g, 6).is_err() {
        return ([0.0; 3], [0.0; 3]);
    }
    astrosolve_model::linalg::cholesky_solve_factored(&g, &mut b, 6);
    ([b[0], b[1], b[2]], [b[3], b[4], b[5]])
}

/// The frame fitted by the Gaia-like rotator.
#[derive(Clone, Copy, Debug)]
pub struct FrameFit {
    /// Orientation ε (rad) and spin ω (rad/yr) of the solution.
    pub rotation: [f64; 3],
    pub spin: [f64; 3],
    /// Their formal covariances (None: not determined, left at zero).
    pub rotation_cov: Option<[[f64; 3]; 3]>,
    pub spin_cov: Option<[[f64; 3]; 3]>,
    /// Sources used for each.
    pub n_orientation: usize,
    pub n_spin: usize,
}

/// Orientation from the reference positions, spin from the zero-spin sources, each weighted
/// by the solution's formal errors (and the reference positions' own).
pub fn gaia_frame(
    params: &[SourceParams],
    covs: &[[[f64; NS]; NS]],
    active: &[bool],
    fr: &FrameReference,
) -> FrameFit {
    gaia_frame_on(params, covs, active, fr, &Single)
}

/// [`gaia_frame`] over the ranks of `comm`, each with its own sources (and `fr` re-indexed to
/// them): the normal equations and the counts are summed over the ranks.
pub fn gaia_frame_on(
    params: &[SourceParams],
    covs: &[[[f64; NS]; NS]],
    active: &[bool],
    fr: &FrameReference,
    comm: &dyn Comm,
) -> FrameFit {
    let pos: Vec<_> = fr.positions.iter().filter(|r| active[r.0]).collect();
    let pos_eqs: Vec<_> = pos
        .iter()
        .map(|&&(i, ra, dec, sig)| {
            let (p, q, da, dd) = offset_from_reference(&params[i], ra, dec);
            let var = sig * sig + 0.5 * (covs[i][0][0] + covs[i][1][1]);
            (p, q, da, dd, 1.0 / var)
        })
        .collect();
    let spin_src: Vec<usize> = fr
        .zero_spin
        .iter()
        .copied()
        .filter(|&i| active[i])
        .collect();
    let spin_eqs: Vec<_> = spin_src
        .iter()
        .map(|&i| {
            let (p, q) = pq(&params[i]);
            let var = 0.5 * (covs[i][3][3] + covs[i][4][4]);
            (p, q, params[i].pmra, params[i].pmdec, 1.0 / var)
        })
        .collect();
    // rank after rank, continuing the sums in the one-process order ([`Comm::chain`])
    let mut all = [0.0; 26];
    comm.chain(&mut all, &mut |acc| {
        let ne: [f64; 12] = std::array::from_fn(|k| acc[k]);
        let no: [f64; 12] = std::array::from_fn(|k| acc[12 + k]);
        acc[..12].copy_from_slice(&rotation_normals_from(ne, pos_eqs.iter().copied()));
        acc[12..24].copy_from_slice(&rotation_normals_from(no, spin_eqs.iter().copied()));
    });
    all[24] = comm.sum_count(pos.len()) as f64;
    all[25] = comm.sum_count(spin_src.len()) as f64;
    let mut ne = [0.0; 12];
    ne.copy_from_slice(&all[..12]);
    let mut no = [0.0; 12];
    no.copy_from_slice(&all[12..24]);
    let (eps, omega) = (solve_rotation(ne), solve_rotation(no));
    FrameFit {
        rotation: eps.map(|e| e.0).unwrap_or([0.0; 3]),
        spin: omega.map(|o| o.0).unwrap_or([0.0; 3]),
        rotation_cov: eps.map(|e| e.1),
        spin_cov: omega.map(|o| o.1),
        n_orientation: all[24] as usize,
        n_spin: all[25] as usize,
    }
}

/// Adds the uncertainty of the frame fix (orientation to α*, δ; spin to μα*, μδ) to a source
/// covariance: Δα* = θ·q, Δδ = −θ·p.
pub fn add_frame_covariance(
    p: &SourceParams,
    cov: &mut [[f64; NS]; NS],
    c_eps: &[[f64; 3]; 3],
    c_omega: &[[f64; 3]; 3],
) {
    let (pv, qv) = pq(p);
    let rows = [qv, pv.map(|v| -v)];
    for (off, c) in [(0, c_eps), (3, c_omega)] {
        for a in 0..2 {
            for b in 0..2 {
                let mut v = 0.0;
                for i in 0..3 {
                    for j in 0..3 {
                        v += rows[a][i] * c[i][j] * rows[b][j];
                    }
                }
                cov[off + a][off + b] += v;
            }
        }
    }
}

/// Change of the state relative to the start, in the unknown space of the null vectors
/// (sources, then attitude).
pub fn total_change(st: &ScanState, start: &ScanState, active: &[bool]) -> Vec<f64> {
    let n_src = st.params.len();
    let mut d = vec![0.0; NS * n_src + st.attitude.n_params()];
    for i in 0..n_src {
        if !active[i] {
            continue;
        }
        let (a, b) = (&st.params[i], &start.params[i]);
        let (da, dd) = position_difference(a, b);
        d[NS * i] = da;
        d[NS * i + 1] = dd;
        d[NS * i + 2] = a.parallax - b.parallax;
        d[NS * i + 3] = a.pmra - b.pmra;
        d[NS * i + 4] = a.pmdec - b.pmdec;
    }
    let a0 = NS * n_src;
    for (k, (c, c0)) in st
        .attitude
        .coeffs
        .iter()
        .zip(&start.attitude.coeffs)
        .enumerate()
    {
        for r in 0..4 {
            d[a0 + 4 * k + r] = c[r] - c0[r];
        }
    }
    d
}
