//! One rank's share of a data set (issue 11, MPI): the sources of `sources.parquet` are split
//! into contiguous ranges balanced by observation count and cut at the global chunk boundaries
//! ([`astrosolve_model::obs::partition_chunks`], so that the distributed solve reproduces the
//! one-process bits), and each rank reads only the observations of its own range.
//!
//! observations.parquet is read twice, by row groups, never whole:
//! 1. the `source_id` column alone, one row group at a time: the number of observations of
//!    every source (in catalogue order) and, per row group, the smallest and largest
//!    catalogue index it holds;
//! 2. all columns, of the row groups whose index span overlaps the rank's range only; of those,
//!    the rank keeps its own rows.
//!
//! A data set astrosolve writes holds its observations sorted by source, in the order of
//! sources.parquet, in row groups that never split a source (crates/io/src/observations.rs,
//! `row_groups`): a rank then decodes its own row groups and at most one more at each end.
//! Any other order is read correctly, but a rank may have to decode every row group (it still
//! keeps only its rows: memory is the rank's share plus one record batch). The row groups'
//! own statistics are not used: they order by `source_id`, the partition by catalogue index.
//!
//! The rest of the data set (mission, catalogue, attitude, calibration, reference positions,
//! truth sources, attitude and calibration) is small beside the observations and is read whole
//! on every rank, with the checks of [`crate::read_dataset`].

use crate::catalogue::{read_catalogue, REF_EPOCH_TOLERANCE_YR};
use crate::dataset::{Dataset, DatasetPaths, Truth, SOURCES_FILE};
use crate::error::{within, IoError};
use crate::observations::{self, FileObs};
use crate::{
    read_attitude, read_calibration, read_mission, read_reference_positions, REFERENCE_FILE,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt8Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use astrosolve_model::obs::{local_chunks, partition_chunks};
use astrosolve_model::source::{ReferencePosition, Source};
use astrosolve_model::{MissionConfig, Observation, ObservationSet};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use std::collections::HashMap;
use std::fs::File;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// Rows decoded at a time.
const BATCH_ROWS: usize = 1 << 16;

/// How the observations of a file are spread over sources and row groups (pass 1).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservationCounts {
    /// Observations of each source, in catalogue order.
    pub per_source: Vec<usize>,
    /// Per row group: the data rows it holds (0-based, file order) and the span of catalogue
    /// indices of its sources (empty for an empty group).
    pub row_groups: Vec<(Range<usize>, Range<usize>)>,
}

impl ObservationCounts {
    /// Total number of observations.
    pub fn total(&self) -> usize {
        self.per_source.iter().sum()
    }

    /// The row groups that hold observations of the sources `range`.
    pub fn groups_of(&self, range: &Range<usize>) -> Vec<usize> {
        self.row_groups
            .iter()
            .enumerate()
            .filter(|(_, (_, span))| span.start < range.end && range.start < span.end)
            .map(|(g, _)| g)
            .collect()
    }
}

/// One rank's share of a data set ([`read_dataset_part`]).
#[derive(Clone, Debug)]
pub struct DatasetPart {
    /// The sources of the share (indices re-indexed from 0), their observations, and the full
    /// attitude and calibration.
    pub dataset: Dataset,
    /// The truth, where the data set has one: the share's truth sources, the full truth
    /// attitude and calibration; the per-observation truth is not read (empty vectors).
    pub truth: Option<Truth>,
    /// Reference positions of the share's sources (indices re-indexed from 0).
    pub refs: Vec<ReferencePosition>,
    /// The share's sources in the whole catalogue (indices into sources.parquet).
    pub source_range: Range<usize>,
    /// The global chunks of the catalogue's observation counts
    /// ([`astrosolve_model::obs::chunk_sources`]) in the share, indexed from its first source:
    /// the solver's chunks.
    pub chunks: Vec<Range<usize>>,
    /// Sources and observations of the whole data set.
    pub n_sources_total: usize,
    pub n_observations_total: usize,
    /// Row groups of observations.parquet decoded for the share, and in the file.
    pub row_groups_read: usize,
    pub row_groups_total: usize,
}

/// Opens a Parquet file's metadata once (the footer), for readers of single row groups.
fn open_meta(path: &Path) -> Result<(File, ArrowReaderMetadata), IoError> {
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => IoError::NotFound {
            path: path.to_path_buf(),
        },
        _ => IoError::os(path, "open", e),
    })?;
    let meta = ArrowReaderMetadata::load(&file, Default::default())
        .map_err(|e| IoError::parquet(path, e))?;
    Ok((file, meta))
}

