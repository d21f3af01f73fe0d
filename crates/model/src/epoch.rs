//! Along-scan abscissa model of epoch astrometry (Gaia DR4 epoch astrometry, Hipparcos IAD),
//! written once over the generic scalar [`Real`]; its Jacobian rows come from forward-mode
//! autodiff (`DualSVec64`), as [`crate::model::GaiaModel::linearise`] does for the global model.
//!
//! The abscissa is linear in the unknowns (the linearised source model of Lindegren et al.
//! 2012, eq. 4 projected on the scan direction; Hipparcos 7/9-parameter acceleration terms as in
//! ESA 1997, vol. 1, section 2.3.3):
//!
//! w(p) = a_α Δα* + a_δ Δδ + a_ϖ ϖ + a_μα* μα* + a_μδ μδ [+ a_ν Δν]
//!        [+ (t/2)(a_μα* gα* + a_μδ gδ)] [+ (t²/6)(a_μα* ġα* + a_μδ ġδ)]
//!
//! Units: Δα* (= Δα cos δ), Δδ, ϖ in mas; μ in mas/yr; g in mas/yr²; ġ in mas/yr³; Δν in nm⁻¹;
//! t in Julian years from the data's reference epoch; w in mas.

use crate::scalar::Real;
use nalgebra::SVector;
use num_dual::{Derivative, DualSVec64, DualVec};

/// Largest number of epoch-model parameters (9-parameter model, plus Δν if a layout asks for it).
pub const N_EPOCH_MAX: usize = 10;

/// Which parameters the model has, and where they sit in the parameter vector.
///
/// Order: Δα*, Δδ, ϖ, μα*, μδ, then Δν (if `colour`), then gα*, gδ (if `accel ≥ 1`), then
/// ġα*, ġδ (if `accel = 2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochLayout {
    /// The pseudo-colour offset Δν is a parameter.
    pub colour: bool,
    /// 0: no acceleration; 1: gα*, gδ; 2: also ġα*, ġδ.
    pub accel: u8,
}

impl EpochLayout {
    /// Number of parameters.
    pub const fn n_params(&self) -> usize {
        5 + self.colour as usize + 2 * self.accel as usize
    }
    /// Index of Δν, if a parameter.
    pub const fn colour_index(&self) -> Option<usize> {
        if self.colour {
            Some(5)
        } else {
            None
        }
    }
    /// Index of gα* (gδ follows), if parameters.
    pub const fn accel_index(&self) -> Option<usize> {
        if self.accel >= 1 {
            Some(5 + self.colour as usize)
        } else {
            None
        }
    }
    /// Index of ġα* (ġδ follows), if parameters.
    pub const fn jerk_index(&self) -> Option<usize> {
        if self.accel >= 2 {
            Some(7 + self.colour as usize)
        } else {
            None
        }
    }
}

/// Known coefficients of one epoch observation (no unknowns in it).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EpochGeometry {
    /// Time from the reference epoch (Julian years).
    pub t: f64,
    /// ∂w/∂α*, ∂w/∂δ, ∂w/∂ϖ (dimensionless), ∂w/∂μα*, ∂w/∂μδ (yr), ∂w/∂Δν (mas nm).
    pub a_alpha: f64,
    pub a_delta: f64,
    pub a_parallax: f64,
    pub a_pmra: f64,
    pub a_pmdec: f64,
    pub a_colour: f64,
}

/// The abscissa model w(p) (mas), generic over the scalar.
/// Given: `p` the parameters in the order of `layout` (mas, mas/yr, mas/yr², mas/yr³, nm⁻¹),
/// at least `layout.n_params()` long. Returned: the model abscissa (mas).
#[inline]
pub fn abscissa<D: Real>(layout: &EpochLayout, p: &[D], g: &EpochGeometry) -> D {
    let mut w = p[0] * g.a_alpha
        + p[1] * g.a_delta
        + p[2] * g.a_parallax
        + p[3] * g.a_pmra
        + p[4] * g.a_pmdec;
    if let Some(k) = layout.colour_index() {
        w += p[k] * g.a_colour;
    }
    if let Some(k) = layout.accel_index() {
        let h = 0.5 * g.t;
        w += (p[k] * g.a_pmra + p[k + 1] * g.a_pmdec) * h;
    }
    if let Some(k) = layout.jerk_index() {
        let h = g.t * g.t / 6.0;
        w += (p[k] * g.a_pmra + p[k + 1] * g.a_pmdec) * h;
    }
    w
}

type Dn = DualSVec64<N_EPOCH_MAX>;

/// Model abscissa (mas) and its Jacobian row ∂w/∂p at `p`, by forward-mode autodiff of
/// [`abscissa`]. Entries beyond `layout.n_params()` are zero.
pub fn linearise_epoch(
    layout: &EpochLayout,
    p: &[f64],
    g: &EpochGeometry,
) -> (f64, [f64; N_EPOCH_MAX]) {
    let n = layout.n_params();
    let pd: [Dn; N_EPOCH_MAX] = std::array::from_fn(|k| {
        let re = if k < n { p[k] } else { 0.0 };
        let mut v = SVector::<f64, N_EPOCH_MAX>::zeros();
        if k < n {
            v[k] = 1.0;
        }
        DualVec::new(re, Derivative::some(v))
    });
    let w = abscissa(layout, &pd, g);
    let row = match &w.eps.0 {
        Some(v) => std::array::from_fn(|k| v[k]),
        None => [0.0; N_EPOCH_MAX],
    };
    (w.re, row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autodiff_row_equals_finite_differences() {
        let g = EpochGeometry {
            t: -1.7,
            a_alpha: 0.6,
            a_delta: -0.8,
            a_parallax: 0.37,
            a_pmra: -1.7 * 0.6,
            a_pmdec: -1.7 * -0.8,
            a_colour: -12.5,
        };
        let p = [0.3, -1.2, 4.1, 7.7, -3.3, 0.01, 0.2, -0.4, 0.05, -0.02];
        for layout in [
            EpochLayout {
                colour: false,
                accel: 0,
            },
            EpochLayout {
                colour: true,
                accel: 0,
            },
            EpochLayout {
                colour: false,
                accel: 1,
            },
            EpochLayout {
                colour: false,
                accel: 2,
            },
            EpochLayout {
                colour: true,
                accel: 2,
            },
        ] {
            let n = layout.n_params();
            let (w, row) = linearise_epoch(&layout, &p, &g);
            assert!((w - abscissa::<f64>(&layout, &p, &g)).abs() < 1e-14);
            for k in 0..N_EPOCH_MAX {
                if k >= n {
                    assert_eq!(row[k], 0.0);
                    continue;
                }
                let h = 1e-4;
                let mut pp = p;
                pp[k] += h;
                let mut pm = p;
                pm[k] -= h;
                let fd = (abscissa::<f64>(&layout, &pp, &g) - abscissa::<f64>(&layout, &pm, &g))
                    / (2.0 * h);
                assert!(
                    (fd - row[k]).abs() <= 1e-9 * (1.0 + fd.abs()),
                    "{layout:?} k={k}: fd {fd} ad {}",
                    row[k]
                );
            }
        }
        // the 7-parameter acceleration enters as ½t² a_α g when a_μα* = t a_α
        let l7 = EpochLayout {
            colour: false,
            accel: 1,
        };
        let (_, row) = linearise_epoch(&l7, &p, &g);
        assert!((row[5] - 0.5 * g.t * g.t * g.a_alpha).abs() < 1e-14);
    }
}
