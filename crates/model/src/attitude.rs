//! Attitude as cubic B-splines of the four quaternion components, normalised on evaluation
//! (Lindegren et al. 2012, section 5.2.2): q(t) = ⟨Σ_k c_k B_k(t)⟩.

use crate::bspline::UniformKnots;
use crate::quat;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BSplineAttitude {
    pub knots: UniformKnots,
    /// Spline coefficients c_k = (q1, q2, q3, q4), one per basis function.
    pub coeffs: Vec<[f64; 4]>,
}

impl BSplineAttitude {
    /// Number of scalar attitude unknowns (4 per coefficient).
    pub fn n_params(&self) -> usize {
        4 * self.coeffs.len()
    }

    /// Un-normalised spline value Σ c_k B_k(t), first coefficient index and basis values.
    #[inline]
    pub fn unnormalised(&self, t: f64) -> ([f64; 4], usize, [f64; 4]) {
        let (j, b) = self.knots.basis(t);
        let mut q = [0.0; 4];
        for (m, bm) in b.iter().enumerate() {
            let c = &self.coeffs[j + m];
            for k in 0..4 {
                q[k] += bm * c[k];
            }
        }
        (q, j, b)
    }

    /// Unit attitude quaternion at time t (days from the reference epoch).
    #[inline]
    pub fn quat(&self, t: f64) -> [f64; 4] {
        quat::normalize(&self.unnormalised(t).0)
    }

    /// Applies a correction to the coefficients (4 per coefficient, component-major per knot).
    pub fn apply_update(&mut self, dx: &[f64]) {
        for (c, d) in self.coeffs.iter_mut().zip(dx.chunks_exact(4)) {
            for k in 0..4 {
                c[k] += d[k];
            }
        }
    }

    /// Least-squares fit of a spline to sampled unit quaternions (sign-continuous),
    /// used by simulators and to re-grid attitudes. Samples must span the knots.
    pub fn fit(knots: UniformKnots, times: &[f64], quats: &[[f64; 4]]) -> Self {
        let n = knots.n_coeffs();
        let mut band = crate::linalg::BandedSpd::zeros(n, 3);
        let mut rhs = vec![[0.0; 4]; n];
        for (t, q) in times.iter().zip(quats) {
            let (j, b) = knots.basis(*t);
            for a in 0..4 {
                for c in 0..=a {
                    band.add(j + a, j + c, b[a] * b[c]);
                }
                for k in 0..4 {
                    rhs[j + a][k] += b[a] * q[k];
                }
            }
        }
        for i in 0..n {
            band.add(i, i, 1e-12);
        }
        band.factor()
            .expect("attitude fit: samples do not constrain every knot");
        let mut coeffs = vec![[0.0; 4]; n];
        for k in 0..4 {
            let mut col: Vec<f64> = rhs.iter().map(|r| r[k]).collect();
            band.solve_in_place(&mut col);
            for i in 0..n {
                coeffs[i][k] = col[i];
            }
        }
        BSplineAttitude { knots, coeffs }
    }
}
