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
//!
//! The pass kernels (`DesignRow::normal_row` etc.) work in four f64 lanes. With
//! a = (a_s,0..3), c = (c_0..3), q = (∂/∂q_k), B_m = B_m(u) and the lane-wise products:
//!   T = (B₀P₀ + B₁P₁) + (B₂P₂ + B₃P₃)   (P_m: the four unknowns q_k of spline coefficient j+m),
//!   aᵀp = Σ_lanes(a⊙p_s + c⊙p_c + q⊙T) + c₄p_c,4 + a₄p_s,4,
//! and the update acc_m += B_m (v q), acc_c += v c, y_s += v a_s — one reduction over lanes
//! per row, every a·b + c a fused multiply–add. In the passes' AVX2 + FMA compilation
//! (`astrosolve_core::design`) they are written with intrinsics, one instruction per four
//! lanes, and otherwise lane by lane with `f64::mul_add`: the same operations in the same
//! order, each rounded once, hence the same bits on every machine (tested).

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

/// Four f64 lanes; the helpers below are written lane by lane in one fixed order, which the
/// AVX2 + FMA compilation of the passes does with single vector instructions (the same bits).
type F4 = [f64; 4];

#[inline(always)]
fn add4(a: F4, b: F4) -> F4 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]
}

#[inline(always)]
fn mul4(a: F4, b: F4) -> F4 {
    [a[0] * b[0], a[1] * b[1], a[2] * b[2], a[3] * b[3]]
}

/// a ⊙ b + c, each lane rounded once.
#[inline(always)]
fn fma4(a: F4, b: F4, c: F4) -> F4 {
    [
        a[0].mul_add(b[0], c[0]),
        a[1].mul_add(b[1], c[1]),
        a[2].mul_add(b[2], c[2]),
        a[3].mul_add(b[3], c[3]),
    ]
}

#[inline(always)]
fn splat4(v: f64) -> F4 {
    [v; 4]
}

/// a₀ + a₁ + a₂ + a₃ summed as (a₀ + a₂) + (a₁ + a₃): a vector reduced by halves.
#[inline(always)]
fn hsum4(a: F4) -> f64 {
    (a[0] + a[2]) + (a[1] + a[3])
}

#[inline(always)]
fn load4(x: &[f64]) -> F4 {
    [x[0], x[1], x[2], x[3]]
}

#[inline(always)]
fn widen4(x: &[f32]) -> F4 {
    [x[0] as f64, x[1] as f64, x[2] as f64, x[3] as f64]
}

/// Horner coefficients of the uniform cubic B-spline basis, highest power first:
/// B₀ = (1 − u)³/6, B₁ = (3u³ − 6u² + 4)/6, B₂ = (−3u³ + 3u² + 3u + 1)/6, B₃ = u³/6.
const BASIS: [F4; 4] = [
    [-1.0 / 6.0, 0.5, -0.5, 1.0 / 6.0],
    [0.5, -1.0, 0.5, 0.0],
    [-0.5, 0.0, 0.5, 0.0],
    [1.0 / 6.0, 2.0 / 3.0, 1.0 / 6.0, 0.0],
];

