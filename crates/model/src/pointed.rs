//! The JASMINE-like pointed instrument: a small-field telescope that takes overlapping,
//! dithered exposures (Kawata et al. 2024, PASJ 76, 386; seed slides "The JASMINE
//! astrometric solvers", ASJ 2026).
//!
//! Observation model of one star image on one exposure, written once over the generic scalar
//! [`Real`] (f64 predicts, `DualSVec64<8>` linearises):
//!
//! 1. proper direction u(t) of the source ([`crate::source::direction`], Lindegren et al.
//!    2012, eq. 4) seen from the observer (low Earth orbit → the Earth's barycentric position);
//! 2. gnomonic (tangent-plane) projection about the exposure's pointing (α_p, δ_p) with the
//!    normal triad [p₀, q₀, r₀] of the pointing: ξ = u·p₀ / u·r₀ (towards +α),
//!    η = u·q₀ / u·r₀ (towards +δ) (standard coordinates; e.g. van de Kamp 1967);
//! 3. rotation by the roll ψ into the focal-plane axes: x = ξ cos ψ + η sin ψ,
//!    y = −ξ sin ψ + η cos ψ (ψ is the angle from north (+η) to the focal-plane +y axis,
//!    measured towards east, +ξ);
//! 4. plus the geometric distortion of the detector that recorded the image:
//!    Δx = Σ_k a_k P_i(k)(u) P_j(k)(v), Δy = Σ_k b_k P_i(k)(u) P_j(k)(v), with (u, v) ∈ [−1, 1]²
//!    the normalised detector coordinates of the measured image and P Legendre polynomials,
//!    terms ordered by total degree i + j ≤ order (order ≤ [`MAX_DISTORTION_ORDER`]).
//!
//! x, y are field angles in radians (x = X/F for a focal-plane position X in metres).
//! The distortion is evaluated at the *measured* position, so it is exactly linear in its
//! coefficients and its derivatives are the basis values (exact; checked against finite
//! differences in the tests).
//!
//! Attitude unknowns of an exposure: (Δα_p cos δ_p, Δδ_p, Δψ). Calibration (distortion) is
//! per detector per calibration unit (a time span). Degeneracy with the attitude: a common
//! shift of all detectors is a pointing change, a common rotation of the focal plane is a roll
//! change. Convention fixing it (per calibration unit or per plate): on the *gauge detector*
//! (detector 0 unless stated), the constant terms a₀₀, b₀₀ and the x-coefficient of P₁(v)
//! (the rotation-like shear term) are zero. These three terms are not solved.

use crate::ephemeris::Ephemeris;
use crate::quat;
use crate::scalar::{dot, Real};
use crate::source::{direction, normal_triad, N_SRC_MAX};
use crate::units::years;
use nalgebra::SVector;
use num_dual::{Derivative, DualSVec64, DualVec};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Source parameters of the pointed model: α, δ, ϖ, μα*, μδ.
pub const N_SRC: usize = 5;
/// Attitude parameters of one exposure: α_p, δ_p, ψ.
pub const N_ATT: usize = 3;
/// Detectors on the focal plane (2 × 2).
pub const N_DETECTORS: usize = 4;
/// Highest supported order of the distortion polynomials.
pub const MAX_DISTORTION_ORDER: usize = 5;
/// Terms of a 2-D Legendre polynomial of the highest order: (5+1)(5+2)/2.
pub const MAX_TERMS: usize = 21;
/// Dual components of the linearisation: source (5) + attitude (3).
pub const N_DUAL_POINTED: usize = N_SRC + N_ATT;

type Dn = DualSVec64<N_DUAL_POINTED>;

/// The telescope and its focal plane (JASMINE-like defaults: 36 cm aperture, F = 4.37 m,
/// 2 × 2 detectors of 1968 × 1968 pixels of 10 µm, i.e. 0.472″/px and 15.5′ per detector).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PointedInstrument {
    /// Aperture diameter (m); informative (the noise model is set in the simulator).
    pub aperture_m: f64,
    /// Effective focal length (m).
    pub focal_length_m: f64,
    /// Pixel pitch (µm).
    pub pixel_size_um: f64,
    /// Pixels per side of a (square) detector.
    pub detector_pixels: u32,
    /// Gap between adjacent detectors (pixels).
    pub detector_gap_pixels: f64,
    /// Exposure time (s); informative.
    pub exposure_s: f64,
}

