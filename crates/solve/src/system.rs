//! The linearised normal equations N Δx = b of one outer iteration, never stored whole:
//! N = Aᵀ W A + constraints + damping, with unknowns ordered [sources | attitude | calibration].
//!
//! What is stored: the factored 5×5 source blocks N_ii, the banded attitude block N_aa
//! (half-bandwidth 15: four B-splines × four quaternion components), and one dense block
//! per calibration group (all units of one time interval and field of view, coupled by the
//! SRS constraints of `Calibration::constraints`). Everything else is computed by passes over
//! the design equations: sources in parallel, each pass accumulating the attitude and
//! calibration sums per thread and reducing them ("accumulate, then reduce").

use crate::design::{Design, NS};
use astrosolve_model::bspline::UniformKnots;
use astrosolve_model::linalg::{self, BandedSpd};
use astrosolve_model::{BSplineAttitude, Calibration, Instrument, ObservationSet};
use rayon::prelude::*;

/// Weight (in the scaled units of [`crate::design::W_SCALE`]) of the pseudo-observations that
/// keep each attitude coefficient's norm and enforce the calibration convention.
pub(crate) const W_ATT_NORM: f64 = 1.0;
pub(crate) const W_CAL_CONSTRAINT: f64 = 1e2;
/// Levenberg–Marquardt-style damping of attitude and calibration updates (scaled units):
/// it vanishes at convergence and keeps unobserved knots or units regular.
pub(crate) const DAMPING: f64 = 1e-6;

/// Norms of the attitude spline coefficients (the norm-keeping pseudo-observations restore them).
pub fn coefficient_norms(att: &BSplineAttitude) -> Vec<f64> {
    att.coeffs
        .iter()
        .map(|c| (c[0] * c[0] + c[1] * c[1] + c[2] * c[2] + c[3] * c[3]).sqrt())
        .collect()
}

/// Index ranges of the unknowns.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub n_src: usize,
    pub n_att: usize,
    pub n_cal: usize,
}

