//! Fixed work splitting and fixed-order reductions, so that every result is bit-for-bit the
//! same whatever the number of threads ("accumulate local contributions, then reduce").
//!
//! Sources are split into contiguous chunks by their row counts, fixed by the data alone
//! ([`split_by_rows`]). A pass processes the chunks in waves of as many as there are
//! accumulator slots (threads); each chunk accumulates its global sums into one slot, and the
//! slots are added to the total in chunk order ([`OrderedSum`]). Dot products sum fixed blocks
//! of [`DOT_BLOCK`] elements (four interleaved lanes each), runs of blocks in order, then the
//! runs in order; the runs depend on the length alone ([`dot`]). Dot products of the solver's
//! vectors take one such dot per source chunk ([`chunk_dots`]) and add them in chunk order, so
//! that ranks holding whole chunks reproduce them ([`OrderedSum::run_on`], `crate::comm`).

use crate::comm::Comm;
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

/// Most partial sums of a dot product: runs of whole blocks, one per parallel task.
const MAX_PARTS: usize = 64;

/// Σ x_i y_i of one block, in four interleaved lanes (i mod 4) added as (l₀ + l₂) + (l₁ + l₃).
#[inline]
fn block_dot(x: &[f64], y: &[f64]) -> f64 {
    let mut l = [0.0f64; 4];
    let (xc, xr) = x.as_chunks::<4>();
    let (yc, yr) = y.as_chunks::<4>();
    for (a, b) in xc.iter().zip(yc) {
        for k in 0..4 {
            l[k] += a[k] * b[k];
        }
    }
    for (k, (a, b)) in xr.iter().zip(yr).enumerate() {
        l[k] += a * b;
    }
    (l[0] + l[2]) + (l[1] + l[3])
}

/// Σ over the blocks of [`DOT_BLOCK`] elements of `f(block of a, block of b)`, deterministic
/// and without allocation: the blocks are grouped into at most [`MAX_PARTS`] runs (a number
/// fixed by the length alone), each run summed in order on one task, the runs in order.
fn blockwise(a: &[f64], b: &[f64], f: impl Fn(&[f64], &[f64]) -> f64 + Sync) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let n_blocks = a.len().div_ceil(DOT_BLOCK);
    if n_blocks <= 1 {
        return f(a, b);
    }
    let run = n_blocks.div_ceil(MAX_PARTS) * DOT_BLOCK;
    let mut parts = [0.0f64; MAX_PARTS];
    parts
        .par_iter_mut()
        .zip(a.par_chunks(run).zip(b.par_chunks(run)))
        .for_each(|(p, (x, y))| {
            let mut s = 0.0;
            for (xb, yb) in x.chunks(DOT_BLOCK).zip(y.chunks(DOT_BLOCK)) {
                s += f(xb, yb);
            }
            *p = s;
        });
    let mut s = 0.0;
    for p in &parts[..a.len().div_ceil(run)] {
        s += p;
    }
    s
}

/// Deterministic dot product: fixed blocks, fixed runs of blocks, summed in order
/// (the grouping depends on the length only, never on the threads); no allocation.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    blockwise(a, b, block_dot)
}

/// (aᵀb as [`dot`], max_i |b_i|) in one parallel pass (the maximum is exact in any order).
pub fn dot_and_max_abs(a: &[f64], b: &[f64]) -> (f64, f64) {
    debug_assert_eq!(a.len(), b.len());
    let max_abs = |y: &[f64]| y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let n_blocks = a.len().div_ceil(DOT_BLOCK);
    if n_blocks <= 1 {
        return (block_dot(a, b), max_abs(b));
    }
    let run = n_blocks.div_ceil(MAX_PARTS) * DOT_BLOCK;
    let mut parts = [(0.0f64, 0.0f64); MAX_PARTS];
    parts
        .par_iter_mut()
        .zip(a.par_chunks(run).zip(b.par_chunks(run)))
        .for_each(|(p, (x, y))| {
            let mut s = 0.0;
            for (xb, yb) in x.chunks(DOT_BLOCK).zip(y.chunks(DOT_BLOCK)) {
                s += block_dot(xb, yb);
            }
            *p = (s, max_abs(y));
        });
    let (mut s, mut m) = (0.0, 0.0f64);
    for p in &parts[..a.len().div_ceil(run)] {
        s += p.0;
        m = m.max(p.1);
    }
    (s, m)
}

