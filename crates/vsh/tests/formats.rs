//! The same synthetic catalogue written as Parquet, CSV, ECSV in astropy's default style
//! (space-separated, no `delimiter` line), FITS binary table and VOTable (TABLEDATA) gives
//! identical VSH coefficients (bit for bit: every format holds the same float64 values,
//! text formats printed in shortest round-trip form); a proper motion stated in µas/yr is
//! converted, and one stated in degrees is refused naming the column.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch};
use astrosolve_io::tabular::{write_fits, Column, ColumnData};
use astrosolve_vsh::input::InputFormat;
use astrosolve_vsh::synth::{generate, SynthConfig};
use astrosolve_vsh::{analyse_file, AnalysisOptions, VshError};
use parquet::arrow::ArrowWriter;

/// The catalogue's columns in file units (deg, mas/yr).
struct Cat {
    source_id: Vec<i64>,
    ra: Vec<f64>,
    dec: Vec<f64>,
    pmra: Vec<f64>,
    pmdec: Vec<f64>,
    pmra_error: Vec<f64>,
    pmdec_error: Vec<f64>,
    corr: Vec<f64>,
    gmag: Vec<f64>,
    is_qso: Vec<bool>,
}

fn catalogue(n: usize) -> Cat {
    // Rotation, glide and some degree-2 power [µas/yr].
    let mut truth = vec![0.0; 16];
    for (k, v) in truth.iter_mut().enumerate() {
        *v = 3.0 * ((k as f64) * 0.7).sin();
    }
    let syn = generate(&SynthConfig {
        n,
        truth,
        sigma_range: (100.0, 400.0),
        max_corr: 0.5,
        seed: 7,
        ..Default::default()
    });
    let d = &syn.data;
    let is_qso: Vec<bool> = (0..n).map(|i| i % 10 != 0).collect();
    // Non-QSOs get wild proper motions: a reader that loses the selection fails.
    let wild = |i: usize, v: f64| if is_qso[i] { v } else { v + 5.0e5 };
    Cat {
        source_id: (0..n as i64).map(|i| 4_295_806_720 + i).collect(),
        ra: d.ra.iter().map(|x| x.to_degrees()).collect(),
        dec: d.dec.iter().map(|x| x.to_degrees()).collect(),
        pmra: (0..n).map(|i| wild(i, d.pmra[i]) / 1000.0).collect(),
        pmdec: (0..n).map(|i| wild(i, d.pmdec[i]) / 1000.0).collect(),
        pmra_error: d.pmra_error.iter().map(|x| x / 1000.0).collect(),
        pmdec_error: d.pmdec_error.iter().map(|x| x / 1000.0).collect(),
        corr: d.pmra_pmdec_corr.clone(),
        gmag: (0..n).map(|i| 14.0 + (i % 7) as f64).collect(),
        is_qso,
    }
}

/// The float columns with their units: (name, unit, values).
fn floats(c: &Cat) -> Vec<(&'static str, &'static str, &Vec<f64>)> {
    vec![
        ("ra", "deg", &c.ra),
        ("dec", "deg", &c.dec),
        ("pmra", "mas / yr", &c.pmra),
        ("pmdec", "mas / yr", &c.pmdec),
        ("pmra_error", "mas / yr", &c.pmra_error),
        ("pmdec_error", "mas / yr", &c.pmdec_error),
        ("pmra_pmdec_corr", "", &c.corr),
        ("phot_g_mean_mag", "mag", &c.gmag),
    ]
}

fn write_parquet(c: &Cat, path: &Path) {
    let mut cols: Vec<(&str, ArrayRef)> = vec![(
        "source_id",
        Arc::new(Int64Array::from(c.source_id.clone())) as ArrayRef,
    )];
    for (name, _, v) in floats(c) {
        cols.push((name, Arc::new(Float64Array::from(v.clone())) as ArrayRef));
    }
    cols.push((
        "is_qso",
        Arc::new(BooleanArray::from(c.is_qso.clone())) as ArrayRef,
    ));
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// Rows of cells, floats in shortest round-trip form.
fn rows(c: &Cat, t: &str, f: &str) -> Vec<Vec<String>> {
    (0..c.ra.len())
        .map(|i| {
            let mut r = vec![c.source_id[i].to_string()];
            r.extend(floats(c).iter().map(|(_, _, v)| format!("{:?}", v[i])));
            r.push(if c.is_qso[i] { t } else { f }.to_string());
            r
        })
        .collect()
}

fn names(c: &Cat) -> Vec<&'static str> {
    let mut n = vec!["source_id"];
    n.extend(floats(c).iter().map(|(n, _, _)| *n));
    n.push("is_qso");
    n
}

