//! The outer loop's stop relative to the formal uncertainties.
//!
//! A source's update is measured in units of its formal standard uncertainty, from the
//! source block of the normal matrix (attitude and calibration taken as known):
//!
//!   s = max over solved sources i and parameters k of |Δx_ik| / √C_i,kk,  C_i = N_ii⁻¹.
//!
//! and a global unknown's (attitude, calibration) likewise, with the σ of its factored
//! diagonal block K_g = L Lᵀ of N_gg: σ_j = 1/L_jj (unit weight), the uncertainty of unknown j
//! given the sources and the unknowns after it in its block, at most its marginal σ (so the
//! test errs on the strict side):
//!
//!   s_g = max_j |Δx_j| L_jj.
//!
//! The outer iterations count the global unknowns as converged once s_g is below
//! [`crate::config::GLOBAL_TOL_SIGMA`] (or their updates below the outer tolerance), and, when
//! `outer_tol_sigma` is given, the sources once s is below it and the global unknowns once s_g
//! is: a change far below what the data can tell changes no result. Weak sources (σ of
//! milli-arcseconds) otherwise hold a solution of 10⁷ observations at updates of 10–20 µas for
//! many outer iterations (docs/scaling.md).

use crate::design::{DesignRow, W_SCALE};
use crate::system::System;
use rayon::prelude::*;

/// Largest source update in units of its formal uncertainty.
///
/// Given: `dx` the step (rad, rad/yr; `NS` per source first), `cov` each source's block
/// covariance (rad², (rad/yr)²), `active` the sources solved.
/// Returned: s ≥ 0 as above (0 when no source is solved); a parameter without a positive
/// variance is skipped.
pub fn max_source_update_in_sigma<const NS: usize>(
    dx: &[f64],
    cov: &[[[f64; NS]; NS]],
    active: &[bool],
) -> f64 {
    cov.par_iter()
        .zip(active.par_iter())
        .enumerate()
        .filter(|(_, (_, &a))| a)
        .map(|(i, (c, _))| {
            (0..NS).fold(0.0f64, |m, k| {
                let var = c[k][k];
                if var > 0.0 && var.is_finite() {
                    m.max(dx[NS * i + k].abs() / var.sqrt())
                } else {
                    m
                }
            })
        })
        .reduce(|| 0.0, f64::max)
}

/// Largest update of a global unknown in units of its σ from the factored diagonal blocks.
///
/// Given: `sys` the system the step solved (its blocks factored), `dx` the step (solver
/// units: the sources' NS per source, then the global unknowns).
/// Returned: s_g ≥ 0 as above; an unknown without a positive finite diagonal is skipped.
pub fn max_global_update_in_sigma<const NS: usize, R: DesignRow<NS>>(
    sys: &System<'_, NS, R>,
    dx: &[f64],
) -> f64 {
    let g0 = sys.g0();
    let unit = W_SCALE.sqrt();
    (0..sys.layout.n)
        .into_par_iter()
        .map(|j| {
            let l = sys.blocks.diagonal(&sys.layout, j);
            if l > 0.0 && l.is_finite() {
                dx[g0 + j].abs() * l / unit
            } else {
                0.0
            }
        })
        .reduce(|| 0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_in_sigma_takes_the_largest_ratio_of_solved_sources() {
        let cov = vec![
            [[4.0, 0.0], [0.0, 1.0]],
            [[1.0, 0.0], [0.0, 0.25]],
            [[1e-6, 0.0], [0.0, 1e-6]],
        ];
        let dx = [1.0, 0.5, 0.1, 0.2, 5.0, 5.0];
        // source 2 (5000 σ) is not solved; source 1: 0.2 / 0.5 = 0.4
        let s = max_source_update_in_sigma(&dx, &cov, &[true, true, false]);
        assert_eq!(s, 0.5_f64.max(0.4));
        assert_eq!(max_source_update_in_sigma::<2>(&dx, &cov, &[false; 3]), 0.0);
    }
}
