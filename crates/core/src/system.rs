//! The normal equations N Δx = b of one linearisation, never stored whole.
//!
//! With the whitened design rows ([`crate::design`]) split into source and global parts,
//! A = [S | G] with S block-diagonal by source, and the pseudo-observations, damping, priors and
//! frame rows of [`crate::constraints`]:
//!
//!   N = [[D, E], [Eᵀ, N_gg]] + F,   b = [b_s; b_g],
//!   D = blockdiag(N_ss) with N_ss = Σ_{l∈s} a_l,s a_l,sᵀ + P_s,
//!   E_sg = Σ_{l∈s} a_l,s a_l,gᵀ,   N_gg = Σ_l a_l,g a_l,gᵀ + Σ_k u_k e_k e_kᵀ + d I,
//!   F = Σ_k f_k v_k v_kᵀ (frame rows),
//!   b_s = Σ_{l∈s} a_l,s r_l + P_s δ_s,   b_g = Σ_l a_l,g r_l + Σ_k u_k ρ_k e_k.
//!
//! Stored: the factored source blocks N_ss = L_s L_sᵀ, the factored diagonal blocks K_g of
//! N_gg ([`crate::layout`]), b. Everything else is a pass over the rows: sources in fixed
//! chunks, the global sums accumulated per chunk and reduced in chunk order
//! ([`crate::chunks`]). A source that is not solved keeps its unknowns fixed (identity block)
//! and its rows are left out of every sum.
//!
//! Verbs: [`System::assemble`] (b, D, K), [`System::apply`] (N p), [`System::precondition`]
//! (z = K⁻¹ r with K = blockdiag(D, K_g), Bombrun et al. 2012), [`System::si_sweep`] (one block
//! Gauss–Seidel sweep, Lindegren et al. 2012, section 5.3).
//!
//! Distributed ([`crate::comm`]): `design` holds this rank's sources only, cut into its share
//! of the catalogue's global chunks ([`System::assemble_chunked`]); the global unknowns are
//! replicated. Every global accumulation of a pass (b_g and K_g in the assembly, the global
//! part of N p, of the sweep's residual) is accumulated per chunk and the chunks' partial sums
//! are added in global chunk order over the ranks ([`OrderedSum::run_on`],
//! [`Comm::ordered_fold`]) before the replicated terms (constraints, damping) are added;
//! dot products over the unknowns ([`System::dot`]) add one partial per chunk in global chunk
//! order, then the replicated global part on every rank. With ranks cut at chunk boundaries
//! every result has the one-process bits.

use crate::chunks::{self, split_by_rows, split_mut, OrderedSum};
use crate::comm::Comm;
use crate::constraints::{Constraints, SourcePrior};
use crate::design::{src_f64, Design, DesignRow};
use crate::error::SolveError;
use crate::layout::{BlockDiagonal, BlockKind, GlobalLayout};
use astrosolve_model::linalg::{
    cholesky_factor, cholesky_inverse, cholesky_solve, cholesky_solve_factored,
};
use rayon::prelude::*;
use std::ops::Range;

const NO_PRIOR: u32 = u32::MAX;

/// Relative size of the smallest pivot² of a source block below which the source is not solved.
const SOURCE_PIVOT_RTOL: f64 = 1e-13;

/// Caller-owned scratch of the passes (sized once per system): accumulator slots of the
/// global unknowns, one per thread.
pub struct Workspace {
    sum: OrderedSum,
    tmp: Vec<f64>,
}

