//! The direct solution (as JASMINE's AJAS, Ryabinin et al. 2024): eliminate the sources and
//! solve the reduced normal equations of the global unknowns densely with faer.
//!
//! With N_ss = L_s L_sᵀ the source blocks (priors included), the reduced normal matrix is
//!   R = N_gg − Σ_s E_sᵀ N_ss⁻¹ E_s = N_gg − Σ_s G_s G_sᵀ,   G_s = E_sᵀ L_s⁻ᵀ,
//!   c = b_g − Σ_s G_s L_s⁻¹ b_s
//! (seed paper section 4.2, R_a; Lindegren et al. 2012, eq. 49). R keeps the frame defect of a
//! self-calibrating solution (six near-zero eigenvalues). It is either removed exactly as in the
//! iterative solvers — the weighted frame rows enter as k extra unknowns y = F Vᵀx of the
//! augmented system [[N, V], [Vᵀ, −F⁻¹]], whose elimination gives the SPD matrix
//!   S = R + B C Bᵀ,  B = V_g − Σ_s G_s U_s,  U_s = L_s⁻¹ V_s,  C = (F⁻¹ + Σ_s U_sᵀ U_s)⁻¹,
//! solved by Cholesky ([`Reduced::solve_constrained`]) — or kept, and R solved by its
//! pseudo-inverse from a symmetric eigendecomposition ([`Reduced::solve_pseudo_inverse`]).
//! Sources are back-substituted: x_s = L_s⁻ᵀ (L_s⁻¹ b_s − G_sᵀ x_g − U_s y).
//!
//! Work: Σ_l m_l² to form R (m_l: global coefficients of row l), n³/3 to factor it; memory
//! 8 n² bytes (n global unknowns) per dense matrix, of which a step holds two or more at once
//! ([`step_matrices`]), plus the source couplings ([`coupling_bytes`]); checked before the
//! first assembly ([`crate::memory`]).
//!
//! Distributed ([`crate::comm`]): each rank eliminates its own sources; R (without the
//! replicated constraints and damping), c, B, Σ UᵀU and Σ Uᵀ L⁻¹ b are accumulated rank after
//! rank ([`Comm::chain`]: rank r continues the sums of ranks 0..r source by source, from
//! b_g and V_g, in the one-process order, so every rank holds the one-process reduced system
//! bit for bit; that pass runs serially over the ranks, with no memory beyond R). Every rank
//! factors it (the covariance needs S⁻¹ on every rank for its sources), and rank 0's solution
//! of the global and frame unknowns is broadcast ([`Reduced::solve_constrained_on`]), so the
//! replicated unknowns are bit-identical on every rank whatever faer's threading; each rank
//! then back-substitutes its own sources.
#![allow(clippy::needless_range_loop)] // index loops over parallel arrays mirror the formulas

use crate::comm::Comm;
use crate::design::{src_f64, DesignRow};
use crate::error::SolveError;
use crate::system::System;
use faer::prelude::*;
use faer::Side;
use rayon::prelude::*;

/// Tasks faer splits a dense factorisation or eigendecomposition into, whatever the threads
/// of the rayon pool: faer's default (one per thread) makes the bits of the direct solution
/// depend on the thread count (measured: the default mission's parallaxes differ by ≈ 1e-7
/// relative between 1 and 2 threads), so that neither a run with another number of threads
/// nor MPI ranks of one thread each would reproduce it. A fixed number keeps every dense
/// result the same on any pool (at most this many threads work on it).
pub const DENSE_TASKS: usize = 8;

/// Sets faer's parallelism to [`DENSE_TASKS`] (a process-wide setting of faer, the same for
/// every caller).
fn fixed_dense_parallelism() {
    faer::set_global_parallelism(faer::Par::rayon(DENSE_TASKS));
}

/// How one source couples to the global unknowns.
#[derive(Clone, Debug, Default)]
pub(crate) struct Coupling {
    /// Global unknowns the source's rows touch, sorted.
    pub(crate) idx: Vec<u32>,
    /// L_s⁻¹ E_s, row-major NS × m (m = idx.len()); G_s is its transpose.
    pub(crate) gt: Vec<f64>,
    /// U_s = L_s⁻¹ V_s, row-major NS × k.
    pub(crate) u: Vec<f64>,
    /// L_s⁻¹ b_s.
    pub(crate) lb: Vec<f64>,
}

