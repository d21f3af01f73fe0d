//! Direct solution of the linearised global system (AJAS-like; Ryabinin et al. 2024):
//! the sources are eliminated one by one (Schur complement), the reduced normal matrix of
//! the exposure attitudes and distortion coefficients,
//!   R = N_xx − Σ_s N_xs N_ss⁻¹ N_sx,   r = b_x − Σ_s N_xs N_ss⁻¹ b_s,
//! is formed densely and solved by Cholesky (faer), then every source is back-substituted,
//! x_s = N_ss⁻¹ (b_s − N_sx x_x). With R⁻¹ the full covariance of each source follows:
//!   C_s = N_ss⁻¹ + (N_ss⁻¹ N_sx) R⁻¹ (N_ss⁻¹ N_sx)ᵀ,
//! which includes the errors of the attitude and calibration it depends on.
//!
//! Work: Σ_s m_s² (m_s: attitude and calibration unknowns touched by source s) to form R,
//! n_x³/3 to factor it; memory n_x² per thread (n_x = 3 n_exposures + n_distortion).

use crate::system::System;
use astrosolve_model::linalg::{cholesky_factor, NotPositiveDefinite};
use astrosolve_model::pointed::{N_ATT, N_SRC};
use faer::linalg::solvers::DenseSolveCore;
use faer::prelude::*;
use faer::{Mat, Side};
use rayon::prelude::*;

pub struct DirectResult {
    /// Solution of the whole system (sources, attitude, distortion).
    pub dx: Vec<f64>,
    /// Full 5×5 covariance of every source (when asked for).
    pub source_covariance: Option<Vec<[[f64; N_SRC]; N_SRC]>>,
    /// Size of the reduced system.
    pub n_reduced: usize,
}

/// Largest reduced system `astrosolve solve` hands to the direct solver (memory ≈ 8 n² bytes
/// per thread, at most ≈ 2 GB in all, plus the n² covariance; n³/3 flops to factor).
pub const MAX_REDUCED_DEFAULT: usize = 6000;

/// Per-thread work space for one source: the reduced unknowns it touches and N_sx.
struct Scratch {
    pos: Vec<u32>,
    touched: Vec<usize>,
    /// N_sx, then G = L⁻¹ N_sx, 5 rows of `touched.len()` (row-major, stride `cap`).
    nsx: Vec<f64>,
    cap: usize,
}

const NONE: u32 = u32::MAX;

impl Scratch {
    fn new(nr: usize) -> Self {
        Scratch {
            pos: vec![NONE; nr],
            touched: Vec::new(),
            nsx: Vec::new(),
            cap: 0,
        }
    }

    /// Fills `touched` and N_sx of source s; returns N_ss (with prior).
    #[allow(clippy::needless_range_loop)] // parallel arrays indexed together
    fn load(&mut self, sys: &System, prior_of: &[Option<usize>], s: usize) -> [f64; 25] {
        for &i in &self.touched {
            self.pos[i] = NONE;
        }
        self.touched.clear();
        let t = sys.n_terms;
        let n_att = sys.n_exp * N_ATT;
        // pass 1: which reduced unknowns
        for i in sys.rows_of(s) {
            let row = &sys.rows[i];
            for k in 0..N_ATT {
                self.touch(row.exp as usize * N_ATT + k);
            }
            for axis in 0..2 {
                let c = row.cal as usize + axis * t;
                for k in 0..t {
                    if !sys.fixed[c + k] {
                        self.touch(n_att + c + k);
                    }
                }
            }
        }
        let m = self.touched.len();
        if self.cap < m {
            self.cap = m.next_power_of_two();
            self.nsx = vec![0.0; N_SRC * self.cap];
        }
        let cap = self.cap;
        for r in 0..N_SRC {
            self.nsx[r * cap..r * cap + m]
                .iter_mut()
                .for_each(|v| *v = 0.0);
        }
        // pass 2: N_sx
        for i in sys.rows_of(s) {
            let row = &sys.rows[i];
            let bs = sys.basis_of(i);
            for axis in 0..2 {
                let ds = &row.ds[axis];
                for k in 0..N_ATT {
                    let col = self.pos[row.exp as usize * N_ATT + k] as usize;
                    let v = row.w * row.da[axis][k];
                    for r in 0..N_SRC {
                        self.nsx[r * cap + col] += ds[r] * v;
                    }
                }
                let c = row.cal as usize + axis * t;
                for k in 0..t {
                    if !sys.fixed[c + k] {
                        let col = self.pos[n_att + c + k] as usize;
                        let v = row.w * bs[k];
                        for r in 0..N_SRC {
                            self.nsx[r * cap + col] += ds[r] * v;
                        }
                    }
                }
            }
        }
        let mut nss = sys.source_block(s);
        sys.add_prior(prior_of, s, &mut nss);
        if nss[0] == 0.0 {
            for k in 0..N_SRC {
                nss[k * N_SRC + k] = 1.0;
            }
        }
        nss
    }