/// The partial dot products of a vector's source part, one per chunk in chunk order:
/// [`dot`] of `a` and `b` over the `stride` values of each source of the chunk. Summed in
/// chunk order (over ranks, [`Comm::ordered_sum`]) they give a dot product whose bits do not
/// depend on the number of threads or on how chunk-aligned ranks share the sources.
pub fn chunk_dots(a: &[f64], b: &[f64], chunks: &[Range<usize>], stride: usize) -> Vec<f64> {
    chunks
        .par_iter()
        .map(|r| {
            let s = stride * r.start..stride * r.end;
            dot(&a[s.clone()], &b[s])
        })
        .collect()
}

/// ([`chunk_dots`], max |b_i| over the chunks' sources).
pub fn chunk_dots_and_max_abs(
    a: &[f64],
    b: &[f64],
    chunks: &[Range<usize>],
    stride: usize,
) -> (Vec<f64>, f64) {
    let v: Vec<(f64, f64)> = chunks
        .par_iter()
        .map(|r| {
            let s = stride * r.start..stride * r.end;
            dot_and_max_abs(&a[s.clone()], &b[s])
        })
        .collect();
    let m = v.iter().fold(0.0f64, |m, p| m.max(p.1));
    (v.into_iter().map(|p| p.0).collect(), m)
}

/// out += Σ_k s_k v_k, each element adding its terms in k order (as successive axpys would).
pub fn add_scaled(vs: &[(f64, Vec<f64>)], s: &[f64], out: &mut [f64]) {
    out.par_chunks_mut(DOT_BLOCK)
        .enumerate()
        .for_each(|(bi, o)| {
            let o0 = bi * DOT_BLOCK;
            let len = o.len();
            for ((_, v), &sk) in vs.iter().zip(s) {
                for (y, x) in o.iter_mut().zip(&v[o0..o0 + len]) {
                    *y += sk * x;
                }
            }
        });
}

/// Most vectors [`add_projections`] handles in one pass.
const MAX_PROJ: usize = 8;

/// out += Σ_k f_k (v_kᵀ p) v_k (the frame rows of N), in two parallel passes: the dots v_kᵀp
/// (each exactly as [`dot`]), then the update, each element adding its terms in k order (as
/// successive axpys would).
pub fn add_projections(vs: &[(f64, Vec<f64>)], p: &[f64], out: &mut [f64]) {
    if vs.len() > MAX_PROJ || p.len() <= DOT_BLOCK {
        for (f, v) in vs {
            let s = f * dot(v, p);
            axpy(s, v, out);
        }
        return;
    }
    let n = p.len();
    let run = n.div_ceil(DOT_BLOCK).div_ceil(MAX_PARTS) * DOT_BLOCK;
    let n_parts = n.div_ceil(run);
    let mut parts = [[0.0f64; MAX_PROJ]; MAX_PARTS];
    parts[..n_parts]
        .par_iter_mut()
        .enumerate()
        .for_each(|(j, part)| {
            let r = j * run..((j + 1) * run).min(n);
            for (k, (_, v)) in vs.iter().enumerate() {
                let mut s = 0.0;
                for (xb, yb) in v[r.clone()]
                    .chunks(DOT_BLOCK)
                    .zip(p[r.clone()].chunks(DOT_BLOCK))
                {
                    s += block_dot(xb, yb);
                }
                part[k] = s;
            }
        });
    let mut sk = [0.0f64; MAX_PROJ];
    for (k, (f, _)) in vs.iter().enumerate() {
        let mut d = 0.0;
        for part in &parts[..n_parts] {
            d += part[k];
        }
        sk[k] = f * d;
    }
    out.par_chunks_mut(DOT_BLOCK)
        .enumerate()
        .for_each(|(bi, o)| {
            let o0 = bi * DOT_BLOCK;
            let len = o.len();
            for (k, (_, v)) in vs.iter().enumerate() {
                let s = sk[k];
                for (y, x) in o.iter_mut().zip(&v[o0..o0 + len]) {
                    *y += s * x;
                }
            }
        });
}

