//! One rank's share of a data set (crates/io/src/partition.rs): the shares of all ranks,
//! concatenated, are the whole data set as `read_dataset` reads it, bit for bit, whatever the
//! row groups and the order of observations.parquet; a sorted file is read by row groups.

mod common;

use arrow_array::{Array, Float64Array, RecordBatch};
use astrosolve_io::{
    read_dataset_and_truth, read_dataset_part, write_dataset, write_mission, write_observations,
    Dataset, WriteOptions, MISSION_FILE, OBSERVATIONS_FILE,
};
use astrosolve_model::Observation;
use common::{dataset_and_truth, Rng};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use std::path::Path;
use std::sync::Arc;

fn write(dir: &Path, n_src: usize, n_obs: usize) -> Dataset {
    let (ds, truth) = dataset_and_truth(11, n_src, n_obs);
    write_dataset(dir, &ds, Some(&truth), &WriteOptions::default()).unwrap();
    write_mission(dir.join(MISSION_FILE), &ds.mission, false).unwrap();
    ds
}

/// Rewrites observations.parquet in row groups of `rows` rows (same rows, same order).
fn regroup(dir: &Path, rows: usize) {
    let path = dir.join(OBSERVATIONS_FILE);
    let file = std::fs::File::open(&path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .with_batch_size(rows)
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let tmp = dir.join("regrouped.parquet");
    let out = std::fs::File::create(&tmp).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows))
        .build();
    let mut w = ArrowWriter::try_new(out, batches[0].schema(), Some(props)).unwrap();
    for b in &batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
    std::fs::rename(&tmp, &path).unwrap();
}

/// Reads every share of `n_ranks` and checks them against the whole; returns the row groups
/// decoded per rank.
fn check_shares(dir: &Path, n_ranks: usize) -> Vec<(usize, usize)> {
    let (whole, truth) = read_dataset_and_truth(dir).unwrap();
    let truth = truth.unwrap();
    let mut obs: Vec<Observation> = Vec::new();
    let mut next = 0;
    let mut groups = Vec::new();
    for r in 0..n_ranks {
        let part = read_dataset_part(dir, r, n_ranks).unwrap();
        let range = part.source_range.clone();
        assert_eq!(range.start, next, "rank {r} of {n_ranks}");
        next = range.end;
        assert_eq!(part.dataset.sources[..], whole.sources[range.clone()]);
        assert_eq!(part.dataset.attitude, whole.attitude);
        assert_eq!(part.dataset.calibration, whole.calibration);
        assert_eq!(part.dataset.observations.n_sources(), range.len());
        assert_eq!(part.n_observations_total, whole.observations.len());
        assert_eq!(part.n_sources_total, whole.sources.len());
        let t = part.truth.as_ref().unwrap();
        assert_eq!(t.sources[..], truth.sources[range.clone()]);
        assert_eq!(t.attitude, truth.attitude);
        obs.extend(part.dataset.observations.obs.iter().map(|o| Observation {
            source_index: o.source_index + range.start as u32,
            ..*o
        }));
        groups.push((part.row_groups_read, part.row_groups_total));
    }
    assert_eq!(next, whole.sources.len());
    // bit for bit (NaN for AL-only ζ included)
    assert_eq!(format!("{obs:?}"), format!("{:?}", whole.observations.obs));
    groups
}

#[test]
fn shares_of_a_sorted_file_are_the_whole_and_read_by_row_groups() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), 60, 3000);
    for n in [1, 2, 3, 5] {
        check_shares(d.path(), n);
    }
    // 12 row groups of 250 rows: a rank of 3 decodes its third of them and at most one more at
    // each end
    regroup(d.path(), 250);
    for (read, total) in check_shares(d.path(), 3) {
        assert_eq!(total, 12);
        assert!(read <= 6, "{read} of {total} row groups decoded");
    }
}

#[test]
fn shares_of_an_unsorted_file_are_the_whole() {
    let d = tempfile::tempdir().unwrap();
    let ds = write(d.path(), 50, 2000);
    let mut obs = ds.observations.obs.clone();
    let mut rng = Rng::new(3);
    for i in (1..obs.len()).rev() {
        obs.swap(i, rng.below(i as u64 + 1) as usize);
    }
    write_observations(d.path().join(OBSERVATIONS_FILE), &obs, &ds.sources, true).unwrap();
    regroup(d.path(), 300);
    for n in [2, 3] {
        check_shares(d.path(), n);
    }
}

/// Sets eta_error (mas) of 0-based data row `row` of observations.parquet to `v`, keeping its
/// row groups of `rows` rows.
fn patch_eta_error(dir: &Path, row: usize, v: f64, rows: usize) {
    let path = dir.join(OBSERVATIONS_FILE);
    let file = std::fs::File::open(&path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .with_batch_size(rows)
        .build()
        .unwrap();
    let mut at = 0;
    let mut batches = Vec::new();
    for b in reader {
        let b = b.unwrap();
        let n = b.num_rows();
        let b = if (at..at + n).contains(&row) {
            let k = b.schema().index_of("eta_error").unwrap();
            let col = b.column(k).as_any().downcast_ref::<Float64Array>().unwrap();
            let mut vals: Vec<f64> = col.values().to_vec();
            vals[row - at] = v;
            let mut cols = b.columns().to_vec();
            cols[k] = Arc::new(Float64Array::from(vals));
            RecordBatch::try_new(b.schema(), cols).unwrap()
        } else {
            b
        };
        at += n;
        batches.push(b);
    }
    let out = std::fs::File::create(&path).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows))
        .build();
    let mut w = ArrowWriter::try_new(out, batches[0].schema(), Some(props)).unwrap();
    for b in &batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

#[test]
fn a_bad_value_is_found_by_the_rank_that_reads_it() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), 60, 3000);
    // a σ of zero in the last row group: the rank holding the last sources refuses it, naming
    // the file row; the first rank does not decode that row group
    let k = 2990;
    patch_eta_error(d.path(), k, 0.0, 250);
    let whole = read_dataset_and_truth(d.path()).unwrap_err().to_string();
    assert!(
        whole.contains(&format!("row {}, column \"eta_error\"", k + 1)),
        "{whole}"
    );
    let last = read_dataset_part(d.path(), 2, 3).unwrap_err().to_string();
    assert_eq!(last, whole);
    assert!(read_dataset_part(d.path(), 0, 3).is_ok());
}

#[test]
fn an_unknown_source_is_refused_on_every_rank() {
    let d = tempfile::tempdir().unwrap();
    let ds = write(d.path(), 30, 600);
    let mut sources = ds.sources.clone();
    sources[7].source_id += 1;
    astrosolve_io::write_catalogue(
        d.path().join("sources.parquet"),
        &sources,
        astrosolve_io::julian_year(ds.mission.reference_epoch_jd),
        None,
        true,
    )
    .unwrap();
    for r in 0..2 {
        let e = read_dataset_part(d.path(), r, 2).unwrap_err().to_string();
        assert!(
            e.contains("observations.parquet: row") && e.contains("unknown source_id"),
            "{e}"
        );
    }
}
