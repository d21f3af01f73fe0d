//! Normal equations of the weighted least-squares VSH fit, accumulated source by source.
//!
//! Each source contributes two whitened observation equations `r₁·x = y₁`, `r₂·x = y₂`
//! (Cholesky whitening of its 2×2 proper-motion covariance), i.e. a rank-2 update of the
//! normal matrix `N += r₁r₁ᵀ + r₂r₂ᵀ`. Only the upper triangle is stored, packed by rows.
//! Updates are batched (a few sources at a time) so that each row of `N` is loaded once per
//! batch; the inner loop is a fused multiply–add over contiguous slices, compiled for AVX2+FMA
//! when the CPU has it (runtime detection) and portable otherwise.

/// Packed normal equations `N x = b` plus the accumulated `yᵀy` of the whitened observations.
#[derive(Clone, Debug, PartialEq)]
pub struct NormalEquations {
    /// Number of unknowns.
    pub n: usize,
    /// Upper triangle of `N`, packed by rows: row `j` holds `N[j][j..n]`.
    pub packed: Vec<f64>,
    /// Right-hand side `b = Σ (r₁ y₁ + r₂ y₂)`.
    pub rhs: Vec<f64>,
    /// `Σ (y₁² + y₂²)`.
    pub yty: f64,
    /// Number of sources accumulated.
    pub n_sources: usize,
}

impl NormalEquations {
    /// Empty system with `n` unknowns.
    pub fn zeros(n: usize) -> Self {
        NormalEquations {
            n,
            packed: vec![0.0; n * (n + 1) / 2],
            rhs: vec![0.0; n],
            yty: 0.0,
            n_sources: 0,
        }
    }

    /// Offset of row `j` in [`Self::packed`].
    #[inline]
    pub fn row_offset(&self, j: usize) -> usize {
        packed_offset(self.n, j)
    }

    /// `N[i][j]` for any `i`, `j` (symmetric access).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        let (i, j) = if i <= j { (i, j) } else { (j, i) };
        self.packed[packed_offset(self.n, i) + (j - i)]
    }

    /// Adds another system (same size) to this one.
    pub fn add_assign(&mut self, o: &NormalEquations) {
        assert_eq!(self.n, o.n);
        self.packed
            .iter_mut()
            .zip(&o.packed)
            .for_each(|(x, y)| *x += y);
        self.rhs.iter_mut().zip(&o.rhs).for_each(|(x, y)| *x += y);
        self.yty += o.yty;
        self.n_sources += o.n_sources;
    }

    /// Subtracts another system (same size) from this one.
    pub fn sub_assign(&mut self, o: &NormalEquations) {
        assert_eq!(self.n, o.n);
        self.packed
            .iter_mut()
            .zip(&o.packed)
            .for_each(|(x, y)| *x -= y);
        self.rhs.iter_mut().zip(&o.rhs).for_each(|(x, y)| *x -= y);
        self.yty -= o.yty;
        self.n_sources -= o.n_sources;
    }

    /// Full symmetric `n × n` matrix, row-major.
    pub fn to_dense(&self) -> Vec<f64> {
        let n = self.n;
        let mut m = vec![0.0; n * n];
        let mut off = 0;
        for i in 0..n {
            for j in i..n {
                let v = self.packed[off + j - i];
                m[i * n + j] = v;
                m[j * n + i] = v;
            }
            off += n - i;
        }
        m
    }
}

/// Offset of row `j` of a packed upper triangle with `n` columns: `Σ_{i<j} (n − i)`.
#[inline]
pub fn packed_offset(n: usize, j: usize) -> usize {
    j * (2 * n + 1 - j) / 2
}

/// Number of whitened rows (two per source) buffered before they are added to `N`.
pub const BATCH_ROWS: usize = 16;

/// Per-thread accumulator of normal equations. Whitened rows are buffered [`BATCH_ROWS`] at a
/// time, in two layouts (row-major and transposed), then added to a dense `np × np` matrix
/// (`np` = `n` rounded up to a multiple of 8, zero padding) by a register-blocked kernel that
/// updates 4 × 8 tiles on and above the diagonal: each tile of `N` is loaded and stored once per
/// batch and receives `BATCH_ROWS` fused multiply–adds per element. [`Self::finish`] returns
/// the packed upper triangle.
pub struct Accumulator {
    n: usize,
    np: usize,
    c: Vec<f64>,
    rows: Vec<f64>,
    rows_t: Vec<f64>,
    nrows: usize,
    rhs: Vec<f64>,
    yty: f64,
    n_sources: usize,
}

