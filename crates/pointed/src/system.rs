//! The linearised global system: design equations of every observation, the normal
//! matrix applied matrix-free, its block diagonal, and the unknowns' layout.
//!
//! Unknowns (in this order): 5 per source (Δα*, Δδ, Δϖ, Δμα*, Δμδ), 3 per exposure
//! (Δα_p cos δ_p, Δδ_p, Δψ), and the distortion coefficients of every calibration unit in
//! the layout of [`Distortion`] ([unit][detector][axis][term]). The three gauge terms of each
//! unit (see `astrosolve_model::pointed`) stay in the layout but are fixed: they have no
//! column in the design matrix and unit diagonal in every block, so they stay exactly zero.
//!
//! Reference-catalogue priors add C⁻¹ to the source blocks of reference stars and
//! C⁻¹ (p_cat − p) to the right-hand side.

use crate::Problem;
use astrosolve_model::linalg::{cholesky_factor, cholesky_inverse, cholesky_solve_factored};
use astrosolve_model::pointed::{
    apply_attitude_update, apply_source_update, is_gauge_term, Distortion, N_ATT, N_DETECTORS,
    N_SRC,
};
use rayon::prelude::*;

/// Design equations of one observation (x and y rows) at the current parameters.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub src: u32,
    pub exp: u32,
    /// Offset of the x-axis coefficients of (unit, detector) in the distortion layout; the
    /// y-axis coefficients follow after `n_terms`.
    pub cal: u32,
    /// Weight 1/σ² (the same for x and y).
    pub w: f64,
    /// Observed minus computed (x, y) (rad).
    pub r: [f64; 2],
    pub ds: [[f64; N_SRC]; 2],
    pub da: [[f64; N_ATT]; 2],
}

/// Current values of all parameters.
#[derive(Clone, Debug)]
pub struct State {
    pub sources: Vec<[f64; N_SRC]>,
    pub attitude: Vec<[f64; N_ATT]>,
    pub distortion: Distortion,
}

/// Prior of one reference star in linearisation units at the reference epoch.
#[derive(Clone, Copy, Debug)]
pub struct Prior {
    pub source: usize,
    pub params: [f64; N_SRC],
    /// Inverse covariance (row-major).
    pub weight: [f64; N_SRC * N_SRC],
}

/// Difference p_a − p_b in linearisation units (Δα* = Δα cos δ).
pub fn param_diff(a: &[f64; N_SRC], b: &[f64; N_SRC]) -> [f64; N_SRC] {
    let mut da = a[0] - b[0];
    da -= std::f64::consts::TAU * (da / std::f64::consts::TAU).round();
    [
        da * b[1].cos(),
        a[1] - b[1],
        a[2] - b[2],
        a[3] - b[3],
        a[4] - b[4],
    ]
}

/// The linearised system of the global solution.
pub struct System {
    pub n_src: usize,
    pub n_exp: usize,
    pub n_terms: usize,
    /// Total distortion coefficients (all units, including fixed gauge terms).
    pub n_cal: usize,
    pub rows: Vec<Row>,
    /// Distortion basis of every row, `n_terms` per row.
    pub basis: Vec<f64>,
    /// Rows of source s: `src_start[s]..src_start[s + 1]`.
    pub src_start: Vec<usize>,
    /// Fixed (gauge) distortion coefficients.
    pub fixed: Vec<bool>,
    pub priors: Vec<Prior>,
    /// Right-hand side of the normal equations.
    pub rhs: Vec<f64>,
    /// Row chunks aligned with source boundaries: (first source, end source).
    chunks: Vec<(usize, usize)>,
}

