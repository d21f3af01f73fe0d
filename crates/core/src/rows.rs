//! The linear system of one outer iteration as weighted observation equations A x ≈ u, such that
//! AᵀA = N and Aᵀu = b of [`crate::system`] exactly: what LSQR iterates on (as Gaia's AVU-GSR,
//! Vecchiato et al. 2018) and what is exported for other solvers.
//!
//! Rows, in order: the whitened design rows (all sources, design order; those of unsolved
//! sources are zero), the pseudo-observations √u_k e_kᵀ g = √u_k ρ_k, the damping rows √d g_j = 0,
//! the prior rows L_sᵀ x_s = L_sᵀ δ_s (P_s = L_sL_sᵀ), the frame rows √f_k v_kᵀ x = 0, and identity
//! rows fixing the unknowns of unsolved sources. Nothing is stored: products are passes over
//! the design rows like those of [`crate::system`]; LSQR's two products of an iteration are
//! one pass ([`LinearOperator::fused_step`]: u ← A x − c u, then Aᵀu, row by row).
//!
//! Right preconditioning Â = A P⁻¹ (x = P⁻¹ x̂): [`LsqrPreconditioner::Columns`] scales every
//! column to unit norm (AVU-GSR); [`LsqrPreconditioner::Blocks`] (default) orthonormalises the
//! columns of each diagonal block with its Cholesky factor, P = Lᵀ with N_ss = L Lᵀ and
//! K_g = L Lᵀ — the blocks PCG inverts. Variances map back exactly:
//! var(x)_j = Σ_k ((P⁻¹ d_k)_j)² over LSQR's directions d_k.
//!
//! Distributed ([`crate::comm`]): each rank holds the design, prior and identity rows of its
//! own sources; the pseudo-observation, damping and frame rows are replicated. The global part
//! of Aᵀu and the column norms are summed per chunk and the chunks added in global chunk order
//! over the ranks, the frame rows' v_kᵀx as [`System::dot`]; norms of row-space vectors add
//! one partial per chunk (its design rows, then its sources' prior and identity rows) in global
//! chunk order, then the replicated rows on every rank ([`LinearOperator::dot_rows`]): the
//! one-process bits on ranks cut at chunk boundaries.

use crate::chunks::{split_mut, OrderedSum};
use crate::design::{src_f64, DesignRow};
use crate::lsqr::LinearOperator;
use crate::system::System;
use astrosolve_model::linalg::cholesky_factor;
use rayon::prelude::*;
use std::sync::Mutex;

/// Right preconditioner of LSQR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LsqrPreconditioner {
    /// Unit column norms (AVU-GSR).
    Columns,
    /// Each diagonal block's columns orthonormalised by its Cholesky factor.
    Blocks,
}

/// Row view of a [`System`].
pub struct Rows<'s, 'd, const NS: usize, R: DesignRow<NS>> {
    pub sys: &'s System<'d, NS, R>,
    inactive: Vec<usize>,
    /// Prior factors Lᵀ (upper, row-major) and their right-hand sides.
    prior_rows: Vec<([[f64; NS]; NS], [f64; NS])>,
    sum: Mutex<OrderedSum>,
    /// Scratch of the fused LSQR step: the rows after the design rows.
    extra: Mutex<Vec<f64>>,
    /// Σu² of each chunk in the fused LSQR step, added in chunk order.
    chunk_sq: Mutex<Vec<f64>>,
    n_design: usize,
}

impl<'s, 'd, const NS: usize, R: DesignRow<NS>> Rows<'s, 'd, NS, R> {
    pub fn new(sys: &'s System<'d, NS, R>) -> Self {
        let prior_rows = sys
            .priors
            .iter()
            .map(|p| {
                let mut l = p.weight;
                // a prior's weight is positive definite by construction (the instrument checks σ > 0)
                if cholesky_factor(l.as_flattened_mut(), NS).is_err() {
                    l = [[0.0; NS]; NS];
                }
                let mut lt = [[0.0; NS]; NS];
                for r in 0..NS {
                    for c in 0..=r {
                        lt[c][r] = l[r][c];
                    }
                }
                let rhs = std::array::from_fn(|r| (0..NS).map(|c| lt[r][c] * p.delta[c]).sum());
                (lt, rhs)
            })
            .collect();
        let mut rows = Rows {
            sys,
            inactive: (0..sys.n_src).filter(|&i| !sys.active[i]).collect(),
            prior_rows,
            sum: Mutex::new(OrderedSum::for_chunks(sys.chunks.len(), sys.layout.n)),
            extra: Mutex::new(Vec::new()),
            chunk_sq: Mutex::new(vec![0.0; sys.chunks.len()]),
            n_design: sys.design.n_rows(),
        };
        let n_extra = rows.n_rows() - rows.n_design;
        rows.extra = Mutex::new(vec![0.0; n_extra]);
        rows
    }

