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

/// Where a solve reads the observations from, source by source: memory ([`ObservationSet`]) or
/// a file read again at every linearisation (`astrosolve_io::ObservationFile`, as AGIS reads
/// its observations from the database each outer iteration), so that the records need not stay
/// resident beside the design rows.
pub trait ObservationStore: Sync {
    /// Observations of source i are numbered `source_offsets()[i]..source_offsets()[i + 1]`.
    fn source_offsets(&self) -> &[usize];

    /// Calls `f` with the observations of source i, in time order (their `source_index` is i).
    /// Err: they could not be read (the message names the file and the source).
    fn with_source(&self, i: usize, f: &mut dyn FnMut(&[Observation])) -> Result<(), String>;

    fn n_sources(&self) -> usize {
        self.source_offsets().len().saturating_sub(1)
    }

    /// Number of observations.
    fn n_observations(&self) -> usize {
        self.source_offsets().last().copied().unwrap_or(0)
    }

    /// Observations of source i.
    fn count(&self, i: usize) -> usize {
        let o = self.source_offsets();
        o[i + 1] - o[i]
    }

    /// Bytes of observation records held in memory (none for a store on disk).
    fn resident_record_bytes(&self) -> u64 {
        0
    }
}

impl ObservationStore for ObservationSet {
    fn source_offsets(&self) -> &[usize] {
        &self.source_offsets
    }

    fn with_source(&self, i: usize, f: &mut dyn FnMut(&[Observation])) -> Result<(), String> {
        f(self.of_source(i));
        Ok(())
    }

