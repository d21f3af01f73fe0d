//! Collective operations over the processes (ranks) that share one solution.
//!
//! Sources, with their observations, are partitioned over ranks in contiguous ranges; the
//! global unknowns (attitude, calibration, global parameters) are replicated on every rank.
//! Every sum over observations of a global quantity — the global blocks of the normal
//! equations, the global parts of N·p and Aᵀu, dot products, counts, frame sums — is first
//! accumulated locally in the fixed chunk order ([`crate::chunks`]) and then reduced across
//! ranks with [`Comm::sum`] in rank order; "accumulate local contributions, then reduce"
//! (seed paper, section 4; AVU-GSR's MPI_Allreduce of the global part of Aᵀu).
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
    fn single_is_identity() {
        let c = Single;
        let mut a = vec![1.5, 2.5];
        c.sum(&mut a);
        assert_eq!(a, vec![1.5, 2.5]);
        assert_eq!(c.sum_count(7), 7);
        assert!(c.is_root());
    }
}