    /// The design rows' part of u split along the source chunks.
    fn design_slices<'u>(&self, u_d: &'u mut [f64]) -> Vec<&'u mut [f64]> {
        let offs = &self.sys.design.offsets;
        let mut slices = Vec::with_capacity(self.sys.chunks.len());
        let mut tail: &mut [f64] = u_d;
        for r in &self.sys.chunks {
            let (a, b) = std::mem::take(&mut tail).split_at_mut(offs[r.end] - offs[r.start]);
            slices.push(a);
            tail = b;
        }
        slices
    }

    fn con0(&self) -> usize {
        self.n_design
    }
    fn damp0(&self) -> usize {
        self.con0() + self.sys.constraints.len()
    }
    fn n_damp(&self) -> usize {
        if self.sys.constraints.damping > 0.0 {
            self.sys.layout.n
        } else {
            0
        }
    }
    fn prior0(&self) -> usize {
        self.damp0() + self.n_damp()
    }
    fn frame0(&self) -> usize {
        self.prior0() + NS * self.prior_rows.len()
    }
    fn inactive0(&self) -> usize {
        self.frame0() + self.sys.frame.len()
    }

    /// The right-hand side u (Aᵀu = b).
    pub fn rhs(&self) -> Vec<f64> {
        let sys = self.sys;
        let mut u = vec![0.0; self.n_rows()];
        let (u_d, rest) = u.split_at_mut(self.n_design);
        let offs = &sys.design.offsets;
        u_d.par_chunks_mut(1024).enumerate().for_each(|(bi, ch)| {
            let r0 = bi * 1024;
            let mut i = offs.partition_point(|&o| o <= r0) - 1;
            for (k, v) in ch.iter_mut().enumerate() {
                let r = r0 + k;
                while offs[i + 1] <= r {
                    i += 1;
                }
                *v = if sys.active[i] {
                    sys.design.rows[r].residual() as f64
                } else {
                    0.0
                };
            }
        });
        let c = &sys.constraints;
        for k in 0..c.len() {
            rest[k] = c.weight[k].sqrt() * c.rhs[k];
        }
        let p0 = self.prior0() - self.n_design;
        for (k, (_, rhs)) in self.prior_rows.iter().enumerate() {
            rest[p0 + NS * k..p0 + NS * k + NS].copy_from_slice(rhs);
        }
        u
    }

    /// Calls f(row, column, value) for every non-zero of A, rows in increasing order (for
    /// export to other solvers; the solvers themselves use the passes).
    pub fn for_each_entry(&self, mut f: impl FnMut(usize, usize, f64)) {
        let sys = self.sys;
        let g0 = sys.g0();
        let offs = &sys.design.offsets;
        for i in 0..sys.n_src {
            if !sys.active[i] {
                continue;
            }
            for (k, row) in sys.design.of_source(i).iter().enumerate() {
                let r = offs[i] + k;
                for (j, &a) in row.src().iter().enumerate() {
                    if a != 0.0 {
                        f(r, NS * i + j, a as f64);
                    }
                }
                row.segments(&mut |start, coef| {
                    for (j, &c) in coef.iter().enumerate() {
                        if c != 0.0 {
                            f(r, g0 + start + j, c);
                        }
                    }
                });
            }
        }
        let c = &sys.constraints;
        for k in 0..c.len() {
            let s = c.weight[k].sqrt();
            for (j, v) in c.row(k) {
                f(self.con0() + k, g0 + j, s * v);
            }
        }
        let sd = c.damping.sqrt();
        for j in 0..self.n_damp() {
            f(self.damp0() + j, g0 + j, sd);
        }
        for (k, ((lt, _), p)) in self.prior_rows.iter().zip(&sys.priors).enumerate() {
            for r in 0..NS {
                for q in r..NS {
                    f(self.prior0() + NS * k + r, NS * p.source + q, lt[r][q]);
                }
            }
        }
        for (k, (fw, v)) in sys.frame.iter().enumerate() {
            let s = fw.sqrt();
            for (j, &vj) in v.iter().enumerate() {
                if vj != 0.0 {
                    f(self.frame0() + k, j, s * vj);
                }
            }
        }
        for (k, &i) in self.inactive.iter().enumerate() {
            for q in 0..NS {
                f(self.inactive0() + NS * k + q, NS * i + q, 1.0);
            }
        }
    }

    /// Squared column norms of A (the diagonal of N).
    pub fn column_sq_norms(&self) -> Vec<f64> {
        let sys = self.sys;
        let g0 = sys.g0();
        let mut d = vec![0.0; sys.n()];
        let (d_s, d_g) = d.split_at_mut(g0);
        let items = split_mut(d_s, &sys.chunks, NS);
        let mut sum = self.sum.lock().expect("lsqr workspace");
        sum.run_on(sys.comm, items, d_g, |c, ds, acc| {
            for (ii, i) in sys.chunks[c].clone().enumerate() {
                let o = &mut ds[NS * ii..NS * ii + NS];
                if !sys.active[i] {
                    o.iter_mut().for_each(|v| *v = 1.0);
                    continue;
                }
                for row in sys.design.of_source(i) {
                    let a = src_f64(row);
                    for k in 0..NS {
                        o[k] += a[k] * a[k];
                    }
                    row.segments(&mut |start, coef| {
                        for (j, cj) in coef.iter().enumerate() {
                            acc[start + j] += cj * cj;
                        }
                    });
                }
            }
        });
        drop(sum);
        let c = &sys.constraints;
        for k in 0..c.len() {
            for (j, v) in c.row(k) {
                d_g[j] += c.weight[k] * v * v;
            }
        }
        d_g.iter_mut().for_each(|v| *v += c.damping);
        for (k, p) in sys.priors.iter().enumerate() {
            let _ = k;
            for r in 0..NS {
                d_s[NS * p.source + r] += p.weight[r][r];
            }
        }
        for (f, v) in &sys.frame {
            d.par_iter_mut()
                .zip(v)
                .for_each(|(di, vi)| *di += f * vi * vi);
        }
        d
    }
}

