//! Non-linear outer iterations (Gauss–Newton): relinearise at the current parameters,
//! re-weight, solve the linear system (simple iteration or PCG), update, fix the frame;
//! stop when the largest update is below `outer_tol_uas`.

use crate::design::{Design, NS, W_SCALE};
use crate::direct::Reduced;
use crate::frame::{self, FrameMode, FrameReference};
use crate::inner::{self, InnerReport};
use crate::lsqr::{lsqr, LsqrConfig, LsqrStop};
use crate::robust::{self, RobustConfig};
use crate::rows::Rows;
use crate::solution::{OuterRecord, Solution, SolveReport, SourceResult};
use crate::system::System;
use astrosolve_model::source::Source;
use astrosolve_model::units::UAS;
use astrosolve_model::{BSplineAttitude, Calibration, GaiaModel, ObservationSet, SourceParams};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Inner solver of the linear system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InnerMethod {
    /// Block-iterative simple iteration (AGIS, JAXBIS).
    Bi,
    /// Conjugate gradients preconditioned by the block solves (Bombrun et al. 2012).
    Cg,
    /// LSQR on the whole system (Gaia AVU-GSR), preconditioned by column scaling or by the
    /// source blocks (`LsqrConfig::preconditioner`).
    Lsqr,
    /// Reduced normal equations solved densely, full covariance (JASMINE AJAS).
    Direct,
}

impl InnerMethod {
    pub fn name(self) -> &'static str {
        match self {
            InnerMethod::Bi => "bi",
            InnerMethod::Cg => "cg",
            InnerMethod::Lsqr => "lsqr",
            InnerMethod::Direct => "direct",
        }
    }
}

#[derive(Clone, Debug)]
pub struct SolverConfig {
    pub method: InnerMethod,
    pub frame: FrameMode,
    /// Stop when the largest update is below this (µas, µas/yr).
    pub outer_tol_uas: f64,
    pub max_outer: usize,
    /// Relative preconditioned residual at which an inner solve stops.
    pub inner_tol: f64,
    pub max_inner: usize,
    /// Down-weight outliers from the second outer iteration on.
    pub robust: bool,
    pub robust_config: RobustConfig,
    /// Fewest good AL observations for a source to be solved.
    pub min_obs: usize,
    /// Fewest visibility periods (groups separated by > 4 d) for a source to be solved
    /// (Gaia DR2/DR3 use 6 for five-parameter solutions).
    pub min_visibility_periods: usize,
    /// LSQR stopping rules (its `max_iter` is taken from `max_inner`).
    pub lsqr: LsqrConfig,
    /// Direct solver: solve the reduced system by its pseudo-inverse (frame defect kept, the
    /// six smallest eigenvalues dropped) instead of Cholesky with the frame constraints.
    pub keep_rank_defect: bool,
    /// Direct solver: compute the full covariance at the solution (inverts the reduced matrix).
    pub covariance: bool,
    /// Direct solver: compute the eigenvalue spectrum of the reduced matrix at the solution.
    pub spectrum: bool,
}

impl Default for SolverConfig {
    fn default() -> Self {
        SolverConfig {
            method: InnerMethod::Cg,
            frame: FrameMode::Gaia,
            outer_tol_uas: 1.0,
            max_outer: 30,
            inner_tol: 1e-7,
            max_inner: 3000,
            robust: true,
            robust_config: RobustConfig::default(),
            min_obs: 10,
            min_visibility_periods: 6,
            lsqr: LsqrConfig::default(),
            keep_rank_defect: false,
            covariance: true,
            spectrum: true,
        }
    }
}

/// Source covariances, activity and weights of the latest outer iteration.
type LastIteration = (Vec<[f64; NS * NS]>, Vec<bool>, Vec<robust::SourceWeights>);

/// Progress of a solve, for progress bars and logs.
pub enum Progress<'a> {
    Inner {
        outer: usize,
        iteration: usize,
        residual: f64,
    },
    Outer(&'a OuterRecord),
}

