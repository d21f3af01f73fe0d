//! Source kinematics: the standard linear model of a source's barycentric direction
//! (Lindegren et al. 2012, section 3.2, eqs. 2–4; no perspective acceleration, aberration or
//! light deflection — simulator and solver share the model, see docs/model.md).
//!
//! u(t) = ⟨ r + τ (p μα* + q μδ) − ϖ b(t)/A ⟩,  with τ the time from the reference epoch in
//! Julian years, b the observer's barycentric position, and the normal triad
//! p = (−sin α, cos α, 0), q = (−sin δ cos α, −sin δ sin α, cos δ), r = (cos δ cos α, cos δ sin α, sin δ).

use crate::scalar::{normalize, Real, V3};
use serde::{Deserialize, Serialize};

/// Largest number of source parameters: α, δ, ϖ, μα*, μδ and the pseudo-colour ν_eff.
pub const N_SRC_MAX: usize = 6;

/// Index of each source parameter in parameter arrays.
pub mod idx {
    pub const RA: usize = 0;
    pub const DEC: usize = 1;
    pub const PARALLAX: usize = 2;
    pub const PMRA: usize = 3;
    pub const PMDEC: usize = 4;
    pub const NU_EFF: usize = 5;
}

/// Astrometric parameters of one source in internal units.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceParams {
    /// Right ascension at the reference epoch (rad).
    pub ra: f64,
    /// Declination at the reference epoch (rad).
    pub dec: f64,
    /// Parallax (rad).
    pub parallax: f64,
    /// Proper motion in α cos δ (rad/yr).
    pub pmra: f64,
    /// Proper motion in δ (rad/yr).
    pub pmdec: f64,
    /// Effective wavenumber (µm⁻¹): known colour (5-parameter solutions) or pseudo-colour (6).
    pub nu_eff: f64,
}

impl SourceParams {
    pub fn to_array(&self) -> [f64; N_SRC_MAX] {
        [
            self.ra,
            self.dec,
            self.parallax,
            self.pmra,
            self.pmdec,
            self.nu_eff,
        ]
    }
    pub fn from_array(a: [f64; N_SRC_MAX]) -> Self {
        SourceParams {
            ra: a[0],
            dec: a[1],
            parallax: a[2],
            pmra: a[3],
            pmdec: a[4],
            nu_eff: a[5],
        }
    }
    /// Applies a correction in the linearisation unknowns (Δα* = Δα cos δ, Δδ, Δϖ, Δμα*,
    /// Δμδ, Δν); `n` is the number of parameters solved (5 or 6).
    pub fn apply_update(&mut self, dx: &[f64], n: usize) {
        self.ra = (self.ra + dx[0] / self.dec.cos()).rem_euclid(std::f64::consts::TAU);
        self.dec += dx[1];
        self.parallax += dx[2];
        self.pmra += dx[3];
        self.pmdec += dx[4];
        if n > 5 {
            self.nu_eff += dx[5];
        }
    }
}

/// One source of the catalogue: identifier, parameters, and what the solver needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// Gaia-style source identifier.
    pub source_id: i64,
    pub params: SourceParams,
    /// G magnitude (used for the noise model and for selections).
    pub phot_g_mean_mag: f64,
    /// Quasar-like source: defines the non-rotating frame (zero spin).
    pub is_qso: bool,
}

/// Normal triad [p, q, r] at (α, δ) (Lindegren et al. 2012, eq. 3).
#[inline]
pub fn normal_triad<D: Real>(ra: D, dec: D) -> [V3<D>; 3] {
    let (sa, ca) = ra.sin_cos();
    let (sd, cd) = dec.sin_cos();
    [
        [-sa, ca, D::cst(0.0)],
        [-sd * ca, -sd * sa, cd],
        [cd * ca, cd * sa, sd],
    ]
}

/// Proper direction u(t) of a source as seen by an observer at barycentric position `b_au`,
/// `tau_yr` Julian years after the reference epoch (Lindegren et al. 2012, eq. 4).
#[inline]
pub fn direction<D: Real>(p: &[D; N_SRC_MAX], tau_yr: f64, b_au: &[f64; 3]) -> V3<D> {
    direction_from_triad(&normal_triad(p[0], p[1]), p, tau_yr, b_au)
}

/// [`direction`] given the normal triad [p, q, r] of the source's (α, δ) ([`normal_triad`]),
/// which all its observations share.
#[inline]
pub fn direction_from_triad<D: Real>(
    triad: &[V3<D>; 3],
    p: &[D; N_SRC_MAX],
    tau_yr: f64,
    b_au: &[f64; 3],
) -> V3<D> {
    let [pv, qv, rv] = *triad;
    let mut u = [D::cst(0.0); 3];
    for c in 0..3 {
        u[c] = rv[c] + (pv[c] * p[3] + qv[c] * p[4]) * tau_yr - p[2] * b_au[c];
    }
    normalize(&u)
}

/// An external reference position of a source (e.g. a VLBI position of a quasar), used to
/// orient the frame of a solution.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReferencePosition {
    /// Index of the source in the source table.
    pub source_index: usize,
    /// Position at the reference epoch (rad).
    pub ra: f64,
    pub dec: f64,
    /// Standard uncertainty per coordinate (rad).
    pub sigma: f64,
}