/// The linearised system of one outer iteration.
pub struct System<'d, const NS: usize, R: DesignRow<NS>> {
    pub design: &'d Design<R>,
    pub layout: GlobalLayout,
    pub n_src: usize,
    /// Right-hand side b = [b_s; b_g].
    pub b: Vec<f64>,
    /// Factored source blocks (lower Cholesky factors; identity for sources not solved).
    pub src_chol: Vec<[[f64; NS]; NS]>,
    /// Sources solved (enough rows, positive-definite block).
    pub active: Vec<bool>,
    /// Factored diagonal blocks K_g of N_gg.
    pub blocks: BlockDiagonal,
    pub constraints: Constraints,
    pub priors: Vec<SourcePrior<NS>>,
    prior_of: Vec<u32>,
    /// Frame rows (f_k, v_k), full-length.
    pub frame: Vec<(f64, Vec<f64>)>,
    /// M v_k with M = N (frame terms included), for the simple iteration's frame correction.
    frame_mv: Vec<Vec<f64>>,
    /// Fixed source chunks of every pass.
    pub chunks: Vec<Range<usize>>,
    /// Rows counted per source in the assembly (those with a non-zero source part).
    pub n_rows_used: Vec<u32>,
    /// The ranks sharing this system (their sources; the global unknowns replicated).
    pub comm: &'d dyn Comm,
}

impl<'d, const NS: usize, R: DesignRow<NS>> System<'d, NS, R> {
    /// Number of unknowns.
    pub fn n(&self) -> usize {
        NS * self.n_src + self.layout.n
    }

    /// Index of the first global unknown.
    pub fn g0(&self) -> usize {
        NS * self.n_src
    }

    /// Scratch for this system's passes.
    pub fn workspace(&self) -> Workspace {
        Workspace {
            sum: OrderedSum::for_chunks(self.chunks.len(), self.layout.n),
            tmp: vec![0.0; self.n()],
        }
    }

    /// Σ a_i b_i over all ranks' unknowns: the source part as partial dots of the chunks
    /// ([`chunks::chunk_dots`]) summed in global chunk order over the ranks
    /// ([`Comm::ordered_sum`]), plus the (replicated) global part's [`chunks::dot`], added
    /// alike on every rank. Its bits depend neither on the threads nor on the chunk-aligned
    /// ranks.
    pub fn dot(&self, a: &[f64], b: &[f64]) -> f64 {
        let g0 = self.g0();
        let parts = chunks::chunk_dots(a, b, &self.chunks, NS);
        self.comm.ordered_sum_scalar(&parts) + chunks::dot(&a[g0..], &b[g0..])
    }

    /// ([`System::dot`], max_i |b_i| over all ranks).
    pub fn dot_and_max_abs(&self, a: &[f64], b: &[f64]) -> (f64, f64) {
        let g0 = self.g0();
        let (parts, ms) = chunks::chunk_dots_and_max_abs(a, b, &self.chunks, NS);
        let (dg, mg) = chunks::dot_and_max_abs(&a[g0..], &b[g0..]);
        (
            self.comm.ordered_sum_scalar(&parts) + dg,
            self.comm.max_scalar(ms.max(mg)),
        )
    }

    /// max_i |z_i| over all ranks.
    pub fn max_abs(&self, z: &[f64]) -> f64 {
        self.comm.max_scalar(crate::cg::max_abs(z))
    }

    /// Assembles b, the source blocks and the global diagonal blocks, and factors them.
    /// `solvable[i]` false leaves source i out (its unknowns fixed, its rows unused). One
    /// process: [`System::assemble_on`] with [`crate::comm::Single`].
    pub fn assemble(
        design: &'d Design<R>,
        layout: GlobalLayout,
        solvable: &[bool],
        constraints: Constraints,
        priors: Vec<SourcePrior<NS>>,
    ) -> Result<Self, SolveError> {
        Self::assemble_on(
            design,
            layout,
            solvable,
            constraints,
            priors,
            &crate::comm::Single,
        )
    }

