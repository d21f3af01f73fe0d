//! The table reader on the real Gaia DR4 DataLink files (one source, 79 transits, in six
//! formats) and on malformed or hand-written inputs.
//!
//! Comparisons between formats: binary formats (FITS, BINARY2 VOTable, Parquet) must agree
//! bit for bit. Text formats are compared by text round-trip: a float64 column printed in
//! full (shortest round-trip repr) must give the same bits; a float32 column printed to
//! float32 precision must give the same float32 (read text as f32 == binary f32).

use astrosolve_io::tabular::*;
use astrosolve_io::IoError;
use std::path::{Path, PathBuf};

fn real(p: &str) -> PathBuf {
    let root = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/real"
    ));
    assert!(
        root.is_dir(),
        "real test data missing: expected the folder {} (see issue 12)",
        root.display()
    );
    root.join(p)
}

const DATALINK: &str = "gaia-dr4-epoch/datalink";

fn datalink(name: &str) -> PathBuf {
    real(&format!("{DATALINK}/{name}"))
}

const CSV: &str = "EPOCH_ASTROMETRY-Gaia DR4_INT2 1.csv";
const ECSV: &str = "EPOCH_ASTROMETRY-Gaia DR4_INT2 1.ecsv";
const FITS: &str = "EPOCH_ASTROMETRY-Gaia DR4_INT2 1.fits";
const VOT_BIN: &str = "EPOCH_ASTROMETRY-Gaia DR4_INT2 1.xml";
const VOT_PLAIN: &str = "EPOCH_ASTROMETRY-Gaia DR4_INT2 1.votplain.xml";
const CU9: &str = "1_epoch_astrometry.parquet";

/// One transit's values, as read through the accessors with alias names.
#[derive(Debug, Clone)]
struct Transit {
    source_id: Option<i64>,
    w: Vec<f64>,
    w_err: Vec<f64>,
    theta: Vec<f64>,
    /// Times; 0 (the archive's null for an integer array element) → None.
    t: Vec<Option<i64>>,
    /// Times as float (the CU9 file stores them as float64).
    t_f: Vec<f64>,
    pf: f64,
    used: Vec<Option<bool>>,
}

fn read_transits(path: &Path) -> Vec<Transit> {
    let tab = read_table(path, None).unwrap_or_else(|e| panic!("{e}"));
    let sid = tab.i64_column(&["source_id", "sourceId"]).unwrap();
    let w = tab
        .f64_lists(&["centroid_pos_al", "centroidPosAl"], Unit::Mas)
        .unwrap();
    let we = tab
        .f64_lists(&["centroid_pos_error_al", "centroidPosErrorAl"], Unit::Mas)
        .unwrap();
    let th = tab
        .f64_lists(&["scan_pos_angle", "scanPosAngle"], Unit::Deg)
        .unwrap();
    let tf = tab
        .f64_lists(&["obs_time_tcb", "obsTimeTcb"], Unit::Ns)
        .unwrap();
    let ti = tab.i64_lists(&["obs_time_tcb", "obsTimeTcb"]).unwrap();
    let pf = tab
        .f64_column(
            &["parallax_factor_al", "parallaxFactorAl"],
            Unit::Dimensionless,
        )
        .unwrap();
    let used = tab
        .bool_lists(&["used_by_agis_al", "usedByAgisAl"])
        .unwrap();
    (0..tab.n_rows())
        .map(|i| Transit {
            source_id: sid[i],
            w: w.row(i).to_vec(),
            w_err: we.row(i).to_vec(),
            theta: th.row(i).to_vec(),
            t: ti.row(i).iter().map(|&x| x.filter(|&x| x != 0)).collect(),
            t_f: tf.row(i).to_vec(),
            pf: pf[i],
            used: used.row(i).to_vec(),
        })
        .collect()
}

/// Sort key of a transit: its first non-null time (rows of the CU9 file are in another
/// order); transits without any time go last, in file order.
fn key(t: &Transit) -> f64 {
    t.t_f
        .iter()
        .copied()
        .find(|&x| x.is_finite() && x != 0.0)
        .unwrap_or(f64::INFINITY)
}

fn sorted(mut v: Vec<Transit>) -> Vec<Transit> {
    v.sort_by(|a, b| key(a).total_cmp(&key(b)));
    v
}

fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn same_f32(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a as f32).to_bits() == (b as f32).to_bits()
}

