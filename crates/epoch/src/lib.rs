//! # astrosolve-epoch
//!
//! The source update of the astrometric solution on real epoch astrometry (Gaia DR4 epoch
//! astrometry, Hipparcos Intermediate Astrometric Data): one source at a time, 5, 6, 7 or 9
//! parameters, with the weightings of AGIS (Lindegren et al. 2012, A&A 538, A78, section 5.1.2)
//! and of ESA's gaia-supdate.
//!
//! The abscissa model and its Jacobian rows come from the project's generic model
//! ([`astrosolve_model::epoch`], forward-mode autodiff); this crate forms the weighted normal
//! equations ([`fit`]), the weights ([`weights`]) and reads the data ([`gaia`], [`hipparcos`]).
//!
//! Units: Δα* (= Δα cos δ), Δδ, ϖ, abscissae and σ in mas; μ in mas/yr; g in mas/yr²;
//! ġ in mas/yr³; Δν in nm⁻¹; t in Julian years from the data's reference epoch (J2017.5 TCB
//! for DR4, J1991.25 for Hipparcos).

// index loops over parallel arrays mirror the formulas; `!(x > 0.0)` comparisons are meant to
// reject NaN too
#![allow(clippy::needless_range_loop, clippy::neg_cmp_op_on_partial_ord)]

pub mod error;
pub mod fit;
pub mod gaia;
pub mod hipparcos;
pub mod run;
pub mod weights;

pub use astrosolve_model::epoch::{EpochGeometry, EpochLayout, N_EPOCH_MAX};
pub use error::EpochError;
pub use fit::{fit_many, fit_source};
pub use gaia::{read_gaia_sources, GaiaSourceStream};

/// The astrometric model of a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ModelKind {
    /// Δα*, Δδ, ϖ, μα*, μδ.
    #[default]
    Five,
    /// Five + Δν, the pseudo-colour offset (nm⁻¹) with a Gaussian prior (DR4 constrained colour).
    Six,
    /// Five + gα*, gδ (mas/yr², Hipparcos 7-parameter acceleration: position term ½t²g).
    Seven,
    /// Seven + ġα*, ġδ (mas/yr³, position term t³/6 ġ).
    Nine,
}

impl ModelKind {
    /// Number of parameters.
    pub const fn n_params(self) -> usize {
        self.layout().n_params()
    }
    /// Parameter layout of the generic abscissa model.
    pub const fn layout(self) -> EpochLayout {
        match self {
            ModelKind::Five => EpochLayout {
                colour: false,
                accel: 0,
            },
            ModelKind::Six => EpochLayout {
                colour: true,
                accel: 0,
            },
            ModelKind::Seven => EpochLayout {
                colour: false,
                accel: 1,
            },
            ModelKind::Nine => EpochLayout {
                colour: false,
                accel: 2,
            },
        }
    }
    /// Gaia-style column names of the parameters, in order.
    pub fn names(self) -> &'static [&'static str] {
        const ALL: [&str; 9] = [
            "ra_offset",
            "dec_offset",
            "parallax",
            "pmra",
            "pmdec",
            "accel_ra",
            "accel_dec",
            "deriv_accel_ra",
            "deriv_accel_dec",
        ];
        const SIX: [&str; 6] = [
            "ra_offset",
            "dec_offset",
            "parallax",
            "pmra",
            "pmdec",
            "pseudocolour_offset",
        ];
        match self {
            ModelKind::Five => &ALL[..5],
            ModelKind::Six => &SIX,
            ModelKind::Seven => &ALL[..7],
            ModelKind::Nine => &ALL,
        }
    }
    /// Units of the parameters, in order.
    pub fn units(self) -> &'static [&'static str] {
        const ALL: [&str; 9] = [
            "mas", "mas", "mas", "mas/yr", "mas/yr", "mas/yr^2", "mas/yr^2", "mas/yr^3", "mas/yr^3",
        ];
        const SIX: [&str; 6] = ["mas", "mas", "mas", "mas/yr", "mas/yr", "1/nm"];
        match self {
            ModelKind::Five => &ALL[..5],
            ModelKind::Six => &SIX,
            ModelKind::Seven => &ALL[..7],
            ModelKind::Nine => &ALL,
        }
    }
    /// From the number of parameters (5, 6, 7, 9).
    pub fn from_n(n: usize) -> Option<Self> {
        match n {
            5 => Some(ModelKind::Five),
            6 => Some(ModelKind::Six),
            7 => Some(ModelKind::Seven),
            9 => Some(ModelKind::Nine),
            _ => None,
        }
    }
}

