//! Weighted least squares of one source: normal equations from the autodiff rows of
//! [`astrosolve_model::epoch::abscissa`], correlated pairs whitened by the Cholesky factor of
//! their 2×2 covariance, optional Gaussian prior on Δν, covariance = N⁻¹ (Cholesky).

use crate::{weights, EpochError, FitOptions, FitResult, SourceData, N_EPOCH_MAX};
use astrosolve_model::epoch::{abscissa, linearise_epoch, EpochLayout};
use astrosolve_model::linalg::{cholesky_factor, cholesky_inverse};
use rayon::prelude::*;

const N: usize = N_EPOCH_MAX;

/// Design rows ∂w/∂p of every observation (the model is linear: taken at p = 0).
pub(crate) fn design_rows(data: &SourceData, layout: &EpochLayout) -> Vec<[f64; N]> {
    let zero = [0.0; N];
    data.obs
        .iter()
        .map(|o| linearise_epoch(layout, &zero, &o.geometry()).1)
        .collect()
}

/// Residuals w − w_model(p) (mas) of every observation.
pub(crate) fn residuals(data: &SourceData, layout: &EpochLayout, p: &[f64]) -> Vec<f64> {
    data.obs
        .iter()
        .map(|o| o.w - abscissa::<f64>(layout, p, &o.geometry()))
        .collect()
}

/// Solution of one weighted system: parameters and covariance (row-major, n×n).
pub(crate) struct Solved {
    pub params: Vec<f64>,
    pub cov: Vec<f64>,
}

/// Solves the weighted least-squares problem.
/// Given: `rows` the design rows, `wt` per observation the weight 1/variance (mas⁻²; 0 = not
/// used), `prior` (index, mean, σ) of a Gaussian prior on one parameter. Correlated pairs of
/// `data.pairs` are whitened when both members have a weight; otherwise the member left is
/// used alone.
/// Returned: parameters and covariance N⁻¹, or a typed error naming the source.
pub(crate) fn solve(
    data: &SourceData,
    layout: &EpochLayout,
    rows: &[[f64; N]],
    wt: &[f64],
    prior: Option<(usize, f64, f64)>,
) -> Result<Solved, EpochError> {
    let n = layout.n_params();
    let mut nm = [[0.0f64; N]; N];
    let mut rhs = [0.0f64; N];
    // observations that belong to a whitened pair
    let mut paired = vec![
        false;
        if data.pairs.is_empty() {
            0
        } else {
            data.obs.len()
        }
    ];
    for &(i, j, rho) in &data.pairs {
        if i >= data.obs.len() || j >= data.obs.len() || i == j || !(rho.abs() < 1.0) {
            return Err(EpochError::BadInput {
                source_id: data.id,
                message: format!("bad correlated pair ({i}, {j}, {rho})"),
            });
        }
        if wt[i] > 0.0 && wt[j] > 0.0 && rho != 0.0 {
            if paired[i] || paired[j] {
                return Err(EpochError::BadInput {
                    source_id: data.id,
                    message: format!("observation in two correlated pairs ({i}, {j})"),
                });
            }
            paired[i] = true;
            paired[j] = true;
            // C = [[si², ρ si sj], [ρ si sj, sj²]] = L Lᵀ; whitened rows L⁻¹ [a_i; a_j]
            let (si, sj) = (wt[i].sqrt(), wt[j].sqrt()); // 1/σ
            let c = 1.0 / (1.0 - rho * rho).sqrt();
            let wi: [f64; N] = std::array::from_fn(|k| rows[i][k] * si);
            let wj: [f64; N] = std::array::from_fn(|k| (rows[j][k] * sj - rho * wi[k]) * c);
            let yi = data.obs[i].w * si;
            let yj = (data.obs[j].w * sj - rho * yi) * c;
            for (a, y) in [(&wi, yi), (&wj, yj)] {
                for k in 0..n {
                    rhs[k] += a[k] * y;
                    for l in 0..=k {
                        nm[k][l] += a[k] * a[l];
                    }
                }
            }
        }
    }
    // the uncorrelated observations, with the size known at compile time
    let acc = match n {
        5 => accumulate::<5>,
        6 => accumulate::<6>,
        7 => accumulate::<7>,
        8 => accumulate::<8>,
        9 => accumulate::<9>,
        _ => accumulate::<N>,
    };
    acc(data, rows, wt, &paired, &mut nm, &mut rhs);
    if let Some((k, mean, sigma)) = prior {
        let w = 1.0 / (sigma * sigma);
        nm[k][k] += w;
        rhs[k] += w * mean;
    }
    // N = L Lᵀ, C = N⁻¹, x = C b (the project's small dense Cholesky)
    let mut l = [0.0f64; N * N];
    for k in 0..n {
        for m in 0..=k {
            l[k * n + m] = nm[k][m];
        }
    }
    let singular = |k: usize, what: String| EpochError::Singular {
        source_id: data.id,
        detail: format!("pivot {k} of the {n}-parameter normal matrix is {what}"),
    };
    cholesky_factor(&mut l[..n * n], n).map_err(|e| singular(e.0, "not positive".into()))?;
    // A pivot lost to rounding (relative to the diagonal) is as singular as a negative one.
    for k in 0..n {
        let s = l[k * n + k] * l[k * n + k];
        if !(s > 1e-12 * nm[k][k].abs()) || !s.is_finite() {
            return Err(singular(k, format!("{s:e}")));
        }
    }
    let mut cov = vec![0.0; n * n];
    cholesky_inverse(&l[..n * n], n, &mut cov);
    let params: Vec<f64> = (0..n)
        .map(|k| (0..n).map(|m| cov[k * n + m] * rhs[m]).sum())
        .collect();
    if params.iter().any(|x| !x.is_finite()) {
        return Err(EpochError::Singular {
            source_id: data.id,
            detail: "non-finite solution".into(),
        });
    }
    Ok(Solved { params, cov })
}

