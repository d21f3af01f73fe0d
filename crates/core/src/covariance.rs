//! Full covariance of every unknown from the direct solution (solver units; × σ₀² =
//! [`crate::design::W_SCALE`] gives rad²): the inverse of the augmented constrained normal
//! matrix restricted to the unknowns (Holl & Lindegren 2012 for why the 5×5 blocks alone
//! underestimate it). With E_s' = [G_sᵀ, U_s] (NS × (m_s + k)) and Z the inverse of the reduced
//! matrix over (g, y),
//!   Z = [[S⁻¹, S⁻¹BC], [CBᵀS⁻¹, −C + CBᵀS⁻¹BC]],
//!   Cov(x_s, x_t) = L_s⁻ᵀ (δ_st I + E_s' Z E_t'ᵀ) L_t⁻¹,
//!   Cov(x_s, g_q) = −L_s⁻ᵀ E_s' Z[·, q],   Cov(g_p, g_q) = S⁻¹_pq.
//! Inverting S costs n³ and 8n² bytes; while it runs, faer holds the factor, the inverse and a
//! scratch matrix for L⁻¹ ([`COVARIANCE_MATRICES`]).

use crate::schur::{backward, Constrained, Reduced};
use faer::linalg::solvers::DenseSolveCore;
use faer::Mat;
use rayon::prelude::*;

/// Most n × n matrices held at once while the covariance is formed: the Cholesky factor of S,
/// the inverse, and faer's scratch matrix for L⁻¹ (`Llt::inverse`, faer 0.24
/// `cholesky::llt::inverse::inverse_scratch`). Before that, the factorisation itself holds two
/// ([`crate::schur::step_matrices`]).
pub const COVARIANCE_MATRICES: u64 = 3;

/// The covariance of a direct solution.
pub struct Covariance<const NS: usize> {
    red: Reduced<NS>,
    sinv: Mat<f64>,
    zay: Vec<f64>,
    zyy: Vec<f64>,
}

impl<const NS: usize> Reduced<NS> {
    /// Full covariance of the constrained solution from the factor of S (inverts S: O(n³)).
    pub fn covariance(self, cons: Constrained) -> Covariance<NS> {
        let (n, k) = (self.n, self.k);
        let sinv = cons.llt.inverse();
        // Z_gy = S⁻¹ B C (n × k), Z_yy = −C + C Bᵀ S⁻¹ B C (k × k)
        let mut zay = vec![0.0; n * k];
        for a in 0..k {
            let col = &cons.bc[a * n..(a + 1) * n];
            let out = &mut zay[a * n..(a + 1) * n];
            out.par_iter_mut().enumerate().for_each(|(i, o)| {
                *o = (0..n).map(|j| sinv[(j, i)] * col[j]).sum();
            });
        }
        let mut zyy = vec![0.0; k * k];
        for p in 0..k {
            for q in 0..k {
                zyy[p * k + q] = -cons.cm[p * k + q]
                    + (0..n)
                        .map(|i| cons.bc[p * n + i] * zay[q * n + i])
                        .sum::<f64>();
            }
        }
        Covariance {
            red: self,
            sinv,
            zay,
            zyy,
        }
    }
}

impl<const NS: usize> Covariance<NS> {
    /// Number of global unknowns.
    pub fn n_global(&self) -> usize {
        self.red.n
    }

    /// Z element between two indices of (g, y) space (y indices are n + q).
    #[inline]
    fn z(&self, p: usize, q: usize) -> f64 {
        let n = self.red.n;
        let k = self.red.k;
        match (p < n, q < n) {
            (true, true) => self.sinv[(p, q)],
            (true, false) => self.zay[(q - n) * n + p],
            (false, true) => self.zay[(p - n) * n + q],
            (false, false) => self.zyy[(p - n) * k + (q - n)],
        }
    }

