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
    let mut n = [0.0; 9];
    let mut b = [0.0; 3];
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
    let mut l = n;
    astrosolve_model::linalg::cholesky_factor(&mut l, 3).ok()?;
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
    let mut g = [0.0; 36];
    let mut b = [0.0; 6];
    for r in 0..6 {
        b[r] = vectors[r].iter().zip(d).map(|(x, y)| x * y).sum();
        for c in 0..6 {
            g[r * 6 + c] = vectors[r].iter().zip(&vectors[c]).map(|(x, y)| x * y).sum();
        }
    }
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
    let pos: Vec<_> = fr.positions.iter().filter(|r| active[r.0]).collect();
    let eps = fit_rotation(pos.iter().map(|&&(i, ra, dec, sig)| {
        let refp = SourceParams {
            ra,
            dec,
            ..params[i]
        };
        let (p, q) = pq(&refp);
        let (da, dd) = position_difference(&params[i], &refp);
        let var = sig * sig + 0.5 * (covs[i][0][0] + covs[i][1][1]);
        (p, q, da, dd, 1.0 / var)
    }));
    let spin_src: Vec<usize> = fr
        .zero_spin
        .iter()
        .copied()
        .filter(|&i| active[i])
        .collect();
    let omega = fit_rotation(spin_src.iter().map(|&i| {
        let (p, q) = pq(&params[i]);
        let var = 0.5 * (covs[i][3][3] + covs[i][4][4]);
        (p, q, params[i].pmra, params[i].pmdec, 1.0 / var)
    }));
    FrameFit {
        rotation: eps.map(|e| e.0).unwrap_or([0.0; 3]),
        spin: omega.map(|o| o.0).unwrap_or([0.0; 3]),
        rotation_cov: eps.map(|e| e.1),
        spin_cov: omega.map(|o| o.1),
        n_orientation: pos.len(),
        n_spin: spin_src.len(),
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