impl Default for PointedInstrument {
    fn default() -> Self {
        PointedInstrument {
            aperture_m: 0.36,
            focal_length_m: 4.37,
            pixel_size_um: 10.0,
            detector_pixels: 1968,
            detector_gap_pixels: 60.0,
            exposure_s: 12.5,
        }
    }
}

impl PointedInstrument {
    /// Angle subtended by one pixel (rad): pitch / focal length.
    pub fn pixel_scale(&self) -> f64 {
        self.pixel_size_um * 1e-6 / self.focal_length_m
    }
    /// Half the width of a detector (rad).
    pub fn detector_half_width(&self) -> f64 {
        0.5 * self.detector_pixels as f64 * self.pixel_scale()
    }
    /// Centre (x, y) of detector d (rad): d = 2·row + column, column 0 at −x, row 0 at −y.
    pub fn detector_centre(&self, d: usize) -> (f64, f64) {
        let pitch = (self.detector_pixels as f64 + self.detector_gap_pixels) * self.pixel_scale();
        let col = (d % 2) as f64 - 0.5;
        let row = (d / 2) as f64 - 0.5;
        (col * pitch, row * pitch)
    }
    /// Normalised detector coordinates (u, v) of the focal-plane position (x, y) on detector d.
    #[inline]
    pub fn normalised(&self, d: usize, x: f64, y: f64) -> (f64, f64) {
        let (xc, yc) = self.detector_centre(d);
        let h = self.detector_half_width();
        ((x - xc) / h, (y - yc) / h)
    }
    /// The detector holding (x, y) at least `margin_px` pixels inside its edges.
    pub fn locate(&self, x: f64, y: f64, margin_px: f64) -> Option<usize> {
        let lim = 1.0 - margin_px / (0.5 * self.detector_pixels as f64);
        (0..N_DETECTORS).find(|&d| {
            let (u, v) = self.normalised(d, x, y);
            u.abs() <= lim && v.abs() <= lim
        })
    }
    /// Pixel coordinates (0 … detector_pixels at the edges) of (x, y) on detector d.
    pub fn to_pixels(&self, d: usize, x: f64, y: f64) -> (f64, f64) {
        let (u, v) = self.normalised(d, x, y);
        let c = 0.5 * self.detector_pixels as f64;
        (c * (1.0 + u), c * (1.0 + v))
    }
    /// Focal-plane field angles (x, y) of pixel coordinates on detector d.
    pub fn from_pixels(&self, d: usize, px: f64, py: f64) -> (f64, f64) {
        let (xc, yc) = self.detector_centre(d);
        let c = 0.5 * self.detector_pixels as f64;
        let s = self.pixel_scale();
        (xc + (px - c) * s, yc + (py - c) * s)
    }
    /// Radius of the circle around the boresight that contains the whole focal plane (rad).
    pub fn field_radius(&self) -> f64 {
        let (xc, yc) = self.detector_centre(3);
        let h = self.detector_half_width();
        ((xc + h).powi(2) + (yc + h).powi(2)).sqrt()
    }
    pub fn validate(&self) -> Result<(), String> {
        let pos = |v: f64, what: &str| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!(
                    "instrument.{what} must be finite and > 0 (got {v})"
                ))
            }
        };
        pos(self.focal_length_m, "focal_length_m")?;
        pos(self.pixel_size_um, "pixel_size_um")?;
        pos(self.detector_pixels as f64, "detector_pixels")?;
        if self.detector_gap_pixels.is_nan() || self.detector_gap_pixels < 0.0 {
            return Err("instrument.detector_gap_pixels must be ≥ 0".into());
        }
        Ok(())
    }
}

/// The pointed mission as the solvers need it (`[jasmine]` in a JASMINE data set's mission.toml).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PointedMission {
    pub name: String,
    /// Julian date (TCB) of the reference epoch of the source parameters (t = 0).
    pub reference_epoch_jd: f64,
    /// First and length of the observations (days from the reference epoch).
    pub start_day: f64,
    pub duration_days: f64,
    pub instrument: PointedInstrument,
    /// Order of the distortion polynomials of the global solution (per detector, per unit).
    pub distortion_order: usize,
    /// Order of the per-exposure distortion of the plate-by-plate solution.
    pub plate_order: usize,
}