/// Euclidean norm, deterministic.
pub fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// y += s x, in parallel (element-wise, hence deterministic).
pub fn axpy(s: f64, x: &[f64], y: &mut [f64]) {
    y.par_iter_mut().zip(x).for_each(|(yi, xi)| *yi += s * xi);
}

/// Memory [`OrderedSum::for_chunks`] gives its slots beyond one per thread (8 MiB).
pub const SLOT_BYTES: usize = 8 << 20;

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

    /// One slot per thread of the current rayon pool (passes run in waves of that many
    /// chunks: least memory).
    pub fn for_threads(len: usize) -> Self {
        Self::new(rayon::current_num_threads(), len)
    }

    /// One slot per chunk where they fit in [`SLOT_BYTES`] (at least one per thread): a pass
    /// is then one parallel region over all its chunks and one reduction, two synchronisations
    /// instead of two per wave. For the solvers' passes (accumulators of the global unknowns).
    /// Waves short of all the chunks are a whole number of threads wide (5 slots on 2
    /// threads would leave one thread idle a sixth of every pass).
    pub fn for_chunks(n_chunks: usize, len: usize) -> Self {
        let threads = rayon::current_num_threads().max(1);
        let fit = SLOT_BYTES / (8 * len).max(1);
        let mut slots = n_chunks.min(MAX_CHUNKS).min(fit.max(threads));
        if slots < n_chunks.min(MAX_CHUNKS) {
            slots = (slots / threads).max(1) * threads;
        }
        Self::new(slots, len)
    }

    pub fn len(&self) -> usize {
        self.slots[0].len()
    }

    /// Number of accumulators (memory: 8 [`OrderedSum::len`] bytes each).
    pub fn n_slots(&self) -> usize {
        self.slots.len()
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

impl OrderedSum {
    /// [`OrderedSum::run`] over the ranks of `comm`: `items` are this rank's chunks (the
    /// global chunks of its sources, in order), and `total` becomes, on every rank, the sum of
    /// every rank's chunk accumulators in global chunk order — the bits of the one-process
    /// [`OrderedSum::run`] over the same global chunks. One rank: [`OrderedSum::run`].
    /// Several: all the rank's chunks are computed in one wave (the accumulators grow to one per
    /// local chunk: memory `8 len` bytes per chunk), then folded with [`Comm::ordered_fold`].
    pub fn run_on<T: Send>(
        &mut self,
        comm: &dyn Comm,
        items: Vec<T>,
        total: &mut [f64],
        work: impl Fn(usize, T, &mut [f64]) + Sync,
    ) {
        if comm.size() == 1 {
            self.run(items, total, work);
            return;
        }
        let len = self.len();
        assert_eq!(total.len(), len, "accumulator length");
        let k = items.len();
        if self.slots.len() < k {
            self.slots.resize_with(k, || vec![0.0; len]);
        }
        self.slots[..k]
            .par_iter_mut()
            .zip(items.into_par_iter().enumerate())
            .for_each(|(acc, (c, item))| {
                acc.iter_mut().for_each(|v| *v = 0.0);
                work(c, item, acc)
            });
        let parts: Vec<&[f64]> = self.slots[..k].iter().map(|v| &v[..]).collect();
        comm.ordered_fold(&parts, total);
    }
}

/// t_i += p_i for every p of `parts`, in order, element by element (in parallel over blocks of
/// [`DOT_BLOCK`] elements: the per-element order is that of `parts`, whatever the threads).
pub fn fold_into(t: &mut [f64], parts: &[&[f64]]) {
    let body = |bi: usize, t: &mut [f64]| {
        let o = bi * DOT_BLOCK;
        let n = t.len();
        for acc in parts {
            for (x, y) in t.iter_mut().zip(&acc[o..o + n]) {
                *x += y;
            }
        }
    };
    if t.len() <= DOT_BLOCK {
        body(0, t);
    } else {
        t.par_chunks_mut(DOT_BLOCK)
            .enumerate()
            .for_each(|(bi, t)| body(bi, t));
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
