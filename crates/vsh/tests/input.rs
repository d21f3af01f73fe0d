//! Reading catalogues (through astrosolve_io::tabular): Parquet, CSV, ECSV, FITS and VOTable
//! with Gaia column names, selection, and clear errors naming the file, the 1-based data row
//! and the column.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float32Array, Float64Array, Int64Array, Int8Array, RecordBatch,
    StringArray,
};
use astrosolve_vsh::input::{read_catalogue, read_catalogue_with, InputFormat};
use astrosolve_vsh::{Selection, VshError};
use parquet::arrow::ArrowWriter;

/// Writes a Parquet file with the given columns.
fn write_parquet(path: &Path, cols: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn f64s(v: &[Option<f64>]) -> ArrayRef {
    Arc::new(Float64Array::from(v.to_vec()))
}

/// A 5-row astrosolve-like catalogue: is_qso boolean, float32 magnitude, int64 source_id.
fn standard_columns(pmra: Vec<Option<f64>>) -> Vec<(&'static str, ArrayRef)> {
    vec![
        (
            "source_id",
            Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5])) as ArrayRef,
        ),
        (
            "ra",
            f64s(&[Some(10.0), Some(20.0), Some(30.0), Some(40.0), Some(50.0)]),
        ),
        (
            "dec",
            f64s(&[Some(-10.0), Some(0.0), Some(10.0), Some(20.0), Some(89.0)]),
        ),
        ("pmra", f64s(&pmra)),
        (
            "pmdec",
            f64s(&[Some(0.1), Some(0.2), Some(0.3), Some(0.4), Some(0.5)]),
        ),
        ("pmra_error", f64s(&[Some(0.5); 5])),
        ("pmdec_error", f64s(&[Some(0.6); 5])),
        (
            "pmra_pmdec_corr",
            f64s(&[Some(0.1), Some(-0.2), Some(0.0), Some(0.3), Some(0.9)]),
        ),
        (
            "phot_g_mean_mag",
            Arc::new(Float32Array::from(vec![
                Some(16.0f32),
                Some(18.5),
                Some(19.5),
                None,
                Some(17.0),
            ])) as ArrayRef,
        ),
        (
            "is_qso",
            Arc::new(BooleanArray::from(vec![true, true, false, true, true])) as ArrayRef,
        ),
    ]
}

#[test]
fn parquet_reads_units_and_selection() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cat.parquet");
    write_parquet(
        &p,
        standard_columns(vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(5.0)]),
    );
    let all = read_catalogue(&p, None, &Selection::default(), false).unwrap();
    assert_eq!(all.summary.format, InputFormat::Parquet);
    assert_eq!(
        (all.summary.n_rows, all.summary.n_selected, all.data.len()),
        (5, 5, 5)
    );
    // Units: degrees → radians, mas/yr → µas/yr.
    assert!((all.data.ra[1] - 20f64.to_radians()).abs() < 1e-15);
    assert!((all.data.pmra[2] - 3000.0).abs() < 1e-9);
    assert!((all.data.pmdec_error[0] - 600.0).abs() < 1e-9);
    assert!((all.data.pmra_pmdec_corr[1] + 0.2).abs() < 1e-15);
    // is_qso & G < 19: rows 0, 1 (row 3 has a null magnitude, row 2 is not a QSO), 4.
    let sel = Selection::parse(&["is_qso", "phot_g_mean_mag<19"]).unwrap();
    let c = read_catalogue(&p, None, &sel, false).unwrap();
    assert_eq!(c.summary.n_selected, 3);
    assert_eq!(c.data.pmra, vec![1000.0, 2000.0, 5000.0]);
    let c = read_catalogue(&p, None, &Selection::parse(&["!is_qso"]).unwrap(), false).unwrap();
    assert_eq!(c.data.pmra, vec![3000.0]);
}

