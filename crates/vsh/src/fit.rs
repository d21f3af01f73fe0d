//! Weighted least-squares VSH fit of a proper-motion field with iterative outlier clipping.
//!
//! Observation model per source (MK12 eq. 30): `(µα*, µδ) = Σ_j x_j (a_j, d_j)(α, δ) + noise`,
//! noise ~ N(0, C) with `C = [[σα*², ρσα*σδ], [ρσα*σδ, σδ²]]`. The normal equations are
//! accumulated in parallel over fixed blocks of sources (each block its own packed matrix,
//! summed in block order, so the result does not depend on the number of threads).
//!
//! Clipping rule: with `X_i = sqrt(Δᵢᵀ Cᵢ⁻¹ Δᵢ)` the normalised residual of source `i`
//! (Δ = observed − fitted), a source is rejected when `X_i > κ · median(X)`, the median being
//! taken over all sources. The fit is repeated with the new selection, every source being
//! re-classified each time (rejected sources may come back), until the set of rejected sources
//! no longer changes or `max_iter` fits were made. `κ ≤ 0` disables clipping.

use rayon::prelude::*;

use crate::basis::{labels, n_coef, VshBasis};
use crate::error::VshError;
use crate::linalg::spd_solve_and_invert;
use crate::normal::{Accumulator, NormalEquations};

/// Proper-motion data of the sources entering the fit, in internal units.
#[derive(Clone, Debug, Default)]
pub struct PmData {
    /// Right ascension [rad].
    pub ra: Vec<f64>,
    /// Declination [rad].
    pub dec: Vec<f64>,
    /// µα* = µα cos δ [µas/yr].
    pub pmra: Vec<f64>,
    /// µδ [µas/yr].
    pub pmdec: Vec<f64>,
    /// σ(µα*) [µas/yr].
    pub pmra_error: Vec<f64>,
    /// σ(µδ) [µas/yr].
    pub pmdec_error: Vec<f64>,
    /// Correlation ρ(µα*, µδ).
    pub pmra_pmdec_corr: Vec<f64>,
}

impl PmData {
    /// Empty data with room for `n` sources.
    pub fn with_capacity(n: usize) -> Self {
        PmData {
            ra: Vec::with_capacity(n),
            dec: Vec::with_capacity(n),
            pmra: Vec::with_capacity(n),
            pmdec: Vec::with_capacity(n),
            pmra_error: Vec::with_capacity(n),
            pmdec_error: Vec::with_capacity(n),
            pmra_pmdec_corr: Vec::with_capacity(n),
        }
    }

    /// Number of sources.
    pub fn len(&self) -> usize {
        self.ra.len()
    }

    /// Whether there is no source.
    pub fn is_empty(&self) -> bool {
        self.ra.is_empty()
    }

    /// Appends one source (internal units: rad, µas/yr).
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        ra: f64,
        dec: f64,
        pmra: f64,
        pmdec: f64,
        pmra_error: f64,
        pmdec_error: f64,
        corr: f64,
    ) {
        self.ra.push(ra);
        self.dec.push(dec);
        self.pmra.push(pmra);
        self.pmdec.push(pmdec);
        self.pmra_error.push(pmra_error);
        self.pmdec_error.push(pmdec_error);
        self.pmra_pmdec_corr.push(corr);
    }

    /// Whitening constants of source `i`: `(1/σα*, 1/σδ, ρ, 1/sqrt(1−ρ²))`.
    #[inline(always)]
    fn whitening(&self, i: usize) -> (f64, f64, f64, f64) {
        let rho = self.pmra_pmdec_corr[i];
        (
            1.0 / self.pmra_error[i],
            1.0 / self.pmdec_error[i],
            rho,
            1.0 / (1.0 - rho * rho).sqrt(),
        )
    }

    /// Normalised residual `X = sqrt(Δᵀ C⁻¹ Δ)` of source `i` for residual `(dα*, dδ)`.
    #[inline(always)]
    pub fn normalised_residual(&self, i: usize, da: f64, dd: f64) -> f64 {
        let (ia, ib, rho, is) = self.whitening(i);
        let w1 = da * ia;
        let w2 = (dd * ib - rho * w1) * is;
        (w1 * w1 + w2 * w2).sqrt()
    }
}

/// Options of [`fit`].
#[derive(Clone, Debug)]
pub struct FitOptions {
    /// Maximum degree `L ≥ 1`.
    pub lmax: usize,
    /// Clipping factor κ of the rule `X > κ · median(X)`; `≤ 0` disables clipping.
    pub clip_kappa: f64,
    /// Maximum number of fits in the clipping iteration (≥ 1).
    pub max_iter: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            lmax: 5,
            clip_kappa: DEFAULT_CLIP_KAPPA,
            max_iter: 20,
        }
    }
}

/// Default κ of the clipping rule `X > κ · median(X)`.
pub const DEFAULT_CLIP_KAPPA: f64 = 3.0;

