//! A starting catalogue and reference positions read from any table format `tabular`
//! detects: a FITS and an astropy-style ECSV copy of a catalogue written by
//! `write_catalogue` give identical values; units the file states are converted.

mod common;

use astrosolve_io::tabular::{read_table, write_fits, Column, ColumnData, Table};
use astrosolve_io::*;
use astrosolve_model::source::ReferencePosition;
use astrosolve_model::units::MAS;
use common::*;
use std::fmt::Write as _;
use std::path::Path;

/// Unit a Gaia archive export states for a catalogue column.
fn gaia_unit(name: &str) -> Option<&'static str> {
    Some(match name {
        "ra" | "dec" => "deg",
        "parallax" | "ra_error" | "dec_error" | "parallax_error" | "astrometric_excess_noise" => {
            "mas"
        }
        "pmra" | "pmdec" | "pmra_error" | "pmdec_error" => "mas / yr",
        "phot_g_mean_mag" => "mag",
        "nu_eff_used_in_astrometry" => "1 / um",
        "ref_epoch" => "yr",
        _ => return None,
    })
}

/// A catalogue with solution columns (some NaN) and one extra column.
fn catalogue_file(dir: &Path) -> (std::path::PathBuf, Catalogue) {
    let mut rng = Rng::new(11);
    let sources = sources(&mut rng, 40);
    let n = sources.len();
    let solved = SolvedColumns {
        ra_error: Some((0..n).map(|i| (0.05 + 0.01 * i as f64) * MAS).collect()),
        pmra_error: Some((0..n).map(|i| (0.07 + 0.002 * i as f64) * MAS).collect()),
        ra_dec_corr: Some(
            (0..n)
                .map(|i| {
                    if i == 3 {
                        f64::NAN
                    } else {
                        -0.3 + 0.01 * i as f64
                    }
                })
                .collect(),
        ),
        astrometric_n_obs_al: Some((0..n).map(|i| 100 + i as i32).collect()),
        ruwe: Some((0..n).map(|i| 1.0 + 0.003 * i as f64).collect()),
        extra: vec![(
            "my_score".to_string(),
            (0..n).map(|i| i as f64 / 7.0).collect(),
        )],
        ..Default::default()
    };
    let path = dir.join("sources.parquet");
    write_catalogue(&path, &sources, 2016.0, Some(&solved), false).unwrap();
    let back = read_catalogue(&path).unwrap();
    (path, back)
}

/// The Parquet table with Gaia-archive units stated on each column.
fn with_units(t: Table) -> Vec<Column> {
    t.columns
        .into_iter()
        .map(|mut c| {
            c.unit = gaia_unit(&c.name).map(str::to_string);
            c
        })
        .collect()
}

/// An ECSV file as astropy writes it (space-separated, `datatype` and `unit` per column,
/// NaN as `nan`), values printed to round-trip.
fn write_ecsv(path: &Path, columns: &[Column]) {
    let mut s = String::from("# %ECSV 1.0\n# ---\n# datatype:\n");
    for c in columns {
        let dt = match c.data {
            ColumnData::Float(_) => "float64",
            ColumnData::Int(_) => "int64",
            ColumnData::Bool(_) => "bool",
            ColumnData::Text(_) => "string",
            _ => panic!("no list columns in a catalogue"),
        };
        match &c.unit {
            Some(u) => writeln!(s, "# - {{name: {}, unit: {u}, datatype: {dt}}}", c.name),
            None => writeln!(s, "# - {{name: {}, datatype: {dt}}}", c.name),
        }
        .unwrap();
    }
    s.push_str("# schema: astropy-2.0\n");
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    s.push_str(&names.join(" "));
    s.push('\n');
    for i in 0..columns[0].data.len() {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match &c.data {
                ColumnData::Float(v) if v[i].is_nan() => "nan".to_string(),
                ColumnData::Float(v) => format!("{:?}", v[i]),
                ColumnData::Int(v) => v[i].map_or(String::new(), |x| x.to_string()),
                ColumnData::Bool(v) => match v[i] {
                    Some(true) => "True".to_string(),
                    Some(false) => "False".to_string(),
                    None => "\"\"".to_string(),
                },
                ColumnData::Text(v) => format!("\"{}\"", v[i].as_deref().unwrap_or("")),
                _ => unreachable!(),
            })
            .collect();
        s.push_str(&cells.join(" "));
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

fn bits(v: &Option<Vec<f64>>) -> Option<Vec<u64>> {
    v.as_ref().map(|v| v.iter().map(|x| x.to_bits()).collect())
}

/// Same sources, epoch and solution columns, bit for bit (NaN where NaN).
fn assert_identical(a: &Catalogue, b: &Catalogue, what: &str) {
    assert_eq!(a.sources, b.sources, "{what}: sources");
    assert_eq!(
        a.ref_epoch.to_bits(),
        b.ref_epoch.to_bits(),
        "{what}: ref_epoch"
    );
    assert_eq!(bits(&a.solved.ra_error), bits(&b.solved.ra_error), "{what}");
    assert_eq!(
        bits(&a.solved.pmra_error),
        bits(&b.solved.pmra_error),
        "{what}"
    );
    assert_eq!(
        bits(&a.solved.ra_dec_corr),
        bits(&b.solved.ra_dec_corr),
        "{what}"
    );
    assert_eq!(bits(&a.solved.ruwe), bits(&b.solved.ruwe), "{what}");
    assert_eq!(
        a.solved.astrometric_n_obs_al, b.solved.astrometric_n_obs_al,
        "{what}"
    );
    let extra = |c: &Catalogue| -> Vec<(String, Vec<u64>)> {
        c.solved
            .extra
            .iter()
            .map(|(n, v)| (n.clone(), v.iter().map(|x| x.to_bits()).collect()))
            .collect()
    };
    assert_eq!(extra(a), extra(b), "{what}: extra columns");
}

#[test]
fn catalogue_from_fits_and_ecsv_equals_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let (pq, want) = catalogue_file(dir.path());
    assert!(want.solved.ra_dec_corr.as_ref().unwrap()[3].is_nan());
    assert_eq!(want.solved.extra.len(), 1);
    let cols = with_units(read_table(&pq, None).unwrap());

    let fits = dir.path().join("sources.fits");
    write_fits(&fits, &cols).unwrap();
    assert_identical(&want, &read_catalogue(&fits).unwrap(), "FITS");

    let ecsv = dir.path().join("sources.ecsv");
    write_ecsv(&ecsv, &cols);
    assert_identical(&want, &read_catalogue(&ecsv).unwrap(), "ECSV");
}

