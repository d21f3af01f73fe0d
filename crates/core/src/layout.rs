//! The unknowns: x = [x₁ … x_n | g], NS per source, then the global unknowns g (attitude,
//! calibration, global parameters) partitioned into the diagonal blocks the preconditioner and
//! the simple iteration invert: dense blocks (per-exposure attitude, calibration groups) and
//! banded ones (a B-spline attitude: bandwidth fixed by the spline order).
//!
//! [`BlockDiagonal`] holds one such partition's matrices in one flat buffer, so that an
//! accumulator of a whole pass is one slice ([`crate::chunks::OrderedSum`]).

use crate::error::SolveError;
use astrosolve_model::linalg::{cholesky_factor, cholesky_solve_factored};

/// Storage of one diagonal block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// Full symmetric matrix (row-major, both triangles).
    Dense,
    /// Symmetric banded matrix of half-bandwidth `kd` (lower band storage, see
    /// `astrosolve_model::linalg::BandedSpd`).
    Banded { kd: usize },
}

/// One diagonal block of the global unknowns.
#[derive(Clone, Debug)]
pub struct Block {
    /// First global unknown (index into g).
    pub start: usize,
    pub len: usize,
    pub kind: BlockKind,
}

impl Block {
    fn storage(&self) -> usize {
        match self.kind {
            BlockKind::Dense => self.len * self.len,
            BlockKind::Banded { kd } => self.len * (kd + 1),
        }
    }
}

/// A named group of consecutive blocks (for messages and reports: "attitude knots",
/// "calibration group").
#[derive(Clone, Debug)]
pub struct BlockGroup {
    pub name: String,
    /// Blocks of the group: `blocks[first..first + count]`.
    pub first: usize,
    pub count: usize,
}

/// Partition of the global unknowns into diagonal blocks.
#[derive(Clone, Debug, Default)]
pub struct GlobalLayout {
    /// Number of global unknowns.
    pub n: usize,
    pub blocks: Vec<Block>,
    pub groups: Vec<BlockGroup>,
    /// Block of every global unknown.
    block_of: Vec<u32>,
    /// Offset of each block's storage in a [`BlockDiagonal`].
    storage_offset: Vec<usize>,
}

impl GlobalLayout {
    /// An empty layout; add groups with [`GlobalLayout::push_banded`] and
    /// [`GlobalLayout::push_dense`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one banded block of `len` unknowns.
    pub fn push_banded(&mut self, name: &str, len: usize, kd: usize) -> usize {
        let first = self.blocks.len();
        self.push_block(len, BlockKind::Banded { kd });
        self.groups.push(BlockGroup {
            name: name.into(),
            first,
            count: 1,
        });
        self.n - len
    }

    /// Appends `sizes.len()` dense blocks. Returns the first unknown of the group.
    pub fn push_dense(&mut self, name: &str, sizes: impl IntoIterator<Item = usize>) -> usize {
        let first = self.blocks.len();
        let start = self.n;
        for len in sizes {
            self.push_block(len, BlockKind::Dense);
        }
        self.groups.push(BlockGroup {
            name: name.into(),
            first,
            count: self.blocks.len() - first,
        });
        start
    }

    fn push_block(&mut self, len: usize, kind: BlockKind) {
        let b = Block {
            start: self.n,
            len,
            kind,
        };
        let off = self.storage_offset.last().copied().unwrap_or(0)
            + self.blocks.last().map(|b| b.storage()).unwrap_or(0);
        self.storage_offset.push(off);
        let k = self.blocks.len() as u32;
        self.block_of.extend(std::iter::repeat_n(k, len));
        self.n += len;
        self.blocks.push(b);
    }

    /// Block holding global unknown j.
    #[inline]
    pub fn block_of(&self, j: usize) -> usize {
        self.block_of[j] as usize
    }

    /// Values held by a [`BlockDiagonal`] of this layout.
    pub fn storage_len(&self) -> usize {
        self.storage_offset.last().copied().unwrap_or(0)
            + self.blocks.last().map(|b| b.storage()).unwrap_or(0)
    }

