//! # astrosolve-pointed
//!
//! Astrometric solutions of a JASMINE-like pointed survey (docs/jasmine.md): a small-field
//! telescope stepping over a Galactic-centre field with overlapping, dithered exposures.
//! The observation model is `astrosolve_model::pointed` (generic scalar, autodiff Jacobians).
//!
//! Two solutions, the trade-off of the seed slides:
//! - [`plate::solve_plates`], the "simplest approach": each exposure solved on its own against
//!   reference stars (plate parameters and a per-exposure distortion), then a 5-parameter fit
//!   per source to its epoch positions;
//! - [`global::solve_global`], the self-calibrated global solution: one distortion per
//!   calibration unit shared by all its exposures, tied together by every star seen at
//!   different places of the focal plane; the instrument is a thin layer ([`problem`], [`row`])
//!   over the astrosolve core, which solves it by any of its methods (simple iteration, PCG,
//!   LSQR, direct with the full covariance) with robust weighting.
//!
//! [`compare`] measures both against the simulated truth.

pub mod compare;
pub mod global;
pub mod plate;
pub mod problem;
pub mod report;
pub mod row;

use astrosolve_model::pointed::{Exposure, PointedModel, PointedObs, RefStar, N_SRC};
use serde::{Deserialize, Serialize};

pub use compare::{by_magnitude, compare, Comparison, MagBin, ParamStats};
pub use global::{
    gather_global, solve_global, solve_global_on, solve_global_resumable, GlobalReport,
    GlobalSolution,
};
pub use plate::{solve_plates, PlateConfig, PlateSolution};
pub use problem::{param_diff, GlobalProblem, State};
pub use report::{trade_off, PointedReport, TradeOff};

/// Solution of one source: parameters (α, δ, ϖ, μα*, μδ; rad, rad/yr), formal covariance
/// of (α*, δ, ϖ, μα*, μδ), number of images used.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct SourceSolution {
    pub params: [f64; N_SRC],
    pub cov: [[f64; N_SRC]; N_SRC],
    pub n_obs: usize,
    pub solved: bool,
    /// Field angles down-weighted as outliers (global solution; 0 for plates).
    pub n_outliers: usize,
}

impl SourceSolution {
    pub fn sigma(&self, k: usize) -> f64 {
        self.cov[k][k].sqrt()
    }
}

/// A pointed-survey problem: model, exposures (with the starting attitude), observations,
/// starting catalogue and reference catalogue.
pub struct Problem {
    /// The model of the global solution (its distortion order).
    pub model: PointedModel,
    pub exposures: Vec<Exposure>,
    /// Observations ordered by exposure.
    pub obs: Vec<PointedObs>,
    /// Observations of exposure e: `exp_start[e]..exp_start[e + 1]`.
    pub exp_start: Vec<usize>,
    /// Observation indices ordered by source.
    pub by_source: Vec<usize>,
    pub n_sources: usize,
    pub start_sources: Vec<[f64; N_SRC]>,
    pub refs: Vec<RefStar>,
    pub n_units: usize,
    /// Sources that enter the solutions: reference stars, and stars with at least
    /// [`MIN_IMAGES`] images in at least [`MIN_UNITS`] calibration units (so that parallax and
    /// proper motion are determined); the others are left out (not solved).
    pub active: Vec<bool>,
    /// The solver's source chunks: the global chunks of the whole catalogue's image counts
    /// (`astrosolve_model::obs::chunk_sources`) in this problem's sources, indexed from its
    /// first ([`Problem::part`] keeps them): chunk-aligned ranks reproduce the one-process
    /// solution bit for bit.
    pub chunks: Vec<std::ops::Range<usize>>,
}

/// Fewest images of a non-reference star that is solved.
pub const MIN_IMAGES: usize = 10;
/// Fewest calibration units (seasons) in which a non-reference star must be seen.
pub const MIN_UNITS: usize = 3;

