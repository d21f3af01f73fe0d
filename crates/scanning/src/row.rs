//! The design row of a scanning instrument: one per AL field angle η, one per AC field angle ζ.
//!
//! Global part: the B-spline attitude and one calibration unit. ∂/∂c_{j+m,k} = B_m(t) ∂/∂q_k
//! (the spline is linear in its coefficients; `astrosolve_model::model`), so a row stores the
//! knot interval j, the local coordinate u of t in it (the four basis values B_m(u) follow from
//! it, [`cubic_basis`]) and the four ∂/∂q_k — 20 bytes for sixteen attitude coefficients —
//! and the unit's first unknown with up to [`NC`] calibration derivatives.
//!
//! 72 bytes per row, f32 coefficients (whitened: multiplied by σ₀/σ); the global unknowns g are
//! [attitude (4 per spline coefficient) | calibration (per unit)].

use astrosolve_core::{DesignRow, GlobalPart};
use astrosolve_model::N_AL_CAL_MAX;

/// Source unknowns of a scanning solution (α*, δ, ϖ, μα*, μδ).
pub const NS: usize = 5;
/// Calibration derivatives a row can hold.
pub const NC: usize = N_AL_CAL_MAX;
/// Bits of [`ScanRow::cal`] holding the unknown index (the rest: the number of derivatives).
const CAL_INDEX_BITS: u32 = 28;
const CAL_INDEX_MASK: u32 = (1 << CAL_INDEX_BITS) - 1;
/// Largest number of global unknowns a row can address.
pub const MAX_GLOBAL_UNKNOWNS: usize = CAL_INDEX_MASK as usize;

/// The four uniform cubic B-spline values at u ∈ [0, 1] (f32 in, f64 out).
#[inline(always)]
pub fn cubic_basis(u: f32) -> [f64; 4] {
    let u = u as f64;
    let u2 = u * u;
    let u3 = u2 * u;
    let v = 1.0 - u;
    const S: f64 = 1.0 / 6.0;
    [
        v * v * v * S,
        (3.0 * u3 - 6.0 * u2 + 4.0) * S,
        (-3.0 * u3 + 3.0 * u2 + 3.0 * u + 1.0) * S,
        u3 * S,
    ]
}

/// One design row (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct ScanRow {
    /// ∂/∂(Δα*, Δδ, Δϖ, Δμα*, Δμδ).
    pub src: [f32; NS],
    /// Residual observed − computed.
    pub res: f32,
    /// First attitude unknown touched: 4 j.
    pub att: u32,
    /// Local coordinate of t in knot interval j.
    pub u: f32,
    /// ∂/∂q (un-normalised spline quaternion).
    pub q: [f32; 4],
    /// First calibration unknown (low 28 bits, global index) and number of derivatives (high 4).
    pub cal: u32,
    /// ∂/∂(calibration parameters of the unit), `n_cal()` of them.
    pub c: [f32; NC],
}

impl ScanRow {
    /// Sets the calibration part: first global unknown and derivatives.
    pub fn set_cal(&mut self, first: usize, d: &[f64]) {
        debug_assert!(first <= MAX_GLOBAL_UNKNOWNS && d.len() <= NC);
        self.cal = first as u32 | ((d.len() as u32) << CAL_INDEX_BITS);
        for (k, v) in d.iter().enumerate() {
            self.c[k] = *v as f32;
        }
    }

    #[inline(always)]
    pub fn cal_first(&self) -> usize {
        (self.cal & CAL_INDEX_MASK) as usize
    }

    #[inline(always)]
    pub fn n_cal(&self) -> usize {
        (self.cal >> CAL_INDEX_BITS) as usize
    }
}

impl GlobalPart for ScanRow {
    #[inline(always)]
    fn dot(&self, x: &[f64]) -> f64 {
        let b = cubic_basis(self.u);
        let a = self.att as usize;
        let xa: &[f64; 16] = x[a..a + 16].try_into().expect("attitude window");
        let q = self.q.map(|v| v as f64);
        let mut s = 0.0;
        for m in 0..4 {
            let mut t = 0.0;
            for k in 0..4 {
                t += q[k] * xa[4 * m + k];
            }
            s += b[m] * t;
        }
        let c0 = self.cal_first();
        for k in 0..self.n_cal() {
            s += self.c[k] as f64 * x[c0 + k];
        }
        s
    }