impl Default for PointedMission {
    fn default() -> Self {
        PointedMission {
            name: "JASMINE-like".into(),
            // J2033.5: middle of a three-year mission starting at 2032.0
            reference_epoch_jd: crate::units::JD_J2000 + 33.5 * crate::units::JULIAN_YEAR_DAYS,
            start_day: -1.5 * crate::units::JULIAN_YEAR_DAYS,
            duration_days: 3.0 * crate::units::JULIAN_YEAR_DAYS,
            instrument: PointedInstrument::default(),
            distortion_order: 3,
            plate_order: 3,
        }
    }
}

impl PointedMission {
    pub fn validate(&self) -> Result<(), String> {
        self.instrument.validate()?;
        if self.distortion_order > MAX_DISTORTION_ORDER || self.plate_order > MAX_DISTORTION_ORDER {
            return Err(format!(
                "jasmine.distortion_order and jasmine.plate_order must be ≤ {MAX_DISTORTION_ORDER}"
            ));
        }
        if self.duration_days.is_nan() || self.duration_days <= 0.0 || !self.start_day.is_finite() {
            return Err("jasmine.duration_days must be > 0 and start_day finite".into());
        }
        if !self.reference_epoch_jd.is_finite() {
            return Err("jasmine.reference_epoch_jd must be finite".into());
        }
        Ok(())
    }
    /// The observer's ephemeris (Earth), tabulated over the mission for speed.
    pub fn ephemeris(&self) -> crate::ephemeris::TabulatedEphemeris {
        let e = crate::ephemeris::EarthEphemeris {
            reference_epoch_jd: self.reference_epoch_jd,
        };
        crate::ephemeris::TabulatedEphemeris::sample(
            &e,
            self.start_day - 2.0,
            self.start_day + self.duration_days + 2.0,
            0.25,
        )
    }
}

/// Number of terms of a 2-D Legendre polynomial of total degree ≤ `order`.
pub const fn n_terms(order: usize) -> usize {
    (order + 1) * (order + 2) / 2
}

/// Degrees (i, j) of term k (P_i(u) P_j(v)), ordered by total degree, then by decreasing i:
/// k = 0: (0,0); 1: (1,0); 2: (0,1); 3: (2,0); 4: (1,1); 5: (0,2); …
pub fn term_degrees(k: usize) -> (usize, usize) {
    let mut n = 0;
    let mut first = 0;
    while first + n < k {
        first += n + 1;
        n += 1;
    }
    let off = k - first;
    (n - off, off)
}

/// Index of the term P₁(v) (the x-coefficient of it is the rotation-like gauge term).
pub const TERM_V1: usize = 2;

/// Legendre polynomials P_0 … P_order at x (Bonnet's recursion).
#[inline]
fn legendre_all(order: usize, x: f64, out: &mut [f64; MAX_DISTORTION_ORDER + 1]) {
    out[0] = 1.0;
    if order >= 1 {
        out[1] = x;
    }
    for n in 1..order {
        out[n + 1] = ((2 * n + 1) as f64 * x * out[n] - n as f64 * out[n - 1]) / (n + 1) as f64;
    }
}

/// The 2-D Legendre basis P_i(u) P_j(v) of all terms of total degree ≤ `order`.
#[inline]
pub fn legendre_basis(order: usize, u: f64, v: f64) -> [f64; MAX_TERMS] {
    let mut pu = [0.0; MAX_DISTORTION_ORDER + 1];
    let mut pv = [0.0; MAX_DISTORTION_ORDER + 1];
    legendre_all(order, u, &mut pu);
    legendre_all(order, v, &mut pv);
    let mut b = [0.0; MAX_TERMS];
    let mut k = 0;
    for n in 0..=order {
        for j in 0..=n {
            b[k] = pu[n - j] * pv[j];
            k += 1;
        }
    }
    b
}

/// True for the three distortion terms fixed by the gauge convention (see the module docs):
/// on the gauge detector, x and y constant terms and the x-coefficient of P₁(v).
#[inline]
pub fn is_gauge_term(gauge_detector: usize, detector: usize, axis: usize, k: usize) -> bool {
    detector == gauge_detector && (k == 0 || (axis == 0 && k == TERM_V1))
}

