//! Prediction and linearisation of one observation.
//!
//! The model is written once, [`GaiaModel::predict`], generic over the scalar [`Real`]:
//! source direction (Lindegren et al. 2012, eq. 4) → SRS through the normalised attitude
//! quaternion (eq. 12) → field angles (eq. 13) → plus calibration. Evaluated with `f64` it
//! predicts; evaluated with the forward-mode dual number [`Jet<N_DUAL>`](crate::scalar::Jet)
//! it also gives the exact Jacobian with respect to the source parameters, the un-normalised
//! quaternion and the calibration parameters of the observation's unit. Derivatives with
//! respect to the attitude spline coefficients follow exactly from linearity:
//! ∂/∂c_{j+m,k} = B_m(t) ∂/∂q_k. [`GaiaModel::linearise_reference`] evaluates the same model
//! with num-dual's `DualSVec64<N_DUAL>`, the reference the tests compare [`Jet`] with.

use crate::attitude::BSplineAttitude;
use crate::calibration::{CalContext, CalTerm, Calibration, N_AC_CAL_MAX, N_AL_CAL_MAX};
use crate::ephemeris::Ephemeris;
use crate::instrument::{Fov, Instrument};
use crate::obs::Observation;
use crate::quat;
use crate::scalar::{Jet, Real, V3};
use crate::source::{direction_from_triad, normal_triad, SourceParams, N_SRC_MAX};
use crate::units::years;
use nalgebra::SVector;
use num_dual::{Derivative, DualSVec64, DualVec};
use std::sync::Arc;

/// Number of dual components: source (6) + quaternion (4) + AL calibration + AC calibration.
pub const N_DUAL: usize = N_SRC_MAX + 4 + N_AL_CAL_MAX + N_AC_CAL_MAX;
const Q0: usize = N_SRC_MAX;
const CAL_AL0: usize = Q0 + 4;
const CAL_AC0: usize = CAL_AL0 + N_AL_CAL_MAX;

type Dn = DualSVec64<N_DUAL>;

/// Source unknowns that enter the geometry (all but ν_eff, which enters only the calibration).
const N_SRC_GEOM: usize = 5;
/// Index of ν_eff among the source parameters.
const NU: usize = N_SRC_GEOM;
/// Derivative lanes of the geometric evaluation of [`GaiaModel::linearise`]: source + quaternion.
pub const N_GEOM: usize = N_SRC_GEOM + 4;
/// The geometric dual number: [`N_GEOM`] lanes and one lane of padding that stays zero (an
/// even number of lanes compiles to whole SSE2 pairs, ≈ 10 % faster).
type Jg = Jet<{ N_GEOM + 1 }>;
/// Lanes of the calibration evaluation: AL parameters, AC parameters, ν_eff.
const N_CAL_LANES: usize = N_AL_CAL_MAX + N_AC_CAL_MAX + 1;
const C_NU: usize = N_CAL_LANES - 1;
type Jc = Jet<N_CAL_LANES>;

/// Known geometry of one observation (no unknowns in it).
#[derive(Clone, Copy, Debug)]
pub struct Geometry {
    /// Time from the reference epoch (Julian years).
    pub tau_yr: f64,
    /// Observer's barycentric position (AU).
    pub b_au: [f64; 3],
    pub fov: Fov,
    /// Normalised AC coordinate on the CCD.
    pub ac_coord: f64,
}

/// Design equations of one observation at the current parameters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Linearised {
    /// Computed η and ζ (rad).
    pub eta: f64,
    pub zeta: f64,
    /// ∂η/∂(Δα*, Δδ, Δϖ, Δμα*, Δμδ, Δν) and the same for ζ.
    pub d_src_eta: [f64; N_SRC_MAX],
    pub d_src_zeta: [f64; N_SRC_MAX],
    /// ∂η/∂q and ∂ζ/∂q for the un-normalised spline quaternion q.
    pub d_q_eta: [f64; 4],
    pub d_q_zeta: [f64; 4],
    /// First attitude coefficient touched and the four B-spline values.
    pub att_index: usize,
    pub att_basis: [f64; 4],
    /// Calibration unit and ∂η/∂(AL parameters), ∂ζ/∂(AC parameters).
    pub cal_unit: usize,
    pub d_cal_eta: [f64; N_AL_CAL_MAX],
    pub d_cal_zeta: [f64; N_AC_CAL_MAX],
}

