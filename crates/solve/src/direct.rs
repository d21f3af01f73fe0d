//! The direct solution (as JASMINE's AJAS): eliminate the source unknowns and solve the
//! reduced normal equations of the attitude and calibration densely with faer.
//!
//! With N_ss = D = diag(L_i L_iᵀ) the source blocks, the reduced normal matrix is
//! R = N_aa − Σ_i N_ai N_ii⁻¹ N_ia (seed paper, section 4.2; Lindegren et al. 2012, eq. 49),
//! assembled here as N_aa − Σ_i G_i G_iᵀ with G_i = N_ai L_i⁻ᵀ, and c = b_a − Σ_i G_i L_i⁻¹ b_i.
//! R keeps the six-dimensional frame defect (R v_a = 0 for every frame vector's attitude
//! part v_a). It is either removed exactly as in the iterative solvers — the weighted frame
//! rows √w_k v_kᵀ enter as six extra unknowns y = W Vᵀx of the augmented system
//! [[N, V], [Vᵀ, −W⁻¹]], whose elimination gives the SPD matrix
//! S = R + B C Bᵀ, B = V_a − Σ_i G_i U_i, U_i = L_i⁻¹ V_i, C = (W⁻¹ + Σ_i U_iᵀ U_i)⁻¹,
//! solved by Cholesky — or kept, and R solved by its pseudo-inverse from a symmetric
//! eigendecomposition (the six frame modes are the near-zero eigenvalues).
//! Sources are back-substituted: x_i = L_i⁻ᵀ (L_i⁻¹ b_i − G_iᵀ a − U_i y).
//!
//! The inverse of the augmented matrix restricted to x is the full covariance (N + VWVᵀ)⁻¹
//! of the iterative solvers' system; see [`Covariance`].
#![allow(clippy::needless_range_loop)] // index loops over parallel arrays mirror the formulas

use crate::design::{NS, W_SCALE};
use crate::system::{System, DAMPING, W_ATT_NORM, W_CAL_CONSTRAINT};
use faer::linalg::solvers::DenseSolveCore;
use faer::prelude::*;
use faer::Side;
use rayon::prelude::*;

/// How one source couples to the reduced unknowns.
#[derive(Clone, Debug, Default)]
struct Coupling {
    /// Reduced unknowns (attitude then calibration index) the source's observations touch, sorted.
    idx: Vec<u32>,
    /// L_i⁻¹ N_iJ, row-major 5 × m (m = idx.len()); G_i = its transpose.
    gt: Vec<f64>,
    /// U_i = L_i⁻¹ V_i, row-major 5 × k (k frame vectors).
    u: Vec<f64>,
    /// L_i⁻¹ b_i.
    lb: [f64; NS],
}

/// The reduced normal equations of one outer iteration.
pub struct Reduced {
    /// Number of reduced unknowns (attitude + calibration).
    pub n: usize,
    /// Number of frame vectors (6, or 0 if the system has none).
    pub k: usize,
    /// Index of the first attitude unknown in the full unknown vector.
    att0: usize,
    n_src: usize,
    /// R, column-major n × n (both triangles).
    r: Vec<f64>,
    /// c = b_a − Σ G_i L_i⁻¹ b_i.
    pub c: Vec<f64>,
    /// B = V_a − Σ G_i U_i, column-major n × k.
    bmat: Vec<f64>,
    /// Σ U_iᵀ U_i (k × k) and Σ U_iᵀ L_i⁻¹ b_i.
    vdv: Vec<f64>,
    vdb: Vec<f64>,
    /// Frame weights w_k.
    w: Vec<f64>,
    /// Source factors L_i (row-major lower), copied from the system.
    chol: Vec<[f64; NS * NS]>,
    active: Vec<bool>,
    src: Vec<Coupling>,
}

fn forward(l: &[f64; NS * NS], b: &mut [f64; NS]) {
    for r in 0..NS {
        let mut s = b[r];
        for q in 0..r {
            s -= l[r * NS + q] * b[q];
        }
        b[r] = s / l[r * NS + r];
    }
}