/// Calls `f` with every record batch of row group `g` holding the columns `columns` (those
/// present), and the 0-based file row of the batch's first row. Decoder panics are errors.
fn each_batch(
    path: &Path,
    file: &File,
    meta: &ArrowReaderMetadata,
    g: usize,
    first_row: usize,
    columns: &[&str],
    f: &mut dyn FnMut(&RecordBatch, usize) -> Result<(), IoError>,
) -> Result<(), IoError> {
    let run = || -> Result<(), IoError> {
        let file = file.try_clone().map_err(|e| IoError::os(path, "open", e))?;
        let schema = meta.schema();
        let roots: Vec<usize> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| columns.contains(&f.name().as_str()))
            .map(|(i, _)| i)
            .collect();
        let mask = ProjectionMask::roots(meta.parquet_schema(), roots);
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta.clone())
            .with_row_groups(vec![g])
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| IoError::parquet(path, e))?;
        let mut row = first_row;
        for b in reader {
            let b = b.map_err(|e| IoError::parquet(path, format!("after data row {row}: {e}")))?;
            f(&b, row)?;
            row += b.num_rows();
        }
        Ok(())
    };
    catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|_| {
        Err(IoError::parquet(
            path,
            "corrupt file (the Parquet decoder failed)",
        ))
    })
}

/// A column of a batch by name.
fn column<'a>(path: &Path, b: &'a RecordBatch, name: &str) -> Result<&'a dyn Array, IoError> {
    b.column_by_name(name)
        .map(|a| a.as_ref())
        .ok_or_else(|| IoError::MissingColumn {
            path: path.to_path_buf(),
            column: name.to_string(),
        })
}

/// The values of an integer column without nulls; `first_row`: 0-based file row of `a[0]`.
fn ints(path: &Path, first_row: usize, name: &str, a: &dyn Array) -> Result<Vec<i64>, IoError> {
    if let Some(i) = (0..a.len()).find(|&i| a.is_null(i)) {
        return Err(IoError::value(
            path,
            first_row + i + 1,
            name,
            "null in a required value",
        ));
    }
    macro_rules! prim {
        ($t:ty) => {
            a.as_primitive::<$t>()
                .values()
                .iter()
                .map(|&v| i64::from(v))
                .collect()
        };
    }
    Ok(match a.data_type() {
        DataType::Int64 => a.as_primitive::<Int64Type>().values().to_vec(),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int8 => prim!(Int8Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt8 => prim!(UInt8Type),
        other => {
            return Err(IoError::ColumnType {
                path: path.to_path_buf(),
                column: name.to_string(),
                found: other.to_string(),
                expected: "an integer type (64 bits or fewer, unsigned up to 32)",
            })
        }
    })
}

/// The values of a float column (nulls as NaN) and each row's validity.
fn floats(path: &Path, name: &str, a: &dyn Array) -> Result<(Vec<f64>, Vec<bool>), IoError> {
    let v: Vec<f64> = match a.data_type() {
        DataType::Float64 => a.as_primitive::<Float64Type>().values().to_vec(),
        DataType::Float32 => a
            .as_primitive::<Float32Type>()
            .values()
            .iter()
            .map(|&x| x as f64)
            .collect(),
        other => {
            return Err(IoError::ColumnType {
                path: path.to_path_buf(),
                column: name.to_string(),
                found: other.to_string(),
                expected: "float64 (float32 accepted)",
            })
        }
    };
    let valid: Vec<bool> = (0..a.len()).map(|i| a.is_valid(i)).collect();
    let v = v
        .into_iter()
        .zip(&valid)
        .map(|(x, &ok)| if ok { x } else { f64::NAN })
        .collect();
    Ok((v, valid))
}

/// A required float column: a null is an error.
fn floats_required(
    path: &Path,
    first_row: usize,
    name: &str,
    a: &dyn Array,
) -> Result<Vec<f64>, IoError> {
    let (v, valid) = floats(path, name, a)?;
    if let Some(i) = valid.iter().position(|ok| !ok) {
        return Err(IoError::value(
            path,
            first_row + i + 1,
            name,
            "null in a required value",
        ));
    }
    Ok(v)
}

/// source_id → catalogue index.
fn index_map(path: &Path, sources: &[Source]) -> Result<HashMap<i64, u32>, IoError> {
    observations::source_index_map(path, sources)
}

/// Catalogue indices of a batch's `source_id` column.
fn indices(
    path: &Path,
    b: &RecordBatch,
    first_row: usize,
    index: &HashMap<i64, u32>,
) -> Result<Vec<u32>, IoError> {
    let ids = ints(path, first_row, "source_id", column(path, b, "source_id")?)?;
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            index.get(id).copied().ok_or_else(|| {
                IoError::value(
                    path,
                    first_row + i + 1,
                    "source_id",
                    format!("unknown source_id {id} (not in {SOURCES_FILE})"),
                )
            })
        })
        .collect()
}

