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
    // TABLEDATA: float32 scalars read as float32 (bit-identical); the variable-length float32
    // array centroid_pos_error_al keeps its printed digits at float64, as astropy reads it, so it
    // equals the binary values at float32 precision.
    compare("TABLEDATA VOTable vs FITS", &fits, &plain, true);
    for (r, o) in fits.iter().zip(&plain) {
        assert_eq!(
            r.pf.to_bits(),
            o.pf.to_bits(),
            "float32 scalar read as float32"
        );
    }
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

#[test]
fn formats_are_detected_from_content() {
    let cases = [
        (CSV, TableFormat::Csv),
        (ECSV, TableFormat::Ecsv),
        (FITS, TableFormat::Fits),
        (VOT_BIN, TableFormat::VoTable),
        (VOT_PLAIN, TableFormat::VoTable),
        (CU9, TableFormat::Parquet),
    ];
    for (f, want) in cases {
        assert_eq!(TableFormat::detect(&datalink(f)).unwrap(), want, "{f}");
    }
    // Content wins over a misleading extension.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("really_fits.csv");
    std::fs::copy(datalink(FITS), &p).unwrap();
    assert_eq!(TableFormat::detect(&p).unwrap(), TableFormat::Fits);
}

#[test]
fn streaming_chunks_concatenate_to_the_whole_table() {
    for f in [CSV, ECSV, FITS, VOT_BIN, VOT_PLAIN, CU9] {
        let path = datalink(f);
        let whole = read_table(&path, None).unwrap();
        let mut reader = open_table(&path, None).unwrap();
        assert_eq!(
            reader.column_names(),
            whole.column_names().as_slice(),
            "{f}"
        );
        let mut firsts = Vec::new();
        let mut joined: Option<Table> = None;
        while let Some(chunk) = reader.next_chunk(10).unwrap() {
            assert!(chunk.n_rows() <= 10 && chunk.n_rows() > 0, "{f}");
            firsts.push(chunk.first_row);
            match joined.as_mut() {
                None => joined = Some(chunk),
                Some(j) => j.append(chunk).unwrap(),
            }
        }
        assert_eq!(firsts, vec![1, 11, 21, 31, 41, 51, 61, 71], "{f}");
        let joined = joined.unwrap();
        // NaN != NaN: compare the debug text.
        assert_eq!(
            format!("{:?}", joined.columns),
            format!("{:?}", whole.columns),
            "{f}"
        );
    }
}

#[test]
fn units_are_read_from_every_format() {
    for f in [ECSV, FITS, VOT_BIN, VOT_PLAIN] {
        let t = read_table(&datalink(f), None).unwrap();
        let unit = |n: &str| t.find(&[n]).unwrap().unit.clone();
        assert_eq!(unit("centroid_pos_al").as_deref(), Some("mas"), "{f}");
        assert_eq!(unit("scan_pos_angle").as_deref(), Some("deg"), "{f}");
        // nu_eff in "1 / nm" (ECSV) or "nm-1" (FITS, VOTable) reads as PerNm.
        let nu = t
            .f64_column(&["nu_eff_used_in_astrometry"], Unit::PerNm)
            .unwrap();
        assert_eq!(nu[0] as f32, 0.0016043419f32, "{f}");
        // The scan angle in radians: converted from degrees.
        let deg = t.f64_lists(&["scan_pos_angle"], Unit::Deg).unwrap();
        let rad = t.f64_lists(&["scan_pos_angle"], Unit::Rad).unwrap();
        assert!(
            (rad.row(0)[0] - deg.row(0)[0].to_radians()).abs() < 1e-15,
            "{f}"
        );
        // A position read as a proper motion is refused, naming the column.
        let e = t
            .f64_lists(&["centroid_pos_al"], Unit::MasPerYr)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("centroid_pos_al") && e.contains("mas/yr"),
            "{f}: {e}"
        );
    }
}