impl<const NS: usize, R: DesignRow<NS>> LinearOperator for Rows<'_, '_, NS, R> {
    fn n_rows(&self) -> usize {
        self.inactive0() + NS * self.inactive.len()
    }

    fn n_cols(&self) -> usize {
        self.sys.n()
    }

    /// u = A x.
    fn matvec(&self, x: &[f64], u: &mut [f64]) {
        let sys = self.sys;
        let g0 = sys.g0();
        let (x_s, x_g) = x.split_at(g0);
        let (u_d, rest) = u.split_at_mut(self.n_design);
        let offs = &sys.design.offsets;
        self.design_slices(u_d)
            .into_par_iter()
            .zip(sys.chunks.par_iter())
            .for_each(|(ud, range)| {
                let base = offs[range.start];
                for i in range.clone() {
                    let o = &mut ud[offs[i] - base..offs[i + 1] - base];
                    if !sys.active[i] {
                        o.iter_mut().for_each(|v| *v = 0.0);
                        continue;
                    }
                    let xs: &[f64; NS] = x_s[NS * i..NS * i + NS].try_into().expect("NS");
                    crate::design::product_rows(sys.design.of_source(i), xs, x_g, o);
                }
            });
        self.extra_matvec(x, rest);
    }

    /// x = Aᵀ u.
    fn rmatvec(&self, u: &[f64], x: &mut [f64]) {
        let sys = self.sys;
        let g0 = sys.g0();
        let (u_d, rest) = u.split_at(self.n_design);
        let (x_s, x_g) = x.split_at_mut(g0);
        let offs = &sys.design.offsets;
        let items = split_mut(x_s, &sys.chunks, NS);
        let mut sum = self.sum.lock().expect("lsqr workspace");
        sum.run_on(sys.comm, items, x_g, |c, xs, acc| {
            for (ii, i) in sys.chunks[c].clone().enumerate() {
                let o: &mut [f64; NS] = (&mut xs[NS * ii..NS * ii + NS]).try_into().expect("NS");
                *o = [0.0; NS];
                if !sys.active[i] {
                    continue;
                }
                let ui = &u_d[offs[i]..offs[i + 1]];
                crate::design::transpose_rows(sys.design.of_source(i), ui, o, acc);
            }
        });
        drop(sum);
        self.extra_rmatvec(rest, x);
    }