/// The reduced normal equations of one linearisation.
pub struct Reduced<const NS: usize> {
    /// Global unknowns.
    pub n: usize,
    /// Frame rows (0 when the data fix the frame).
    pub k: usize,
    pub(crate) g0: usize,
    pub(crate) n_src: usize,
    /// R, column-major n × n (both triangles); empty once factored.
    r: Vec<f64>,
    /// c = b_g − Σ G L⁻¹ b.
    pub c: Vec<f64>,
    /// B, column-major n × k.
    bmat: Vec<f64>,
    /// Σ UᵀU (k × k) and Σ Uᵀ L⁻¹ b.
    vdv: Vec<f64>,
    vdb: Vec<f64>,
    /// Frame weights f_k.
    w: Vec<f64>,
    pub(crate) chol: Vec<[[f64; NS]; NS]>,
    pub(crate) active: Vec<bool>,
    pub(crate) src: Vec<Coupling>,
}

/// v ← L⁻¹ v.
pub(crate) fn forward<const NS: usize>(l: &[[f64; NS]; NS], v: &mut [f64]) {
    for r in 0..NS {
        let mut s = v[r];
        for q in 0..r {
            s -= l[r][q] * v[q];
        }
        v[r] = s / l[r][r];
    }
}

/// v ← L⁻ᵀ v.
pub(crate) fn backward<const NS: usize>(l: &[[f64; NS]; NS], v: &mut [f64]) {
    for r in (0..NS).rev() {
        let mut s = v[r];
        for q in r + 1..NS {
            s -= l[q][r] * v[q];
        }
        v[r] = s / l[r][r];
    }
}

/// Given n global unknowns, returns the bytes of one dense n × n matrix of f64 (8 n²).
pub fn square_bytes(n: usize) -> u64 {
    8u64.saturating_mul(n as u64).saturating_mul(n as u64)
}

/// Order from which faer's symmetric eigensolver uses divide and conquer (faer 0.24,
/// `SelfAdjointEvdParams::recursion_threshold`).
const EVD_RECURSION: usize = 128;

/// Most n × n matrices one direct linear step holds at once. Cholesky
/// ([`Reduced::solve_constrained`]): R, turned into S in place, and faer's copy holding the
/// factor (`Llt::new`): 2. Pseudo-inverse ([`Reduced::solve_pseudo_inverse`]): R, the
/// eigenvectors, and faer's scratch — a copy of R and, from n = 128 on, two matrices of the
/// divide-and-conquer tridiagonal solver (faer 0.24 `evd::self_adjoint_evd_scratch`): 5 (3
/// below n = 128).
pub fn step_matrices(n: usize, keep_rank_defect: bool) -> u64 {
    match (keep_rank_defect, n >= EVD_RECURSION) {
        (false, _) => 2,
        (true, true) => 5,
        (true, false) => 3,
    }
}

/// n × n matrices held while the spectrum is computed ([`Reduced::spectrum`]): R and faer's
/// copy for the tridiagonal reduction (eigenvalues only).
pub const SPECTRUM_MATRICES: u64 = 2;

/// The global unknowns the rows of one source touch, sorted. `loc` (one marker per global
/// unknown) is all `u32::MAX` on entry and again on return.
fn touched<const NS: usize, R: DesignRow<NS>>(rows: &[R], loc: &mut [u32]) -> Vec<u32> {
    let mut idx: Vec<u32> = Vec::new();
    for row in rows {
        row.segments(&mut |start, coef| {
            for p in start..start + coef.len() {
                if loc[p] == u32::MAX {
                    loc[p] = 0;
                    idx.push(p as u32);
                }
            }
        });
    }
    for &p in &idx {
        loc[p as usize] = u32::MAX;
    }
    idx.sort_unstable();
    idx
}

