//! The scanning instrument as an astrosolve-core [`Problem`]: Gaia-like AL/AC field angles,
//! a B-spline attitude and per-CCD calibration units (Lindegren et al. 2012, sections 3, 5.2).
//!
//! Unknowns: 5 per source; global g = [attitude: 4 per spline coefficient (one banded block,
//! half-bandwidth 15 = four B-splines × four components) | calibration: `n_per_unit` per unit,
//! one dense block per (time interval, field of view) group, which its SRS convention couples].
//!
//! Pseudo-observations (weights in the whitened units, σ₀ = 1 nrad):
//! - quaternion norm: ĉ_kᵀ δc_k = |c_k|₀ − |c_k| per spline coefficient, weight [`W_ATT_NORM`]
//!   (the spline quaternion's norm is not observable; keep it at its starting value);
//! - calibration convention (`Calibration::constraints`): Σ e·δp = −Σ e·p, weight [`W_CAL_CONSTRAINT`];
//! - damping [`DAMPING`] on every global unknown (vanishes at convergence; keeps attitude knots
//!   and calibration units without observations regular).
//!
//! Frame (seed paper section 3; Lindegren et al. 2012, section 6.1): the six null vectors
//! constrain every step ([`crate::frame::null_vectors`]); after the update the frame rotator
//! removes the orientation fitted to the reference positions and the spin fitted to the
//! quasar-like sources ([`FrameMode::Gaia`]), or the six null components of the total change
//! from the start ([`FrameMode::MinNorm`]).
//!
//! Distributed ([`ScanningProblem::with_comm`]): the problem holds one rank's sources and their
//! observations; the frame fits and the redundancy counts are summed over the ranks.

use crate::frame::{self, FrameMode, FrameReference};
use crate::row::{ScanRow, NS};
use astrosolve_core::comm::{Comm, Single};
use astrosolve_core::{
    Constraints, Design, FrameContext, FrameFix, GlobalLayout, Problem, RowMeta, SolveError,
    SolverConfig, SourcePrior, SourceWeighting,
};
use astrosolve_model::quat;
use astrosolve_model::units::UAS;
use astrosolve_model::{
    BSplineAttitude, Calibration, GaiaModel, Observation, ObservationSet, ObservationStore,
    SourceJets, SourceParams,
};

/// Weight of the quaternion-norm pseudo-observations.
pub const W_ATT_NORM: f64 = 1.0;
/// Weight of the calibration-convention pseudo-observations.
pub const W_CAL_CONSTRAINT: f64 = 1e2;
/// Levenberg–Marquardt damping of the global unknowns.
pub const DAMPING: f64 = 1e-6;
/// Half-bandwidth of the attitude block.
pub const ATTITUDE_KD: usize = 15;

/// The parameters of a scanning solution.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScanState {
    pub params: Vec<SourceParams>,
    pub attitude: BSplineAttitude,
    pub calibration: Calibration,
}

/// Observations, model and frame information of a scanning mission.
pub struct ScanningProblem<'a> {
    pub model: &'a GaiaModel,
    /// The observations: in memory or read from a file at every linearisation.
    obs: &'a dyn ObservationStore,
    pub frame_mode: FrameMode,
    pub frame_ref: &'a FrameReference,
    /// The starting state (min-norm frame, quaternion norms).
    pub start: ScanState,
    row_offsets: Vec<usize>,
    start_norms: Vec<f64>,
    comm: &'a dyn Comm,
    chunks: Vec<std::ops::Range<usize>>,
}

fn coefficient_norm(c: &[f64; 4]) -> f64 {
    (c[0] * c[0] + c[1] * c[1] + c[2] * c[2] + c[3] * c[3]).sqrt()
}

/// Why a starting state cannot be linearised about (None if it can): a non-finite source
/// parameter or calibration parameter (the data-set reader refuses both), or a degenerate
/// attitude ([`degenerate_attitude`]).
fn invalid_start(st: &ScanState) -> Option<String> {
    if let Some((i, p)) = st.params.iter().enumerate().find(|(_, p)| {
        ![p.ra, p.dec, p.parallax, p.pmra, p.pmdec]
            .iter()
            .all(|v| v.is_finite())
    }) {
        return Some(format!(
            "the starting value of source {i} is not finite ({p:?}); give every source finite starting parameters (0 for an unknown parallax or proper motion)"
        ));
    }
    if let Some(k) = st.calibration.params.iter().position(|v| !v.is_finite()) {
        return Some(format!(
            "the starting calibration parameter {k} is {}; start from finite values (0 where unknown)",
            st.calibration.params[k]
        ));
    }
    degenerate_attitude(&st.attitude)
}