#[test]
fn catalogue_units_are_converted() {
    let dir = tempfile::tempdir().unwrap();
    let (pq, want) = catalogue_file(dir.path());
    let mut cols = with_units(read_table(&pq, None).unwrap());
    // proper motions in µas/yr and positions in radians
    for c in &mut cols {
        let (unit, f) = match c.name.as_str() {
            "pmra" | "pmdec" => ("uas / yr", 1e3),
            "ra" | "dec" => ("rad", std::f64::consts::PI / 180.0),
            _ => continue,
        };
        c.unit = Some(unit.to_string());
        if let ColumnData::Float(v) = &mut c.data {
            v.iter_mut().for_each(|x| *x *= f);
        }
    }
    let ecsv = dir.path().join("sources_uas.ecsv");
    write_ecsv(&ecsv, &cols);
    let got = read_catalogue(&ecsv).unwrap();
    assert_eq!(got.sources.len(), want.sources.len());
    for (a, b) in want.sources.iter().zip(&got.sources) {
        assert_eq!(a.source_id, b.source_id);
        for (x, y) in [
            (a.params.ra, b.params.ra),
            (a.params.dec, b.params.dec),
            (a.params.pmra, b.params.pmra),
            (a.params.pmdec, b.params.pmdec),
        ] {
            assert!((x - y).abs() <= 4.0 * f64::EPSILON * x.abs(), "{x} vs {y}");
        }
        assert_eq!(a.params.parallax, b.params.parallax);
    }
    // an incompatible unit is an error naming the column
    for c in &mut cols {
        if c.name == "parallax" {
            c.unit = Some("mag".to_string());
        }
    }
    write_ecsv(&ecsv, &cols);
    let e = read_catalogue(&ecsv).unwrap_err().to_string();
    assert!(
        e.contains("sources_uas.ecsv") && e.contains("parallax"),
        "{e}"
    );
}

#[test]
fn catalogue_nan_in_a_required_column_outside_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let (pq, _) = catalogue_file(dir.path());
    let mut cols = with_units(read_table(&pq, None).unwrap());
    for c in &mut cols {
        if let ("parallax", ColumnData::Float(v)) = (c.name.as_str(), &mut c.data) {
            v[4] = f64::NAN;
        }
    }
    let fits = dir.path().join("bad.fits");
    write_fits(&fits, &cols).unwrap();
    let e = read_catalogue(&fits).unwrap_err().to_string();
    assert!(
        e.contains("bad.fits") && e.contains("row 5") && e.contains("parallax"),
        "{e}"
    );
}

#[test]
fn reference_positions_from_csv() {
    let mut rng = Rng::new(5);
    let sources = sources(&mut rng, 20);
    let refs: Vec<ReferencePosition> = [3usize, 7, 19]
        .iter()
        .map(|&i| ReferencePosition {
            source_index: i,
            ra: sources[i].params.ra,
            dec: sources[i].params.dec,
            sigma: 0.2 * MAS,
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("reference_positions.parquet");
    write_reference_positions(&pq, &refs, &sources, false).unwrap();
    let want = read_reference_positions(&pq, &sources).unwrap();
    let t = read_table(&pq, None).unwrap();
    let mut csv = t.column_names().join(",") + "\n";
    for i in 0..t.n_rows() {
        let cells: Vec<String> = t
            .columns
            .iter()
            .map(|c| match &c.data {
                ColumnData::Float(v) => format!("{:?}", v[i]),
                ColumnData::Int(v) => v[i].unwrap().to_string(),
                other => panic!("unexpected {}", other.kind()),
            })
            .collect();
        csv += &(cells.join(",") + "\n");
    }
    let p = dir.path().join("reference_positions.csv");
    std::fs::write(&p, csv).unwrap();
    assert_eq!(read_reference_positions(&p, &sources).unwrap(), want);
}
