//! The unknowns: x = [x₁ … x_n | g], NS per source, then the global unknowns g (attitude,
//! calibration, global parameters) partitioned into the diagonal blocks the preconditioner and
//! the simple iteration invert: dense blocks (per-exposure attitude), banded ones (a B-spline
//! attitude: bandwidth fixed by the spline order) and units blocks (calibration groups).
//!
//! A units block holds N = D + C W Cᵀ: D = blockdiag(D_u) over consecutive units of `unit`
//! unknowns (every design row touches one unit; the damping is on D's diagonal), C the r
//! low-rank rows c_k with weights w_k (the calibration-convention pseudo-observations, r ≤
//! `max_rank`). Its Cholesky factor N = L Lᵀ is kept in product form (Gill, Golub, Murray &
//! Saunders 1974, Math. Comp. 28, 505, method C1, one rank-one update per row):
//!
//!   L = L_D L_1 ⋯ L_r,  L_k = chol(I + w_k p_k p_kᵀ) = diag(β_k) + strict_lower(p_k γ_kᵀ),
//!   p_k = (L_D L_1 ⋯ L_{k−1})⁻¹ c_k,  a_1 = w_k, β_j² = 1 + a_j p_j², γ_j = a_j p_j / β_j,
//!   a_{j+1} = a_j / β_j²,
//!
//! so that a solve costs the unit blocks' plus 2r passes of length len, the storage is
//! len·unit + 3·len·max_rank values instead of len², and L_jj = (L_D)_jj Π_k β_k,j is the
//! same diagonal a dense Cholesky of N gives.
//!
//! Banded blocks (a B-spline attitude): K is N_gg's band cut into segments of
//! [`BAND_SEGMENT`] unknowns, K = blockdiag(K_1 … K_m), each K_j the band of its own unknowns
//! with the couplings to the previous segment left out. A band solve is sequential; the
//! segments factor and solve side by side. K stays symmetric positive definite, so CG and LSQR
//! converge to the same solution, and it drops only kd(kd + 1)/2 band elements at each of the
//! m − 1 boundaries, of the band's len·(kd + 1): the iterations hardly change. The segments
//! depend on the block's length alone, so the bits do not depend on the threads.
//!
//! [`BlockDiagonal`] holds one such partition's matrices in one flat buffer, so that an
//! accumulator of a whole pass is one slice ([`crate::chunks::OrderedSum`]): first the
//! accumulated part ([`GlobalLayout::storage_len`]: dense and banded blocks, the unit blocks
//! D_u), then, filled by [`BlockDiagonal::factor`], the units blocks' low-rank factors
//! ([`GlobalLayout::low_rank_len`]: p_k, γ_k, 1/β_k).

use crate::error::SolveError;
use astrosolve_model::linalg::{cholesky_factor, cholesky_solve_factored};

/// Unknowns per segment of a banded block: the preconditioner factors and solves each segment
/// on its own (module doc, "Banded blocks").
pub const BAND_SEGMENT: usize = 8192;