/// Why a starting attitude cannot be linearised about (None if it can): a coefficient of
/// non-finite norm or one outside `astrosolve_io::COEFF_NORM_RANGE` times the median norm (as
/// the data-set reader refuses it; a zero one leaves its quaternion-norm pseudo-observation
/// without a direction), or the un-normalised spline's norm outside
/// `astrosolve_io::SPLINE_NORM_RANGE` at a knot or a mid-interval (the attitude there is
/// undefined or meaningless).
fn degenerate_attitude(att: &BSplineAttitude) -> Option<String> {
    let k = &att.knots;
    let norms: Vec<f64> = att.coeffs.iter().map(coefficient_norm).collect();
    let mut sorted: Vec<f64> = norms.iter().copied().filter(|n| n.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
    let (lo, hi) = astrosolve_io::COEFF_NORM_RANGE;
    if let Some(i) = norms
        .iter()
        .position(|&n| !(lo * median..=hi * median).contains(&n))
    {
        return Some(format!(
            "the starting attitude is degenerate: spline coefficient {i} (centred at t = {} days) is {:?}, of norm {:.3e} where the median coefficient has {median:.3}; give every coefficient a quaternion of the size of its neighbours'",
            k.t0 + (i as f64 - 1.0) * k.h,
            att.coeffs[i],
            norms[i]
        ));
    }
    let (lo, hi) = astrosolve_io::SPLINE_NORM_RANGE;
    for j in 0..k.n_intervals {
        for u in [0.0, 0.5] {
            let t = k.t0 + (j as f64 + u) * k.h;
            let n = coefficient_norm(&att.unnormalised(t).0);
            if !(lo..=hi).contains(&n) {
                return Some(format!(
                    "the starting attitude is degenerate: its spline quaternion has norm {n:.3} at t = {t} days (coefficients {j}..{}), outside {lo}–{hi}; a spline fitted to a unit attitude stays near 1",
                    j + 3
                ));
            }
        }
    }
    None
}

impl<'a> ScanningProblem<'a> {
    /// One AL row per observation, then one AC row where ζ was measured, source by source.
    pub fn new(
        model: &'a GaiaModel,
        obs: &'a ObservationSet,
        start: ScanState,
        frame_mode: FrameMode,
        frame_ref: &'a FrameReference,
    ) -> Self {
        let n_ac = (0..obs.n_sources())
            .map(|i| obs.of_source(i).iter().filter(|o| o.has_ac()).count())
            .collect();
        Self::with_ac_counts(model, obs, n_ac, start, frame_mode, frame_ref)
    }

    /// [`ScanningProblem::new`] over observations in any store (a file read again at every
    /// linearisation: `astrosolve_io::ObservationFile`); reads them once here to count the
    /// rows. Err: they could not be read.
    pub fn on_store(
        model: &'a GaiaModel,
        obs: &'a dyn ObservationStore,
        start: ScanState,
        frame_mode: FrameMode,
        frame_ref: &'a FrameReference,
    ) -> Result<Self, SolveError> {
        let mut n_ac = Vec::with_capacity(obs.n_sources());
        for i in 0..obs.n_sources() {
            obs.with_source(i, &mut |o| {
                n_ac.push(o.iter().filter(|o| o.has_ac()).count())
            })
            .map_err(SolveError::Data)?;
        }
        Ok(Self::with_ac_counts(
            model, obs, n_ac, start, frame_mode, frame_ref,
        ))
    }

    /// `n_ac[i]`: the AC measurements of source i.
    fn with_ac_counts(
        model: &'a GaiaModel,
        obs: &'a dyn ObservationStore,
        n_ac: Vec<usize>,
        start: ScanState,
        frame_mode: FrameMode,
        frame_ref: &'a FrameReference,
    ) -> Self {
        let mut row_offsets = Vec::with_capacity(obs.n_sources() + 1);
        row_offsets.push(0);
        for (i, n_ac) in n_ac.into_iter().enumerate() {
            row_offsets.push(row_offsets[i] + obs.count(i) + n_ac);
        }
        let start_norms = start.attitude.coeffs.iter().map(coefficient_norm).collect();
        let chunks = crate::run::catalogue_chunks(obs);
        ScanningProblem {
            chunks,
            model,
            obs,
            frame_mode,
            frame_ref,
            start,
            row_offsets,
            start_norms,
            comm: &Single,
        }
    }

    /// AC measurements of source i (its rows beyond one per observation).
    fn n_ac(&self, i: usize) -> usize {
        self.row_offsets[i + 1] - self.row_offsets[i] - self.obs.count(i)
    }

    /// The rows of source i from its observations `obs` ([`Problem::linearise_source`]).
    fn linearise_obs(
        &self,
        st: &ScanState,
        i: usize,
        obs: &[Observation],
        rows: &mut [ScanRow],
        meta: &mut [RowMeta],
    ) {
        let cal = &st.calibration;
        let knots = st.attitude.knots;
        let n_att = st.attitude.n_params();
        let npu = cal.n_per_unit();
        let n_al = cal.config.n_al();
        let n_ac = cal.config.n_ac();
        let mut k = 0;
        // what the source's observations share, once (the same rows bit for bit)
        let sj = SourceJets::new(&st.params[i]);
        for o in obs {
            let lin = self.model.linearise_source_obs(&sj, &st.attitude, cal, o);
            let x = (o.t - knots.t0) / knots.h;
            let u = (x - lin.att_index as f64) as f32;
            let cal0 = n_att + lin.cal_unit * npu;
            let mut al = ScanRow {
                res: (o.eta - lin.eta) as f32,
                att: 4 * lin.att_index as u32,
                u,
                ..Default::default()
            };
            for j in 0..NS {
                al.src[j] = lin.d_src_eta[j] as f32;
            }
            al.q = lin.d_q_eta.map(|v| v as f32);
            al.set_cal(cal0, &lin.d_cal_eta[..n_al]);
            rows[k] = al;
            meta[k] = RowMeta {
                sigma: o.sigma_eta,
                t: o.t,
                primary: true,
            };
            k += 1;
            if o.has_ac() {
                let mut ac = ScanRow {
                    res: (o.zeta - lin.zeta) as f32,
                    att: al.att,
                    u,
                    ..Default::default()
                };
                for j in 0..NS {
                    ac.src[j] = lin.d_src_zeta[j] as f32;
                }
                ac.q = lin.d_q_zeta.map(|v| v as f32);
                ac.set_cal(cal0 + n_al, &lin.d_cal_zeta[..n_ac]);
                rows[k] = ac;
                // AC measurements are used only with an AC calibration (its offsets are real)
                meta[k] = RowMeta {
                    sigma: if n_ac > 0 { o.sigma_zeta } else { f64::NAN },
                    t: o.t,
                    primary: false,
                };
                k += 1;
            }
        }
        debug_assert_eq!(k, rows.len());
    }

    /// The problem as one rank's share of a distributed solve: `obs` (and the starting
    /// sources) are the rank's own sources, `frame_ref` indexes them.
    pub fn with_comm(mut self, comm: &'a dyn Comm) -> Self {
        self.comm = comm;
        self
    }

    /// The chunks of the solver's passes: this rank's share of the global chunks
    /// (`crate::run::Problem::chunks`); by default those of `obs` as a whole catalogue.
    pub fn with_chunks(mut self, chunks: Vec<std::ops::Range<usize>>) -> Self {
        self.chunks = chunks;
        self
    }

    /// Number of attitude unknowns (the first global unknowns).
    pub fn n_attitude(&self) -> usize {
        self.start.attitude.n_params()
    }
}

impl Problem<NS> for ScanningProblem<'_> {
    type State = ScanState;
    type Row = ScanRow;

    fn n_sources(&self) -> usize {
        self.obs.n_sources()
    }

    fn row_offsets(&self) -> &[usize] {
        &self.row_offsets
    }

    fn chunks(&self) -> Vec<std::ops::Range<usize>> {
        self.chunks.clone()
    }

    fn resident_record_bytes(&self) -> u64 {
        self.obs.resident_record_bytes()
    }

    fn linearise_source(
        &self,
        st: &ScanState,
        i: usize,
        rows: &mut [ScanRow],
        meta: &mut [RowMeta],
    ) -> Result<(), SolveError> {
        self.obs
            .with_source(i, &mut |obs| self.linearise_obs(st, i, obs, rows, meta))
            .map_err(SolveError::Data)
    }

    fn global_layout(&self, st: &ScanState) -> GlobalLayout {
        let mut lay = GlobalLayout::new();
        lay.push_banded("attitude", st.attitude.n_params(), ATTITUDE_KD);
        let cal = &st.calibration;
        let units_per_group = cal.n_rows * cal.n_strips;
        let glen = units_per_group * cal.n_per_unit();
        let n_groups = cal.n_units() / units_per_group.max(1);
        if glen > 0 {
            // every design row touches one unit; the groups' units are coupled only by the
            // calibration-convention rows (`constraints`), 2 or 3 per group
            let rows = cal.constraints(&self.model.instrument).len();
            let max_rank = rows.div_ceil(n_groups.max(1));
            lay.push_units(
                "calibration group",
                std::iter::repeat_n(glen, n_groups),
                cal.n_per_unit(),
                max_rank,
            );
        }
        lay
    }

    fn constraints(&self, st: &ScanState) -> Constraints {
        let mut c = Constraints::new(DAMPING);
        for (k, q) in st.attitude.coeffs.iter().enumerate() {
            let n = coefficient_norm(q);
            let rho = self.start_norms[k] - n;
            c.push((0..4).map(|r| (4 * k + r, q[r] / n)), rho, W_ATT_NORM);
        }
        let n_att = st.attitude.n_params();
        let cal = &st.calibration;
        for row in cal.constraints(&self.model.instrument) {
            let s: f64 = row.iter().map(|&(i, v)| v * cal.params[i]).sum();
            c.push(
                row.iter().map(|&(i, v)| (n_att + i, v)),
                -s,
                W_CAL_CONSTRAINT,
            );
        }
        c
    }

    fn source_priors(&self, _: &ScanState) -> Vec<SourcePrior<NS>> {
        Vec::new()
    }

    fn frame_vectors(&self, st: &ScanState, active: &[bool]) -> Vec<Vec<f64>> {
        frame::null_vectors(&st.params, active, &st.attitude)
    }

    fn apply_update(&self, st: &mut ScanState, dx: &[f64], active: &[bool]) {
        let g0 = NS * st.params.len();
        for (i, p) in st.params.iter_mut().enumerate() {
            if active[i] {
                p.apply_update(&dx[NS * i..NS * i + NS], NS);
            }
        }
        let n_att = st.attitude.n_params();
        st.attitude.apply_update(&dx[g0..g0 + n_att]);
        st.calibration
            .params
            .iter_mut()
            .zip(&dx[g0 + n_att..])
            .for_each(|(p, d)| *p += d);
    }

    fn fix_frame(&self, st: &mut ScanState, ctx: &FrameContext<NS>) -> FrameFix {
        match self.frame_mode {
            FrameMode::Gaia => {
                let fit = frame::gaia_frame_on(
                    &st.params,
                    ctx.source_cov,
                    ctx.active,
                    self.frame_ref,
                    self.comm,
                );
                frame::rotate(
                    &mut st.params,
                    ctx.active,
                    &mut st.attitude,
                    fit.rotation.map(|v| -v),
                    fit.spin.map(|v| -v),
                );
                let sig = |c: Option<[[f64; 3]; 3]>| {
                    c.map(|c| [c[0][0].sqrt(), c[1][1].sqrt(), c[2][2].sqrt()].map(|v| v / UAS))
                };
                FrameFix {
                    rotation_uas: Some(fit.rotation.map(|v| v / UAS)),
                    rotation_sigma_uas: sig(fit.rotation_cov),
                    spin_uas_per_yr: Some(fit.spin.map(|v| v / UAS)),
                    spin_sigma_uas_per_yr: sig(fit.spin_cov),
                    n_orientation_sources: fit.n_orientation,
                    n_spin_sources: fit.n_spin,
                }
            }
            FrameMode::MinNorm => {
                let vecs = frame::null_vectors(&self.start.params, ctx.active, &st.attitude);
                let d = frame::total_change(st, &self.start, ctx.active);
                let (eps, omega) =
                    frame::null_components_on(&vecs, &d, NS * st.params.len(), self.comm);
                frame::rotate(
                    &mut st.params,
                    ctx.active,
                    &mut st.attitude,
                    eps.map(|v| -v),
                    omega.map(|v| -v),
                );
                FrameFix {
                    rotation_uas: Some(eps.map(|v| v / UAS)),
                    spin_uas_per_yr: Some(omega.map(|v| v / UAS)),
                    ..Default::default()
                }
            }
        }
    }

    /// Refuses observations outside the instrument's layout and a starting state that cannot
    /// be linearised about ([`invalid_start`]).
    fn check_start(&self, st: &ScanState) -> Result<(), SolveError> {
        let refuse = |m: String| Err(SolveError::Config(m));
        let (att, cal) = (&st.attitude, &st.calibration);
        let k = &att.knots;
        if k.n_intervals == 0
            || att.coeffs.len() != k.n_coeffs()
            || !(k.h > 0.0 && k.h.is_finite())
            || !k.t0.is_finite()
        {
            return refuse(format!(
                "the starting attitude has {} coefficients for {} knot intervals of {} days from t0 = {} (need n_intervals ≥ 1, n_intervals + 3 coefficients, a finite interval > 0)",
                att.coeffs.len(), k.n_intervals, k.h, k.t0
            ));
        }
        if cal.n_intervals == 0 || cal.params.len() != cal.n_units() * cal.n_per_unit() {
            return refuse(format!(
                "the starting calibration has {} parameters for {} units of {} ({} intervals)",
                cal.params.len(),
                cal.n_units(),
                cal.n_per_unit(),
                cal.n_intervals
            ));
        }
        if st.params.len() != self.obs.n_sources() {
            return refuse(format!(
                "{} starting sources for observations of {}",
                st.params.len(),
                self.obs.n_sources()
            ));
        }
        let mut outside: Option<String> = None;
        for i in 0..self.obs.n_sources() {
            let first = self.obs.source_offsets()[i];
            self.obs
                .with_source(i, &mut |obs| {
                    if let Some((j, o)) = obs.iter().enumerate().find(|(_, o)| {
                        o.row as usize >= cal.n_rows
                            || o.strip as usize >= cal.n_strips
                            || !o.t.is_finite()
                    }) {
                        outside = Some(format!(
                            "observation {} (source {i}, CCD row {}, strip {}, t = {} days) lies outside the instrument ({} rows × {} strips) or has no finite time",
                            first + j, o.row as usize + 1, o.strip as usize + 1, o.t, cal.n_rows, cal.n_strips
                        ));
                    }
                })
                .map_err(SolveError::Data)?;
            if let Some(m) = outside {
                return refuse(m);
            }
        }
        match invalid_start(st) {
            Some(why) => Err(SolveError::Undetermined(why)),
            None => Ok(()),
        }
    }

    /// Rows touching each spline coefficient (4 unknowns): the least-determined attitude.
    fn check_redundancy(
        &self,
        design: &Design<ScanRow>,
        weights: &[SourceWeighting],
        _: &GlobalLayout,
        rows_per_block: &[usize],
        cfg: &SolverConfig,
    ) -> Result<Vec<String>, SolveError> {
        let n_coef = self.start.attitude.coeffs.len();
        // the attitude is block 0 (one banded block); AC measurements fix the rotations the
        // AL ones cannot see, so they need a third of the redundancy on their own
        let per_unknown = rows_per_block[0] as f64 / (4 * n_coef) as f64;
        let n_ac: usize = (0..self.obs.n_sources())
            .filter(|&i| weights[i].solvable)
            .map(|i| self.n_ac(i))
            .sum();
        let n_ac = self.comm.sum_count(n_ac);
        let ac_per_unknown = n_ac as f64 / (4 * n_coef) as f64;
        let min_ac = cfg.min_attitude_redundancy / 3.0;
        if per_unknown >= cfg.min_attitude_redundancy && ac_per_unknown < min_ac {
            return Err(SolveError::Undetermined(format!(
                "the attitude is too weakly determined across scan: {ac_per_unknown:.1} AC measurements of solvable sources per attitude unknown ({per_unknown:.1} in all), fewer than the {min_ac:.0} (a third of --min-attitude-redundancy) that the rotations AL measurements cannot see need. Give AC measurements to fainter sources (simulate: [simulation] g_ac_max; Gaia: G < 13), observe more sources, or lower --min-attitude-redundancy to solve anyway"
            )));
        }
        if per_unknown < cfg.min_attitude_redundancy {
            let knot_min = self.start.attitude.knots.h * 1440.0;
            let n_src = self
                .comm
                .sum_count(weights.iter().filter(|w| w.solvable).count());
            let n_all = self.comm.sum_count(weights.len());
            let need = (n_all as f64 * cfg.min_attitude_redundancy / per_unknown.max(1e-9)).ceil();
            return Err(SolveError::Undetermined(format!(
                "the attitude is too weakly determined: {per_unknown:.1} measurements of solvable sources per attitude unknown ({} unknowns, knots every {knot_min:.0} min; {n_src} of {n_all} sources have the {} visibility periods to be solved), fewer than the {:.0} needed for formal errors that match the true ones and for the outer iterations to converge. Observe ≈ {need:.0} or more sources, or longer (more sources reach the visibility periods), or lengthen the knot interval (simulate: [mission] attitude_knot_interval_days, at most half a revolution), or lower --min-attitude-redundancy to solve anyway",
                4 * n_coef,
                cfg.solvable.min_visibility_periods,
                cfg.min_attitude_redundancy
            )));
        }
        let mut per_interval = vec![0usize; n_coef];
        for (i, w) in weights.iter().enumerate() {
            if !w.solvable {
                continue;
            }
            for r in design.of_source(i) {
                if r.q.iter().any(|&v| v != 0.0) {
                    per_interval[r.att as usize / 4] += 1;
                }
            }
        }
        if self.comm.size() > 1 {
            let mut v: Vec<f64> = per_interval.iter().map(|&c| c as f64).collect();
            self.comm.sum(&mut v);
            per_interval = v.into_iter().map(|c| c as usize).collect();
        }
        // coefficient k is touched by the rows of intervals k − 3 … k
        let per_coef: Vec<usize> = (0..n_coef)
            .map(|k| per_interval[k.saturating_sub(3)..=k].iter().sum())
            .collect();
        let weak = per_coef.iter().filter(|&&n| n < 4).count();
        let mut sorted = per_coef.clone();
        sorted.sort_unstable();
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
        let mut warnings = Vec::new();
        if weak > 0 {
            warnings.push(format!(
                "{weak} of {n_coef} attitude spline coefficients are touched by fewer than 4 measurements (median {median}): the damping and the quaternion-norm constraint hold them, the data do not"
            ));
        }
        Ok(warnings)
    }

    fn comm(&self) -> &dyn Comm {
        self.comm
    }

    /// This rank's largest changes (the core takes the maximum over the ranks).
    fn max_change(&self, a: &ScanState, b: &ScanState, active: &[bool]) -> [f64; 3] {
        let mut m: f64 = 0.0;
        for (i, (x, y)) in b.params.iter().zip(&a.params).enumerate() {
            if !active[i] {
                continue;
            }
            let (da, dd) = frame::position_difference(x, y);
            m = m
                .max(da.abs())
                .max(dd.abs())
                .max((x.parallax - y.parallax).abs())
                .max((x.pmra - y.pmra).abs())
                .max((x.pmdec - y.pmdec).abs());
        }
        let mut ma: f64 = 0.0;
        for (c, c0) in b.attitude.coeffs.iter().zip(&a.attitude.coeffs) {
            // rotation angle of the change: 2|q̄₀ ⊗ δc| without the radial (norm) part
            let d = [c[0] - c0[0], c[1] - c0[1], c[2] - c0[2], c[3] - c0[3]];
            let r = quat::mul(&quat::conj(c0), &d);
            let n2: f64 = c0.iter().map(|v| v * v).sum();
            ma = ma.max(2.0 * (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt() / n2);
        }
        let mut mc: f64 = 0.0;
        for (p, p0) in b.calibration.params.iter().zip(&a.calibration.params) {
            mc = mc.max((p - p0).abs());
        }
        [m, ma, mc]
    }
}
