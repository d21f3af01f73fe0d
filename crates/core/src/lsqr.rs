//! LSQR (Paige & Saunders 1982, ACM TOMS 8, 43): min ‖A x − b‖² + damp² ‖x‖², by Golub–Kahan
//! bidiagonalisation, in the order and with the names of the paper and of SciPy's
//! `scipy.sparse.linalg.lsqr` (which it follows step by step, `_sym_ortho` included, x₀ = 0):
//!
//!   β₁u₁ = b, α₁v₁ = Aᵀu₁, w₁ = v₁, φ̄₁ = β₁, ρ̄₁ = α₁;
//!   for i = 1, 2, …:  β_{i+1}u_{i+1} = A v_i − α_i u_i,  α_{i+1}v_{i+1} = Aᵀu_{i+1} − β_{i+1}v_i,
//!     (c, s, ρ) = sym_ortho(ρ̄, β_{i+1}),  θ = s α_{i+1},  ρ̄ = −c α_{i+1},  φ = c φ̄,  φ̄ = s φ̄,
//!     x += (φ/ρ) w,  w = v − (θ/ρ) w.
//!
//! Every stopping test of section 6 ([`LsqrStop`], SciPy's `istop` 0–7) with its machine-
//! precision guard, and one test that is not in the paper (istop 8, off by default): stop when
//! ‖Āᵀr_k‖ ≤ `normal_rtol` ‖Āᵀb‖, the relative normal-equation residual on which PCG stops
//! ([`crate::cg`]) — inside an outer Gauss–Newton loop the residual r is mostly noise, so test 2
//! (‖Āᵀr‖/(‖Ā‖‖r‖) ≤ atol) passes after a step or two however far the step is from solved;
//! the estimates ‖Ā‖_F, cond(Ā), ‖r‖, ‖Āᵀr‖, ‖x‖ of section 5; and the variance estimate
//! var_j = Σ_k d_kj², d_k = w_k/ρ_k (section 7.7), which approaches
//! diag((AᵀA)⁻¹) from below. The operator is abstract ([`LinearOperator`]): the whole
//! astrometric system as rows ([`crate::rows`]), or a stored sparse matrix in benchmarks.
//!
//! An operator with a fused step ([`LinearOperator::fused_step`]) does both products of an
//! iteration in one pass over A: u' = A v − (α/‖u'_prev‖) u'_prev and Aᵀu' row by row, then
//! β = ‖u'‖, Aᵀu = Aᵀu'/β; u is kept unnormalised (u = u'/β), so no pass rescales it. The
//! same recurrence, rounded differently from the two-product form.
//!
//! Distributed: the norms go through the operator ([`LinearOperator::dot_rows`],
//! [`LinearOperator::dot_cols`]), which reduces them over the ranks, so every rank takes the
//! same scalars and the same stop; `on_iter`'s answer must already agree over the ranks.

use crate::chunks::dot;
use rayon::prelude::*;

/// A matrix known through its products.
pub trait LinearOperator: Sync {
    fn n_rows(&self) -> usize;
    fn n_cols(&self) -> usize;
    /// y = A x.
    fn matvec(&self, x: &[f64], y: &mut [f64]);
    /// x = Aᵀ y.
    fn rmatvec(&self, y: &[f64], x: &mut [f64]);
    /// Whether [`LinearOperator::fused_step`] is implemented.
    fn has_fused_step(&self) -> bool {
        false
    }
    /// u ← A x − c u, then y = Aᵀ u with the new u, in one pass over A; returns ‖u‖². Called
    /// only where [`LinearOperator::has_fused_step`] is true.
    fn fused_step(&self, _x: &[f64], _c: f64, _u: &mut [f64], _y: &mut [f64]) -> f64 {
        unimplemented!("no fused step")
    }
    /// aᵀb of two vectors of the row space (length `n_rows`); a distributed operator sums
    /// over its ranks ([`crate::comm`]).
    fn dot_rows(&self, a: &[f64], b: &[f64]) -> f64 {
        dot(a, b)
    }
    /// aᵀb of two vectors of the column space (length `n_cols`), likewise.
    fn dot_cols(&self, a: &[f64], b: &[f64]) -> f64 {
        dot(a, b)
    }
}