impl Layout {
    pub fn att0(&self) -> usize {
        NS * self.n_src
    }
    pub fn cal0(&self) -> usize {
        NS * self.n_src + self.n_att
    }
    pub fn len(&self) -> usize {
        self.cal0() + self.n_cal
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One group of calibration unknowns solved together.
struct CalGroup {
    start: usize,
    len: usize,
    chol: Vec<f64>,
}

pub struct System<'a> {
    pub obs: &'a ObservationSet,
    pub design: &'a Design,
    pub knots: UniformKnots,
    pub cal: &'a Calibration,
    pub layout: Layout,
    /// Right-hand side b = Aᵀ W r (+ constraint terms).
    pub b: Vec<f64>,
    /// Factored source blocks (row-major lower Cholesky factor), one per source.
    pub src_chol: Vec<[f64; NS * NS]>,
    /// Sources taking part (enough observations, block positive definite).
    pub active: Vec<bool>,
    att_chol: BandedSpd,
    cal_groups: Vec<CalGroup>,
    pub(crate) att_dir: Vec<[f64; 4]>,
    pub(crate) cal_constraints: Vec<Vec<(usize, f64)>>,
    /// Source ranges processed by one task each.
    pub(crate) tasks: Vec<std::ops::Range<usize>>,
    /// Frame vectors (orientation, spin) with their weights: N gets Σ w_k v_k v_kᵀ, which
    /// removes the six-dimensional (near-)null space from each linear step (minimum norm).
    pub(crate) frame: Vec<(f64, Vec<f64>)>,
    /// Residuals ρ_k = |c_k|₀ − |c_k| of the attitude norm pseudo-observations.
    pub(crate) norm_residuals: Vec<f64>,
    /// M v_k for each frame vector (M the full operator).
    frame_mv: Vec<Vec<f64>>,
}

/// Where an observation's attitude and calibration unknowns are.
#[derive(Clone, Copy)]
pub(crate) struct Geo {
    pub(crate) att: usize,
    pub(crate) b: [f64; 4],
    pub(crate) cal: usize,
}

impl<'a> System<'a> {
    /// Assembles the right-hand side and the block-diagonal of N, and factors the blocks.
    #[allow(clippy::too_many_arguments)]
    pub fn assemble(
        obs: &'a ObservationSet,
        design: &'a Design,
        att: &BSplineAttitude,
        att_start_norms: &[f64],
        cal: &'a Calibration,
        inst: &Instrument,
        min_obs: usize,
    ) -> Self {
        let n_src = obs.n_sources();
        let layout = Layout {
            n_src,
            n_att: att.n_params(),
            n_cal: cal.n_params(),
        };
        let threads = rayon::current_num_threads().max(1);
        let tasks = split_by_obs(obs, 4 * threads);
        let mut sys = System {
            obs,
            design,
            knots: att.knots,
            cal,
            layout,
            b: vec![0.0; layout.len()],
            src_chol: vec![[0.0; NS * NS]; n_src],
            active: vec![false; n_src],
            att_chol: BandedSpd::zeros(layout.n_att, 15),
            cal_groups: Vec::new(),
            att_dir: att
                .coeffs
                .iter()
                .map(|c| {
                    let n = (c[0] * c[0] + c[1] * c[1] + c[2] * c[2] + c[3] * c[3]).sqrt();
                    c.map(|v| v / n)
                })
                .collect(),
            cal_constraints: cal.constraints(inst),
            tasks,
            frame: Vec::new(),
            frame_mv: Vec::new(),
            norm_residuals: Vec::new(),
        };

        // Pass: source blocks and b_s (written per source), attitude band, calibration normal
        // matrix (per unit, n_per_unit² each) and b_a, b_c (accumulated per task, reduced).
        let npu = cal.n_per_unit();
        let n_units = cal.n_units();
        struct Acc {
            band: BandedSpd,
            cal_blocks: Vec<f64>,
            b_att: Vec<f64>,
            b_cal: Vec<f64>,
        }
        let new_acc = || Acc {
            band: BandedSpd::zeros(layout.n_att, 15),
            cal_blocks: vec![0.0; n_units * npu * npu],
            b_att: vec![0.0; layout.n_att],
            b_cal: vec![0.0; layout.n_cal],
        };
        let b_src = &mut sys.b[..layout.att0()];
        let src_slices = split_slices(b_src, &sys.tasks, NS);
        let chol_slices = split_slices(&mut sys.src_chol, &sys.tasks, 1);
        let active_slices = split_slices(&mut sys.active, &sys.tasks, 1);
        let sys_ref = &SysRef {
            obs,
            design,
            knots: att.knots,
            cal,
        };
        let acc = sys
            .tasks
            .par_iter()
            .zip(src_slices)
            .zip(chol_slices)
            .zip(active_slices)
            .map(|(((range, b_s), chol), active)| {
                let mut acc = new_acc();
                for (ii, i) in range.clone().enumerate() {
                    let mut n_ss = [0.0; NS * NS];
                    let mut bs = [0.0; NS];
                    let mut n_used = 0usize;
                    sys_ref.for_each_row(i, |a_s, a_q, a_c, w, res, g| {
                        if w > 0.0 {
                            n_used += 1;
                        }
                        for r in 0..NS {
                            bs[r] += a_s[r] * w * res;
                            for c in 0..=r {
                                n_ss[r * NS + c] += a_s[r] * w * a_s[c];
                            }
                        }
                        // attitude: 16 unknowns a_k = B_m q_k
                        let mut aa = [0.0; 16];
                        for m in 0..4 {
                            for k in 0..4 {
                                aa[4 * m + k] = g.b[m] * a_q[k];
                            }
                        }
                        for r in 0..16 {
                            acc.b_att[g.att + r] += aa[r] * w * res;
                            for c in 0..=r {
                                acc.band.add(g.att + r, g.att + c, aa[r] * w * aa[c]);
                            }
                        }
                        let unit = g.cal / npu;
                        let blk = &mut acc.cal_blocks[unit * npu * npu..(unit + 1) * npu * npu];
                        let off = g.cal - unit * npu;
                        for (r, &ar) in a_c.iter().enumerate() {
                            acc.b_cal[g.cal + r] += ar * w * res;
                            for (c, &ac) in a_c.iter().enumerate() {
                                blk[(off + r) * npu + off + c] += ar * w * ac;
                            }
                        }
                    });
                    for r in 0..NS {
                        for c in 0..r {
                            n_ss[c * NS + r] = n_ss[r * NS + c];
                        }
                    }
                    b_s[NS * ii..NS * ii + NS].copy_from_slice(&bs);
                    let max_diag = (0..NS).map(|k| n_ss[k * NS + k]).fold(0.0, f64::max);
                    let ok = n_used >= min_obs
                        && linalg::cholesky_factor(&mut n_ss, NS).is_ok()
                        && (0..NS).all(|k| n_ss[k * NS + k].powi(2) > 1e-13 * max_diag);
                    active[ii] = ok;
                    chol[ii] = if ok { n_ss } else { identity() };
                    if !ok {
                        b_s[NS * ii..NS * ii + NS].iter_mut().for_each(|v| *v = 0.0);
                    }
                }
                acc
            })
            .reduce(new_acc, |mut a, b| {
                a.band.add_assign(&b.band);
                add(&mut a.cal_blocks, &b.cal_blocks);
                add(&mut a.b_att, &b.b_att);
                add(&mut a.b_cal, &b.b_cal);
                a
            });
        // Inactive sources contributed to the attitude and calibration sums; that is harmless
        // only if their weights are zero, which the outer loop guarantees by re-weighting.
        let att0 = layout.att0();
        let cal0 = layout.cal0();
        sys.b[att0..cal0].copy_from_slice(&acc.b_att);
        sys.b[cal0..].copy_from_slice(&acc.b_cal);

        // Attitude: norm-keeping pseudo-observations ĉ_k · δc_k = |c_k|₀ − |c_k|, damping.
        let mut band = acc.band;
        for (k, c) in att.coeffs.iter().enumerate() {
            let n = (c[0] * c[0] + c[1] * c[1] + c[2] * c[2] + c[3] * c[3]).sqrt();
            let g = sys.att_dir[k];
            let rho = att_start_norms[k] - n;
            sys.norm_residuals.push(rho);
            for r in 0..4 {
                sys.b[att0 + 4 * k + r] += W_ATT_NORM * g[r] * rho;
                for cc in 0..=r {
                    band.add(4 * k + r, 4 * k + cc, W_ATT_NORM * g[r] * g[cc]);
                }
            }
        }
        for i in 0..layout.n_att {
            band.add(i, i, DAMPING);
        }
        band.factor()
            .expect("attitude normal matrix not positive definite");
        sys.att_chol = band;

        // Calibration: per group dense matrix = unit blocks + constraints + damping.
        let units_per_group = cal.n_rows * cal.n_strips;
        let glen = units_per_group * npu;
        let n_groups = n_units / units_per_group;
        for crow in &sys.cal_constraints {
            let s: f64 = crow.iter().map(|&(i, c)| c * cal.params[i]).sum();
            for &(i, c) in crow {
                sys.b[cal0 + i] += W_CAL_CONSTRAINT * c * (-s);
            }
        }
        sys.cal_groups = (0..n_groups)
            .into_par_iter()
            .map(|gi| {
                let start = gi * glen;
                let mut m = vec![0.0; glen * glen];
                for u in 0..units_per_group {
                    let unit = gi * units_per_group + u;
                    let blk = &acc.cal_blocks[unit * npu * npu..(unit + 1) * npu * npu];
                    for r in 0..npu {
                        for c in 0..npu {
                            m[(u * npu + r) * glen + u * npu + c] += blk[r * npu + c];
                        }
                    }
                }
                for crow in &sys.cal_constraints {
                    if crow.first().map(|&(i, _)| i / glen) != Some(gi) {
                        continue;
                    }
                    for &(i, ci) in crow {
                        for &(j, cj) in crow {
                            m[(i - start) * glen + (j - start)] += W_CAL_CONSTRAINT * ci * cj;
                        }
                    }
                }
                for i in 0..glen {
                    m[i * glen + i] += DAMPING;
                }
                linalg::cholesky_factor(&mut m, glen)
                    .expect("calibration normal matrix not positive definite");
                CalGroup {
                    start,
                    len: glen,
                    chol: m,
                }
            })
            .collect();
        sys
    }

