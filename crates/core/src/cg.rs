//! Preconditioned conjugate gradients on N Δx = b (Bombrun, Lindegren et al. 2012, A&A 538,
//! A77, algorithm 2), with the block-Jacobi preconditioner K = blockdiag(N_ss, K_g) of
//! [`System::precondition`]:
//!
//!   r₀ = b, z₀ = K⁻¹r₀, p₀ = z₀;  α_k = r_kᵀz_k / p_kᵀN p_k,  x_{k+1} = x_k + α_k p_k,
//!   r_{k+1} = r_k − α_k N p_k,  z_{k+1} = K⁻¹ r_{k+1},  β_k = r_{k+1}ᵀz_{k+1} / r_kᵀz_k,
//!   p_{k+1} = z_{k+1} + β_k p_k.
//!
//! Stops when the preconditioned residual norm √(rᵀK⁻¹r) has fallen below `tol` times that
//! of b — the criterion of the simple iteration too ([`crate::gauss_seidel`]).
//!
//! Distributed: every dot product and the step's max |z| are reduced over the ranks
//! ([`System::dot`]), so every rank takes the same α, β and the same stop; `on_iter`'s answer
//! must already agree over the ranks (the outer loop reduces it).

use crate::design::DesignRow;
use crate::system::{System, Workspace};
use serde::{Deserialize, Serialize};

/// Outcome of an iterative inner solve.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct InnerReport {
    pub iterations: usize,
    /// Relative preconditioned residual at each check.
    pub history: Vec<f64>,
    pub converged: bool,
}

/// Largest |z_i| (exact, so deterministic in parallel).
pub fn max_abs(z: &[f64]) -> f64 {
    use rayon::prelude::*;
    z.par_iter().map(|v| v.abs()).reduce(|| 0.0, f64::max)
}

/// Preconditioned conjugate gradients from Δx = 0. `on_iter(k, relative residual)` is called
/// after every iteration; returning false stops the solve (interrupt).
pub fn pcg<const NS: usize, R: DesignRow<NS>>(
    sys: &System<NS, R>,
    ws: &mut Workspace,
    tol: f64,
    step_tol: f64,
    max_iter: usize,
    on_iter: &mut dyn FnMut(usize, f64) -> bool,
) -> (Vec<f64>, InnerReport) {
    let n = sys.n();
    let mut x = vec![0.0; n];
    let mut r = sys.b.clone();
    let mut z = vec![0.0; n];
    sys.precondition(&r, &mut z);
    let mut p = z.clone();
    let mut rz = sys.dot(&r, &z);
    let rz0 = rz;
    let mut q = vec![0.0; n];
    let mut rep = InnerReport::default();
    // no allocation inside the iterations (up to 65536 of them)
    rep.history.reserve(max_iter.min(1 << 16));
    if rz0 <= 0.0 || !rz0.is_finite() {
        rep.converged = rz0 == 0.0;
        return (x, rep);
    }
    for it in 1..=max_iter {
        sys.apply(&p, &mut q, ws);
        let pq = sys.dot(&p, &q);
        if pq <= 0.0 || !pq.is_finite() {
            break;
        }
        let alpha = rz / pq;
        let (rz_new, z_max) = sys.cg_update(alpha, &p, &q, &mut x, &mut r, &mut z);
        let rel = (rz_new.max(0.0) / rz0).sqrt();
        rep.iterations = it;
        rep.history.push(rel);
        let go_on = on_iter(it, rel);
        if rel < tol || z_max < step_tol {
            rep.converged = true;
            break;
        }
        if !go_on {
            break;
        }
        let beta = rz_new / rz;
        rz = rz_new;
        use rayon::prelude::*;
        p.par_iter_mut()
            .zip(&z)
            .for_each(|(pi, zi)| *pi = zi + beta * *pi);
    }
    (x, rep)
}
