//! Uniform cubic B-splines (Lindegren et al. 2012, section 5.2; de Boor 1978).
//!
//! Knots τ_k = t0 + k h. On [τ_j, τ_{j+1}) exactly four basis functions are non-zero,
//! those of coefficients j … j+3; with u = (t − τ_j)/h ∈ [0, 1) they are
//! (1−u)³/6, (3u³ − 6u² + 4)/6, (−3u³ + 3u² + 3u + 1)/6, u³/6.
//! A spline of `n_intervals` intervals has `n_intervals + 3` coefficients.

use serde::{Deserialize, Serialize};

/// Knot sequence of a uniform cubic B-spline.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct UniformKnots {
    /// Start of the spline (days from the reference epoch).
    pub t0: f64,
    /// Knot interval h (days).
    pub h: f64,
    /// Number of knot intervals; the spline covers [t0, t0 + n_intervals·h].
    pub n_intervals: usize,
}

impl UniformKnots {
    /// Knots covering [t_start, t_end] with an interval as close to `h` as fits exactly.
    pub fn covering(t_start: f64, t_end: f64, h: f64) -> Self {
        let span = (t_end - t_start).max(h);
        let n_intervals = (span / h).ceil().max(1.0) as usize;
        UniformKnots {
            t0: t_start,
            h: span / n_intervals as f64,
            n_intervals,
        }
    }

    /// Number of spline coefficients.
    pub fn n_coeffs(&self) -> usize {
        self.n_intervals + 3
    }

    pub fn t_end(&self) -> f64 {
        self.t0 + self.h * self.n_intervals as f64
    }

    pub fn contains(&self, t: f64) -> bool {
        t >= self.t0 && t <= self.t_end()
    }

    /// Index of the first non-zero coefficient and the four basis values at time t.
    /// Times at the very end of the span belong to the last interval.
    #[inline]
    pub fn basis(&self, t: f64) -> (usize, [f64; 4]) {
        let x = (t - self.t0) / self.h;
        let j = (x.floor().max(0.0) as usize).min(self.n_intervals - 1);
        let u = x - j as f64;
        (j, cubic_basis(u))
    }

    /// Derivative (per day) of the four basis values at time t.
    pub fn basis_derivative(&self, t: f64) -> (usize, [f64; 4]) {
        let x = (t - self.t0) / self.h;
        let j = (x.floor().max(0.0) as usize).min(self.n_intervals - 1);
        let u = x - j as f64;
        let d = [
            -0.5 * (1.0 - u) * (1.0 - u),
            (9.0 * u * u - 12.0 * u) / 6.0,
            (-9.0 * u * u + 6.0 * u + 3.0) / 6.0,
            0.5 * u * u,
        ];
        (j, d.map(|v| v / self.h))
    }
}

/// The four uniform cubic B-spline basis values at local coordinate u ∈ [0, 1].
#[inline]
pub fn cubic_basis(u: f64) -> [f64; 4] {
    let u2 = u * u;
    let u3 = u2 * u;
    let v = 1.0 - u;
    [
        v * v * v / 6.0,
        (3.0 * u3 - 6.0 * u2 + 4.0) / 6.0,
        (-3.0 * u3 + 3.0 * u2 + 3.0 * u + 1.0) / 6.0,
        u3 / 6.0,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_of_unity_and_continuity() {
        let k = UniformKnots::covering(0.0, 10.0, 1.3);
        for i in 0..1000 {
            let t = i as f64 * 0.01;
            let (_, b) = k.basis(t);
            assert!((b.iter().sum::<f64>() - 1.0).abs() < 1e-14);
        }
        // continuity of the spline of random coefficients across a knot
        let c: Vec<f64> = (0..k.n_coeffs())
            .map(|i| ((i * 7919) % 13) as f64)
            .collect();
        let eval = |t: f64| {
            let (j, b) = k.basis(t);
            (0..4).map(|m| b[m] * c[j + m]).sum::<f64>()
        };
        let tk = k.t0 + 3.0 * k.h;
        assert!((eval(tk - 1e-9) - eval(tk + 1e-9)).abs() < 1e-7);
        // derivative matches finite difference
        let t = 4.321;
        let (j, d) = k.basis_derivative(t);
        let deriv: f64 = (0..4).map(|m| d[m] * c[j + m]).sum();
        let fd = (eval(t + 1e-6) - eval(t - 1e-6)) / 2e-6;
        assert!((deriv - fd).abs() < 1e-6);
    }
}
