//! Small linear-algebra kernels shared by simulators and solvers: banded Cholesky for the
//! attitude normal matrix (bandwidth fixed by the B-spline order) and dense Cholesky for
//! the small per-source and per-calibration-unit blocks. Large dense work uses faer.

/// Symmetric positive-definite banded matrix, lower band storage:
/// `a[i*(kd+1) + d]` holds A[i][i−d] for d = 0..=kd.
#[derive(Clone, Debug)]
pub struct BandedSpd {
    pub n: usize,
    pub kd: usize,
    pub a: Vec<f64>,
    factored: bool,
}

/// A matrix that is not positive definite: the pivot index where Cholesky broke down.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("matrix not positive definite at pivot {0}")]
pub struct NotPositiveDefinite(pub usize);

impl BandedSpd {
    pub fn zeros(n: usize, kd: usize) -> Self {
        BandedSpd {
            n,
            kd,
            a: vec![0.0; n * (kd + 1)],
            factored: false,
        }
    }

    /// Adds v to A[i][j] (i ≥ j, i − j ≤ kd).
    #[inline]
    pub fn add(&mut self, i: usize, j: usize, v: f64) {
        debug_assert!(i >= j && i - j <= self.kd);
        self.a[i * (self.kd + 1) + (i - j)] += v;
    }

    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        let (i, j) = if i >= j { (i, j) } else { (j, i) };
        if i - j > self.kd {
            0.0
        } else {
            self.a[i * (self.kd + 1) + (i - j)]
        }
    }

    /// Adds another matrix of the same shape (reduction of per-thread accumulators).
    pub fn add_assign(&mut self, other: &BandedSpd) {
        for (x, y) in self.a.iter_mut().zip(&other.a) {
            *x += y;
        }
    }

    /// y = A x (unfactored matrix).
    pub fn mul_vec(&self, x: &[f64], y: &mut [f64]) {
        assert!(!self.factored);
        y.iter_mut().for_each(|v| *v = 0.0);
        let w = self.kd + 1;
        for i in 0..self.n {
            for d in 0..=self.kd.min(i) {
                let v = self.a[i * w + d];
                let j = i - d;
                y[i] += v * x[j];
                if d > 0 {
                    y[j] += v * x[i];
                }
            }
        }
    }

    /// In-place Cholesky factorisation A = L Lᵀ (LAPACK dpbtrf, lower, unblocked).
    pub fn factor(&mut self) -> Result<(), NotPositiveDefinite> {
        let w = self.kd + 1;
        for j in 0..self.n {
            let mut d = self.a[j * w];
            for k in 1..=self.kd.min(j) {
                let l = self.a[j * w + k];
                d -= l * l;
            }
            if d.is_nan() || d <= 0.0 {
                return Err(NotPositiveDefinite(j));
            }
            let d = d.sqrt();
            self.a[j * w] = d;
            for i in j + 1..(j + w).min(self.n) {
                // L[i][j] = (A[i][j] − Σ_k L[i][k] L[j][k]) / L[j][j]
                let mut s = self.a[i * w + (i - j)];
                let kmin = i.saturating_sub(self.kd);
                for k in kmin..j {
                    s -= self.a[i * w + (i - k)] * self.a[j * w + (j - k)];
                }
                self.a[i * w + (i - j)] = s / d;
            }
        }
        self.factored = true;
        Ok(())
    }

    /// Solves A x = b with the factor, overwriting b.
    #[allow(clippy::needless_range_loop)]
    pub fn solve_in_place(&self, b: &mut [f64]) {
        assert!(self.factored);
        let w = self.kd + 1;
        for i in 0..self.n {
            let mut s = b[i];
            for k in i.saturating_sub(self.kd)..i {
                s -= self.a[i * w + (i - k)] * b[k];
            }
            b[i] = s / self.a[i * w];
        }
        for i in (0..self.n).rev() {
            let mut s = b[i];
            for k in i + 1..(i + w).min(self.n) {
                s -= self.a[k * w + (k - i)] * b[k];
            }
            b[i] = s / self.a[i * w];
        }
    }
}

/// Dense symmetric positive-definite solve of a small system (row-major n×n), in place:
/// on return `a` holds the Cholesky factor and `b` the solution.
pub fn cholesky_solve(a: &mut [f64], b: &mut [f64], n: usize) -> Result<(), NotPositiveDefinite> {
    cholesky_factor(a, n)?;
    cholesky_solve_factored(a, b, n);
    Ok(())
}

/// In-place dense Cholesky (lower triangle of row-major `a`).
pub fn cholesky_factor(a: &mut [f64], n: usize) -> Result<(), NotPositiveDefinite> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d.is_nan() || d <= 0.0 {
            return Err(NotPositiveDefinite(j));
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    Ok(())
}

/// Solves with a factor from [`cholesky_factor`].
pub fn cholesky_solve_factored(l: &[f64], b: &mut [f64], n: usize) {
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * n + k] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= l[k * n + i] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
}

/// Inverse of a small SPD matrix given its Cholesky factor (row-major n×n output).
pub fn cholesky_inverse(l: &[f64], n: usize, inv: &mut [f64]) {
    let mut col = [0.0; 16];
    assert!(n <= 16);
    for j in 0..n {
        col[..n].iter_mut().for_each(|v| *v = 0.0);
        col[j] = 1.0;
        cholesky_solve_factored(l, &mut col[..n], n);
        for i in 0..n {
            inv[i * n + j] = col[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banded_matches_dense() {
        let n = 40;
        let kd = 5;
        let mut band = BandedSpd::zeros(n, kd);
        let mut dense = vec![0.0; n * n];
        for i in 0..n {
            for j in i.saturating_sub(kd)..=i {
                let v = if i == j {
                    10.0 + i as f64 * 0.1
                } else {
                    ((i * 31 + j * 17) % 7) as f64 * 0.2 - 0.6
                };
                band.add(i, j, v);
                dense[i * n + j] = v;
                dense[j * n + i] = v;
            }
        }
        let b: Vec<f64> = (0..n).map(|i| (i as f64).sin()).collect();
        let mut y = vec![0.0; n];
        band.mul_vec(&b, &mut y);
        let mut x = y.clone();
        band.factor().unwrap();
        band.solve_in_place(&mut x);
        for i in 0..n {
            assert!((x[i] - b[i]).abs() < 1e-12);
        }
        let mut xd = y.clone();
        cholesky_solve(&mut dense, &mut xd, n).unwrap();
        for i in 0..n {
            assert!((xd[i] - b[i]).abs() < 1e-12);
        }
    }
}
