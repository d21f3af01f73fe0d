//! Observation records: one per CCD crossing of a source image (Lindegren et al. 2012,
//! section 3.1). The along-scan measurement is the field angle η at the (exact) observation
//! time t; bright sources also have an across-scan field angle ζ.

use crate::instrument::Fov;
use serde::{Deserialize, Serialize};

/// One CCD observation (internal units).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Index of the source in the source table (not the source_id).
    pub source_index: u32,
    pub fov: Fov,
    /// CCD row across scan (0-based).
    pub row: u8,
    /// CCD strip along scan (0-based, in order of crossing).
    pub strip: u8,
    /// Observation time (days from the reference epoch, TCB).
    pub t: f64,
    /// Measured AL field angle η (rad).
    pub eta: f64,
    /// Measured AC field angle ζ (rad); NaN when only AL was measured.
    pub zeta: f64,
    /// Standard uncertainty of η (rad).
    pub sigma_eta: f64,
    /// Standard uncertainty of ζ (rad); NaN when only AL was measured.
    pub sigma_zeta: f64,
    /// Normalised AC position of the image on the CCD, x ∈ [−1, 1] (calibration argument).
    pub ac_coord: f64,
}

impl Observation {
    #[inline]
    pub fn has_ac(&self) -> bool {
        self.zeta.is_finite()
    }
}

/// Observations grouped by source (CSR layout): those of source i are
/// `obs[source_offsets[i]..source_offsets[i + 1]]`, in time order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservationSet {
    pub obs: Vec<Observation>,
    pub source_offsets: Vec<usize>,
}

impl ObservationSet {
    /// Builds the set from records in any order, for `n_sources` sources.
    pub fn from_unsorted(mut obs: Vec<Observation>, n_sources: usize) -> Self {
        obs.sort_by(|a, b| {
            a.source_index
                .cmp(&b.source_index)
                .then(a.t.total_cmp(&b.t))
        });
        let mut source_offsets = vec![0usize; n_sources + 1];
        for o in &obs {
            source_offsets[o.source_index as usize + 1] += 1;
        }
        for i in 0..n_sources {
            source_offsets[i + 1] += source_offsets[i];
        }
        ObservationSet {
            obs,
            source_offsets,
        }
    }

    pub fn n_sources(&self) -> usize {
        self.source_offsets.len().saturating_sub(1)
    }

    pub fn len(&self) -> usize {
        self.obs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.obs.is_empty()
    }

    /// Observations of source i.
    #[inline]
    pub fn of_source(&self, i: usize) -> &[Observation] {
        &self.obs[self.source_offsets[i]..self.source_offsets[i + 1]]
    }

    /// Time span covered.
    pub fn time_span(&self) -> Option<(f64, f64)> {
        let mut it = self.obs.iter().map(|o| o.t);
        let first = it.next()?;
        Some(it.fold((first, first), |(a, b), t| (a.min(t), b.max(t))))
    }
}

/// Contiguous ranges of sources, one per rank, balanced by observation count: rank r gets the
/// sources whose observations lie, by their middle, between r/n and (r+1)/n of the total (an MPI rank's share,
/// core::comm). Every rank gets a range (possibly empty); together they cover `0..counts.len()`.
///
/// Given: `counts[i]`, the number of observations of source i; `n_ranks` ≥ 1.
/// Returned: `n_ranks` ranges in rank order.
pub fn partition_by_counts(counts: &[usize], n_ranks: usize) -> Vec<std::ops::Range<usize>> {
    let n_ranks = n_ranks.max(1);
    let total: u128 = counts.iter().map(|&c| c as u128).sum();
    let mut bounds = vec![0usize; n_ranks + 1];
    bounds[n_ranks] = counts.len();
    let mut cum: u128 = 0;
    let mut i = 0;
    for (r, bound) in bounds.iter_mut().enumerate().take(n_ranks).skip(1) {
        // the boundary nearest r/n of the total: a source goes to rank r−1 when the middle of its
        // observations lies before the target
        let target = 2 * (total * r as u128 / n_ranks as u128);
        while i < counts.len() && 2 * cum + (counts[i] as u128) < target {
            cum += counts[i] as u128;
            i += 1;
        }
        *bound = i;
    }
    (0..n_ranks).map(|r| bounds[r]..bounds[r + 1]).collect()
}

#[cfg(test)]
mod partition_tests {
    use super::partition_by_counts;

    #[test]
    fn ranges_cover_and_balance() {
        let counts = vec![10, 10, 10, 10, 40, 10, 10];
        let p = partition_by_counts(&counts, 2);
        assert_eq!(p, vec![0..4, 4..7]);
        let p3 = partition_by_counts(&counts, 3);
        assert_eq!(p3.first().map(|r| r.start), Some(0));
        assert_eq!(p3.last().map(|r| r.end), Some(7));
        for w in p3.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        assert_eq!(partition_by_counts(&[], 3), vec![0..0, 0..0, 0..0]);
        assert_eq!(partition_by_counts(&[5], 2), vec![0..0, 0..1]);
    }
}