/// What the linearisation of one source's observations shares ([`GaiaModel::linearise_source_obs`]):
/// its parameters, the source lanes seeded from them (the unknown for α is Δα* = Δα cos δ)
/// and their normal triad.
#[derive(Clone, Copy, Debug)]
pub struct SourceJets {
    s: [f64; N_SRC_MAX],
    sd: [Jg; N_SRC_MAX],
    triad: [V3<Jg>; 3],
}

impl SourceJets {
    /// Given a source's parameters (internal units).
    #[inline]
    pub fn new(src: &SourceParams) -> Self {
        let s = src.to_array();
        let mut sd = [Jg::cst(0.0); N_SRC_MAX];
        for k in 0..N_SRC_GEOM {
            let scale = if k == 0 { 1.0 / s[1].cos() } else { 1.0 };
            sd[k] = Jg::seeded(s[k], k, scale);
        }
        sd[NU] = Jg::cst(s[NU]);
        SourceJets {
            s,
            sd,
            triad: normal_triad(sd[0], sd[1]),
        }
    }
}

/// The scanning-instrument observation model.
#[derive(Clone)]
pub struct GaiaModel {
    pub instrument: Instrument,
    pub cal_terms: Vec<CalTerm>,
    pub nu_eff_ref: f64,
    pub ephemeris: Arc<dyn Ephemeris>,
}

impl GaiaModel {
    pub fn new(instrument: Instrument, cal: &Calibration, ephemeris: Arc<dyn Ephemeris>) -> Self {
        GaiaModel {
            instrument,
            cal_terms: cal.config.terms(),
            nu_eff_ref: cal.config.nu_eff_ref,
            ephemeris,
        }
    }

    #[inline]
    pub fn geometry(&self, o: &Observation) -> Geometry {
        Geometry {
            tau_yr: years(o.t),
            b_au: self.ephemeris.observer_au(o.t),
            fov: o.fov,
            ac_coord: o.ac_coord,
        }
    }

    /// The observation model, generic over the scalar: computed field angles (η, ζ).
    /// `q` is the un-normalised spline quaternion; it is normalised here.
    #[inline]
    pub fn predict<D: Real>(
        &self,
        src: &[D; N_SRC_MAX],
        q: &[D; 4],
        cal_al: &[D],
        cal_ac: &[D],
        g: &Geometry,
    ) -> (D, D) {
        self.predict_with_triad(&normal_triad(src[0], src[1]), src, q, cal_al, cal_ac, g)
    }

    /// [`GaiaModel::predict`] given the normal triad of the source ([`normal_triad`] of
    /// `src[0]`, `src[1]`), which all the source's observations share.
    #[inline]
    pub fn predict_with_triad<D: Real>(
        &self,
        triad: &[V3<D>; 3],
        src: &[D; N_SRC_MAX],
        q: &[D; 4],
        cal_al: &[D],
        cal_ac: &[D],
        g: &Geometry,
    ) -> (D, D) {
        let u = direction_from_triad(triad, src, g.tau_yr, &g.b_au);
        let v = quat::icrs_to_srs(&quat::normalize(q), &u);
        let (eta, zeta) = self.instrument.field_angles(&v, g.fov);
        let ctx = CalContext {
            ac_coord: g.ac_coord,
            nu_eff: src[5],
            nu_ref: self.nu_eff_ref,
        };
        (
            eta + Calibration::delta_eta(&self.cal_terms, cal_al, &ctx),
            zeta + Calibration::delta_zeta(&self.cal_terms, cal_ac, &ctx),
        )
    }

    /// Computed (η, ζ) of an observation with plain f64 parameters.
    pub fn predict_obs(
        &self,
        src: &SourceParams,
        att: &BSplineAttitude,
        cal: &Calibration,
        o: &Observation,
    ) -> (f64, f64) {
        self.predict_at(src, att, cal, o, o.t)
    }