/// Distortion coefficients (rad) of all calibration units: layout [unit][detector][axis][term].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distortion {
    pub order: usize,
    pub n_units: usize,
    pub coeffs: Vec<f64>,
}

impl Distortion {
    pub fn zeros(order: usize, n_units: usize) -> Self {
        Distortion {
            order,
            n_units,
            coeffs: vec![0.0; n_units * N_DETECTORS * 2 * n_terms(order)],
        }
    }
    pub fn n_terms(&self) -> usize {
        n_terms(self.order)
    }
    /// Index of the first coefficient of (unit, detector, axis); axis 0 = x, 1 = y.
    #[inline]
    pub fn offset(&self, unit: usize, detector: usize, axis: usize) -> usize {
        ((unit * N_DETECTORS + detector) * 2 + axis) * self.n_terms()
    }
    #[inline]
    pub fn coefficients(&self, unit: usize, detector: usize, axis: usize) -> &[f64] {
        let o = self.offset(unit, detector, axis);
        &self.coeffs[o..o + self.n_terms()]
    }
    /// (Δx, Δy) of detector `detector` in `unit` at normalised coordinates (u, v).
    pub fn eval(&self, unit: usize, detector: usize, u: f64, v: f64) -> (f64, f64) {
        let b = legendre_basis(self.order, u, v);
        let t = self.n_terms();
        let cx = self.coefficients(unit, detector, 0);
        let cy = self.coefficients(unit, detector, 1);
        let mut dx = 0.0;
        let mut dy = 0.0;
        for k in 0..t {
            dx += cx[k] * b[k];
            dy += cy[k] * b[k];
        }
        (dx, dy)
    }
}

/// One exposure: time, calibration unit and attitude (pointing and roll, rad).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exposure {
    pub exposure_id: i64,
    /// Mid-exposure time (days from the reference epoch).
    pub t: f64,
    /// Calibration unit (a time span sharing one distortion).
    pub cal_unit: usize,
    /// Pointing (α_p, δ_p) and roll ψ (rad).
    pub attitude: [f64; N_ATT],
}

/// One measured star image: focal-plane field angles (rad) on a detector.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointedObs {
    /// Index into the exposure table.
    pub exposure: u32,
    /// Index into the source table.
    pub source: u32,
    pub detector: u8,
    /// Measured x, y (rad).
    pub x: f64,
    pub y: f64,
    /// Standard uncertainty of x and of y (rad).
    pub sigma: f64,
}

/// A reference-catalogue entry (Gaia-like astrometry of a star): the five parameters at the
/// catalogue epoch with standard uncertainties. Enters the solutions as a prior.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefStar {
    pub source_index: usize,
    /// α, δ (rad), ϖ (rad), μα*, μδ (rad/yr) at the catalogue epoch.
    pub params: [f64; N_SRC],
    /// σ(α*), σ(δ), σ(ϖ), σ(μα*), σ(μδ) (rad, rad/yr); uncorrelated at the catalogue epoch.
    pub sigma: [f64; N_SRC],
    /// Catalogue epoch minus the mission reference epoch (Julian years).
    pub epoch_offset_yr: f64,
}

impl RefStar {
    /// Parameters and 5 × 5 covariance (unknowns α*, δ, ϖ, μα*, μδ) propagated linearly to
    /// the mission reference epoch: α*_ref = α*_cat − Δ μα*, δ_ref = δ_cat − Δ μδ with
    /// Δ = epoch_offset_yr (rigorous to (μΔ)², negligible here).
    pub fn prior_at_reference_epoch(&self) -> ([f64; N_SRC], [[f64; N_SRC]; N_SRC]) {
        let d = self.epoch_offset_yr;
        let p = self.params;
        let mut out = p;
        out[0] = p[0] - d * p[3] / p[1].cos();
        out[1] = p[1] - d * p[4];
        let mut j = [[0.0; N_SRC]; N_SRC];
        for (i, row) in j.iter_mut().enumerate() {
            row[i] = 1.0;
        }
        j[0][3] = -d;
        j[1][4] = -d;
        let mut c = [[0.0; N_SRC]; N_SRC];
        for a in 0..N_SRC {
            for b in 0..N_SRC {
                c[a][b] = (0..N_SRC)
                    .map(|k| j[a][k] * j[b][k] * self.sigma[k].powi(2))
                    .sum();
            }
        }
        (out, c)
    }
}

