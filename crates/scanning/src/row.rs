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
//! The pass kernels (`DesignRow::normal_row` etc.) work in four f64 lanes: the basis as four
//! Horner polynomials, the attitude coefficients B_m ∂/∂q as four 4-vectors, the dot products
//! reduced by halves. In the passes' AVX2 compilation (`astrosolve_core::design`) they are
//! written with intrinsics, one instruction per four lanes, and otherwise lane by lane: the
//! same operations in the same order, no FMA, hence the same bits on every x86-64 machine
//! (tested). About 13 cycles per row and thread with AVX2 (perf, 2.6 GHz EPYC).

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
/// AVX2 compilation of the passes turns into single vector instructions (no FMA: the same
/// bits either way).
type F4 = [f64; 4];

#[inline(always)]
fn add4(a: F4, b: F4) -> F4 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]
}

#[inline(always)]
fn mul4(a: F4, b: F4) -> F4 {
    [a[0] * b[0], a[1] * b[1], a[2] * b[2], a[3] * b[3]]
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

/// The four uniform cubic B-spline values at u ∈ [0, 1] (f32 in, f64 out):
/// B₀ = (1 − u)³/6, B₁ = (3u³ − 6u² + 4)/6, B₂ = (−3u³ + 3u² + 3u + 1)/6, B₃ = u³/6,
/// each as a Horner polynomial with integer coefficients (exact), then × 1/6: the same
/// operations on four lanes.
#[inline(always)]
pub fn cubic_basis(u: f32) -> [f64; 4] {
    const C3: F4 = [-1.0, 3.0, -3.0, 1.0];
    const C2: F4 = [3.0, -6.0, 3.0, 0.0];
    const C1: F4 = [-3.0, 0.0, 3.0, 0.0];
    const C0: F4 = [1.0, 4.0, 1.0, 0.0];
    let u = splat4(u as f64);
    let h = add4(mul4(add4(mul4(add4(mul4(C3, u), C2), u), C1), u), C0);
    mul4(h, splat4(1.0 / 6.0))
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
    /// B_m(u) ∂/∂q_k.
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

    /// Σ_k c_k x_{c₀+k}: the first four lanes ([`hsum4`]; the coefficients past `n_cal` are
    /// zero, [`ScanRow::set_cal`]), then the fifth.
    #[inline(always)]
    fn cal_dot(&self, x: &[f64]) -> f64 {
        let c0 = self.cal_first();
        let n = self.n_cal();
        let c = widen4(&self.c[..4]);
        let xc: F4 = match x.get(c0..c0 + 4) {
            Some(w) => load4(w),
            None => std::array::from_fn(|k| if k < n { x[c0 + k] } else { 0.0 }),
        };
        let mut s = hsum4(mul4(c, xc));
        if n > 4 {
            s += self.c[4] as f64 * x[c0 + 4];
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

    /// a_sᵀ p_s as hsum4 of the first four lanes, + a₄p₄.
    #[inline(always)]
    fn src_dot(a: &[f64; NS], p: &[f64; NS]) -> f64 {
        hsum4(mul4([a[0], a[1], a[2], a[3]], [p[0], p[1], p[2], p[3]])) + a[4] * p[4]
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
            // SAFETY: SIMD is true only inside the AVX2 compilation of the passes
            unsafe { avx::normal_row(self, ps, pg, ys, acc) };
            return;
        }
        let coef = self.coef();
        let a = self.src.map(|v| v as f64);
        let v = self.global_dot(&coef, pg) + Self::src_dot(&a, ps);
        for k in 0..NS {
            ys[k] += a[k] * v;
        }
        self.global_axpy(&coef, v, acc);
    }

    #[inline(always)]
    fn product_row<const SIMD: bool>(&self, ps: &[f64; NS], pg: &[f64]) -> f64 {
        #[cfg(target_arch = "x86_64")]
        if SIMD {
            // SAFETY: as in normal_row
            return unsafe { avx::product_row(self, ps, pg) };
        }
        let a = self.src.map(|v| v as f64);
        self.dot(pg) + Self::src_dot(&a, ps)
    }

    #[inline(always)]
    fn transpose_row<const SIMD: bool>(&self, s: f64, ys: &mut [f64; NS], acc: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if SIMD {
            // SAFETY: as in normal_row
            unsafe { avx::transpose_row(self, s, ys, acc) };
            return;
        }
        for (y, a) in ys.iter_mut().zip(&self.src) {
            *y += *a as f64 * s;
        }
        self.axpy(s, acc);
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
        let coef = self.coef();
        let a = self.src.map(|v| v as f64);
        let w = (self.global_dot(&coef, pg) + Self::src_dot(&a, ps)) - c * *u;
        *u = w;
        for k in 0..NS {
            ys[k] += a[k] * w;
        }
        self.global_axpy(&coef, w, acc);
        w
    }
}

/// The row kernels with AVX2 intrinsics: operation for operation those of the portable code
/// above (the F4 helpers), one 256-bit instruction per four lanes, no FMA — the same bits.
/// Called only inside the passes' AVX2 compilation (`astrosolve_core::design`), where these
/// `#[inline(always)]` bodies are inlined and compiled with AVX2 enabled.
#[cfg(target_arch = "x86_64")]
mod avx {
    use super::{ScanRow, NS};
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn hsum(v: __m256d) -> f64 {
        unsafe {
            let s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
            _mm_cvtsd_f64(s) + _mm_cvtsd_f64(_mm_unpackhi_pd(s, s))
        }
    }

    /// [`super::ScanRow::coef`].
    #[inline(always)]
    unsafe fn coef(r: &ScanRow) -> [__m256d; 4] {
        unsafe {
            let u = _mm256_set1_pd(r.u as f64);
            let c3 = _mm256_setr_pd(-1.0, 3.0, -3.0, 1.0);
            let c2 = _mm256_setr_pd(3.0, -6.0, 3.0, 0.0);
            let c1 = _mm256_setr_pd(-3.0, 0.0, 3.0, 0.0);
            let c0 = _mm256_setr_pd(1.0, 4.0, 1.0, 0.0);
            let h = _mm256_add_pd(_mm256_mul_pd(c3, u), c2);
            let h = _mm256_add_pd(_mm256_mul_pd(h, u), c1);
            let h = _mm256_add_pd(_mm256_mul_pd(h, u), c0);
            let b = _mm256_mul_pd(h, _mm256_set1_pd(1.0 / 6.0));
            let q = _mm256_cvtps_pd(_mm_loadu_ps(r.q.as_ptr()));
            [
                _mm256_mul_pd(_mm256_permute4x64_pd::<0x00>(b), q),
                _mm256_mul_pd(_mm256_permute4x64_pd::<0x55>(b), q),
                _mm256_mul_pd(_mm256_permute4x64_pd::<0xAA>(b), q),
                _mm256_mul_pd(_mm256_permute4x64_pd::<0xFF>(b), q),
            ]
        }
    }

    /// [`super::ScanRow::global_dot`].
    #[inline(always)]
    unsafe fn global_dot(r: &ScanRow, coef: &[__m256d; 4], x: &[f64]) -> f64 {
        unsafe {
            let a = r.att as usize;
            let p = x[a..a + 16].as_ptr();
            let mut t = _mm256_mul_pd(coef[0], _mm256_loadu_pd(p));
            t = _mm256_add_pd(t, _mm256_mul_pd(coef[1], _mm256_loadu_pd(p.add(4))));
            t = _mm256_add_pd(t, _mm256_mul_pd(coef[2], _mm256_loadu_pd(p.add(8))));
            t = _mm256_add_pd(t, _mm256_mul_pd(coef[3], _mm256_loadu_pd(p.add(12))));
            hsum(t) + cal_dot(r, x)
        }
    }

    /// [`super::ScanRow::cal_dot`].
    #[inline(always)]
    unsafe fn cal_dot(r: &ScanRow, x: &[f64]) -> f64 {
        unsafe {
            let c0 = r.cal_first();
            let n = r.n_cal();
            let c = _mm256_cvtps_pd(_mm_loadu_ps(r.c.as_ptr()));
            let xc = match x.get(c0..c0 + 4) {
                Some(w) => _mm256_loadu_pd(w.as_ptr()),
                None => {
                    let v: [f64; 4] = std::array::from_fn(|k| if k < n { x[c0 + k] } else { 0.0 });
                    _mm256_loadu_pd(v.as_ptr())
                }
            };
            let mut s = hsum(_mm256_mul_pd(c, xc));
            if n > 4 {
                s += r.c[4] as f64 * x[c0 + 4];
            }
            s
        }
    }

    /// [`super::ScanRow::global_axpy`].
    #[inline(always)]
    unsafe fn global_axpy(r: &ScanRow, coef: &[__m256d; 4], v: f64, y: &mut [f64]) {
        unsafe {
            let a = r.att as usize;
            let p = y[a..a + 16].as_mut_ptr();
            let vv = _mm256_set1_pd(v);
            for (m, cm) in coef.iter().enumerate() {
                let pm = p.add(4 * m);
                _mm256_storeu_pd(
                    pm,
                    _mm256_add_pd(_mm256_loadu_pd(pm), _mm256_mul_pd(*cm, vv)),
                );
            }
            let c0 = r.cal_first();
            let n = r.n_cal();
            let yc = &mut y[c0..c0 + n];
            let mut k = 0;
            if n >= 4 {
                let c = _mm256_cvtps_pd(_mm_loadu_ps(r.c.as_ptr()));
                let pc = yc.as_mut_ptr();
                _mm256_storeu_pd(pc, _mm256_add_pd(_mm256_loadu_pd(pc), _mm256_mul_pd(c, vv)));
                k = 4;
            }
            for (y, c) in yc[k..].iter_mut().zip(&r.c[k..n]) {
                *y += *c as f64 * v;
            }
        }
    }

    /// The source part widened: lanes 0–3 and the fifth.
    #[inline(always)]
    unsafe fn src(r: &ScanRow) -> (__m256d, f64) {
        unsafe {
            (
                _mm256_cvtps_pd(_mm_loadu_ps(r.src.as_ptr())),
                r.src[4] as f64,
            )
        }
    }

    /// [`super::ScanRow::src_dot`].
    #[inline(always)]
    unsafe fn src_dot(a: __m256d, a4: f64, p: &[f64; NS]) -> f64 {
        unsafe { hsum(_mm256_mul_pd(a, _mm256_loadu_pd(p.as_ptr()))) + a4 * p[4] }
    }

    /// y_s += v a_s.
    #[inline(always)]
    unsafe fn src_axpy(a: __m256d, a4: f64, v: f64, ys: &mut [f64; NS]) {
        unsafe {
            let p = ys.as_mut_ptr();
            let r = _mm256_add_pd(_mm256_loadu_pd(p), _mm256_mul_pd(a, _mm256_set1_pd(v)));
            _mm256_storeu_pd(p, r);
            ys[4] += a4 * v;
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
            let coef = coef(r);
            let (a, a4) = src(r);
            let v = global_dot(r, &coef, pg) + src_dot(a, a4, ps);
            src_axpy(a, a4, v, ys);
            global_axpy(r, &coef, v, acc);
        }
    }

    #[inline(always)]
    pub unsafe fn product_row(r: &ScanRow, ps: &[f64; NS], pg: &[f64]) -> f64 {
        unsafe {
            let coef = coef(r);
            let (a, a4) = src(r);
            global_dot(r, &coef, pg) + src_dot(a, a4, ps)
        }
    }

    #[inline(always)]
    pub unsafe fn transpose_row(r: &ScanRow, s: f64, ys: &mut [f64; NS], acc: &mut [f64]) {
        unsafe {
            let (a, a4) = src(r);
            src_axpy(a, a4, s, ys);
            global_axpy(r, &coef(r), s, acc);
        }
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
            let coef = coef(r);
            let (a, a4) = src(r);
            let w = (global_dot(r, &coef, pg) + src_dot(a, a4, ps)) - c * *u;
            *u = w;
            src_axpy(a, a4, w, ys);
            global_axpy(r, &coef, w, acc);
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