/// Writes `text` to a file `name` in `dir`.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// An ECSV as astropy writes it by default: no `delimiter` entry, so space-separated, with
/// quoted strings holding spaces, flow-style column entries, a µas/yr proper motion and a
/// masked (empty) value.
const ASTROPY_ECSV: &str = "\
# %ECSV 1.0
# ---
# datatype:
# - {name: source_id, datatype: int64}
# - {name: ra, unit: deg, datatype: float64}
# - {name: pmra, unit: uas / yr, datatype: float64}
# - {name: name, datatype: string}
# - {name: flag, datatype: bool}
# - {name: w, unit: mas, datatype: string, subtype: 'float64[null]'}
# meta: !!omap
# - {comment: written by hand in astropy's default style}
# schema: astropy-2.0
source_id ra pmra name flag w
4295806720 45.5 1500.0 \"HD 1\" True [1.0,null,2.5]
4295806721 46.5 -250.0 \"\" False \"[3.0,NaN]\"
4295806722 47.5 \"\" plain \"\" []
";

#[test]
fn ecsv_astropy_default_space_delimiter_and_units() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "cat.ecsv", ASTROPY_ECSV);
    let t = read_table(&p, None).unwrap();
    assert_eq!(t.format, TableFormat::Ecsv);
    assert_eq!(t.n_rows(), 3);
    assert_eq!(
        t.i64_column(&["source_id"]).unwrap(),
        vec![Some(4295806720), Some(4295806721), Some(4295806722)]
    );
    // µas/yr read as mas/yr: ×1e-3.
    let pm = t.f64_column(&["pmra"], Unit::MasPerYr).unwrap();
    assert!((pm[0] - 1.5).abs() < 1e-15 && (pm[1] + 0.25).abs() < 1e-15);
    assert!(pm[2].is_nan());
    // Without conversion the file's numbers.
    assert_eq!(t.f64_column(&["pmra"], Unit::UasPerYr).unwrap()[0], 1500.0);
    assert_eq!(t.f64_column(&["pmra"], Unit::Any).unwrap()[0], 1500.0);
    // An incompatible unit is an error naming the column.
    let e = t.f64_column(&["pmra"], Unit::Deg).unwrap_err().to_string();
    assert!(e.contains("\"pmra\"") && e.contains("uas / yr"), "{e}");
    let e = t.f64_column(&["ra"], Unit::MasPerYr).unwrap_err();
    assert_eq!(e.column(), Some("ra"));
    assert!(
        e.to_string().contains("\"ra\"") && e.to_string().contains("deg"),
        "{e}"
    );
    let ra = t.f64_column(&["ra"], Unit::Deg).unwrap();
    assert_eq!(ra, vec![45.5, 46.5, 47.5]);
    let text = match &t.find(&["name"]).unwrap().data {
        ColumnData::Text(v) => v.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        text,
        vec![Some("HD 1".to_string()), None, Some("plain".to_string())]
    );
    assert_eq!(
        t.bool_column(&["flag"]).unwrap(),
        vec![Some(true), Some(false), None]
    );
    let w = t.f64_lists(&["w"], Unit::Mas).unwrap();
    assert_eq!(w.row(0)[0], 1.0);
    assert!(w.row(0)[1].is_nan());
    assert_eq!(w.row(0)[2], 2.5);
    assert_eq!(w.row(1).len(), 2);
    assert!(w.row(2).is_empty());

    // The same table with an explicit comma delimiter reads the same.
    let comma = ASTROPY_ECSV
        .replace(
            "# schema: astropy-2.0",
            "# delimiter: ','\n# schema: astropy-2.0",
        )
        .replace(
            "source_id ra pmra name flag w",
            "source_id,ra,pmra,name,flag,w",
        )
        .replace(
            "4295806720 45.5 1500.0 \"HD 1\" True [1.0,null,2.5]",
            "4295806720,45.5,1500.0,HD 1,True,\"[1.0,null,2.5]\"",
        )
        .replace(
            "4295806721 46.5 -250.0 \"\" False \"[3.0,NaN]\"",
            "4295806721,46.5,-250.0,,False,\"[3.0,NaN]\"",
        )
        .replace(
            "4295806722 47.5 \"\" plain \"\" []",
            "4295806722,47.5,,plain,,[]",
        );
    let p2 = write(dir.path(), "comma.ecsv", &comma);
    let t2 = read_table(&p2, None).unwrap();
    assert_eq!(format!("{:?}", t2.columns), format!("{:?}", t.columns));

    // The real ECSV file has no delimiter line either (space-separated).
    let real_ecsv = std::fs::read_to_string(datalink(ECSV)).unwrap();
    assert!(!real_ecsv.contains("# delimiter"));
}