impl Accumulator {
    /// Empty accumulator for `n` unknowns.
    pub fn new(n: usize) -> Self {
        let np = n.div_ceil(8) * 8;
        Accumulator {
            n,
            np,
            c: vec![0.0; np * np],
            rows: vec![0.0; BATCH_ROWS * np],
            rows_t: vec![0.0; np * BATCH_ROWS],
            nrows: 0,
            rhs: vec![0.0; n],
            yty: 0.0,
            n_sources: 0,
        }
    }

    /// Adds one source given its two whitened design rows `r1`, `r2` (length `n`) and whitened
    /// observations `y1`, `y2`. Allocates nothing.
    #[inline]
    pub fn add_rows(&mut self, r1: &[f64], r2: &[f64], y1: f64, y2: f64) {
        let (n, np, r) = (self.n, self.np, self.nrows);
        self.rows[r * np..r * np + n].copy_from_slice(&r1[..n]);
        self.rows[(r + 1) * np..(r + 1) * np + n].copy_from_slice(&r2[..n]);
        for (k, ((&a, &b), rh)) in r1.iter().zip(r2).zip(self.rhs.iter_mut()).enumerate() {
            self.rows_t[k * BATCH_ROWS + r] = a;
            self.rows_t[k * BATCH_ROWS + r + 1] = b;
            *rh += a * y1 + b * y2;
        }
        self.yty += y1 * y1 + y2 * y2;
        self.n_sources += 1;
        self.nrows += 2;
        if self.nrows == BATCH_ROWS {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.nrows > 0 {
            tile_update(&mut self.c, &self.rows, &self.rows_t, self.nrows, self.np);
            self.nrows = 0;
        }
    }

    /// Flushes the buffer and returns the normal equations (packed upper triangle).
    pub fn finish(mut self) -> NormalEquations {
        self.flush();
        let (n, np) = (self.n, self.np);
        let mut packed = Vec::with_capacity(n * (n + 1) / 2);
        for j in 0..n {
            packed.extend_from_slice(&self.c[j * np + j..j * np + n]);
        }
        NormalEquations {
            n,
            packed,
            rhs: self.rhs,
            yty: self.yty,
            n_sources: self.n_sources,
        }
    }
}

/// `C[j][k] += Σ_{r<nrows} rows[r][j] rows[r][k]` for all `k ≥ j` (and a few `k < j` inside
/// diagonal tiles), `C` dense `np × np`, `rows` `BATCH_ROWS × np`, `rows_t` `np × BATCH_ROWS`.
pub fn tile_update(c: &mut [f64], rows: &[f64], rows_t: &[f64], nrows: usize, np: usize) {
    assert!(np % 8 == 0 && nrows <= BATCH_ROWS);
    assert!(c.len() >= np * np && rows.len() >= BATCH_ROWS * np && rows_t.len() >= np * BATCH_ROWS);
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: AVX2 and FMA are available (checked above); the asserts above guarantee
            // every access of the kernel is in bounds.
            unsafe { tile_update_avx2(c, rows, rows_t, nrows, np) };
            return;
        }
    }
    tile_update_portable(c, rows, rows_t, nrows, np);
}