    fn has_fused_step(&self) -> bool {
        true
    }

    /// u ← A x − c u and y = Aᵀ u in one pass over the design rows; returns ‖u‖².
    fn fused_step(&self, x: &[f64], c: f64, u: &mut [f64], y: &mut [f64]) -> f64 {
        let sys = self.sys;
        let g0 = sys.g0();
        let (x_s, x_g) = x.split_at(g0);
        let (u_d, u_rest) = u.split_at_mut(self.n_design);
        let offs = &sys.design.offsets;
        let mut chunk_sq = self.chunk_sq.lock().expect("lsqr workspace");
        {
            let (y_s, y_g) = y.split_at_mut(g0);
            let items: Vec<_> = split_mut(y_s, &sys.chunks, NS)
                .into_iter()
                .zip(self.design_slices(u_d))
                .zip(chunk_sq.iter_mut())
                .collect();
            let mut sum = self.sum.lock().expect("lsqr workspace");
            sum.run_on(sys.comm, items, y_g, |ch, ((ys, ud), sq), acc| {
                let base = offs[sys.chunks[ch].start];
                let mut ss = 0.0;
                for (ii, i) in sys.chunks[ch].clone().enumerate() {
                    let o: &mut [f64; NS] =
                        (&mut ys[NS * ii..NS * ii + NS]).try_into().expect("NS");
                    *o = [0.0; NS];
                    let ui = &mut ud[offs[i] - base..offs[i + 1] - base];
                    if !sys.active[i] {
                        // A x is zero on these rows, Aᵀ leaves them out
                        for v in ui.iter_mut() {
                            *v = 0.0 - c * *v;
                            ss += *v * *v;
                        }
                        continue;
                    }
                    let xs: &[f64; NS] = x_s[NS * i..NS * i + NS].try_into().expect("NS");
                    ss +=
                        crate::design::bidiag_rows(sys.design.of_source(i), xs, x_g, c, ui, o, acc);
                }
                *sq = ss;
            });
        }
        let parts = chunk_sq.clone();
        drop(chunk_sq);
        let mut t = self.extra.lock().expect("lsqr workspace");
        self.extra_matvec(x, &mut t);
        for (ui, ti) in u_rest.iter_mut().zip(t.iter()) {
            *ui = ti - c * *ui;
        }
        drop(t);
        self.extra_rmatvec(u_rest, y);
        self.fold_rows(parts, u, u)
    }

    fn dot_rows(&self, a: &[f64], b: &[f64]) -> f64 {
        let offs = &self.sys.design.offsets;
        let parts: Vec<f64> = self
            .sys
            .chunks
            .par_iter()
            .map(|r| {
                let s = offs[r.start]..offs[r.end];
                crate::chunks::dot(&a[s.clone()], &b[s])
            })
            .collect();
        self.fold_rows(parts, a, b)
    }

    fn dot_cols(&self, a: &[f64], b: &[f64]) -> f64 {
        self.sys.dot(a, b)
    }
}

impl<const NS: usize, R: DesignRow<NS>> Rows<'_, '_, NS, R> {
    /// Σ a_l b_l over all rows of all ranks, from `parts`, the design rows' partial sums of this
    /// rank's chunks (in chunk order): each chunk's own rows after the design rows (prior rows,
    /// identity rows of unsolved sources, in row order) are added to its partial, the partials
    /// summed in global chunk order over the ranks ([`crate::comm::Comm::ordered_sum`]), then
    /// the replicated rows (pseudo-observations and damping, then frame rows) added alike on
    /// every rank: the one-process bits on chunk-aligned ranks.
    fn fold_rows(&self, mut parts: Vec<f64>, a: &[f64], b: &[f64]) -> f64 {
        let sys = self.sys;
        let chunk_of = |i: usize| sys.chunks.partition_point(|c| c.end <= i);
        let p0 = self.prior0();
        for (k, p) in sys.priors.iter().enumerate() {
            if let Some(part) = parts.get_mut(chunk_of(p.source)) {
                for j in p0 + NS * k..p0 + NS * k + NS {
                    *part += a[j] * b[j];
                }
            }
        }
        let i0 = self.inactive0();
        for (k, &i) in self.inactive.iter().enumerate() {
            if let Some(part) = parts.get_mut(chunk_of(i)) {
                for j in i0 + NS * k..i0 + NS * k + NS {
                    *part += a[j] * b[j];
                }
            }
        }
        let con = self.con0()..p0;
        let frame = self.frame0()..i0;
        sys.comm.ordered_sum_scalar(&parts)
            + crate::chunks::dot(&a[con.clone()], &b[con])
            + crate::chunks::dot(&a[frame.clone()], &b[frame])
    }