impl System {
    pub fn n_unknowns(&self) -> usize {
        self.n_src * N_SRC + self.n_exp * N_ATT + self.n_cal
    }
    pub fn att0(&self) -> usize {
        self.n_src * N_SRC
    }
    pub fn cal0(&self) -> usize {
        self.att0() + self.n_exp * N_ATT
    }
    /// Number of unknowns of the reduced (attitude + calibration) system.
    pub fn n_reduced(&self) -> usize {
        self.n_exp * N_ATT + self.n_cal
    }
    /// Rows of source s.
    pub fn rows_of(&self, s: usize) -> std::ops::Range<usize> {
        self.src_start[s]..self.src_start[s + 1]
    }
    pub fn basis_of(&self, i: usize) -> &[f64] {
        &self.basis[i * self.n_terms..(i + 1) * self.n_terms]
    }

    /// Linearises every observation of `p` at `state` (autodiff Jacobians, in parallel).
    pub fn build(p: &Problem, state: &State) -> System {
        let model = &p.model;
        let t = model.n_terms();
        let n_src = p.n_sources;
        let n_exp = p.exposures.len();
        let dist = &state.distortion;
        // observations in source order
        let order = &p.by_source;
        let lin: Vec<(Row, [f64; 21])> = order
            .par_iter()
            .filter(|&&i| p.active[p.obs[i].source as usize])
            .map(|&i| {
                let o = &p.obs[i];
                let ex = &p.exposures[o.exposure as usize];
                let det = o.detector as usize;
                let g = model.geometry(ex.t, det, o.x, o.y);
                let off = dist.offset(ex.cal_unit, det, 0);
                let l = model.linearise(
                    &state.sources[o.source as usize],
                    &state.attitude[o.exposure as usize],
                    &dist.coeffs[off..off + t],
                    &dist.coeffs[off + t..off + 2 * t],
                    &g,
                );
                (
                    Row {
                        src: o.source,
                        exp: o.exposure,
                        cal: off as u32,
                        w: 1.0 / (o.sigma * o.sigma),
                        r: [o.x - l.x, o.y - l.y],
                        ds: [l.d_src_x, l.d_src_y],
                        da: [l.d_att_x, l.d_att_y],
                    },
                    l.basis,
                )
            })
            .collect();
        let mut rows = Vec::with_capacity(lin.len());
        let mut basis = Vec::with_capacity(lin.len() * t);
        for (r, b) in &lin {
            rows.push(*r);
            basis.extend_from_slice(&b[..t]);
        }
        drop(lin);
        let mut src_start = vec![0usize; n_src + 1];
        for r in &rows {
            src_start[r.src as usize + 1] += 1;
        }
        for s in 0..n_src {
            src_start[s + 1] += src_start[s];
        }
        let n_cal = dist.coeffs.len();
        let mut fixed = vec![false; n_cal];
        for unit in 0..dist.n_units {
            for det in 0..N_DETECTORS {
                for axis in 0..2 {
                    let o = dist.offset(unit, det, axis);
                    for k in 0..t {
                        fixed[o + k] = is_gauge_term(0, det, axis, k);
                    }
                }
            }
        }
        let priors = p
            .refs
            .iter()
            .map(|r| {
                let (params, cov) = r.prior_at_reference_epoch();
                let mut a: Vec<f64> = cov.iter().flatten().copied().collect();
                let mut inv = [0.0; N_SRC * N_SRC];
                // positive definite: Problem::new checks the uncertainties are > 0
                cholesky_factor(&mut a, N_SRC).expect("reference covariance positive definite");
                cholesky_inverse(&a, N_SRC, &mut inv);
                Prior {
                    source: r.source_index,
                    params,
                    weight: inv,
                }
            })
            .collect();
        // chunks of about equal numbers of rows, aligned with sources
        let n_chunks = (4 * rayon::current_num_threads()).max(1);
        let per = rows.len().div_ceil(n_chunks).max(1);
        let mut chunks = Vec::new();
        let mut s0 = 0;
        while s0 < n_src {
            let mut s1 = s0 + 1;
            while s1 < n_src && src_start[s1] - src_start[s0] < per {
                s1 += 1;
            }
            chunks.push((s0, s1));
            s0 = s1;
        }
        let mut sys = System {
            n_src,
            n_exp,
            n_terms: t,
            n_cal,
            rows,
            basis,
            src_start,
            fixed,
            priors,
            rhs: Vec::new(),
            chunks,
        };
        sys.rhs = sys.right_hand_side(state);
        sys
    }