/// Bytes of the source couplings [`Reduced::assemble`] forms for `sys`: per solved source, the
/// m global unknowns its rows touch (u32, counted twice: the vector grows by doubling),
/// L⁻¹E_s (NS × m), L⁻¹V_s (NS × k) and L⁻¹b_s (f64), with the vectors' headers. One pass
/// over the rows.
pub fn coupling_bytes<const NS: usize, R: DesignRow<NS>>(sys: &System<NS, R>) -> u64 {
    let (n, k) = (sys.layout.n, sys.frame.len() as u64);
    let header = 4 * std::mem::size_of::<Vec<f64>>() as u64;
    let ns = NS as u64;
    (0..sys.n_src)
        .into_par_iter()
        .map_init(
            || vec![u32::MAX; n],
            |loc, i| {
                if !sys.active[i] {
                    return header;
                }
                let m = touched(sys.design.of_source(i), loc).len() as u64;
                header + 8 * m + 8 * ns * (m + k + 1)
            },
        )
        .sum()
}

impl<const NS: usize> Reduced<NS> {
    /// Eliminates the sources of `sys`. With `damping` false the damping of the global unknowns
    /// is left out (to look at the bare defect in the spectrum).
    pub fn assemble<R: DesignRow<NS>>(sys: &System<NS, R>, damping: bool) -> Reduced<NS> {
        let n = sys.layout.n;
        let k = sys.frame.len();
        let g0 = sys.g0();
        let design = sys.design;

        // Per source: touched global unknowns, L⁻¹E_s, L⁻¹V_s, L⁻¹b_s.
        let src: Vec<Coupling> = (0..sys.n_src)
            .into_par_iter()
            .map_init(
                || vec![u32::MAX; n],
                |loc, i| {
                    if !sys.active[i] {
                        return Coupling::default();
                    }
                    let rows = design.of_source(i);
                    let idx = touched(rows, loc);
                    for (j, &p) in idx.iter().enumerate() {
                        loc[p as usize] = j as u32;
                    }
                    let m = idx.len();
                    let mut gt = vec![0.0; NS * m];
                    for row in rows {
                        let a = src_f64(row);
                        row.segments(&mut |start, coef| {
                            for (j, &cj) in coef.iter().enumerate() {
                                let p = loc[start + j] as usize;
                                for r in 0..NS {
                                    gt[r * m + p] += a[r] * cj;
                                }
                            }
                        });
                    }
                    for &p in &idx {
                        loc[p as usize] = u32::MAX;
                    }
                    let lf = &sys.src_chol[i];
                    for r in 0..NS {
                        for q in 0..r {
                            let f = lf[r][q];
                            for j in 0..m {
                                gt[r * m + j] -= f * gt[q * m + j];
                            }
                        }
                        let d = 1.0 / lf[r][r];
                        gt[r * m..(r + 1) * m].iter_mut().for_each(|v| *v *= d);
                    }
                    let mut u = vec![0.0; NS * k];
                    for (kk, (_, v)) in sys.frame.iter().enumerate() {
                        let mut col: [f64; NS] = std::array::from_fn(|r| v[NS * i + r]);
                        forward(lf, &mut col);
                        for r in 0..NS {
                            u[r * k + kk] = col[r];
                        }
                    }
                    let mut lb: [f64; NS] = std::array::from_fn(|r| sys.b[NS * i + r]);
                    forward(lf, &mut lb);
                    Coupling {
                        idx,
                        gt,
                        u,
                        lb: lb.to_vec(),
                    }
                },
            )
            .collect();

        // R = N_gg − Σ G Gᵀ by column stripes, each stripe scanning all sources.
        let threads = rayon::current_num_threads().max(1);
        let sw = (n / (8 * threads)).clamp(32, n.max(32));
        // one rank after the other (Comm::chain): each adds its sources to the sums of the ranks
        // before it, so R has the one-process bits; the formation is serialised over ranks
        let mut r = vec![0.0; n * n];
        sys.comm.chain(&mut r, &mut |r| {
            r.par_chunks_mut(n * sw)
                .enumerate()
                .for_each(|(si, stripe)| {
                    let c0 = si * sw;
                    let c1 = (c0 + sw).min(n);
                    let mut ent: Vec<(usize, f64)> = Vec::with_capacity(64);
                    for i in 0..sys.n_src {
                        if !sys.active[i] {
                            continue;
                        }
                        for row in design.of_source(i) {
                            ent.clear();
                            row.segments(&mut |start, coef| {
                                ent.extend(coef.iter().enumerate().map(|(j, &c)| (start + j, c)));
                            });
                            for &(col, vc) in &ent {
                                if col < c0 || col >= c1 {
                                    continue;
                                }
                                let base = (col - c0) * n;
                                for &(row, vr) in &ent {
                                    stripe[base + row] += vc * vr;
                                }
                            }
                        }
                        let cp = &src[i];
                        let m = cp.idx.len();
                        if m == 0 {
                            continue;
                        }
                        let lo = cp.idx.partition_point(|&p| (p as usize) < c0);
                        let hi = cp.idx.partition_point(|&p| (p as usize) < c1);
                        for q in lo..hi {
                            let base = (cp.idx[q] as usize - c0) * n;
                            let gq: [f64; NS] = std::array::from_fn(|rr| cp.gt[rr * m + q]);
                            for p in 0..m {
                                let mut s = 0.0;
                                for rr in 0..NS {
                                    s += cp.gt[rr * m + p] * gq[rr];
                                }
                                stripe[base + cp.idx[p] as usize] -= s;
                            }
                        }
                    }
                });
        });
        // pseudo-observations and damping
        let con = &sys.constraints;
        for kk in 0..con.len() {
            let u = con.weight[kk];
            for (i, vi) in con.row(kk) {
                for (j, vj) in con.row(kk) {
                    r[j * n + i] += u * vi * vj;
                }
            }
        }
        if damping {
            for j in 0..n {
                r[j * n + j] += con.damping;
            }
        }

        // c, B, Σ UᵀU, Σ Uᵀ L⁻¹ b: from b_g and V_g (replicated), each rank subtracting its
        // sources after the ranks before it (Comm::chain), in the one-process order
        let mut all = vec![0.0; n + n * k + k * k + k];
        all[..n].copy_from_slice(&sys.b[g0..]);
        for (kk, (_, v)) in sys.frame.iter().enumerate() {
            all[n + kk * n..n + (kk + 1) * n].copy_from_slice(&v[g0..]);
        }
        sys.comm.chain(&mut all, &mut |all| {
            let (c, rest) = all.split_at_mut(n);
            let (bmat, rest) = rest.split_at_mut(n * k);
            let (vdv, vdb) = rest.split_at_mut(k * k);
            for cp in &src {
                let m = cp.idx.len();
                if m == 0 {
                    continue;
                }
                for (p, &gi) in cp.idx.iter().enumerate() {
                    let gi = gi as usize;
                    let g: [f64; NS] = std::array::from_fn(|rr| cp.gt[rr * m + p]);
                    c[gi] -= (0..NS).map(|rr| g[rr] * cp.lb[rr]).sum::<f64>();
                    for kk in 0..k {
                        bmat[kk * n + gi] -=
                            (0..NS).map(|rr| g[rr] * cp.u[rr * k + kk]).sum::<f64>();
                    }
                }
                for a in 0..k {
                    vdb[a] += (0..NS).map(|rr| cp.u[rr * k + a] * cp.lb[rr]).sum::<f64>();
                    for bq in 0..k {
                        vdv[a * k + bq] += (0..NS)
                            .map(|rr| cp.u[rr * k + a] * cp.u[rr * k + bq])
                            .sum::<f64>();
                    }
                }
            }
        });
        let (c, rest) = all.split_at(n);
        let (bmat, rest) = rest.split_at(n * k);
        let (vdv, vdb) = rest.split_at(k * k);
        let (c, bmat, vdv, vdb) = (c.to_vec(), bmat.to_vec(), vdv.to_vec(), vdb.to_vec());
        Reduced {
            n,
            k,
            g0,
            n_src: sys.n_src,
            r,
            c,
            bmat,
            vdv,
            vdb,
            w: sys.frame.iter().map(|(w, _)| *w).collect(),
            chol: sys.src_chol.clone(),
            active: sys.active.clone(),
            src,
        }
    }