    #[inline(always)]
    fn axpy(&self, s: f64, y: &mut [f64]) {
        let b = cubic_basis(self.u);
        let a = self.att as usize;
        let ya: &mut [f64; 16] = (&mut y[a..a + 16]).try_into().expect("attitude window");
        let q = self.q.map(|v| v as f64 * s);
        for m in 0..4 {
            for k in 0..4 {
                ya[4 * m + k] += b[m] * q[k];
            }
        }
        let c0 = self.cal_first();
        for k in 0..self.n_cal() {
            y[c0 + k] += self.c[k] as f64 * s;
        }
    }

    #[inline(always)]
    fn dot_axpy(&self, x: &[f64], y: &mut [f64], f: impl FnOnce(f64) -> f64) {
        let b = cubic_basis(self.u);
        let a = self.att as usize;
        let c0 = self.cal_first();
        let nc = self.n_cal();
        let q = self.q.map(|v| v as f64);
        let xa: &[f64; 16] = x[a..a + 16].try_into().expect("attitude window");
        let mut s = 0.0;
        for m in 0..4 {
            let mut t = 0.0;
            for k in 0..4 {
                t += q[k] * xa[4 * m + k];
            }
            s += b[m] * t;
        }
        for k in 0..nc {
            s += self.c[k] as f64 * x[c0 + k];
        }
        let v = f(s);
        let ya: &mut [f64; 16] = (&mut y[a..a + 16]).try_into().expect("attitude window");
        for m in 0..4 {
            let bv = b[m] * v;
            for k in 0..4 {
                ya[4 * m + k] += bv * q[k];
            }
        }
        for k in 0..nc {
            y[c0 + k] += self.c[k] as f64 * v;
        }
    }

    fn segments(&self, f: &mut dyn FnMut(usize, &[f64])) {
        let b = cubic_basis(self.u);
        let mut att = [0.0; 16];
        for m in 0..4 {
            for k in 0..4 {
                att[4 * m + k] = b[m] * self.q[k] as f64;
            }
        }
        f(self.att as usize, &att);
        let n = self.n_cal();
        if n > 0 {
            let c: [f64; NC] = self.c.map(|v| v as f64);
            f(self.cal_first(), &c[..n]);
        }
    }
}

impl DesignRow<NS> for ScanRow {
    #[inline(always)]
    fn src(&self) -> &[f32; NS] {
        &self.src
    }
    #[inline(always)]
    fn residual(&self) -> f32 {
        self.res
    }
    fn scale(&mut self, s: f32) {
        self.src.iter_mut().for_each(|v| *v *= s);
        self.res *= s;
        self.q.iter_mut().for_each(|v| *v *= s);
        self.c.iter_mut().for_each(|v| *v *= s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_is_72_bytes() {
        assert_eq!(std::mem::size_of::<ScanRow>(), 72);
    }

    #[test]
    fn dot_axpy_and_segments_agree() {
        let mut r = ScanRow {
            src: [0.0; NS],
            res: 0.0,
            att: 8,
            u: 0.3,
            q: [0.5, -1.0, 2.0, 0.25],
            ..Default::default()
        };
        r.set_cal(40, &[1.0, 0.5, -0.2]);
        let x: Vec<f64> = (0..50).map(|i| (i as f64 * 0.7).sin()).collect();
        let mut dense = vec![0.0; 50];
        r.segments(&mut |s, c| {
            for (k, v) in c.iter().enumerate() {
                dense[s + k] += v;
            }
        });
        let d: f64 = dense.iter().zip(&x).map(|(a, b)| a * b).sum();
        assert!((r.dot(&x) - d).abs() < 1e-12);
        let mut y = vec![0.0; 50];
        r.axpy(2.0, &mut y);
        for (a, b) in y.iter().zip(&dense) {
            assert!((a - 2.0 * b).abs() < 1e-12);
        }
        assert_eq!((r.cal_first(), r.n_cal()), (40, 3));
    }
}