/// Compares `other` to the reference transits. `f32_text`: float32 columns compared at
/// float32 precision (text files that print float32 values to float32 precision).
fn compare(name: &str, reference: &[Transit], other: &[Transit], f32_text: bool) {
    assert_eq!(reference.len(), other.len(), "{name}: number of transits");
    let f32cmp = |a: f64, b: f64| {
        if f32_text {
            same_f32(a, b)
        } else {
            same_f64(a, b)
        }
    };
    for (i, (r, o)) in reference.iter().zip(other).enumerate() {
        assert_eq!(r.source_id, o.source_id, "{name}: transit {i} source_id");
        let lists: [(&str, &Vec<f64>, &Vec<f64>, bool); 3] = [
            ("centroid_pos_al", &r.w, &o.w, false),
            ("centroid_pos_error_al", &r.w_err, &o.w_err, true),
            ("scan_pos_angle", &r.theta, &o.theta, false),
        ];
        for (col, a, b, is_f32) in lists {
            assert_eq!(a.len(), b.len(), "{name}: transit {i} {col} length");
            for (k, (&x, &y)) in a.iter().zip(b).enumerate() {
                let ok = if is_f32 { f32cmp(x, y) } else { same_f64(x, y) };
                assert!(ok, "{name}: transit {i} {col}[{k}]: {x:?} vs {y:?}");
            }
        }
        assert!(
            f32cmp(r.pf, o.pf),
            "{name}: transit {i} parallax_factor_al {} vs {}",
            r.pf,
            o.pf
        );
        // The archive's text and FITS files write a null boolean element as false.
        let flags =
            |v: &Vec<Option<bool>>| v.iter().map(|b| b.unwrap_or(false)).collect::<Vec<_>>();
        assert_eq!(
            flags(&r.used),
            flags(&o.used),
            "{name}: transit {i} used_by_agis_al"
        );
    }
}

fn check_times_exact(name: &str, reference: &[Transit], other: &[Transit]) {
    for (i, (r, o)) in reference.iter().zip(other).enumerate() {
        assert_eq!(r.t, o.t, "{name}: transit {i} obs_time_tcb");
    }
}

#[test]
fn csv_reads_the_archive_file() {
    let path = datalink(CSV);
    let tab = read_table(&path, None).unwrap();
    assert_eq!(tab.format, TableFormat::Csv);
    assert_eq!(tab.n_rows(), 79);
    // The repeated header `used_by_agis_al` is renamed to `used_by_agis_ac`.
    let names = tab.column_names();
    assert_eq!(names.iter().filter(|n| **n == "used_by_agis_al").count(), 1);
    assert_eq!(names[9], "used_by_agis_ac");
    let t = read_transits(&path);
    assert!(t.iter().all(|t| t.source_id == Some(1)));
    assert_eq!(t[0].t[0], Some(151942290263873806));
    assert_eq!(t[0].used[0], Some(false));
    assert_eq!(t[0].used[1], Some(true));
    // Row 10 is all NaN in the file.
    assert!(t[9].w.iter().all(|x| x.is_nan()));
}

#[test]
fn all_six_datalink_files_agree() {
    let csv = read_transits(&datalink(CSV));
    let ecsv = read_transits(&datalink(ECSV));
    let cu9 = read_transits(&datalink(CU9));
    assert_eq!(csv.len(), 79);
    // CSV vs ECSV: same row order; ECSV prints float32 arrays in float64 repr of the
    // float32, CSV in float32 repr: both give the same float32.
    compare("ECSV vs CSV", &csv, &ecsv, true);
    check_times_exact("ECSV vs CSV", &csv, &ecsv);
    // CU9 Parquet: real list columns, camelCase names, rows in another order, times as
    // float64 (so compared as the float64 nearest to the CSV's integer).
    // Binary formats: FITS and BINARY2 VOTable bit-identical to each other and to the CU9
    // Parquet's values; TABLEDATA prints float32 to float32 precision.
    let fits = read_transits(&datalink(FITS));
    let vot = read_transits(&datalink(VOT_BIN));
    let plain = read_transits(&datalink(VOT_PLAIN));
    compare("FITS vs binary VOTable", &fits, &vot, false);
    check_times_exact("FITS vs binary VOTable", &fits, &vot);
    compare("FITS vs CSV", &fits, &csv, true);
    check_times_exact("FITS vs CSV", &fits, &csv);
    compare("TABLEDATA VOTable vs FITS", &fits, &plain, false);
    check_times_exact("TABLEDATA VOTable vs FITS", &fits, &plain);
    compare("ECSV vs FITS", &fits, &ecsv, false);
    let csv_s = sorted(csv.clone());
    let cu9_s = sorted(cu9);
    compare("CU9 Parquet vs CSV", &csv_s, &cu9_s, true);
    compare("CU9 Parquet vs FITS", &sorted(fits.clone()), &cu9_s, false);
    for (i, (a, b)) in csv_s.iter().zip(&cu9_s).enumerate() {
        for (k, (x, y)) in a.t.iter().zip(&b.t_f).enumerate() {
            match x {
                Some(x) => assert_eq!(*x as f64, *y, "CU9 transit {i} time[{k}]"),
                None => assert!(y.is_nan() || *y == 0.0, "CU9 transit {i} time[{k}]: {y}"),
            }
        }
    }
}