    /// b = Aᵀ W r + Σ priors C⁻¹ (p_cat − p).
    fn right_hand_side(&self, state: &State) -> Vec<f64> {
        let mut b = self.accumulate(None);
        for pr in &self.priors {
            let d = param_diff(&pr.params, &state.sources[pr.source]);
            for a in 0..N_SRC {
                b[pr.source * N_SRC + a] += (0..N_SRC)
                    .map(|c| pr.weight[a * N_SRC + c] * d[c])
                    .sum::<f64>();
            }
        }
        b
    }

    /// Aᵀ W (A x) (x given) or Aᵀ W r (x None), in parallel: each chunk writes its own
    /// sources and accumulates attitude and calibration locally, then the locals are summed.
    fn accumulate(&self, x: Option<&[f64]>) -> Vec<f64> {
        let n = self.n_unknowns();
        let a0 = self.att0();
        let c0 = self.cal0();
        let t = self.n_terms;
        let parts: Vec<(usize, Vec<f64>, Vec<f64>)> = self
            .chunks
            .par_iter()
            .map(|&(s0, s1)| {
                let mut ys = vec![0.0; (s1 - s0) * N_SRC];
                let mut yr = vec![0.0; n - a0];
                for i in self.src_start[s0]..self.src_start[s1] {
                    let row = &self.rows[i];
                    let bs = self.basis_of(i);
                    let s = row.src as usize;
                    let e = row.exp as usize;
                    for axis in 0..2 {
                        let cal = row.cal as usize + axis * t;
                        let v = match x {
                            Some(x) => {
                                let mut v = 0.0;
                                for k in 0..N_SRC {
                                    v += row.ds[axis][k] * x[s * N_SRC + k];
                                }
                                for k in 0..N_ATT {
                                    v += row.da[axis][k] * x[a0 + e * N_ATT + k];
                                }
                                for k in 0..t {
                                    if !self.fixed[cal + k] {
                                        v += bs[k] * x[c0 + cal + k];
                                    }
                                }
                                v * row.w
                            }
                            None => row.r[axis] * row.w,
                        };
                        let ls = (s - s0) * N_SRC;
                        for k in 0..N_SRC {
                            ys[ls + k] += row.ds[axis][k] * v;
                        }
                        for k in 0..N_ATT {
                            yr[e * N_ATT + k] += row.da[axis][k] * v;
                        }
                        let lc = c0 - a0 + cal;
                        for k in 0..t {
                            if !self.fixed[cal + k] {
                                yr[lc + k] += bs[k] * v;
                            }
                        }
                    }
                }
                (s0, ys, yr)
            })
            .collect();
        let mut y = vec![0.0; n];
        for (s0, ys, yr) in parts {
            y[s0 * N_SRC..s0 * N_SRC + ys.len()].copy_from_slice(&ys);
            for (a, b) in y[a0..].iter_mut().zip(&yr) {
                *a += b;
            }
        }
        y
    }