    #[inline]
    fn touch(&mut self, i: usize) {
        if self.pos[i] == NONE {
            self.pos[i] = self.touched.len() as u32;
            self.touched.push(i);
        }
    }

    /// In place: rows of N_sx → G = L⁻¹ N_sx (forward substitution on every column).
    fn forward(&mut self, l: &[f64; 25]) {
        let m = self.touched.len();
        let cap = self.cap;
        for r in 0..N_SRC {
            for k in 0..r {
                let f = l[r * N_SRC + k];
                let (lo, hi) = self.nsx.split_at_mut(r * cap);
                let src = &lo[k * cap..k * cap + m];
                for (a, b) in hi[..m].iter_mut().zip(src) {
                    *a -= f * b;
                }
            }
            let d = 1.0 / l[r * N_SRC + r];
            self.nsx[r * cap..r * cap + m]
                .iter_mut()
                .for_each(|v| *v *= d);
        }
    }
}

fn forward5(l: &[f64; 25], b: &mut [f64; N_SRC]) {
    for r in 0..N_SRC {
        let mut s = b[r];
        for k in 0..r {
            s -= l[r * N_SRC + k] * b[k];
        }
        b[r] = s / l[r * N_SRC + r];
    }
}

fn backward5(l: &[f64; 25], b: &mut [f64; N_SRC]) {
    for r in (0..N_SRC).rev() {
        let mut s = b[r];
        for k in r + 1..N_SRC {
            s -= l[k * N_SRC + r] * b[k];
        }
        b[r] = s / l[r * N_SRC + r];
    }
}

/// Source ranges of about equal numbers of rows.
fn source_groups(sys: &System, n: usize) -> Vec<(usize, usize)> {
    let per = sys.rows.len().div_ceil(n.max(1)).max(1);
    let mut g = Vec::new();
    let mut s0 = 0;
    while s0 < sys.n_src {
        let mut s1 = s0 + 1;
        while s1 < sys.n_src && sys.src_start[s1] - sys.src_start[s0] < per {
            s1 += 1;
        }
        g.push((s0, s1));
        s0 = s1;
    }
    g
}

