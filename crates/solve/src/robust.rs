//! Robust weighting (after Lindegren et al. 2012, section 5.1.2): statistical weight
//! W = w / (σ² + ε²) with ε the source's excess noise and w a down-weighting factor of the
//! normalised residual z = r/√(σ² + ε²): w = 1 for |z| ≤ k, k/|z| up to the rejection
//! limit, 0 beyond (the observation is rejected and counted as bad).

use crate::design::{Design, NS, W_SCALE};
use astrosolve_model::ObservationSet;
use rayon::prelude::*;

#[derive(Clone, Copy, Debug)]
pub struct RobustConfig {
    /// Start of down-weighting (k, in units of the normalised residual).
    pub huber_k: f64,
    /// Normalised residual beyond which an observation is rejected.
    pub reject_z: f64,
    /// Estimate a per-source excess noise.
    pub excess_noise: bool,
}

impl Default for RobustConfig {
    fn default() -> Self {
        RobustConfig {
            huber_k: 2.0,
            reject_z: 6.0,
            excess_noise: true,
        }
    }
}

/// Per-source outcome of the weighting.
#[derive(Clone, Copy, Debug, Default)]
pub struct SourceWeights {
    /// Excess noise ε (rad).
    pub excess_noise: f64,
    pub n_al: u32,
    pub n_good_al: u32,
    pub n_bad_al: u32,
    /// Σ W r² over good AL observations with ε = 0 and w = 1 (for the unit-weight error).
    pub chi2_al: f64,
    /// Enough good observations and visibility periods to be solved.
    pub solved: bool,
}

#[inline]
fn factor(z: f64, cfg: &RobustConfig) -> f64 {
    let a = z.abs();
    if a <= cfg.huber_k {
        1.0
    } else if a <= cfg.reject_z {
        cfg.huber_k / a
    } else {
        0.0
    }
}

/// Number of visibility periods: groups of observations separated by more than 4 days
/// (Lindegren et al. 2018, A&A 616, A2, section 4.1).
pub fn visibility_periods(times: impl Iterator<Item = f64>) -> usize {
    let mut n = 0;
    let mut last = f64::NEG_INFINITY;
    for t in times {
        if t - last > 4.0 {
            n += 1;
        }
        last = t;
    }
    n
}

/// Sets the weights of all design rows. With `robust` false every observation gets 1/σ².
/// Sources with fewer than `min_obs` good AL observations or fewer than
/// `min_visibility_periods` visibility periods get zero weights (not solved).
pub fn reweight(
    design: &mut Design,
    obs: &ObservationSet,
    robust: bool,
    cfg: &RobustConfig,
    min_obs: usize,
    min_visibility_periods: usize,
) -> Vec<SourceWeights> {
    let n_src = obs.n_sources();
    // split the AL rows per source (contiguous in observation order)
    let mut al_slices = Vec::with_capacity(n_src);
    let mut rest: &mut [crate::design::AlRow] = &mut design.al;
    for i in 0..n_src {
        let n = obs.source_offsets[i + 1] - obs.source_offsets[i];
        let (a, b) = std::mem::take(&mut rest).split_at_mut(n);
        al_slices.push(a);
        rest = b;
    }
    let mut ac_slices = Vec::with_capacity(n_src);
    let mut rest: &mut [crate::design::AcRow] = &mut design.ac;
    for i in 0..n_src {
        let n = design.ac_offsets[i + 1] - design.ac_offsets[i];
        let (a, b) = std::mem::take(&mut rest).split_at_mut(n);
        ac_slices.push(a);
        rest = b;
    }
    al_slices
        .into_par_iter()
        .zip(ac_slices)
        .enumerate()
        .map(|(i, (al, ac))| {
            let o = &obs.obs[obs.source_offsets[i]..obs.source_offsets[i + 1]];
            let sig2: Vec<f64> = o.iter().map(|x| x.sigma_eta * x.sigma_eta).collect();
            let res: Vec<f64> = al.iter().map(|r| r.res as f64).collect();
            let mut eps2 = 0.0;
            let mut w: Vec<f64> = vec![1.0; al.len()];
            if robust {
                for _ in 0..3 {
                    for (l, wl) in w.iter_mut().enumerate() {
                        *wl = factor(res[l] / (sig2[l] + eps2).sqrt(), cfg);
                    }
                    if cfg.excess_noise {
                        eps2 = excess_noise2(&res, &sig2, &w);
                    }
                }
            }
            let n_good = w.iter().filter(|&&x| x > 0.0).count();
            let vp = visibility_periods(
                o.iter()
                    .zip(&w)
                    .filter(|(_, &wl)| wl > 0.0)
                    .map(|(x, _)| x.t),
            );
            let solved = n_good >= min_obs && vp >= min_visibility_periods;
            let mut sw = SourceWeights {
                excess_noise: eps2.sqrt(),
                n_al: al.len() as u32,
                n_good_al: n_good as u32,
                n_bad_al: (al.len() - n_good) as u32,
                chi2_al: 0.0,
                solved,
            };
            for (l, row) in al.iter_mut().enumerate() {
                let wl = if solved { w[l] / (sig2[l] + eps2) } else { 0.0 };
                row.w = (wl * W_SCALE) as f32;
                if w[l] > 0.0 {
                    sw.chi2_al += res[l] * res[l] / sig2[l];
                }
            }
            for row in ac.iter_mut() {
                let x = &obs.obs[row.obs as usize];
                let s2 = x.sigma_zeta * x.sigma_zeta + eps2;
                let f = if robust {
                    factor(row.res as f64 / s2.sqrt(), cfg)
                } else {
                    1.0
                };
                row.w = if solved {
                    (f / s2 * W_SCALE) as f32
                } else {
                    0.0
                };
            }
            sw
        })
        .collect()
}

