//! The pointed survey as an astrosolve-core [`CoreProblem`]: the global self-calibrated
//! solution of the JASMINE slides — sources, the attitude of every exposure and the
//! distortion of every calibration unit solved together.
//!
//! Unknowns: 5 per source; global g = [attitude: 3 per exposure (Δα_p cos δ_p, Δδ_p, Δψ), one
//! dense 3×3 block each | distortion: [unit][detector][axis][term] as in [`Distortion`], one
//! dense block per (unit, detector, axis)].
//!
//! Pseudo-observations: the gauge terms of the gauge detector (see
//! `astrosolve_model::pointed`) pinned to zero, and damping [`DAMPING`]. Priors: every
//! reference star's catalogue astrometry at the reference epoch, N_ss += C⁻¹,
//! b_s += C⁻¹ (p_cat − p); they fix the frame, so there are no frame rows.

use crate::row::{PointedRow, GAUGE_CONSTANT, GAUGE_V1};
use crate::Problem;
use astrosolve_core::comm::{Comm, Single};
use astrosolve_core::outer::Problem as CoreProblem;
use astrosolve_core::{
    Constraints, FrameContext, FrameFix, GlobalLayout, RowMeta, SolveError, SourcePrior, W_SCALE,
};
use astrosolve_model::linalg::{cholesky_factor, cholesky_inverse};
use astrosolve_model::pointed::{
    apply_attitude_update, apply_source_update, is_gauge_term, n_terms, Distortion, N_ATT,
    N_DETECTORS, N_SRC,
};

/// Damping of the global unknowns (whitened units): only a guard, the redundancy check refuses
/// undetermined exposures and units. It must stay far below the weakest determined direction
/// (pointing versus the non-gauge detectors' offsets: eigenvalues ≈ 10⁻⁵ of the diagonal), or
/// every outer iteration would recover only part of it.
pub const DAMPING: f64 = 1e-12;
/// Weight of the gauge pins.
pub const W_GAUGE: f64 = 1.0;
/// The gauge detector.
pub const GAUGE_DETECTOR: usize = 0;

/// Current values of all parameters.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct State {
    pub sources: Vec<[f64; N_SRC]>,
    pub attitude: Vec<[f64; N_ATT]>,
    pub distortion: Distortion,
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

/// The global solution's view of a [`Problem`].
pub struct GlobalProblem<'a> {
    pub p: &'a Problem,
    /// Images of source s: `p.by_source[src_start[s]..src_start[s + 1]]`.
    src_start: Vec<usize>,
    row_offsets: Vec<usize>,
    /// Reference-epoch priors: source, parameters, inverse covariance (whitened units).
    priors: Vec<(usize, [f64; N_SRC], [[f64; N_SRC]; N_SRC])>,
    comm: &'a dyn Comm,
}

impl<'a> GlobalProblem<'a> {
    pub fn new(p: &'a Problem) -> Self {
        let mut src_start = vec![0usize; p.n_sources + 1];
        for o in &p.obs {
            src_start[o.source as usize + 1] += 1;
        }
        for s in 0..p.n_sources {
            src_start[s + 1] += src_start[s];
        }
        let row_offsets = src_start.iter().map(|&k| 2 * k).collect();
        let priors = p
            .refs
            .iter()
            .map(|r| {
                let (params, cov) = r.prior_at_reference_epoch();
                let mut a: Vec<f64> = cov.iter().flatten().copied().collect();
                let mut inv = [0.0; N_SRC * N_SRC];
                // positive definite: Problem::new checks the uncertainties are > 0
                if cholesky_factor(&mut a, N_SRC).is_ok() {
                    cholesky_inverse(&a, N_SRC, &mut inv);
                }
                let w =
                    std::array::from_fn(|i| std::array::from_fn(|j| inv[i * N_SRC + j] * W_SCALE));
                (r.source_index, params, w)
            })
            .collect();
        GlobalProblem {
            p,
            src_start,
            row_offsets,
            priors,
            comm: &Single,
        }
    }

