//! The simple iteration of AGIS (Lindegren et al. 2012, section 5.3; JAXBIS): block
//! Gauss–Seidel sweeps of [`System::si_sweep`] — sources from the current global unknowns, then
//! the global blocks from the new sources — each followed by the frame subspace correction
//! [`System::frame_correction`], from Δx = 0.
//!
//! Same stopping rule as PCG: the preconditioned residual √(rᵀK⁻¹r), r = b − N x, relative to
//! that of b, checked every [`CHECK_EVERY`] sweeps (one extra pass each time). Distributed:
//! the dot products and max |z| are reduced over the ranks ([`System::dot`]).

use crate::cg::InnerReport;
use crate::design::DesignRow;
use crate::system::{System, Workspace};

/// Sweeps between two residual checks.
pub const CHECK_EVERY: usize = 5;

/// Simple iteration from Δx = 0; `on_iter` as for [`crate::cg::pcg`].
pub fn simple_iteration<const NS: usize, R: DesignRow<NS>>(
    sys: &System<NS, R>,
    ws: &mut Workspace,
    tol: f64,
    step_tol: f64,
    max_iter: usize,
    on_iter: &mut dyn FnMut(usize, f64) -> bool,
) -> (Vec<f64>, InnerReport) {
    let n = sys.n();
    let mut x = vec![0.0; n];
    let mut z = vec![0.0; n];
    sys.precondition(&sys.b, &mut z);
    let rz0 = sys.dot(&sys.b, &z);
    let mut rep = InnerReport::default();
    if rz0 <= 0.0 || !rz0.is_finite() {
        rep.converged = rz0 == 0.0;
        return (x, rep);
    }
    let mut r = vec![0.0; n];
    for it in 1..=max_iter {
        sys.si_sweep(&mut x, ws);
        sys.frame_correction(&mut x);
        rep.iterations = it;
        if it % CHECK_EVERY == 0 || it == max_iter {
            sys.apply(&x, &mut r, ws);
            r.iter_mut().zip(&sys.b).for_each(|(ri, bi)| *ri = bi - *ri);
            sys.precondition(&r, &mut z);
            let rel = (sys.dot(&r, &z).max(0.0) / rz0).sqrt();
            rep.history.push(rel);
            let go_on = on_iter(it, rel);
            if rel < tol || sys.max_abs(&z) < step_tol {
                rep.converged = true;
                break;
            }
            if !go_on {
                break;
            }
        }
    }
    (x, rep)
}
