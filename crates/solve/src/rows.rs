//! The linear system of one outer iteration as weighted observation equations A x ≈ b, so
//! that AᵀA and Aᵀb are exactly the normal equations N + constraints of [`System`]: what LSQR
//! iterates on (Paige & Saunders 1982) and what is exported for other solvers (SciPy).
//!
//! Rows, in order: the AL observations (√w × design row), the AC measurements, the attitude
//! norm pseudo-observations (one per spline coefficient), the damping rows (one per attitude
//! and calibration unknown), the calibration convention rows, the six weighted frame rows
//! √w_k v_kᵀ, and identity rows fixing the unknowns of sources that are not solved.
//! Nothing is stored: every product is a pass over the compact design equations, sources in
//! parallel, the attitude and calibration sums accumulated per task and reduced.
#![allow(clippy::needless_range_loop)] // index loops over parallel arrays mirror the formulas

use crate::design::NS;
use crate::system::{add, split_slices, System, DAMPING, W_ATT_NORM, W_CAL_CONSTRAINT};
use rayon::prelude::*;

/// Row view of a [`System`].
pub struct Rows<'s, 'a> {
    pub sys: &'s System<'a>,
    /// Sources that are not solved (their five unknowns get identity rows).
    inactive: Vec<usize>,
    n_obs: usize,
    n_ac: usize,
    n_knots: usize,
}

impl<'s, 'a> Rows<'s, 'a> {
    pub fn new(sys: &'s System<'a>) -> Self {
        Rows {
            sys,
            inactive: (0..sys.layout.n_src).filter(|&i| !sys.active[i]).collect(),
            n_obs: sys.obs.len(),
            n_ac: sys.design.ac.len(),
            n_knots: sys.layout.n_att / 4,
        }
    }

    fn norm0(&self) -> usize {
        self.n_obs + self.n_ac
    }
    fn damp0(&self) -> usize {
        self.norm0() + self.n_knots
    }
    fn con0(&self) -> usize {
        self.damp0() + self.sys.layout.n_att + self.sys.layout.n_cal
    }
    fn frame0(&self) -> usize {
        self.con0() + self.sys.cal_constraints.len()
    }
    fn inactive0(&self) -> usize {
        self.frame0() + self.sys.frame.len()
    }

    pub fn n_rows(&self) -> usize {
        self.inactive0() + NS * self.inactive.len()
    }

    pub fn n_cols(&self) -> usize {
        self.sys.layout.len()
    }

    /// Calls f(row, col, value) for every non-zero of A (rows in increasing order within each
    /// block). Used for export; the solvers use the passes below.
    pub fn for_each_entry(&self, mut f: impl FnMut(usize, usize, f64)) {
        let sys = self.sys;
        let l = sys.layout;
        let sref = sys.sref();
        for i in 0..l.n_src {
            let on = sys.active[i];
            sref.for_each_row_indexed(i, |row, a_s, a_q, a_c, w, _res, g| {
                if w == 0.0 {
                    return;
                }
                let sw = w.sqrt();
                if on {
                    for k in 0..NS {
                        f(row, NS * i + k, sw * a_s[k]);
                    }
                }
                for m in 0..4 {
                    for k in 0..4 {
                        f(row, l.att0() + g.att + 4 * m + k, sw * g.b[m] * a_q[k]);
                    }
                }
                for (c, &a) in a_c.iter().enumerate() {
                    f(row, l.cal0() + g.cal + c, sw * a);
                }
            });
        }
        let sn = W_ATT_NORM.sqrt();
        for (k, g) in sys.att_dir.iter().enumerate() {
            for r in 0..4 {
                f(self.norm0() + k, l.att0() + 4 * k + r, sn * g[r]);
            }
        }
        let sd = DAMPING.sqrt();
        for j in 0..l.n_att + l.n_cal {
            f(self.damp0() + j, l.att0() + j, sd);
        }
        let sc = W_CAL_CONSTRAINT.sqrt();
        for (r, crow) in sys.cal_constraints.iter().enumerate() {
            for &(i, c) in crow {
                f(self.con0() + r, l.cal0() + i, sc * c);
            }
        }
        for (r, (w, v)) in sys.frame.iter().enumerate() {
            let sw = w.sqrt();
            for (j, &vj) in v.iter().enumerate() {
                if vj != 0.0 {
                    f(self.frame0() + r, j, sw * vj);
                }
            }
        }
        for (k, &i) in self.inactive.iter().enumerate() {
            for c in 0..NS {
                f(self.inactive0() + NS * k + c, NS * i + c, 1.0);
            }
        }
    }