/// Pass 1: reads only the `source_id` column of observations.parquet `path`, one row group at
/// a time, and counts the observations of every source of `sources` (catalogue order).
/// Errors name the file and the 1-based row (unknown source_id, null).
pub fn count_observations(path: &Path, sources: &[Source]) -> Result<ObservationCounts, IoError> {
    let index = index_map(path, sources)?;
    let (file, meta) = open_meta(path)?;
    let mut per_source = vec![0usize; sources.len()];
    let mut row_groups = Vec::with_capacity(meta.metadata().num_row_groups());
    let mut row = 0usize;
    for g in 0..meta.metadata().num_row_groups() {
        let n = usize::try_from(meta.metadata().row_group(g).num_rows())
            .map_err(|_| IoError::parquet(path, "negative row count"))?;
        let (mut lo, mut hi) = (usize::MAX, 0usize);
        each_batch(
            path,
            &file,
            &meta,
            g,
            row,
            &["source_id"],
            &mut |b, first| {
                for k in indices(path, b, first, &index)? {
                    let k = k as usize;
                    per_source[k] += 1;
                    lo = lo.min(k);
                    hi = hi.max(k + 1);
                }
                Ok(())
            },
        )?;
        let span = if lo == usize::MAX { 0..0 } else { lo..hi };
        row_groups.push((row..row + n, span));
        row += n;
    }
    Ok(ObservationCounts {
        per_source,
        row_groups,
    })
}

/// The file columns of one batch (types and nulls checked, values not yet).
fn file_columns(path: &Path, b: &RecordBatch, first_row: usize) -> Result<FileObs, IoError> {
    let n = b.num_rows();
    let int = |name: &str| ints(path, first_row, name, column(path, b, name)?);
    let float = |name: &str| floats_required(path, first_row, name, column(path, b, name)?);
    // a file without both zeta columns holds AL-only observations
    let has = |name: &str| b.column_by_name(name).is_some();
    let (zeta, zeta_given, mut zeta_error) = if !has("zeta") && !has("zeta_error") {
        (vec![f64::NAN; n], vec![false; n], vec![f64::NAN; n])
    } else {
        let (zeta, given) = floats(path, "zeta", column(path, b, "zeta")?)?;
        let (zeta_error, _) = floats(path, "zeta_error", column(path, b, "zeta_error")?)?;
        (zeta, given, zeta_error)
    };
    for (e, &g) in zeta_error.iter_mut().zip(&zeta_given) {
        if !g {
            *e = f64::NAN;
        }
    }
    Ok(FileObs {
        first_row,
        source_id: int("source_id")?,
        t: float("t")?,
        fov: int("fov")?,
        ccd_row: int("ccd_row")?,
        ccd_strip: int("ccd_strip")?,
        eta: float("eta")?,
        zeta,
        zeta_given,
        eta_error: float("eta_error")?,
        zeta_error,
        ac_coord: float("ac_coord")?,
    })
}

/// Pass 2: the observations of the sources `range` (catalogue indices; re-indexed from 0),
/// read from the row groups `groups` of observations.parquet `path` and checked as
/// [`crate::read_observations`] checks them (values, CCD layout of `mission`, the attitude
/// span `t_span` in days), in file order.
fn read_rows(
    path: &Path,
    sources: &[Source],
    counts: &ObservationCounts,
    groups: &[usize],
    range: &Range<usize>,
    mission: &MissionConfig,
    t_span: (f64, f64),
) -> Result<Vec<Observation>, IoError> {
    let index = index_map(path, sources)?;
    let (file, meta) = open_meta(path)?;
    let layout = (mission.instrument.n_rows, mission.instrument.n_strips);
    let n_keep: usize = counts.per_source[range.clone()].iter().sum();
    let mut obs = Vec::with_capacity(n_keep);
    for &g in groups {
        let first = counts.row_groups[g].0.start;
        each_batch(
            path,
            &file,
            &meta,
            g,
            first,
            observations::COLUMNS,
            &mut |b, first_row| {
                let si = indices(path, b, first_row, &index)?;
                let keep: Vec<usize> = (0..si.len())
                    .filter(|&i| range.contains(&(si[i] as usize)))
                    .collect();
                if keep.is_empty() {
                    return Ok(());
                }
                let c = file_columns(path, b, first_row)?;
                observations::validate(path, &c, Some(layout))?;
                for i in keep {
                    let t = c.t[i];
                    if t < t_span.0 || t > t_span.1 {
                        return Err(IoError::value(
                            path,
                            first_row + i + 1,
                            "t",
                            format!(
                                "observation outside the attitude span [{}, {}] (t = {t} days)",
                                t_span.0, t_span.1
                            ),
                        ));
                    }
                    obs.push(c.observation(i, si[i] - range.start as u32));
                }
                Ok(())
            },
        )?;
    }
    Ok(obs)
}