fn write_csv(c: &Cat, path: &Path) {
    let mut s = String::from("# Gaia archive style export\n");
    s.push_str(&names(c).join(","));
    s.push('\n');
    for r in rows(c, "True", "False") {
        s.push_str(&r.join(","));
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

/// ECSV as astropy writes it by default: no `delimiter` line (space-separated).
/// `pm_scale`/`pm_unit`: proper motions (not their errors) multiplied and labelled so.
fn write_ecsv(c: &Cat, path: &Path, pm_unit: &str, pm_scale: f64) {
    let mut s =
        String::from("# %ECSV 1.0\n# ---\n# datatype:\n# - {name: source_id, datatype: int64}\n");
    for (name, unit, _) in floats(c) {
        let unit = if name == "pmra" || name == "pmdec" {
            pm_unit
        } else {
            unit
        };
        if unit.is_empty() {
            s.push_str(&format!("# - {{name: {name}, datatype: float64}}\n"));
        } else {
            s.push_str(&format!(
                "# - {{name: {name}, unit: {unit}, datatype: float64}}\n"
            ));
        }
    }
    s.push_str("# - {name: is_qso, datatype: bool}\n# schema: astropy-2.0\n");
    s.push_str(&names(c).join(" "));
    s.push('\n');
    for (i, mut r) in rows(c, "True", "False").into_iter().enumerate() {
        if pm_scale != 1.0 {
            r[3] = format!("{:?}", c.pmra[i] * pm_scale);
            r[4] = format!("{:?}", c.pmdec[i] * pm_scale);
        }
        s.push_str(&r.join(" "));
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

fn write_fits_cat(c: &Cat, path: &Path) {
    let mut cols = vec![Column {
        name: "source_id".into(),
        unit: None,
        data: ColumnData::Int(c.source_id.iter().map(|&x| Some(x)).collect()),
    }];
    for (name, unit, v) in floats(c) {
        cols.push(Column {
            name: name.into(),
            unit: (!unit.is_empty()).then(|| unit.replace(" / ", "/")),
            data: ColumnData::Float(v.clone()),
        });
    }
    cols.push(Column {
        name: "is_qso".into(),
        unit: None,
        data: ColumnData::Bool(c.is_qso.iter().map(|&b| Some(b)).collect()),
    });
    write_fits(path, &cols).unwrap();
}

fn write_votable(c: &Cat, path: &Path) {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<VOTABLE version=\"1.4\" \
         xmlns=\"http://www.ivoa.net/xml/VOTable/v1.3\">\n<RESOURCE type=\"results\">\n<TABLE>\n\
         <FIELD name=\"source_id\" datatype=\"long\"/>\n",
    );
    for (name, unit, _) in floats(c) {
        let unit = unit.replace(" / ", ".").replace("yr", "yr**-1");
        s.push_str(&format!(
            "<FIELD name=\"{name}\" datatype=\"double\" unit=\"{unit}\"/>\n"
        ));
    }
    s.push_str("<FIELD name=\"is_qso\" datatype=\"boolean\"/>\n<DATA><TABLEDATA>\n");
    for r in rows(c, "T", "F") {
        s.push_str("<TR>");
        for cell in r {
            s.push_str(&format!("<TD>{cell}</TD>"));
        }
        s.push_str("</TR>\n");
    }
    s.push_str("</TABLEDATA></DATA>\n</TABLE>\n</RESOURCE>\n</VOTABLE>\n");
    std::fs::write(path, s).unwrap();
}

fn opts() -> AnalysisOptions {
    AnalysisOptions {
        lmax: 3,
        select: vec!["is_qso".into(), "phot_g_mean_mag<20".into()],
        ..AnalysisOptions::default()
    }
}

#[test]
fn every_format_gives_the_same_coefficients() {
    let dir = tempfile::tempdir().unwrap();
    let c = catalogue(3000);
    let path = |n: &str| -> PathBuf { dir.path().join(n) };
    write_parquet(&c, &path("cat.parquet"));
    write_csv(&c, &path("cat.csv"));
    write_ecsv(&c, &path("cat.ecsv"), "mas / yr", 1.0);
    write_fits_cat(&c, &path("cat.fits"));
    write_votable(&c, &path("cat.vot"));
    let reference = analyse_file(&path("cat.parquet"), &opts()).unwrap();
    assert_eq!(
        reference.report.input.as_ref().unwrap().format,
        InputFormat::Parquet
    );
    // 1 in 10 non-QSOs and 1 in 7 with G = 20 excluded.
    let n_sel = (0..3000).filter(|i| i % 10 != 0 && i % 7 != 6).count();
    assert_eq!(reference.report.input.as_ref().unwrap().n_selected, n_sel);
    assert!(reference.fit.coef.iter().all(|x| x.is_finite()));
    for (file, format) in [
        ("cat.csv", InputFormat::Csv),
        ("cat.ecsv", InputFormat::Ecsv),
        ("cat.fits", InputFormat::Fits),
        ("cat.vot", InputFormat::Votable),
    ] {
        let a = analyse_file(&path(file), &opts()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(a.report.input.as_ref().unwrap().format, format, "{file}");
        assert_eq!(a.report.input.as_ref().unwrap().n_selected, n_sel, "{file}");
        assert_eq!(a.fit.n_used, reference.fit.n_used, "{file}");
        assert_eq!(a.fit.coef.len(), reference.fit.coef.len());
        for (k, (x, y)) in a.fit.coef.iter().zip(&reference.fit.coef).enumerate() {
            assert_eq!(
                x.to_bits(),
                y.to_bits(),
                "{file}: coefficient {k}: {x} vs {y}"
            );
        }
    }
}

#[test]
fn units_stated_in_the_file_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let c = catalogue(1500);
    let mas = dir.path().join("mas.ecsv");
    let uas = dir.path().join("uas.ecsv");
    let bad = dir.path().join("deg.ecsv");
    write_ecsv(&c, &mas, "mas / yr", 1.0);
    write_ecsv(&c, &uas, "uas / yr", 1000.0);
    write_ecsv(&c, &bad, "deg", 1.0);
    let a = analyse_file(&mas, &opts()).unwrap();
    let b = analyse_file(&uas, &opts()).unwrap();
    // µas/yr × 1e-3: equal up to the rounding of the two multiplications.
    for (x, y) in a.fit.coef.iter().zip(&b.fit.coef) {
        assert!((x - y).abs() <= 1e-9 * x.abs().max(1.0), "{x} vs {y}");
    }
    let e = analyse_file(&bad, &opts()).unwrap_err();
    assert!(matches!(e, VshError::Input(_)), "{e:?}");
    let m = e.to_string();
    assert!(
        m.contains("deg.ecsv") && m.contains("\"pmra\"") && m.contains("mas/yr"),
        "{m}"
    );
}
