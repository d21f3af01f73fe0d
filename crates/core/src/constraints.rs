//! Everything in the normal equations that is not an observation: pseudo-observations on the
//! global unknowns (an attitude quaternion's norm, the calibration convention, the gauge terms
//! of a pointed instrument), damping, priors on sources (reference stars), and the frame rows
//! that remove the six-dimensional defect of a self-calibrating solution.
//!
//! Each is a weighted observation equation, written once here and used by every solver:
//! - pseudo-observation k on g:   √u_k (e_kᵀ Δg − ρ_k) ≈ 0  →  N_gg += u_k e_k e_kᵀ,  b_g += u_k ρ_k e_k;
//! - damping d on every global unknown:  √d Δg_j ≈ 0  →  N_gg += d I (Levenberg–Marquardt:
//!   it vanishes with the update and keeps unobserved knots or units regular);
//! - prior on source s:   L_sᵀ (Δx_s − δ_s) ≈ 0 with P_s = L_s L_sᵀ the prior's inverse
//!   covariance and δ_s = p_prior − p  →  N_ss += P_s,  b_s += P_s δ_s;
//! - frame row k:   √f_k v_kᵀ Δx ≈ 0  →  N += f_k v_k v_kᵀ (f_k = 1/(v_kᵀK⁻¹v_k): as stiff as
//!   the preconditioned system). Only the constrained six directions change.
//!
//! Units: those of the whitened design rows (values relative to σ₀ = [`crate::design::SIGMA_UNIT`]).

/// Pseudo-observations on global unknowns, in compressed-row form.
#[derive(Clone, Debug, Default)]
pub struct Constraints {
    /// Row k's entries are `idx[ptr[k]..ptr[k + 1]]`, `val[…]`.
    pub ptr: Vec<usize>,
    pub idx: Vec<u32>,
    pub val: Vec<f64>,
    /// Right-hand side ρ_k.
    pub rhs: Vec<f64>,
    /// Weight u_k.
    pub weight: Vec<f64>,
    /// Damping d added to every global unknown.
    pub damping: f64,
}

impl Constraints {
    pub fn new(damping: f64) -> Self {
        Constraints {
            ptr: vec![0],
            damping,
            ..Default::default()
        }
    }

    /// Appends √u (eᵀ Δg − ρ) ≈ 0.
    pub fn push(&mut self, entries: impl IntoIterator<Item = (usize, f64)>, rhs: f64, weight: f64) {
        for (i, v) in entries {
            self.idx.push(i as u32);
            self.val.push(v);
        }
        self.ptr.push(self.idx.len());
        self.rhs.push(rhs);
        self.weight.push(weight);
    }

    pub fn len(&self) -> usize {
        self.rhs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rhs.is_empty()
    }

    /// Entries of row k.
    #[inline]
    pub fn row(&self, k: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let r = self.ptr[k]..self.ptr[k + 1];
        self.idx[r.clone()]
            .iter()
            .zip(&self.val[r])
            .map(|(&i, &v)| (i as usize, v))
    }

    /// y_g += (Σ_k u_k e_k e_kᵀ + d I) p_g.
    pub fn apply(&self, p: &[f64], y: &mut [f64]) {
        for k in 0..self.len() {
            let s: f64 = self.row(k).map(|(i, v)| v * p[i]).sum::<f64>() * self.weight[k];
            for (i, v) in self.row(k) {
                y[i] += s * v;
            }
        }
        if self.damping != 0.0 {
            for (yi, pi) in y.iter_mut().zip(p) {
                *yi += self.damping * pi;
            }
        }
    }

    /// b_g += Σ_k u_k ρ_k e_k.
    pub fn add_rhs(&self, b: &mut [f64]) {
        for k in 0..self.len() {
            let s = self.weight[k] * self.rhs[k];
            for (i, v) in self.row(k) {
                b[i] += s * v;
            }
        }
    }
}

/// Gaussian prior on the NS unknowns of one source.
#[derive(Clone, Copy, Debug)]
pub struct SourcePrior<const NS: usize> {
    pub source: usize,
    /// Inverse covariance P (solver units: σ₀²-scaled).
    pub weight: [[f64; NS]; NS],
    /// δ = p_prior − p in the linearisation unknowns.
    pub delta: [f64; NS],
}

impl<const NS: usize> SourcePrior<NS> {
    /// P δ.
    pub fn rhs(&self) -> [f64; NS] {
        std::array::from_fn(|r| (0..NS).map(|c| self.weight[r][c] * self.delta[c]).sum())
    }
}