/// Reads share `rank` (0-based) of `n_ranks` of the data set `dir`: the sources of the rank's
/// range (contiguous in sources.parquet, balanced by observation count,
/// cut at the global chunk boundaries, [`partition_chunks`]) with their observations (by source, then time, as
/// [`crate::read_dataset`] orders them: the shares of all ranks, concatenated, are the whole
/// data set), the full attitude and calibration, the reference positions of the share and,
/// when the data set has a truth/ directory, the share's truth (see [`DatasetPart::truth`]).
/// Only the row groups of observations.parquet that hold the share's sources are decoded (see
/// the module documentation). Errors name the file, 1-based row and column.
pub fn read_dataset_part(dir: &Path, rank: usize, n_ranks: usize) -> Result<DatasetPart, IoError> {
    let p = DatasetPaths::new(dir);
    let mission = read_mission(&p.mission)?;
    let crate::dataset::Start {
        sources,
        ref_epoch,
        attitude,
        calibration,
    } = crate::dataset::read_start(&p, &mission)?;

    let counts = count_observations(&p.observations, &sources)?;
    let n_ranks = n_ranks.max(1);
    let (all_chunks, ranges) = partition_chunks(&counts.per_source, n_ranks);
    let range = ranges.get(rank).cloned().ok_or_else(|| {
        IoError::invalid(&p.observations, format!("rank {rank} of {n_ranks} ranks"))
    })?;
    let groups = counts.groups_of(&range);
    let span = (attitude.knots.t0, attitude.knots.t_end());
    let obs = read_rows(
        &p.observations,
        &sources,
        &counts,
        &groups,
        &range,
        &mission,
        span,
    )?;
    let n_part = range.len();
    let observations = ObservationSet::from_unsorted(obs, n_part);

    let ref_path = dir.join(REFERENCE_FILE);
    let refs = if ref_path.exists() {
        read_reference_positions(&ref_path, &sources)?
            .into_iter()
            .filter(|r| range.contains(&r.source_index))
            .map(|r| ReferencePosition {
                source_index: r.source_index - range.start,
                ..r
            })
            .collect()
    } else {
        Vec::new()
    };
    let truth = if p.truth_dir.is_dir() {
        Some(read_truth_part(&p, &sources, &range, ref_epoch)?)
    } else {
        None
    };
    let n_sources_total = sources.len();
    let part_sources = sources[range.clone()].to_vec();
    drop(sources);
    Ok(DatasetPart {
        dataset: Dataset {
            mission,
            sources: part_sources,
            observations,
            attitude,
            calibration,
        },
        truth,
        refs,
        chunks: local_chunks(&all_chunks, &range),
        source_range: range,
        n_sources_total,
        n_observations_total: counts.total(),
        row_groups_read: groups.len(),
        row_groups_total: counts.row_groups.len(),
    })
}

/// The truth of the sources `range`: truth/sources.parquet in catalogue order (every source of
/// the catalogue must be there), the truth attitude and calibration; no per-observation truth.
fn read_truth_part(
    p: &DatasetPaths,
    sources: &[Source],
    range: &Range<usize>,
    ref_epoch: f64,
) -> Result<Truth, IoError> {
    let cat = read_catalogue(&p.truth_sources)?;
    if !cat.sources.is_empty()
        && !sources.is_empty()
        && !within(cat.ref_epoch, ref_epoch, REF_EPOCH_TOLERANCE_YR)
    {
        return Err(IoError::value(
            &p.truth_sources,
            1,
            "ref_epoch",
            format!(
                "ref_epoch {} differs from that of {SOURCES_FILE} ({ref_epoch})",
                cat.ref_epoch
            ),
        ));
    }
    let by_id: HashMap<i64, &Source> = cat.sources.iter().map(|s| (s.source_id, s)).collect();
    let mut part = Vec::with_capacity(range.len());
    for s in &sources[range.clone()] {
        let t = by_id.get(&s.source_id).ok_or_else(|| {
            IoError::invalid(
                &p.truth_sources,
                format!("source_id {} of {SOURCES_FILE} is missing", s.source_id),
            )
        })?;
        part.push(**t);
    }
    Ok(Truth {
        sources: part,
        attitude: read_attitude(&p.truth_attitude)?,
        calibration: read_calibration(&p.truth_calibration)?,
        is_outlier: Vec::new(),
        noise_eta: Vec::new(),
        noise_zeta: Vec::new(),
    })
}
