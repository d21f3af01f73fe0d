//! The "simplest approach" of the seed slides: every exposure is solved on its own against
//! the reference stars (a *plate* solution: pointing, roll and a per-exposure distortion of
//! order `plate_order` per detector), which turns every other image into an epoch position;
//! then each source gets a 5-parameter fit to its epoch positions.
//!
//! Plate: unknowns (Δα_p cos δ_p, Δδ_p, Δψ) and the distortion coefficients of each detector
//! that holds at least `n_terms + min_extra_refs` reference stars (the others are left out of
//! this exposure); gauge terms on the first such detector. Each reference image weighs with
//! (σ² I + J C_cat Jᵀ)⁻¹, J its derivative with respect to the source parameters and C_cat
//! the catalogue covariance propagated to the reference epoch. Gauss–Newton, 3 iterations.
//!
//! Epoch position of an image: the measured (x, y) minus the plate distortion, with
//! covariance σ² I + J_p C_plate J_pᵀ (J_p: derivatives with respect to the plate unknowns at
//! that image) — the plate error enters each epoch, independently from exposure to exposure.
//! The 5-parameter fit then uses the plate attitude as known (Gauss–Newton, 4 iterations).

use crate::problem::param_diff;
use crate::{Problem, SourceSolution};
use astrosolve_model::linalg::{cholesky_factor, cholesky_inverse, cholesky_solve_factored};
use astrosolve_model::pointed::{
    apply_attitude_update, apply_source_update, is_gauge_term, legendre_basis, n_terms,
    PointedModel, N_ATT, N_DETECTORS, N_SRC,
};
use astrosolve_model::units::years;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// A reference star's parameters and covariance at the reference epoch.
type CatalogueEntry = ([f64; N_SRC], [[f64; N_SRC]; N_SRC]);

#[derive(Clone, Debug)]
pub struct PlateConfig {
    /// Order of the per-exposure distortion (per detector).
    pub order: usize,
    /// A detector is calibrated when it holds ≥ n_terms + this many reference stars.
    pub min_extra_refs: usize,
    pub plate_iterations: usize,
    pub source_iterations: usize,
}

impl Default for PlateConfig {
    fn default() -> Self {
        PlateConfig {
            order: 3,
            min_extra_refs: 3,
            plate_iterations: 3,
            source_iterations: 4,
        }
    }
}