/// Solves the linearised system directly; see the module documentation.
#[allow(clippy::needless_range_loop)] // parallel arrays indexed together
pub fn solve_direct(sys: &System, full_covariance: bool) -> Result<DirectResult, String> {
    let nr = sys.n_reduced();
    let a0 = sys.att0();
    let t = sys.n_terms;
    let n_att = sys.n_exp * N_ATT;
    let prior_of = sys.prior_index();
    // one reduced matrix per thread: at most 8 threads and ≈ 2 GB in all
    let per_matrix = 8.0 * (nr * nr) as f64;
    let mem_threads = ((2e9 / per_matrix).floor() as usize).max(1);
    let n_threads = rayon::current_num_threads().clamp(1, 8).min(mem_threads);
    let groups = source_groups(sys, n_threads);
    let not_pd = |s: usize| {
        move |_: NotPositiveDefinite| format!("source {s}: normal block not positive definite")
    };

    // --- reduced normal matrix (lower triangle, row-major) and right-hand side
    type Reduced = Result<(Vec<f64>, Vec<f64>), String>;
    let parts: Vec<Reduced> = groups
        .par_iter()
        .map(|&(s0, s1)| {
            let mut r = vec![0.0; nr * nr];
            let mut rb = vec![0.0; nr];
            let mut sc = Scratch::new(nr);
            let mut idx = [0usize; 3 + 21];
            let mut val = [0.0f64; 3 + 21];
            for s in s0..s1 {
                // N_xx and its share of the rows of source s
                for i in sys.rows_of(s) {
                    let row = &sys.rows[i];
                    let bs = sys.basis_of(i);
                    for axis in 0..2 {
                        let mut m = 0;
                        for k in 0..N_ATT {
                            idx[m] = row.exp as usize * N_ATT + k;
                            val[m] = row.da[axis][k];
                            m += 1;
                        }
                        let c = row.cal as usize + axis * t;
                        for k in 0..t {
                            if !sys.fixed[c + k] {
                                idx[m] = n_att + c + k;
                                val[m] = bs[k];
                                m += 1;
                            }
                        }
                        for a in 0..m {
                            let wa = row.w * val[a];
                            for b in 0..m {
                                if idx[a] >= idx[b] {
                                    r[idx[a] * nr + idx[b]] += wa * val[b];
                                }
                            }
                        }
                    }
                }
                // eliminate source s
                let mut l = sc.load(sys, &prior_of, s);
                cholesky_factor(&mut l, N_SRC).map_err(not_pd(s))?;
                sc.forward(&l);
                let mut h: [f64; N_SRC] = std::array::from_fn(|k| sys.rhs[s * N_SRC + k]);
                forward5(&l, &mut h);
                let m = sc.touched.len();
                let cap = sc.cap;
                let g = &sc.nsx;
                for a in 0..m {
                    let ia = sc.touched[a];
                    let ga: [f64; N_SRC] = std::array::from_fn(|k| g[k * cap + a]);
                    rb[ia] -= (0..N_SRC).map(|k| ga[k] * h[k]).sum::<f64>();
                    let rrow = &mut r[ia * nr..ia * nr + nr];
                    for b in 0..m {
                        let ib = sc.touched[b];
                        if ia >= ib {
                            let mut v = 0.0;
                            for k in 0..N_SRC {
                                v += ga[k] * g[k * cap + b];
                            }
                            rrow[ib] -= v;
                        }
                    }
                }
            }
            Ok((r, rb))
        })
        .collect();
    let mut r = vec![0.0; nr * nr];
    let mut rb: Vec<f64> = sys.rhs[a0..].to_vec();
    for part in parts {
        let (pr, pb) = part?;
        r.par_chunks_mut(nr)
            .zip(pr.par_chunks(nr))
            .for_each(|(a, b)| a.iter_mut().zip(b).for_each(|(x, y)| *x += y));
        for (a, b) in rb.iter_mut().zip(&pb) {
            *a += b;
        }
    }
    // fixed (gauge) and unobserved unknowns: unit diagonal, zero right-hand side
    for i in 0..nr {
        let fixed = i >= n_att && sys.fixed[i - n_att];
        if fixed || r[i * nr + i] == 0.0 {
            r[i * nr + i] = 1.0;
            rb[i] = 0.0;
        }
    }
    let mat = Mat::from_fn(
        nr,
        nr,
        |i, j| {
            if i >= j {
                r[i * nr + j]
            } else {
                r[j * nr + i]
            }
        },
    );
    drop(r);
    let llt = mat.llt(Side::Lower).map_err(|e| {
        let faer::linalg::cholesky::llt::factor::LltError::NonPositivePivot { index } = e;
        let what = if index < n_att {
            format!("the attitude of exposure {}", index / N_ATT)
        } else {
            let c = index - n_att;
            let blk = c / t;
            format!(
                "distortion term {} of calibration unit {}, detector {}, axis {}",
                c % t,
                blk / 8,
                (blk / 2) % 4,
                ["x", "y"][blk % 2]
            )
        };
        format!(
            "the reduced normal matrix ({nr} × {nr}) is not positive definite: the data do not determine {what} (pivot {index})"
        )
    })?;
    let mut xr = Mat::from_fn(nr, 1, |i, _| rb[i]);
    llt.solve_in_place(xr.as_mut());
    let xr: Vec<f64> = (0..nr).map(|i| xr[(i, 0)]).collect();
    let cred: Option<Vec<f64>> = if full_covariance {
        let inv = llt.inverse();
        let mut v = vec![0.0; nr * nr];
        v.par_chunks_mut(nr).enumerate().for_each(|(i, row)| {
            row.iter_mut()
                .enumerate()
                .for_each(|(j, x)| *x = inv[(i, j)])
        });
        Some(v)
    } else {
        None
    };

    // --- back-substitution (and full covariance) per source
    type Back = Vec<([f64; N_SRC], Option<[[f64; N_SRC]; N_SRC]>)>;
    let back: Vec<Result<Back, String>> = groups
        .par_iter()
        .map(|&(s0, s1)| {
            let mut sc = Scratch::new(nr);
            let mut cb: Vec<f64> = Vec::new();
            let mut out = Vec::with_capacity(s1 - s0);
            for s in s0..s1 {
                let mut l = sc.load(sys, &prior_of, s);
                cholesky_factor(&mut l, N_SRC).map_err(not_pd(s))?;
                sc.forward(&l);
                let m = sc.touched.len();
                let cap = sc.cap;
                // x_s = L⁻ᵀ (L⁻¹ b_s − G x_x)
                let mut h: [f64; N_SRC] = std::array::from_fn(|k| sys.rhs[s * N_SRC + k]);
                forward5(&l, &mut h);
                for k in 0..N_SRC {
                    let g = &sc.nsx[k * cap..k * cap + m];
                    h[k] -= g
                        .iter()
                        .zip(&sc.touched)
                        .map(|(g, &i)| g * xr[i])
                        .sum::<f64>();
                }
                backward5(&l, &mut h);
                let cov = cred.as_ref().map(|cr| {
                    // N_ss⁻¹ = L⁻ᵀ L⁻¹; B = L⁻ᵀ G; C = N_ss⁻¹ + B C_x Bᵀ = L⁻ᵀ (I + G C_x Gᵀ) L⁻¹
                    if cb.len() < N_SRC * m {
                        cb.resize(N_SRC * m, 0.0);
                    }
                    // cb[k][a] = Σ_b C_x[a, b] G[k][b]
                    for a in 0..m {
                        let crow = &cr[sc.touched[a] * nr..(sc.touched[a] + 1) * nr];
                        let mut acc = [0.0; N_SRC];
                        for b in 0..m {
                            let c = crow[sc.touched[b]];
                            for (k, ak) in acc.iter_mut().enumerate() {
                                *ak += c * sc.nsx[k * cap + b];
                            }
                        }
                        for k in 0..N_SRC {
                            cb[k * m + a] = acc[k];
                        }
                    }
                    let mut inner = [[0.0; N_SRC]; N_SRC];
                    for (i, row) in inner.iter_mut().enumerate() {
                        for (j, v) in row.iter_mut().enumerate() {
                            let g = &sc.nsx[i * cap..i * cap + m];
                            *v = g
                                .iter()
                                .zip(&cb[j * m..j * m + m])
                                .map(|(a, b)| a * b)
                                .sum::<f64>()
                                + if i == j { 1.0 } else { 0.0 };
                        }
                    }
                    // C = L⁻ᵀ inner L⁻¹: columns of L⁻¹ via backward on unit vectors
                    let mut linv_t = [[0.0; N_SRC]; N_SRC]; // row j = L⁻ᵀ e_j
                    for (j, row) in linv_t.iter_mut().enumerate() {
                        let mut e = [0.0; N_SRC];
                        e[j] = 1.0;
                        backward5(&l, &mut e);
                        *row = e;
                    }
                    // L⁻ᵀ[a][j] = linv_t[j][a]
                    let mut c = [[0.0; N_SRC]; N_SRC];
                    for a in 0..N_SRC {
                        for b in 0..N_SRC {
                            let mut v = 0.0;
                            for i in 0..N_SRC {
                                for j in 0..N_SRC {
                                    v += linv_t[i][a] * inner[i][j] * linv_t[j][b];
                                }
                            }
                            c[a][b] = v;
                        }
                    }
                    c
                });
                out.push((h, cov));
            }
            Ok(out)
        })
        .collect();
    let mut dx = vec![0.0; sys.n_unknowns()];
    let mut covs = Vec::with_capacity(sys.n_src);
    let mut s = 0;
    for part in back {
        for (x, c) in part? {
            dx[s * N_SRC..(s + 1) * N_SRC].copy_from_slice(&x);
            if let Some(c) = c {
                covs.push(c);
            }
            s += 1;
        }
    }
    dx[a0..].copy_from_slice(&xr);
    Ok(DirectResult {
        dx,
        source_covariance: full_covariance.then_some(covs),
        n_reduced: nr,
    })
}
