//! Design equations: one whitened row per measurement, grouped by source.
//!
//! A row l of source s(l) is the linearised observation equation divided by its standard
//! uncertainty (and multiplied by the square root of its robust weight):
//!   √w_l (a_l,sᵀ Δx_s + a_l,gᵀ Δg) = √w_l r_l,   w_l = f_l / (σ_l² + ε_s²) · σ₀²,
//! with r_l = observed − computed, f_l the robust down-weighting factor and ε_s the source's
//! excess noise; σ₀ = [`SIGMA_UNIT`] keeps the whitened values of order one.
//! The source part a_l,s has NS values; the global part a_l,g is the instrument's business
//! ([`GlobalPart`]): a B-spline attitude row stores four basis values and ∂/∂q instead of
//! sixteen coefficients, a pointed row its exposure and detector position. Rows are kept in
//! f32: they only steer the linear solves, residuals are recomputed in f64 by every outer
//! iteration, so the converged solution is exact.
//!
//! The passes visit the rows of one source at a time through [`normal_rows`] (N p),
//! [`product_rows`] (A x), [`transpose_rows`] (Aᵀu) and [`bidiag_rows`] (LSQR's fused step);
//! each is compiled twice, portable and with AVX2 + FMA, and chosen at run time
//! ([`set_simd`]); the row types keep both to the same arithmetic (a fused multiply–add is
//! `f64::mul_add` in the one, `vfmadd` in the other, both rounded once), so the choice changes
//! speed, never a bit of the result. Every pass asks for the row [`PREFETCH_BYTES`] ahead of
//! the one in work (a cache hint, which changes no bit): on a machine whose hardware
//! prefetchers do not keep up with the row stream it made a CG iteration 2.8× faster (10⁶ AL
//! observations, 18.7 → 6.6 ns per observation).

/// The unit σ₀ (rad) in which the whitened rows are expressed: w = (σ₀/σ)².
pub const SIGMA_UNIT: f64 = 1e-9;
/// σ₀²: multiply a covariance in the solver's units by this to get rad².
pub const W_SCALE: f64 = SIGMA_UNIT * SIGMA_UNIT;

/// The global part of one design row, applied without materialising its coefficients.
pub trait GlobalPart {
    /// a_gᵀ x for the global unknowns x.
    fn dot(&self, x: &[f64]) -> f64;
    /// y += s a_g.
    fn axpy(&self, s: f64, y: &mut [f64]);
    /// Calls f(first unknown, coefficients) for each contiguous run of coefficients; each
    /// run lies inside one diagonal block of the global layout.
    fn segments(&self, f: &mut dyn FnMut(usize, &[f64]));
    /// y += f(a_gᵀx) a_g: the product and the update of one pass in one go (a row may
    /// evaluate its coefficients once for both).
    #[inline(always)]
    fn dot_axpy(&self, x: &[f64], y: &mut [f64], f: impl FnOnce(f64) -> f64)
    where
        Self: Sized,
    {
        let s = f(self.dot(x));
        self.axpy(s, y);
    }
}

/// One stored design row: its source part, its whitened residual and its global part.
///
/// The `*_row` methods are the per-row work of the passes; the batched functions below
/// ([`normal_rows`], [`product_rows`], [`transpose_rows`], [`bidiag_rows`]) run them over the
/// rows of one source, with `SIMD = true` inside a function compiled for AVX2 and FMA where
/// the CPU has them, else with `SIMD = false`. A row type may use AVX2/FMA intrinsics when
/// `SIMD` is true, but both forms must do the same IEEE operations in the same order — a
/// fused multiply–add written as `f64::mul_add` in the portable form (Rust never contracts
/// a·b + c on its own) — so that every machine and both compilations give the same bits.
pub trait DesignRow<const NS: usize>: GlobalPart + Copy + Default + Send + Sync {
    /// a_l,s (whitened).
    fn src(&self) -> &[f32; NS];
    /// The right-hand side √w r (whitened).
    fn residual(&self) -> f32;
    /// Multiplies the whole row, coefficients and residual, by s (whitening, weighting).
    fn scale(&mut self, s: f32);

