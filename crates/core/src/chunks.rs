//! Fixed work splitting and fixed-order reductions, so that every result is bit-for-bit the
//! same whatever the number of threads ("accumulate local contributions, then reduce").
//!
//! Sources are split into contiguous chunks by their row counts, fixed by the data alone
//! ([`split_by_rows`]). A pass processes the chunks in waves of as many as there are
//! accumulator slots (threads); each chunk accumulates its global sums into one slot, and the
//! slots are added to the total in chunk order ([`OrderedSum`]). Dot products sum fixed blocks
//! of [`DOT_BLOCK`] elements, then the block sums in order ([`dot`]).

use rayon::prelude::*;
use std::ops::Range;

/// Elements per partial sum of a dot product.
pub const DOT_BLOCK: usize = 1 << 12;
/// Rows per chunk the splitting aims at (more chunks than threads balance the load; their
/// number is bounded by [`MAX_CHUNKS`]).
pub const ROWS_PER_CHUNK: usize = 1 << 15;
/// Most chunks of one pass: every chunk zeroes and reduces one accumulator of the global
/// unknowns, so this bounds that overhead.
pub const MAX_CHUNKS: usize = 32;

/// Contiguous source ranges with about equal numbers of rows (`offsets[i]..offsets[i + 1]`
/// are the rows of source i). Depends only on `offsets`.
pub fn split_by_rows(offsets: &[usize]) -> Vec<Range<usize>> {
    let n = offsets.len().saturating_sub(1);
    let total = offsets.last().copied().unwrap_or(0);
    let n_chunks = total.div_ceil(ROWS_PER_CHUNK).clamp(1, MAX_CHUNKS);
    let mut chunks = Vec::with_capacity(n_chunks);
    let mut start = 0;
    for c in 1..=n_chunks {
        let target = total * c / n_chunks;
        let mut end = start;
        while end < n && offsets[end + 1] <= target {
            end += 1;
        }
        if c == n_chunks {
            end = n;
        }
        if end > start {
            chunks.push(start..end);
            start = end;
        }
    }
    if chunks.is_empty() {
        chunks.push(0..n);
    }
    chunks
}

/// Splits `s` (`stride` values per source) along the chunks.
pub fn split_mut<'s, T>(
    mut s: &'s mut [T],
    chunks: &[Range<usize>],
    stride: usize,
) -> Vec<&'s mut [T]> {
    let mut out = Vec::with_capacity(chunks.len());
    for r in chunks {
        let (a, b) = std::mem::take(&mut s).split_at_mut(stride * r.len());
        out.push(a);
        s = b;
    }
    out
}

/// Deterministic dot product: fixed blocks summed in order.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    if a.len() <= DOT_BLOCK {
        return a.iter().zip(b).map(|(x, y)| x * y).sum();
    }
    let mut s = 0.0;
    // block sums computed in parallel, added in block order
    let parts: Vec<f64> = a
        .par_chunks(DOT_BLOCK)
        .zip(b.par_chunks(DOT_BLOCK))
        .map(|(x, y)| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>())
        .collect();
    for p in parts {
        s += p;
    }
    s
}

/// Euclidean norm, deterministic.
pub fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// y += s x, in parallel (element-wise, hence deterministic).
pub fn axpy(s: f64, x: &[f64], y: &mut [f64]) {
    y.par_iter_mut().zip(x).for_each(|(yi, xi)| *yi += s * xi);
}

/// Accumulator slots for the global sums of a pass, reduced in chunk order.
pub struct OrderedSum {
    slots: Vec<Vec<f64>>,
}

impl OrderedSum {
    /// `n_slots` accumulators of `len` values (the slots bound memory, not the result).
    pub fn new(n_slots: usize, len: usize) -> Self {
        OrderedSum {
            slots: (0..n_slots.max(1)).map(|_| vec![0.0; len]).collect(),
        }
    }

    /// One slot per thread of the current rayon pool.
    pub fn for_threads(len: usize) -> Self {
        Self::new(rayon::current_num_threads(), len)
    }

    pub fn len(&self) -> usize {
        self.slots[0].len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `work(c, item_c, acc)` for every chunk c (its item, e.g. its slice of a per-source
    /// output) and sets `total` to Σ_c acc_c, summed in chunk order.
    pub fn run<T: Send>(
        &mut self,
        items: Vec<T>,
        total: &mut [f64],
        work: impl Fn(usize, T, &mut [f64]) + Sync,
    ) {
        let len = self.len();
        assert_eq!(total.len(), len, "accumulator length");
        total.iter_mut().for_each(|v| *v = 0.0);
        let width = self.slots.len();
        let mut items = items.into_iter().enumerate();
        loop {
            let wave: Vec<(usize, T)> = items.by_ref().take(width).collect();
            if wave.is_empty() {
                break;
            }
            let k = wave.len();
            self.slots[..k]
                .par_iter_mut()
                .zip(wave.into_par_iter())
                .for_each(|(acc, (c, item))| {
                    acc.iter_mut().for_each(|v| *v = 0.0);
                    work(c, item, acc)
                });
            let slots = &self.slots[..k];
            total
                .par_chunks_mut(DOT_BLOCK)
                .enumerate()
                .for_each(|(bi, t)| {
                    let o = bi * DOT_BLOCK;
                    let n = t.len();
                    for acc in slots {
                        for (x, y) in t.iter_mut().zip(&acc[o..o + n]) {
                            *x += y;
                        }
                    }
                });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_all_sources_in_order() {
        let offsets: Vec<usize> = (0..=1000).map(|i| i * 97).collect();
        let c = split_by_rows(&offsets);
        assert_eq!(c.first().unwrap().start, 0);
        assert_eq!(c.last().unwrap().end, 1000);
        for w in c.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        assert!(c.len() > 1 && c.len() <= MAX_CHUNKS);
    }

    #[test]
    fn ordered_sum_is_independent_of_the_slot_count() {
        let offsets: Vec<usize> = (0..=5000).map(|i| i * 40).collect();
        let chunks = split_by_rows(&offsets);
        let run = |slots: usize| {
            let mut acc = OrderedSum::new(slots, 64);
            let mut total = vec![0.0; 64];
            let items: Vec<usize> = (0..chunks.len()).collect();
            acc.run(items, &mut total, |c, _, a| {
                for i in chunks[c].clone() {
                    a[i % 64] += 1.0 / (1.0 + i as f64);
                }
            });
            total
        };
        let one = run(1);
        for s in [2, 3, 7, 32] {
            assert_eq!(run(s), one, "{s} slots");
        }
    }
}