    /// [`System::assemble`] of this rank's sources (`design`, `solvable`, `priors` are the
    /// rank's), the global sums reduced over the ranks of `comm`; the sources chunked by their
    /// rows ([`split_by_rows`]).
    pub fn assemble_on(
        design: &'d Design<R>,
        layout: GlobalLayout,
        solvable: &[bool],
        constraints: Constraints,
        priors: Vec<SourcePrior<NS>>,
        comm: &'d dyn Comm,
    ) -> Result<Self, SolveError> {
        let chunks = split_by_rows(&design.offsets);
        Self::assemble_chunked(design, layout, solvable, constraints, priors, comm, chunks)
    }

    /// [`System::assemble_on`] with the given source chunks (this rank's share of the global
    /// chunks, `crate::outer::Problem::chunks`; contiguous, in order, covering the rank's
    /// sources): every sum over sources is taken chunk by chunk and the chunks' partial sums
    /// added in global chunk order over the ranks, so that chunk-aligned ranks reproduce the
    /// one-process bits.
    pub fn assemble_chunked(
        design: &'d Design<R>,
        layout: GlobalLayout,
        solvable: &[bool],
        constraints: Constraints,
        priors: Vec<SourcePrior<NS>>,
        comm: &'d dyn Comm,
        chunks: Vec<Range<usize>>,
    ) -> Result<Self, SolveError> {
        let n_src = design.n_sources();
        let chunks: Vec<Range<usize>> = chunks.into_iter().filter(|c| !c.is_empty()).collect();
        let tiles = chunks.first().map_or(0, |c| c.start) == 0
            && chunks.last().map_or(0, |c| c.end) == n_src
            && chunks.windows(2).all(|w| w[0].end == w[1].start);
        if !tiles {
            return Err(SolveError::Config(format!(
                "source chunks {chunks:?} do not cover the {n_src} sources in order"
            )));
        }
        if solvable.len() != n_src {
            return Err(SolveError::Config(format!(
                "{} solvable flags for {n_src} sources",
                solvable.len()
            )));
        }
        let ng = layout.n;
        let mut prior_of = vec![NO_PRIOR; n_src];
        for (k, p) in priors.iter().enumerate() {
            prior_of[p.source] = k as u32;
        }
        let storage = layout.storage_len();
        let mut b = vec![0.0; NS * n_src + ng];
        let mut src_chol = vec![[[0.0; NS]; NS]; n_src];
        let mut active = vec![false; n_src];
        let mut n_rows_used = vec![0u32; n_src];
        let mut errors: Vec<Option<SolveError>> = vec![None; chunks.len()];
        // accumulator: [b_g | K_g storage]
        let mut total = vec![0.0; ng + storage];
        {
            let (b_s, _) = b.split_at_mut(NS * n_src);
            let items: Vec<_> = split_mut(b_s, &chunks, NS)
                .into_iter()
                .zip(split_mut(&mut src_chol, &chunks, 1))
                .zip(split_mut(&mut active, &chunks, 1))
                .zip(split_mut(&mut n_rows_used, &chunks, 1))
                .zip(errors.iter_mut())
                .collect();
            let mut sum = OrderedSum::for_threads(ng + storage);
            let chunks_ref = &chunks;
            let layout_ref = &layout;
            let priors_ref = &priors;
            let prior_of_ref = &prior_of;
            sum.run_on(
                comm,
                items,
                &mut total,
                |c, ((((bs, chol), act), used), err), acc| {
                    let (acc_b, acc_k) = acc.split_at_mut(ng);
                    for (ii, i) in chunks_ref[c].clone().enumerate() {
                        let rows = design.of_source(i);
                        let mut n_ss = [[0.0; NS]; NS];
                        let mut b_i = [0.0; NS];
                        let mut n_used = 0u32;
                        for row in rows {
                            let a = src_f64(row);
                            if a.iter().all(|&v| v == 0.0) {
                                continue;
                            }
                            n_used += 1;
                            let r = row.residual() as f64;
                            for p in 0..NS {
                                b_i[p] += a[p] * r;
                                for q in 0..=p {
                                    n_ss[p][q] += a[p] * a[q];
                                }
                            }
                        }
                        used[ii] = n_used;
                        if prior_of_ref[i] != NO_PRIOR {
                            let pr = &priors_ref[prior_of_ref[i] as usize];
                            let pb = pr.rhs();
                            for p in 0..NS {
                                b_i[p] += pb[p];
                                for q in 0..=p {
                                    n_ss[p][q] += pr.weight[p][q];
                                }
                            }
                        }
                        for p in 0..NS {
                            for q in 0..p {
                                n_ss[q][p] = n_ss[p][q];
                            }
                        }
                        let max_diag = (0..NS).map(|k| n_ss[k][k]).fold(0.0, f64::max);
                        let mut l = n_ss;
                        let ok = solvable[i]
                            && max_diag > 0.0
                            && cholesky_factor(l.as_flattened_mut(), NS).is_ok()
                            && (0..NS).all(|k| l[k][k] * l[k][k] > SOURCE_PIVOT_RTOL * max_diag);
                        act[ii] = ok;
                        if !ok {
                            chol[ii] = identity();
                            bs[NS * ii..NS * ii + NS].iter_mut().for_each(|v| *v = 0.0);
                            continue;
                        }
                        chol[ii] = l;
                        bs[NS * ii..NS * ii + NS].copy_from_slice(&b_i);
                        for row in rows {
                            let r = row.residual() as f64;
                            row.axpy(r, acc_b);
                            let mut bad = None;
                            row.segments(&mut |start, coef| {
                                if let Err(e) =
                                    BlockDiagonal::add_outer(layout_ref, acc_k, start, coef, 1.0)
                                {
                                    bad = Some(e);
                                }
                            });
                            if let (Some(e), None) = (bad, err.as_ref()) {
                                *err = Some(e);
                            }
                        }
                    }
                },
            );
        }
        crate::outer::agree(
            comm,
            errors.into_iter().flatten().next().map_or(Ok(()), Err),
        )?;
        let (tb, tk) = total.split_at(ng);
        let g0 = NS * n_src;
        b[g0..].copy_from_slice(tb);
        constraints.add_rhs(&mut b[g0..]);
        let mut blocks = BlockDiagonal::zeros(&layout);
        blocks.values.copy_from_slice(tk);
        for k in 0..constraints.len() {
            let entries: Vec<(usize, f64)> = constraints.row(k).collect();
            if let Some(&(first, _)) = entries.first() {
                let blk = layout.block_of(first);
                if let Some(&(j, _)) = entries.iter().find(|(j, _)| layout.block_of(*j) != blk) {
                    return Err(SolveError::ConstraintAcrossBlocks {
                        row: k,
                        a: first,
                        b: j,
                    });
                }
                // a units block keeps u e eᵀ as a low-rank row (its units' coupling)
                if let BlockKind::Units { .. } = layout.blocks[blk].kind {
                    blocks.add_low_rank(&layout, &entries, constraints.weight[k])?;
                    continue;
                }
                // add u e eᵀ (lower triangle only for banded blocks)
                let banded = matches!(layout.blocks[blk].kind, BlockKind::Banded { .. });
                for &(i, vi) in &entries {
                    for &(j, vj) in &entries {
                        if banded && j > i {
                            continue;
                        }
                        let v = constraints.weight[k] * vi * vj;
                        BlockDiagonal::add_at(&layout, &mut blocks.values, i, j, v).map_err(
                            |_| SolveError::ConstraintAcrossBlocks { row: k, a: i, b: j },
                        )?;
                    }
                }
            }
        }
        blocks.add_diagonal(&layout, constraints.damping);
        blocks.factor(&layout)?;
        Ok(System {
            design,
            layout,
            n_src,
            b,
            src_chol,
            active,
            blocks,
            constraints,
            priors,
            prior_of,
            frame: Vec::new(),
            frame_mv: Vec::new(),
            chunks,
            n_rows_used,
            comm,
        })
    }