/// The four uniform cubic B-spline values at u ∈ [0, 1] (f32 in, f64 out) on four lanes,
/// each polynomial in Estrin's form (C₃u + C₂)u² + (C₁u + C₀) of fused multiply–adds
/// ([`BASIS`]): two steps of latency instead of Horner's three.
#[inline(always)]
pub fn cubic_basis(u: f32) -> [f64; 4] {
    let u = u as f64;
    let uu = splat4(u);
    let hi = fma4(BASIS[0], uu, BASIS[1]);
    let lo = fma4(BASIS[2], uu, BASIS[3]);
    fma4(hi, splat4(u * u), lo)
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
        for (k, c) in self.c.iter_mut().enumerate() {
            *c = d.get(k).map_or(0.0, |&v| v as f32);
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

/// The attitude coefficients of a row, B_m ∂/∂q_k, as four lanes (k) per basis function m.
type Coef = [F4; 4];

impl ScanRow {
    /// B_m(u) ∂/∂q_k (the assembly's and the plain products' form of the attitude part).
    #[inline(always)]
    fn coef(&self) -> Coef {
        let b = cubic_basis(self.u);
        let q = widen4(&self.q);
        [
            mul4(splat4(b[0]), q),
            mul4(splat4(b[1]), q),
            mul4(splat4(b[2]), q),
            mul4(splat4(b[3]), q),
        ]
    }

    /// a_gᵀ x: attitude Σ_m coef_m ⊙ x_m summed lane-wise in m, then over the lanes
    /// ([`hsum4`]); plus the calibration part.
    #[inline(always)]
    fn global_dot(&self, coef: &Coef, x: &[f64]) -> f64 {
        let a = self.att as usize;
        let xa = &x[a..a + 16];
        let mut t = mul4(coef[0], load4(&xa[0..4]));
        t = add4(t, mul4(coef[1], load4(&xa[4..8])));
        t = add4(t, mul4(coef[2], load4(&xa[8..12])));
        t = add4(t, mul4(coef[3], load4(&xa[12..16])));
        hsum4(t) + self.cal_dot(x)
    }

    /// Σ_k c_k x_{c₀+k} (the coefficients past `n_cal` are zero, [`ScanRow::set_cal`]).
    #[inline(always)]
    fn cal_dot(&self, x: &[f64]) -> f64 {
        let c0 = self.cal_first();
        let n = self.n_cal();
        let mut s = 0.0;
        for k in 0..n {
            s += self.c[k] as f64 * x[c0 + k];
        }
        s
    }

    /// y += v a_g.
    #[inline(always)]
    fn global_axpy(&self, coef: &Coef, v: f64, y: &mut [f64]) {
        let a = self.att as usize;
        let ya = &mut y[a..a + 16];
        let vv = splat4(v);
        for m in 0..4 {
            let w = &mut ya[4 * m..4 * m + 4];
            let r = add4(load4(w), mul4(coef[m], vv));
            w.copy_from_slice(&r);
        }
        let c0 = self.cal_first();
        let n = self.n_cal();
        for (yk, ck) in y[c0..c0 + n].iter_mut().zip(&self.c) {
            *yk += *ck as f64 * v;
        }
    }

    /// The pass form of a_lᵀ p (module documentation): one lane reduction.
    #[inline(always)]
    fn pass_dot(&self, b: F4, ps: &[f64; NS], pg: &[f64]) -> f64 {
        let a = self.att as usize;
        let p = &pg[a..a + 16];
        let t01 = fma4(
            splat4(b[1]),
            load4(&p[4..8]),
            mul4(splat4(b[0]), load4(&p[0..4])),
        );
        let t23 = fma4(
            splat4(b[3]),
            load4(&p[12..16]),
            mul4(splat4(b[2]), load4(&p[8..12])),
        );
        let t = mul4(widen4(&self.q), add4(t01, t23));
        let c0 = self.cal_first();
        let n = self.n_cal();
        let xc: F4 = match pg.get(c0..c0 + 4) {
            Some(w) => load4(w),
            None => std::array::from_fn(|k| if k < n { pg[c0 + k] } else { 0.0 }),
        };
        let s = fma4(
            widen4(&self.src[..4]),
            load4(ps),
            fma4(widen4(&self.c[..4]), xc, t),
        );
        let mut v = hsum4(s);
        if n > 4 {
            v = (self.c[4] as f64).mul_add(pg[c0 + 4], v);
        }
        (self.src[4] as f64).mul_add(ps[4], v)
    }

    /// The pass form of y_s += v a_s, acc += v a_g (module documentation).
    #[inline(always)]
    fn pass_axpy(&self, b: F4, v: f64, ys: &mut [f64; NS], acc: &mut [f64]) {
        let vv = splat4(v);
        let y4 = fma4(widen4(&self.src[..4]), vv, load4(ys));
        ys[..4].copy_from_slice(&y4);
        ys[4] = (self.src[4] as f64).mul_add(v, ys[4]);
        let vq = mul4(widen4(&self.q), vv);
        let a = self.att as usize;
        let ya = &mut acc[a..a + 16];
        for m in 0..4 {
            let w = &mut ya[4 * m..4 * m + 4];
            let r = fma4(splat4(b[m]), vq, load4(w));
            w.copy_from_slice(&r);
        }
        let c0 = self.cal_first();
        let n = self.n_cal();
        match acc.get_mut(c0..c0 + 4) {
            // the coefficients past n are zero: those lanes add nothing
            Some(w) => {
                let r = fma4(widen4(&self.c[..4]), vv, load4(w));
                w.copy_from_slice(&r);
                if n > 4 {
                    acc[c0 + 4] = (self.c[4] as f64).mul_add(v, acc[c0 + 4]);
                }
            }
            None => {
                for k in 0..n {
                    acc[c0 + k] = (self.c[k] as f64).mul_add(v, acc[c0 + k]);
                }
            }
        }
    }
}

impl GlobalPart for ScanRow {
    #[inline(always)]
    fn dot(&self, x: &[f64]) -> f64 {
        self.global_dot(&self.coef(), x)
    }

    #[inline(always)]
    fn axpy(&self, s: f64, y: &mut [f64]) {
        self.global_axpy(&self.coef(), s, y);
    }

    #[inline(always)]
    fn dot_axpy(&self, x: &[f64], y: &mut [f64], f: impl FnOnce(f64) -> f64) {
        let coef = self.coef();
        let v = f(self.global_dot(&coef, x));
        self.global_axpy(&coef, v, y);
    }

    fn segments(&self, f: &mut dyn FnMut(usize, &[f64])) {
        let coef = self.coef();
        f(self.att as usize, coef.as_flattened());
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

    #[inline(always)]
    fn normal_row<const SIMD: bool>(
        &self,
        ps: &[f64; NS],
        pg: &[f64],
        ys: &mut [f64; NS],
        acc: &mut [f64],
    ) {
        #[cfg(target_arch = "x86_64")]
        if SIMD {
            // SAFETY: SIMD is true only inside the AVX2 + FMA compilation of the passes
            unsafe { avx::normal_row(self, ps, pg, ys, acc) };
            return;
        }
        let b = cubic_basis(self.u);
        let v = self.pass_dot(b, ps, pg);
        self.pass_axpy(b, v, ys, acc);
    }

    #[inline(always)]
    fn product_row<const SIMD: bool>(&self, ps: &[f64; NS], pg: &[f64]) -> f64 {
        #[cfg(target_arch = "x86_64")]
        if SIMD {
            // SAFETY: as in normal_row
            return unsafe { avx::product_row(self, ps, pg) };
        }
        self.pass_dot(cubic_basis(self.u), ps, pg)
    }

    #[inline(always)]
    fn transpose_row<const SIMD: bool>(&self, s: f64, ys: &mut [f64; NS], acc: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if SIMD {
            // SAFETY: as in normal_row
            unsafe { avx::transpose_row(self, s, ys, acc) };
            return;
        }
        self.pass_axpy(cubic_basis(self.u), s, ys, acc);
    }

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
        #[cfg(target_arch = "x86_64")]
        if SIMD {
            // SAFETY: as in normal_row
            return unsafe { avx::bidiag_row(self, ps, pg, c, u, ys, acc) };
        }
        let b = cubic_basis(self.u);
        let w = (-c).mul_add(*u, self.pass_dot(b, ps, pg));
        *u = w;
        self.pass_axpy(b, w, ys, acc);
        w
    }
}

/// The row kernels with AVX2 + FMA intrinsics: operation for operation the portable
/// `pass_dot` / `pass_axpy` above, one 256-bit instruction per four lanes — the same bits.
/// Called only inside the passes' AVX2 + FMA compilation (`astrosolve_core::design`), where
/// these `#[inline(always)]` bodies are inlined and compiled with both features enabled.
#[cfg(target_arch = "x86_64")]
mod avx {
    use super::{ScanRow, BASIS, NS};
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn hsum(v: __m256d) -> f64 {
        unsafe {
            let s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
            _mm_cvtsd_f64(s) + _mm_cvtsd_f64(_mm_unpackhi_pd(s, s))
        }
    }

    #[inline(always)]
    unsafe fn ld(c: &[f64; 4]) -> __m256d {
        unsafe { _mm256_loadu_pd(c.as_ptr()) }
    }

    /// [`super::cubic_basis`].
    #[inline(always)]
    unsafe fn basis(r: &ScanRow) -> __m256d {
        unsafe {
            let u = r.u as f64;
            let uu = _mm256_set1_pd(u);
            let hi = _mm256_fmadd_pd(ld(&BASIS[0]), uu, ld(&BASIS[1]));
            let lo = _mm256_fmadd_pd(ld(&BASIS[2]), uu, ld(&BASIS[3]));
            _mm256_fmadd_pd(hi, _mm256_set1_pd(u * u), lo)
        }
    }

    /// B_m broadcast to four lanes.
    #[inline(always)]
    unsafe fn bm(b: __m256d) -> [__m256d; 4] {
        unsafe {
            [
                _mm256_permute4x64_pd::<0x00>(b),
                _mm256_permute4x64_pd::<0x55>(b),
                _mm256_permute4x64_pd::<0xAA>(b),
                _mm256_permute4x64_pd::<0xFF>(b),
            ]
        }
    }

    #[inline(always)]
    unsafe fn widen(x: &[f32]) -> __m256d {
        unsafe { _mm256_cvtps_pd(_mm_loadu_ps(x[..4].as_ptr())) }
    }

    /// [`super::ScanRow::pass_dot`].
    #[inline(always)]
    unsafe fn pass_dot(r: &ScanRow, b: &[__m256d; 4], ps: &[f64; NS], pg: &[f64]) -> f64 {
        unsafe {
            let a = r.att as usize;
            let p = pg[a..a + 16].as_ptr();
            let t01 = _mm256_fmadd_pd(
                b[1],
                _mm256_loadu_pd(p.add(4)),
                _mm256_mul_pd(b[0], _mm256_loadu_pd(p)),
            );
            let t23 = _mm256_fmadd_pd(
                b[3],
                _mm256_loadu_pd(p.add(12)),
                _mm256_mul_pd(b[2], _mm256_loadu_pd(p.add(8))),
            );
            let t = _mm256_mul_pd(widen(&r.q), _mm256_add_pd(t01, t23));
            let c0 = r.cal_first();
            let n = r.n_cal();
            let xc = match pg.get(c0..c0 + 4) {
                Some(w) => _mm256_loadu_pd(w.as_ptr()),
                None => {
                    let v: [f64; 4] = std::array::from_fn(|k| if k < n { pg[c0 + k] } else { 0.0 });
                    _mm256_loadu_pd(v.as_ptr())
                }
            };
            let s = _mm256_fmadd_pd(
                widen(&r.src),
                _mm256_loadu_pd(ps.as_ptr()),
                _mm256_fmadd_pd(widen(&r.c), xc, t),
            );
            let mut v = hsum(s);
            if n > 4 {
                v = (r.c[4] as f64).mul_add(pg[c0 + 4], v);
            }
            (r.src[4] as f64).mul_add(ps[4], v)
        }
    }

    /// [`super::ScanRow::pass_axpy`].
    #[inline(always)]
    unsafe fn pass_axpy(
        r: &ScanRow,
        b: &[__m256d; 4],
        v: f64,
        ys: &mut [f64; NS],
        acc: &mut [f64],
    ) {
        unsafe {
            let vv = _mm256_set1_pd(v);
            let py = ys.as_mut_ptr();
            _mm256_storeu_pd(py, _mm256_fmadd_pd(widen(&r.src), vv, _mm256_loadu_pd(py)));
            ys[4] = (r.src[4] as f64).mul_add(v, ys[4]);
            let vq = _mm256_mul_pd(widen(&r.q), vv);
            let a = r.att as usize;
            let p = acc[a..a + 16].as_mut_ptr();
            for (m, bm) in b.iter().enumerate() {
                let pm = p.add(4 * m);
                _mm256_storeu_pd(pm, _mm256_fmadd_pd(*bm, vq, _mm256_loadu_pd(pm)));
            }
            let c0 = r.cal_first();
            let n = r.n_cal();
            match acc.get_mut(c0..c0 + 4) {
                Some(w) => {
                    let pc = w.as_mut_ptr();
                    _mm256_storeu_pd(pc, _mm256_fmadd_pd(widen(&r.c), vv, _mm256_loadu_pd(pc)));
                    if n > 4 {
                        acc[c0 + 4] = (r.c[4] as f64).mul_add(v, acc[c0 + 4]);
                    }
                }
                None => {
                    for k in 0..n {
                        acc[c0 + k] = (r.c[k] as f64).mul_add(v, acc[c0 + k]);
                    }
                }
            }
        }
    }

    #[inline(always)]
    pub unsafe fn normal_row(
        r: &ScanRow,
        ps: &[f64; NS],
        pg: &[f64],
        ys: &mut [f64; NS],
        acc: &mut [f64],
    ) {
        unsafe {
            let b = bm(basis(r));
            let v = pass_dot(r, &b, ps, pg);
            pass_axpy(r, &b, v, ys, acc);
        }
    }

    #[inline(always)]
    pub unsafe fn product_row(r: &ScanRow, ps: &[f64; NS], pg: &[f64]) -> f64 {
        unsafe { pass_dot(r, &bm(basis(r)), ps, pg) }
    }

    #[inline(always)]
    pub unsafe fn transpose_row(r: &ScanRow, s: f64, ys: &mut [f64; NS], acc: &mut [f64]) {
        unsafe { pass_axpy(r, &bm(basis(r)), s, ys, acc) }
    }

    #[inline(always)]
    pub unsafe fn bidiag_row(
        r: &ScanRow,
        ps: &[f64; NS],
        pg: &[f64],
        c: f64,
        u: &mut f64,
        ys: &mut [f64; NS],
        acc: &mut [f64],
    ) -> f64 {
        unsafe {
            let b = bm(basis(r));
            let w = (-c).mul_add(*u, pass_dot(r, &b, ps, pg));
            *u = w;
            pass_axpy(r, &b, w, ys, acc);
            w
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_is_72_bytes() {
        assert_eq!(std::mem::size_of::<ScanRow>(), 72);
    }

    /// The passes' AVX2 compilation (intrinsics) and the portable one give the same bits:
    /// random rows, calibration parts of 0–5 derivatives, some at the end of the unknowns.
    /// (Where the CPU has no AVX2 both runs are portable and the test is void.)
    #[test]
    fn avx2_and_portable_passes_give_the_same_bits() {
        use astrosolve_core::design::{
            bidiag_rows, normal_rows, product_rows, set_simd, transpose_rows,
        };
        let mut seed = 7u64;
        let mut rnd = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        let ng = 200;
        let rows: Vec<ScanRow> = (0..300)
            .map(|l| {
                let mut r = ScanRow {
                    src: std::array::from_fn(|_| (rnd() * 1e3) as f32),
                    res: rnd() as f32,
                    att: 4 * ((rnd() + 0.5) * 30.0) as u32,
                    u: (rnd() + 0.5) as f32,
                    q: std::array::from_fn(|_| (rnd() * 50.0) as f32),
                    ..Default::default()
                };
                let n = l % 6;
                let first = if l % 7 == 0 { ng - n } else { 140 + (l % 50) };
                let d: Vec<f64> = (0..n).map(|_| rnd() * 10.0).collect();
                r.set_cal(first, &d);
                r
            })
            .collect();
        let ps: [f64; NS] = std::array::from_fn(|_| rnd());
        let pg: Vec<f64> = (0..ng).map(|_| rnd()).collect();
        let u0: Vec<f64> = (0..rows.len()).map(|_| rnd()).collect();
        let run = |simd: bool| {
            set_simd(simd);
            let mut out: Vec<f64> = Vec::new();
            let (mut ys, mut acc) = ([0.0; NS], vec![0.0; ng]);
            normal_rows(&rows, &ps, &pg, &mut ys, &mut acc);
            out.extend(ys.iter().chain(&acc));
            let mut u = vec![0.0; rows.len()];
            product_rows(&rows, &ps, &pg, &mut u);
            out.extend(&u);
            let (mut ys, mut acc) = ([0.0; NS], vec![0.0; ng]);
            transpose_rows(&rows, &u0, &mut ys, &mut acc);
            out.extend(ys.iter().chain(&acc));
            let (mut ys, mut acc, mut u) = ([0.0; NS], vec![0.0; ng], u0.clone());
            let ss = bidiag_rows(&rows, &ps, &pg, 0.7, &mut u, &mut ys, &mut acc);
            out.extend(ys.iter().chain(&acc).chain(&u).chain([&ss]));
            set_simd(true);
            out.iter().map(|v| v.to_bits()).collect::<Vec<u64>>()
        };
        let portable = run(false);
        assert_eq!(run(true), portable);
        // and the portable batch equals the rows' own dot and axpy (as the assembly uses)
        let mut u = vec![0.0; rows.len()];
        set_simd(false);
        product_rows(&rows, &ps, &pg, &mut u);
        set_simd(true);
        for (r, ul) in rows.iter().zip(&u) {
            let s: f64 = r.src.iter().zip(&ps).map(|(a, p)| *a as f64 * p).sum();
            assert!((r.dot(&pg) + s - ul).abs() <= 1e-9 * (1.0 + ul.abs()));
        }
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
