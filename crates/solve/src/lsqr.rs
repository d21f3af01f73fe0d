//! LSQR (Paige & Saunders 1982, ACM TOMS 8, 43; "algorithm LSQR" of section 4 and the
//! stopping rules of section 6) on the whole system at once — sources, attitude, calibration
//! and the frame rows — as in Gaia's AVU-GSR solver (Vecchiato et al. 2018, A&A 620, A40):
//! matrix-free, with column scaling (Â = A D⁻¹, D = diag‖a_j‖) as the preconditioner, or
//! (the default) the source columns orthonormalised block by block with the Cholesky factors of
//! the source normal blocks — the same blocks the iterative solvers invert.
//!
//! Follows scipy.sparse.linalg.lsqr step by step (damp = 0). The variance estimate is
//! var_j = Σ_k d_kj² over the search directions d_k = w_k/ρ_k (Paige & Saunders, section 7.7):
//! it approaches diag((AᵀA)⁻¹) from below and is biased low until full convergence.

use crate::design::NS;
use crate::rows::Rows;
use rayon::prelude::*;

/// The right preconditioner: source blocks (Cholesky factors) and/or column scales.
struct Precond {
    dinv: Vec<f64>,
    /// Row-major lower Cholesky factors of the source blocks (empty: column scaling only).
    blocks: Vec<[f64; NS * NS]>,
}

impl Precond {
    fn new(rows: &Rows, kind: LsqrPreconditioner) -> Self {
        let dinv = rows
            .column_sq_norms()
            .into_iter()
            .map(|c| if c > 0.0 { 1.0 / c.sqrt() } else { 1.0 })
            .collect();
        let blocks = match kind {
            LsqrPreconditioner::Columns => Vec::new(),
            LsqrPreconditioner::SourceBlocks => rows.sys.src_chol.clone(),
        };
        Precond { dinv, blocks }
    }

    fn n_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// out = P⁻¹ v.
    fn solve(&self, v: &[f64], out: &mut [f64]) {
        let nb = NS * self.blocks.len();
        out[nb..]
            .par_iter_mut()
            .zip(v[nb..].par_iter().zip(&self.dinv[nb..]))
            .for_each(|(o, (a, d))| *o = a * d);
        out[..nb]
            .par_chunks_mut(NS)
            .zip(v[..nb].par_chunks(NS))
            .zip(self.blocks.par_iter())
            .for_each(|((o, vi), l)| {
                // Lᵀ o = v (backward substitution)
                for r in (0..NS).rev() {
                    let mut s = vi[r];
                    for q in r + 1..NS {
                        s -= l[q * NS + r] * o[q];
                    }
                    o[r] = s / l[r * NS + r];
                }
            });
    }

    /// v = P⁻ᵀ v.
    fn solve_t(&self, v: &mut [f64]) {
        let nb = NS * self.blocks.len();
        v[nb..]
            .par_iter_mut()
            .zip(&self.dinv[nb..])
            .for_each(|(o, d)| *o *= d);
        v[..nb]
            .par_chunks_mut(NS)
            .zip(self.blocks.par_iter())
            .for_each(|(o, l)| {
                // L o' = o (forward substitution)
                for r in 0..NS {
                    let mut s = o[r];
                    for q in 0..r {
                        s -= l[r * NS + q] * o[q];
                    }
                    o[r] = s / l[r * NS + r];
                }
            });
    }

    /// Diagonal of P⁻¹ Σ P⁻ᵀ from the preconditioned-space estimates.
    fn variances(&self, var: &[f64], var_blocks: &[[f64; NS * NS]]) -> Vec<f64> {
        let nb = NS * self.blocks.len();
        let mut out: Vec<f64> = var.iter().zip(&self.dinv).map(|(a, d)| a * d * d).collect();
        for (i, (l, s)) in self.blocks.iter().zip(var_blocks).enumerate() {
            // column c of P⁻¹ Σ: backward solves; then the diagonal of (P⁻¹ Σ) P⁻ᵀ
            let mut t = [0.0; NS * NS];
            for c in 0..NS {
                let col: [f64; NS] = std::array::from_fn(|r| s[r * NS + c]);
                let mut o = [0.0; NS];
                for r in (0..NS).rev() {
                    let mut z = col[r];
                    for q in r + 1..NS {
                        z -= l[q * NS + r] * o[q];
                    }
                    o[r] = z / l[r * NS + r];
                }
                for r in 0..NS {
                    t[r * NS + c] = o[r];
                }
            }
            for r in 0..NS {
                let row: [f64; NS] = std::array::from_fn(|c| t[r * NS + c]);
                let mut o = [0.0; NS];
                for a in (0..NS).rev() {
                    let mut z = row[a];
                    for q in a + 1..NS {
                        z -= l[q * NS + a] * o[q];
                    }
                    o[a] = z / l[a * NS + a];
                }
                out[NS * i + r] = o[r];
            }
        }
        let _ = nb;
        out
    }
}