/// Storage of one diagonal block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// Full symmetric matrix (row-major, both triangles).
    Dense,
    /// Symmetric banded matrix of half-bandwidth `kd` (lower band storage, see
    /// `astrosolve_model::linalg::BandedSpd`).
    Banded { kd: usize },
    /// N = D + C W Cᵀ (module doc): unit blocks of `unit` unknowns (row-major, both
    /// triangles, one after the other) and at most `max_rank` low-rank rows
    /// ([`BlockDiagonal::add_low_rank`]).
    Units { unit: usize, max_rank: usize },
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
            BlockKind::Units { unit, .. } => self.len * unit,
        }
    }

    /// Values of the low-rank factors (p_k, γ_k, 1/β_k for max_rank rows).
    fn low_rank_storage(&self) -> usize {
        match self.kind {
            BlockKind::Units { max_rank, .. } => 3 * self.len * max_rank,
            _ => 0,
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
    /// Offset of each block's low-rank factors after the accumulated part.
    low_rank_offset: Vec<usize>,
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

    /// Appends `sizes.len()` units blocks (module doc): each of consecutive units of `unit`
    /// unknowns, coupled only by at most `max_rank` low-rank rows. A size that is not a
    /// multiple of `unit` (or `unit` = 0) gets a dense block instead. Returns the first
    /// unknown of the group.
    pub fn push_units(
        &mut self,
        name: &str,
        sizes: impl IntoIterator<Item = usize>,
        unit: usize,
        max_rank: usize,
    ) -> usize {
        let first = self.blocks.len();
        let start = self.n;
        for len in sizes {
            let kind = if unit > 0 && len % unit == 0 {
                BlockKind::Units { unit, max_rank }
            } else {
                BlockKind::Dense
            };
            self.push_block(len, kind);
        }
        self.groups.push(BlockGroup {
            name: name.into(),
            first,
            count: self.blocks.len() - first,
        });
        start
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
        let lr = self.low_rank_len();
        self.low_rank_offset.push(lr);
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

    /// Values a pass accumulates into a [`BlockDiagonal`] of this layout (the dense and
    /// banded blocks, the unit blocks of the units blocks).
    pub fn storage_len(&self) -> usize {
        self.storage_offset.last().copied().unwrap_or(0)
            + self.blocks.last().map(|b| b.storage()).unwrap_or(0)
    }

    /// Values of the units blocks' low-rank factors, held after [`GlobalLayout::storage_len`]
    /// once factored.
    pub fn low_rank_len(&self) -> usize {
        self.low_rank_offset.last().copied().unwrap_or(0)
            + self
                .blocks
                .last()
                .map(|b| b.low_rank_storage())
                .unwrap_or(0)
    }

    /// Values a factored [`BlockDiagonal`] of this layout holds (f64).
    pub fn factored_len(&self) -> usize {
        self.storage_len() + self.low_rank_len()
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
    /// [accumulated part ([`GlobalLayout::storage_len`]) | low-rank factors (after factor)].
    pub values: Vec<f64>,
    /// Low-rank rows of the units blocks, in the order given.
    low_rank_rows: Vec<LowRankRow>,
    /// Low-rank rows of each block.
    rank: Vec<usize>,
    factored: bool,
}

/// One row √w c ᵀ Δg ≈ ρ of a units block: its coefficients (block-relative unknown,
/// coefficient) and weight w.
#[derive(Clone, Debug)]
struct LowRankRow {
    block: usize,
    entries: Vec<(usize, f64)>,
    weight: f64,
}

impl BlockDiagonal {
    pub fn zeros(layout: &GlobalLayout) -> Self {
        let mut values = Vec::with_capacity(layout.factored_len());
        values.resize(layout.storage_len(), 0.0);
        BlockDiagonal {
            values,
            low_rank_rows: Vec::new(),
            rank: vec![0; layout.blocks.len()],
            factored: false,
        }
    }

    /// Adds s · c cᵀ for the coefficients c of unknowns start..start + c.len(), which must lie in
    /// one block (in one unit of a units block; `values` may be a pass accumulator slice of the
    /// same layout).
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
                add_outer_dense(&mut values[off..off + b.len * b.len], b.len, i0, c, s)
            }
            BlockKind::Units { unit, .. } => {
                let u = i0 / unit;
                if (i0 + c.len() - 1) / unit != u {
                    return Err(SolveError::SegmentAcrossBlocks { start, end });
                }
                let m = off + u * unit * unit;
                add_outer_dense(&mut values[m..m + unit * unit], unit, i0 - u * unit, c, s)
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
    /// hold the lower triangle: call it once per unordered pair there, i ≥ j; in a units block
    /// both must lie in one unit, the coupling of units is [`BlockDiagonal::add_low_rank`]'s).
    pub fn add_at(
        layout: &GlobalLayout,
        values: &mut [f64],
        i: usize,
        j: usize,
        v: f64,
    ) -> Result<(), SolveError> {
        let k = layout.block_of(i);
        let b = &layout.blocks[k];
        let across = SolveError::SegmentAcrossBlocks {
            start: i.min(j),
            end: i.max(j) + 1,
        };
        if layout.block_of(j) != k {
            return Err(across);
        }
        let off = layout.storage_offset[k];
        let (ri, rj) = (i - b.start, j - b.start);
        match b.kind {
            BlockKind::Dense => values[off + ri * b.len + rj] += v,
            BlockKind::Units { unit, .. } => {
                let u = ri / unit;
                if rj / unit != u {
                    return Err(across);
                }
                values[off + u * unit * unit + (ri - u * unit) * unit + (rj - u * unit)] += v;
            }
            BlockKind::Banded { kd } => {
                let (hi, lo) = if ri >= rj { (ri, rj) } else { (rj, ri) };
                if hi - lo > kd {
                    return Err(across);
                }
                values[off + hi * (kd + 1) + (hi - lo)] += v;
            }
        }
        Ok(())
    }

    /// Registers the low-rank row w c cᵀ of a units block (before [`BlockDiagonal::factor`]).
    ///
    /// Given: `entries` (global unknown, coefficient) all in one units block (repeated
    /// unknowns add), `weight` w ≥ 0 (0: nothing is added).
    /// Errors: entries in several blocks or not in a units block, a weight that is negative or
    /// not finite, more rows than the block's `max_rank`, a factored diagonal.
    pub fn add_low_rank(
        &mut self,
        layout: &GlobalLayout,
        entries: &[(usize, f64)],
        weight: f64,
    ) -> Result<(), SolveError> {
        let Some(&(first, _)) = entries.first() else {
            return Ok(());
        };
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(SolveError::Config(format!(
                "low-rank row at global unknown {first}: weight {weight} is not a finite value ≥ 0"
            )));
        }
        if weight == 0.0 {
            return Ok(());
        }
        if self.factored {
            return Err(SolveError::Config(
                "low-rank row added to a factored block diagonal".into(),
            ));
        }
        let k = layout.block_of(first);
        if let Some(&(j, _)) = entries.iter().find(|(j, _)| layout.block_of(*j) != k) {
            return Err(SolveError::SegmentAcrossBlocks {
                start: first.min(j),
                end: first.max(j) + 1,
            });
        }
        let b = &layout.blocks[k];
        let BlockKind::Units { max_rank, .. } = b.kind else {
            return Err(SolveError::Config(format!(
                "a low-rank row in {}, which is not a units block",
                layout.describe(k)
            )));
        };
        if self.rank[k] >= max_rank {
            return Err(SolveError::Config(format!(
                "more than {max_rank} low-rank rows in {}",
                layout.describe(k)
            )));
        }
        self.rank[k] += 1;
        self.low_rank_rows.push(LowRankRow {
            block: k,
            entries: entries.iter().map(|&(j, v)| (j - b.start, v)).collect(),
            weight,
        });
        Ok(())
    }

    /// Adds s to the diagonal of every block.
    pub fn add_diagonal(&mut self, layout: &GlobalLayout, s: f64) {
        for (k, b) in layout.blocks.iter().enumerate() {
            let off = layout.storage_offset[k];
            for i in 0..b.len {
                self.values[off + diagonal_index(b, i)] += s;
            }
        }
    }

    /// Diagonal element of global unknown j: before [`BlockDiagonal::factor`] N_jj (a units
    /// block's without its low-rank rows), after it L_jj of the block's Cholesky factor
    /// N = L Lᵀ (a units block's: (L_D)_jj Π_k β_k,j, low-rank rows included).
    pub fn diagonal(&self, layout: &GlobalLayout, j: usize) -> f64 {
        let k = layout.block_of(j);
        let b = &layout.blocks[k];
        let i = j - b.start;
        let d = self.values[layout.storage_offset[k] + diagonal_index(b, i)];
        if !self.factored || self.rank[k] == 0 {
            return d;
        }
        let lr = self.low_rank(layout, k);
        let n = b.len;
        let max_rank = lr.len() / (3 * n);
        (0..self.rank[k]).fold(d, |l, r| l / lr[(2 * max_rank + r) * n + i])
    }

    /// Block k's low-rank factors: [p_0 … p_{R−1} | γ_0 … | 1/β_0 …], len each, R = max_rank.
    fn low_rank(&self, layout: &GlobalLayout, k: usize) -> &[f64] {
        let off = layout.storage_len() + layout.low_rank_offset[k];
        &self.values[off..off + layout.blocks[k].low_rank_storage()]
    }

    /// Cholesky factorisation of every block in place (a units block's in the product form of
    /// the module doc, its low-rank factors appended to `values`); names the first singular
    /// block.
    pub fn factor(&mut self, layout: &GlobalLayout) -> Result<(), SolveError> {
        use rayon::prelude::*;
        if self.factored {
            return Err(SolveError::Config("block diagonal factored twice".into()));
        }
        let n_acc = layout.storage_len();
        self.values.resize(layout.factored_len(), 0.0);
        let mut rows_of: Vec<Vec<&LowRankRow>> = vec![Vec::new(); layout.blocks.len()];
        for r in &self.low_rank_rows {
            rows_of[r.block].push(r);
        }
        let (acc, low) = self.values.split_at_mut(n_acc);
        let mut parts: Vec<(&mut [f64], &mut [f64])> = Vec::with_capacity(layout.blocks.len());
        let (mut rest, mut rest_lr) = (acc, low);
        for b in &layout.blocks {
            let (a, r) = std::mem::take(&mut rest).split_at_mut(b.storage());
            let (l, rl) = std::mem::take(&mut rest_lr).split_at_mut(b.low_rank_storage());
            parts.push((a, l));
            rest = r;
            rest_lr = rl;
        }
        let res: Vec<Result<(), usize>> = parts
            .into_par_iter()
            .zip(layout.blocks.par_iter().zip(rows_of.par_iter()))
            .map(|((m, lr), (b, rows))| match b.kind {
                BlockKind::Dense => cholesky_factor(m, b.len).map_err(|e| e.0),
                BlockKind::Banded { kd } => banded_factor_segments(m, b.len, kd),
                BlockKind::Units { unit, max_rank } => {
                    units_factor(m, lr, b.len, unit, max_rank, rows)
                }
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
        self.per_block(layout, z, Solve::Full)
    }

    /// z ← L⁻¹ z (forward substitution with every block's factor).
    pub fn solve_lower_in_place(&self, layout: &GlobalLayout, z: &mut [f64]) {
        self.per_block(layout, z, Solve::Lower)
    }

    /// z ← L⁻ᵀ z (backward substitution with every block's factor).
    pub fn solve_upper_in_place(&self, layout: &GlobalLayout, z: &mut [f64]) {
        self.per_block(layout, z, Solve::Upper)
    }

    fn per_block(&self, layout: &GlobalLayout, z: &mut [f64], what: Solve) {
        use rayon::prelude::*;
        assert!(self.factored, "block diagonal not factored");
        block_parts(layout, z)
            .into_par_iter()
            .enumerate()
            .with_min_len(1)
            .for_each(|(k, zb)| {
                let b = &layout.blocks[k];
                let off = layout.storage_offset[k];
                let m = &self.values[off..off + b.storage()];
                let n = b.len;
                match (b.kind, what) {
                    (BlockKind::Dense, Solve::Full) => cholesky_solve_factored(m, zb, n),
                    (BlockKind::Banded { kd }, _) => {
                        // the segments side by side (module doc, "Banded blocks")
                        let w = kd + 1;
                        zb.par_chunks_mut(BAND_SEGMENT)
                            .zip(m.par_chunks(BAND_SEGMENT * w))
                            .for_each(|(z, l)| match what {
                                Solve::Full => {
                                    band_forward(l, w, z);
                                    band_backward(l, w, z)
                                }
                                Solve::Lower => band_forward(l, w, z),
                                Solve::Upper => band_backward(l, w, z),
                            })
                    }
                    (BlockKind::Dense, _) => triangular(m, n, what == Solve::Lower, zb),
                    (BlockKind::Units { unit, max_rank }, _) => {
                        let lr = self.low_rank(layout, k);
                        let r = self.rank[k];
                        let factor = |q: usize| {
                            let at =
                                |s: usize| &lr[(s * max_rank + q) * n..(s * max_rank + q + 1) * n];
                            (at(0), at(1), at(2))
                        };
                        if what != Solve::Upper {
                            for u in zb.chunks_exact_mut(unit).zip(m.chunks_exact(unit * unit)) {
                                triangular(u.1, unit, true, u.0);
                            }
                            for q in 0..r {
                                let (p, g, ib) = factor(q);
                                product_lower(p, g, ib, zb);
                            }
                        }
                        if what != Solve::Lower {
                            for q in (0..r).rev() {
                                let (p, g, ib) = factor(q);
                                product_upper(p, g, ib, zb);
                            }
                            for u in zb.chunks_exact_mut(unit).zip(m.chunks_exact(unit * unit)) {
                                triangular(u.1, unit, false, u.0);
                            }
                        }
                    }
                }
            });
    }
}

/// Which solve with a factor L: K⁻¹ = L⁻ᵀL⁻¹, L⁻¹ or L⁻ᵀ.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Solve {
    Full,
    Lower,
    Upper,
}

/// m += s c cᵀ at rows and columns i0..i0 + c.len() of the n × n row-major matrix m.
#[inline]
fn add_outer_dense(m: &mut [f64], n: usize, i0: usize, c: &[f64], s: f64) {
    for (r, &cr) in c.iter().enumerate() {
        let row = &mut m[(i0 + r) * n + i0..(i0 + r) * n + i0 + c.len()];
        let f = s * cr;
        for (v, &cc) in row.iter_mut().zip(c) {
            *v += f * cc;
        }
    }
}

/// Index of the diagonal element i in a block's storage.
fn diagonal_index(b: &Block, i: usize) -> usize {
    match b.kind {
        BlockKind::Dense => i * b.len + i,
        BlockKind::Banded { kd } => i * (kd + 1),
        BlockKind::Units { unit, .. } => (i / unit) * unit * unit + (i % unit) * (unit + 1),
    }
}

/// z ← L⁻¹ z (`lower`) or L⁻ᵀ z with the n × n factor L held dense (row-major).
fn triangular(m: &[f64], n: usize, lower: bool, zb: &mut [f64]) {
    if lower {
        for i in 0..n {
            let mut s = zb[i];
            for k in 0..i {
                s -= m[i * n + k] * zb[k];
            }
            zb[i] = s / m[i * n + i];
        }
    } else {
        for i in (0..n).rev() {
            let mut s = zb[i];
            for k in i + 1..n {
                s -= m[k * n + i] * zb[k];
            }
            zb[i] = s / m[i * n + i];
        }
    }
}

/// z ← L_k⁻¹ z, L_k = diag(β) + strict_lower(p γᵀ) (module doc; `ib` = 1/β).
#[inline]
fn product_lower(p: &[f64], g: &[f64], ib: &[f64], z: &mut [f64]) {
    let mut s = 0.0;
    for (((zi, &pi), &gi), &bi) in z.iter_mut().zip(p).zip(g).zip(ib) {
        let y = (*zi - pi * s) * bi;
        *zi = y;
        s += gi * y;
    }
}

/// z ← L_k⁻ᵀ z (module doc; `ib` = 1/β).
#[inline]
fn product_upper(p: &[f64], g: &[f64], ib: &[f64], z: &mut [f64]) {
    let mut s = 0.0;
    for (((zi, &pi), &gi), &bi) in z.iter_mut().zip(p).zip(g).zip(ib).rev() {
        let y = (*zi - gi * s) * bi;
        *zi = y;
        s += pi * y;
    }
}

/// Factors a units block of `n` unknowns in place: its unit blocks `m` (Cholesky each) and,
/// into `lr` ([p_0 … | γ_0 … | 1/β_0 …], `max_rank` vectors of n each), the product-form
/// factors of its low-rank `rows` (module doc). Err: the pivot (block-relative).
fn units_factor(
    m: &mut [f64],
    lr: &mut [f64],
    n: usize,
    unit: usize,
    max_rank: usize,
    rows: &[&LowRankRow],
) -> Result<(), usize> {
    for (u, mu) in m.chunks_exact_mut(unit * unit).enumerate() {
        cholesky_factor(mu, unit).map_err(|e| u * unit + e.0)?;
    }
    let (ps, rest) = lr.split_at_mut(n * max_rank);
    let (gs, ibs) = rest.split_at_mut(n * max_rank);
    for (q, row) in rows.iter().enumerate() {
        let (done, cur) = ps.split_at_mut(q * n);
        let p = &mut cur[..n];
        p.iter_mut().for_each(|v| *v = 0.0);
        for &(j, v) in &row.entries {
            p[j] += v;
        }
        // p = (L_D L_0 ⋯ L_{q−1})⁻¹ c
        for (pu, mu) in p.chunks_exact_mut(unit).zip(m.chunks_exact(unit * unit)) {
            triangular(mu, unit, true, pu);
        }
        for s in 0..q {
            product_lower(
                &done[s * n..(s + 1) * n],
                &gs[s * n..(s + 1) * n],
                &ibs[s * n..(s + 1) * n],
                p,
            );
        }
        let g = &mut gs[q * n..(q + 1) * n];
        let ib = &mut ibs[q * n..(q + 1) * n];
        let mut a = row.weight;
        for i in 0..n {
            let b2 = 1.0 + a * p[i] * p[i];
            if !b2.is_finite() {
                return Err(i);
            }
            let b = b2.sqrt();
            ib[i] = 1.0 / b;
            g[i] = a * p[i] / b;
            a /= b2;
        }
    }
    Ok(())
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

/// [`banded_factor`] of every [`BAND_SEGMENT`] rows of a banded block on their own (the
/// couplings between segments left out), in parallel. Err: the block's pivot.
fn banded_factor_segments(a: &mut [f64], n: usize, kd: usize) -> Result<(), usize> {
    use rayon::prelude::*;
    let w = kd + 1;
    a[..n * w]
        .par_chunks_mut(BAND_SEGMENT * w)
        .enumerate()
        .map(|(s, seg)| banded_factor(seg, seg.len() / w, kd).map_err(|j| s * BAND_SEGMENT + j))
        .collect::<Vec<_>>()
        .into_iter()
        .collect()
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

/// b ← L⁻¹ b, L in lower band storage of width w: y_i = (b_i − Σ_{d≥1} L_{i,i−d} y_{i−d}) / L_ii,
/// the terms d ≥ 2 in four interleaved sums (independent of y_{i−1}: only d = 1 and the
/// division wait for the previous row).
fn band_forward(l: &[f64], w: usize, b: &mut [f64]) {
    for i in 0..b.len() {
        let row = &l[i * w..i * w + w];
        let m = w.min(i + 1);
        let s = four_sums(m, |d| row[d] * b[i - d]);
        let mut s = b[i] - s;
        if m > 1 {
            s -= row[1] * b[i - 1];
        }
        b[i] = s / row[0];
    }
}

/// b ← L⁻ᵀ b, L in lower band storage of width w: x_i = (b_i − Σ_{d≥1} L_{i+d,i} x_{i+d}) / L_ii,
/// summed as [`band_forward`].
fn band_backward(l: &[f64], w: usize, b: &mut [f64]) {
    let n = b.len();
    for i in (0..n).rev() {
        let m = w.min(n - i);
        let s = four_sums(m, |d| l[(i + d) * w + d] * b[i + d]);
        let mut s = b[i] - s;
        if m > 1 {
            s -= l[(i + 1) * w + 1] * b[i + 1];
        }
        b[i] = s / l[i * w];
    }
}

/// Σ_{d=2}^{m−1} t(d) in four interleaved sums (d mod 4 from 2), added as (s₀ + s₂) + (s₁ + s₃).
#[inline(always)]
fn four_sums(m: usize, t: impl Fn(usize) -> f64) -> f64 {
    let (mut s0, mut s1, mut s2, mut s3) = (0.0, 0.0, 0.0, 0.0);
    let mut d = 2;
    while d + 4 <= m {
        s0 += t(d);
        s1 += t(d + 1);
        s2 += t(d + 2);
        s3 += t(d + 3);
        d += 4;
    }
    if d < m {
        s0 += t(d);
    }
    if d + 1 < m {
        s1 += t(d + 1);
    }
    if d + 2 < m {
        s2 += t(d + 2);
    }
    (s0 + s2) + (s1 + s3)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Uniform draws in [−0.5, 0.5) (a linear congruential generator).
    fn uniform(mut seed: u64) -> impl FnMut() -> f64 {
        move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f64 / (1u64 << 31) as f64) - 0.5
        }
    }

    #[test]
    fn banded_and_dense_blocks_solve_like_dense_matrices() {
        let mut lay = GlobalLayout::new();
        lay.push_banded("attitude", 40, 7);
        lay.push_dense("calibration", [3, 5]);
        assert_eq!(lay.n, 48);
        let mut bd = BlockDiagonal::zeros(&lay);
        let mut dense = vec![0.0; 48 * 48];
        // random-ish rank-one updates inside blocks
        let mut rnd = uniform(1);
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

    /// A band longer than a segment: K⁻¹ solves the band without the couplings between
    /// segments (and only those are left out), L⁻ᵀL⁻¹ is K⁻¹, and the bits do not depend on
    /// the threads.
    #[test]
    fn a_long_band_solves_segment_by_segment_on_any_thread_count() {
        let (kd, n) = (7, 2 * BAND_SEGMENT + 300);
        let mut lay = GlobalLayout::new();
        lay.push_banded("attitude", n, kd);
        let mut bd = BlockDiagonal::zeros(&lay);
        let mut rnd = uniform(7);
        // rows of kd + 1 neighbouring unknowns, some across the segment boundaries
        let mut starts: Vec<usize> = (0..n - kd).step_by(3).collect();
        starts.extend([BAND_SEGMENT - 4, 2 * BAND_SEGMENT - 2]);
        for &start in &starts {
            let c: Vec<f64> = (0..=kd).map(|_| rnd()).collect();
            BlockDiagonal::add_outer(&lay, &mut bd.values, start, &c, 1.0).unwrap();
        }
        bd.add_diagonal(&lay, 0.01);
        let a = bd.values.clone();
        let w = kd + 1;
        let elem = |i: usize, j: usize| {
            let (hi, lo) = (i.max(j), i.min(j));
            if hi - lo > kd {
                0.0
            } else {
                a[hi * w + (hi - lo)]
            }
        };
        let b: Vec<f64> = (0..n).map(|i| (0.37 * i as f64).sin()).collect();
        bd.factor(&lay).unwrap();
        let solve = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut z = b.clone();
                bd.solve_in_place(&lay, &mut z);
                let mut y = b.clone();
                bd.solve_lower_in_place(&lay, &mut y);
                bd.solve_upper_in_place(&lay, &mut y);
                (z, y)
            })
        };
        let (z, y) = solve(1);
        assert_eq!(
            (z.clone(), y.clone()),
            solve(3),
            "bits differ with the threads"
        );
        let seg = |i: usize| i / BAND_SEGMENT;
        let (mut worst_cut, mut worst_full) = (0.0f64, 0.0f64);
        for i in 0..n {
            let js = i.saturating_sub(kd)..(i + kd + 1).min(n);
            let cut: f64 = js
                .clone()
                .filter(|&j| seg(j) == seg(i))
                .map(|j| elem(i, j) * z[j])
                .sum();
            let full: f64 = js.map(|j| elem(i, j) * z[j]).sum();
            worst_cut = worst_cut.max((cut - b[i]).abs());
            worst_full = worst_full.max((full - b[i]).abs());
            assert!(
                (z[i] - y[i]).abs() <= 1e-9 * z[i].abs().max(1.0),
                "row {i}: {} vs {}",
                z[i],
                y[i]
            );
        }
        assert!(worst_cut < 1e-9, "K z − b up to {worst_cut:e}");
        // the couplings across the boundaries are real, and only they are left out
        assert!(worst_full > 1e-3, "N z − b only {worst_full:e}");
    }
}

#[cfg(test)]
mod units_tests {
    use super::*;
    use astrosolve_model::linalg::cholesky_solve_factored as dense_solve;

    const UNIT: usize = 6;
    const N_UNITS: usize = 9;
    const LEN: usize = UNIT * N_UNITS;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        }
    }

    /// A layout [banded 20 | units block | dense 4] and its block diagonal filled with random
    /// unit-local outer products (unit `empty` gets none: damping only), damping 1e-6 and the
    /// three calibration-like low-rank rows of weight 1e2 (mean of the first parameter, a tilt,
    /// a random row); with the units block's assembled dense matrix N (LEN × LEN).
    fn instance(seed: u64, empty: Option<usize>) -> (GlobalLayout, BlockDiagonal, Vec<f64>) {
        let mut lay = GlobalLayout::new();
        lay.push_banded("attitude", 20, 3);
        let g0 = lay.push_units("calibration group", [LEN], UNIT, 3);
        lay.push_dense("other", [4]);
        let mut bd = BlockDiagonal::zeros(&lay);
        let mut n = vec![0.0; LEN * LEN];
        let mut rng = Rng(seed);
        for u in 0..N_UNITS {
            if Some(u) == empty {
                continue;
            }
            for _ in 0..3 * UNIT {
                let len = 1 + (rng.next() + 0.5).mul_add(UNIT as f64, 0.0) as usize % UNIT;
                let i0 = u * UNIT + (UNIT - len);
                let c: Vec<f64> = (0..len).map(|_| rng.next() * 3.0).collect();
                BlockDiagonal::add_outer(&lay, &mut bd.values, g0 + i0, &c, 2.0).unwrap();
                for r in 0..len {
                    for q in 0..len {
                        n[(i0 + r) * LEN + i0 + q] += 2.0 * c[r] * c[q];
                    }
                }
            }
        }
        for i in 0..20 {
            BlockDiagonal::add_at(&lay, &mut bd.values, i, i, 1.0).unwrap();
        }
        for i in 0..4 {
            BlockDiagonal::add_at(&lay, &mut bd.values, g0 + LEN + i, g0 + LEN + i, 1.0).unwrap();
        }
        let rows: Vec<Vec<(usize, f64)>> = vec![
            (0..N_UNITS).map(|u| (u * UNIT, 1.0)).collect(),
            (0..N_UNITS)
                .flat_map(|u| {
                    let z = (u as f64 + 0.5) / N_UNITS as f64 - 0.5;
                    [(u * UNIT, z), (u * UNIT + 1, 0.1)]
                })
                .collect(),
            (0..LEN).map(|j| (j, rng.next())).collect(),
        ];
        for row in &rows {
            let e: Vec<(usize, f64)> = row.iter().map(|&(j, v)| (g0 + j, v)).collect();
            bd.add_low_rank(&lay, &e, 1e2).unwrap();
            for &(i, vi) in row {
                for &(j, vj) in row {
                    n[i * LEN + j] += 1e2 * vi * vj;
                }
            }
        }
        bd.add_diagonal(&lay, 1e-6);
        for i in 0..LEN {
            n[i * LEN + i] += 1e-6;
        }
        (lay, bd, n)
    }

    fn rel(a: &[f64], b: &[f64]) -> f64 {
        let d: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
        let s: f64 = b.iter().map(|y| y * y).sum();
        (d / s).sqrt()
    }

    fn check(seed: u64, empty: Option<usize>, tol: f64) {
        let (lay, mut bd, n) = instance(seed, empty);
        let g0 = 20;
        bd.factor(&lay).unwrap();
        let mut l = n.clone();
        cholesky_factor(&mut l, LEN).unwrap();
        let b: Vec<f64> = (0..lay.n).map(|i| (i as f64 * 0.7).sin() + 0.3).collect();
        // K⁻¹ b against the dense Cholesky solve
        let mut z = b.clone();
        bd.solve_in_place(&lay, &mut z);
        let mut want = b[g0..g0 + LEN].to_vec();
        dense_solve(&l, &mut want, LEN);
        let e = rel(&z[g0..g0 + LEN], &want);
        // backward error ‖N z − b‖ / (‖N‖_F ‖z‖) against the dense Cholesky's
        let backward = |z: &[f64]| {
            let nf = n.iter().map(|v| v * v).sum::<f64>().sqrt();
            let zn = z.iter().map(|v| v * v).sum::<f64>().sqrt();
            let r: f64 = (0..LEN)
                .map(|i| {
                    let s: f64 = (0..LEN).map(|j| n[i * LEN + j] * z[j]).sum();
                    (s - b[g0 + i]).powi(2)
                })
                .sum();
            r.sqrt() / (nf * zn)
        };
        let (be, be_dense) = (backward(&z[g0..g0 + LEN]), backward(&want));
        eprintln!(
            "seed {seed}: relative difference {e:e}, backward errors {be:e} (dense {be_dense:e})"
        );
        assert!(
            be < 1e-15_f64.max(10.0 * be_dense),
            "backward error {be:e} vs dense {be_dense:e}"
        );
        // forward: within the conditioning's reach, κ_F(N) ε
        let mut inv_f = 0.0;
        for j in 0..LEN {
            let mut c = vec![0.0; LEN];
            c[j] = 1.0;
            dense_solve(&l, &mut c, LEN);
            inv_f += c.iter().map(|v| v * v).sum::<f64>();
        }
        let kappa = n.iter().map(|v| v * v).sum::<f64>().sqrt() * inv_f.sqrt();
        let tol = tol.max(kappa * f64::EPSILON);
        eprintln!("  κ_F(N) = {kappa:.2e}, forward tolerance {tol:.1e}");
        assert!(e < tol, "solve: relative error {e:e}");
        // the split factor is N's Cholesky factor: L⁻¹ b like the dense forward substitution
        let mut zl = b.clone();
        bd.solve_lower_in_place(&lay, &mut zl);
        let mut fw = b[g0..g0 + LEN].to_vec();
        triangular(&l, LEN, true, &mut fw);
        let e = rel(&zl[g0..g0 + LEN], &fw);
        assert!(e < tol, "L⁻¹: relative error {e:e}");
        // L⁻ᵀ L⁻¹ = N⁻¹ (R Rᵀ = N)
        bd.solve_upper_in_place(&lay, &mut zl);
        let e = rel(&zl[g0..g0 + LEN], &want);
        assert!(e < tol, "L⁻ᵀL⁻¹: relative error {e:e}");
        // L⁻ᵀ alone
        let mut zu = b.clone();
        bd.solve_upper_in_place(&lay, &mut zu);
        let mut bw = b[g0..g0 + LEN].to_vec();
        triangular(&l, LEN, false, &mut bw);
        let e = rel(&zu[g0..g0 + LEN], &bw);
        assert!(e < tol, "L⁻ᵀ: relative error {e:e}");
        // L_jj
        for j in 0..LEN {
            let (d, want) = (bd.diagonal(&lay, g0 + j), l[j * LEN + j]);
            assert!((d - want).abs() < tol * want, "L_jj {j}: {d} vs {want}");
        }
        // the other blocks are untouched by the units block
        assert!((z[0] - b[0] / (1.0 + 1e-6)).abs() < 1e-15);
        assert!((bd.diagonal(&lay, g0 + LEN) - (1.0f64 + 1e-6).sqrt()).abs() < 1e-15);
    }

    #[test]
    fn units_block_solves_like_the_dense_cholesky_of_its_matrix() {
        for seed in 1..6 {
            check(seed, None, 1e-12);
        }
    }

    #[test]
    fn units_block_with_a_unit_without_observations() {
        // unit 4 holds only the damping (1e-6) and the low-rank rows: N is ill-conditioned
        // (κ_F ≈ 2e9), the product form's backward error stays the dense Cholesky's, the
        // difference of the solutions within κ ε
        for seed in 1..4 {
            check(seed, Some(4), 1e-12);
        }
    }

    #[test]
    fn units_block_is_bit_identical_on_any_thread_count() {
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let (lay, mut bd, _) = instance(7, None);
                bd.factor(&lay).unwrap();
                let b: Vec<f64> = (0..lay.n).map(|i| (i as f64).cos()).collect();
                let (mut z, mut zl, mut zu) = (b.clone(), b.clone(), b.clone());
                bd.solve_in_place(&lay, &mut z);
                bd.solve_lower_in_place(&lay, &mut zl);
                bd.solve_upper_in_place(&lay, &mut zu);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                (bits(&bd.values), bits(&z), bits(&zl), bits(&zu))
            })
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(5));
    }

    #[test]
    fn units_block_refuses_couplings_outside_the_low_rank_rows() {
        let (lay, mut bd, _) = instance(3, None);
        let g0 = 20;
        // across units
        assert!(BlockDiagonal::add_at(&lay, &mut bd.values, g0 + 5, g0 + 6, 1.0).is_err());
        assert!(BlockDiagonal::add_outer(&lay, &mut bd.values, g0 + 4, &[1.0; 3], 1.0).is_err());
        // within a unit
        assert!(BlockDiagonal::add_at(&lay, &mut bd.values, g0 + 6, g0 + 11, 0.0).is_ok());
        // a fourth row (max_rank 3), a row across blocks, in a dense block, a negative weight
        assert!(bd.add_low_rank(&lay, &[(g0, 1.0)], 1.0).is_err());
        let (lay, mut bd2, _) = instance(3, None);
        let mut fresh = BlockDiagonal::zeros(&lay);
        assert!(fresh
            .add_low_rank(&lay, &[(g0, 1.0), (g0 + LEN, 1.0)], 1.0)
            .is_err());
        assert!(fresh.add_low_rank(&lay, &[(g0 + LEN, 1.0)], 1.0).is_err());
        assert!(fresh.add_low_rank(&lay, &[(g0, 1.0)], -1.0).is_err());
        assert!(fresh.add_low_rank(&lay, &[(g0, 1.0)], 1.0).is_ok());
        // a zero weight adds nothing
        assert!(bd2.add_low_rank(&lay, &[(g0, 1.0)], 0.0).is_ok());
        bd2.factor(&lay).unwrap();
        assert!(bd2.factor(&lay).is_err());
        // storage: unit blocks and 3 · len · max_rank low-rank values instead of len²
        assert_eq!(lay.storage_len(), 20 * 4 + LEN * UNIT + 16);
        assert_eq!(lay.low_rank_len(), 3 * LEN * 3);
        assert_eq!(bd2.values.len(), lay.factored_len());
    }
}