    /// Prior of source i, if it has one.
    pub fn prior(&self, i: usize) -> Option<&SourcePrior<NS>> {
        let k = self.prior_of[i];
        (k != NO_PRIOR).then(|| &self.priors[k as usize])
    }

    /// Adds the frame rows √f_k v_kᵀ Δx ≈ 0 for the given full-length vectors, each weighted by
    /// f_k = 1/(v_kᵀK⁻¹v_k).
    pub fn set_frame_vectors(&mut self, vectors: Vec<Vec<f64>>, ws: &mut Workspace) {
        let n = self.n();
        let mut z = vec![0.0; n];
        self.frame = vectors
            .into_iter()
            .map(|mut v| {
                v.resize(n, 0.0);
                self.precondition(&v, &mut z);
                let vkv = self.dot(&v, &z);
                (if vkv > 0.0 { 1.0 / vkv } else { 0.0 }, v)
            })
            .filter(|(f, _)| *f > 0.0)
            .collect();
        let mut mv = Vec::with_capacity(self.frame.len());
        for k in 0..self.frame.len() {
            let mut out = vec![0.0; n];
            let v = self.frame[k].1.clone();
            self.apply(&v, &mut out, ws);
            mv.push(out);
        }
        self.frame_mv = mv;
    }

    /// out = N p (frame rows included).
    pub fn apply(&self, p: &[f64], out: &mut [f64], ws: &mut Workspace) {
        self.apply_observations(p, out, ws);
        self.add_frame_terms(p, out);
    }