/// Applies a correction (Δα*, Δδ, Δϖ, Δμα*, Δμδ) to source parameters (α, δ, ϖ, μα*, μδ).
pub fn apply_source_update(p: &mut [f64; N_SRC], dx: &[f64]) {
    p[0] = (p[0] + dx[0] / p[1].cos()).rem_euclid(std::f64::consts::TAU);
    p[1] += dx[1];
    p[2] += dx[2];
    p[3] += dx[3];
    p[4] += dx[4];
}

/// Applies a correction (Δα_p cos δ_p, Δδ_p, Δψ) to an exposure attitude.
pub fn apply_attitude_update(a: &mut [f64; N_ATT], dx: &[f64]) {
    a[0] = (a[0] + dx[0] / a[1].cos()).rem_euclid(std::f64::consts::TAU);
    a[1] += dx[1];
    a[2] += dx[2];
}

/// Known geometry of one observation (no unknowns in it).
#[derive(Clone, Copy, Debug)]
pub struct PointedGeometry {
    /// Time from the reference epoch (Julian years).
    pub tau_yr: f64,
    /// Observer's barycentric position (AU).
    pub b_au: [f64; 3],
    /// Distortion basis at the measured position.
    pub basis: [f64; MAX_TERMS],
}

/// Design equations of one observation: computed (x, y) and their derivatives.
#[derive(Clone, Copy, Debug)]
pub struct PointedLinearised {
    pub x: f64,
    pub y: f64,
    /// ∂x, ∂y / ∂(Δα*, Δδ, Δϖ, Δμα*, Δμδ).
    pub d_src_x: [f64; N_SRC],
    pub d_src_y: [f64; N_SRC],
    /// ∂x, ∂y / ∂(Δα_p cos δ_p, Δδ_p, Δψ).
    pub d_att_x: [f64; N_ATT],
    pub d_att_y: [f64; N_ATT],
    /// ∂x/∂a_k = ∂y/∂b_k = basis_k (exact: the model is linear in the coefficients).
    pub basis: [f64; MAX_TERMS],
}

/// The pointed-instrument observation model.
#[derive(Clone)]
pub struct PointedModel {
    pub instrument: PointedInstrument,
    /// Order of the distortion polynomials.
    pub order: usize,
    pub ephemeris: Arc<dyn Ephemeris>,
}

impl PointedModel {
    pub fn new(instrument: PointedInstrument, order: usize, ephemeris: Arc<dyn Ephemeris>) -> Self {
        assert!(
            order <= MAX_DISTORTION_ORDER,
            "distortion order {order} > 5"
        );
        PointedModel {
            instrument,
            order,
            ephemeris,
        }
    }

    pub fn n_terms(&self) -> usize {
        n_terms(self.order)
    }

    /// Geometry of an observation measured at (x, y) on `detector` at time t (days).
    #[inline]
    pub fn geometry(&self, t: f64, detector: usize, x: f64, y: f64) -> PointedGeometry {
        let (u, v) = self.instrument.normalised(detector, x, y);
        PointedGeometry {
            tau_yr: years(t),
            b_au: self.ephemeris.observer_au(t),
            basis: legendre_basis(self.order, u, v),
        }
    }

    /// Ideal focal-plane field angles (x, y) of a source, without distortion.
    #[inline]
    pub fn project<D: Real>(
        src: &[D; N_SRC],
        att: &[D; N_ATT],
        tau_yr: f64,
        b_au: &[f64; 3],
    ) -> (D, D) {
        let s6: [D; N_SRC_MAX] = [src[0], src[1], src[2], src[3], src[4], D::cst(0.0)];
        let u = direction(&s6, tau_yr, b_au);
        let [p0, q0, r0] = normal_triad(att[0], att[1]);
        let w = dot(&u, &r0).recip();
        let xi = dot(&u, &p0) * w;
        let eta = dot(&u, &q0) * w;
        let (s, c) = att[2].sin_cos();
        (xi * c + eta * s, eta * c - xi * s)
    }