    /// Constrains the update by the six frame vectors of the current sources and attitude
    /// (orientation and spin, [`crate::frame::null_vectors`]), as every outer iteration does.
    pub fn constrain_frame(
        &mut self,
        params: &[astrosolve_model::SourceParams],
        att: &BSplineAttitude,
    ) {
        let mut vecs = crate::frame::null_vectors(params, &self.active, att);
        let n = self.layout.len();
        vecs.iter_mut().for_each(|v| v.resize(n, 0.0));
        self.set_frame_vectors(vecs);
    }

    /// Adds the frame vectors (full-length, in the unknown space) as constraints on the
    /// update, each weighted by 1/(vᵀK⁻¹v) so it is as stiff as the preconditioned system.
    pub fn set_frame_vectors(&mut self, vectors: Vec<Vec<f64>>) {
        let mut z = vec![0.0; self.layout.len()];
        self.frame = vectors
            .into_iter()
            .map(|v| {
                self.precondition(&v, &mut z);
                let vkv: f64 = v.iter().zip(&z).map(|(a, b)| a * b).sum();
                (1.0 / vkv, v)
            })
            .collect();
        // M v for the full operator M = N + Σ w v vᵀ, used by `frame_correction`
        let mut mv = Vec::with_capacity(self.frame.len());
        for (_, v) in &self.frame {
            let mut out = vec![0.0; self.layout.len()];
            self.apply(v, &mut out);
            mv.push(out);
        }
        self.frame_mv = mv;
    }