    /// The right-hand side b (weighted residuals and pseudo-observation values): Aᵀb equals the
    /// normal equations' right-hand side.
    pub fn rhs(&self) -> Vec<f64> {
        let sys = self.sys;
        let mut u = vec![0.0; self.n_rows()];
        let (u_obs, u_rest) = u.split_at_mut(self.norm0());
        let (u_al, u_ac) = u_obs.split_at_mut(self.n_obs);
        let sref = sys.sref();
        for i in 0..sys.layout.n_src {
            sref.for_each_row_indexed(i, |row, _, _, _, w, res, _| {
                let v = w.sqrt() * res;
                if row < self.n_obs {
                    u_al[row] = v;
                } else {
                    u_ac[row - self.n_obs] = v;
                }
            });
        }
        // attitude norm: ĉ_k·δc_k = ρ_k, recovered from b (b_att holds W ĉ ρ + observation part)
        let (norms, rest) = u_rest.split_at_mut(self.n_knots);
        norms.copy_from_slice(&sys.norm_residuals);
        norms.iter_mut().for_each(|v| *v *= W_ATT_NORM.sqrt());
        let rest = &mut rest[sys.layout.n_att + sys.layout.n_cal..];
        for (r, crow) in sys.cal_constraints.iter().enumerate() {
            let s: f64 = crow.iter().map(|&(i, c)| c * sys.cal.params[i]).sum();
            rest[r] = -W_CAL_CONSTRAINT.sqrt() * s;
        }
        u
    }

    /// u = A x.
    pub fn mul(&self, x: &[f64], u: &mut [f64]) {
        let sys = self.sys;
        let l = sys.layout;
        let (x_src, x_rest) = x.split_at(l.att0());
        let (x_att, x_cal) = x_rest.split_at(l.n_att);
        let (u_obs, u_rest) = u.split_at_mut(self.norm0());
        let (u_al, u_ac) = u_obs.split_at_mut(self.n_obs);
        let obs = sys.obs;
        let ac_off = &sys.design.ac_offsets;
        // per-task slices of the AL and AC rows (sources are contiguous in both)
        let al_tasks: Vec<std::ops::Range<usize>> = sys
            .tasks
            .iter()
            .map(|r| obs.source_offsets[r.start]..obs.source_offsets[r.end])
            .collect();
        let ac_tasks: Vec<std::ops::Range<usize>> = sys
            .tasks
            .iter()
            .map(|r| ac_off[r.start]..ac_off[r.end])
            .collect();
        let al_slices = split_slices(u_al, &al_tasks, 1);
        let ac_slices = split_slices(u_ac, &ac_tasks, 1);
        let sref = sys.sref();
        sys.tasks
            .par_iter()
            .zip(al_slices)
            .zip(ac_slices)
            .zip(al_tasks.par_iter().zip(ac_tasks.par_iter()))
            .for_each(|(((range, ual), uac), (ral, rac))| {
                for i in range.clone() {
                    let on = sys.active[i];
                    sref.for_each_row_indexed(i, |row, a_s, a_q, a_c, w, _res, g| {
                        let mut v = 0.0;
                        if w != 0.0 {
                            if on {
                                for k in 0..NS {
                                    v += a_s[k] * x_src[NS * i + k];
                                }
                            }
                            for m in 0..4 {
                                for k in 0..4 {
                                    v += g.b[m] * a_q[k] * x_att[g.att + 4 * m + k];
                                }
                            }
                            for (c, &a) in a_c.iter().enumerate() {
                                v += a * x_cal[g.cal + c];
                            }
                            v *= w.sqrt();
                        }
                        if row < self.n_obs {
                            ual[row - ral.start] = v;
                        } else {
                            uac[row - self.n_obs - rac.start] = v;
                        }
                    });
                }
            });
        let (u_norm, rest) = u_rest.split_at_mut(self.n_knots);
        let sn = W_ATT_NORM.sqrt();
        for (k, g) in sys.att_dir.iter().enumerate() {
            u_norm[k] = sn * (0..4).map(|r| g[r] * x_att[4 * k + r]).sum::<f64>();
        }
        let (u_damp, rest) = rest.split_at_mut(l.n_att + l.n_cal);
        let sd = DAMPING.sqrt();
        u_damp
            .iter_mut()
            .zip(&x[l.att0()..])
            .for_each(|(u, x)| *u = sd * x);
        let (u_con, rest) = rest.split_at_mut(sys.cal_constraints.len());
        let sc = W_CAL_CONSTRAINT.sqrt();
        for (u, crow) in u_con.iter_mut().zip(&sys.cal_constraints) {
            *u = sc * crow.iter().map(|&(i, c)| c * x_cal[i]).sum::<f64>();
        }
        let (u_frame, u_inact) = rest.split_at_mut(sys.frame.len());
        for (u, (w, v)) in u_frame.iter_mut().zip(&sys.frame) {
            *u = w.sqrt() * v.par_iter().zip(x).map(|(a, b)| a * b).sum::<f64>();
        }
        for (k, &i) in self.inactive.iter().enumerate() {
            u_inact[NS * k..NS * k + NS].copy_from_slice(&x_src[NS * i..NS * i + NS]);
        }
    }

