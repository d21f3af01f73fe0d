//! Weighting of one source's observations (provisional: plain and DR4 weighting).

use crate::fit::{design_rows, residuals, solve};
use crate::{EpochError, FitOptions, FitResult, ModelKind, SourceData, Weighting};

/// Default largest number of robust iterations.
pub const MAX_ITER: usize = 20;

fn check(data: &SourceData) -> Result<(), EpochError> {
    for (l, o) in data.obs.iter().enumerate() {
        if o.used && !(o.sigma > 0.0 && o.sigma.is_finite()) {
            return Err(EpochError::BadInput {
                source_id: data.id,
                message: format!("observation {l}: σ = {} is not positive", o.sigma),
            });
        }
        if o.used
            && ![o.t, o.a_alpha, o.a_delta, o.a_parallax, o.a_pmra, o.a_pmdec, o.a_colour, o.w]
                .iter()
                .all(|x| x.is_finite())
        {
            return Err(EpochError::BadInput {
                source_id: data.id,
                message: format!("observation {l}: non-finite value"),
            });
        }
    }
    Ok(())
}

/// Fits with the weighting of `opts`.
pub(crate) fn fit_weighted(data: &SourceData, opts: &FitOptions) -> Result<FitResult, EpochError> {
    check(data)?;
    let layout = opts.model.layout();
    let n = layout.n_params();
    let rows = design_rows(data, &layout);
    let prior = if opts.model == ModelKind::Six {
        let (m, s) = data
            .colour_prior
            .or(opts.colour_prior)
            .ok_or_else(|| EpochError::BadInput {
                source_id: data.id,
                message: "the 6-parameter model needs a prior on the pseudo-colour".into(),
            })?;
        Some((5, m, s))
    } else {
        None
    };
    let used: Vec<bool> = data.obs.iter().map(|o| o.used).collect();
    let n_used = used.iter().filter(|&&u| u).count();
    if n_used < n {
        return Err(EpochError::TooFewObservations {
            source_id: data.id,
            n_used,
            n_params: n,
        });
    }
    let eps = match opts.weighting {
        Weighting::Dr4 => data.excess_noise.unwrap_or(0.0),
        _ => 0.0,
    };
    let f: Vec<f64> = used.iter().map(|&u| if u { 1.0 } else { 0.0 }).collect();
    let wt: Vec<f64> = data
        .obs
        .iter()
        .zip(&f)
        .map(|(o, &f)| f / (o.sigma * o.sigma + eps * eps))
        .collect();
    let s = solve(data, &layout, &rows, &wt, prior)?;
    let res = residuals(data, &layout, &s.params);
    let chi2: f64 = data
        .obs
        .iter()
        .zip(&res)
        .zip(&f)
        .filter(|(_, &f)| f > 0.0)
        .map(|((o, r), _)| r * r / (o.sigma * o.sigma))
        .sum();
    let nu = n_used as f64 - n as f64;
    Ok(FitResult {
        params: s.params,
        cov: s.cov,
        residuals: res,
        weights: f,
        n_obs_al: n_used,
        n_good_obs_al: n_used,
        n_bad_obs_al: 0,
        excess_noise: eps,
        excess_noise_sig: 0.0,
        chi2,
        gof_al: gof(chi2, nu),
        uwe: if nu > 0.0 { (chi2 / nu).sqrt() } else { 0.0 },
        n_iter: 1,
    })
}

/// Goodness of fit F2 = √(9ν/2) [(χ²/ν)^(1/3) + 2/(9ν) − 1] (Wilson–Hilferty).
pub fn gof(chi2: f64, nu: f64) -> f64 {
    if nu <= 0.0 {
        return 0.0;
    }
    (4.5 * nu).sqrt() * ((chi2 / nu).cbrt() + 2.0 / (9.0 * nu) - 1.0)
}