    /// Subspace correction along the frame vectors: x += V θ with θ minimising the quadratic
    /// form of the full (constrained) system, (VᵀMV) θ = Vᵀ(b − M x). With it the simple
    /// iteration converges to the same solution as PCG (block Gauss–Seidel with one more block).
    pub fn frame_correction(&self, x: &mut [f64]) {
        let k = self.frame.len();
        if k == 0 {
            return;
        }
        let mut g = vec![0.0; k * k];
        let mut r = vec![0.0; k];
        for i in 0..k {
            let (v, mv) = (&self.frame[i].1, &self.frame_mv[i]);
            r[i] = v.iter().zip(&self.b).map(|(a, b)| a * b).sum::<f64>()
                - mv.iter().zip(x.iter()).map(|(a, b)| a * b).sum::<f64>();
            for j in 0..k {
                g[i * k + j] = mv.iter().zip(&self.frame[j].1).map(|(a, b)| a * b).sum();
            }
        }
        if linalg::cholesky_solve(&mut g, &mut r, k).is_ok() {
            for (i, (_, v)) in self.frame.iter().enumerate() {
                x.iter_mut().zip(v).for_each(|(xi, vi)| *xi += r[i] * vi);
            }
        }
    }

    pub(crate) fn sref(&self) -> SysRef<'_> {
        SysRef {
            obs: self.obs,
            design: self.design,
            knots: self.knots,
            cal: self.cal,
        }
    }