    /// out += Σ_k f_k (v_kᵀ p) v_k, the dots v_kᵀp as [`System::dot`] (all k in one ordered
    /// reduction), the update element by element in k order.
    fn add_frame_terms(&self, p: &[f64], out: &mut [f64]) {
        let k = self.frame.len();
        if k == 0 {
            return;
        }
        let g0 = self.g0();
        let per_chunk: Vec<Vec<f64>> = self
            .chunks
            .par_iter()
            .map(|r| {
                let s = NS * r.start..NS * r.end;
                self.frame
                    .iter()
                    .map(|(_, v)| chunks::dot(&v[s.clone()], &p[s.clone()]))
                    .collect()
            })
            .collect();
        let mut d = vec![0.0; k];
        self.comm.ordered_sum(&per_chunk.concat(), k, &mut d);
        let s: Vec<f64> = self
            .frame
            .iter()
            .zip(&d)
            .map(|((f, v), dk)| f * (dk + chunks::dot(&v[g0..], &p[g0..])))
            .collect();
        chunks::add_scaled(&self.frame, &s, out);
    }

    /// out = N p without the frame rows.
    pub fn apply_unconstrained(&self, p: &[f64], out: &mut [f64], ws: &mut Workspace) {
        self.apply_observations(p, out, ws);
    }

    fn apply_observations(&self, p: &[f64], out: &mut [f64], ws: &mut Workspace) {
        let g0 = self.g0();
        let (p_s, p_g) = p.split_at(g0);
        let (out_s, out_g) = out.split_at_mut(g0);
        let items = split_mut(out_s, &self.chunks, NS);
        ws.sum.run_on(self.comm, items, out_g, |c, os, acc| {
            for (ii, i) in self.chunks[c].clone().enumerate() {
                let o = &mut os[NS * ii..NS * ii + NS];
                let ps: [f64; NS] = std::array::from_fn(|k| p_s[NS * i + k]);
                if !self.active[i] {
                    o.copy_from_slice(&ps);
                    continue;
                }
                let mut y = [0.0; NS];
                crate::design::normal_rows(self.design.of_source(i), &ps, p_g, &mut y, acc);
                if let Some(pr) = self.prior(i) {
                    for r in 0..NS {
                        for q in 0..NS {
                            y[r] += pr.weight[r][q] * ps[q];
                        }
                    }
                }
                o.copy_from_slice(&y);
            }
        });
        self.constraints.apply(p_g, out_g);
    }