#[test]
fn ecsv_with_a_wrong_delimiter_says_why() {
    // Names separated by commas while the header declares none: the message says the
    // default is a space.
    let dir = tempfile::tempdir().unwrap();
    let text = ASTROPY_ECSV.replace(
        "source_id ra pmra name flag w",
        "source_id,ra,pmra,name,flag,w",
    );
    let p = write(dir.path(), "bad.ecsv", &text);
    let e = err_of(read_table(&p, None)).to_string();
    assert!(e.contains("line 13") && e.contains("space"), "{e}");
}

#[test]
fn csv_nulls_and_array_strings() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "t.csv",
        "# a Gaia-style comment\n\
         id,x,arr,flags,t\n\
         1,1.5,\"(1.0, 2.0, , null, NaN)\",\"(true, false, )\",\"(1, , 3)\"\n\
         2,,\"[4.0]\",\"{T F}\",\"[151942290263873806]\"\n\
         3,NaN,,,\n",
    );
    let t = read_table(&p, None).unwrap();
    assert_eq!(t.n_rows(), 3);
    let x = t.f64_column(&["x"], Unit::Any).unwrap();
    assert_eq!(x[0], 1.5);
    assert!(x[1].is_nan() && x[2].is_nan());
    let a = t.f64_lists(&["arr"], Unit::Any).unwrap();
    assert_eq!(&a.row(0)[..2], &[1.0, 2.0]);
    assert_eq!(a.row(0).len(), 5);
    assert!(a.row(0)[2..].iter().all(|v| v.is_nan()));
    assert_eq!(a.row(1), &[4.0]);
    assert!(a.row(2).is_empty());
    let f = t.bool_lists(&["flags"]).unwrap();
    assert_eq!(f.row(0), &[Some(true), Some(false), None]);
    assert_eq!(f.row(1), &[Some(true), Some(false)]);
    let i = t.i64_lists(&["t"]).unwrap();
    assert_eq!(i.row(0), &[Some(1), None, Some(3)]);
    assert_eq!(i.row(1), &[Some(151942290263873806)]);
    // A scalar column read as lists: lists of one.
    let xl = t.f64_lists(&["x"], Unit::Any).unwrap();
    assert_eq!(xl.row(0), &[1.5]);
    // Names: exact first, then case-insensitive.
    assert!(t.find(&["ID"]).is_some());
    assert!(t.find(&["nope", "X"]).is_some());
}