/// One epoch position: an image corrected with its plate.
#[derive(Clone, Copy, Debug)]
pub struct Epoch {
    pub source: u32,
    pub exposure: u32,
    /// Corrected (x, y) (rad) in the exposure's focal-plane frame.
    pub xy: [f64; 2],
    /// Inverse of the 2×2 covariance [w_xx, w_xy, w_yy].
    pub weight: [f64; 3],
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlateReport {
    pub n_exposures: usize,
    /// Exposures without any calibrated detector.
    pub n_failed_plates: usize,
    /// Detector images left out because their detector had too few reference stars.
    pub n_detectors_left_out: usize,
    pub mean_reference_images_per_plate: f64,
    pub n_epoch_positions: usize,
    pub wall_seconds: f64,
}

pub struct PlateSolution {
    pub sources: Vec<SourceSolution>,
    /// Plate attitude of every exposure (NaN where the plate failed).
    pub attitude: Vec<[f64; N_ATT]>,
    pub report: PlateReport,
}

struct PlateResult {
    attitude: [f64; N_ATT],
    epochs: Vec<Epoch>,
    n_refs: usize,
    left_out: usize,
    failed: bool,
}

/// Plate-by-plate solution followed by per-source fits.
pub fn solve_plates(
    p: &Problem,
    cfg: &PlateConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<PlateSolution, String> {
    let t0 = Instant::now();
    let model = PointedModel::new(
        p.model.instrument.clone(),
        cfg.order,
        p.model.ephemeris.clone(),
    );
    let priors: Vec<Option<CatalogueEntry>> = {
        let mut v = vec![None; p.n_sources];
        for r in &p.refs {
            v[r.source_index] = Some(r.prior_at_reference_epoch());
        }
        v
    };
    let done = std::sync::atomic::AtomicU64::new(0);
    let plates: Vec<PlateResult> = (0..p.exposures.len())
        .into_par_iter()
        .map(|e| {
            let r = solve_plate(p, &model, cfg, &priors, e);
            progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
            r
        })
        .collect();
    let n_failed = plates.iter().filter(|r| r.failed).count();
    let left_out = plates.iter().map(|r| r.left_out).sum();
    let mean_refs =
        plates.iter().map(|r| r.n_refs).sum::<usize>() as f64 / plates.len().max(1) as f64;
    let attitude: Vec<[f64; N_ATT]> = plates.iter().map(|r| r.attitude).collect();
    // epochs grouped by source
    let mut by_src: Vec<Vec<Epoch>> = vec![Vec::new(); p.n_sources];
    let mut n_epochs = 0;
    for r in plates {
        for ep in r.epochs {
            by_src[ep.source as usize].push(ep);
            n_epochs += 1;
        }
    }
    let sources: Vec<SourceSolution> = by_src
        .par_iter()
        .enumerate()
        .map(|(s, eps)| fit_source(p, &attitude, eps, priors[s].as_ref(), s, cfg))
        .collect();
    Ok(PlateSolution {
        sources,
        attitude,
        report: PlateReport {
            n_exposures: p.exposures.len(),
            n_failed_plates: n_failed,
            n_detectors_left_out: left_out,
            mean_reference_images_per_plate: mean_refs,
            n_epoch_positions: n_epochs,
            wall_seconds: t0.elapsed().as_secs_f64(),
        },
    })
}

fn inv2(c: [f64; 3]) -> [f64; 3] {
    let det = c[0] * c[2] - c[1] * c[1];
    [c[2] / det, -c[1] / det, c[0] / det]
}

#[allow(clippy::needless_range_loop)] // parallel arrays indexed together
fn solve_plate(
    p: &Problem,
    model: &PointedModel,
    cfg: &PlateConfig,
    priors: &[Option<CatalogueEntry>],
    e: usize,
) -> PlateResult {
    let ex = &p.exposures[e];
    let obs = &p.obs[p.exp_start[e]..p.exp_start[e + 1]];
    let t = n_terms(cfg.order);
    let mut refs_on = [0usize; N_DETECTORS];
    for o in obs {
        if priors[o.source as usize].is_some() {
            refs_on[o.detector as usize] += 1;
        }
    }
    let ok: [bool; N_DETECTORS] = std::array::from_fn(|d| refs_on[d] >= t + cfg.min_extra_refs);
    let left_out = obs.iter().filter(|o| !ok[o.detector as usize]).count();
    let fail = PlateResult {
        attitude: [f64::NAN; N_ATT],
        epochs: Vec::new(),
        n_refs: 0,
        left_out: obs.len(),
        failed: true,
    };
    let Some(gauge) = (0..N_DETECTORS).find(|&d| ok[d]) else {
        return fail;
    };
    // parameter layout: attitude, then for each calibrated detector and axis its free terms
    let mut col = vec![usize::MAX; N_DETECTORS * 2 * t];
    let mut np = N_ATT;
    for d in 0..N_DETECTORS {
        if !ok[d] {
            continue;
        }
        for axis in 0..2 {
            for k in 0..t {
                if !is_gauge_term(gauge, d, axis, k) {
                    col[(d * 2 + axis) * t + k] = np;
                    np += 1;
                }
            }
        }
    }
    let mut att = ex.attitude;
    let mut cal = vec![0.0; N_DETECTORS * 2 * t];
    let mut n = vec![0.0; np * np];
    let mut b = vec![0.0; np];
    let mut a = vec![[0.0; 2]; np];
    let mut n_refs = 0;
    for _ in 0..cfg.plate_iterations {
        n.iter_mut().for_each(|v| *v = 0.0);
        b.iter_mut().for_each(|v| *v = 0.0);
        n_refs = 0;
        for o in obs {
            let d = o.detector as usize;
            let Some((pp, pc)) = &priors[o.source as usize] else {
                continue;
            };
            if !ok[d] {
                continue;
            }
            n_refs += 1;
            let g = model.geometry(ex.t, d, o.x, o.y);
            let cx = &cal[(d * 2) * t..(d * 2 + 1) * t];
            let cy = &cal[(d * 2 + 1) * t..(d * 2 + 2) * t];
            let l = model.linearise(pp, &att, cx, cy, &g);
            // catalogue error projected: J C Jᵀ
            let js = [l.d_src_x, l.d_src_y];
            let mut c = [o.sigma * o.sigma, 0.0, o.sigma * o.sigma];
            for (ci, (i, j)) in [(0usize, 0usize), (0, 1), (1, 1)].iter().enumerate() {
                let mut v = 0.0;
                for aa in 0..N_SRC {
                    for bb in 0..N_SRC {
                        v += js[*i][aa] * pc[aa][bb] * js[*j][bb];
                    }
                }
                c[ci] += v;
            }
            let w = inv2(c);
            let r = [o.x - l.x, o.y - l.y];
            // sparse design row: attitude + this detector's terms
            let mut idx = [0usize; N_ATT + 2 * 21];
            let mut m = 0;
            for k in 0..N_ATT {
                idx[m] = k;
                a[k] = [l.d_att_x[k], l.d_att_y[k]];
                m += 1;
            }
            for axis in 0..2 {
                for k in 0..t {
                    let cidx = col[(d * 2 + axis) * t + k];
                    if cidx != usize::MAX {
                        idx[m] = cidx;
                        a[cidx] = if axis == 0 {
                            [l.basis[k], 0.0]
                        } else {
                            [0.0, l.basis[k]]
                        };
                        m += 1;
                    }
                }
            }
            for i in 0..m {
                let ai = a[idx[i]];
                let wa = [w[0] * ai[0] + w[1] * ai[1], w[1] * ai[0] + w[2] * ai[1]];
                b[idx[i]] += wa[0] * r[0] + wa[1] * r[1];
                for j in 0..m {
                    let aj = a[idx[j]];
                    n[idx[i] * np + idx[j]] += wa[0] * aj[0] + wa[1] * aj[1];
                }
            }
        }
        if cholesky_factor(&mut n, np).is_err() {
            return fail;
        }
        cholesky_solve_factored(&n, &mut b, np);
        apply_attitude_update(&mut att, &b[..N_ATT]);
        for (k, &c) in col.iter().enumerate() {
            if c != usize::MAX {
                cal[k] += b[c];
            }
        }
    }
    // n holds the factor of the last normal matrix: plate covariance
    let mut cov = vec![0.0; np * np];
    {
        let mut e_col = vec![0.0; np];
        for j in 0..np {
            e_col.iter_mut().for_each(|v| *v = 0.0);
            e_col[j] = 1.0;
            cholesky_solve_factored(&n, &mut e_col, np);
            for i in 0..np {
                cov[i * np + j] = e_col[i];
            }
        }
    }
    // epoch positions of all images on calibrated detectors
    let tau = years(ex.t);
    let bpos = model.ephemeris.observer_au(ex.t);
    let mut epochs = Vec::with_capacity(obs.len());
    for o in obs {
        let d = o.detector as usize;
        if !ok[d] {
            continue;
        }
        let (u, v) = model.instrument.normalised(d, o.x, o.y);
        let bs = legendre_basis(cfg.order, u, v);
        let cx = &cal[(d * 2) * t..(d * 2 + 1) * t];
        let cy = &cal[(d * 2 + 1) * t..(d * 2 + 2) * t];
        let dx: f64 = (0..t).map(|k| cx[k] * bs[k]).sum();
        let dy: f64 = (0..t).map(|k| cy[k] * bs[k]).sum();
        // derivatives of (x, y) with respect to the plate unknowns at this image
        let g = astrosolve_model::pointed::PointedGeometry {
            tau_yr: tau,
            b_au: bpos,
            basis: bs,
        };
        let l = model.linearise(&p.start_sources[o.source as usize], &att, &[], &[], &g);
        let mut idx = [0usize; N_ATT + 2 * 21];
        let mut m = 0;
        for k in 0..N_ATT {
            idx[m] = k;
            a[k] = [l.d_att_x[k], l.d_att_y[k]];
            m += 1;
        }
        for axis in 0..2 {
            for k in 0..t {
                let cidx = col[(d * 2 + axis) * t + k];
                if cidx != usize::MAX {
                    idx[m] = cidx;
                    a[cidx] = if axis == 0 {
                        [bs[k], 0.0]
                    } else {
                        [0.0, bs[k]]
                    };
                    m += 1;
                }
            }
        }
        let mut c = [o.sigma * o.sigma, 0.0, o.sigma * o.sigma];
        for i in 0..m {
            let ai = a[idx[i]];
            for j in 0..m {
                let aj = a[idx[j]];
                let cij = cov[idx[i] * np + idx[j]];
                c[0] += ai[0] * cij * aj[0];
                c[1] += ai[0] * cij * aj[1];
                c[2] += ai[1] * cij * aj[1];
            }
        }
        epochs.push(Epoch {
            source: o.source,
            exposure: e as u32,
            xy: [o.x - dx, o.y - dy],
            weight: inv2(c),
        });
    }
    PlateResult {
        attitude: att,
        epochs,
        n_refs,
        left_out,
        failed: false,
    }
}

/// 5-parameter fit of one source to its epoch positions (plus its catalogue prior if it is
/// a reference star).
fn fit_source(
    p: &Problem,
    attitude: &[[f64; N_ATT]],
    eps: &[Epoch],
    prior: Option<&CatalogueEntry>,
    s: usize,
    cfg: &PlateConfig,
) -> SourceSolution {
    let mut x = p.start_sources[s];
    let nan = SourceSolution {
        params: [f64::NAN; N_SRC],
        cov: [[f64::NAN; N_SRC]; N_SRC],
        n_obs: eps.len(),
        solved: false,
        n_outliers: 0,
    };
    // the same selection as the global solution, and at least 3 epochs for 5 unknowns
    if !p.active[s] || eps.len() < 3 {
        return nan;
    }
    let prior_w = prior.map(|(pp, pc)| {
        let mut a: Vec<f64> = pc.iter().flatten().copied().collect();
        let mut inv = [0.0; 25];
        cholesky_factor(&mut a, N_SRC).expect("catalogue covariance");
        cholesky_inverse(&a, N_SRC, &mut inv);
        (*pp, inv)
    });
    let mut nmat = [0.0; 25];
    for _ in 0..cfg.source_iterations {
        nmat = [0.0; 25];
        let mut b = [0.0; N_SRC];
        for ep in eps {
            let ex = &p.exposures[ep.exposure as usize];
            let g = astrosolve_model::pointed::PointedGeometry {
                tau_yr: years(ex.t),
                b_au: p.model.ephemeris.observer_au(ex.t),
                basis: [0.0; 21],
            };
            let l = p
                .model
                .linearise(&x, &attitude[ep.exposure as usize], &[], &[], &g);
            let r = [ep.xy[0] - l.x, ep.xy[1] - l.y];
            let w = ep.weight;
            for a in 0..N_SRC {
                let wa = [
                    w[0] * l.d_src_x[a] + w[1] * l.d_src_y[a],
                    w[1] * l.d_src_x[a] + w[2] * l.d_src_y[a],
                ];
                b[a] += wa[0] * r[0] + wa[1] * r[1];
                for c in 0..N_SRC {
                    nmat[a * N_SRC + c] += wa[0] * l.d_src_x[c] + wa[1] * l.d_src_y[c];
                }
            }
        }
        if let Some((pp, pw)) = &prior_w {
            let d = param_diff(pp, &x);
            for a in 0..N_SRC {
                for c in 0..N_SRC {
                    nmat[a * N_SRC + c] += pw[a * N_SRC + c];
                    b[a] += pw[a * N_SRC + c] * d[c];
                }
            }
        }
        if cholesky_factor(&mut nmat, N_SRC).is_err() {
            return nan;
        }
        cholesky_solve_factored(&nmat, &mut b, N_SRC);
        apply_source_update(&mut x, &b);
    }
    let mut inv = [0.0; 25];
    cholesky_inverse(&nmat, N_SRC, &mut inv);
    SourceSolution {
        params: x,
        cov: std::array::from_fn(|a| std::array::from_fn(|c| inv[a * N_SRC + c])),
        n_obs: eps.len(),
        solved: true,
        n_outliers: 0,
    }
}
