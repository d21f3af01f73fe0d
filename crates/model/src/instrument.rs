//! The instrument: two fields of view separated by the basic angle Γ, field angles
//! (η along scan, ζ across scan) and the astrometric CCD layout (rows across scan, strips
//! along scan). Lindegren et al. 2012, section 3.4 and Fig. 2.
//!
//! Field angles of a direction with SRS components u: φ = atan2(u_y, u_x),
//! ζ = atan2(u_z, √(u_x² + u_y²)) (eq. 13), and η = φ − f Γ/2 with f = +1 for the preceding
//! and −1 for the following field of view. The SRS spins positively about z, so sources
//! move towards decreasing φ and meet the preceding field first.

use crate::scalar::{Real, V3};
use crate::units::{ARCMIN, DEG};
use serde::{Deserialize, Serialize};

/// Field of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Fov {
    /// Preceding field of view (PFoV, centred at φ = +Γ/2), file code 0.
    Preceding,
    /// Following field of view (FFoV, centred at φ = −Γ/2), file code 1.
    Following,
}

impl Fov {
    /// +1 for the preceding, −1 for the following field.
    #[inline]
    pub fn sign(self) -> f64 {
        match self {
            Fov::Preceding => 1.0,
            Fov::Following => -1.0,
        }
    }
    #[inline]
    pub fn index(self) -> usize {
        match self {
            Fov::Preceding => 0,
            Fov::Following => 1,
        }
    }
    pub fn from_index(i: u8) -> Option<Fov> {
        match i {
            0 => Some(Fov::Preceding),
            1 => Some(Fov::Following),
            _ => None,
        }
    }
}

/// Geometry of the astrometric field, as configured in mission.toml.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstrumentConfig {
    /// Basic angle Γ between the two fields of view (degrees).
    pub basic_angle_deg: f64,
    /// Number of CCD rows across scan.
    pub n_rows: usize,
    /// Number of CCD strips along scan.
    pub n_strips: usize,
    /// Along-scan distance between the fiducial lines of adjacent strips (arcmin).
    pub strip_pitch_arcmin: f64,
    /// Across-scan height of one CCD row (arcmin); rows are contiguous.
    pub row_height_arcmin: f64,
}

impl Default for InstrumentConfig {
    /// Gaia's astrometric field: 7 rows × 9 strips (AF1–AF9), ≈0.7° × 0.7°.
    fn default() -> Self {
        InstrumentConfig {
            basic_angle_deg: 106.5,
            n_rows: 7,
            n_strips: 9,
            strip_pitch_arcmin: 4.7,
            row_height_arcmin: 6.0,
        }
    }
}

/// The instrument in internal units, derived from [`InstrumentConfig`].
#[derive(Clone, Debug)]
pub struct Instrument {
    pub config: InstrumentConfig,
    /// Γ/2 (rad).
    pub half_basic_angle: f64,
    /// η of each strip's fiducial line (rad).
    pub strip_eta: Vec<f64>,
    /// ζ of the lower edge of the field (rad).
    pub zeta_min: f64,
    /// Row height (rad).
    pub row_height: f64,
}

impl Instrument {
    pub fn new(config: InstrumentConfig) -> Self {
        let pitch = config.strip_pitch_arcmin * ARCMIN;
        let n = config.n_strips;
        // strips are crossed in order of decreasing η (sources move towards decreasing φ)
        let strip_eta = (0..n)
            .map(|j| ((n as f64 - 1.0) / 2.0 - j as f64) * pitch)
            .collect();
        let row_height = config.row_height_arcmin * ARCMIN;
        Instrument {
            half_basic_angle: 0.5 * config.basic_angle_deg * DEG,
            zeta_min: -0.5 * config.n_rows as f64 * row_height,
            row_height,
            strip_eta,
            config,
        }
    }

    pub fn n_ccds(&self) -> usize {
        self.config.n_rows * self.config.n_strips
    }

    /// Half-width of the field across scan (rad).
    pub fn zeta_half_width(&self) -> f64 {
        -self.zeta_min
    }

    /// Along-scan half-extent of the field, from the centre to the outermost fiducial line
    /// plus half a pitch (rad).
    pub fn eta_half_width(&self) -> f64 {
        self.strip_eta[0] + 0.5 * self.config.strip_pitch_arcmin * ARCMIN
    }

    /// CCD row of a given ζ, or None outside the field.
    pub fn row_of(&self, zeta: f64) -> Option<usize> {
        let x = (zeta - self.zeta_min) / self.row_height;
        if x < 0.0 || x >= self.config.n_rows as f64 {
            None
        } else {
            Some(x as usize)
        }
    }

    /// Normalised AC coordinate in [−1, 1] of ζ within CCD row `row`.
    pub fn ac_coord(&self, row: usize, zeta: f64) -> f64 {
        let centre = self.zeta_min + (row as f64 + 0.5) * self.row_height;
        2.0 * (zeta - centre) / self.row_height
    }

    /// Field angles (η, ζ) in field of view `fov` of a direction with SRS components `u`.
    #[inline]
    pub fn field_angles<D: Real>(&self, u: &V3<D>, fov: Fov) -> (D, D) {
        let phi = u[1].atan2(u[0]);
        let zeta = u[2].atan2((u[0] * u[0] + u[1] * u[1]).sqrt());
        (phi - fov.sign() * self.half_basic_angle, zeta)
    }
}