/// An astrosolve solution catalogue flags unsolved sources with astrometric_params_solved 0
/// and null uncertainties: they are skipped by default (counted, and said in the summary),
/// after the selection; kept on request, their null uncertainties are then an error.
#[test]
fn unsolved_sources_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sol.parquet");
    let mut cols = standard_columns(vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(5.0)]);
    // rows 2 and 5 (1-based) not solved: null uncertainties, as astrosolve writes them
    for (name, v) in [("pmra_error", 0.5), ("pmdec_error", 0.6)] {
        let k = cols.iter().position(|c| c.0 == name).unwrap();
        cols[k].1 = f64s(&[Some(v), None, Some(v), Some(v), None]);
    }
    cols.push((
        "astrometric_params_solved",
        Arc::new(Int8Array::from(vec![31, 0, 31, 95, 0])) as ArrayRef,
    ));
    write_parquet(&p, cols);
    let c = read_catalogue(&p, None, &Selection::default(), false).unwrap();
    assert_eq!(c.summary.n_skipped_unsolved, 2);
    assert_eq!(c.data.pmra, vec![1000.0, 3000.0, 4000.0]);
    // counted among the selected rows only: is_qso selects rows 1, 2, 4, 5
    let qso = Selection::parse(&["is_qso"]).unwrap();
    let c = read_catalogue(&p, None, &qso, false).unwrap();
    assert_eq!((c.summary.n_selected, c.summary.n_skipped_unsolved), (4, 2));
    assert_eq!(c.data.pmra, vec![1000.0, 4000.0]);
    // kept on request: the null uncertainty is an error naming row and column
    let e = read_catalogue_with(&p, None, &qso, false, true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("row 2") && e.contains("pmra_error"), "{e}");
    // the summary says how many were skipped
    let opts = astrosolve_vsh::AnalysisOptions {
        lmax: 1,
        clip_kappa: 0.0,
        ..Default::default()
    };
    let big = dir.path().join("big.parquet");
    let n = 200;
    let mut cols = vec![
        (
            "ra",
            f64s(
                &(0..n)
                    .map(|i| Some((i * 37 % 360) as f64))
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "dec",
            f64s(
                &(0..n)
                    .map(|i| Some(((i * 53 % 170) as f64) - 85.0))
                    .collect::<Vec<_>>(),
            ),
        ),
        ("pmra", f64s(&vec![Some(0.01); n])),
        ("pmdec", f64s(&vec![Some(-0.01); n])),
        (
            "pmra_error",
            f64s(
                &(0..n)
                    .map(|i| (i % 4 != 0).then_some(0.1))
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "pmdec_error",
            f64s(
                &(0..n)
                    .map(|i| (i % 4 != 0).then_some(0.1))
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "pmra_pmdec_corr",
            f64s(
                &(0..n)
                    .map(|i| (i % 4 != 0).then_some(0.0))
                    .collect::<Vec<_>>(),
            ),
        ),
    ];
    cols.push((
        "astrometric_params_solved",
        Arc::new(Int8Array::from(
            (0..n)
                .map(|i| if i % 4 != 0 { 31 } else { 0 })
                .collect::<Vec<i8>>(),
        )) as ArrayRef,
    ));
    write_parquet(&big, cols);
    let a = astrosolve_vsh::analyse_file(&big, &opts).unwrap();
    assert_eq!(a.data.len(), 150);
    let text = a.summary_text();
    assert!(
        text.contains("skipped 50 unsolved sources (astrometric_params_solved < 31)"),
        "{text}"
    );
}

#[test]
fn parquet_errors_name_file_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    // NaN in pmra at data row 3 and a null at data row 4 (1-based).
    let p = dir.path().join("bad.parquet");
    write_parquet(
        &p,
        standard_columns(vec![Some(1.0), Some(2.0), Some(f64::NAN), None, Some(5.0)]),
    );
    let e = read_catalogue(&p, None, &Selection::default(), false).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, VshError::InvalidValue { .. }));
    assert!(
        msg.contains("bad.parquet")
            && msg.contains("row 3")
            && msg.contains("'pmra'")
            && msg.contains("NaN"),
        "{msg}"
    );
    // Skipping: both bad rows skipped and counted; a selection excluding them needs no skip.
    let c = read_catalogue(&p, None, &Selection::default(), true).unwrap();
    assert_eq!(c.data.len(), 3);
    assert_eq!(c.summary.skipped_invalid.get("pmra"), Some(&2));
    let first_two = Selection::parse(&["source_id<=2"]).unwrap();
    let c = read_catalogue(&p, None, &first_two, false).unwrap();
    assert_eq!(c.data.len(), 2);
    // Missing column.
    let mut cols = standard_columns(vec![Some(1.0); 5]);
    cols.retain(|(n, _)| *n != "pmra_pmdec_corr");
    let p2 = dir.path().join("nocorr.parquet");
    write_parquet(&p2, cols);
    let msg = read_catalogue(&p2, None, &Selection::default(), false)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("nocorr.parquet") && msg.contains("missing column 'pmra_pmdec_corr'"),
        "{msg}"
    );
    // Missing selection column.
    let msg = read_catalogue(&p, None, &Selection::parse(&["ruwe<1.4"]).unwrap(), false)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("missing column 'ruwe'"), "{msg}");
    // Wrong type.
    let mut cols = standard_columns(vec![Some(1.0); 5]);
    for c in cols.iter_mut() {
        if c.0 == "pmdec" {
            c.1 = Arc::new(StringArray::from(vec!["a", "b", "c", "d", "e"]));
        }
    }
    let p3 = dir.path().join("str.parquet");
    write_parquet(&p3, cols);
    let e = read_catalogue(&p3, None, &Selection::default(), false).unwrap_err();
    assert!(matches!(e, VshError::WrongType { .. }));
    assert!(e.to_string().contains("'pmdec'") && e.to_string().contains("str.parquet"));
    // Out-of-range correlation.
    let mut cols = standard_columns(vec![Some(1.0); 5]);
    for c in cols.iter_mut() {
        if c.0 == "pmra_pmdec_corr" {
            c.1 = f64s(&[Some(0.0), Some(1.0), Some(0.0), Some(0.0), Some(0.0)]);
        }
    }
    let p4 = dir.path().join("corr.parquet");
    write_parquet(&p4, cols);
    let msg = read_catalogue(&p4, None, &Selection::default(), false)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("row 2") && msg.contains("pmra_pmdec_corr"),
        "{msg}"
    );
    // Not a Parquet file at all.
    let p5 = dir.path().join("junk.parquet");
    std::fs::write(&p5, b"not parquet").unwrap();
    let e = read_catalogue(&p5, None, &Selection::default(), false).unwrap_err();
    assert!(matches!(e, VshError::Format { .. }) && e.to_string().contains("junk.parquet"));
}

