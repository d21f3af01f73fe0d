//! Collective operations over the processes (ranks) that share one solution.
//!
//! Sources, with their observations, are partitioned over ranks in contiguous ranges; the
//! global unknowns (attitude, calibration, global parameters) are replicated on every rank.
//! Every sum over observations of a global quantity — the global blocks of the normal
//! equations, the global parts of N·p and Aᵀu, dot products, frame sums — is accumulated per
//! chunk of sources ([`crate::chunks`]), and the chunks' partial sums are added in global chunk
//! order over the ranks ([`Comm::ordered_fold`], on [`Comm::chain`]); "accumulate local
//! contributions, then reduce" (seed paper, section 4; AVU-GSR's MPI_Allreduce of the global
//! part of Aᵀu), with the one-process order kept: where the chunks are the catalogue's global
//! chunks (`astrosolve_model::obs::chunk_sources`) and ranks are cut at chunk boundaries
//! (`astrosolve_model::obs::partition_chunks`), every rank count gives the one-process bits.
//! Exact quantities (counts, maxima) use [`Comm::sum`] and [`Comm::max`].
//!
//! [`Single`] is the one-process communicator: every operation is the identity, so a solve
//! without MPI runs exactly the code it always ran. The MPI communicator lives in the CLI
//! behind the cargo feature `mpi`; [`Threads`] runs ranks as threads of one process, so that
//! the distribution is tested without an MPI library.

use std::sync::{Arc, Barrier, Mutex};

/// A communicator: collective operations that every rank calls in the same order.
///
/// Every method is collective (all ranks call it with buffers of the same length, except the
/// gathers) and returns the same result on every rank.
pub trait Comm: Send + Sync {
    /// This process's rank, 0-based.
    fn rank(&self) -> usize;
    /// The number of ranks.
    fn size(&self) -> usize;
    /// Element-wise sum over ranks, in place; the same bits on every rank.
    fn sum(&self, buf: &mut [f64]);
    /// Element-wise maximum over ranks, in place.
    fn max(&self, buf: &mut [f64]);
    /// The concatenation, in rank order, of every rank's `local` (lengths may differ).
    fn all_gather(&self, local: &[f64]) -> Vec<f64>;
    /// Every rank's `bytes`, in rank order, on `root`; `None` on the other ranks.
    fn gather_bytes(&self, bytes: &[u8], root: usize) -> Option<Vec<Vec<u8>>>;
    /// `root`'s `bytes` on every rank.
    fn broadcast_bytes(&self, bytes: &mut Vec<u8>, root: usize);