    /// z = K⁻¹ r, K = blockdiag(N_ss, K_g) (the block-Jacobi preconditioner).
    pub fn precondition(&self, r: &[f64], z: &mut [f64]) {
        z.copy_from_slice(r);
        let g0 = self.g0();
        let (z_s, z_g) = z.split_at_mut(g0);
        // the two parts side by side: the banded attitude solve runs on one thread, the
        // sources and the other blocks fill the rest (each element's operations unchanged)
        rayon::join(
            || {
                z_s.par_chunks_mut(NS)
                    .zip(self.src_chol.par_iter())
                    .with_min_len(256)
                    .for_each(|(zs, l)| cholesky_solve_factored(l.as_flattened(), zs, NS))
            },
            || self.blocks.solve_in_place(&self.layout, z_g),
        );
    }

    /// The update of a CG iteration after its step length α ([`crate::cg`]):
    /// x += α p, r −= α q, z = K⁻¹ r, returning (rᵀz as [`System::dot`], max |z_i|) as
    /// [`System::dot_and_max_abs`] gives them — the same bits, in one visit of each source
    /// chunk (its part of the five vectors stays in cache) beside the global part.
    pub fn cg_update(
        &self,
        alpha: f64,
        p: &[f64],
        q: &[f64],
        x: &mut [f64],
        r: &mut [f64],
        z: &mut [f64],
    ) -> (f64, f64) {
        let g0 = self.g0();
        let (x_s, x_g) = x.split_at_mut(g0);
        let (r_s, r_g) = r.split_at_mut(g0);
        let (z_s, z_g) = z.split_at_mut(g0);
        let step = |x: &mut [f64], r: &mut [f64], p: &[f64], q: &[f64]| {
            for (((xi, ri), pi), qi) in x.iter_mut().zip(r.iter_mut()).zip(p).zip(q) {
                *xi += alpha * pi;
                *ri -= alpha * qi;
            }
        };
        let items: Vec<_> = split_mut(x_s, &self.chunks, NS)
            .into_iter()
            .zip(split_mut(r_s, &self.chunks, NS))
            .zip(split_mut(z_s, &self.chunks, NS))
            .zip(&self.chunks)
            .collect();
        let (parts, (dg, mg)) = rayon::join(
            || {
                items
                    .into_par_iter()
                    .map(|(((xc, rc), zc), c)| {
                        let s = NS * c.start..NS * c.end;
                        step(xc, rc, &p[s.clone()], &q[s]);
                        zc.copy_from_slice(rc);
                        for (zs, l) in zc.chunks_exact_mut(NS).zip(&self.src_chol[c.clone()]) {
                            cholesky_solve_factored(l.as_flattened(), zs, NS);
                        }
                        chunks::dot_and_max_abs(rc, zc)
                    })
                    .collect::<Vec<_>>()
            },
            || {
                step(x_g, r_g, &p[g0..], &q[g0..]);
                z_g.copy_from_slice(r_g);
                self.blocks.solve_in_place(&self.layout, z_g);
                chunks::dot_and_max_abs(r_g, z_g)
            },
        );
        let ms = parts.iter().fold(0.0f64, |m, v| m.max(v.1));
        let parts: Vec<f64> = parts.into_iter().map(|v| v.0).collect();
        (
            self.comm.ordered_sum_scalar(&parts) + dg,
            self.comm.max_scalar(ms.max(mg)),
        )
    }

