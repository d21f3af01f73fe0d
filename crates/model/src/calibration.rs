//! Geometric and chromatic calibration of the astrometric field (after Lindegren et al. 2012,
//! section 3.4 and Lindegren et al. 2021, A&A 649, A2, section 3.3, simplified).
//!
//! One calibration unit per CCD (row, strip), field of view and calibration time interval.
//! Its parameters enter the field angles additively:
//!   δη = Σ_k a_k P_k(x) + c (ν_eff − ν_ref),   δζ = b₀,
//! with x ∈ [−1, 1] the normalised AC position on the CCD and P_k Legendre polynomials.
//! Each term is a [`CalTerm`]: adding a new calibration effect means adding a variant and its
//! forward formula in [`CalTerm::eval`]; its derivatives come from automatic differentiation.
//!
//! Convention fixing the degeneracy with the attitude (the SRS is defined by the mean CCD):
//! in each (interval, field of view) the sums over CCDs of a₀, of the AC tilt
//! a₀ ζ_c + a₁ h/6, and of b₀ vanish. Simulated truths obey it; solvers impose it.

use crate::instrument::Instrument;
use crate::scalar::Real;
use serde::{Deserialize, Serialize};

/// Largest number of AL calibration parameters per unit (dual-number layout).
pub const N_AL_CAL_MAX: usize = 5;
/// Largest number of AC calibration parameters per unit.
pub const N_AC_CAL_MAX: usize = 1;

/// One term of the calibration model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CalTerm {
    /// AL: coefficient × P_k(x), Legendre polynomial of degree k in the AC coordinate.
    AlLegendre(u8),
    /// AL: coefficient × (ν_eff − ν_ref), the chromatic displacement.
    AlChromatic,
    /// AC: constant offset.
    AcOffset,
}

/// What a calibration term may depend on, besides its own coefficient.
pub struct CalContext<D> {
    /// Normalised AC coordinate x ∈ [−1, 1] on the CCD.
    pub ac_coord: f64,
    /// Effective wavenumber of the source (µm⁻¹), a source parameter in 6-parameter solutions.
    pub nu_eff: D,
    /// Reference wavenumber ν_ref (µm⁻¹).
    pub nu_ref: f64,
}

impl CalTerm {
    /// True for terms of the along-scan field angle, false for across-scan.
    pub fn is_al(self) -> bool {
        !matches!(self, CalTerm::AcOffset)
    }

    /// Forward formula: this term's contribution to its field angle (rad).
    #[inline]
    pub fn eval<D: Real>(self, coeff: D, ctx: &CalContext<D>) -> D {
        match self {
            CalTerm::AlLegendre(k) => coeff * legendre(k, ctx.ac_coord),
            CalTerm::AlChromatic => coeff * (ctx.nu_eff - ctx.nu_ref),
            CalTerm::AcOffset => coeff,
        }
    }

    pub fn name(self) -> String {
        match self {
            CalTerm::AlLegendre(k) => format!("al_legendre_{k}"),
            CalTerm::AlChromatic => "al_chromatic".into(),
            CalTerm::AcOffset => "ac_offset".into(),
        }
    }
}

/// Legendre polynomial P_k(x) (Bonnet's recursion).
#[inline]
pub fn legendre(k: u8, x: f64) -> f64 {
    match k {
        0 => 1.0,
        1 => x,
        _ => {
            let (mut p0, mut p1) = (1.0, x);
            for n in 1..k as usize {
                let p2 = ((2 * n + 1) as f64 * x * p1 - n as f64 * p0) / (n + 1) as f64;
                p0 = p1;
                p1 = p2;
            }
            p1
        }
    }
}

/// Calibration model as configured in mission.toml.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalibrationConfig {
    /// Degree of the AL Legendre polynomial in the AC coordinate.
    pub al_degree: u8,
    /// Include the chromatic AL term.
    pub chromatic: bool,
    /// Include the AC offset per unit.
    pub ac_offset: bool,
    /// Length of a calibration time interval (days); 0 means one interval for the mission.
    pub interval_days: f64,
    /// Reference effective wavenumber ν_ref of the chromatic term (µm⁻¹).
    pub nu_eff_ref: f64,
}

