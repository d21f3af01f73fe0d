//! Small dense symmetric positive-definite solver (Cholesky), enough for the few hundred
//! unknowns of a VSH fit.

/// Failure of the Cholesky factorisation.
#[derive(Clone, Debug, PartialEq)]
pub struct NotPositiveDefinite {
    /// Column at which a non-positive pivot appeared.
    pub column: usize,
}

/// In-place Cholesky factorisation `A = L Lᵀ` of a row-major symmetric `n × n` matrix; the lower
/// triangle of `a` receives `L` (the strict upper triangle is left untouched).
///
/// A pivot below `1e-13` times the original diagonal element counts as singular.
pub fn cholesky_in_place(a: &mut [f64], n: usize) -> Result<(), NotPositiveDefinite> {
    assert_eq!(a.len(), n * n);
    for j in 0..n {
        let orig = a[j * n + j];
        let mut s = orig;
        for k in 0..j {
            s -= a[j * n + k] * a[j * n + k];
        }
        if s.is_nan() || s <= 1e-13 * orig.abs() || !s.is_finite() || orig <= 0.0 {
            return Err(NotPositiveDefinite { column: j });
        }
        let ljj = s.sqrt();
        a[j * n + j] = ljj;
        let inv = 1.0 / ljj;
        for i in j + 1..n {
            let (ri, rj) = (i * n, j * n);
            let mut s = a[ri + j];
            for k in 0..j {
                s -= a[ri + k] * a[rj + k];
            }
            a[ri + j] = s * inv;
        }
    }
    Ok(())
}

/// Solves `L Lᵀ x = b` in place given the factor from [`cholesky_in_place`].
pub fn cholesky_solve(l: &[f64], n: usize, b: &mut [f64]) {
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

/// Inverse of a symmetric positive-definite matrix from its Cholesky factor: `A⁻¹ = L⁻ᵀ L⁻¹`.
/// Returns the full symmetric inverse, row-major.
pub fn cholesky_inverse(l: &[f64], n: usize) -> Vec<f64> {
    // W = L⁻¹ (lower triangular), column by column.
    let mut w = vec![0.0; n * n];
    for c in 0..n {
        w[c * n + c] = 1.0 / l[c * n + c];
        for i in c + 1..n {
            let mut s = 0.0;
            for k in c..i {
                s -= l[i * n + k] * w[k * n + c];
            }
            w[i * n + c] = s / l[i * n + i];
        }
    }
    // A⁻¹[i][j] = Σ_k W[k][i] W[k][j], k ≥ max(i, j).
    let mut inv = vec![0.0; n * n];
    for i in 0..n {
        for j in i..n {
            let mut s = 0.0;
            for k in j..n {
                s += w[k * n + i] * w[k * n + j];
            }
            inv[i * n + j] = s;
            inv[j * n + i] = s;
        }
    }
    inv
}

/// Solution and inverse of a symmetric positive-definite system, with Jacobi (diagonal)
/// scaling for conditioning: returns `(A⁻¹ b, A⁻¹)`.
pub fn spd_solve_and_invert(
    a: &[f64],
    b: &[f64],
    n: usize,
) -> Result<(Vec<f64>, Vec<f64>), NotPositiveDefinite> {
    let mut scale = vec![0.0; n];
    for i in 0..n {
        let d = a[i * n + i];
        if d.is_nan() || d <= 0.0 || !d.is_finite() {
            return Err(NotPositiveDefinite { column: i });
        }
        scale[i] = 1.0 / d.sqrt();
    }
    let mut s = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            s[i * n + j] = a[i * n + j] * scale[i] * scale[j];
        }
    }
    cholesky_in_place(&mut s, n)?;
    let mut x: Vec<f64> = b.iter().zip(&scale).map(|(b, s)| b * s).collect();
    cholesky_solve(&s, n, &mut x);
    x.iter_mut().zip(&scale).for_each(|(x, s)| *x *= s);
    let mut inv = cholesky_inverse(&s, n);
    for i in 0..n {
        for j in 0..n {
            inv[i * n + j] *= scale[i] * scale[j];
        }
    }
    Ok((x, inv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solve_and_invert_small_spd() {
        let n = 5;
        // A = M Mᵀ + n I.
        let m: Vec<f64> = (0..n * n).map(|i| ((i * 7 % 5) as f64) - 2.0).collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let mut s = if i == j { n as f64 } else { 0.0 };
                for k in 0..n {
                    s += m[i * n + k] * m[j * n + k];
                }
                a[i * n + j] = s * (1.0 + i as f64) * (1.0 + j as f64); // uneven scales
            }
        }
        let b: Vec<f64> = (0..n).map(|i| i as f64 - 1.5).collect();
        let (x, inv) = spd_solve_and_invert(&a, &b, n).unwrap();
        for i in 0..n {
            let ax: f64 = (0..n).map(|k| a[i * n + k] * x[k]).sum();
            assert!((ax - b[i]).abs() < 1e-9);
            for j in 0..n {
                let e: f64 = (0..n).map(|k| a[i * n + k] * inv[k * n + j]).sum();
                assert!((e - if i == j { 1.0 } else { 0.0 }).abs() < 1e-9);
            }
        }
        let singular = vec![1.0, 1.0, 1.0, 1.0];
        assert!(spd_solve_and_invert(&singular, &[1.0, 1.0], 2).is_err());
    }
}
