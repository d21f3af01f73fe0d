//! Design equations: one whitened row per measurement, grouped by source.
//!
//! A row l of source s(l) is the linearised observation equation divided by its standard
//! uncertainty (and multiplied by the square root of its robust weight):
//!   √w_l (a_l,sᵀ Δx_s + a_l,gᵀ Δg) = √w_l r_l,   w_l = f_l / (σ_l² + ε_s²) · σ₀²,
//! with r_l = observed − computed, f_l the robust down-weighting factor and ε_s the source's
//! excess noise; σ₀ = [`SIGMA_UNIT`] keeps the whitened values of order one.
//! The source part a_l,s has NS values; the global part a_l,g is the instrument's business
//! ([`GlobalPart`]): a B-spline attitude row stores four basis values and ∂/∂q instead of
//! sixteen coefficients, a pointed row its exposure and detector position. Rows are kept in
//! f32: they only steer the linear solves, residuals are recomputed in f64 by every outer
//! iteration, so the converged solution is exact.

/// The unit σ₀ (rad) in which the whitened rows are expressed: w = (σ₀/σ)².
pub const SIGMA_UNIT: f64 = 1e-9;
/// σ₀²: multiply a covariance in the solver's units by this to get rad².
pub const W_SCALE: f64 = SIGMA_UNIT * SIGMA_UNIT;

/// The global part of one design row, applied without materialising its coefficients.
pub trait GlobalPart {
    /// a_gᵀ x for the global unknowns x.
    fn dot(&self, x: &[f64]) -> f64;
    /// y += s a_g.
    fn axpy(&self, s: f64, y: &mut [f64]);
    /// Calls f(first unknown, coefficients) for each contiguous run of coefficients; each
    /// run lies inside one diagonal block of the global layout.
    fn segments(&self, f: &mut dyn FnMut(usize, &[f64]));
    /// y += f(a_gᵀx) a_g: the product and the update of one pass in one go (a row may
    /// evaluate its coefficients once for both).
    #[inline(always)]
    fn dot_axpy(&self, x: &[f64], y: &mut [f64], f: impl FnOnce(f64) -> f64)
    where
        Self: Sized,
    {
        let s = f(self.dot(x));
        self.axpy(s, y);
    }
}

/// One stored design row: its source part, its whitened residual and its global part.
pub trait DesignRow<const NS: usize>: GlobalPart + Copy + Default + Send + Sync {
    /// a_l,s (whitened).
    fn src(&self) -> &[f32; NS];
    /// The right-hand side √w r (whitened).
    fn residual(&self) -> f32;
    /// Multiplies the whole row, coefficients and residual, by s (whitening, weighting).
    fn scale(&mut self, s: f32);
}

/// What the weighting needs to know of each row besides its residual.
#[derive(Clone, Copy, Debug, Default)]
pub struct RowMeta {
    /// Standard uncertainty of the measurement (rad).
    pub sigma: f64,
    /// Observation time (days), for visibility periods.
    pub t: f64,
    /// The source's primary measurement kind (AL; x and y of an image): rows of this kind
    /// determine the excess noise and are counted; the others (AC) are weighted with it.
    pub primary: bool,
}

/// All design rows of one linearisation: rows of source i are `rows[offsets[i]..offsets[i + 1]]`.
#[derive(Clone, Debug, Default)]
pub struct Design<R> {
    pub rows: Vec<R>,
    pub offsets: Vec<usize>,
}

impl<R> Design<R> {
    pub fn n_sources(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn n_rows(&self) -> usize {
        self.rows.len()
    }

    /// Rows of source i.
    #[inline]
    pub fn of_source(&self, i: usize) -> &[R] {
        &self.rows[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Resident bytes of the rows and offsets.
    pub fn bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<R>()
            + self.offsets.capacity() * std::mem::size_of::<usize>()
    }
}

/// Source part as f64.
#[inline]
pub fn src_f64<const NS: usize, R: DesignRow<NS>>(r: &R) -> [f64; NS] {
    r.src().map(|v| v as f64)
}
