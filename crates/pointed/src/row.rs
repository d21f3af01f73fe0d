//! The design row of a pointed instrument: one per field angle (x, then y) of a star image.
//!
//! Global part: the exposure's attitude (Δα_p cos δ_p, Δδ_p, Δψ; three unknowns) and the
//! distortion coefficients of the image's (calibration unit, detector, axis). The model is
//! linear in those coefficients with derivatives P_i(u)P_j(v) at the measured normalised
//! position (u, v) (`astrosolve_model::pointed`), so a row stores (u, v) and the basis follows
//! from them; the gauge terms of the gauge detector get zero coefficients (their unknowns are
//! pinned to zero by pseudo-observations). 60 bytes, f32, whitened (σ₀/σ).

use astrosolve_core::{DesignRow, GlobalPart};
use astrosolve_model::pointed::{legendre_basis, n_terms, MAX_TERMS, N_ATT, N_SRC, TERM_V1};

/// Bit of [`PointedRow::gauge`] zeroing term 0; bit 1 zeroes term [`TERM_V1`].
pub const GAUGE_CONSTANT: u8 = 1;
pub const GAUGE_V1: u8 = 2;

/// One design row.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct PointedRow {
    /// ∂/∂(Δα*, Δδ, Δϖ, Δμα*, Δμδ).
    pub src: [f32; N_SRC],
    /// Residual observed − computed.
    pub res: f32,
    /// First attitude unknown: 3 × exposure.
    pub exp: u32,
    /// ∂/∂(Δα_p cos δ_p, Δδ_p, Δψ).
    pub att: [f32; N_ATT],
    /// First distortion unknown of (unit, detector, axis).
    pub cal: u32,
    /// Normalised detector coordinates of the measured image.
    pub u: f32,
    pub v: f32,
    /// Scale of the distortion derivatives (1 before whitening).
    pub s: f32,
    /// Distortion order.
    pub order: u8,
    /// Gauge terms of this row (bits [`GAUGE_CONSTANT`], [`GAUGE_V1`]).
    pub gauge: u8,
}

impl PointedRow {
    /// Distortion derivatives (zero for the gauge terms).
    #[inline]
    pub fn distortion(&self) -> ([f64; MAX_TERMS], usize) {
        let order = self.order as usize;
        let mut b = legendre_basis(order, self.u as f64, self.v as f64);
        let t = n_terms(order);
        let s = self.s as f64;
        b[..t].iter_mut().for_each(|x| *x *= s);
        if self.gauge & GAUGE_CONSTANT != 0 {
            b[0] = 0.0;
        }
        if self.gauge & GAUGE_V1 != 0 {
            b[TERM_V1] = 0.0;
        }
        (b, t)
    }
}

impl GlobalPart for PointedRow {
    #[inline]
    fn dot(&self, x: &[f64]) -> f64 {
        let e = self.exp as usize;
        let mut s = 0.0;
        for k in 0..N_ATT {
            s += self.att[k] as f64 * x[e + k];
        }
        let (b, t) = self.distortion();
        let c = self.cal as usize;
        for k in 0..t {
            s += b[k] * x[c + k];
        }
        s
    }

    #[inline]
    fn axpy(&self, s: f64, y: &mut [f64]) {
        let e = self.exp as usize;
        for k in 0..N_ATT {
            y[e + k] += self.att[k] as f64 * s;
        }
        let (b, t) = self.distortion();
        let c = self.cal as usize;
        for k in 0..t {
            y[c + k] += b[k] * s;
        }
    }

    fn segments(&self, f: &mut dyn FnMut(usize, &[f64])) {
        let a = self.att.map(|v| v as f64);
        f(self.exp as usize, &a);
        let (b, t) = self.distortion();
        f(self.cal as usize, &b[..t]);
    }
}

impl DesignRow<N_SRC> for PointedRow {
    #[inline]
    fn src(&self) -> &[f32; N_SRC] {
        &self.src
    }
    #[inline]
    fn residual(&self) -> f32 {
        self.res
    }
    fn scale(&mut self, s: f32) {
        self.src.iter_mut().for_each(|v| *v *= s);
        self.res *= s;
        self.att.iter_mut().for_each(|v| *v *= s);
        self.s *= s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_is_60_bytes_and_gauge_terms_vanish() {
        assert_eq!(std::mem::size_of::<PointedRow>(), 60);
        let r = PointedRow {
            u: 0.3,
            v: -0.4,
            s: 2.0,
            order: 3,
            gauge: GAUGE_CONSTANT | GAUGE_V1,
            ..Default::default()
        };
        let (b, t) = r.distortion();
        assert_eq!(t, 10);
        assert_eq!((b[0], b[TERM_V1]), (0.0, 0.0));
        assert!((b[1] - 2.0 * 0.3f32 as f64).abs() < 1e-12);
    }
}
