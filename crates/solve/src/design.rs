//! Design equations of all observations at the current parameters, kept compactly in f32:
//! one 64-byte row per AL observation, and one per AC measurement of bright sources.
//! Single precision suffices: the rows only steer the inner iterations, while residuals
//! are recomputed in f64 at every outer iteration, so the converged solution is exact.

use astrosolve_model::{BSplineAttitude, Calibration, GaiaModel, ObservationSet, SourceParams};
use rayon::prelude::*;

/// Number of source unknowns (5-parameter solutions).
pub const NS: usize = 5;
/// Largest number of AL calibration unknowns per unit.
pub const NC: usize = astrosolve_model::N_AL_CAL_MAX;

/// Design equation of one AL observation: residual (observed − computed, rad), weight
/// factor (robust × 1/(σ² + ε²) relative scaling kept separately), ∂η/∂source,
/// ∂η/∂q (un-normalised spline quaternion), ∂η/∂calibration.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct AlRow {
    pub res: f32,
    pub w: f32,
    pub src: [f32; NS],
    pub q: [f32; 4],
    pub cal: [f32; NC],
}

/// Design equation of one AC measurement.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct AcRow {
    /// Index of the observation in the observation set.
    pub obs: u32,
    pub res: f32,
    pub w: f32,
    pub src: [f32; NS],
    pub q: [f32; 4],
    pub cal: f32,
}

/// All design equations (same order as the observations), plus the AC rows grouped by source.
pub struct Design {
    pub al: Vec<AlRow>,
    pub ac: Vec<AcRow>,
    /// AC rows of source i: `ac[ac_offsets[i]..ac_offsets[i + 1]]`.
    pub ac_offsets: Vec<usize>,
}

/// Plain statistical weights 1/σ² (rad⁻²) of every AL and AC measurement (0 where there is
/// no AC measurement), before any robust re-weighting.
pub fn statistical_weights(obs: &ObservationSet) -> (Vec<f64>, Vec<f64>) {
    let al = obs.obs.iter().map(|o| o.sigma_eta.powi(-2)).collect();
    let ac = obs
        .obs
        .iter()
        .map(|o| {
            if o.has_ac() {
                o.sigma_zeta.powi(-2)
            } else {
                0.0
            }
        })
        .collect();
    (al, ac)
}

/// Per-observation weights in 1/rad² scaled by `W_SCALE` (so f32 holds them comfortably):
/// the statistical weight is `w / W_SCALE`.
pub const W_SCALE: f64 = 1e-18;

impl Design {
    /// Linearises every observation. `weights_al[l]`, `weights_ac[l]` are the statistical
    /// weights (1/rad², robust factors included; 0 drops the observation).
    pub fn build(
        model: &GaiaModel,
        obs: &ObservationSet,
        sources: &[SourceParams],
        att: &BSplineAttitude,
        cal: &Calibration,
        weights_al: &[f64],
        weights_ac: &[f64],
    ) -> Design {
        let n_src = obs.n_sources();
        let per_source: Vec<(Vec<AlRow>, Vec<AcRow>)> = (0..n_src)
            .into_par_iter()
            .map(|i| {
                let range = obs.source_offsets[i]..obs.source_offsets[i + 1];
                let mut al = Vec::with_capacity(range.len());
                let mut ac = Vec::new();
                for l in range {
                    let o = &obs.obs[l];
                    let lin = model.linearise(&sources[i], att, cal, o);
                    let mut row = AlRow {
                        res: (o.eta - lin.eta) as f32,
                        w: (weights_al[l] * W_SCALE) as f32,
                        ..Default::default()
                    };
                    for k in 0..NS {
                        row.src[k] = lin.d_src_eta[k] as f32;
                    }
                    for k in 0..4 {
                        row.q[k] = lin.d_q_eta[k] as f32;
                    }
                    for k in 0..NC {
                        row.cal[k] = lin.d_cal_eta[k] as f32;
                    }
                    al.push(row);
                    if o.has_ac() {
                        let mut r = AcRow {
                            obs: l as u32,
                            res: (o.zeta - lin.zeta) as f32,
                            w: (weights_ac[l] * W_SCALE) as f32,
                            cal: lin.d_cal_zeta[0] as f32,
                            ..Default::default()
                        };
                        for k in 0..NS {
                            r.src[k] = lin.d_src_zeta[k] as f32;
                        }
                        for k in 0..4 {
                            r.q[k] = lin.d_q_zeta[k] as f32;
                        }
                        ac.push(r);
                    }
                }
                (al, ac)
            })
            .collect();
        let mut design = Design {
            al: Vec::with_capacity(obs.len()),
            ac: Vec::new(),
            ac_offsets: Vec::with_capacity(n_src + 1),
        };
        design.ac_offsets.push(0);
        for (al, ac) in per_source {
            design.al.extend(al);
            design.ac.extend(ac);
            design.ac_offsets.push(design.ac.len());
        }
        design
    }

    /// Resident bytes of the design equations.
    pub fn bytes(&self) -> usize {
        self.al.capacity() * std::mem::size_of::<AlRow>()
            + self.ac.capacity() * std::mem::size_of::<AcRow>()
            + self.ac_offsets.capacity() * std::mem::size_of::<usize>()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn al_row_is_64_bytes() {
        assert_eq!(std::mem::size_of::<super::AlRow>(), 64);
    }
}