    /// Bytes the source couplings hold (allocated capacities and headers), to check
    /// [`coupling_bytes`].
    pub fn couplings_held(&self) -> u64 {
        let header = std::mem::size_of::<Coupling>() as u64;
        self.src
            .iter()
            .map(|c| {
                header
                    + 4 * c.idx.capacity() as u64
                    + 8 * (c.gt.capacity() + c.u.capacity() + c.lb.capacity()) as u64
            })
            .sum()
    }

    /// y = R x.
    pub fn mul(&self, x: &[f64]) -> Vec<f64> {
        let n = self.n;
        let mut y = vec![0.0; n];
        for j in 0..n {
            let col = &self.r[j * n..(j + 1) * n];
            for i in 0..n {
                y[i] += col[i] * x[j];
            }
        }
        y
    }

    /// R as a faer view (frame defect kept).
    pub fn matrix(&self) -> MatRef<'_, f64> {
        MatRef::from_column_major_slice(&self.r, self.n, self.n)
    }

    /// Eigenvalues of R, increasing.
    pub fn spectrum(&self) -> Result<Vec<f64>, SolveError> {
        fixed_dense_parallelism();
        self.matrix()
            .self_adjoint_eigenvalues(Side::Lower)
            .map_err(|e| SolveError::Eigen(format!("{e:?}")))
    }

    /// Eigenvalues and eigenvectors (columns) of R.
    pub fn eigen(&self) -> Result<(Vec<f64>, Mat<f64>), SolveError> {
        fixed_dense_parallelism();
        let evd = self
            .matrix()
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| SolveError::Eigen(format!("{e:?}")))?;
        let s = evd.S().column_vector();
        Ok(((0..self.n).map(|i| s[i]).collect(), evd.U().to_owned()))
    }

    /// C = (F⁻¹ + Σ UᵀU)⁻¹ (k × k, row-major).
    fn c_matrix(&self) -> Vec<f64> {
        let k = self.k;
        let mut m = self.vdv.clone();
        for a in 0..k {
            m[a * k + a] += 1.0 / self.w[a];
        }
        // F⁻¹ > 0 makes it positive definite
        let mut l = m;
        let mut inv = vec![0.0; k * k];
        if astrosolve_model::linalg::cholesky_factor(&mut l, k).is_ok() {
            astrosolve_model::linalg::cholesky_inverse(&l, k, &mut inv);
        }
        inv
    }

    /// Solves the frame-constrained system (the one the iterative solvers solve) by Cholesky of
    /// S = R + B C Bᵀ and back-substitution. Returns the full update and the factor of S.
    /// R becomes S in place and is released: call [`Self::spectrum`] before, not after.
    pub fn solve_constrained(&mut self) -> Result<(Vec<f64>, Constrained), SolveError> {
        self.solve_constrained_on(&crate::comm::Single)
    }

    /// [`Self::solve_constrained`] on every rank of `comm` (each holding the same reduced
    /// system, [`Self::assemble`]): rank 0's global and frame unknowns are broadcast before
    /// each rank back-substitutes its sources.
    pub fn solve_constrained_on(
        &mut self,
        comm: &dyn Comm,
    ) -> Result<(Vec<f64>, Constrained), SolveError> {
        fixed_dense_parallelism();
        let (n, k) = (self.n, self.k);
        let cm = self.c_matrix();
        let bc = self.b_times(&cm);
        let mut s = std::mem::take(&mut self.r);
        if s.len() != n * n {
            return Err(SolveError::Config(
                "the reduced normal matrix was already factored".into(),
            ));
        }
        s.par_chunks_mut(n.max(1)).enumerate().for_each(|(j, col)| {
            for a in 0..k {
                let f = self.bmat[a * n + j];
                if f == 0.0 {
                    continue;
                }
                for (i, v) in col.iter_mut().enumerate() {
                    *v += bc[a * n + i] * f;
                }
            }
        });
        let llt = MatRef::from_column_major_slice(&s, n, n)
            .llt(Side::Lower)
            .map_err(|_| SolveError::ReducedNotPositiveDefinite { n })?;
        drop(s);
        let cvdb: Vec<f64> = (0..k)
            .map(|a| (0..k).map(|b| cm[a * k + b] * self.vdb[b]).sum())
            .collect();
        let mut rhs = self.c.clone();
        for a in 0..k {
            for (i, v) in rhs.iter_mut().enumerate() {
                *v -= self.bmat[a * n + i] * cvdb[a];
            }
        }
        llt.solve_in_place(MatMut::from_column_major_slice_mut(&mut rhs, n, 1));
        let mut y = self.frame_unknowns(&cm, &rhs);
        broadcast_root(comm, &mut [&mut rhs, &mut y]);
        let x = self.back_substitute(&rhs, &y);
        Ok((x, Constrained { llt, cm, bc }))
    }

    /// (B C), column-major n × k.
    fn b_times(&self, cm: &[f64]) -> Vec<f64> {
        let (n, k) = (self.n, self.k);
        let mut bc = vec![0.0; n * k];
        for a in 0..k {
            for b in 0..k {
                let f = cm[b * k + a];
                for i in 0..n {
                    bc[a * n + i] += self.bmat[b * n + i] * f;
                }
            }
        }
        bc
    }

    /// y = C (Bᵀ a + Σ Uᵀ L⁻¹ b).
    fn frame_unknowns(&self, cm: &[f64], a: &[f64]) -> Vec<f64> {
        let (n, k) = (self.n, self.k);
        let t: Vec<f64> = (0..k)
            .map(|q| {
                self.bmat[q * n..(q + 1) * n]
                    .iter()
                    .zip(a)
                    .map(|(x, y)| x * y)
                    .sum::<f64>()
                    + self.vdb[q]
            })
            .collect();
        (0..k)
            .map(|p| (0..k).map(|q| cm[p * k + q] * t[q]).sum())
            .collect()
    }

    /// Full update from the global unknowns a and the frame unknowns y.
    fn back_substitute(&self, a: &[f64], y: &[f64]) -> Vec<f64> {
        let mut x = vec![0.0; self.g0 + self.n];
        let k = self.k;
        x[..self.g0]
            .par_chunks_mut(NS)
            .enumerate()
            .for_each(|(i, xs)| {
                if !self.active[i] {
                    return;
                }
                let cp = &self.src[i];
                let m = cp.idx.len();
                let mut v: [f64; NS] = std::array::from_fn(|r| cp.lb[r]);
                for r in 0..NS {
                    for (p, &gi) in cp.idx.iter().enumerate() {
                        v[r] -= cp.gt[r * m + p] * a[gi as usize];
                    }
                    for (q, &yq) in y.iter().enumerate() {
                        v[r] -= cp.u[r * k + q] * yq;
                    }
                }
                backward(&self.chol[i], &mut v);
                xs.copy_from_slice(&v);
            });
        x[self.g0..].copy_from_slice(a);
        x
    }

    /// Minimum-norm solution of R a = c by the pseudo-inverse, dropping the `n_null` smallest
    /// eigenvalues (the frame modes), then back-substitution. Returns the update and all
    /// eigenvalues of R.
    pub fn solve_pseudo_inverse(&self, n_null: usize) -> Result<(Vec<f64>, Vec<f64>), SolveError> {
        self.solve_pseudo_inverse_on(n_null, &crate::comm::Single)
    }

    /// [`Self::solve_pseudo_inverse`] on every rank of `comm`, rank 0's global unknowns
    /// broadcast before the back-substitution.
    pub fn solve_pseudo_inverse_on(
        &self,
        n_null: usize,
        comm: &dyn Comm,
    ) -> Result<(Vec<f64>, Vec<f64>), SolveError> {
        let n = self.n;
        let (lambda, u) = self.eigen()?;
        let mut a = vec![0.0; n];
        for j in n_null.min(n)..n {
            let col = u.col(j);
            let proj: f64 = (0..n).map(|i| col[i] * self.c[i]).sum::<f64>() / lambda[j];
            for i in 0..n {
                a[i] += proj * col[i];
            }
        }
        broadcast_root(comm, &mut [&mut a]);
        let x = self.back_substitute(&a, &vec![0.0; self.k]);
        Ok((x, lambda))
    }
}

/// Rank 0's values of `vs` on every rank (nothing with one rank).
fn broadcast_root(comm: &dyn Comm, vs: &mut [&mut Vec<f64>]) {
    if comm.size() == 1 {
        return;
    }
    let mut bytes: Vec<u8> = vs
        .iter()
        .flat_map(|v| v.iter().flat_map(|x| x.to_le_bytes()))
        .collect();
    comm.broadcast_bytes(&mut bytes, 0);
    let mut it = bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
    for v in vs.iter_mut() {
        for x in v.iter_mut() {
            *x = it.next().unwrap_or(f64::NAN);
        }
    }
}

/// The factored constrained system, kept for the covariance.
pub struct Constrained {
    pub(crate) llt: faer::linalg::solvers::Llt<f64>,
    pub(crate) cm: Vec<f64>,
    pub(crate) bc: Vec<f64>,
}
