//! Synthetic proper-motion catalogues for tests and benchmarks: uniform random sky, a known
//! VSH field, Gaussian noise drawn from each source's own (correlated) 2×2 covariance, and
//! optional outliers. Deterministic for a given seed, whatever the number of threads.

use rayon::prelude::*;

use crate::basis::VshBasis;
use crate::fit::PmData;

/// SplitMix64 pseudo-random generator (Steele, Lea & Flood 2014): small, fast, seedable.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Generator with the given seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal deviate (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Description of a synthetic catalogue.
#[derive(Clone, Debug)]
pub struct SynthConfig {
    /// Number of sources.
    pub n: usize,
    /// True coefficients [µas/yr] in packed order for degrees `1..=L_true` (length `2L(L+2)`;
    /// may be empty for pure noise).
    pub truth: Vec<f64>,
    /// Range of σ(µα*), σ(µδ) [µas/yr], drawn log-uniformly per source and component.
    pub sigma_range: (f64, f64),
    /// Maximum |ρ(µα*, µδ)|, drawn uniformly in `[−max, max]`.
    pub max_corr: f64,
    /// Fraction of sources made outliers (noise multiplied by `outlier_scale`).
    pub outlier_fraction: f64,
    /// Noise multiplier of outliers.
    pub outlier_scale: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            n: 10_000,
            truth: Vec::new(),
            sigma_range: (200.0, 1000.0),
            max_corr: 0.5,
            outlier_fraction: 0.0,
            outlier_scale: 30.0,
            seed: 1,
        }
    }
}

/// Synthetic catalogue and which of its sources are outliers.
#[derive(Clone, Debug)]
pub struct Synthetic {
    /// The data.
    pub data: PmData,
    /// `true` for injected outliers.
    pub outlier: Vec<bool>,
}

/// Generates the catalogue described by `cfg` (parallel; per-source seeds).
pub fn generate(cfg: &SynthConfig) -> Synthetic {
    let l_true = if cfg.truth.is_empty() {
        0
    } else {
        crate::basis::lmax_from_ncoef(cfg.truth.len())
    };
    let basis = (l_true > 0).then(|| VshBasis::new(l_true));
    let rows: Vec<([f64; 7], bool)> = (0..cfg.n)
        .into_par_iter()
        .map(|i| {
            let mut rng = SplitMix64::new(
                cfg.seed
                    .wrapping_mul(0x2545_F491_4F6C_DD1D)
                    .wrapping_add(i as u64),
            );
            rng.next_u64();
            let ra = std::f64::consts::TAU * rng.uniform();
            let dec = (2.0 * rng.uniform() - 1.0).asin();
            let (lo, hi) = cfg.sigma_range;
            let sa = lo * (hi / lo).powf(rng.uniform());
            let sd = lo * (hi / lo).powf(rng.uniform());
            let rho = cfg.max_corr * (2.0 * rng.uniform() - 1.0);
            let (va, vd) = match &basis {
                Some(b) => b.field(&cfg.truth, ra, dec),
                None => (0.0, 0.0),
            };
            let outlier = rng.uniform() < cfg.outlier_fraction;
            let scale = if outlier { cfg.outlier_scale } else { 1.0 };
            // Correlated noise: (e1, e2) = L (z1, z2), L the Cholesky factor of C.
            let (z1, z2) = (rng.normal(), rng.normal());
            let e1 = sa * z1;
            let e2 = sd * (rho * z1 + (1.0 - rho * rho).sqrt() * z2);
            (
                [ra, dec, va + scale * e1, vd + scale * e2, sa, sd, rho],
                outlier,
            )
        })
        .collect();
    let mut data = PmData::with_capacity(cfg.n);
    let mut outlier = Vec::with_capacity(cfg.n);
    for (r, o) in rows {
        data.push(r[0], r[1], r[2], r[3], r[4], r[5], r[6]);
        outlier.push(o);
    }
    Synthetic { data, outlier }
}