    /// y = N x with N = Aᵀ W A + priors (fixed terms give zero).
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        let mut y = self.accumulate(Some(x));
        for pr in &self.priors {
            let o = pr.source * N_SRC;
            for a in 0..N_SRC {
                y[o + a] += (0..N_SRC)
                    .map(|c| pr.weight[a * N_SRC + c] * x[o + c])
                    .sum::<f64>();
            }
        }
        y
    }

    /// Normal-matrix blocks of one source: N_ss (with prior) and b_s.
    pub fn source_block(&self, s: usize) -> [f64; N_SRC * N_SRC] {
        let mut n = [0.0; N_SRC * N_SRC];
        for i in self.rows_of(s) {
            let row = &self.rows[i];
            for axis in 0..2 {
                let d = &row.ds[axis];
                for a in 0..N_SRC {
                    for b in 0..N_SRC {
                        n[a * N_SRC + b] += row.w * d[a] * d[b];
                    }
                }
            }
        }
        n
    }

    /// Adds the priors to a source block.
    pub fn add_prior(&self, prior_of: &[Option<usize>], s: usize, n: &mut [f64]) {
        if let Some(k) = prior_of[s] {
            for (a, w) in n.iter_mut().zip(&self.priors[k].weight) {
                *a += w;
            }
        }
    }

    /// For each source, the index of its prior (if it is a reference star).
    pub fn prior_index(&self) -> Vec<Option<usize>> {
        let mut v = vec![None; self.n_src];
        for (k, p) in self.priors.iter().enumerate() {
            v[p.source] = Some(k);
        }
        v
    }

    /// The block-diagonal part of N, factored (Cholesky): sources 5×5, exposures 3×3,
    /// distortion one dense block per (unit, detector, axis). Fails, naming the block, if
    /// one is singular (data that do not determine those unknowns).
    pub fn block_diagonal(&self) -> Result<BlockDiagonal, String> {
        let prior_of = self.prior_index();
        let t = self.n_terms;
        let src: Vec<Result<[f64; 25], String>> = (0..self.n_src)
            .into_par_iter()
            .map(|s| {
                let mut n = self.source_block(s);
                self.add_prior(&prior_of, s, &mut n);
                if n[0] == 0.0 {
                    // unobserved source without prior: keep it fixed
                    for k in 0..N_SRC {
                        n[k * N_SRC + k] = 1.0;
                    }
                }
                cholesky_factor(&mut n, N_SRC).map_err(|_| {
                    format!("source {s}: its images do not determine its five parameters (singular normal block)")
                })?;
                Ok(n)
            })
            .collect();
        let src = src.into_iter().collect::<Result<Vec<_>, String>>()?;
        let n_cal_blocks = self.n_cal / t;
        let mut att = vec![[0.0; 9]; self.n_exp];
        let mut cal = vec![0.0; n_cal_blocks * t * t];
        for (i, row) in self.rows.iter().enumerate() {
            let bs = self.basis_of(i);
            let e = row.exp as usize;
            for axis in 0..2 {
                let d = &row.da[axis];
                for a in 0..N_ATT {
                    for b in 0..N_ATT {
                        att[e][a * 3 + b] += row.w * d[a] * d[b];
                    }
                }
                let blk = (row.cal as usize + axis * t) / t;
                let m = &mut cal[blk * t * t..(blk + 1) * t * t];
                for a in 0..t {
                    for b in 0..t {
                        m[a * t + b] += row.w * bs[a] * bs[b];
                    }
                }
            }
        }
        for (e, a) in att.iter_mut().enumerate() {
            if a[0] == 0.0 {
                *a = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
            }
            cholesky_factor(a, 3).map_err(|_| {
                format!(
                    "exposure {e}: its images do not determine pointing and roll (too few images)"
                )
            })?;
        }
        for blk in 0..n_cal_blocks {
            let m = &mut cal[blk * t * t..(blk + 1) * t * t];
            for k in 0..t {
                if self.fixed[blk * t + k] || m[k * t + k] == 0.0 {
                    for j in 0..t {
                        m[k * t + j] = 0.0;
                        m[j * t + k] = 0.0;
                    }
                    m[k * t + k] = 1.0;
                }
            }
            cholesky_factor(m, t).map_err(|_| {
                let (unit, det, axis) = (blk / (2 * N_DETECTORS), (blk / 2) % N_DETECTORS, blk % 2);
                format!(
                    "calibration unit {unit}, detector {det}, axis {}: too few or too clustered images to determine a distortion of {t} terms",
                    ["x", "y"][axis]
                )
            })?;
        }
        Ok(BlockDiagonal {
            src,
            att,
            cal,
            t,
            n_src: self.n_src,
            n_exp: self.n_exp,
        })
    }
}