    /// out = N p without the frame terms.
    pub fn apply_unconstrained(&self, p: &[f64], out: &mut [f64]) {
        self.apply_inner(p, out, false)
    }

    /// out = N p.
    pub fn apply(&self, p: &[f64], out: &mut [f64]) {
        self.apply_inner(p, out, true)
    }

    fn apply_inner(&self, p: &[f64], out: &mut [f64], frame: bool) {
        let l = self.layout;
        let (p_src, p_rest) = p.split_at(l.att0());
        let (p_att, p_cal) = p_rest.split_at(l.n_att);
        let (out_src, out_rest) = out.split_at_mut(l.att0());
        let sref = self.sref();
        let src_slices = split_slices(out_src, &self.tasks, NS);
        let zero = || (vec![0.0; l.n_att], vec![0.0; l.n_cal]);
        let (acc_att, acc_cal) = self
            .tasks
            .par_iter()
            .zip(src_slices)
            .map(|(range, o_s)| {
                let (mut aa, mut ac) = zero();
                for (ii, i) in range.clone().enumerate() {
                    let ps: &[f64] = if self.active[i] {
                        &p_src[NS * i..NS * i + NS]
                    } else {
                        &[0.0; NS]
                    };
                    let mut os = [0.0; NS];
                    sref.for_each_row(i, |a_s, a_q, a_c, w, _res, g| {
                        let mut v = 0.0;
                        for k in 0..NS {
                            v += a_s[k] * ps[k];
                        }
                        for m in 0..4 {
                            let base = g.att + 4 * m;
                            for k in 0..4 {
                                v += g.b[m] * a_q[k] * p_att[base + k];
                            }
                        }
                        for (c, &a) in a_c.iter().enumerate() {
                            v += a * p_cal[g.cal + c];
                        }
                        let wv = w * v;
                        for k in 0..NS {
                            os[k] += a_s[k] * wv;
                        }
                        for m in 0..4 {
                            let base = g.att + 4 * m;
                            for k in 0..4 {
                                aa[base + k] += g.b[m] * a_q[k] * wv;
                            }
                        }
                        for (c, &a) in a_c.iter().enumerate() {
                            ac[g.cal + c] += a * wv;
                        }
                    });
                    if self.active[i] {
                        o_s[NS * ii..NS * ii + NS].copy_from_slice(&os);
                    } else {
                        o_s[NS * ii..NS * ii + NS].copy_from_slice(&p_src[NS * i..NS * i + NS]);
                    }
                }
                (aa, ac)
            })
            .reduce(zero, |(mut a1, mut c1), (a2, c2)| {
                add(&mut a1, &a2);
                add(&mut c1, &c2);
                (a1, c1)
            });
        let (out_att, out_cal) = out_rest.split_at_mut(l.n_att);
        out_att.copy_from_slice(&acc_att);
        out_cal.copy_from_slice(&acc_cal);
        self.add_constraints(p_att, p_cal, out_att, out_cal);
        if !frame {
            return;
        }
        for (w, v) in &self.frame {
            let s: f64 = v.iter().zip(p).map(|(a, b)| a * b).sum::<f64>() * w;
            out.iter_mut().zip(v).for_each(|(o, a)| *o += s * a);
        }
    }

    /// Constraint and damping terms of N p for the attitude and calibration parts.
    fn add_constraints(
        &self,
        p_att: &[f64],
        p_cal: &[f64],
        out_att: &mut [f64],
        out_cal: &mut [f64],
    ) {
        for (k, g) in self.att_dir.iter().enumerate() {
            let s: f64 = (0..4).map(|r| g[r] * p_att[4 * k + r]).sum();
            for r in 0..4 {
                out_att[4 * k + r] += W_ATT_NORM * g[r] * s + DAMPING * p_att[4 * k + r];
            }
        }
        for crow in &self.cal_constraints {
            let s: f64 = crow.iter().map(|&(i, c)| c * p_cal[i]).sum();
            for &(i, c) in crow {
                out_cal[i] += W_CAL_CONSTRAINT * c * s;
            }
        }
        for (o, p) in out_cal.iter_mut().zip(p_cal) {
            *o += DAMPING * p;
        }
    }