    /// As [`GaiaModel::predict_obs`] but at another time t (simulators search transits with it).
    pub fn predict_at(
        &self,
        src: &SourceParams,
        att: &BSplineAttitude,
        cal: &Calibration,
        o: &Observation,
        t: f64,
    ) -> (f64, f64) {
        let unit = cal.unit(
            cal.interval_of(t),
            o.fov.index(),
            o.row as usize,
            o.strip as usize,
        );
        let (p_al, p_ac) = cal.unit_params(unit);
        let q = att.unnormalised(t).0;
        let mut g = self.geometry(o);
        if t != o.t {
            g.tau_yr = years(t);
            g.b_au = self.ephemeris.observer_au(t);
        }
        self.predict(&src.to_array(), &q, p_al, p_ac, &g)
    }

    /// Design equations of observation `o` at the given parameters, by forward-mode
    /// automatic differentiation of [`GaiaModel::predict`] with [`Jet`].
    ///
    /// The derivative lanes are independent (each is computed by its own operations on the
    /// value parts), so they are evaluated in two groups, each of exactly the size it needs:
    /// the source position and motion and the quaternion ([`N_GEOM`] lanes) through the whole
    /// of [`GaiaModel::predict`] with the calibration parameters and ν_eff as constants, and the
    /// calibration parameters and ν_eff, which enter only the calibration terms that `predict`
    /// adds to the geometric field angles, through [`Calibration::delta_eta`] and
    /// [`Calibration::delta_zeta`]. The result is bit for bit that of one evaluation with all
    /// [`N_DUAL`] lanes ([`GaiaModel::linearise_reference`], tested).
    pub fn linearise(
        &self,
        src: &SourceParams,
        att: &BSplineAttitude,
        cal: &Calibration,
        o: &Observation,
    ) -> Linearised {
        self.linearise_source_obs(&SourceJets::new(src), att, cal, o)
    }

    /// [`GaiaModel::linearise`] with what a source's observations share computed once
    /// ([`SourceJets::new`]): the same result bit for bit, without the per-observation
    /// trigonometry of (α, δ). Linearise a source's observations in a loop around it.
    #[inline]
    pub fn linearise_source_obs(
        &self,
        sj: &SourceJets,
        att: &BSplineAttitude,
        cal: &Calibration,
        o: &Observation,
    ) -> Linearised {
        let g = self.geometry(o);
        let (q, att_index, att_basis) = att.unnormalised(o.t);
        let cal_unit = cal.unit(
            cal.interval_of(o.t),
            o.fov.index(),
            o.row as usize,
            o.strip as usize,
        );
        let (p_al, p_ac) = cal.unit_params(cal_unit);
        let s = &sj.s;

        // source (α*, δ, ϖ, μα*, μδ) and quaternion lanes through the whole model
        let qd: [Jg; 4] = std::array::from_fn(|k| Jg::seeded(q[k], N_SRC_GEOM + k, 1.0));
        let mut al = [Jg::cst(0.0); N_AL_CAL_MAX];
        for (k, &p) in p_al.iter().enumerate() {
            al[k] = Jg::cst(p);
        }
        let mut ac = [Jg::cst(0.0); N_AC_CAL_MAX];
        for (k, &p) in p_ac.iter().enumerate() {
            ac[k] = Jg::cst(p);
        }
        let (eta, zeta) = self.predict_with_triad(
            &sj.triad,
            &sj.sd,
            &qd,
            &al[..p_al.len()],
            &ac[..p_ac.len()],
            &g,
        );

        // calibration and ν_eff lanes through the calibration terms
        let ctx = CalContext {
            ac_coord: g.ac_coord,
            nu_eff: Jc::seeded(s[NU], C_NU, 1.0),
            nu_ref: self.nu_eff_ref,
        };
        let mut cal_al = [Jc::cst(0.0); N_AL_CAL_MAX];
        for (k, &p) in p_al.iter().enumerate() {
            cal_al[k] = Jc::seeded(p, k, 1.0);
        }
        let mut cal_ac = [Jc::cst(0.0); N_AC_CAL_MAX];
        for (k, &p) in p_ac.iter().enumerate() {
            cal_ac[k] = Jc::seeded(p, N_AL_CAL_MAX + k, 1.0);
        }
        let de = Calibration::delta_eta(&self.cal_terms, &cal_al[..p_al.len()], &ctx);
        let dz = Calibration::delta_zeta(&self.cal_terms, &cal_ac[..p_ac.len()], &ctx);

        let src_lanes = |x: &Jg, c: &Jc| -> [f64; N_SRC_MAX] {
            std::array::from_fn(|k| {
                if k < N_SRC_GEOM {
                    x.eps[k]
                } else {
                    c.eps[C_NU]
                }
            })
        };
        Linearised {
            eta: eta.re,
            zeta: zeta.re,
            d_src_eta: src_lanes(&eta, &de),
            d_src_zeta: src_lanes(&zeta, &dz),
            d_q_eta: std::array::from_fn(|k| eta.eps[N_SRC_GEOM + k]),
            d_q_zeta: std::array::from_fn(|k| zeta.eps[N_SRC_GEOM + k]),
            att_index,
            att_basis,
            cal_unit,
            d_cal_eta: std::array::from_fn(|k| de.eps[k]),
            d_cal_zeta: std::array::from_fn(|k| dz.eps[N_AL_CAL_MAX + k]),
        }
    }