#[test]
fn fits_logicals_nulls_and_scaling() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.fits");
    let cols = vec![
        Column {
            name: "flag".into(),
            unit: None,
            data: ColumnData::Bool(vec![Some(true), Some(false), None]),
        },
        Column {
            name: "id".into(),
            unit: None,
            data: ColumnData::Int(vec![Some(4295806720), None, Some(-3)]),
        },
        Column {
            name: "pmra".into(),
            unit: Some("uas/yr".into()),
            data: ColumnData::Float(vec![1000.0, f64::NAN, -2.0]),
        },
        Column {
            name: "name".into(),
            unit: None,
            data: ColumnData::Text(vec![Some("HD 1".into()), None, Some("x".into())]),
        },
        Column {
            name: "w".into(),
            unit: Some("mas".into()),
            data: ColumnData::FloatList(ListColumn::from_rows(vec![
                vec![1.0, f64::NAN],
                vec![],
                vec![3.0],
            ])),
        },
        Column {
            name: "used".into(),
            unit: None,
            data: ColumnData::BoolList(ListColumn::from_rows(vec![
                vec![Some(false), Some(true)],
                vec![None],
                vec![],
            ])),
        },
    ];
    write_fits(&p, &cols).unwrap();
    let t = read_table(&p, None).unwrap();
    assert_eq!(t.format, TableFormat::Fits);
    assert_eq!(
        t.bool_column(&["flag"]).unwrap(),
        vec![Some(true), Some(false), None]
    );
    assert_eq!(
        t.i64_column(&["id"]).unwrap(),
        vec![Some(4295806720), None, Some(-3)]
    );
    let pm = t.f64_column(&["pmra"], Unit::MasPerYr).unwrap();
    assert_eq!((pm[0], pm[2]), (1.0, -2e-3));
    assert!(pm[1].is_nan());
    let used = t.bool_lists(&["used"]).unwrap();
    assert_eq!(used.row(0), &[Some(false), Some(true)]);
    assert_eq!(used.row(1), &[None]);
    let w = t.f64_lists(&["w"], Unit::Mas).unwrap();
    assert_eq!(w.row(0)[0], 1.0);
    assert!(w.row(0)[1].is_nan());
    assert!(w.row(1).is_empty());
    assert_eq!(
        format!("{:?}", t.columns[3].data),
        format!("{:?}", cols[3].data)
    );

    // The real file's logicals are the bytes 'T'/'F' in the heap.
    let real = read_table(&datalink(FITS), None).unwrap();
    let u = real.bool_lists(&["used_by_agis_al"]).unwrap();
    assert_eq!(u.row(0)[0], Some(false));
    assert_eq!(u.row(0)[1], Some(true));
}

/// A FITS file from header cards (without END) of one BINTABLE and its data bytes.
fn fits_file(dir: &Path, name: &str, cards: &[String], data: &[u8]) -> PathBuf {
    fn block(out: &mut Vec<u8>, cards: &[String]) {
        for c in cards.iter().map(String::as_str).chain(["END"]) {
            let mut b = c.as_bytes().to_vec();
            b.resize(80, b' ');
            out.extend(b);
        }
        while !out.len().is_multiple_of(2880) {
            out.push(b' ');
        }
    }
    let mut out = Vec::new();
    block(
        &mut out,
        &[
            "SIMPLE  =                    T",
            "BITPIX  =                    8",
            "NAXIS   =                    0",
        ]
        .map(String::from),
    );
    block(&mut out, cards);
    out.extend_from_slice(data);
    while out.len() % 2880 != 0 {
        out.push(0);
    }
    let p = dir.join(name);
    std::fs::write(&p, out).unwrap();
    p
}