    /// z = K⁻¹ r with K the block diagonal of N (the block-Jacobi preconditioner).
    pub fn precondition(&self, r: &[f64], z: &mut [f64]) {
        z.copy_from_slice(r);
        let l = self.layout;
        let (z_src, rest) = z.split_at_mut(l.att0());
        let (z_att, z_cal) = rest.split_at_mut(l.n_att);
        z_src
            .par_chunks_mut(NS)
            .zip(self.src_chol.par_iter())
            .for_each(|(zs, ch)| linalg::cholesky_solve_factored(ch, zs, NS));
        self.att_chol.solve_in_place(z_att);
        let groups = split_groups(z_cal, &self.cal_groups);
        groups
            .into_par_iter()
            .zip(self.cal_groups.par_iter())
            .for_each(|(zc, g)| linalg::cholesky_solve_factored(&g.chol, zc, g.len));
    }

    /// One sweep of the simple iteration (block Gauss–Seidel: sources from the current
    /// attitude and calibration, then attitude and calibration from the new sources).
    pub fn si_sweep(&self, x: &mut [f64]) {
        // frame constraint terms Σ w v (vᵀx) enter every block's right-hand side with the
        // current x, so a fixed point solves the same constrained system as PCG
        let mut b_eff = self.b.clone();
        for (w, v) in &self.frame {
            let s: f64 = v.iter().zip(x.iter()).map(|(a, c)| a * c).sum::<f64>() * w;
            b_eff.iter_mut().zip(v).for_each(|(bi, vi)| *bi -= s * vi);
        }
        let b = &b_eff;
        let l = self.layout;
        let (x_src, x_rest) = x.split_at_mut(l.att0());
        let (x_att, x_cal) = x_rest.split_at_mut(l.n_att);
        let sref = self.sref();
        let src_slices = split_slices(x_src, &self.tasks, NS);
        let zero = || (vec![0.0; l.n_att], vec![0.0; l.n_cal]);
        let x_att_old: &[f64] = x_att;
        let x_cal_old: &[f64] = x_cal;
        let (acc_att, acc_cal) = self
            .tasks
            .par_iter()
            .zip(src_slices)
            .map(|(range, xs_chunk)| {
                let (mut aa, mut ac) = zero();
                for (ii, i) in range.clone().enumerate() {
                    // source update from the current attitude and calibration
                    let mut rhs = [0.0; NS];
                    rhs.copy_from_slice(&b[NS * i..NS * i + NS]);
                    if self.active[i] {
                        sref.for_each_row(i, |a_s, a_q, a_c, w, _res, g| {
                            let v = att_dot(g, a_q, x_att_old) + cal_dot(g, a_c, x_cal_old);
                            for k in 0..NS {
                                rhs[k] -= a_s[k] * w * v;
                            }
                        });
                        linalg::cholesky_solve_factored(&self.src_chol[i], &mut rhs, NS);
                    } else {
                        rhs = [0.0; NS];
                    }
                    xs_chunk[NS * ii..NS * ii + NS].copy_from_slice(&rhs);
                    // attitude and calibration right-hand sides with the new source
                    sref.for_each_row(i, |a_s, a_q, a_c, w, _res, g| {
                        let vs: f64 = (0..NS).map(|k| a_s[k] * rhs[k]).sum();
                        let va = att_dot(g, a_q, x_att_old);
                        let vc = cal_dot(g, a_c, x_cal_old);
                        let wa = w * (vs + vc);
                        let wc = w * (vs + va);
                        for m in 0..4 {
                            for k in 0..4 {
                                aa[g.att + 4 * m + k] += g.b[m] * a_q[k] * wa;
                            }
                        }
                        for (c, &a) in a_c.iter().enumerate() {
                            ac[g.cal + c] += a * wc;
                        }
                    });
                }
                (aa, ac)
            })
            .reduce(zero, |(mut a1, mut c1), (a2, c2)| {
                add(&mut a1, &a2);
                add(&mut c1, &c2);
                (a1, c1)
            });
        let att0 = l.att0();
        let cal0 = l.cal0();
        let mut new_att: Vec<f64> = (0..l.n_att).map(|k| b[att0 + k] - acc_att[k]).collect();
        self.att_chol.solve_in_place(&mut new_att);
        let mut new_cal: Vec<f64> = (0..l.n_cal).map(|k| b[cal0 + k] - acc_cal[k]).collect();
        let groups = split_groups(&mut new_cal, &self.cal_groups);
        groups
            .into_par_iter()
            .zip(self.cal_groups.par_iter())
            .for_each(|(zc, g)| linalg::cholesky_solve_factored(&g.chol, zc, g.len));
        x_att.copy_from_slice(&new_att);
        x_cal.copy_from_slice(&new_cal);
    }