    /// The rows after the design rows: u_rest = A_rest x.
    fn extra_matvec(&self, x: &[f64], rest: &mut [f64]) {
        let sys = self.sys;
        let g0 = sys.g0();
        let (x_s, x_g) = x.split_at(g0);
        let c = &sys.constraints;
        let (u_c, rest) = rest.split_at_mut(c.len());
        for (k, uk) in u_c.iter_mut().enumerate() {
            *uk = c.weight[k].sqrt() * c.row(k).map(|(j, v)| v * x_g[j]).sum::<f64>();
        }
        let (u_dmp, rest) = rest.split_at_mut(self.n_damp());
        let sd = c.damping.sqrt();
        u_dmp.iter_mut().zip(x_g).for_each(|(u, x)| *u = sd * x);
        let (u_p, rest) = rest.split_at_mut(NS * self.prior_rows.len());
        for (k, ((lt, _), p)) in self.prior_rows.iter().zip(&sys.priors).enumerate() {
            for r in 0..NS {
                u_p[NS * k + r] = (0..NS).map(|q| lt[r][q] * x_s[NS * p.source + q]).sum();
            }
        }
        let (u_f, u_i) = rest.split_at_mut(sys.frame.len());
        for (uf, (f, v)) in u_f.iter_mut().zip(&sys.frame) {
            *uf = f.sqrt() * sys.dot(v, x);
        }
        for (k, &i) in self.inactive.iter().enumerate() {
            u_i[NS * k..NS * k + NS].copy_from_slice(&x_s[NS * i..NS * i + NS]);
        }
    }

    /// x += A_restᵀ u_rest (the rows after the design rows).
    fn extra_rmatvec(&self, rest: &[f64], x: &mut [f64]) {
        let sys = self.sys;
        let g0 = sys.g0();
        let (x_s, x_g) = x.split_at_mut(g0);
        let c = &sys.constraints;
        let (u_c, rest) = rest.split_at(c.len());
        for (k, &uk) in u_c.iter().enumerate() {
            let s = c.weight[k].sqrt() * uk;
            for (j, v) in c.row(k) {
                x_g[j] += s * v;
            }
        }
        let (u_dmp, rest) = rest.split_at(self.n_damp());
        let sd = c.damping.sqrt();
        x_g.iter_mut().zip(u_dmp).for_each(|(x, u)| *x += sd * u);
        let (u_p, rest) = rest.split_at(NS * self.prior_rows.len());
        for (k, ((lt, _), p)) in self.prior_rows.iter().zip(&sys.priors).enumerate() {
            for q in 0..NS {
                x_s[NS * p.source + q] += (0..NS).map(|r| lt[r][q] * u_p[NS * k + r]).sum::<f64>();
            }
        }
        let (u_f, u_i) = rest.split_at(sys.frame.len());
        for (&uf, (f, v)) in u_f.iter().zip(&sys.frame) {
            crate::chunks::axpy(f.sqrt() * uf, v, x);
        }
        let x_s = &mut x[..g0];
        for (k, &i) in self.inactive.iter().enumerate() {
            for q in 0..NS {
                x_s[NS * i + q] += u_i[NS * k + q];
            }
        }
    }
}

/// The right-preconditioned operator Â = A P⁻¹.
pub struct Preconditioned<'r, 's, 'd, const NS: usize, R: DesignRow<NS>> {
    pub rows: &'r Rows<'s, 'd, NS, R>,
    pub kind: LsqrPreconditioner,
    /// Column scales 1/‖a_j‖ (Columns).
    dinv: Vec<f64>,
    tmp: Mutex<Vec<f64>>,
}