/// Stopping rules of LSQR.
#[derive(Clone, Copy, Debug)]
pub struct LsqrConfig {
    /// Stop when ‖Âᵀr‖ / (‖Â‖ ‖r‖) ≤ atol (the rule for inconsistent systems).
    pub atol: f64,
    /// Stop when ‖r‖ ≤ btol ‖b‖ + atol ‖Â‖ ‖x‖ (consistent systems).
    pub btol: f64,
    /// Stop when the condition estimate of Â exceeds conlim.
    pub conlim: f64,
    pub max_iter: usize,
    pub preconditioner: LsqrPreconditioner,
}

/// Right preconditioner P of LSQR (Â = A P⁻¹, x = P⁻¹ x̂).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LsqrPreconditioner {
    /// Unit column norms (AVU-GSR): P = diag ‖a_j‖.
    Columns,
    /// Each source's five columns orthonormalised by its block's Cholesky factor
    /// (P_i = L_iᵀ, N_ii = L_iL_iᵀ), unit column norms for attitude and calibration.
    SourceBlocks,
}

impl Default for LsqrConfig {
    fn default() -> Self {
        LsqrConfig {
            atol: 1e-10,
            btol: 1e-10,
            conlim: 1e12,
            max_iter: 20_000,
            preconditioner: LsqrPreconditioner::SourceBlocks,
        }
    }
}

/// Why LSQR stopped (scipy's istop).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LsqrStop {
    /// x = 0 is the solution (b = 0).
    Zero,
    /// ‖r‖ small enough: Ax = b solved to btol.
    Consistent,
    /// Least-squares optimality ‖Aᵀr‖ small enough: atol.
    LeastSquares,
    /// Condition estimate exceeded conlim.
    IllConditioned,
    /// Iteration limit.
    MaxIterations,
}

/// Outcome of one LSQR solve.
#[derive(Clone, Debug)]
pub struct LsqrResult {
    /// Solution in the original (unscaled) unknowns.
    pub x: Vec<f64>,
    /// Variance estimates of x (diagonal of (AᵀA)⁻¹, unscaled), biased low until converged.
    pub var: Vec<f64>,
    pub iterations: usize,
    pub stop: LsqrStop,
    /// Estimates of ‖Â‖_F, cond(Â), ‖r‖, ‖Âᵀr‖ at exit.
    pub anorm: f64,
    pub acond: f64,
    pub rnorm: f64,
    pub arnorm: f64,
    /// ‖Âᵀr‖ / (‖Â‖ ‖r‖) after each iteration (the atol test).
    pub history: Vec<f64>,
}