    /// E_s' = [G_sᵀ, U_s] (row-major NS × (m + k)) and its (g, y) indices.
    fn e_prime(&self, i: usize) -> (Vec<usize>, Vec<f64>) {
        let cp = &self.red.src[i];
        let (m, k, n) = (cp.idx.len(), self.red.k, self.red.n);
        let mut idx: Vec<usize> = cp.idx.iter().map(|&p| p as usize).collect();
        idx.extend(n..n + k);
        let w = m + k;
        let mut e = vec![0.0; NS * w];
        for r in 0..NS {
            e[r * w..r * w + m].copy_from_slice(&cp.gt[r * m..(r + 1) * m]);
            e[r * w + m..(r + 1) * w].copy_from_slice(&cp.u[r * k..(r + 1) * k]);
        }
        (idx, e)
    }

    /// Covariance between the NS unknowns of sources i and j.
    pub fn source_pair(&self, i: usize, j: usize) -> [[f64; NS]; NS] {
        let mut out = [[0.0; NS]; NS];
        if !self.red.active[i] || !self.red.active[j] {
            return out;
        }
        let (ii, ei) = self.e_prime(i);
        let (jj, ej) = self.e_prime(j);
        let (wi, wj) = (ii.len(), jj.len());
        let mut t = vec![0.0; NS * wj];
        for (p, &gp) in ii.iter().enumerate() {
            for (q, &gq) in jj.iter().enumerate() {
                let z = self.z(gp, gq);
                for r in 0..NS {
                    t[r * wj + q] += ei[r * wi + p] * z;
                }
            }
        }
        for r in 0..NS {
            for c in 0..NS {
                out[r][c] = (0..wj).map(|q| t[r * wj + q] * ej[c * wj + q]).sum();
            }
        }
        if i == j {
            for r in 0..NS {
                out[r][r] += 1.0;
            }
        }
        // L_i⁻ᵀ (·) L_j⁻¹: columns by L_i⁻ᵀ, then rows by L_j⁻ᵀ
        for c in 0..NS {
            let mut col: [f64; NS] = std::array::from_fn(|r| out[r][c]);
            backward(&self.red.chol[i], &mut col);
            for r in 0..NS {
                out[r][c] = col[r];
            }
        }
        for row in out.iter_mut() {
            backward(&self.red.chol[j], row);
        }
        out
    }

    /// The complete NS × NS covariance of source i, global contributions included.
    pub fn source_block(&self, i: usize) -> [[f64; NS]; NS] {
        self.source_pair(i, i)
    }

    /// All source blocks, in parallel.
    pub fn source_blocks(&self) -> Vec<[[f64; NS]; NS]> {
        (0..self.red.n_src)
            .into_par_iter()
            .map(|i| self.source_block(i))
            .collect()
    }

    /// Covariance between any two unknowns of the full vector [sources | global].
    pub fn element(&self, p: usize, q: usize) -> f64 {
        let g0 = self.red.g0;
        match (p < g0, q < g0) {
            (false, false) => self.sinv[(p - g0, q - g0)],
            (true, true) => self.source_pair(p / NS, q / NS)[p % NS][q % NS],
            (true, false) => self.source_global(p / NS, q - g0)[p % NS],
            (false, true) => self.source_global(q / NS, p - g0)[q % NS],
        }
    }

    /// Covariance of source i's unknowns with global unknown q: −L_i⁻ᵀ E_i' Z[·, q].
    fn source_global(&self, i: usize, q: usize) -> [f64; NS] {
        let mut v = [0.0; NS];
        if !self.red.active[i] {
            return v;
        }
        let (ii, ei) = self.e_prime(i);
        let w = ii.len();
        for (p, &gp) in ii.iter().enumerate() {
            let z = self.z(gp, q);
            for r in 0..NS {
                v[r] -= ei[r * w + p] * z;
            }
        }
        backward(&self.red.chol[i], &mut v);
        v
    }

    /// Variance of global unknown j (solver units).
    pub fn global_variance(&self, j: usize) -> f64 {
        self.sinv[(j, j)]
    }
}