impl<'r, 's, 'd, const NS: usize, R: DesignRow<NS>> Preconditioned<'r, 's, 'd, NS, R> {
    pub fn new(rows: &'r Rows<'s, 'd, NS, R>, kind: LsqrPreconditioner) -> Self {
        let dinv = match kind {
            LsqrPreconditioner::Columns => rows
                .column_sq_norms()
                .into_iter()
                .map(|c| if c > 0.0 { 1.0 / c.sqrt() } else { 1.0 })
                .collect(),
            LsqrPreconditioner::Blocks => Vec::new(),
        };
        Preconditioned {
            rows,
            kind,
            dinv,
            tmp: Mutex::new(vec![0.0; rows.n_cols()]),
        }
    }

    /// x ← P⁻¹ x.
    pub fn solve(&self, x: &mut [f64]) {
        let sys = self.rows.sys;
        match self.kind {
            LsqrPreconditioner::Columns => {
                x.par_iter_mut().zip(&self.dinv).for_each(|(v, d)| *v *= d)
            }
            LsqrPreconditioner::Blocks => {
                let g0 = sys.g0();
                let (xs, xg) = x.split_at_mut(g0);
                xs.par_chunks_mut(NS)
                    .zip(&sys.src_chol)
                    .with_min_len(256)
                    .for_each(|(v, l)| backward(l, v));
                sys.blocks.solve_upper_in_place(&sys.layout, xg);
            }
        }
    }

    /// x ← P⁻ᵀ x.
    pub fn solve_t(&self, x: &mut [f64]) {
        let sys = self.rows.sys;
        match self.kind {
            LsqrPreconditioner::Columns => {
                x.par_iter_mut().zip(&self.dinv).for_each(|(v, d)| *v *= d)
            }
            LsqrPreconditioner::Blocks => {
                let g0 = sys.g0();
                let (xs, xg) = x.split_at_mut(g0);
                xs.par_chunks_mut(NS)
                    .zip(&sys.src_chol)
                    .with_min_len(256)
                    .for_each(|(v, l)| forward(l, v));
                sys.blocks.solve_lower_in_place(&sys.layout, xg);
            }
        }
    }
}

/// v ← L⁻ᵀ v.
fn backward<const NS: usize>(l: &[[f64; NS]; NS], v: &mut [f64]) {
    for r in (0..NS).rev() {
        let mut s = v[r];
        for q in r + 1..NS {
            s -= l[q][r] * v[q];
        }
        v[r] = s / l[r][r];
    }
}

/// v ← L⁻¹ v.
fn forward<const NS: usize>(l: &[[f64; NS]; NS], v: &mut [f64]) {
    for r in 0..NS {
        let mut s = v[r];
        for q in 0..r {
            s -= l[r][q] * v[q];
        }
        v[r] = s / l[r][r];
    }
}

impl<const NS: usize, R: DesignRow<NS>> LinearOperator for Preconditioned<'_, '_, '_, NS, R> {
    fn n_rows(&self) -> usize {
        self.rows.n_rows()
    }
    fn n_cols(&self) -> usize {
        self.rows.n_cols()
    }
    fn matvec(&self, x: &[f64], y: &mut [f64]) {
        let mut t = self.tmp.lock().expect("preconditioner scratch");
        t.copy_from_slice(x);
        self.solve(&mut t);
        self.rows.matvec(&t, y);
    }
    fn rmatvec(&self, y: &[f64], x: &mut [f64]) {
        self.rows.rmatvec(y, x);
        self.solve_t(x);
    }
    fn has_fused_step(&self) -> bool {
        true
    }
    fn dot_rows(&self, a: &[f64], b: &[f64]) -> f64 {
        self.rows.dot_rows(a, b)
    }
    fn dot_cols(&self, a: &[f64], b: &[f64]) -> f64 {
        self.rows.dot_cols(a, b)
    }
    fn fused_step(&self, x: &[f64], c: f64, u: &mut [f64], y: &mut [f64]) -> f64 {
        let mut t = self.tmp.lock().expect("preconditioner scratch");
        t.copy_from_slice(x);
        self.solve(&mut t);
        let ss = self.rows.fused_step(&t, c, u, y);
        self.solve_t(y);
        ss
    }
}