#[test]
fn fits_tzero_tnull_tscal() {
    let dir = tempfile::tempdir().unwrap();
    let cards: Vec<String> = [
        "XTENSION= 'BINTABLE'",
        "BITPIX  =                    8",
        "NAXIS   =                    2",
        "NAXIS1  =                   18",
        "NAXIS2  =                    2",
        "PCOUNT  =                    0",
        "GCOUNT  =                    1",
        "TFIELDS =                    4",
        "TTYPE1  = 'u16     '",
        "TFORM1  = 'I       '",
        "TZERO1  =                32768",
        "TTYPE2  = 'j       '",
        "TFORM2  = 'J       '",
        "TNULL2  =                   -1",
        "TTYPE3  = 'scaled  '",
        "TFORM3  = 'E       '",
        "TSCAL3  =                  2.0",
        "TZERO3  =                  1.0",
        "TUNIT3  = 'mas     '",
        "TTYPE4  = 'u64     '",
        "TFORM4  = 'K       '",
        "TZERO4  =  9223372036854775808",
    ]
    .map(String::from)
    .to_vec();
    let mut data = Vec::new();
    for (u, j, e, k) in [
        (i16::MIN, 7i32, 1.5f32, i64::MIN),
        (i16::MAX, -1, -0.5, i64::MIN + 5),
    ] {
        data.extend(u.to_be_bytes());
        data.extend(j.to_be_bytes());
        data.extend(e.to_be_bytes());
        data.extend(k.to_be_bytes());
    }
    let p = fits_file(dir.path(), "scaled.fits", &cards, &data);
    let t = read_table(&p, None).unwrap();
    assert_eq!(t.i64_column(&["u16"]).unwrap(), vec![Some(0), Some(65535)]);
    assert_eq!(t.i64_column(&["j"]).unwrap(), vec![Some(7), None]);
    assert_eq!(
        t.f64_column(&["scaled"], Unit::Mas).unwrap(),
        vec![4.0, 0.0]
    );
    assert_eq!(t.i64_column(&["u64"]).unwrap(), vec![Some(0), Some(5)]);
    // A value beyond int64 after TZERO is an error naming row and column.
    let mut data2 = data.clone();
    data2[10..18].copy_from_slice(&0i64.to_be_bytes()); // row 1 u64 = 2^63
    let p = fits_file(dir.path(), "big.fits", &cards, &data2);
    let e = err_of(read_table(&p, None));
    assert_eq!((e.row(), e.column()), (Some(1), Some("u64")), "{e}");
    // A logical byte that is neither 'T', 'F' nor 0.
    let cards_l: Vec<String> = [
        "XTENSION= 'BINTABLE'",
        "BITPIX  =                    8",
        "NAXIS   =                    2",
        "NAXIS1  =                    1",
        "NAXIS2  =                    3",
        "PCOUNT  =                    0",
        "GCOUNT  =                    1",
        "TFIELDS =                    1",
        "TTYPE1  = 'flag    '",
        "TFORM1  = 'L       '",
    ]
    .map(String::from)
    .to_vec();
    let p = fits_file(dir.path(), "l.fits", &cards_l, b"TF\0");
    let t = read_table(&p, None).unwrap();
    assert_eq!(
        t.bool_column(&["flag"]).unwrap(),
        vec![Some(true), Some(false), None]
    );
    let p = fits_file(dir.path(), "l2.fits", &cards_l, b"TFx");
    let e = err_of(read_table(&p, None));
    assert_eq!((e.row(), e.column()), (Some(3), Some("flag")), "{e}");
}

/// The error of a read expected to fail (without printing a whole table otherwise).
fn err_of(r: Result<Table, IoError>) -> IoError {
    match r {
        Ok(t) => panic!(
            "{}: read {} rows, expected an error",
            t.path.display(),
            t.n_rows()
        ),
        Err(e) => e,
    }
}

fn assert_names_file(e: &IoError, path: &Path) {
    assert_eq!(e.path(), path, "{e}");
    assert!(
        e.to_string().starts_with(&path.display().to_string()),
        "{e}"
    );
}

#[test]
fn missing_column_message_lists_accepted_and_present_names() {
    let path = datalink(CU9);
    let t = read_table(&path, None).unwrap();
    let e = t
        .f64_column(&["centroid_pos_al_x", "centroidPosAlX"], Unit::Mas)
        .unwrap_err();
    assert_names_file(&e, &path);
    let m = e.to_string();
    assert!(
        m.contains("\"centroid_pos_al_x\" or \"centroidPosAlX\""),
        "{m}"
    );
    assert!(
        m.contains("columns present: \"sourceId\", \"obsTimeBaryCorr\""),
        "{m}"
    );
    // Not self-contradictory: a name with stray spaces in the caller's list or the file's
    // header is matched after trimming.
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "sp.csv", " source_id , ra ,dec\n1,2,3\n");
    let t = read_table(&p, None).unwrap();
    assert_eq!(t.f64_column(&[" ra"], Unit::Deg).unwrap(), vec![2.0]);
    assert_eq!(t.i64_column(&["source_id"]).unwrap(), vec![Some(1)]);
}