    /// One row of N p: v = a_gᵀ p_g + a_sᵀ p_s, then y_s += v a_s and acc += v a_g.
    #[inline(always)]
    fn normal_row<const SIMD: bool>(
        &self,
        ps: &[f64; NS],
        pg: &[f64],
        ys: &mut [f64; NS],
        acc: &mut [f64],
    ) {
        let a = src_f64(self);
        self.dot_axpy(pg, acc, |gv| {
            let mut v = gv;
            for k in 0..NS {
                v += a[k] * ps[k];
            }
            for k in 0..NS {
                ys[k] += a[k] * v;
            }
            v
        });
    }

    /// a_lᵀ p = a_gᵀ p_g + a_sᵀ p_s.
    #[inline(always)]
    fn product_row<const SIMD: bool>(&self, ps: &[f64; NS], pg: &[f64]) -> f64 {
        let a = src_f64(self);
        let mut v = self.dot(pg);
        for k in 0..NS {
            v += a[k] * ps[k];
        }
        v
    }

    /// y_s += s a_s, acc += s a_g.
    #[inline(always)]
    fn transpose_row<const SIMD: bool>(&self, s: f64, ys: &mut [f64; NS], acc: &mut [f64]) {
        let a = src_f64(self);
        for k in 0..NS {
            ys[k] += a[k] * s;
        }
        self.axpy(s, acc);
    }

    /// LSQR's two products fused: u ← a_lᵀ p − c u, then y_s += u a_s, acc += u a_g; returns
    /// the new u.
    #[inline(always)]
    fn bidiag_row<const SIMD: bool>(
        &self,
        ps: &[f64; NS],
        pg: &[f64],
        c: f64,
        u: &mut f64,
        ys: &mut [f64; NS],
        acc: &mut [f64],
    ) -> f64 {
        let a = src_f64(self);
        let mut un = 0.0;
        self.dot_axpy(pg, acc, |gv| {
            let mut v = gv;
            for k in 0..NS {
                v += a[k] * ps[k];
            }
            let w = v - c * *u;
            for k in 0..NS {
                ys[k] += a[k] * w;
            }
            un = w;
            w
        });
        *u = un;
        un
    }
}

/// Whether the passes may use their AVX2 + FMA compilation (0: not yet decided, 1: yes, 2: no).
static SIMD_STATE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Lets the passes use their AVX2 + FMA compilation where the CPU has it (`true`, the default) or
/// keeps them on the portable one (`false`; benchmarks and the test that both give the same
/// bits). The choice changes speed only.
pub fn set_simd(enabled: bool) {
    let v = if enabled && cpu_has_avx2_fma() { 1 } else { 2 };
    SIMD_STATE.store(v, std::sync::atomic::Ordering::Relaxed);
}

fn cpu_has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// True when the passes run their AVX2 + FMA compilation.
#[inline]
pub fn simd_enabled() -> bool {
    match SIMD_STATE.load(std::sync::atomic::Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            set_simd(true);
            SIMD_STATE.load(std::sync::atomic::Ordering::Relaxed) == 1
        }
    }
}