impl Default for CalibrationConfig {
    fn default() -> Self {
        CalibrationConfig {
            al_degree: 2,
            chromatic: true,
            ac_offset: true,
            interval_days: 0.0,
            nu_eff_ref: 1.55,
        }
    }
}

impl CalibrationConfig {
    /// The terms of one unit: AL terms first, then AC terms.
    pub fn terms(&self) -> Vec<CalTerm> {
        let mut t: Vec<CalTerm> = (0..=self.al_degree).map(CalTerm::AlLegendre).collect();
        if self.chromatic {
            t.push(CalTerm::AlChromatic);
        }
        if self.ac_offset {
            t.push(CalTerm::AcOffset);
        }
        t
    }
    pub fn n_al(&self) -> usize {
        self.al_degree as usize + 1 + self.chromatic as usize
    }
    pub fn n_ac(&self) -> usize {
        self.ac_offset as usize
    }
    pub fn validate(&self) -> Result<(), String> {
        if self.n_al() > N_AL_CAL_MAX {
            return Err(format!(
                "calibration: al_degree {} with chromatic={} needs {} AL parameters per unit, at most {} are supported",
                self.al_degree, self.chromatic, self.n_al(), N_AL_CAL_MAX
            ));
        }
        if self.interval_days.is_nan() || self.interval_days < 0.0 {
            return Err("calibration.interval_days must be ≥ 0".into());
        }
        Ok(())
    }
}

/// Calibration units and their parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub config: CalibrationConfig,
    pub n_rows: usize,
    pub n_strips: usize,
    /// Start of the first interval (days from the reference epoch).
    pub t0: f64,
    /// Interval length (days).
    pub interval: f64,
    pub n_intervals: usize,
    /// Parameters, `n_per_unit()` per unit, units ordered by [`Calibration::unit`].
    pub params: Vec<f64>,
}

impl Calibration {
    /// All-zero calibration covering [t_start, t_end].
    pub fn zeros(config: &CalibrationConfig, inst: &Instrument, t_start: f64, t_end: f64) -> Self {
        let span = t_end - t_start;
        let n_intervals = if config.interval_days > 0.0 {
            (span / config.interval_days).round().max(1.0) as usize
        } else {
            1
        };
        let mut c = Calibration {
            config: config.clone(),
            n_rows: inst.config.n_rows,
            n_strips: inst.config.n_strips,
            t0: t_start,
            interval: span / n_intervals as f64,
            n_intervals,
            params: Vec::new(),
        };
        c.params = vec![0.0; c.n_units() * c.n_per_unit()];
        c
    }

    pub fn n_per_unit(&self) -> usize {
        self.config.n_al() + self.config.n_ac()
    }
    pub fn n_units(&self) -> usize {
        self.n_intervals * 2 * self.n_rows * self.n_strips
    }
    pub fn n_params(&self) -> usize {
        self.params.len()
    }

    /// Calibration time interval of t (clamped to the covered span).
    #[inline]
    pub fn interval_of(&self, t: f64) -> usize {
        (((t - self.t0) / self.interval).floor().max(0.0) as usize).min(self.n_intervals - 1)
    }

    /// Unit index of (interval, field of view, row, strip).
    #[inline]
    pub fn unit(&self, interval: usize, fov: usize, row: usize, strip: usize) -> usize {
        ((interval * 2 + fov) * self.n_rows + row) * self.n_strips + strip
    }

    /// Inverse of [`Calibration::unit`]: (interval, fov, row, strip).
    pub fn unit_parts(&self, unit: usize) -> (usize, usize, usize, usize) {
        let strip = unit % self.n_strips;
        let r = unit / self.n_strips;
        let row = r % self.n_rows;
        let r = r / self.n_rows;
        (r / 2, r % 2, row, strip)
    }

    /// AL and AC parameter slices of a unit.
    #[inline]
    pub fn unit_params(&self, unit: usize) -> (&[f64], &[f64]) {
        let n = self.n_per_unit();
        let p = &self.params[unit * n..(unit + 1) * n];
        p.split_at(self.config.n_al())
    }