    /// True on rank 0, the rank that writes outputs.
    fn is_root(&self) -> bool {
        self.rank() == 0
    }
    /// Rank after rank: rank 0 applies `f` to `buf`, rank 1 applies `f` to rank 0's result,
    /// and so on; every rank returns the last rank's result in `buf` (the same bits
    /// everywhere). `buf` on entry counts on rank 0 only. One rank: `f(buf)`. Exact sums over
    /// all ranks' sources in one global order are built on it ([`Comm::ordered_sum`],
    /// `crate::schur`). Default: one all-gather per rank (the MPI communicator overrides it
    /// with a pipeline of point-to-point messages and one broadcast).
    fn chain(&self, buf: &mut [f64], f: &mut dyn FnMut(&mut [f64])) {
        if self.size() == 1 {
            f(buf);
            return;
        }
        for t in 0..self.size() {
            if self.rank() == t {
                f(buf);
            }
            let mine: &[f64] = if self.rank() == t { buf } else { &[] };
            let all = self.all_gather(mine);
            buf.copy_from_slice(&all);
        }
    }
    /// The fold ((0 + p₀) + p₁) + … element by element over every rank's partial sums, rank
    /// after rank and, within a rank, in the order of `parts` (this rank's chunks' partials,
    /// each as long as `total`). With chunks fixed by the data and ranks cut at chunk
    /// boundaries, the result has the bits of the one-process sum over the same chunks
    /// ([`crate::chunks::OrderedSum`]), on every rank. Default: [`Comm::chain`] of the fold
    /// (the MPI communicator pipelines it in segments).
    fn ordered_fold(&self, parts: &[&[f64]], total: &mut [f64]) {
        total.iter_mut().for_each(|v| *v = 0.0);
        if total.is_empty() {
            return;
        }
        self.chain(total, &mut |t| crate::chunks::fold_into(t, parts));
    }
    /// [`Comm::ordered_fold`] of `parts`, this rank's partials (`len` values each)
    /// concatenated in chunk order.
    fn ordered_sum(&self, parts: &[f64], len: usize, total: &mut [f64]) {
        assert_eq!(total.len(), len, "ordered_sum length");
        let p: Vec<&[f64]> = if len == 0 {
            Vec::new()
        } else {
            parts.chunks_exact(len).collect()
        };
        self.ordered_fold(&p, total);
    }
    /// [`Comm::ordered_sum`] of one number per chunk.
    fn ordered_sum_scalar(&self, parts: &[f64]) -> f64 {
        let mut t = [0.0];
        self.ordered_sum(parts, 1, &mut t);
        t[0]
    }
    /// Sum of one number over ranks.
    fn sum_scalar(&self, v: f64) -> f64 {
        let mut b = [v];
        self.sum(&mut b);
        b[0]
    }
    /// Maximum of one number over ranks.
    fn max_scalar(&self, v: f64) -> f64 {
        let mut b = [v];
        self.max(&mut b);
        b[0]
    }
    /// Sum of a count over ranks (exact below 2⁵³).
    fn sum_count(&self, n: usize) -> usize {
        self.sum_scalar(n as f64) as usize
    }
    /// Logical OR over ranks.
    fn any(&self, b: bool) -> bool {
        self.max_scalar(if b { 1.0 } else { 0.0 }) > 0.0
    }
}

/// One process: every collective is the identity.
#[derive(Debug, Clone, Copy, Default)]
pub struct Single;

impl Comm for Single {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn sum(&self, _buf: &mut [f64]) {}
    fn max(&self, _buf: &mut [f64]) {}
    fn all_gather(&self, local: &[f64]) -> Vec<f64> {
        local.to_vec()
    }
    fn gather_bytes(&self, bytes: &[u8], _root: usize) -> Option<Vec<Vec<u8>>> {
        Some(vec![bytes.to_vec()])
    }
    fn broadcast_bytes(&self, _bytes: &mut Vec<u8>, _root: usize) {}
}

/// Ranks as threads of one process (for tests of the distribution without MPI).
///
/// [`Threads::new`]`(n)` returns one communicator per rank; give each to its own thread. Sums
/// are taken in rank order, as MPI's reductions with a fixed number of ranks are
/// deterministic.
pub struct Threads {
    rank: usize,
    shared: Arc<Shared>,
}

struct Shared {
    size: usize,
    barrier: Barrier,
    slots: Mutex<Vec<Vec<u8>>>,
}

impl Threads {
    /// One communicator per rank, for `size` ranks.
    pub fn new(size: usize) -> Vec<Threads> {
        let size = size.max(1);
        let shared = Arc::new(Shared {
            size,
            barrier: Barrier::new(size),
            slots: Mutex::new(vec![Vec::new(); size]),
        });
        (0..size)
            .map(|rank| Threads {
                rank,
                shared: shared.clone(),
            })
            .collect()
    }

    /// Every rank's `bytes`, in rank order, on every rank.
    fn exchange(&self, bytes: &[u8]) -> Vec<Vec<u8>> {
        {
            let mut s = self.shared.slots.lock().unwrap_or_else(|e| e.into_inner());
            s[self.rank] = bytes.to_vec();
        }
        self.shared.barrier.wait();
        let all = self
            .shared
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        // nobody overwrites a slot before everyone has read it
        self.shared.barrier.wait();
        all
    }

    fn exchange_f64(&self, v: &[f64]) -> Vec<Vec<f64>> {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.exchange(&bytes)
            .into_iter()
            .map(|b| {
                b.chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                    .collect()
            })
            .collect()
    }
}