    /// The observation model, generic over the scalar: computed (x, y) of a source image
    /// with the distortion coefficients `cal_x`, `cal_y` of the image's detector and unit.
    #[inline]
    pub fn predict<D: Real>(
        &self,
        src: &[D; N_SRC],
        att: &[D; N_ATT],
        cal_x: &[D],
        cal_y: &[D],
        g: &PointedGeometry,
    ) -> (D, D) {
        let (mut x, mut y) = Self::project(src, att, g.tau_yr, &g.b_au);
        for (k, &b) in g.basis.iter().enumerate().take(cal_x.len()) {
            x += cal_x[k] * b;
            y += cal_y[k] * b;
        }
        (x, y)
    }

    /// Computed (x, y) with plain f64 parameters.
    pub fn predict_f64(
        &self,
        src: &[f64; N_SRC],
        att: &[f64; N_ATT],
        cal_x: &[f64],
        cal_y: &[f64],
        g: &PointedGeometry,
    ) -> (f64, f64) {
        self.predict(src, att, cal_x, cal_y, g)
    }

    /// Design equations by forward-mode automatic differentiation of [`PointedModel::predict`]
    /// with respect to the source and attitude unknowns (distortion: exact basis values).
    pub fn linearise(
        &self,
        src: &[f64; N_SRC],
        att: &[f64; N_ATT],
        cal_x: &[f64],
        cal_y: &[f64],
        g: &PointedGeometry,
    ) -> PointedLinearised {
        let sd: [Dn; N_SRC] = std::array::from_fn(|k| {
            // the unknown for α is Δα* = Δα cos δ
            let scale = if k == 0 { 1.0 / src[1].cos() } else { 1.0 };
            seeded(src[k], k, scale)
        });
        let ad: [Dn; N_ATT] = std::array::from_fn(|k| {
            let scale = if k == 0 { 1.0 / att[1].cos() } else { 1.0 };
            seeded(att[k], N_SRC + k, scale)
        });
        let (x, y) = Self::project(&sd, &ad, g.tau_yr, &g.b_au);
        let mut dx = 0.0;
        let mut dy = 0.0;
        for k in 0..cal_x.len() {
            dx += cal_x[k] * g.basis[k];
            dy += cal_y[k] * g.basis[k];
        }
        let gx = grad(&x);
        let gy = grad(&y);
        PointedLinearised {
            x: x.re + dx,
            y: y.re + dy,
            d_src_x: std::array::from_fn(|k| gx[k]),
            d_src_y: std::array::from_fn(|k| gy[k]),
            d_att_x: std::array::from_fn(|k| gx[N_SRC + k]),
            d_att_y: std::array::from_fn(|k| gy[N_SRC + k]),
            basis: g.basis,
        }
    }
}

/// Attitude (α_p, δ_p, ψ) from a rotation: roll ψ such that the focal-plane +y axis points
/// at position angle ψ (from north through east). Helper for simulators: the position angle
/// of a direction `d` as seen from the pointing (α_p, δ_p).
pub fn position_angle(ra_p: f64, dec_p: f64, d: &[f64; 3]) -> f64 {
    let [p, q, _] = normal_triad(ra_p, dec_p);
    let e = p[0] * d[0] + p[1] * d[1] + p[2] * d[2];
    let n = q[0] * d[0] + q[1] * d[1] + q[2] * d[2];
    e.atan2(n)
}

/// Unit quaternion of an exposure attitude (ICRS → focal-plane frame with z the boresight),
/// for interoperability with the scanning model's conventions.
pub fn attitude_quaternion(att: &[f64; N_ATT]) -> [f64; 4] {
    let [p, q, r] = normal_triad(att[0], att[1]);
    let (s, c) = att[2].sin_cos();
    let x = [
        c * p[0] + s * q[0],
        c * p[1] + s * q[1],
        c * p[2] + s * q[2],
    ];
    let y = [
        -s * p[0] + c * q[0],
        -s * p[1] + c * q[1],
        -s * p[2] + c * q[2],
    ];
    quat::from_srs_axes(x, y, r)
}