    /// δη of a unit's AL parameters (generic forward formula).
    #[inline]
    pub fn delta_eta<D: Real>(terms: &[CalTerm], p_al: &[D], ctx: &CalContext<D>) -> D {
        let mut s = D::cst(0.0);
        for (term, &c) in terms.iter().filter(|t| t.is_al()).zip(p_al) {
            s += term.eval(c, ctx);
        }
        s
    }

    /// δζ of a unit's AC parameters (generic forward formula).
    #[inline]
    pub fn delta_zeta<D: Real>(terms: &[CalTerm], p_ac: &[D], ctx: &CalContext<D>) -> D {
        let mut s = D::cst(0.0);
        for (term, &c) in terms.iter().filter(|t| !t.is_al()).zip(p_ac) {
            s += term.eval(c, ctx);
        }
        s
    }

    /// Linear constraints defining the SRS origin (see module docs): sparse rows
    /// (parameter index, coefficient), each required to vanish.
    pub fn constraints(&self, inst: &Instrument) -> Vec<Vec<(usize, f64)>> {
        let n = self.n_per_unit();
        let n_al = self.config.n_al();
        let mut rows = Vec::new();
        for iv in 0..self.n_intervals {
            for fov in 0..2 {
                let mut mean_al = Vec::new();
                let mut tilt = Vec::new();
                let mut mean_ac = Vec::new();
                for row in 0..self.n_rows {
                    let zc = inst.zeta_min + (row as f64 + 0.5) * inst.row_height;
                    for strip in 0..self.n_strips {
                        let base = self.unit(iv, fov, row, strip) * n;
                        // scale to O(1) coefficients: ζ in units of the field half-width
                        let s = 1.0 / inst.zeta_half_width();
                        mean_al.push((base, 1.0));
                        tilt.push((base, zc * s));
                        if self.config.al_degree >= 1 {
                            tilt.push((base + 1, inst.row_height / 6.0 * s));
                        }
                        if self.config.ac_offset {
                            mean_ac.push((base + n_al, 1.0));
                        }
                    }
                }
                rows.push(mean_al);
                rows.push(tilt);
                if !mean_ac.is_empty() {
                    rows.push(mean_ac);
                }
            }
        }
        rows
    }

    /// Projects the parameters onto the constraint surface (used to make a simulated truth
    /// obey the convention). Constraint rows within a group are orthogonal by construction,
    /// but a Gram–Schmidt pass keeps this exact for any layout.
    ///
    /// The basis vectors are kept by their non-zero elements (a group's rows touch only its
    /// units): the dot products and updates visit those alone, in index order, which adds the
    /// same non-zero terms in the same order as the dense sums (the same bits) at a cost of
    /// O(rows · n) instead of O(rows² · n).
    pub fn project_onto_constraints(&mut self, inst: &Instrument) {
        let rows = self.constraints(inst);
        let n = self.params.len();
        let mut basis: Vec<Vec<(usize, f64)>> = Vec::new();
        let mut v = vec![0.0; n];
        for r in rows {
            v.iter_mut().for_each(|x| *x = 0.0);
            for (i, c) in r {
                v[i] += c;
            }
            for b in &basis {
                let d: f64 = b.iter().map(|&(i, y)| v[i] * y).sum();
                if d != 0.0 {
                    b.iter().for_each(|&(i, y)| v[i] -= d * y);
                }
            }
            let nn: f64 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            if nn > 0.0 {
                v.iter_mut().for_each(|x| *x /= nn);
                let sparse: Vec<(usize, f64)> = v
                    .iter()
                    .enumerate()
                    .filter(|(_, y)| **y != 0.0)
                    .map(|(i, &y)| (i, y))
                    .collect();
                let d: f64 = sparse.iter().map(|&(i, y)| self.params[i] * y).sum();
                sparse.iter().for_each(|&(i, y)| self.params[i] -= d * y);
                basis.push(sparse);
            }
        }
    }
}