impl Problem {
    /// Checks indices and orders the observations.
    pub fn new(
        model: PointedModel,
        exposures: Vec<Exposure>,
        mut obs: Vec<PointedObs>,
        start_sources: Vec<[f64; N_SRC]>,
        refs: Vec<RefStar>,
    ) -> Result<Problem, String> {
        let n_sources = start_sources.len();
        let n_exp = exposures.len();
        for (i, o) in obs.iter().enumerate() {
            if o.exposure as usize >= n_exp || o.source as usize >= n_sources || o.detector >= 4 {
                return Err(format!(
                    "observation {i}: exposure, source or detector out of range"
                ));
            }
            if o.sigma.is_nan() || o.sigma <= 0.0 || !o.x.is_finite() || !o.y.is_finite() {
                return Err(format!("observation {i}: invalid position or uncertainty"));
            }
        }
        for (i, r) in refs.iter().enumerate() {
            if r.source_index >= n_sources {
                return Err(format!(
                    "reference star {i}: source index {} out of range",
                    r.source_index
                ));
            }
            if r.sigma.iter().any(|s| !s.is_finite() || *s <= 0.0)
                || r.params.iter().any(|p| !p.is_finite())
                || !r.epoch_offset_yr.is_finite()
            {
                return Err(format!(
                    "reference star {i}: non-finite values or uncertainties ≤ 0"
                ));
            }
        }
        let n_units = exposures.iter().map(|e| e.cal_unit + 1).max().unwrap_or(0);
        obs.sort_by_key(|o| (o.exposure, o.source));
        let mut exp_start = vec![0usize; n_exp + 1];
        for o in &obs {
            exp_start[o.exposure as usize + 1] += 1;
        }
        for e in 0..n_exp {
            exp_start[e + 1] += exp_start[e];
        }
        let mut by_source: Vec<usize> = (0..obs.len()).collect();
        by_source.sort_by_key(|&i| (obs[i].source, obs[i].exposure));
        let mut units_seen = vec![0u64; n_sources];
        let mut images = vec![0usize; n_sources];
        for o in &obs {
            let u = exposures[o.exposure as usize].cal_unit.min(63);
            units_seen[o.source as usize] |= 1 << u;
            images[o.source as usize] += 1;
        }
        let mut active: Vec<bool> = (0..n_sources)
            .map(|s| images[s] >= MIN_IMAGES && units_seen[s].count_ones() as usize >= MIN_UNITS)
            .collect();
        for r in &refs {
            active[r.source_index] = images[r.source_index] > 0;
        }
        let chunks = astrosolve_model::obs::chunk_sources(&images);
        Ok(Problem {
            chunks,
            active,
            model,
            exposures,
            obs,
            exp_start,
            by_source,
            n_sources,
            start_sources,
            refs,
            n_units,
        })
    }

    /// One rank's share of a distributed solve: the sources `range` (clamped to the
    /// catalogue) with their images and reference stars, source indices re-indexed from 0;
    /// every exposure and calibration unit (replicated), and this problem's chunks in the range
    /// (cut at chunk boundaries, `astrosolve_model::obs::partition_chunks`, the ranks
    /// reproduce the one-process solution bit for bit). Gathered back by
    /// [`global::gather_global`].
    pub fn part(&self, range: std::ops::Range<usize>) -> Result<Problem, String> {
        let end = range.end.min(self.n_sources);
        let start = range.start.min(end);
        let inside = |s: usize| (start..end).contains(&s);
        let obs = self
            .obs
            .iter()
            .filter(|o| inside(o.source as usize))
            .map(|o| PointedObs {
                source: o.source - start as u32,
                ..*o
            })
            .collect();
        let refs = self
            .refs
            .iter()
            .filter(|r| inside(r.source_index))
            .map(|r| RefStar {
                source_index: r.source_index - start,
                ..*r
            })
            .collect();
        let mut p = Problem::new(
            self.model.clone(),
            self.exposures.clone(),
            obs,
            self.start_sources[start..end].to_vec(),
            refs,
        )?;
        // the calibration units are those of every exposure, whoever's images they hold
        p.n_units = self.n_units;
        p.chunks = astrosolve_model::obs::local_chunks(&self.chunks, &(start..end));
        Ok(p)
    }

    /// Flags of the reference stars.
    pub fn is_reference(&self) -> Vec<bool> {
        let mut v = vec![false; self.n_sources];
        for r in &self.refs {
            v[r.source_index] = true;
        }
        v
    }
}