    /// [`GaiaModel::linearise`] evaluated with num-dual's `DualSVec64<N_DUAL>`: the
    /// reference implementation of forward-mode autodiff the tests compare [`Jet`] with.
    pub fn linearise_reference(
        &self,
        src: &SourceParams,
        att: &BSplineAttitude,
        cal: &Calibration,
        o: &Observation,
    ) -> Linearised {
        self.linearise_with(src, att, cal, o, seeded, |x| (x.re, grad(&x)))
    }

    /// The linearisation with a dual scalar D: `seed(value, component, scale)` makes an
    /// independent variable, `split` returns value and gradient.
    #[inline(always)]
    fn linearise_with<D: Real>(
        &self,
        src: &SourceParams,
        att: &BSplineAttitude,
        cal: &Calibration,
        o: &Observation,
        seed: impl Fn(f64, usize, f64) -> D,
        split: impl Fn(D) -> (f64, [f64; N_DUAL]),
    ) -> Linearised {
        let g = self.geometry(o);
        let (q, att_index, att_basis) = att.unnormalised(o.t);
        let cal_unit = cal.unit(
            cal.interval_of(o.t),
            o.fov.index(),
            o.row as usize,
            o.strip as usize,
        );
        let (p_al, p_ac) = cal.unit_params(cal_unit);

        let s = src.to_array();
        let mut sd = [D::cst(0.0); N_SRC_MAX];
        for k in 0..N_SRC_MAX {
            // the unknown for α is Δα* = Δα cos δ
            let scale = if k == 0 { 1.0 / s[1].cos() } else { 1.0 };
            sd[k] = seed(s[k], k, scale);
        }
        let qd: [D; 4] = std::array::from_fn(|k| seed(q[k], Q0 + k, 1.0));
        let mut al = [D::cst(0.0); N_AL_CAL_MAX];
        for (k, &p) in p_al.iter().enumerate() {
            al[k] = seed(p, CAL_AL0 + k, 1.0);
        }
        let mut ac = [D::cst(0.0); N_AC_CAL_MAX];
        for (k, &p) in p_ac.iter().enumerate() {
            ac[k] = seed(p, CAL_AC0 + k, 1.0);
        }
        let (eta, zeta) = self.predict(&sd, &qd, &al[..p_al.len()], &ac[..p_ac.len()], &g);

        let (eta, ge) = split(eta);
        let (zeta, gz) = split(zeta);
        Linearised {
            eta,
            zeta,
            d_src_eta: std::array::from_fn(|k| ge[k]),
            d_src_zeta: std::array::from_fn(|k| gz[k]),
            d_q_eta: std::array::from_fn(|k| ge[Q0 + k]),
            d_q_zeta: std::array::from_fn(|k| gz[Q0 + k]),
            att_index,
            att_basis,
            cal_unit,
            d_cal_eta: std::array::from_fn(|k| ge[CAL_AL0 + k]),
            d_cal_zeta: std::array::from_fn(|k| gz[CAL_AC0 + k]),
        }
    }
}

#[inline]
fn seeded(re: f64, index: usize, scale: f64) -> Dn {
    let mut v = SVector::<f64, N_DUAL>::zeros();
    v[index] = scale;
    DualVec::new(re, Derivative::some(v))
}

#[inline]
fn grad(x: &Dn) -> [f64; N_DUAL] {
    match &x.eps.0 {
        Some(v) => std::array::from_fn(|k| v[k]),
        None => [0.0; N_DUAL],
    }
}