    /// x = Aᵀ u.
    pub fn mul_t(&self, u: &[f64], x: &mut [f64]) {
        let sys = self.sys;
        let l = sys.layout;
        let (u_obs, u_rest) = u.split_at(self.norm0());
        let (u_al, u_ac) = u_obs.split_at(self.n_obs);
        let (x_src, x_rest) = x.split_at_mut(l.att0());
        let sref = sys.sref();
        let src_slices = split_slices(x_src, &sys.tasks, NS);
        let zero = || (vec![0.0; l.n_att], vec![0.0; l.n_cal]);
        let (acc_att, acc_cal) = sys
            .tasks
            .par_iter()
            .zip(src_slices)
            .map(|(range, xs)| {
                let (mut aa, mut ac) = zero();
                for (ii, i) in range.clone().enumerate() {
                    let mut os = [0.0; NS];
                    sref.for_each_row_indexed(i, |row, a_s, a_q, a_c, w, _res, g| {
                        if w == 0.0 {
                            return;
                        }
                        let ur = if row < self.n_obs {
                            u_al[row]
                        } else {
                            u_ac[row - self.n_obs]
                        };
                        let v = w.sqrt() * ur;
                        for k in 0..NS {
                            os[k] += a_s[k] * v;
                        }
                        for m in 0..4 {
                            for k in 0..4 {
                                aa[g.att + 4 * m + k] += g.b[m] * a_q[k] * v;
                            }
                        }
                        for (c, &a) in a_c.iter().enumerate() {
                            ac[g.cal + c] += a * v;
                        }
                    });
                    if !sys.active[i] {
                        os = [0.0; NS];
                    }
                    xs[NS * ii..NS * ii + NS].copy_from_slice(&os);
                }
                (aa, ac)
            })
            .reduce(zero, |(mut a1, mut c1), (a2, c2)| {
                add(&mut a1, &a2);
                add(&mut c1, &c2);
                (a1, c1)
            });
        let (x_att, x_cal) = x_rest.split_at_mut(l.n_att);
        x_att.copy_from_slice(&acc_att);
        x_cal.copy_from_slice(&acc_cal);
        let (u_norm, rest) = u_rest.split_at(self.n_knots);
        let sn = W_ATT_NORM.sqrt();
        for (k, g) in sys.att_dir.iter().enumerate() {
            for r in 0..4 {
                x_att[4 * k + r] += sn * g[r] * u_norm[k];
            }
        }
        let (u_damp, rest) = rest.split_at(l.n_att + l.n_cal);
        let sd = DAMPING.sqrt();
        x_att
            .iter_mut()
            .chain(x_cal.iter_mut())
            .zip(u_damp)
            .for_each(|(x, u)| *x += sd * u);
        let (u_con, rest) = rest.split_at(sys.cal_constraints.len());
        let sc = W_CAL_CONSTRAINT.sqrt();
        for (&u, crow) in u_con.iter().zip(&sys.cal_constraints) {
            for &(i, c) in crow {
                x_cal[i] += sc * c * u;
            }
        }
        let (u_frame, u_inact) = rest.split_at(sys.frame.len());
        for (&u, (w, v)) in u_frame.iter().zip(&sys.frame) {
            let s = w.sqrt() * u;
            x.par_iter_mut().zip(v).for_each(|(xj, vj)| *xj += s * vj);
        }
        for (k, &i) in self.inactive.iter().enumerate() {
            for c in 0..NS {
                x[NS * i + c] += u_inact[NS * k + c];
            }
        }
    }

    /// Squared column norms of A, i.e. the diagonal of AᵀA = N.
    pub fn column_sq_norms(&self) -> Vec<f64> {
        let mut d = vec![0.0; self.n_cols()];
        // cheap enough to do serially through the entry iterator
        self.for_each_entry(|_, c, v| d[c] += v * v);
        d
    }
}