    /// Covariance (scaled units) of source i's parameters from its own block: N_ii⁻¹.
    pub fn source_covariance(&self, i: usize) -> [f64; NS * NS] {
        let mut inv = [0.0; NS * NS];
        linalg::cholesky_inverse(&self.src_chol[i], NS, &mut inv);
        inv
    }
}

/// Read-only view used inside passes.
pub(crate) struct SysRef<'a> {
    obs: &'a ObservationSet,
    design: &'a Design,
    knots: UniformKnots,
    cal: &'a Calibration,
}

impl SysRef<'_> {
    #[inline]
    fn geo(&self, l: usize) -> Geo {
        let o = &self.obs.obs[l];
        let (j, b) = self.knots.basis(o.t);
        let unit = self.cal.unit(
            self.cal.interval_of(o.t),
            o.fov.index(),
            o.row as usize,
            o.strip as usize,
        );
        Geo {
            att: 4 * j,
            b,
            cal: unit * self.cal.n_per_unit(),
        }
    }

    /// Calls f(a_src, a_q, a_cal, w, res, geo) for every design row (AL, then AC) of source i,
    /// with `a_cal` the calibration derivatives starting at `geo.cal`.
    #[inline]
    pub(crate) fn for_each_row(
        &self,
        i: usize,
        mut f: impl FnMut(&[f64; NS], &[f64; 4], &[f64], f64, f64, &Geo),
    ) {
        let n_al = self.cal.config.n_al();
        for l in self.obs.source_offsets[i]..self.obs.source_offsets[i + 1] {
            let r = &self.design.al[l];
            if r.w == 0.0 {
                continue;
            }
            let g = self.geo(l);
            let a_s = r.src.map(|v| v as f64);
            let a_q = r.q.map(|v| v as f64);
            let a_c = r.cal.map(|v| v as f64);
            f(&a_s, &a_q, &a_c[..n_al], r.w as f64, r.res as f64, &g);
        }
        for r in &self.design.ac[self.design.ac_offsets[i]..self.design.ac_offsets[i + 1]] {
            if r.w == 0.0 || self.cal.config.n_ac() == 0 {
                continue;
            }
            let mut g = self.geo(r.obs as usize);
            g.cal += n_al;
            let a_s = r.src.map(|v| v as f64);
            let a_q = r.q.map(|v| v as f64);
            f(&a_s, &a_q, &[r.cal as f64], r.w as f64, r.res as f64, &g);
        }
    }

    /// As [`Self::for_each_row`] but for every row of source i, zero weights included, with
    /// the row's global index: AL row l → l, AC row k → n_obs + k (LSQR's row order).
    #[inline]
    pub(crate) fn for_each_row_indexed(
        &self,
        i: usize,
        mut f: impl FnMut(usize, &[f64; NS], &[f64; 4], &[f64], f64, f64, &Geo),
    ) {
        let n_al = self.cal.config.n_al();
        let n_obs = self.obs.len();
        for l in self.obs.source_offsets[i]..self.obs.source_offsets[i + 1] {
            let r = &self.design.al[l];
            let g = self.geo(l);
            let a_s = r.src.map(|v| v as f64);
            let a_q = r.q.map(|v| v as f64);
            let a_c = r.cal.map(|v| v as f64);
            f(l, &a_s, &a_q, &a_c[..n_al], r.w as f64, r.res as f64, &g);
        }
        let ac0 = self.design.ac_offsets[i];
        for (k, r) in self.design.ac[ac0..self.design.ac_offsets[i + 1]]
            .iter()
            .enumerate()
        {
            let mut g = self.geo(r.obs as usize);
            g.cal += n_al;
            let a_s = r.src.map(|v| v as f64);
            let a_q = r.q.map(|v| v as f64);
            // AC measurements are not used without AC calibration (as in `for_each_row`)
            let cal_v = [r.cal as f64];
            let (w, a_c): (f64, &[f64]) = if self.cal.config.n_ac() == 0 {
                (0.0, &[])
            } else {
                (r.w as f64, &cal_v)
            };
            f(n_obs + ac0 + k, &a_s, &a_q, a_c, w, r.res as f64, &g);
        }
    }
}