/// Factored diagonal blocks of the normal matrix.
pub struct BlockDiagonal {
    pub src: Vec<[f64; 25]>,
    pub att: Vec<[f64; 9]>,
    pub cal: Vec<f64>,
    t: usize,
    n_src: usize,
    n_exp: usize,
}

/// Which group of unknowns a block solve applies to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Sources,
    Attitude,
    Calibration,
}

impl BlockDiagonal {
    /// z = D⁻¹ r for the unknowns of `group` (others untouched).
    pub fn solve_group(&self, group: Group, r: &[f64], z: &mut [f64]) {
        let a0 = self.n_src * N_SRC;
        let c0 = a0 + self.n_exp * N_ATT;
        match group {
            Group::Sources => {
                z[..a0]
                    .par_chunks_mut(N_SRC)
                    .zip(r[..a0].par_chunks(N_SRC))
                    .zip(self.src.par_iter())
                    .for_each(|((z, r), l)| {
                        z.copy_from_slice(r);
                        cholesky_solve_factored(l, z, N_SRC);
                    });
            }
            Group::Attitude => {
                for (e, l) in self.att.iter().enumerate() {
                    let z = &mut z[a0 + e * 3..a0 + e * 3 + 3];
                    z.copy_from_slice(&r[a0 + e * 3..a0 + e * 3 + 3]);
                    cholesky_solve_factored(l, z, 3);
                }
            }
            Group::Calibration => {
                let t = self.t;
                for blk in 0..self.cal.len() / (t * t) {
                    let z = &mut z[c0 + blk * t..c0 + (blk + 1) * t];
                    z.copy_from_slice(&r[c0 + blk * t..c0 + (blk + 1) * t]);
                    cholesky_solve_factored(&self.cal[blk * t * t..(blk + 1) * t * t], z, t);
                }
            }
        }
    }

    /// z = D⁻¹ r for all unknowns.
    pub fn solve(&self, r: &[f64], z: &mut [f64]) {
        self.solve_group(Group::Sources, r, z);
        self.solve_group(Group::Attitude, r, z);
        self.solve_group(Group::Calibration, r, z);
    }

    /// Inverse of the 5×5 block of source s (its formal covariance ignoring the other unknowns).
    pub fn source_covariance(&self, s: usize) -> [[f64; N_SRC]; N_SRC] {
        let mut inv = [0.0; 25];
        cholesky_inverse(&self.src[s], N_SRC, &mut inv);
        std::array::from_fn(|a| std::array::from_fn(|b| inv[a * N_SRC + b]))
    }
}

/// Applies a solution vector of the system to the state; returns the largest update of
/// sources, attitude and calibration (rad, rad/yr).
pub fn apply_update(sys: &System, state: &mut State, dx: &[f64]) -> [f64; 3] {
    let mut m = [0.0f64; 3];
    for s in 0..sys.n_src {
        let d = &dx[s * N_SRC..(s + 1) * N_SRC];
        apply_source_update(&mut state.sources[s], d);
        m[0] = d.iter().fold(m[0], |a, v| a.max(v.abs()));
    }
    let a0 = sys.att0();
    for e in 0..sys.n_exp {
        let d = &dx[a0 + e * N_ATT..a0 + (e + 1) * N_ATT];
        apply_attitude_update(&mut state.attitude[e], d);
        m[1] = d.iter().fold(m[1], |a, v| a.max(v.abs()));
    }
    let c0 = sys.cal0();
    for (k, c) in state.distortion.coeffs.iter_mut().enumerate() {
        *c += dx[c0 + k];
        m[2] = m[2].max(dx[c0 + k].abs());
    }
    m
}