fn norm(v: &[f64]) -> f64 {
    v.par_iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn scale(v: &mut [f64], s: f64) {
    v.par_iter_mut().for_each(|x| *x *= s);
}

/// Solves min ‖A x − b‖ for the system's rows with column scaling.
pub fn lsqr(rows: &Rows, cfg: &LsqrConfig, on_iter: &mut dyn FnMut(usize, f64)) -> LsqrResult {
    let n = rows.n_cols();
    let m = rows.n_rows();
    let pre = Precond::new(rows, cfg.preconditioner);
    let mut tmp_n = vec![0.0; n];
    // Â v = A (P⁻¹ v)
    let a_mul = |v: &[f64], out: &mut [f64], tmp: &mut Vec<f64>| {
        pre.solve(v, tmp);
        rows.mul(tmp, out);
    };
    // Âᵀ u = P⁻ᵀ (Aᵀ u)
    let at_mul = |u: &[f64], out: &mut [f64]| {
        rows.mul_t(u, out);
        pre.solve_t(out);
    };

    let mut u = rows.rhs();
    let mut x = vec![0.0; n];
    let mut var = vec![0.0; n];
    let mut var_blocks = vec![[0.0; NS * NS]; pre.n_blocks()];
    let mut v = vec![0.0; n];
    let mut w;
    let mut au = vec![0.0; m];
    let mut atv = vec![0.0; n];
    let bnorm = norm(&u);
    let result = |y: Vec<f64>,
                  var: Vec<f64>,
                  var_blocks: Vec<[f64; NS * NS]>,
                  it,
                  stop,
                  anorm,
                  acond,
                  rnorm,
                  arnorm,
                  hist| {
        let mut x = vec![0.0; y.len()];
        pre.solve(&y, &mut x);
        let var = pre.variances(&var, &var_blocks);
        LsqrResult {
            x,
            var,
            iterations: it,
            stop,
            anorm,
            acond,
            rnorm,
            arnorm,
            history: hist,
        }
    };
    let mut beta = bnorm;
    if beta == 0.0 {
        return result(
            x,
            var,
            var_blocks,
            0,
            LsqrStop::Zero,
            0.0,
            0.0,
            0.0,
            0.0,
            vec![],
        );
    }
    scale(&mut u, 1.0 / beta);
    at_mul(&u, &mut v);
    let mut alpha = norm(&v);
    if alpha == 0.0 {
        return result(
            x,
            var,
            var_blocks,
            0,
            LsqrStop::Zero,
            0.0,
            0.0,
            beta,
            0.0,
            vec![],
        );
    }
    scale(&mut v, 1.0 / alpha);
    w = v.clone();

    let (mut rhobar, mut phibar) = (alpha, beta);
    let (mut anorm, mut acond, mut ddnorm, mut xxnorm, mut z): (f64, f64, f64, f64, f64) =
        (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut cs2, mut sn2) = (-1.0f64, 0.0f64);
    let ctol = if cfg.conlim > 0.0 {
        1.0 / cfg.conlim
    } else {
        0.0
    };
    let mut rnorm = beta;
    let mut arnorm = alpha * beta;
    let mut history = Vec::new();
    let mut stop = LsqrStop::MaxIterations;
    let mut it = 0;
    while it < cfg.max_iter {
        it += 1;
        // bidiagonalisation: β u = Â v − α u, α v = Âᵀ u − β v
        a_mul(&v, &mut au, &mut tmp_n);
        u.par_iter_mut()
            .zip(&au)
            .for_each(|(ui, ai)| *ui = ai - alpha * *ui);
        beta = norm(&u);
        if beta > 0.0 {
            scale(&mut u, 1.0 / beta);
            anorm = (anorm * anorm + alpha * alpha + beta * beta).sqrt();
            at_mul(&u, &mut atv);
            v.par_iter_mut()
                .zip(&atv)
                .for_each(|(vi, ai)| *vi = ai - beta * *vi);
            alpha = norm(&v);
            if alpha > 0.0 {
                scale(&mut v, 1.0 / alpha);
            }
        }
        // plane rotation eliminating the subdiagonal β
        let rho = rhobar.hypot(beta);
        let cs = rhobar / rho;
        let sn = beta / rho;
        let theta = sn * alpha;
        rhobar = -cs * alpha;
        let phi = cs * phibar;
        phibar *= sn;
        let tau = sn * phi;
        // variance estimate Σ d_k d_kᵀ, d_k = w/ρ (per source block, diagonal elsewhere)
        let nb = NS * var_blocks.len();
        let r2 = 1.0 / (rho * rho);
        var_blocks
            .par_iter_mut()
            .zip(w[..nb].par_chunks(NS))
            .for_each(|(vb, wi)| {
                for a in 0..NS {
                    for b in 0..NS {
                        vb[a * NS + b] += wi[a] * wi[b] * r2;
                    }
                }
            });
        // update x, w
        let t1 = phi / rho;
        let t2 = -theta / rho;
        let dd: f64 = x
            .par_iter_mut()
            .zip(w.par_iter_mut())
            .zip(v.par_iter().zip(var.par_iter_mut()))
            .map(|((xi, wi), (vi, vari))| {
                let dk = *wi / rho;
                *xi += t1 * *wi;
                *wi = vi + t2 * *wi;
                *vari += dk * dk;
                dk * dk
            })
            .sum();
        ddnorm += dd;
        // norms for the stopping rules (Paige & Saunders, section 5)
        let delta = sn2 * rho;
        let gambar = -cs2 * rho;
        let rhs = phi - delta * z;
        let zbar = rhs / gambar;
        let xnorm = (xxnorm + zbar * zbar).sqrt();
        let gamma = gambar.hypot(theta);
        cs2 = gambar / gamma;
        sn2 = theta / gamma;
        z = rhs / gamma;
        xxnorm += z * z;
        acond = anorm * ddnorm.sqrt();
        rnorm = phibar;
        arnorm = alpha * tau.abs();
        let test1 = rnorm / bnorm;
        let test2 = if rnorm > 0.0 {
            arnorm / (anorm * rnorm)
        } else {
            0.0
        };
        let test3 = 1.0 / acond;
        let rtol = cfg.btol + cfg.atol * anorm * xnorm / bnorm;
        history.push(test2);
        on_iter(it, test2);
        if test3 <= ctol {
            stop = LsqrStop::IllConditioned;
            break;
        }
        if test2 <= cfg.atol {
            stop = LsqrStop::LeastSquares;
            break;
        }
        if test1 <= rtol {
            stop = LsqrStop::Consistent;
            break;
        }
    }
    result(
        x, var, var_blocks, it, stop, anorm, acond, rnorm, arnorm, history,
    )
}
