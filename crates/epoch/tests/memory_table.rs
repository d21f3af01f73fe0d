//! `GaiaSourceStream::from_table`: a table already in memory (as the Python bindings hand it
//! over) gives the same sources as the file it came from, whatever the chunking, and a table
//! whose columns differ in length is refused with the column named. Real data:
//! `../shared/data/real/gaia-dr4-epoch` (the test data of ESA's gaia-supdate).

use astrosolve_epoch::gaia::GaiaSourceStream;
use astrosolve_epoch::{EpochError, SourceData};
use astrosolve_io::tabular::{read_table, ColumnData};
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    let d = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/real/gaia-dr4-epoch"
    ));
    assert!(
        d.is_dir(),
        "real test data missing: {} (the shared data folder ../shared/data/real next to the \
         project root is needed by these tests)",
        d.display()
    );
    d
}

fn collect(s: GaiaSourceStream) -> (Vec<SourceData>, Vec<String>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for item in s {
        match item {
            Ok(x) => ok.push(x),
            Err(e) => bad.push(e.to_string()),
        }
    }
    (ok, bad)
}

#[test]
fn a_table_in_memory_streams_the_sources_of_its_file() {
    for rel in [
        "heaviside_weighting/epoch_astrometry.parquet",
        "datalink/EPOCH_ASTROMETRY-Gaia DR4_INT2 1.csv",
        "datalink/1_epoch_astrometry.parquet",
    ] {
        let path = data_dir().join(rel);
        let (from_file, file_errors) = collect(GaiaSourceStream::open(&path).unwrap());
        assert!(!from_file.is_empty(), "{rel}");
        let table = read_table(&path, None).unwrap();
        for chunk in [None, Some(1), Some(7), Some(1000)] {
            let mut s = GaiaSourceStream::from_table(table.clone()).unwrap();
            if let Some(c) = chunk {
                s = s.with_chunk_rows(c);
            }
            let (from_memory, errors) = collect(s);
            assert_eq!(errors, file_errors, "{rel}, chunk {chunk:?}");
            assert_eq!(from_memory, from_file, "{rel}, chunk {chunk:?}");
        }
    }
}

#[test]
fn a_table_in_memory_is_checked_as_a_file_is() {
    let path = data_dir().join("heaviside_weighting/epoch_astrometry.parquet");
    let mut table = read_table(&path, None).unwrap();
    table.path = PathBuf::from("<table>");

    // a column one row short
    let mut short = table.clone();
    let k = short
        .columns
        .iter()
        .position(|c| matches!(c.data, ColumnData::Float(_)))
        .expect("a scalar float column");
    if let ColumnData::Float(v) = &mut short.columns[k].data {
        v.pop();
    }
    let name = short.columns[k].name.clone();
    let e = GaiaSourceStream::from_table(short).err().expect("refused");
    let msg = e.to_string();
    assert!(
        matches!(e, EpochError::File { .. }) && msg.starts_with("<table>: ") && msg.contains(&name),
        "{msg}"
    );

    // not epoch astrometry
    let mut other = table.clone();
    other
        .columns
        .retain(|c| !c.name.eq_ignore_ascii_case("centroidPosAl"));
    other
        .columns
        .retain(|c| !c.name.eq_ignore_ascii_case("centroid_pos_al"));
    let msg = GaiaSourceStream::from_table(other)
        .err()
        .expect("refused")
        .to_string();
    assert!(msg.contains("not Gaia epoch astrometry"), "{msg}");

    // a bad cell names the table, its 1-based row and the column
    let mut bad = table.clone();
    let k = bad
        .columns
        .iter()
        .position(|c| {
            c.name.eq_ignore_ascii_case("centroidPosErrorAl")
                || c.name.eq_ignore_ascii_case("centroid_pos_error_al")
        })
        .unwrap();
    let name = bad.columns[k].name.clone();
    // row 5 (index 4), its first CCD used by AGIS
    let used = table
        .bool_lists(&["used_by_agis_al", "usedByAgisAl"])
        .unwrap();
    let ccd = used
        .row(4)
        .iter()
        .position(|u| *u == Some(true))
        .expect("row 5 has a used CCD");
    match &mut bad.columns[k].data {
        ColumnData::FloatList(l) => l.values[l.offsets[4] + ccd] = -1.0,
        other => panic!("unexpected column kind {}", other.kind()),
    }
    let (_, errors) = collect(GaiaSourceStream::from_table(bad).unwrap());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!("<table>: row 5, column \"{name}\"")),
        "{}",
        errors[0]
    );
}