    fn resident_record_bytes(&self) -> u64 {
        (self.obs.capacity() * std::mem::size_of::<Observation>()) as u64
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

/// Observations per chunk the global chunking aims at ([`chunk_sources`]).
pub const OBS_PER_CHUNK: usize = 1 << 15;
/// Most chunks of the global chunking (every chunk holds one accumulator of the global
/// unknowns in a pass of the solver).
pub const MAX_CHUNKS: usize = 32;
/// Fewest chunks of the global chunking (bounded by the number of sources), so that even a
/// small problem can be cut between ranks.
pub const MIN_CHUNKS: usize = 8;

/// The global chunks of a catalogue: contiguous source ranges of about equal observation
/// counts, fixed by the counts alone, so that a one-process and a distributed solve split the
/// sources, and add their partial sums, identically (core::chunks, core::comm). Chunk c ends at
/// the first source boundary whose cumulative count reaches (c+1)/n of the total; empty chunks
/// are dropped.
///
/// Given: `counts[i]`, the number of observations of source i.
/// Returned: n ranges covering `0..counts.len()` in order, with
/// n = clamp(total/[`OBS_PER_CHUNK`], min([`MIN_CHUNKS`], sources), [`MAX_CHUNKS`]) or fewer
/// (none when there are no sources).
pub fn chunk_sources(counts: &[usize]) -> Vec<std::ops::Range<usize>> {
    let n = counts.len();
    if n == 0 {
        return Vec::new();
    }
    let total: u128 = counts.iter().map(|&c| c as u128).sum();
    let n_chunks = ((total / OBS_PER_CHUNK as u128) as usize).clamp(MIN_CHUNKS.min(n), MAX_CHUNKS);
    let mut chunks = Vec::with_capacity(n_chunks);
    let (mut start, mut end, mut cum) = (0usize, 0usize, 0u128);
    for c in 1..=n_chunks {
        let target = total * c as u128 / n_chunks as u128;
        if c == n_chunks {
            end = n;
        } else {
            while end < n && cum < target {
                cum += counts[end] as u128;
                end += 1;
            }
        }
        if end > start {
            chunks.push(start..end);
            start = end;
        }
    }
    chunks
}

/// The chunks of `global` (source ranges of the whole catalogue) that lie in `range`, shifted
/// to indices local to `range` (a rank's share): where `range` is cut at chunk boundaries
/// ([`partition_chunks`]) they are exactly the global chunks of the share.
pub fn local_chunks(
    global: &[std::ops::Range<usize>],
    range: &std::ops::Range<usize>,
) -> Vec<std::ops::Range<usize>> {
    global
        .iter()
        .filter_map(|c| {
            let s = c.start.max(range.start);
            let e = c.end.min(range.end);
            (e > s).then(|| s - range.start..e - range.start)
        })
        .collect()
}

/// The global chunks ([`chunk_sources`]) and one contiguous source range per rank, cut only
/// at chunk boundaries and balanced by observation count: rank r ends at the chunk boundary
/// nearest (r+1)/n of the total. With this cut a distributed solve adds exactly the partial
/// sums a one-process solve adds, in the same order (core::comm). Ranks beyond the number of
/// chunks, or whose share rounds to nothing, get empty ranges.
///
/// Given: `counts[i]`, observations of source i; `n_ranks` ≥ 1.
/// Returned: (global chunks, `n_ranks` ranges in rank order covering `0..counts.len()`).
#[allow(clippy::type_complexity)]
pub fn partition_chunks(
    counts: &[usize],
    n_ranks: usize,
) -> (Vec<std::ops::Range<usize>>, Vec<std::ops::Range<usize>>) {
    let n_ranks = n_ranks.max(1);
    let chunks = chunk_sources(counts);
    // cumulative count at each chunk boundary
    let mut bounds = vec![(0usize, 0u128)];
    let mut cum = 0u128;
    for c in &chunks {
        cum += counts[c.clone()].iter().map(|&k| k as u128).sum::<u128>();
        bounds.push((c.end, cum));
    }
    let total = cum;
    let mut cuts = vec![0usize; n_ranks + 1];
    cuts[n_ranks] = counts.len();
    let mut b = 0;
    for (r, cut) in cuts.iter_mut().enumerate().take(n_ranks).skip(1) {
        let target = total * r as u128 / n_ranks as u128;
        // the boundary nearest the target, never before the previous cut
        while b + 1 < bounds.len()
            && bounds[b + 1].1.abs_diff(target) < bounds[b].1.abs_diff(target)
        {
            b += 1;
        }
        *cut = bounds[b].0;
    }
    let ranges = (0..n_ranks)
        .map(|r| cuts[r]..cuts[r + 1].max(cuts[r]))
        .collect();
    (chunks, ranges)
}

#[cfg(test)]
mod partition_tests {
    use super::*;

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

    #[test]
    fn chunk_aligned_partition() {
        let counts: Vec<usize> = (0..1000).map(|i| 1 + (i * 7919) % 23).collect();
        let chunks = chunk_sources(&counts);
        assert_eq!(chunks.len(), MIN_CHUNKS);
        assert_eq!(chunks[0].start, 0);
        assert_eq!(chunks.last().map(|c| c.end), Some(1000));
        for w in chunks.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        for n in 1..=12 {
            let (c2, ranges) = partition_chunks(&counts, n);
            assert_eq!(c2, chunks);
            assert_eq!(ranges.len(), n);
            assert_eq!(ranges[0].start, 0);
            assert_eq!(ranges[n - 1].end, 1000);
            let mut again = Vec::new();
            for w in ranges.windows(2) {
                assert_eq!(w[0].end, w[1].start);
            }
            for r in &ranges {
                // every cut is a chunk boundary
                assert!(r.is_empty() || chunks.iter().any(|c| c.start == r.start));
                assert!(r.is_empty() || chunks.iter().any(|c| c.end == r.end));
                again.extend(
                    local_chunks(&chunks, r)
                        .into_iter()
                        .map(|c| c.start + r.start..c.end + r.start),
                );
            }
            assert_eq!(again, chunks, "{n} ranks");
            if n <= MIN_CHUNKS {
                // balanced: every rank works
                assert!(
                    ranges.iter().all(|r| !r.is_empty()),
                    "{n} ranks: {ranges:?}"
                );
            } else {
                assert!(ranges.iter().filter(|r| !r.is_empty()).count() <= MIN_CHUNKS);
            }
        }
        // large: about OBS_PER_CHUNK each, at most MAX_CHUNKS
        let big = vec![100usize; 100_000];
        let c = chunk_sources(&big);
        assert_eq!(c.len(), MAX_CHUNKS);
        let small = vec![3usize; 3];
        assert_eq!(chunk_sources(&small), vec![0..1, 1..2, 2..3]);
        assert!(chunk_sources(&[]).is_empty());
        assert_eq!(partition_chunks(&[], 2).1, vec![0..0, 0..0]);
    }
}