#[test]
fn bad_cells_name_file_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "bad.csv",
        "id,x,arr\n1,1.0,\"(1.0, 2.0)\"\n2,abc,\"(1.0, x)\"\n3,2.0,\"(1.0, 2.0\"\n",
    );
    let t = read_table(&p, None).unwrap();
    // Text in a float column.
    let e = t.f64_column(&["x"], Unit::Any).unwrap_err();
    assert_names_file(&e, &p);
    assert_eq!((e.row(), e.column()), (Some(2), Some("x")), "{e}");
    assert!(e.to_string().contains("\"abc\""), "{e}");
    // Unparseable array element, then unbalanced brackets.
    let e = t.f64_lists(&["arr"], Unit::Any).unwrap_err();
    assert_eq!((e.row(), e.column()), (Some(2), Some("arr")), "{e}");
    assert!(e.to_string().contains("array element 2"), "{e}");
    // Rows are numbered in the file even when read by chunks.
    let mut r = open_table(&p, None).unwrap();
    let _first = r.next_chunk(2).unwrap().unwrap();
    let second = r.next_chunk(2).unwrap().unwrap();
    assert_eq!(second.first_row, 3);
    let e = second.f64_lists(&["arr"], Unit::Any).unwrap_err();
    assert_eq!((e.row(), e.column()), (Some(3), Some("arr")), "{e}");
    assert!(e.to_string().contains("unbalanced"), "{e}");
    // A wrong type: a text column where integers are needed.
    let e = t.i64_column(&["x"]).unwrap_err();
    assert_eq!((e.row(), e.column()), (Some(2), Some("x")), "{e}");
    // A typed file: ECSV declares float64, a cell is text.
    let ecsv = ASTROPY_ECSV.replace("4295806721 46.5", "4295806721 oops");
    let p = write(dir.path(), "bad.ecsv", &ecsv);
    let e = err_of(read_table(&p, None));
    assert_names_file(&e, &p);
    assert_eq!((e.row(), e.column()), (Some(2), Some("ra")), "{e}");
    // A CSV row with too many fields: the line is named.
    let p = write(dir.path(), "ragged.csv", "a,b\n1,2\n3,4,5\n");
    let e = err_of(read_table(&p, None)).to_string();
    assert!(e.contains("line 3") && e.contains("3 fields"), "{e}");
    // A bad TABLEDATA number.
    let vot = std::fs::read_to_string(datalink(VOT_PLAIN))
        .unwrap()
        .replacen("<TD>0.6812349</TD>", "<TD>zero</TD>", 1);
    let p = write(dir.path(), "bad.vot.xml", &vot);
    let e = err_of(read_table(&p, None));
    assert_eq!(
        (e.row(), e.column()),
        (Some(1), Some("parallax_factor_al")),
        "{e}"
    );
}