/// Adds the whitened rows √w a_l and right-hand sides √w w_l of the observations not in
/// `paired` to the lower triangle of `nm` and to `rhs` (M parameters).
fn accumulate<const M: usize>(
    data: &SourceData,
    rows: &[[f64; N]],
    wt: &[f64],
    paired: &[bool],
    nm: &mut [[f64; N]; N],
    rhs: &mut [f64; N],
) {
    let mut a_nm = [[0.0f64; M]; M];
    let mut a_rhs = [0.0f64; M];
    for (l, o) in data.obs.iter().enumerate() {
        if wt[l] <= 0.0 || paired.get(l).copied().unwrap_or(false) {
            continue;
        }
        let s = wt[l].sqrt();
        let a: [f64; M] = std::array::from_fn(|k| rows[l][k] * s);
        let y = o.w * s;
        for k in 0..M {
            a_rhs[k] += a[k] * y;
            for m in 0..=k {
                a_nm[k][m] += a[k] * a[m];
            }
        }
    }
    for k in 0..M {
        rhs[k] += a_rhs[k];
        for m in 0..=k {
            nm[k][m] += a_nm[k][m];
        }
    }
}

/// Fits one source with the model and weighting of `opts`.
/// Given: the source's observations (mas, Julian years) and options.
/// Returned: parameters (mas, mas/yr, …), covariance, residuals and statistics; an error naming
/// the source when it cannot be solved.
pub fn fit_source(data: &SourceData, opts: &FitOptions) -> Result<FitResult, EpochError> {
    weights::fit_weighted(data, opts)
}

/// Fits many sources in parallel (rayon). Results are in input order and bit-identical whatever
/// the number of threads (each source is fitted by one thread, with no shared reduction).
pub fn fit_many(sources: &[SourceData], opts: &FitOptions) -> Vec<Result<FitResult, EpochError>> {
    sources.par_iter().map(|s| fit_source(s, opts)).collect()
}