#[inline]
fn att_dot(g: &Geo, a_q: &[f64; 4], x: &[f64]) -> f64 {
    let mut v = 0.0;
    for m in 0..4 {
        for k in 0..4 {
            v += g.b[m] * a_q[k] * x[g.att + 4 * m + k];
        }
    }
    v
}

#[inline]
fn cal_dot(g: &Geo, a_c: &[f64], x: &[f64]) -> f64 {
    a_c.iter().enumerate().map(|(c, &a)| a * x[g.cal + c]).sum()
}

fn identity() -> [f64; NS * NS] {
    let mut m = [0.0; NS * NS];
    for i in 0..NS {
        m[i * NS + i] = 1.0;
    }
    m
}

pub(crate) fn add(a: &mut [f64], b: &[f64]) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
}

/// Contiguous source ranges with about equal numbers of observations.
fn split_by_obs(obs: &ObservationSet, n_tasks: usize) -> Vec<std::ops::Range<usize>> {
    let n = obs.n_sources();
    let total = obs.len().max(1);
    let mut tasks = Vec::new();
    let mut start = 0;
    for t in 1..=n_tasks {
        let target = total * t / n_tasks;
        let mut end = start;
        while end < n && (obs.source_offsets[end + 1] <= target || end == start) {
            end += 1;
        }
        if t == n_tasks {
            end = n;
        }
        if end > start {
            tasks.push(start..end);
            start = end;
        }
    }
    if start < n {
        tasks.push(start..n);
    }
    tasks
}

/// Splits a per-source slice (`stride` values per source) along the task ranges.
pub(crate) fn split_slices<'s, T>(
    mut s: &'s mut [T],
    tasks: &[std::ops::Range<usize>],
    stride: usize,
) -> Vec<&'s mut [T]> {
    let mut out = Vec::with_capacity(tasks.len());
    for r in tasks {
        let (a, b) = std::mem::take(&mut s).split_at_mut(stride * r.len());
        out.push(a);
        s = b;
    }
    out
}

fn split_groups<'s>(mut s: &'s mut [f64], groups: &[CalGroup]) -> Vec<&'s mut [f64]> {
    let mut out = Vec::with_capacity(groups.len());
    let mut pos = 0;
    for g in groups {
        debug_assert_eq!(g.start, pos);
        let (a, b) = std::mem::take(&mut s).split_at_mut(g.len);
        out.push(a);
        s = b;
        pos += g.len;
    }
    out
}