/// One along-scan observation of a source.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EpochObs {
    /// Julian years from the data's reference epoch (J2017.5 TCB for DR4, J1991.25 for Hipparcos).
    pub t: f64,
    /// ∂w/∂α* (Gaia: sin θ; Hipparcos: given).
    pub a_alpha: f64,
    /// ∂w/∂δ (Gaia: cos θ).
    pub a_delta: f64,
    /// ∂w/∂ϖ (parallax factor).
    pub a_parallax: f64,
    /// ∂w/∂μα* (yr; normally t·a_alpha; Hipparcos 1997 gives it explicitly).
    pub a_pmra: f64,
    /// ∂w/∂μδ (yr).
    pub a_pmdec: f64,
    /// ∂w/∂Δν (mas nm; Gaia: −1e3 × colour_factor_al; 0 otherwise).
    pub a_colour: f64,
    /// Abscissa (Gaia centroid_pos_al) or abscissa residual (Hipparcos), mas.
    pub w: f64,
    /// Formal σ of w, mas (> 0).
    pub sigma: f64,
    /// false: excluded before the fit (not used_by_agis_al; Hipparcos rejected record).
    pub used: bool,
    /// Index of the FoV transit / Hipparcos orbit it belongs to (plots, grouping).
    pub transit: u32,
}

impl EpochObs {
    /// The known coefficients of the generic model.
    #[inline]
    pub fn geometry(&self) -> EpochGeometry {
        EpochGeometry {
            t: self.t,
            a_alpha: self.a_alpha,
            a_delta: self.a_delta,
            a_parallax: self.a_parallax,
            a_pmra: self.a_pmra,
            a_pmdec: self.a_pmdec,
            a_colour: self.a_colour,
        }
    }
}

/// All observations of one source.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceData {
    /// Gaia source_id or HIP number.
    pub id: i64,
    pub obs: Vec<EpochObs>,
    /// Correlated observation pairs (i, j, ρ): Hipparcos 1997 FAST/NDAC of one orbit.
    pub pairs: Vec<(usize, usize, f64)>,
    /// Published excess noise ε (mas), used by [`Weighting::Dr4`].
    pub excess_noise: Option<f64>,
    /// (mean, σ) of Δν in nm⁻¹ (model 6).
    pub colour_prior: Option<(f64, f64)>,
}

/// How observations are weighted (see [`weights`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Weighting {
    /// DR4 / AGIS heaviside weighting: rows with used_by_agis_al, variance σ² + ε² with the
    /// published excess noise, no iteration.
    Dr4,
    /// gaia-supdate's robust (AGIS-like) source update: eq. 66 downweights, eq. 64 excess noise.
    #[default]
    Agis,
    /// Huber's downweights (c = 2), iterated, with excess noise as Agis.
    Huber,
    /// All used rows, weight 1/σ².
    None,
}

/// Options of a fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitOptions {
    pub model: ModelKind,
    pub weighting: Weighting,
    /// Prior (mean, σ) of Δν (nm⁻¹) for the 6-parameter model when the source has none.
    pub colour_prior: Option<(f64, f64)>,
    /// Largest number of robust iterations (Agis, Huber).
    pub max_iter: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            model: ModelKind::Five,
            weighting: Weighting::Agis,
            colour_prior: None,
            max_iter: weights::MAX_ITER,
        }
    }
}

/// The solution of one source.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FitResult {
    /// Parameters in [`ModelKind`] order and units.
    pub params: Vec<f64>,
    /// n×n covariance, row-major, units as params.
    pub cov: Vec<f64>,
    /// Per observation: w − model (mas), for every observation (also unused ones).
    pub residuals: Vec<f64>,
    /// Per observation: the final downweight in [0, 1] the fit used (eq. 66 or Huber; 1 for
    /// Dr4/None); 0 = unused. Outliers are the used ones below [`weights::OUTLIER_LIMIT`]
    /// (with eq. 66; see [`weights`]).
    pub weights: Vec<f64>,
    /// Observations used (used flag, finite), kept ones (not outliers), outliers.
    pub n_obs_al: usize,
    pub n_good_obs_al: usize,
    pub n_bad_obs_al: usize,
    /// Excess noise ε (mas) used in the final weights, and its significance.
    pub excess_noise: f64,
    pub excess_noise_sig: f64,
    /// Σ r²/σ² over the kept observations (formal σ, no excess noise, no downweights).
    pub chi2: f64,
    /// Goodness of fit F2 (Wilson–Hilferty transform of chi2 with ν = n_good − n_params).
    pub gof_al: f64,
    /// Unit-weight error √(chi2/ν).
    pub uwe: f64,
    /// Iterations of the weighting (1 when not iterated).
    pub n_iter: usize,
}

impl FitResult {
    /// Standard error of parameter k.
    pub fn error(&self, k: usize) -> f64 {
        let n = self.params.len();
        self.cov[k * n + k].sqrt()
    }
    /// Normalised residuals r/√(σ² + ε²) of every observation of `data` (the source fitted),
    /// with the excess noise ε of the fit.
    pub fn normalised_residuals(&self, data: &SourceData) -> Vec<f64> {
        let e2 = self.excess_noise * self.excess_noise;
        data.obs
            .iter()
            .zip(&self.residuals)
            .map(|(o, r)| r / (o.sigma * o.sigma + e2).sqrt())
            .collect()
    }
    /// Correlation of parameters k and l.
    pub fn corr(&self, k: usize, l: usize) -> f64 {
        let n = self.params.len();
        self.cov[k * n + l] / (self.cov[k * n + k] * self.cov[l * n + l]).sqrt()
    }
}