/// ε² such that Σ w r²/(σ² + ε²) equals the degrees of freedom, or 0 when the data are
/// consistent with their σ within 3 standard deviations of χ².
fn excess_noise2(res: &[f64], sig2: &[f64], w: &[f64]) -> f64 {
    let n = w.iter().filter(|&&x| x > 0.0).count();
    if n <= NS + 1 {
        return 0.0;
    }
    let dof = (n - NS) as f64;
    let q = |e2: f64| -> f64 {
        res.iter()
            .zip(sig2)
            .zip(w)
            .map(|((r, s), w)| w * r * r / (s + e2))
            .sum()
    };
    if q(0.0) <= dof * (1.0 + 3.0 * (2.0 / dof).sqrt()) {
        return 0.0;
    }
    let mut lo = 0.0;
    let mut hi = res.iter().map(|r| r * r).fold(0.0, f64::max).max(1e-30);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if q(mid) > dof {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::{AlRow, Design};
    use astrosolve_model::{Fov, Observation};

    /// One source with observations 5 days apart (one visibility period each), given residuals (rad) and σ.
    fn one_source(res: &[f64], sigma: f64) -> (Design, ObservationSet) {
        let obs: Vec<Observation> = (0..res.len())
            .map(|l| Observation {
                source_index: 0,
                fov: Fov::Preceding,
                row: 0,
                strip: 0,
                t: l as f64 * 5.0,
                eta: 0.0,
                zeta: f64::NAN,
                sigma_eta: sigma,
                sigma_zeta: f64::NAN,
                ac_coord: 0.0,
            })
            .collect();
        let set = ObservationSet::from_unsorted(obs, 1);
        let al = res
            .iter()
            .map(|&r| AlRow {
                res: r as f32,
                ..Default::default()
            })
            .collect();
        (
            Design {
                al,
                ac: Vec::new(),
                ac_offsets: vec![0, 0],
            },
            set,
        )
    }

    fn gaussian(n: usize, sigma: f64) -> Vec<f64> {
        let mut rng = astrosolve_sim::rng::Rng::new(3, 4);
        (0..n).map(|_| sigma * rng.normal()).collect()
    }

    #[test]
    fn outliers_are_rejected_and_counted() {
        let sigma = 1e-9;
        let mut res = gaussian(200, sigma);
        for k in [5, 50, 120] {
            res[k] = 40.0 * sigma;
        }
        let (mut d, set) = one_source(&res, sigma);
        let w = reweight(&mut d, &set, true, &RobustConfig::default(), 10, 6);
        assert_eq!(
            w[0].n_bad_al, 3,
            "exactly the three 40σ outliers are rejected"
        );
        for k in [5, 50, 120] {
            assert_eq!(d.al[k].w, 0.0);
        }
        assert!(
            w[0].solved && w[0].excess_noise == 0.0,
            "no excess noise for well-behaved data: {:?}, chi2 {}",
            w[0],
            res.iter().map(|r| (r / sigma).powi(2)).sum::<f64>()
        );
        // without robust weighting nothing is rejected and all weights are 1/σ²
        let (mut d2, set2) = one_source(&res, sigma);
        let w2 = reweight(&mut d2, &set2, false, &RobustConfig::default(), 10, 6);
        assert_eq!(w2[0].n_bad_al, 0);
        assert!(d2
            .al
            .iter()
            .all(|r| (r.w as f64 - sigma.powi(-2) * W_SCALE).abs() < 1e-6));
    }

    #[test]
    fn excess_noise_absorbs_underestimated_errors() {
        // true scatter 2σ: ε² ≈ 3σ², so ε ≈ 1.73σ
        let sigma = 1e-9;
        let res = gaussian(400, 2.0 * sigma);
        let (mut d, set) = one_source(&res, sigma);
        let w = reweight(&mut d, &set, true, &RobustConfig::default(), 10, 6);
        let eps = w[0].excess_noise / sigma;
        assert!((eps - 3f64.sqrt()).abs() < 0.25, "excess noise {eps:.3} σ");
    }

    #[test]
    fn too_few_visibility_periods_leave_a_source_unsolved() {
        assert_eq!(
            visibility_periods([0.0, 0.1, 3.0, 8.0, 8.1, 20.0].into_iter()),
            3
        );
        let sigma = 1e-9;
        let res = gaussian(50, sigma);
        let (mut d, mut set) = one_source(&res, sigma);
        // squeeze all observations into 10 days: at most 3 visibility periods
        set.obs
            .iter_mut()
            .enumerate()
            .for_each(|(l, o)| o.t = l as f64 * 0.2);
        let w = reweight(&mut d, &set, false, &RobustConfig::default(), 10, 6);
        assert!(!w[0].solved);
        assert!(d.al.iter().all(|r| r.w == 0.0));
    }
}