/// Result of a VSH fit.
#[derive(Clone, Debug)]
pub struct VshFit {
    /// Maximum degree.
    pub lmax: usize,
    /// Coefficients in packed order (see [`crate::basis`]) [µas/yr].
    pub coef: Vec<f64>,
    /// Full covariance of the coefficients, row-major `n × n` [(µas/yr)²], formal (not scaled
    /// by the unit-weight error).
    pub cov: Vec<f64>,
    /// Number of sources given to the fit.
    pub n_sources: usize,
    /// Number of sources used in the final fit (not rejected).
    pub n_used: usize,
    /// `true` for sources rejected by the clipping.
    pub rejected: Vec<bool>,
    /// Normalised residual `X` of every source with respect to the final fit.
    pub x: Vec<f64>,
    /// χ² of the final fit (sum of `X²` over the used sources).
    pub chi2: f64,
    /// Degrees of freedom `2 n_used − n_coef`.
    pub dof: usize,
    /// Number of fits made.
    pub iterations: usize,
    /// Whether the clipping converged (always true without clipping).
    pub converged: bool,
    /// κ used (0 when clipping was disabled).
    pub clip_kappa: f64,
    /// Median of `X` over all sources, for the final fit.
    pub median_x: f64,
    /// Rejection threshold `κ · median(X)` that produced the final selection (None without clipping).
    pub clip_threshold: Option<f64>,
}

impl VshFit {
    /// Number of coefficients.
    pub fn n_coef(&self) -> usize {
        self.coef.len()
    }

    /// Formal error of coefficient `j`.
    pub fn error(&self, j: usize) -> f64 {
        self.cov[j * self.coef.len() + j].sqrt()
    }

    /// Unit-weight error `sqrt(χ²/dof)`.
    pub fn unit_weight_error(&self) -> f64 {
        if self.dof == 0 {
            f64::NAN
        } else {
            (self.chi2 / self.dof as f64).sqrt()
        }
    }
}

/// Sources per parallel block of the accumulation (fixed, so results do not depend on threads).
const BLOCK: usize = 32_768;

/// Whitened rows of source `i`: writes `r1`, `r2` and returns `(y1, y2)`. With `C = L Lᵀ`
/// (L the Cholesky factor of the 2×2 covariance), `r = L⁻¹ (a, d)ᵀ` and `y = L⁻¹ (µα*, µδ)ᵀ`.
#[inline]
fn whitened_rows(
    basis: &VshBasis,
    data: &PmData,
    i: usize,
    a: &mut [f64],
    d: &mut [f64],
) -> (f64, f64) {
    basis.eval(data.ra[i], data.dec[i], a, d);
    let (ia, ib, rho, is) = data.whitening(i);
    for (x, y) in a.iter_mut().zip(d.iter_mut()) {
        let w1 = *x * ia;
        *y = (*y * ib - rho * w1) * is;
        *x = w1;
    }
    let y1 = data.pmra[i] * ia;
    (y1, (data.pmdec[i] * ib - rho * y1) * is)
}

/// Accumulates the normal equations of the sources whose indices `iter` yields.
fn accumulate_iter(
    basis: &VshBasis,
    data: &PmData,
    iter: impl Iterator<Item = usize>,
) -> NormalEquations {
    let n = basis.n_coef();
    let mut acc = Accumulator::new(n);
    let (mut a, mut d) = (vec![0.0; n], vec![0.0; n]);
    for i in iter {
        let (y1, y2) = whitened_rows(basis, data, i, &mut a, &mut d);
        acc.add_rows(&a, &d, y1, y2);
    }
    acc.finish()
}

/// Normal equations of all sources: parallel over fixed blocks of [`BLOCK`] sources, each with
/// its own accumulator, summed in block order (deterministic whatever the number of threads).
/// Blocks are processed in groups of one per thread so that only that many partial systems
/// exist at once.
pub fn accumulate_all(basis: &VshBasis, data: &PmData) -> NormalEquations {
    let n_src = data.len();
    let nblocks = n_src.div_ceil(BLOCK);
    let group = rayon::current_num_threads().max(1);
    let mut total = NormalEquations::zeros(basis.n_coef());
    for g0 in (0..nblocks).step_by(group) {
        let parts: Vec<NormalEquations> = (g0..(g0 + group).min(nblocks))
            .into_par_iter()
            .map(|b| accumulate_iter(basis, data, b * BLOCK..((b + 1) * BLOCK).min(n_src)))
            .collect();
        for p in &parts {
            total.add_assign(p);
        }
    }
    total
}

/// Normal equations of the listed sources (same grouping as [`accumulate_all`]).
pub fn accumulate_indices(basis: &VshBasis, data: &PmData, idx: &[usize]) -> NormalEquations {
    let chunks: Vec<&[usize]> = idx.chunks(BLOCK / 4).collect();
    let group = rayon::current_num_threads().max(1);
    let mut total = NormalEquations::zeros(basis.n_coef());
    for g in chunks.chunks(group) {
        let parts: Vec<NormalEquations> = g
            .par_iter()
            .map(|c| accumulate_iter(basis, data, c.iter().copied()))
            .collect();
        for p in &parts {
            total.add_assign(p);
        }
    }
    total
}