fn backward(l: &[f64; NS * NS], b: &mut [f64; NS]) {
    for r in (0..NS).rev() {
        let mut s = b[r];
        for q in r + 1..NS {
            s -= l[q * NS + r] * b[q];
        }
        b[r] = s / l[r * NS + r];
    }
}

impl Reduced {
    /// Eliminates the sources of `sys`. With `damping` false the Levenberg–Marquardt damping of
    /// the attitude and calibration is left out (for the eigenvalue analysis of the bare defect).
    pub fn assemble(sys: &System, damping: bool) -> Reduced {
        let l = sys.layout;
        let n = l.n_att + l.n_cal;
        let k = sys.frame.len();
        let sref = sys.sref();
        let n_att = l.n_att;

        // Per source: touched reduced unknowns, L⁻¹N_iJ, L⁻¹V_i, L⁻¹b_i.
        let src: Vec<Coupling> = (0..l.n_src)
            .into_par_iter()
            .map_init(
                || vec![u32::MAX; n],
                |loc, i| {
                    if !sys.active[i] {
                        return Coupling::default();
                    }
                    let mut idx: Vec<u32> = Vec::new();
                    sref.for_each_row(i, |_, _, a_c, _, _, g| {
                        for p in (g.att..g.att + 16).chain(n_att + g.cal..n_att + g.cal + a_c.len())
                        {
                            if loc[p] == u32::MAX {
                                loc[p] = 0;
                                idx.push(p as u32);
                            }
                        }
                    });
                    idx.sort_unstable();
                    for (j, &p) in idx.iter().enumerate() {
                        loc[p as usize] = j as u32;
                    }
                    let m = idx.len();
                    let mut gt = vec![0.0; NS * m];
                    sref.for_each_row(i, |a_s, a_q, a_c, w, _, g| {
                        for mm in 0..4 {
                            for kk in 0..4 {
                                let p = loc[g.att + 4 * mm + kk] as usize;
                                let v = w * g.b[mm] * a_q[kk];
                                for r in 0..NS {
                                    gt[r * m + p] += a_s[r] * v;
                                }
                            }
                        }
                        for (c, &a) in a_c.iter().enumerate() {
                            let p = loc[n_att + g.cal + c] as usize;
                            for r in 0..NS {
                                gt[r * m + p] += a_s[r] * w * a;
                            }
                        }
                    });
                    for &p in &idx {
                        loc[p as usize] = u32::MAX;
                    }
                    let lf = &sys.src_chol[i];
                    for r in 0..NS {
                        for q in 0..r {
                            let f = lf[r * NS + q];
                            for j in 0..m {
                                gt[r * m + j] -= f * gt[q * m + j];
                            }
                        }
                        let d = 1.0 / lf[r * NS + r];
                        gt[r * m..(r + 1) * m].iter_mut().for_each(|v| *v *= d);
                    }
                    let mut u = vec![0.0; NS * k];
                    for (kk, (_, v)) in sys.frame.iter().enumerate() {
                        let mut col = [0.0; NS];
                        col.copy_from_slice(&v[NS * i..NS * i + NS]);
                        forward(lf, &mut col);
                        for r in 0..NS {
                            u[r * k + kk] = col[r];
                        }
                    }
                    let mut lb = [0.0; NS];
                    lb.copy_from_slice(&sys.b[NS * i..NS * i + NS]);
                    forward(lf, &mut lb);
                    Coupling { idx, gt, u, lb }
                },
            )
            .collect();

        // R = N_aa − Σ G Gᵀ by column stripes, each stripe scanning all sources.
        let threads = rayon::current_num_threads().max(1);
        let sw = (n / (8 * threads)).clamp(32, n.max(32));
        let mut r = vec![0.0; n * n];
        r.par_chunks_mut(n * sw)
            .enumerate()
            .for_each(|(si, stripe)| {
                let c0 = si * sw;
                let c1 = (c0 + sw).min(n);
                let mut ent: Vec<(usize, f64)> = Vec::with_capacity(32);
                for i in 0..l.n_src {
                    // observation part Σ w a aᵀ (every source, as in the iterative operator)
                    sref.for_each_row(i, |_, a_q, a_c, w, _, g| {
                        ent.clear();
                        for mm in 0..4 {
                            for kk in 0..4 {
                                ent.push((g.att + 4 * mm + kk, g.b[mm] * a_q[kk]));
                            }
                        }
                        for (c, &a) in a_c.iter().enumerate() {
                            ent.push((n_att + g.cal + c, a));
                        }
                        for &(col, vc) in &ent {
                            if col < c0 || col >= c1 {
                                continue;
                            }
                            let base = (col - c0) * n;
                            let wv = w * vc;
                            for &(row, vr) in &ent {
                                stripe[base + row] += wv * vr;
                            }
                        }
                    });
                    // elimination of the source: − G Gᵀ
                    let cp = &src[i];
                    let m = cp.idx.len();
                    if m == 0 {
                        continue;
                    }
                    let lo = cp.idx.partition_point(|&p| (p as usize) < c0);
                    let hi = cp.idx.partition_point(|&p| (p as usize) < c1);
                    for q in lo..hi {
                        let base = (cp.idx[q] as usize - c0) * n;
                        let gq = [0, 1, 2, 3, 4].map(|rr| cp.gt[rr * m + q]);
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
        // pseudo-observations and damping (as `System::add_constraints`)
        for (kn, g) in sys.att_dir.iter().enumerate() {
            for a in 0..4 {
                for b in 0..4 {
                    r[(4 * kn + b) * n + 4 * kn + a] += W_ATT_NORM * g[a] * g[b];
                }
            }
        }
        for crow in &sys.cal_constraints {
            for &(i, ci) in crow {
                for &(j, cj) in crow {
                    r[(n_att + j) * n + n_att + i] += W_CAL_CONSTRAINT * ci * cj;
                }
            }
        }
        if damping {
            for j in 0..n {
                r[j * n + j] += DAMPING;
            }
        }

        // c, B, Σ UᵀU, Σ Uᵀ L⁻¹ b
        let mut c = sys.b[l.att0()..].to_vec();
        let mut bmat = vec![0.0; n * k];
        for (kk, (_, v)) in sys.frame.iter().enumerate() {
            bmat[kk * n..(kk + 1) * n].copy_from_slice(&v[l.att0()..]);
        }
        let mut vdv = vec![0.0; k * k];
        let mut vdb = vec![0.0; k];
        for cp in &src {
            let m = cp.idx.len();
            if m == 0 {
                continue;
            }
            for (p, &gi) in cp.idx.iter().enumerate() {
                let gi = gi as usize;
                let g = [0, 1, 2, 3, 4].map(|rr| cp.gt[rr * m + p]);
                c[gi] -= (0..NS).map(|rr| g[rr] * cp.lb[rr]).sum::<f64>();
                for kk in 0..k {
                    bmat[kk * n + gi] -= (0..NS).map(|rr| g[rr] * cp.u[rr * k + kk]).sum::<f64>();
                }
            }
            for a in 0..k {
                vdb[a] += (0..NS).map(|rr| cp.u[rr * k + a] * cp.lb[rr]).sum::<f64>();
                for b in 0..k {
                    vdv[a * k + b] += (0..NS)
                        .map(|rr| cp.u[rr * k + a] * cp.u[rr * k + b])
                        .sum::<f64>();
                }
            }
        }
        Reduced {
            n,
            k,
            att0: l.att0(),
            n_src: l.n_src,
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

    /// y = R x for a reduced vector x.
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

    /// The reduced normal matrix R (frame defect kept), as a faer view.
    pub fn matrix(&self) -> MatRef<'_, f64> {
        MatRef::from_column_major_slice(&self.r, self.n, self.n)
    }

    /// Eigenvalues of R in increasing order.
    pub fn spectrum(&self) -> Result<Vec<f64>, String> {
        self.matrix()
            .self_adjoint_eigenvalues(Side::Lower)
            .map_err(|e| format!("eigenvalues of the reduced normal matrix: {e:?}"))
    }

    /// C = (W⁻¹ + Σ UᵀU)⁻¹ (k × k, row-major).
    fn c_matrix(&self) -> Vec<f64> {
        let k = self.k;
        let mut m = self.vdv.clone();
        for a in 0..k {
            m[a * k + a] += 1.0 / self.w[a];
        }
        let mut l = m.clone();
        astrosolve_model::linalg::cholesky_factor(&mut l, k).expect("frame block is SPD");
        let mut inv = vec![0.0; k * k];
        astrosolve_model::linalg::cholesky_inverse(&l, k, &mut inv);
        inv
    }

    /// Solves the constrained system (the same one the iterative solvers solve) by Cholesky of
    /// S = R + B C Bᵀ and back-substitution. Returns the full update and the factor of S.
    ///
    /// R is turned into S in place and released (call [`Self::spectrum`] or
    /// [`Self::solve_pseudo_inverse`] before, not after): peak memory is two n × n matrices.
    pub fn solve_constrained(&mut self) -> Result<(Vec<f64>, Constrained), String> {
        let (n, k) = (self.n, self.k);
        let cm = self.c_matrix();
        // S = R + B C Bᵀ
        let bc = self.b_times(&cm);
        let mut s = std::mem::take(&mut self.r);
        if s.len() != n * n {
            return Err("the reduced normal matrix was already factored".into());
        }
        s.par_chunks_mut(n).enumerate().for_each(|(j, col)| {
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
            .map_err(|e| format!("reduced normal matrix not positive definite: {e:?}"))?;
        drop(s);
        // rhs = c − B C vdb
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
        let y = self.frame_unknowns(&cm, &rhs);
        let x = self.back_substitute(&rhs, &y);
        Ok((x, Constrained { llt, cm, bc }))
    }

    /// (B C) column-major n × k.
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

    /// Full unknown vector from the reduced unknowns a and the frame unknowns y.
    fn back_substitute(&self, a: &[f64], y: &[f64]) -> Vec<f64> {
        let mut x = vec![0.0; self.att0 + self.n];
        let k = self.k;
        x[..self.att0]
            .par_chunks_mut(NS)
            .enumerate()
            .for_each(|(i, xs)| {
                if !self.active[i] {
                    return;
                }
                let cp = &self.src[i];
                let m = cp.idx.len();
                let mut v = cp.lb;
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
        x[self.att0..].copy_from_slice(a);
        x
    }

    /// Minimum-norm solution of the unconstrained reduced system R a = c by the pseudo-inverse,
    /// dropping the `n_null` smallest eigenvalues (the frame modes), then back-substitution.
    /// Returns the update and all eigenvalues of R.
    pub fn solve_pseudo_inverse(&self, n_null: usize) -> Result<(Vec<f64>, Vec<f64>), String> {
        let n = self.n;
        let evd = self
            .matrix()
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| format!("eigendecomposition of the reduced normal matrix: {e:?}"))?;
        let s = evd.S().column_vector();
        let u = evd.U();
        let lambda: Vec<f64> = (0..n).map(|i| s[i]).collect();
        let mut a = vec![0.0; n];
        for j in n_null.min(n)..n {
            let col = u.col(j);
            let proj: f64 = (0..n).map(|i| col[i] * self.c[i]).sum::<f64>() / lambda[j];
            for i in 0..n {
                a[i] += proj * col[i];
            }
        }
        let x = self.back_substitute(&a, &vec![0.0; self.k]);
        Ok((x, lambda))
    }

    /// Eigenvalues and eigenvectors (columns) of R.
    pub fn eigen(&self) -> Result<(Vec<f64>, Mat<f64>), String> {
        let evd = self
            .matrix()
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| format!("eigendecomposition of the reduced normal matrix: {e:?}"))?;
        let s = evd.S().column_vector();
        Ok(((0..self.n).map(|i| s[i]).collect(), evd.U().to_owned()))
    }

    /// Full covariance of the constrained solution from the factor of S (inverts S: O(n³)).
    pub fn covariance(self, cons: Constrained) -> Covariance {
        let (n, k) = (self.n, self.k);
        let sinv = cons.llt.inverse();
        // Z_ay = S⁻¹ B C (n × k), Z_yy = −C + C Bᵀ S⁻¹ B C (k × k)
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

/// The factored constrained system, kept for the covariance.
pub struct Constrained {
    llt: faer::linalg::solvers::Llt<f64>,
    cm: Vec<f64>,
    bc: Vec<f64>,
}

/// Full covariance of every unknown (in the solver's scaled units; × [`W_SCALE`] gives rad²):
/// the inverse of the augmented constrained normal matrix restricted to the unknowns,
/// K⁻¹_ss = D⁻¹ + D⁻¹ E R_z⁻¹ Eᵀ D⁻¹ with E = [N_sa, V_s] and R_z the reduced matrix over
/// (a, y), whose inverse is [[S⁻¹, S⁻¹BC], [·, −C + CBᵀS⁻¹BC]].
pub struct Covariance {
    red: Reduced,
    sinv: Mat<f64>,
    zay: Vec<f64>,
    zyy: Vec<f64>,
}

impl Covariance {
    /// Z = R_z⁻¹ element between two indices of (a, y) space (y indices are n + q).
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

    /// Row-major 5 × (m + k) matrix E_i' = [G_iᵀ, U_i] and its (a, y) indices.
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

    /// L_i⁻ᵀ M L_i⁻¹ for a symmetric 5×5 M (row-major).
    fn sandwich(&self, i: usize, j: usize, m: &mut [f64; NS * NS]) {
        // columns: M ← M L_j⁻¹ᵀ... apply L_i⁻ᵀ on the left to each column, L_j⁻ᵀ on the right
        for c in 0..NS {
            let mut col = [0.0; NS];
            for r in 0..NS {
                col[r] = m[r * NS + c];
            }
            backward(&self.red.chol[i], &mut col);
            for r in 0..NS {
                m[r * NS + c] = col[r];
            }
        }
        for r in 0..NS {
            let mut row = [0.0; NS];
            row.copy_from_slice(&m[r * NS..r * NS + NS]);
            backward(&self.red.chol[j], &mut row);
            m[r * NS..r * NS + NS].copy_from_slice(&row);
        }
    }

    /// Covariance between the 5 unknowns of source i and those of source j (scaled units).
    pub fn source_pair(&self, i: usize, j: usize) -> [f64; NS * NS] {
        let mut out = [0.0; NS * NS];
        if !self.red.active[i] || !self.red.active[j] {
            return out;
        }
        let (ii, ei) = self.e_prime(i);
        let (jj, ej) = self.e_prime(j);
        let (wi, wj) = (ii.len(), jj.len());
        // T = E_i' Z[ii, jj] (5 × wj), then T E_j'ᵀ
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
                out[r * NS + c] = (0..wj).map(|q| t[r * wj + q] * ej[c * wj + q]).sum();
            }
        }
        if i == j {
            for r in 0..NS {
                out[r * NS + r] += 1.0;
            }
        }
        self.sandwich(i, j, &mut out);
        out
    }

    /// The complete 5×5 covariance of source i, attitude and calibration contributions included.
    pub fn source_block(&self, i: usize) -> [f64; NS * NS] {
        self.source_pair(i, i)
    }

    /// All source blocks, in parallel.
    pub fn source_blocks(&self) -> Vec<[f64; NS * NS]> {
        (0..self.red.n_src)
            .into_par_iter()
            .map(|i| self.source_block(i))
            .collect()
    }

    /// Covariance between any two unknowns of the full vector [sources | attitude | calibration]
    /// (scaled units).
    pub fn element(&self, p: usize, q: usize) -> f64 {
        let a0 = self.red.att0;
        match (p < a0, q < a0) {
            (false, false) => self.sinv[(p - a0, q - a0)],
            (true, true) => self.source_pair(p / NS, q / NS)[(p % NS) * NS + q % NS],
            (true, false) => self.source_reduced(p / NS, q - a0)[p % NS],
            (false, true) => self.source_reduced(q / NS, p - a0)[q % NS],
        }
    }

    /// Covariance of source i's unknowns with reduced unknown q: −L_i⁻ᵀ E_i' Z[·, q].
    fn source_reduced(&self, i: usize, q: usize) -> [f64; NS] {
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

    /// Standard uncertainty (scaled units → rad via √(· W_SCALE)) of reduced unknown j.
    pub fn reduced_sigma(&self, j: usize) -> f64 {
        (self.sinv[(j, j)] * W_SCALE).sqrt()
    }
}