    /// The problem as one rank's share of a distributed solve (`p` holds the rank's sources,
    /// [`Problem::part`]; exposures and distortion are replicated).
    pub fn with_comm(mut self, comm: &'a dyn Comm) -> Self {
        self.comm = comm;
        self
    }

    /// Index of the first distortion unknown.
    fn cal0(&self) -> usize {
        N_ATT * self.p.exposures.len()
    }
}

impl CoreProblem<N_SRC> for GlobalProblem<'_> {
    type State = State;
    type Row = PointedRow;

    fn n_sources(&self) -> usize {
        self.p.n_sources
    }

    fn row_offsets(&self) -> &[usize] {
        &self.row_offsets
    }

    fn chunks(&self) -> Vec<std::ops::Range<usize>> {
        self.p.chunks.clone()
    }

    fn linearise_source(
        &self,
        st: &State,
        s: usize,
        rows: &mut [PointedRow],
        meta: &mut [RowMeta],
    ) -> Result<(), SolveError> {
        let p = self.p;
        let model = &p.model;
        let t = model.n_terms();
        let cal0 = self.cal0();
        let order = model.order as u8;
        for (k, &i) in p.by_source[self.src_start[s]..self.src_start[s + 1]]
            .iter()
            .enumerate()
        {
            let o = &p.obs[i];
            let ex = &p.exposures[o.exposure as usize];
            let det = o.detector as usize;
            let g = model.geometry(ex.t, det, o.x, o.y);
            let (u, v) = model.instrument.normalised(det, o.x, o.y);
            let dist = &st.distortion;
            let off = dist.offset(ex.cal_unit, det, 0);
            let l = model.linearise(
                &st.sources[s],
                &st.attitude[o.exposure as usize],
                &dist.coeffs[off..off + t],
                &dist.coeffs[off + t..off + 2 * t],
                &g,
            );
            let gauge = det == GAUGE_DETECTOR;
            let base = PointedRow {
                exp: (N_ATT * o.exposure as usize) as u32,
                u: u as f32,
                v: v as f32,
                s: 1.0,
                order,
                ..Default::default()
            };
            rows[2 * k] = PointedRow {
                src: l.d_src_x.map(|v| v as f32),
                res: (o.x - l.x) as f32,
                att: l.d_att_x.map(|v| v as f32),
                cal: (cal0 + off) as u32,
                gauge: if gauge { GAUGE_CONSTANT | GAUGE_V1 } else { 0 },
                ..base
            };
            rows[2 * k + 1] = PointedRow {
                src: l.d_src_y.map(|v| v as f32),
                res: (o.y - l.y) as f32,
                att: l.d_att_y.map(|v| v as f32),
                cal: (cal0 + off + t) as u32,
                gauge: if gauge { GAUGE_CONSTANT } else { 0 },
                ..base
            };
            let m = RowMeta {
                sigma: o.sigma,
                t: ex.t,
                primary: true,
            };
            meta[2 * k] = m;
            meta[2 * k + 1] = m;
        }
        Ok(())
    }

    fn global_layout(&self, st: &State) -> GlobalLayout {
        let mut lay = GlobalLayout::new();
        lay.push_dense(
            "exposure",
            std::iter::repeat_n(N_ATT, self.p.exposures.len()),
        );
        let t = st.distortion.n_terms();
        lay.push_dense(
            "distortion block",
            std::iter::repeat_n(t, st.distortion.n_units * N_DETECTORS * 2),
        );
        lay
    }

    fn constraints(&self, st: &State) -> Constraints {
        let mut c = Constraints::new(DAMPING);
        let d = &st.distortion;
        let t = d.n_terms();
        let cal0 = self.cal0();
        for unit in 0..d.n_units {
            for axis in 0..2 {
                let o = d.offset(unit, GAUGE_DETECTOR, axis);
                for k in 0..t {
                    if is_gauge_term(GAUGE_DETECTOR, GAUGE_DETECTOR, axis, k) {
                        c.push([(cal0 + o + k, 1.0)], -d.coeffs[o + k], W_GAUGE);
                    }
                }
            }
        }
        c
    }

    fn source_priors(&self, st: &State) -> Vec<SourcePrior<N_SRC>> {
        self.priors
            .iter()
            .map(|&(source, params, weight)| SourcePrior {
                source,
                weight,
                delta: param_diff(&params, &st.sources[source]),
            })
            .collect()
    }

    fn frame_vectors(&self, _: &State, _: &[bool]) -> Vec<Vec<f64>> {
        Vec::new()
    }

    fn apply_update(&self, st: &mut State, dx: &[f64], active: &[bool]) {
        let n_src = st.sources.len();
        for (s, p) in st.sources.iter_mut().enumerate() {
            if active[s] {
                apply_source_update(p, &dx[N_SRC * s..N_SRC * s + N_SRC]);
            }
        }
        let a0 = N_SRC * n_src;
        for (e, a) in st.attitude.iter_mut().enumerate() {
            apply_attitude_update(a, &dx[a0 + N_ATT * e..a0 + N_ATT * e + N_ATT]);
        }
        let c0 = a0 + self.cal0();
        for (k, c) in st.distortion.coeffs.iter_mut().enumerate() {
            *c += dx[c0 + k];
        }
    }

    fn fix_frame(&self, _: &mut State, _: &FrameContext<N_SRC>) -> FrameFix {
        FrameFix::default()
    }

    fn max_change(&self, a: &State, b: &State, active: &[bool]) -> [f64; 3] {
        let mut m = [0.0f64; 3];
        for (s, (x, y)) in b.sources.iter().zip(&a.sources).enumerate() {
            if active[s] {
                m[0] = param_diff(x, y)
                    .iter()
                    .fold(m[0], |acc, v| acc.max(v.abs()));
            }
        }
        for (x, y) in b.attitude.iter().zip(&a.attitude) {
            let d = param_diff(&[x[0], x[1], x[2], 0.0, 0.0], &[y[0], y[1], y[2], 0.0, 0.0]);
            m[1] = m[1].max(d[0].abs()).max(d[1].abs()).max(d[2].abs());
        }
        for (x, y) in b.distortion.coeffs.iter().zip(&a.distortion.coeffs) {
            m[2] = m[2].max((x - y).abs());
        }
        m
    }

    fn comm(&self) -> &dyn Comm {
        self.comm
    }

    /// `rows_per_block` arrives summed over the ranks.
    fn check_redundancy(
        &self,
        _: &astrosolve_core::Design<PointedRow>,
        _: &[astrosolve_core::SourceWeighting],
        _: &GlobalLayout,
        rows_per_block: &[usize],
        _: &astrosolve_core::SolverConfig,
    ) -> Result<Vec<String>, SolveError> {
        let n_exp = self.p.exposures.len();
        for (e, &n) in rows_per_block[..n_exp].iter().enumerate() {
            if n < N_ATT {
                return Err(SolveError::Undetermined(format!(
                    "exposure {e} (exposure_id {}): {n} field angles of solved stars do not determine its pointing and roll (3 unknowns); drop the exposure or add stars",
                    self.p.exposures[e].exposure_id
                )));
            }
        }
        let t = n_terms(self.p.model.order);
        for (k, &n) in rows_per_block[n_exp..].iter().enumerate() {
            let (unit, det, axis) = (k / (2 * N_DETECTORS), (k / 2) % N_DETECTORS, k % 2);
            let fixed = (0..t)
                .filter(|&j| is_gauge_term(GAUGE_DETECTOR, det, axis, j))
                .count();
            if n < t - fixed {
                return Err(SolveError::Undetermined(format!(
                    "calibration unit {unit}, detector {det}, axis {}: {n} images of solved stars for a distortion of {} free terms; lower the distortion order or add stars",
                    ["x", "y"][axis],
                    t - fixed
                )));
            }
        }
        Ok(Vec::new())
    }
}