/// Normalised residuals `X` of all sources for coefficients `coef` (parallel).
pub fn normalised_residuals(basis: &VshBasis, data: &PmData, coef: &[f64]) -> Vec<f64> {
    let mut x = vec![0.0; data.len()];
    x.par_chunks_mut(BLOCK / 4)
        .enumerate()
        .for_each(|(b, out)| {
            let start = b * (BLOCK / 4);
            for (k, xo) in out.iter_mut().enumerate() {
                let i = start + k;
                let (va, vd) = basis.field(coef, data.ra[i], data.dec[i]);
                *xo = data.normalised_residual(i, data.pmra[i] - va, data.pmdec[i] - vd);
            }
        });
    x
}

/// Median of a slice (mean of the two central values for an even length); NaN if empty.
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut w = v.to_vec();
    let h = w.len() / 2;
    let (lo, mid, _) = w.select_nth_unstable_by(h, f64::total_cmp);
    let mid = *mid;
    if v.len() % 2 == 1 {
        mid
    } else {
        let below = lo.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (below + mid)
    }
}

/// Solves the normal equations; maps a singular matrix to [`VshError::Singular`].
pub fn solve(ne: &NormalEquations, lmax: usize) -> Result<(Vec<f64>, Vec<f64>), VshError> {
    let dense = ne.to_dense();
    spd_solve_and_invert(&dense, &ne.rhs, ne.n).map_err(|e| VshError::Singular {
        coefficient: labels(lmax)
            .get(e.column)
            .map(|l| l.name())
            .unwrap_or_else(|| e.column.to_string()),
        lmax,
    })
}

/// Fits the VSH coefficients up to `opts.lmax` to `data`, with iterative clipping.
pub fn fit(data: &PmData, opts: &FitOptions) -> Result<VshFit, VshError> {
    if opts.lmax == 0 {
        return Err(VshError::Option("lmax must be at least 1".into()));
    }
    if opts.max_iter == 0 {
        return Err(VshError::Option("max_iter must be at least 1".into()));
    }
    if !opts.clip_kappa.is_finite() {
        return Err(VshError::Option(
            "the clipping factor must be finite".into(),
        ));
    }
    let n = n_coef(opts.lmax);
    let too_few = |n_sources: usize| VshError::TooFewSources {
        n_sources,
        n_obs: 2 * n_sources,
        n_coef: n,
        lmax: opts.lmax,
    };
    if 2 * data.len() <= n {
        return Err(too_few(data.len()));
    }
    let basis = VshBasis::new(opts.lmax);
    let clip = opts.clip_kappa > 0.0;
    let all = accumulate_all(&basis, data);
    let mut rejected = vec![false; data.len()];
    let mut rejected_idx: Vec<usize> = Vec::new();
    let mut iterations = 0;
    let mut converged = !clip;
    let mut threshold = None;
    let (coef, cov, x) = loop {
        iterations += 1;
        let ne = if rejected_idx.is_empty() {
            all.clone()
        } else {
            let mut ne = all.clone();
            ne.sub_assign(&accumulate_indices(&basis, data, &rejected_idx));
            ne
        };
        if 2 * ne.n_sources <= n {
            return Err(too_few(ne.n_sources));
        }
        let (coef, cov) = solve(&ne, opts.lmax)?;
        let x = normalised_residuals(&basis, data, &coef);
        if !clip {
            break (coef, cov, x);
        }
        let t = opts.clip_kappa * median(&x);
        if !(t.is_finite() && t > 0.0) {
            // Noise-free data (median X = 0): nothing to clip.
            converged = true;
            break (coef, cov, x);
        }
        threshold = Some(t);
        let new_rejected: Vec<bool> = x.iter().map(|&v| v > t).collect();
        if new_rejected == rejected {
            converged = true;
            break (coef, cov, x);
        }
        if iterations >= opts.max_iter {
            // Out of iterations: keep the last solution, which matches `rejected` (not the new
            // classification); report non-convergence.
            break (coef, cov, x);
        }
        rejected = new_rejected;
        rejected_idx = rejected
            .iter()
            .enumerate()
            .filter_map(|(i, &r)| r.then_some(i))
            .collect();
    };
    let n_used = rejected.iter().filter(|&&r| !r).count();
    let chi2 = x
        .iter()
        .zip(&rejected)
        .filter(|(_, &r)| !r)
        .map(|(v, _)| v * v)
        .sum();
    Ok(VshFit {
        lmax: opts.lmax,
        median_x: median(&x),
        coef,
        cov,
        n_sources: data.len(),
        n_used,
        rejected,
        x,
        chi2,
        dof: 2 * n_used - n,
        iterations,
        converged,
        clip_kappa: if clip { opts.clip_kappa } else { 0.0 },
        clip_threshold: if clip { threshold } else { None },
    })
}