const GAIA_CSV: &str = "\
source_id,ra,dec,pmra,pmdec,pmra_error,pmdec_error,pmra_pmdec_corr,phot_g_mean_mag,is_qso
11,10.5,-5.0,0.25,-0.5,0.3,0.4,0.05,18.2,True
12,200.0,45.0,,0.1,0.3,0.4,0.0,19.2,False
13,300.0,-60.0,-0.75,0.5,0.2,0.25,-0.3,17.0,True
";

#[test]
fn csv_reads_gaia_exports_and_reports_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gaia.csv");
    std::fs::write(&p, GAIA_CSV).unwrap();
    // The second data row (line 3) has an empty pmra.
    let e = read_catalogue(&p, None, &Selection::default(), false).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("gaia.csv")
            && msg.contains("row 2")
            && msg.contains("'pmra'")
            && msg.contains("missing"),
        "{msg}"
    );
    let c = read_catalogue(&p, None, &Selection::default(), true).unwrap();
    assert_eq!(c.data.len(), 2);
    assert_eq!(c.summary.skipped_invalid.get("pmra"), Some(&1));
    assert!((c.data.pmra[1] + 750.0).abs() < 1e-9);
    // The QSO selection excludes the bad row: no error.
    let c = read_catalogue(
        &p,
        None,
        &Selection::parse(&["is_qso & phot_g_mean_mag>=17"]).unwrap(),
        false,
    )
    .unwrap();
    assert_eq!(c.data.len(), 2);
    // ECSV: '#' header lines, space delimiter declared.
    let ecsv = "# %ECSV 1.0\n# ---\n# delimiter: ' '\n# datatype:\n# - {name: ra, datatype: float64}\n\
                # - {name: dec, datatype: float64}\n# - {name: pmra, datatype: float64}\n\
                # - {name: pmdec, datatype: float64}\n# - {name: pmra_error, datatype: float64}\n\
                # - {name: pmdec_error, datatype: float64}\n# - {name: pmra_pmdec_corr, datatype: float64}\n\
                ra dec pmra pmdec pmra_error pmdec_error pmra_pmdec_corr\n1.0 2.0 3.0 4.0 0.5 0.5 0.0\n";
    let p2 = dir.path().join("gaia.ecsv");
    std::fs::write(&p2, ecsv).unwrap();
    let c = read_catalogue(&p2, None, &Selection::default(), false).unwrap();
    assert_eq!(c.data.len(), 1);
    assert!((c.data.pmdec[0] - 4000.0).abs() < 1e-9);
    // Non-numeric text in a needed column is an error naming line and column.
    let p3 = dir.path().join("text.csv");
    std::fs::write(&p3, GAIA_CSV.replace("-0.75", "abc")).unwrap();
    let msg = read_catalogue(&p3, None, &Selection::default(), true)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("row 3") && msg.contains("\"pmra\"") && msg.contains("abc"),
        "{msg}"
    );
    // Missing column, format forced.
    let p4 = dir.path().join("x.dat");
    std::fs::write(&p4, "ra,dec\n1,2\n").unwrap();
    let msg = read_catalogue(&p4, Some(InputFormat::Csv), &Selection::default(), false)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("x.dat") && msg.contains("missing column 'pmra'"),
        "{msg}"
    );
    // Missing file.
    let e = read_catalogue(
        &dir.path().join("none.csv"),
        None,
        &Selection::default(),
        false,
    )
    .unwrap_err();
    assert!(e.to_string().contains("none.csv"));
}