/// Defines a batched pass over the rows of one source twice — the portable body
/// (`SIMD = false`) and the body with `SIMD = true` compiled with AVX2 and FMA enabled — and a
/// dispatcher choosing at run time.
macro_rules! batched {
    ($(#[$m:meta])* $name:ident, $avx:ident, $body:ident,
     ($($arg:ident : $ty:ty),*) -> $ret:ty $blk:block) => {
        #[inline(always)]
        fn $body<const NS: usize, R: DesignRow<NS>, const SIMD: bool>($($arg: $ty),*) -> $ret
        $blk

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn $avx<const NS: usize, R: DesignRow<NS>>($($arg: $ty),*) -> $ret {
            $body::<NS, R, true>($($arg),*)
        }

        $(#[$m])*
        #[inline]
        pub fn $name<const NS: usize, R: DesignRow<NS>>($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            if simd_enabled() {
                // SAFETY: simd_enabled() is true only where the CPU has AVX2 and FMA
                return unsafe { $avx::<NS, R>($($arg),*) };
            }
            $body::<NS, R, false>($($arg),*)
        }
    };
}

batched!(
    /// N p over the rows of one source ([`DesignRow::normal_row`]): y_s += Σ_l v_l a_l,s and
    /// acc += Σ_l v_l a_l,g with v_l = a_lᵀ p.
    normal_rows, normal_rows_avx2, normal_rows_body,
    (rows: &[R], ps: &[f64; NS], pg: &[f64], ys: &mut [f64; NS], acc: &mut [f64]) -> () {
        // a local y_s stays in registers (a store to `ys` must be kept up to date at every
        // row that may panic)
        let mut y = *ys;
        for r in rows {
            prefetch_ahead(r);
            r.normal_row::<SIMD>(ps, pg, &mut y, acc);
        }
        *ys = y;
    }
);

batched!(
    /// out_l = a_lᵀ p for the rows of one source.
    product_rows, product_rows_avx2, product_rows_body,
    (rows: &[R], ps: &[f64; NS], pg: &[f64], out: &mut [f64]) -> () {
        for (r, o) in rows.iter().zip(out.iter_mut()) {
            prefetch_ahead(r);
            *o = r.product_row::<SIMD>(ps, pg);
        }
    }
);

batched!(
    /// y_s += Σ_l u_l a_l,s and acc += Σ_l u_l a_l,g for the rows of one source.
    transpose_rows, transpose_rows_avx2, transpose_rows_body,
    (rows: &[R], u: &[f64], ys: &mut [f64; NS], acc: &mut [f64]) -> () {
        let mut y = *ys;
        for (r, &s) in rows.iter().zip(u) {
            prefetch_ahead(r);
            r.transpose_row::<SIMD>(s, &mut y, acc);
        }
        *ys = y;
    }
);

batched!(
    /// LSQR's fused products over the rows of one source ([`DesignRow::bidiag_row`]):
    /// u_l ← a_lᵀ p − c u_l, y_s += Σ u_l a_l,s, acc += Σ u_l a_l,g; returns Σ u_l² (in row
    /// order).
    bidiag_rows, bidiag_rows_avx2, bidiag_rows_body,
    (rows: &[R], ps: &[f64; NS], pg: &[f64], c: f64, u: &mut [f64], ys: &mut [f64; NS],
     acc: &mut [f64]) -> f64 {
        let mut ss = 0.0;
        let mut y = *ys;
        for (r, ui) in rows.iter().zip(u.iter_mut()) {
            prefetch_ahead(r);
            let w = r.bidiag_row::<SIMD>(ps, pg, c, ui, &mut y, acc);
            ss += w * w;
        }
        *ys = y;
        ss
    }
);

/// What the weighting needs to know of each row besides its residual.
#[derive(Clone, Copy, Debug, Default)]
pub struct RowMeta {
    /// Standard uncertainty of the measurement (rad).
    pub sigma: f64,
    /// Observation time (days), for visibility periods.
    pub t: f64,
    /// The source's primary measurement kind (AL; x and y of an image): rows of this kind
    /// determine the excess noise and are counted; the others (AC) are weighted with it.
    pub primary: bool,
}

/// All design rows of one linearisation: rows of source i are `rows[offsets[i]..offsets[i + 1]]`.
#[derive(Clone, Debug, Default)]
pub struct Design<R> {
    pub rows: Vec<R>,
    pub offsets: Vec<usize>,
}

impl<R> Design<R> {
    pub fn n_sources(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn n_rows(&self) -> usize {
        self.rows.len()
    }

    /// Rows of source i.
    #[inline]
    pub fn of_source(&self, i: usize) -> &[R] {
        &self.rows[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Resident bytes of the rows and offsets.
    pub fn bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<R>()
            + self.offsets.capacity() * std::mem::size_of::<usize>()
    }
}

/// Source part as f64.
#[inline]
pub fn src_f64<const NS: usize, R: DesignRow<NS>>(r: &R) -> [f64; NS] {
    r.src().map(|v| v as f64)
}

/// How far ahead of the row in work the passes ask for rows (bytes): ≈ 57 rows of 72 B,
/// a few hundred nanoseconds of a pass — the memory latency. Measured on the Intel machine
/// of 2026-12-05 (kernel_cycles, 5·10⁷ B of rows): none 24 ns per row, 1 KiB 8.5, 4 KiB 6.9,
/// 16 KiB 7.3 (6.2 with the rows in L2); its hardware prefetchers alone did not keep up.
pub const PREFETCH_BYTES: usize = 4096;

/// Asks the cache for the bytes [`PREFETCH_BYTES`] past row `r`: a hint, which never faults
/// and may point past the rows (the next source's rows follow in memory). It changes no bit.
#[inline(always)]
fn prefetch_ahead<R>(r: &R) {
    #[cfg(target_arch = "x86_64")]
    {
        let p = (r as *const R as *const i8).wrapping_add(PREFETCH_BYTES);
        // SAFETY: a prefetch is a hint; it never dereferences its address or faults
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}