impl Comm for Threads {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.shared.size
    }
    fn sum(&self, buf: &mut [f64]) {
        let all = self.exchange_f64(buf);
        for (k, b) in buf.iter_mut().enumerate() {
            *b = all.iter().map(|v| v[k]).fold(0.0, |a, x| a + x);
        }
    }
    fn max(&self, buf: &mut [f64]) {
        let all = self.exchange_f64(buf);
        for (k, b) in buf.iter_mut().enumerate() {
            *b = all.iter().map(|v| v[k]).fold(f64::NEG_INFINITY, f64::max);
        }
    }
    fn all_gather(&self, local: &[f64]) -> Vec<f64> {
        self.exchange_f64(local).concat()
    }
    fn gather_bytes(&self, bytes: &[u8], root: usize) -> Option<Vec<Vec<u8>>> {
        let all = self.exchange(bytes);
        (self.rank == root).then_some(all)
    }
    fn broadcast_bytes(&self, bytes: &mut Vec<u8>, root: usize) {
        let all = self.exchange(bytes);
        *bytes = all[root].clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One rank's results: sum, max, all_gather, count of gathered byte strings on the root.
    type RankResults = (Vec<f64>, Vec<f64>, Vec<f64>, Option<usize>);

    #[test]
    fn threads_reduce_in_rank_order() {
        let comms = Threads::new(3);
        let out: Vec<RankResults> = std::thread::scope(|s| {
            let hs: Vec<_> = comms
                .iter()
                .map(|c| {
                    s.spawn(move || {
                        let r = c.rank() as f64;
                        let mut a = vec![r, 1.0];
                        c.sum(&mut a);
                        let mut m = vec![r, -r];
                        c.max(&mut m);
                        let g = c.all_gather(&vec![r; c.rank() + 1]);
                        let gb = c.gather_bytes(&[c.rank() as u8], 0).map(|v| v.len());
                        (a, m, g, gb)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (rank, (a, m, g, gb)) in out.into_iter().enumerate() {
            assert_eq!(a, vec![3.0, 3.0]);
            assert_eq!(m, vec![2.0, 0.0]);
            assert_eq!(g, vec![0.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
            assert_eq!(gb, (rank == 0).then_some(3));
        }
    }

    #[test]
    fn ordered_sum_over_ranks_is_the_one_process_fold() {
        // partials of 7 "chunks" whose order matters in floating point
        let parts: Vec<Vec<f64>> = (0..7)
            .map(|c| {
                vec![
                    1e16 * (c as f64 - 3.0),
                    1.0 + c as f64 * 1e-17,
                    -0.0,
                    0.1 * c as f64,
                ]
            })
            .collect();
        let mut one = vec![0.0; 4];
        Single.ordered_sum(&parts.concat(), 4, &mut one);
        let mut fold = [0.0f64; 4];
        for p in &parts {
            for (x, y) in fold.iter_mut().zip(p) {
                *x += y;
            }
        }
        assert_eq!(
            one.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            fold.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        // every cut of the chunks over 1..=4 ranks, empty ranks included
        for cuts in [
            vec![0, 7],
            vec![0, 3, 7],
            vec![0, 0, 7],
            vec![0, 2, 5, 7],
            vec![0, 1, 1, 6, 7],
        ] {
            let n = cuts.len() - 1;
            let comms = Threads::new(n);
            let out: Vec<(Vec<f64>, f64)> = std::thread::scope(|s| {
                let hs: Vec<_> = comms
                    .iter()
                    .map(|c| {
                        let mine = parts[cuts[c.rank()]..cuts[c.rank() + 1]].concat();
                        s.spawn(move || {
                            let mut t = vec![9.0; 4];
                            c.ordered_sum(&mine, 4, &mut t);
                            let firsts: Vec<f64> = mine.chunks(4).map(|p| p[0]).collect();
                            (t, c.ordered_sum_scalar(&firsts))
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for (t, s0) in out {
                assert_eq!(
                    t.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    one.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "cuts {cuts:?}"
                );
                assert_eq!(s0.to_bits(), one[0].to_bits());
            }
        }
    }

    #[test]
    fn single_is_identity() {
        let c = Single;
        let mut a = vec![1.5, 2.5];
        c.sum(&mut a);
        assert_eq!(a, vec![1.5, 2.5]);
        assert_eq!(c.sum_count(7), 7);
        assert!(c.is_root());
    }
}
