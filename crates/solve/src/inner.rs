//! Inner solvers of the linear normal equations N Δx = b: the simple iteration of AGIS
//! (block Gauss–Seidel, Lindegren et al. 2012, section 5.3) and preconditioned conjugate
//! gradients with the same block solves as preconditioner (Bombrun et al. 2012, A&A 538, A77,
//! algorithm 2). Both stop on the same criterion: the preconditioned residual norm
//! √(rᵀK⁻¹r) relative to that of b.

use crate::system::System;

/// Outcome of an inner solve.
#[derive(Clone, Debug, Default)]
pub struct InnerReport {
    pub iterations: usize,
    /// Relative preconditioned residual at each check.
    pub history: Vec<f64>,
    pub converged: bool,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Preconditioned conjugate gradients from Δx = 0.
pub fn pcg(
    sys: &System,
    tol: f64,
    max_iter: usize,
    on_iter: &mut dyn FnMut(usize, f64),
) -> (Vec<f64>, InnerReport) {
    let n = sys.layout.len();
    let mut x = vec![0.0; n];
    let mut r = sys.b.clone();
    let mut z = vec![0.0; n];
    sys.precondition(&r, &mut z);
    let mut p = z.clone();
    let mut rz = dot(&r, &z);
    let rz0 = rz.max(f64::MIN_POSITIVE);
    let mut q = vec![0.0; n];
    let mut rep = InnerReport::default();
    if rz <= 0.0 {
        rep.converged = true;
        return (x, rep);
    }
    for it in 1..=max_iter {
        sys.apply(&p, &mut q);
        let pq = dot(&p, &q);
        if pq <= 0.0 {
            break;
        }
        let alpha = rz / pq;
        x.iter_mut().zip(&p).for_each(|(xi, pi)| *xi += alpha * pi);
        r.iter_mut().zip(&q).for_each(|(ri, qi)| *ri -= alpha * qi);
        sys.precondition(&r, &mut z);
        let rz_new = dot(&r, &z);
        let rel = (rz_new.max(0.0) / rz0).sqrt();
        rep.iterations = it;
        rep.history.push(rel);
        on_iter(it, rel);
        if rel < tol {
            rep.converged = true;
            break;
        }
        let beta = rz_new / rz;
        rz = rz_new;
        p.iter_mut()
            .zip(&z)
            .for_each(|(pi, zi)| *pi = zi + beta * *pi);
    }
    (x, rep)
}

/// Simple iteration (block Gauss–Seidel) from Δx = 0; the residual is checked every
/// `check_every` sweeps with one extra pass.
pub fn simple_iteration(
    sys: &System,
    tol: f64,
    max_iter: usize,
    on_iter: &mut dyn FnMut(usize, f64),
) -> (Vec<f64>, InnerReport) {
    let n = sys.layout.len();
    let mut x = vec![0.0; n];
    let mut z = vec![0.0; n];
    sys.precondition(&sys.b, &mut z);
    let rz0 = dot(&sys.b, &z).max(f64::MIN_POSITIVE);
    let mut rep = InnerReport::default();
    let mut r = vec![0.0; n];
    let check_every = 5;
    for it in 1..=max_iter {
        sys.si_sweep(&mut x);
        sys.frame_correction(&mut x);
        rep.iterations = it;
        if it % check_every == 0 || it == max_iter {
            sys.apply(&x, &mut r);
            r.iter_mut().zip(&sys.b).for_each(|(ri, bi)| *ri = bi - *ri);
            sys.precondition(&r, &mut z);
            let rel = (dot(&r, &z).max(0.0) / rz0).sqrt();
            rep.history.push(rel);
            on_iter(it, rel);
            if rel < tol {
                rep.converged = true;
                break;
            }
        }
    }
    (x, rep)
}