/// Parameters of LSQR (SciPy's names and defaults, except `iter_lim`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LsqrConfig {
    /// Damping of the regularised problem.
    pub damp: f64,
    /// Stop when ‖Āᵀr‖/(‖Ā‖‖r‖) ≤ atol (least-squares optimality).
    pub atol: f64,
    /// Stop when ‖r‖ ≤ btol ‖b‖ + atol ‖Ā‖ ‖x‖ (compatible systems).
    pub btol: f64,
    /// Stop when cond(Ā) ≥ conlim (0: no limit).
    pub conlim: f64,
    pub iter_lim: usize,
    /// Accumulate the variance estimates.
    pub calc_var: bool,
    /// Stop when ‖Āᵀr‖ ≤ normal_rtol ‖Āᵀb‖ (not in Paige & Saunders; 0: off).
    pub normal_rtol: f64,
}

impl Default for LsqrConfig {
    fn default() -> Self {
        LsqrConfig {
            damp: 0.0,
            atol: 1e-8,
            btol: 1e-8,
            conlim: 1e8,
            iter_lim: 20_000,
            calc_var: true,
            normal_rtol: 0.0,
        }
    }
}

/// Why LSQR stopped (SciPy's istop).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LsqrStop {
    /// 0: x = 0 is the exact solution (b = 0 or Aᵀb = 0).
    Zero,
    /// 1: ‖r‖ ≤ btol‖b‖ + atol‖Ā‖‖x‖: A x = b solved to the tolerances.
    Compatible,
    /// 2: ‖Āᵀr‖/(‖Ā‖‖r‖) ≤ atol: the least-squares solution is good enough.
    LeastSquares,
    /// 3: cond(Ā) ≥ conlim.
    ConditionLimit,
    /// 4: A x = b solved to machine precision (test 1 with btol = eps).
    CompatibleMachine,
    /// 5: least-squares optimal to machine precision.
    LeastSquaresMachine,
    /// 6: cond(Ā) too large for the machine (≥ 1/eps).
    ConditionMachine,
    /// 7: iteration limit.
    IterationLimit,
    /// 8 (not in SciPy): ‖Āᵀr‖ ≤ normal_rtol ‖Āᵀb‖, the relative normal-equation residual.
    NormalResidual,
}

impl LsqrStop {
    /// SciPy's istop code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// True for the stops that mean a solution was reached (0, 1, 2, 4, 5).
    pub fn converged(self) -> bool {
        matches!(
            self,
            LsqrStop::Zero
                | LsqrStop::Compatible
                | LsqrStop::LeastSquares
                | LsqrStop::CompatibleMachine
                | LsqrStop::LeastSquaresMachine
                | LsqrStop::NormalResidual
        )
    }
}

/// Outcome of LSQR.
#[derive(Clone, Debug)]
pub struct LsqrResult {
    pub x: Vec<f64>,
    pub stop: LsqrStop,
    pub itn: usize,
    /// ‖b − A x‖.
    pub r1norm: f64,
    /// √(‖b − A x‖² + damp²‖x‖²).
    pub r2norm: f64,
    /// Estimates of ‖Ā‖_F, cond(Ā), ‖Āᵀr‖, ‖x‖.
    pub anorm: f64,
    pub acond: f64,
    pub arnorm: f64,
    pub xnorm: f64,
    /// Diagonal variance estimates (when `calc_var`).
    pub var: Vec<f64>,
    /// The least-squares test ‖Āᵀr‖/(‖Ā‖‖r‖) after each iteration.
    pub history: Vec<f64>,
}

/// Stable Givens rotation (SciPy's `_sym_ortho`): (c, s, r) with c a + s b = r, −s a + c b = 0.
pub fn sym_ortho(a: f64, b: f64) -> (f64, f64, f64) {
    if b == 0.0 {
        (a.signum_or_zero(), 0.0, a.abs())
    } else if a == 0.0 {
        (0.0, b.signum_or_zero(), b.abs())
    } else if b.abs() > a.abs() {
        let tau = a / b;
        let s = b.signum() / (1.0 + tau * tau).sqrt();
        let c = s * tau;
        (c, s, b / s)
    } else {
        let tau = b / a;
        let c = a.signum() / (1.0 + tau * tau).sqrt();
        let s = c * tau;
        (c, s, a / c)
    }
}

trait SignumOrZero {
    fn signum_or_zero(self) -> f64;
}
impl SignumOrZero for f64 {
    /// numpy's sign: 0 for 0.
    fn signum_or_zero(self) -> f64 {
        if self == 0.0 {
            0.0
        } else {
            self.signum()
        }
    }
}

fn scale(v: &mut [f64], s: f64) {
    v.par_iter_mut().for_each(|x| *x *= s);
}