#[inline]
fn seeded(re: f64, index: usize, scale: f64) -> Dn {
    let mut v = SVector::<f64, N_DUAL_POINTED>::zeros();
    v[index] = scale;
    DualVec::new(re, Derivative::some(v))
}

#[inline]
fn grad(x: &Dn) -> [f64; N_DUAL_POINTED] {
    match &x.eps.0 {
        Some(v) => std::array::from_fn(|k| v[k]),
        None => [0.0; N_DUAL_POINTED],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ephemeris::EarthEphemeris;
    use crate::units::{ARCSEC, DEG, MAS};

    fn model(order: usize) -> PointedModel {
        PointedModel::new(
            PointedInstrument::default(),
            order,
            Arc::new(EarthEphemeris::default()),
        )
    }

    #[test]
    fn plate_scale_and_layout_are_jasmine_like() {
        let i = PointedInstrument::default();
        let s = i.pixel_scale() / ARCSEC;
        assert!((s - 0.472).abs() < 0.001, "{s}″/px");
        // the four detectors tile a ≈ 0.53° square
        let w = 2.0 * (i.detector_centre(3).0 + i.detector_half_width()) / DEG;
        assert!((w - 0.53).abs() < 0.02, "{w}°");
        for d in 0..4 {
            let (xc, yc) = i.detector_centre(d);
            assert_eq!(i.locate(xc, yc, 0.0), Some(d));
            let (px, py) = i.to_pixels(d, xc + 1e-4, yc - 2e-4);
            let (x, y) = i.from_pixels(d, px, py);
            assert!((x - xc - 1e-4).abs() < 1e-15 && (y - yc + 2e-4).abs() < 1e-15);
        }
        assert_eq!(i.locate(0.0, 0.0, 0.0), None, "boresight falls in the gap");
    }

    #[test]
    fn legendre_basis_terms() {
        assert_eq!(n_terms(5), MAX_TERMS);
        assert_eq!(term_degrees(0), (0, 0));
        assert_eq!(term_degrees(1), (1, 0));
        assert_eq!(term_degrees(TERM_V1), (0, 1));
        assert_eq!(term_degrees(4), (1, 1));
        assert_eq!(term_degrees(20), (0, 5));
        let (u, v) = (0.3, -0.7);
        let b = legendre_basis(5, u, v);
        let p2 = |x: f64| 1.5 * x * x - 0.5;
        for (k, bk) in b.iter().enumerate() {
            let (i, j) = term_degrees(k);
            let pi = crate::calibration::legendre(i as u8, u);
            let pj = crate::calibration::legendre(j as u8, v);
            assert!((bk - pi * pj).abs() < 1e-15, "term {k}");
        }
        assert!((b[3] - p2(u)).abs() < 1e-15);
    }

    #[test]
    fn prior_propagation() {
        let r = RefStar {
            source_index: 0,
            params: [1.0, -0.5, 0.1 * MAS, 3.0 * MAS, -2.0 * MAS],
            sigma: [0.1 * MAS, 0.1 * MAS, 0.1 * MAS, 0.2 * MAS, 0.2 * MAS],
            epoch_offset_yr: -10.0,
        };
        let (p, c) = r.prior_at_reference_epoch();
        assert!(((p[0] - 1.0) * (-0.5f64).cos() - 30.0 * MAS).abs() < 1e-15);
        assert!((p[1] + 0.5 - -20.0 * MAS).abs() < 1e-15);
        assert!((c[0][0].sqrt() - (0.01f64 + 4.0).sqrt() * MAS).abs() < 1e-15);
        assert!((c[0][3] - 10.0 * (0.2 * MAS).powi(2)).abs() < 1e-25);
    }

    /// The autodiff Jacobian against central finite differences of the f64 model.
    #[test]
    fn jacobian_matches_finite_differences() {
        let m = model(3);
        let src = [266.4 * DEG, -28.9 * DEG, 0.3 * MAS, -3.0 * MAS, -5.0 * MAS];
        let att = [266.45 * DEG, -28.95 * DEG, 0.7];
        let t = 300.0;
        let n = m.n_terms();
        let cal_x: Vec<f64> = (0..n).map(|k| (k as f64 - 3.0) * 1e-6).collect();
        let cal_y: Vec<f64> = (0..n).map(|k| (2.0 - k as f64) * 1e-6).collect();
        let g = m.geometry(t, 1, 1e-3, -2e-3);
        let l = m.linearise(&src, &att, &cal_x, &cal_y, &g);
        let (x0, y0) = m.predict_f64(&src, &att, &cal_x, &cal_y, &g);
        assert!((l.x - x0).abs() < 1e-18 && (l.y - y0).abs() < 1e-18);
        // sources: unknown α* = α cos δ
        let hs = [1e-7, 1e-7, 1e-7, 1e-7, 1e-7];
        for k in 0..N_SRC {
            let mut a = src;
            let mut b = src;
            let h = if k == 0 { hs[k] / src[1].cos() } else { hs[k] };
            a[k] += h;
            b[k] -= h;
            let (xa, ya) = m.predict_f64(&a, &att, &cal_x, &cal_y, &g);
            let (xb, yb) = m.predict_f64(&b, &att, &cal_x, &cal_y, &g);
            let fx = (xa - xb) / (2.0 * hs[k]);
            let fy = (ya - yb) / (2.0 * hs[k]);
            assert!(
                (fx - l.d_src_x[k]).abs() < 1e-7,
                "src {k}: {fx} vs {}",
                l.d_src_x[k]
            );
            assert!(
                (fy - l.d_src_y[k]).abs() < 1e-7,
                "src {k}: {fy} vs {}",
                l.d_src_y[k]
            );
        }
        for k in 0..N_ATT {
            let h = 1e-7;
            let hk = if k == 0 { h / att[1].cos() } else { h };
            let mut a = att;
            let mut b = att;
            a[k] += hk;
            b[k] -= hk;
            let (xa, ya) = m.predict_f64(&src, &a, &cal_x, &cal_y, &g);
            let (xb, yb) = m.predict_f64(&src, &b, &cal_x, &cal_y, &g);
            let fx = (xa - xb) / (2.0 * h);
            let fy = (ya - yb) / (2.0 * h);
            assert!(
                (fx - l.d_att_x[k]).abs() < 1e-7,
                "att {k}: {fx} vs {}",
                l.d_att_x[k]
            );
            assert!(
                (fy - l.d_att_y[k]).abs() < 1e-7,
                "att {k}: {fy} vs {}",
                l.d_att_y[k]
            );
        }
        // pointing derivatives are about −1 (a shift of the pointing moves the image back)
        assert!((l.d_att_x[0] * att[2].cos() + l.d_att_y[0] * -att[2].sin() + 1.0).abs() < 1e-2);
        for k in 0..n {
            let h = 1e-8;
            let mut a = cal_x.clone();
            a[k] += h;
            let mut b = cal_x.clone();
            b[k] -= h;
            let (xa, ya) = m.predict_f64(&src, &att, &a, &cal_y, &g);
            let (xb, yb) = m.predict_f64(&src, &att, &b, &cal_y, &g);
            assert!(((xa - xb) / (2.0 * h) - l.basis[k]).abs() < 1e-6);
            assert!(((ya - yb) / (2.0 * h)).abs() < 1e-12);
        }
    }

    #[test]
    fn roll_and_position_angle_conventions() {
        // a star due north of the pointing appears on +y at zero roll and on +x at roll 90°
        let (ra, dec) = (1.0, 0.3);
        let src = [ra, dec + 0.001, 0.0, 0.0, 0.0];
        let (x, y): (f64, f64) = PointedModel::project(&src, &[ra, dec, 0.0], 0.0, &[0.0; 3]);
        assert!(x.abs() < 1e-12 && (y - 0.001).abs() < 1e-9);
        let (x, y): (f64, f64) =
            PointedModel::project(&src, &[ra, dec, 90.0 * DEG], 0.0, &[0.0; 3]);
        assert!((x - 0.001).abs() < 1e-9 && y.abs() < 1e-12);
        let d = crate::scalar::f::unit(ra, dec + 0.01);
        assert!(position_angle(ra, dec, &d).abs() < 1e-9);
        let q = attitude_quaternion(&[ra, dec, 0.2]);
        let z = quat::icrs_to_srs(&q, &crate::scalar::f::unit(ra, dec));
        assert!((z[2] - 1.0).abs() < 1e-12);
    }
}