/// Design equations at the given parameters, weighted as an outer iteration weights them:
/// 1/σ², robust factors from the residuals when `robust_now`, unsolvable sources dropped.
#[allow(clippy::too_many_arguments)]
pub fn linearise(
    model: &GaiaModel,
    obs: &ObservationSet,
    params: &[SourceParams],
    att: &BSplineAttitude,
    cal: &Calibration,
    cfg: &SolverConfig,
    robust_now: bool,
) -> (Design, Vec<robust::SourceWeights>) {
    let ones = vec![1.0; obs.len()];
    let mut design = Design::build(model, obs, params, att, cal, &ones, &ones);
    let weights = robust::reweight(
        &mut design,
        obs,
        robust_now,
        &cfg.robust_config,
        cfg.min_obs,
        cfg.min_visibility_periods,
    );
    (design, weights)
}

/// Runs the global solution from the starting values; panics where [`try_solve`] fails.
#[allow(clippy::too_many_arguments)]
pub fn solve(
    model: &GaiaModel,
    obs: &ObservationSet,
    start_sources: &[Source],
    start_attitude: &BSplineAttitude,
    start_calibration: &Calibration,
    frame_ref: &FrameReference,
    cfg: &SolverConfig,
    progress: &mut dyn FnMut(Progress),
) -> Solution {
    try_solve(
        model,
        obs,
        start_sources,
        start_attitude,
        start_calibration,
        frame_ref,
        cfg,
        progress,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs the global solution from the starting values. Fails only where the direct solver
/// finds the reduced normal matrix singular.
#[allow(clippy::too_many_arguments)]
pub fn try_solve(
    model: &GaiaModel,
    obs: &ObservationSet,
    start_sources: &[Source],
    start_attitude: &BSplineAttitude,
    start_calibration: &Calibration,
    frame_ref: &FrameReference,
    cfg: &SolverConfig,
    progress: &mut dyn FnMut(Progress),
) -> Result<Solution, String> {
    let t_start = Instant::now();
    let n_src = start_sources.len();
    assert_eq!(n_src, obs.n_sources(), "observations and sources disagree");
    let mut params: Vec<SourceParams> = start_sources.iter().map(|s| s.params).collect();
    let start_params = params.clone();
    let mut att = start_attitude.clone();
    let mut cal = start_calibration.clone();
    let norms = crate::system::coefficient_norms(&att);
    let inst = model.instrument.clone();

    let mut history: Vec<OuterRecord> = Vec::new();
    let mut converged = false;
    let mut last: Option<LastIteration> = None;
    let mut design_bytes = 0usize;
    let mut frame_sigma = ([f64::NAN; 3], [f64::NAN; 3]);
    let mut lsqr_var: Option<Vec<f64>> = None;
    let mut frame_cov: Option<FrameCov> = None;
    let mut reduced_unknowns = None;
    for outer in 0..cfg.max_outer {
        let t_outer = Instant::now();
        let robust_now = cfg.robust && outer >= 1;
        let (design, weights) = linearise(model, obs, &params, &att, &cal, cfg, robust_now);
        design_bytes = design.bytes();
        let n_rejected: usize = weights
            .iter()
            .filter(|w| w.solved)
            .map(|w| w.n_bad_al as usize)
            .sum();
        let mut sys = System::assemble(obs, &design, &att, &norms, &cal, &inst, cfg.min_obs);
        sys.constrain_frame(&params, &att);
        let mut cb = |it: usize, r: f64| {
            progress(Progress::Inner {
                outer,
                iteration: it,
                residual: r,
            })
        };
        let (dx, rep) = match cfg.method {
            InnerMethod::Cg => inner::pcg(&sys, cfg.inner_tol, cfg.max_inner, &mut cb),
            InnerMethod::Bi => inner::simple_iteration(&sys, cfg.inner_tol, cfg.max_inner, &mut cb),
            InnerMethod::Lsqr => {
                let res = lsqr(
                    &Rows::new(&sys),
                    &LsqrConfig {
                        max_iter: cfg.max_inner,
                        ..cfg.lsqr
                    },
                    &mut cb,
                );
                lsqr_var = Some(res.var);
                let rep = InnerReport {
                    iterations: res.iterations,
                    converged: res.stop != LsqrStop::MaxIterations,
                    history: res.history,
                };
                (res.x, rep)
            }
            InnerMethod::Direct => {
                let mut red = Reduced::assemble(&sys, true);
                reduced_unknowns = Some(red.n);
                let x = if cfg.keep_rank_defect {
                    red.solve_pseudo_inverse(6)?.0
                } else {
                    red.solve_constrained()?.0
                };
                cb(1, 0.0);
                let rep = InnerReport {
                    iterations: 1,
                    converged: true,
                    history: vec![0.0],
                };
                (x, rep)
            }
        };
        let l = sys.layout;
        let covs: Vec<[f64; NS * NS]> = (0..n_src).map(|i| sys.source_covariance(i)).collect();
        let active = sys.active.clone();
        drop(sys);
        let before = (params.clone(), att.clone(), cal.clone());
        for i in 0..n_src {
            if active[i] {
                params[i].apply_update(&dx[NS * i..NS * i + NS], NS);
            }
        }
        att.apply_update(&dx[l.att0()..l.cal0()]);
        cal.params
            .iter_mut()
            .zip(&dx[l.cal0()..])
            .for_each(|(p, d)| *p += d);

        // Frame: estimate the solution's orientation and spin and rotate them away.
        let (eps, omega) = match cfg.frame {
            FrameMode::Gaia => {
                let (e, o, ce, co) = gaia_frame(&params, &covs, &active, frame_ref);
                let sig = |c: [[f64; 3]; 3]| [c[0][0].sqrt(), c[1][1].sqrt(), c[2][2].sqrt()];
                frame_sigma = (sig(ce), sig(co));
                frame_cov = Some((ce, co));
                (e, o)
            }
            FrameMode::MinNorm => {
                let vecs = frame::null_vectors(&start_params, &active, &att);
                let d = total_change(&params, &start_params, &active, &att, start_attitude);
                frame::null_components(&vecs, &d)
            }
        };
        frame::rotate(
            &mut params,
            &active,
            &mut att,
            eps.map(|v| -v),
            omega.map(|v| -v),
        );

        let parts = max_change(&before, &params, &att, &cal, &active);
        let max_update = parts[0].max(parts[1]).max(parts[2]);
        let rec = OuterRecord {
            iteration: outer + 1,
            inner_iterations: rep.iterations,
            inner_converged: rep.converged,
            max_update_uas: max_update / UAS,
            max_update_parts_uas: parts.map(|v| v / UAS),
            inner_history: rep.history,
            n_rejected,
            frame_rotation_uas: eps.map(|v| v / UAS),
            frame_spin_uas_per_yr: omega.map(|v| v / UAS),
            wall_seconds: t_outer.elapsed().as_secs_f64(),
        };
        progress(Progress::Outer(&rec));
        history.push(rec);
        last = Some((covs, active, weights));
        // converged once updates are tiny and the weighting has had a chance to settle
        if max_update / UAS < cfg.outer_tol_uas && (!cfg.robust || outer >= 2) {
            converged = true;
            break;
        }
    }

    let (mut covs, mut active, weights) = last.expect("at least one outer iteration");

    // Direct solver: full covariance and spectrum at the solution (one more linearisation).
    let mut full: Option<Vec<[f64; NS * NS]>> = None;
    let mut covariance = None;
    let mut spectrum = None;
    let mut smallest = None;
    if cfg.method == InnerMethod::Direct && (cfg.covariance || cfg.spectrum) {
        let (design, _) = linearise(model, obs, &params, &att, &cal, cfg, cfg.robust);
        let mut sys = System::assemble(obs, &design, &att, &norms, &cal, &inst, cfg.min_obs);
        sys.constrain_frame(&params, &att);
        if cfg.spectrum {
            let ev = Reduced::assemble(&sys, false).spectrum()?;
            let top = ev.last().copied().unwrap_or(1.0);
            smallest = Some(ev.iter().take(7).map(|v| v / top).collect::<Vec<f64>>());
            spectrum = Some(ev);
        }
        if cfg.covariance {
            let mut red = Reduced::assemble(&sys, true);
            let (_, cons) = red.solve_constrained()?;
            let cov = red.covariance(cons);
            full = Some(cov.source_blocks());
            covariance = Some(cov);
            covs = (0..n_src).map(|i| sys.source_covariance(i)).collect();
            active = sys.active.clone();
        }
    }
    let mut sources: Vec<SourceResult> = (0..n_src)
        .map(|i| {
            let w = &weights[i];
            let dof = (w.n_good_al as f64 - NS as f64).max(1.0);
            let block = covs[i].map(|v| v * W_SCALE);
            SourceResult {
                params: params[i],
                cov: match &full {
                    Some(f) => {
                        let mut c = f[i].map(|v| v * W_SCALE);
                        if let Some((ce, co)) = &frame_cov {
                            add_frame_covariance(&params[i], &mut c, ce, co);
                        }
                        c
                    }
                    None => block,
                },
                cov_block: full.as_ref().map(|_| block),
                var_lsqr: lsqr_var
                    .as_ref()
                    .map(|v| [0, 1, 2, 3, 4].map(|k| v[NS * i + k] * W_SCALE)),
                solved: active[i],
                n_obs_al: w.n_al,
                n_good_obs_al: w.n_good_al,
                n_bad_obs_al: w.n_bad_al,
                excess_noise: w.excess_noise,
                uwe: if active[i] {
                    (w.chi2_al / dof).sqrt()
                } else {
                    f64::NAN
                },
                ruwe: f64::NAN,
            }
        })
        .collect();
    let mut uwes: Vec<f64> = sources.iter().filter(|s| s.solved).map(|s| s.uwe).collect();
    uwes.sort_by(f64::total_cmp);
    let median = uwes.get(uwes.len() / 2).copied().unwrap_or(1.0);
    for s in sources.iter_mut() {
        s.ruwe = if s.solved { s.uwe / median } else { f64::NAN };
    }
    let inner_total = history.iter().map(|r| r.inner_iterations).sum();
    let n_rejected = sources
        .iter()
        .filter(|s| s.solved)
        .map(|s| s.n_bad_obs_al as usize)
        .sum();
    // median σ ratios against the inverse-block errors
    let median_ratio = |f: &dyn Fn(&SourceResult, usize) -> Option<f64>| -> Option<[f64; NS]> {
        let mut out = [0.0; NS];
        for (k, o) in out.iter_mut().enumerate() {
            let mut r: Vec<f64> = sources
                .iter()
                .filter(|s| s.solved)
                .filter_map(|s| f(s, k))
                .filter(|v| v.is_finite())
                .collect();
            if r.is_empty() {
                return None;
            }
            r.sort_by(f64::total_cmp);
            *o = r[r.len() / 2];
        }
        Some(out)
    };
    let block_underestimation = median_ratio(&|s, k| {
        s.cov_block
            .map(|b| (s.cov[k * NS + k] / b[k * NS + k]).sqrt())
    });
    let lsqr_sigma_over_block =
        median_ratio(&|s, k| s.var_lsqr.map(|v| (v[k] / s.cov[k * NS + k]).sqrt()));
    let report = SolveReport {
        solver: cfg.method.name().into(),
        frame: match cfg.frame {
            FrameMode::Gaia => "gaia".into(),
            FrameMode::MinNorm => "min-norm".into(),
        },
        converged,
        outer_iterations: history.len(),
        inner_iterations: inner_total,
        n_sources: n_src,
        n_solved_sources: sources.iter().filter(|s| s.solved).count(),
        n_observations: obs.len(),
        n_rejected_observations: n_rejected,
        design_bytes_per_observation: design_bytes as f64 / obs.len().max(1) as f64,
        frame_rotation_sigma_uas: frame_sigma.0.map(|v| v / UAS),
        frame_spin_sigma_uas_per_yr: frame_sigma.1.map(|v| v / UAS),
        reduced_unknowns,
        block_underestimation,
        lsqr_sigma_over_block,
        smallest_eigenvalues_relative: smallest,
        wall_seconds: t_start.elapsed().as_secs_f64(),
        history,
    };
    Ok(Solution {
        sources,
        attitude: att,
        calibration: cal,
        report,
        covariance,
        spectrum,
    })
}

/// Orientation from the reference positions, spin from the zero-spin sources, both weighted
/// by the solution's formal errors (and the reference positions' errors).
fn gaia_frame(
    params: &[SourceParams],
    covs: &[[f64; NS * NS]],
    active: &[bool],
    fr: &FrameReference,
) -> FrameFit {
    let pq = |p: &SourceParams| {
        let [pv, qv, _] = astrosolve_model::source::normal_triad(p.ra, p.dec);
        (pv, qv)
    };
    let eps = frame::fit_rotation(fr.positions.iter().filter(|r| active[r.0]).map(
        |&(i, ra, dec, sig)| {
            let refp = SourceParams {
                ra,
                dec,
                ..params[i]
            };
            let (p, q) = pq(&refp);
            let (da, dd) = frame::position_difference(&params[i], &refp);
            let var = sig * sig + 0.5 * (covs[i][0] + covs[i][6]) * W_SCALE;
            (p, q, da, dd, 1.0 / var)
        },
    ))
    .unwrap_or(([0.0; 3], [[f64::NAN; 3]; 3]));
    let omega = frame::fit_rotation(fr.zero_spin.iter().filter(|&&i| active[i]).map(|&i| {
        let (p, q) = pq(&params[i]);
        let var = 0.5 * (covs[i][18] + covs[i][24]) * W_SCALE;
        (p, q, params[i].pmra, params[i].pmdec, 1.0 / var)
    }))
    .unwrap_or(([0.0; 3], [[f64::NAN; 3]; 3]));
    (eps.0, omega.0, eps.1, omega.1)
}

/// ε, ω and their formal covariances (rad², rad²/yr²).
type FrameFit = ([f64; 3], [f64; 3], [[f64; 3]; 3], [[f64; 3]; 3]);
/// Covariances of ε and ω.
type FrameCov = ([[f64; 3]; 3], [[f64; 3]; 3]);

/// Adds the uncertainty of the frame fix (orientation to α*, δ; spin to μα*, μδ) to a source
/// covariance: Δα* = θ·q, Δδ = −θ·p.
fn add_frame_covariance(
    p: &SourceParams,
    cov: &mut [f64; NS * NS],
    c_eps: &[[f64; 3]; 3],
    c_omega: &[[f64; 3]; 3],
) {
    let [pv, qv, _] = astrosolve_model::source::normal_triad(p.ra, p.dec);
    let rows = [qv, pv.map(|v| -v)];
    for (off, c) in [(0, c_eps), (3, c_omega)] {
        for a in 0..2 {
            for b in 0..2 {
                let mut v = 0.0;
                for i in 0..3 {
                    for j in 0..3 {
                        v += rows[a][i] * c[i][j] * rows[b][j];
                    }
                }
                cov[(off + a) * NS + off + b] += v;
            }
        }
    }
}

/// Change of the state relative to the start, in the unknown space of the null vectors.
fn total_change(
    params: &[SourceParams],
    start: &[SourceParams],
    active: &[bool],
    att: &BSplineAttitude,
    att0: &BSplineAttitude,
) -> Vec<f64> {
    let mut d = vec![0.0; NS * params.len() + att.n_params()];
    for i in 0..params.len() {
        if !active[i] {
            continue;
        }
        let (da, dd) = frame::position_difference(&params[i], &start[i]);
        d[NS * i] = da;
        d[NS * i + 1] = dd;
        d[NS * i + 2] = params[i].parallax - start[i].parallax;
        d[NS * i + 3] = params[i].pmra - start[i].pmra;
        d[NS * i + 4] = params[i].pmdec - start[i].pmdec;
    }
    let a0 = NS * params.len();
    for (k, (c, c0)) in att.coeffs.iter().zip(&att0.coeffs).enumerate() {
        for r in 0..4 {
            d[a0 + 4 * k + r] = c[r] - c0[r];
        }
    }
    d
}

/// Largest change (rad, rad/yr) of any source parameter, attitude angle and calibration term.
fn max_change(
    before: &(Vec<SourceParams>, BSplineAttitude, Calibration),
    params: &[SourceParams],
    att: &BSplineAttitude,
    cal: &Calibration,
    active: &[bool],
) -> [f64; 3] {
    let mut m: f64 = 0.0;
    for (i, (a, b)) in params.iter().zip(&before.0).enumerate() {
        if !active[i] {
            continue;
        }
        let (da, dd) = frame::position_difference(a, b);
        m = m
            .max(da.abs())
            .max(dd.abs())
            .max((a.parallax - b.parallax).abs())
            .max((a.pmra - b.pmra).abs())
            .max((a.pmdec - b.pmdec).abs());
    }
    let mut ma: f64 = 0.0;
    for (c, c0) in att.coeffs.iter().zip(&before.1.coeffs) {
        // rotation angle of the change: 2|q̄₀ ⊗ δc| without the radial (norm) part
        let d = [c[0] - c0[0], c[1] - c0[1], c[2] - c0[2], c[3] - c0[3]];
        let r = astrosolve_model::quat::mul(&astrosolve_model::quat::conj(c0), &d);
        let n2: f64 = c0.iter().map(|v| v * v).sum();
        ma = ma.max(2.0 * (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt() / n2);
    }
    let mut mc: f64 = 0.0;
    for (p, p0) in cal.params.iter().zip(&before.2.params) {
        mc = mc.max((p - p0).abs());
    }
    [m, ma, mc]
}