/// LSQR from x₀ = 0. `on_dk(d_k)` receives every search direction d_k = w_k/ρ_k (for variance
/// estimates of blocks); `on_iter(itn, test2)` after every iteration, false stops (interrupt).
pub fn lsqr(
    a: &dyn LinearOperator,
    b: &[f64],
    cfg: &LsqrConfig,
    on_dk: &mut dyn FnMut(&[f64]),
    on_iter: &mut dyn FnMut(usize, f64) -> bool,
) -> LsqrResult {
    let (m, n) = (a.n_rows(), a.n_cols());
    assert_eq!(b.len(), m, "right-hand side length");
    let eps = f64::EPSILON;
    let mut var = if cfg.calc_var {
        vec![0.0; n]
    } else {
        Vec::new()
    };
    let ctol = if cfg.conlim > 0.0 {
        1.0 / cfg.conlim
    } else {
        0.0
    };
    let (mut anorm, mut acond, mut ddnorm, mut res2, mut xnorm, mut xxnorm, mut z) =
        (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let (mut cs2, mut sn2) = (-1.0f64, 0.0f64);
    let dampsq = cfg.damp * cfg.damp;

    let mut u = b.to_vec();
    let bnorm = a.dot_rows(b, b).sqrt();
    let mut x = vec![0.0; n];
    let mut beta = bnorm;
    let mut v = vec![0.0; n];
    let mut alfa = 0.0;
    if beta > 0.0 {
        scale(&mut u, 1.0 / beta);
        a.rmatvec(&u, &mut v);
        alfa = a.dot_cols(&v, &v).sqrt();
    }
    if alfa > 0.0 {
        scale(&mut v, 1.0 / alfa);
    }
    let mut w = v.clone();
    let mut rhobar = alfa;
    let mut phibar = beta;
    let mut rnorm = beta;
    let mut r1norm = rnorm;
    let mut r2norm = rnorm;
    let mut arnorm = alfa * beta;
    let arnorm0 = arnorm;
    let mut history = Vec::new();
    let done =
        |x, stop, itn, r1norm, r2norm, anorm, acond, arnorm, xnorm, var, history| LsqrResult {
            x,
            stop,
            itn,
            r1norm,
            r2norm,
            anorm,
            acond,
            arnorm,
            xnorm,
            var,
            history,
        };
    if arnorm == 0.0 {
        return done(
            x,
            LsqrStop::Zero,
            0,
            r1norm,
            r2norm,
            anorm,
            acond,
            arnorm,
            xnorm,
            var,
            history,
        );
    }
    let fused = a.has_fused_step();
    let mut av = if fused { Vec::new() } else { vec![0.0; m] };
    // with the fused step u is kept unnormalised: the u of the algorithm is u / unorm
    let mut unorm = 1.0;
    let mut atu = vec![0.0; n];
    let mut dk = vec![0.0; n];
    let mut itn = 0;
    let mut stop = LsqrStop::IterationLimit;
    while itn < cfg.iter_lim {
        itn += 1;
        // bidiagonalisation: β u = A v − α u,  α v = Aᵀu − β v
        if fused {
            // one pass: u' = A v − α u, Aᵀu'; then β = ‖u'‖, u = u'/β, Aᵀu = Aᵀu'/β
            let ss = a.fused_step(&v, alfa / unorm, &mut u, &mut atu);
            beta = ss.sqrt();
            if beta > 0.0 {
                unorm = beta;
                anorm = (anorm * anorm + alfa * alfa + beta * beta + dampsq).sqrt();
                let ib = 1.0 / beta;
                v.par_iter_mut()
                    .zip(&atu)
                    .for_each(|(vi, ai)| *vi = ai * ib - beta * *vi);
                alfa = a.dot_cols(&v, &v).sqrt();
                if alfa > 0.0 {
                    scale(&mut v, 1.0 / alfa);
                }
            }
        } else {
            a.matvec(&v, &mut av);
            u.par_iter_mut()
                .zip(&av)
                .for_each(|(ui, ai)| *ui = ai - alfa * *ui);
            beta = a.dot_rows(&u, &u).sqrt();
        }
        if !fused && beta > 0.0 {
            scale(&mut u, 1.0 / beta);
            anorm = (anorm * anorm + alfa * alfa + beta * beta + dampsq).sqrt();
            a.rmatvec(&u, &mut atu);
            v.par_iter_mut()
                .zip(&atu)
                .for_each(|(vi, ai)| *vi = ai - beta * *vi);
            alfa = a.dot_cols(&v, &v).sqrt();
            if alfa > 0.0 {
                scale(&mut v, 1.0 / alfa);
            }
        }
        // plane rotation eliminating the damping parameter
        let (rhobar1, psi) = if cfg.damp > 0.0 {
            let rhobar1 = (rhobar * rhobar + dampsq).sqrt();
            let cs1 = rhobar / rhobar1;
            let sn1 = cfg.damp / rhobar1;
            let psi = sn1 * phibar;
            phibar *= cs1;
            (rhobar1, psi)
        } else {
            (rhobar, 0.0)
        };
        // plane rotation eliminating the subdiagonal element β
        let (cs, sn, rho) = sym_ortho(rhobar1, beta);
        let theta = sn * alfa;
        rhobar = -cs * alfa;
        let phi = cs * phibar;
        phibar *= sn;
        let tau = sn * phi;
        // update x and w
        let t1 = phi / rho;
        let t2 = -theta / rho;
        dk.par_iter_mut().zip(&w).for_each(|(d, wi)| *d = wi / rho);
        x.par_iter_mut()
            .zip(w.par_iter_mut())
            .zip(&v)
            .for_each(|((xi, wi), vi)| {
                *xi += t1 * *wi;
                *wi = vi + t2 * *wi;
            });
        ddnorm += a.dot_cols(&dk, &dk);
        if cfg.calc_var {
            var.par_iter_mut().zip(&dk).for_each(|(s, d)| *s += d * d);
            on_dk(&dk);
        }
        // plane rotation on the right eliminating θ; estimate ‖x‖
        let delta = sn2 * rho;
        let gambar = -cs2 * rho;
        let rhs = phi - delta * z;
        let zbar = rhs / gambar;
        xnorm = (xxnorm + zbar * zbar).sqrt();
        let gamma = gambar.hypot(theta);
        cs2 = gambar / gamma;
        sn2 = theta / gamma;
        z = rhs / gamma;
        xxnorm += z * z;
        // estimates of cond(Ā), ‖r̄‖, ‖Āᵀr̄‖
        acond = anorm * ddnorm.sqrt();
        let res1 = phibar * phibar;
        res2 += psi * psi;
        rnorm = (res1 + res2).sqrt();
        arnorm = alfa * tau.abs();
        if cfg.damp > 0.0 {
            let r1sq = rnorm * rnorm - dampsq * xxnorm;
            r1norm = r1sq.abs().sqrt();
            if r1sq < 0.0 {
                r1norm = -r1norm;
            }
        } else {
            r1norm = rnorm;
        }
        r2norm = rnorm;
        // stopping tests (section 6), with SciPy's guards against tiny tolerances
        let test1 = rnorm / bnorm;
        let test2 = arnorm / (anorm * rnorm + eps);
        let test3 = 1.0 / (acond + eps);
        let t1 = test1 / (1.0 + anorm * xnorm / bnorm);
        let rtol = cfg.btol + cfg.atol * anorm * xnorm / bnorm;
        let mut istop = None;
        if itn >= cfg.iter_lim {
            istop = Some(LsqrStop::IterationLimit);
        }
        if 1.0 + test3 <= 1.0 {
            istop = Some(LsqrStop::ConditionMachine);
        }
        if 1.0 + test2 <= 1.0 {
            istop = Some(LsqrStop::LeastSquaresMachine);
        }
        if 1.0 + t1 <= 1.0 {
            istop = Some(LsqrStop::CompatibleMachine);
        }
        if test3 <= ctol {
            istop = Some(LsqrStop::ConditionLimit);
        }
        if test2 <= cfg.atol {
            istop = Some(LsqrStop::LeastSquares);
        }
        if test1 <= rtol {
            istop = Some(LsqrStop::Compatible);
        }
        if istop.is_none() && arnorm <= cfg.normal_rtol * arnorm0 {
            istop = Some(LsqrStop::NormalResidual);
        }
        history.push(test2);
        let go_on = on_iter(itn, test2);
        if let Some(s) = istop {
            stop = s;
            break;
        }
        if !go_on {
            stop = LsqrStop::IterationLimit;
            break;
        }
    }
    done(
        x, stop, itn, r1norm, r2norm, anorm, acond, arnorm, xnorm, var, history,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunks::norm;

    /// Dense row-major test matrix.
    struct Dense {
        m: usize,
        n: usize,
        a: Vec<f64>,
    }
    impl LinearOperator for Dense {
        fn n_rows(&self) -> usize {
            self.m
        }
        fn n_cols(&self) -> usize {
            self.n
        }
        fn matvec(&self, x: &[f64], y: &mut [f64]) {
            for i in 0..self.m {
                y[i] = (0..self.n).map(|j| self.a[i * self.n + j] * x[j]).sum();
            }
        }
        fn rmatvec(&self, y: &[f64], x: &mut [f64]) {
            for j in 0..self.n {
                x[j] = (0..self.m).map(|i| self.a[i * self.n + j] * y[i]).sum();
            }
        }
    }

    #[test]
    fn scipy_docstring_examples() {
        // A = [[1, 0], [1, 1], [0, 1]]
        let a = Dense {
            m: 3,
            n: 2,
            a: vec![1.0, 0.0, 1.0, 1.0, 0.0, 1.0],
        };
        let cfg = LsqrConfig::default();
        let r = lsqr(&a, &[0.0; 3], &cfg, &mut |_| {}, &mut |_, _| true);
        assert_eq!(r.stop.code(), 0);
        let r = lsqr(&a, &[1.0, 0.0, -1.0], &cfg, &mut |_| {}, &mut |_, _| true);
        assert_eq!((r.stop.code(), r.itn), (1, 1));
        assert!((r.x[0] - 1.0).abs() < 1e-14 && (r.x[1] + 1.0).abs() < 1e-14);
        let r = lsqr(&a, &[1.0, 0.01, -1.0], &cfg, &mut |_| {}, &mut |_, _| true);
        assert_eq!(r.stop.code(), 2);
        assert!((r.x[0] - 1.00333333).abs() < 1e-7 && (r.x[1] + 0.99666667).abs() < 1e-7);
        assert!((r.r1norm - 0.005773502691896255).abs() < 1e-12);
    }

    #[test]
    fn normal_residual_test_stops_at_its_tolerance() {
        // an inconsistent 40 × 8 system: test 2 alone (atol = 1e-14) would run to the end
        let (m, n) = (40, 8);
        let a: Vec<f64> = (0..m * n)
            .map(|k| {
                ((k * 7919 % 103) as f64 / 103.0 - 0.5) + if k % (n + 1) == 0 { 2.0 } else { 0.0 }
            })
            .collect();
        let op = Dense { m, n, a };
        let b: Vec<f64> = (0..m).map(|i| (i as f64 * 0.37).sin()).collect();
        let base = LsqrConfig {
            atol: 1e-14,
            btol: 1e-14,
            conlim: 0.0,
            calc_var: false,
            ..Default::default()
        };
        let full = lsqr(&op, &b, &base, &mut |_| {}, &mut |_, _| true);
        let cfg = LsqrConfig {
            normal_rtol: 1e-3,
            ..base
        };
        let r = lsqr(&op, &b, &cfg, &mut |_| {}, &mut |_, _| true);
        assert_eq!(r.stop, LsqrStop::NormalResidual);
        assert!(
            r.stop.converged() && r.itn < full.itn,
            "{} vs {}",
            r.itn,
            full.itn
        );
        // ‖Aᵀb‖ from the operator
        let mut atb = vec![0.0; n];
        op.rmatvec(&b, &mut atb);
        assert!(r.arnorm <= 1e-3 * norm(&atb) * (1.0 + 1e-12));
    }

    #[test]
    fn variance_estimate_reaches_the_inverse_normal_matrix() {
        // 30 × 6 well-conditioned matrix: after n iterations (exact arithmetic) var = diag((AᵀA)⁻¹)
        let (m, n) = (30, 6);
        let a: Vec<f64> = (0..m * n)
            .map(|k| {
                ((k * 7919 % 101) as f64 / 101.0 - 0.5) + if k % (n + 1) == 0 { 1.0 } else { 0.0 }
            })
            .collect();
        let op = Dense { m, n, a: a.clone() };
        let b: Vec<f64> = (0..m).map(|i| (i as f64).cos()).collect();
        let cfg = LsqrConfig {
            atol: 1e-14,
            btol: 1e-14,
            ..Default::default()
        };
        let r = lsqr(&op, &b, &cfg, &mut |_| {}, &mut |_, _| true);
        let mut ata = vec![0.0; n * n];
        for i in 0..m {
            for p in 0..n {
                for q in 0..n {
                    ata[p * n + q] += a[i * n + p] * a[i * n + q];
                }
            }
        }
        let mut l = ata.clone();
        astrosolve_model::linalg::cholesky_factor(&mut l, n).unwrap();
        let mut inv = vec![0.0; n * n];
        astrosolve_model::linalg::cholesky_inverse(&l, n, &mut inv);
        for j in 0..n {
            assert!(
                (r.var[j] - inv[j * n + j]).abs() < 1e-8 * inv[j * n + j],
                "var {j}"
            );
        }
    }
}