#[test]
fn unknown_format_empty_and_truncated_files() {
    let dir = tempfile::tempdir().unwrap();
    // Random bytes, no extension.
    let mut x: u64 = 0x9E3779B97F4A7C15;
    let bytes: Vec<u8> = (0..3000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let p = dir.path().join("noise");
    std::fs::write(&p, &bytes).unwrap();
    let e = err_of(read_table(&p, None));
    assert_names_file(&e, &p);
    assert!(e.to_string().contains("unknown table format"), "{e}");
    // Random bytes named .csv: an error, not a panic.
    let p = dir.path().join("noise.csv");
    std::fs::write(&p, &bytes).unwrap();
    assert!(read_table(&p, None).is_err());
    // Random bytes named .fits / .parquet / .xml.
    for ext in ["fits", "parquet", "xml", "ecsv"] {
        let p = dir.path().join(format!("noise.{ext}"));
        std::fs::write(&p, &bytes).unwrap();
        let e = err_of(read_table(&p, None));
        assert_names_file(&e, &p);
    }
    // Header only: 0 rows.
    let p = write(dir.path(), "empty.csv", "source_id,ra,dec\n");
    let t = read_table(&p, None).unwrap();
    assert_eq!(t.n_rows(), 0);
    assert_eq!(t.column_names(), vec!["source_id", "ra", "dec"]);
    assert!(t.f64_column(&["ra"], Unit::Deg).unwrap().is_empty());
    let ecsv: String = ASTROPY_ECSV
        .lines()
        .take_while(|l| !l.starts_with("4295"))
        .map(|l| format!("{l}\n"))
        .collect();
    let p = write(dir.path(), "empty.ecsv", &ecsv);
    assert_eq!(read_table(&p, None).unwrap().n_rows(), 0);
    let p = dir.path().join("empty.fits");
    write_fits(
        &p,
        &[Column {
            name: "ra".into(),
            unit: Some("deg".into()),
            data: ColumnData::Float(vec![]),
        }],
    )
    .unwrap();
    let t = read_table(&p, None).unwrap();
    assert_eq!((t.n_rows(), t.column_names()), (0, vec!["ra"]));
    // An empty file.
    let p = write(dir.path(), "nothing.csv", "");
    assert!(read_table(&p, None).is_err());
    // Truncated FITS and Parquet, and a VOTable cut in its TABLEDATA.
    for (f, cut) in [
        (FITS, 20000),
        (FITS, 2000),
        (CU9, 30000),
        (CU9, 100),
        (VOT_PLAIN, 50000),
        (VOT_BIN, 30000),
    ] {
        let full = std::fs::read(datalink(f)).unwrap();
        let p = dir.path().join(format!("cut_{cut}_{f}"));
        std::fs::write(&p, &full[..cut]).unwrap();
        let e = err_of(read_table(&p, None));
        assert_names_file(&e, &p);
    }
    // A FITS heap descriptor pointing past the heap: row and column named.
    let mut full = std::fs::read(datalink(FITS)).unwrap();
    // The first row's descriptor of centroid_pos_al (third column, after K and E: byte
    // offset 12 of the row), at the start of the data (after the second header's END).
    let end_cards: Vec<usize> = (0..full.len() / 80)
        .filter(|&k| full[80 * k..80 * k + 8] == *b"END     ")
        .collect();
    let data_start = (80 * end_cards[1] + 80).div_ceil(2880) * 2880;
    full[data_start + 12 + 4..data_start + 12 + 8].copy_from_slice(&1_000_000i32.to_be_bytes());
    let p = dir.path().join("bad_heap.fits");
    std::fs::write(&p, &full).unwrap();
    let e = err_of(read_table(&p, None));
    assert_eq!(
        (e.row(), e.column()),
        (Some(1), Some("centroid_pos_al")),
        "{e}"
    );
}

#[test]
fn parquet_null_list_elements_units_and_int_range() {
    use arrow_array::builder::{Float64Builder, ListBuilder};
    use arrow_array::{ArrayRef, RecordBatch, UInt64Array};
    use arrow_schema::{Field, Schema};
    use std::collections::HashMap;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let mut lb = ListBuilder::new(Float64Builder::new());
    lb.values().append_value(1.0);
    lb.values().append_null();
    lb.append(true);
    lb.append(false); // a null list
    lb.values().append_value(3.0);
    lb.append(true);
    let list: ArrayRef = Arc::new(lb.finish());
    let ids: ArrayRef = Arc::new(UInt64Array::from(vec![1u64, 2, u64::MAX]));
    let unit = HashMap::from([("unit".to_string(), "uas".to_string())]);
    let schema = Schema::new(vec![
        Field::new("w", list.data_type().clone(), true).with_metadata(unit),
        Field::new("id", ids.data_type().clone(), false),
    ]);
    let batch = RecordBatch::try_new(Arc::new(schema), vec![list, ids]).unwrap();
    let p = dir.path().join("l.parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&p).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    // The third id is beyond int64: the error names its row.
    let e = err_of(read_table(&p, None));
    assert_eq!((e.row(), e.column()), (Some(3), Some("id")), "{e}");
    // The first two rows read; the unit from the field metadata converts µas to mas.
    let mut r = open_table(&p, None).unwrap();
    let t = r.next_chunk(2).unwrap().unwrap();
    assert_eq!(t.i64_column(&["id"]).unwrap(), vec![Some(1), Some(2)]);
    let l = t.f64_lists(&["w"], Unit::Mas).unwrap();
    assert_eq!(l.row(0)[0], 1e-3);
    assert!(l.row(0)[1].is_nan());
    assert!(l.row(1).is_empty());
}