    /// One sweep of the simple iteration (block Gauss–Seidel between the sources and the
    /// global unknowns, block Jacobi among the global blocks): x_s ← N_ss⁻¹ (b_s − E_s x_g),
    /// then x_g ← x_g + K_g⁻¹ (b_g − Eᵀ x_s − N_gg x_g). The frame terms enter both with the
    /// x of the sweep's start, so a fixed point solves the frame-constrained system.
    pub fn si_sweep(&self, x: &mut [f64], ws: &mut Workspace) {
        let g0 = self.g0();
        let n = self.n();
        let mut b_eff = std::mem::take(&mut ws.tmp);
        b_eff.resize(n, 0.0);
        b_eff.copy_from_slice(&self.b);
        for (f, v) in &self.frame {
            let s = f * self.dot(v, x);
            chunks::axpy(-s, v, &mut b_eff);
        }
        let (x_s, x_g) = x.split_at_mut(g0);
        let mut r_g = vec![0.0; self.layout.n];
        {
            let x_g_old: &[f64] = x_g;
            let b_s = &b_eff[..g0];
            let items = split_mut(x_s, &self.chunks, NS);
            ws.sum.run_on(self.comm, items, &mut r_g, |c, xs, acc| {
                for (ii, i) in self.chunks[c].clone().enumerate() {
                    let o = &mut xs[NS * ii..NS * ii + NS];
                    if !self.active[i] {
                        o.iter_mut().for_each(|v| *v = 0.0);
                        continue;
                    }
                    let rows = self.design.of_source(i);
                    let mut rhs: [f64; NS] = std::array::from_fn(|k| b_s[NS * i + k]);
                    for row in rows {
                        let a = src_f64(row);
                        let v = row.dot(x_g_old);
                        for k in 0..NS {
                            rhs[k] -= a[k] * v;
                        }
                    }
                    cholesky_solve_factored(self.src_chol[i].as_flattened(), &mut rhs, NS);
                    o.copy_from_slice(&rhs);
                    for row in rows {
                        let a = src_f64(row);
                        row.dot_axpy(x_g_old, acc, |gv| {
                            let mut v = gv;
                            for k in 0..NS {
                                v += a[k] * rhs[k];
                            }
                            v
                        });
                    }
                }
            });
        }
        // r_g = b_g − (Eᵀ x_s + N_gg x_g)
        self.constraints.apply(x_g, &mut r_g);
        r_g.par_iter_mut()
            .zip(&b_eff[g0..])
            .for_each(|(r, b)| *r = b - *r);
        self.blocks.solve_in_place(&self.layout, &mut r_g);
        x_g.par_iter_mut().zip(&r_g).for_each(|(x, d)| *x += d);
        ws.tmp = b_eff;
    }

    /// Subspace correction along the frame vectors: x += V θ with (VᵀNV) θ = Vᵀ(b − N x),
    /// from the precomputed N v_k. With it the simple iteration converges to PCG's solution.
    pub fn frame_correction(&self, x: &mut [f64]) {
        let k = self.frame.len();
        if k == 0 {
            return;
        }
        let mut g = vec![0.0; k * k];
        let mut r = vec![0.0; k];
        for i in 0..k {
            let (v, mv) = (&self.frame[i].1, &self.frame_mv[i]);
            r[i] = self.dot(v, &self.b) - self.dot(mv, x);
            for j in 0..k {
                g[i * k + j] = self.dot(mv, &self.frame[j].1);
            }
        }
        if cholesky_solve(&mut g, &mut r, k).is_ok() {
            for (i, (_, v)) in self.frame.iter().enumerate() {
                chunks::axpy(r[i], v, x);
            }
        }
    }

    /// N_ss⁻¹ of source i (its covariance ignoring the other unknowns; solver units).
    pub fn source_covariance(&self, i: usize) -> [[f64; NS]; NS] {
        let mut inv = [[0.0; NS]; NS];
        cholesky_inverse(self.src_chol[i].as_flattened(), NS, inv.as_flattened_mut());
        inv
    }
}

fn identity<const NS: usize>() -> [[f64; NS]; NS] {
    std::array::from_fn(|r| std::array::from_fn(|c| if r == c { 1.0 } else { 0.0 }))
}