    /// "attitude knots, block 3 (unknowns 48..64)" for messages.
    pub fn describe(&self, block: usize) -> String {
        let b = &self.blocks[block];
        let g = self
            .groups
            .iter()
            .find(|g| block >= g.first && block < g.first + g.count);
        match g {
            Some(g) if g.count > 1 => format!(
                "{} {} of {} (global unknowns {}..{})",
                g.name,
                block - g.first,
                g.count,
                b.start,
                b.start + b.len
            ),
            Some(g) => format!(
                "{} (global unknowns {}..{})",
                g.name,
                b.start,
                b.start + b.len
            ),
            None => format!("block {block}"),
        }
    }
}

/// The block-diagonal part of the global normal matrix, one flat buffer in the layout's order.
#[derive(Clone, Debug)]
pub struct BlockDiagonal {
    pub values: Vec<f64>,
    factored: bool,
}

impl BlockDiagonal {
    pub fn zeros(layout: &GlobalLayout) -> Self {
        BlockDiagonal {
            values: vec![0.0; layout.storage_len()],
            factored: false,
        }
    }

    /// Adds s · c cᵀ for the coefficients c of unknowns start..start + c.len(), which must lie in
    /// one block (`values` may be a pass accumulator slice of the same layout).
    #[inline]
    pub fn add_outer(
        layout: &GlobalLayout,
        values: &mut [f64],
        start: usize,
        c: &[f64],
        s: f64,
    ) -> Result<(), SolveError> {
        if c.is_empty() {
            return Ok(());
        }
        let k = layout.block_of(start);
        let b = &layout.blocks[k];
        let end = start + c.len();
        if end > b.start + b.len {
            return Err(SolveError::SegmentAcrossBlocks { start, end });
        }
        let off = layout.storage_offset[k];
        let i0 = start - b.start;
        match b.kind {
            BlockKind::Dense => {
                let n = b.len;
                for (r, &cr) in c.iter().enumerate() {
                    let row =
                        &mut values[off + (i0 + r) * n + i0..off + (i0 + r) * n + i0 + c.len()];
                    let f = s * cr;
                    for (v, &cc) in row.iter_mut().zip(c) {
                        *v += f * cc;
                    }
                }
            }
            BlockKind::Banded { kd } => {
                let w = kd + 1;
                if c.len() > w {
                    return Err(SolveError::SegmentAcrossBlocks { start, end });
                }
                for (r, &cr) in c.iter().enumerate() {
                    let i = i0 + r;
                    let f = s * cr;
                    for (q, &cq) in c[..=r].iter().enumerate() {
                        values[off + i * w + (r - q)] += f * cq;
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds v to the element (i, j) of the block holding both global unknowns (banded blocks
    /// hold the lower triangle: call it once per unordered pair there, i ≥ j).
    pub fn add_at(
        layout: &GlobalLayout,
        values: &mut [f64],
        i: usize,
        j: usize,
        v: f64,
    ) -> Result<(), SolveError> {
        let k = layout.block_of(i);
        let b = &layout.blocks[k];
        if layout.block_of(j) != k {
            return Err(SolveError::SegmentAcrossBlocks {
                start: i.min(j),
                end: i.max(j) + 1,
            });
        }
        let off = layout.storage_offset[k];
        let (ri, rj) = (i - b.start, j - b.start);
        match b.kind {
            BlockKind::Dense => values[off + ri * b.len + rj] += v,
            BlockKind::Banded { kd } => {
                let (hi, lo) = if ri >= rj { (ri, rj) } else { (rj, ri) };
                if hi - lo > kd {
                    return Err(SolveError::SegmentAcrossBlocks {
                        start: i.min(j),
                        end: i.max(j) + 1,
                    });
                }
                values[off + hi * (kd + 1) + (hi - lo)] += v;
            }
        }
        Ok(())
    }

    /// Adds s to the diagonal of every block.
    pub fn add_diagonal(&mut self, layout: &GlobalLayout, s: f64) {
        for (k, b) in layout.blocks.iter().enumerate() {
            let off = layout.storage_offset[k];
            for i in 0..b.len {
                let p = match b.kind {
                    BlockKind::Dense => off + i * b.len + i,
                    BlockKind::Banded { kd } => off + i * (kd + 1),
                };
                self.values[p] += s;
            }
        }
    }

    /// Diagonal element of global unknown j.
    pub fn diagonal(&self, layout: &GlobalLayout, j: usize) -> f64 {
        let k = layout.block_of(j);
        let b = &layout.blocks[k];
        let i = j - b.start;
        let off = layout.storage_offset[k];
        match b.kind {
            BlockKind::Dense => self.values[off + i * b.len + i],
            BlockKind::Banded { kd } => self.values[off + i * (kd + 1)],
        }
    }

    /// Cholesky factorisation of every block in place; names the first singular block.
    pub fn factor(&mut self, layout: &GlobalLayout) -> Result<(), SolveError> {
        use rayon::prelude::*;
        let mut parts: Vec<&mut [f64]> = Vec::with_capacity(layout.blocks.len());
        let mut rest: &mut [f64] = &mut self.values;
        for b in &layout.blocks {
            let (a, r) = std::mem::take(&mut rest).split_at_mut(b.storage());
            parts.push(a);
            rest = r;
        }
        let res: Vec<Result<(), usize>> = parts
            .into_par_iter()
            .zip(layout.blocks.par_iter())
            .map(|(m, b)| match b.kind {
                BlockKind::Dense => cholesky_factor(m, b.len).map_err(|e| e.0),
                BlockKind::Banded { kd } => banded_factor(m, b.len, kd),
            })
            .collect();
        for (k, r) in res.into_iter().enumerate() {
            if let Err(pivot) = r {
                return Err(SolveError::SingularBlock {
                    what: layout.describe(k),
                    pivot,
                });
            }
        }
        self.factored = true;
        Ok(())
    }

    /// z ← K⁻¹ z block by block (after [`BlockDiagonal::factor`]).
    pub fn solve_in_place(&self, layout: &GlobalLayout, z: &mut [f64]) {
        use rayon::prelude::*;
        assert!(self.factored, "block diagonal not factored");
        block_parts(layout, z)
            .into_par_iter()
            .zip(
                layout
                    .blocks
                    .par_iter()
                    .zip(layout.storage_offset.par_iter()),
            )
            .with_min_len(1)
            .for_each(|(zb, (b, &off))| {
                let m = &self.values[off..off + b.storage()];
                match b.kind {
                    BlockKind::Dense => cholesky_solve_factored(m, zb, b.len),
                    BlockKind::Banded { kd } => banded_solve(m, b.len, kd, zb),
                }
            });
    }
}

/// `z` split into the slices of the layout's diagonal blocks, in order.
fn block_parts<'z>(layout: &GlobalLayout, z: &'z mut [f64]) -> Vec<&'z mut [f64]> {
    let mut parts = Vec::with_capacity(layout.blocks.len());
    let mut rest = z;
    for b in &layout.blocks {
        let (a, r) = std::mem::take(&mut rest).split_at_mut(b.len);
        parts.push(a);
        rest = r;
    }
    parts
}

impl BlockDiagonal {
    /// z ← L⁻¹ z (forward substitution with every block's factor).
    pub fn solve_lower_in_place(&self, layout: &GlobalLayout, z: &mut [f64]) {
        self.triangular(layout, z, true)
    }

    /// z ← L⁻ᵀ z (backward substitution with every block's factor).
    pub fn solve_upper_in_place(&self, layout: &GlobalLayout, z: &mut [f64]) {
        self.triangular(layout, z, false)
    }

    fn triangular(&self, layout: &GlobalLayout, z: &mut [f64], lower: bool) {
        use rayon::prelude::*;
        assert!(self.factored, "block diagonal not factored");
        block_parts(layout, z)
            .into_par_iter()
            .zip(
                layout
                    .blocks
                    .par_iter()
                    .zip(layout.storage_offset.par_iter()),
            )
            .with_min_len(1)
            .for_each(|(zb, (b, &off))| {
                let m = &self.values[off..off + b.storage()];
                let n = b.len;
                let (w, dense) = match b.kind {
                    BlockKind::Dense => (n, true),
                    BlockKind::Banded { kd } => (kd + 1, false),
                };
                // element L[i][k] (k ≤ i)
                let l = |i: usize, k: usize| {
                    if dense {
                        m[i * n + k]
                    } else {
                        m[i * w + (i - k)]
                    }
                };
                let lo = |i: usize| if dense { 0 } else { i.saturating_sub(w - 1) };
                if lower {
                    for i in 0..n {
                        let mut s = zb[i];
                        for k in lo(i)..i {
                            s -= l(i, k) * zb[k];
                        }
                        zb[i] = s / l(i, i);
                    }
                } else {
                    for i in (0..n).rev() {
                        let mut s = zb[i];
                        let hi = if dense { n } else { (i + w).min(n) };
                        for k in i + 1..hi {
                            s -= l(k, i) * zb[k];
                        }
                        zb[i] = s / l(i, i);
                    }
                }
            });
    }
}

/// Banded Cholesky in place (lower band storage; LAPACK dpbtrf, unblocked). Err: pivot.
fn banded_factor(a: &mut [f64], n: usize, kd: usize) -> Result<(), usize> {
    let w = kd + 1;
    for j in 0..n {
        let mut d = a[j * w];
        for k in 1..=kd.min(j) {
            let l = a[j * w + k];
            d -= l * l;
        }
        if d.is_nan() || d <= 0.0 {
            return Err(j);
        }
        let d = d.sqrt();
        a[j * w] = d;
        for i in j + 1..(j + w).min(n) {
            let mut s = a[i * w + (i - j)];
            for k in i.saturating_sub(kd)..j {
                s -= a[i * w + (i - k)] * a[j * w + (j - k)];
            }
            a[i * w + (i - j)] = s / d;
        }
    }
    Ok(())
}

/// Solves with a banded factor, overwriting b.
fn banded_solve(l: &[f64], n: usize, kd: usize, b: &mut [f64]) {
    let w = kd + 1;
    for i in 0..n {
        let mut s = b[i];
        for k in i.saturating_sub(kd)..i {
            s -= l[i * w + (i - k)] * b[k];
        }
        b[i] = s / l[i * w];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..(i + w).min(n) {
            s -= l[k * w + (k - i)] * b[k];
        }
        b[i] = s / l[i * w];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banded_and_dense_blocks_solve_like_dense_matrices() {
        let mut lay = GlobalLayout::new();
        lay.push_banded("attitude", 40, 7);
        lay.push_dense("calibration", [3, 5]);
        assert_eq!(lay.n, 48);
        let mut bd = BlockDiagonal::zeros(&lay);
        let mut dense = vec![0.0; 48 * 48];
        // random-ish rank-one updates inside blocks
        let mut seed = 1u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f64 / (1u64 << 31) as f64) - 0.5
        };
        for _ in 0..400 {
            let (start, len) = match (rnd() * 6.0).abs() as usize % 3 {
                0 => ((rnd().abs() * 32.0) as usize, 8),
                1 => (40, 3),
                _ => (43, 5),
            };
            let c: Vec<f64> = (0..len).map(|_| rnd()).collect();
            BlockDiagonal::add_outer(&lay, &mut bd.values, start, &c, 1.0).unwrap();
            for r in 0..len {
                for q in 0..len {
                    dense[(start + r) * 48 + start + q] += c[r] * c[q];
                }
            }
        }
        bd.add_diagonal(&lay, 0.1);
        for i in 0..48 {
            dense[i * 48 + i] += 0.1;
        }
        let b: Vec<f64> = (0..48).map(|i| (i as f64).sin()).collect();
        let mut z = b.clone();
        bd.factor(&lay).unwrap();
        bd.solve_in_place(&lay, &mut z);
        // check the block equations: (dense restricted to blocks) z = b
        for (k, blk) in lay.blocks.iter().enumerate() {
            for i in blk.start..blk.start + blk.len {
                let s: f64 = (blk.start..blk.start + blk.len)
                    .map(|j| dense[i * 48 + j] * z[j])
                    .sum();
                assert!(
                    (s - b[i]).abs() < 1e-9,
                    "block {k} row {i}: {s} vs {}",
                    b[i]
                );
            }
        }
        // a segment across blocks is refused
        assert!(BlockDiagonal::add_outer(&lay, &mut bd.values, 38, &[1.0; 4], 1.0).is_err());
    }
}