/// Portable version of [`tile_update`] (also the reference in tests).
pub fn tile_update_portable(c: &mut [f64], rows: &[f64], rows_t: &[f64], nrows: usize, np: usize) {
    for j in 0..np {
        let crow = &mut c[j * np + j..(j + 1) * np];
        for r in 0..nrows {
            let a = rows_t[j * BATCH_ROWS + r];
            if a != 0.0 {
                for (x, &b) in crow.iter_mut().zip(&rows[r * np + j..(r + 1) * np]) {
                    *x += a * b;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_update_avx2(c: &mut [f64], rows: &[f64], rows_t: &[f64], nrows: usize, np: usize) {
    use std::arch::x86_64::*;
    let cp = c.as_mut_ptr();
    let bp = rows.as_ptr();
    let ap = rows_t.as_ptr();
    let mut jb = 0;
    while jb < np {
        let k0 = jb & !7;
        let mut kb = k0;
        while kb < np {
            // 4 × 8 tile of C at rows jb..jb+4, columns kb..kb+8: 8 accumulators of 4 doubles.
            let c0 = cp.add(jb * np + kb);
            let c1 = c0.add(np);
            let c2 = c1.add(np);
            let c3 = c2.add(np);
            let mut s00 = _mm256_loadu_pd(c0);
            let mut s01 = _mm256_loadu_pd(c0.add(4));
            let mut s10 = _mm256_loadu_pd(c1);
            let mut s11 = _mm256_loadu_pd(c1.add(4));
            let mut s20 = _mm256_loadu_pd(c2);
            let mut s21 = _mm256_loadu_pd(c2.add(4));
            let mut s30 = _mm256_loadu_pd(c3);
            let mut s31 = _mm256_loadu_pd(c3.add(4));
            let a_base = ap.add(jb * BATCH_ROWS);
            for r in 0..nrows {
                let b = bp.add(r * np + kb);
                let b0 = _mm256_loadu_pd(b);
                let b1 = _mm256_loadu_pd(b.add(4));
                let a0 = _mm256_broadcast_sd(&*a_base.add(r));
                let a1 = _mm256_broadcast_sd(&*a_base.add(BATCH_ROWS + r));
                let a2 = _mm256_broadcast_sd(&*a_base.add(2 * BATCH_ROWS + r));
                let a3 = _mm256_broadcast_sd(&*a_base.add(3 * BATCH_ROWS + r));
                s00 = _mm256_fmadd_pd(a0, b0, s00);
                s01 = _mm256_fmadd_pd(a0, b1, s01);
                s10 = _mm256_fmadd_pd(a1, b0, s10);
                s11 = _mm256_fmadd_pd(a1, b1, s11);
                s20 = _mm256_fmadd_pd(a2, b0, s20);
                s21 = _mm256_fmadd_pd(a2, b1, s21);
                s30 = _mm256_fmadd_pd(a3, b0, s30);
                s31 = _mm256_fmadd_pd(a3, b1, s31);
            }
            _mm256_storeu_pd(c0, s00);
            _mm256_storeu_pd(c0.add(4), s01);
            _mm256_storeu_pd(c1, s10);
            _mm256_storeu_pd(c1.add(4), s11);
            _mm256_storeu_pd(c2, s20);
            _mm256_storeu_pd(c2.add(4), s21);
            _mm256_storeu_pd(c3, s30);
            _mm256_storeu_pd(c3.add(4), s31);
            kb += 8;
        }
        jb += 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_offsets() {
        let n = 7;
        let mut off = 0;
        for j in 0..n {
            assert_eq!(packed_offset(n, j), off);
            assert_eq!(NormalEquations::zeros(n).row_offset(j), off);
            off += n - j;
        }
    }

    #[test]
    fn accumulator_matches_naive_for_both_kernels() {
        for n in [6usize, 13, 30] {
            let np = n.div_ceil(8) * 8;
            let nsrc = 11; // not a multiple of the batch: exercises the partial flush
            let row = |s: usize, q: usize, k: usize| {
                (((s * 31 + q * 17 + k * 7) % 13) as f64 - 6.0) * 0.25
            };
            let mut acc = Accumulator::new(n);
            for s in 0..nsrc {
                let r1: Vec<f64> = (0..n).map(|k| row(s, 0, k)).collect();
                let r2: Vec<f64> = (0..n).map(|k| row(s, 1, k)).collect();
                acc.add_rows(&r1, &r2, 0.5 + s as f64, -1.0);
            }
            let ne = acc.finish();
            for i in 0..n {
                for j in i..n {
                    let s: f64 = (0..nsrc)
                        .map(|s| row(s, 0, i) * row(s, 0, j) + row(s, 1, i) * row(s, 1, j))
                        .sum();
                    assert!((ne.get(i, j) - s).abs() < 1e-12, "n={n} N[{i}][{j}]");
                }
                let b: f64 = (0..nsrc)
                    .map(|s| row(s, 0, i) * (0.5 + s as f64) - row(s, 1, i))
                    .sum();
                assert!((ne.rhs[i] - b).abs() < 1e-12);
            }
            // Portable and dispatched kernels agree on the upper triangle.
            let rows: Vec<f64> = (0..BATCH_ROWS * np)
                .map(|i| ((i * 37 % 11) as f64 - 5.0) * 0.3)
                .collect();
            let mut rows_t = vec![0.0; np * BATCH_ROWS];
            for r in 0..BATCH_ROWS {
                for k in 0..np {
                    rows_t[k * BATCH_ROWS + r] = rows[r * np + k];
                }
            }
            let mut c1 = vec![0.25; np * np];
            let mut c2 = c1.clone();
            tile_update(&mut c1, &rows, &rows_t, 10, np);
            tile_update_portable(&mut c2, &rows, &rows_t, 10, np);
            for i in 0..np {
                for j in i..np {
                    assert!((c1[i * np + j] - c2[i * np + j]).abs() < 1e-12);
                }
            }
        }
    }
}
