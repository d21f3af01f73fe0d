//! Malformed inputs: each gives its own error, naming the file and, where it applies, the
//! 1-based data row and the column — never a panic. Broken files are made by editing a
//! valid data set with arrow/parquet directly.

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, Int8Type};
use arrow_array::{Array, BooleanArray, Float64Array, Int64Array, Int8Array, StringArray};
use arrow_schema::{DataType, Field};
use astrosolve_io::*;
use astrosolve_model::units::MAS;
use common::*;
use std::path::PathBuf;
use std::sync::Arc;

/// A valid data set with truth and mission.toml.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    ds: Dataset,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ds");
        let (ds, truth) = dataset_and_truth(21, 25, 400);
        write_dataset(&root, &ds, Some(&truth), &WriteOptions::default()).unwrap();
        write_mission(root.join(MISSION_FILE), &ds.mission, false).unwrap();
        // sanity: the unmodified data set reads
        read_dataset_and_truth(&root).unwrap();
        Fixture {
            _dir: dir,
            root,
            ds,
        }
    }
    fn path(&self, f: &str) -> PathBuf {
        self.root.join(f)
    }
    fn edit(&self, f: &str, g: impl FnOnce(&mut Raw)) {
        Raw::edit(&self.path(f), g)
    }
    /// The error of reading the data set (dataset and truth).
    fn error(&self) -> IoError {
        match read_dataset_and_truth(&self.root) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }
    fn expect(&self, text: &str) -> IoError {
        let e = self.error();
        let msg = e.to_string();
        assert!(
            msg.contains(text),
            "error {msg:?} does not contain {text:?}"
        );
        e
    }
}

fn f64_col(r: &Raw, name: &str) -> Vec<Option<f64>> {
    let a = r.column(name).as_primitive::<Float64Type>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i)))
        .collect()
}

/// Sets row `row` (1-based) of a float64 column.
fn set_f64(r: &mut Raw, name: &str, row: usize, v: Option<f64>) {
    let mut vals = f64_col(r, name);
    vals[row - 1] = v;
    r.set(
        Field::new(name, DataType::Float64, true),
        Arc::new(Float64Array::from(vals)),
    );
}

fn set_i8(r: &mut Raw, name: &str, row: usize, v: i8) {
    let a = r.column(name).as_primitive::<Int8Type>();
    let mut vals: Vec<i8> = a.values().to_vec();
    vals[row - 1] = v;
    r.set(
        Field::new(name, DataType::Int8, false),
        Arc::new(Int8Array::from(vals)),
    );
}

fn set_i64(r: &mut Raw, name: &str, row: usize, v: Option<i64>) {
    let a = r.column(name).as_primitive::<Int64Type>();
    let mut vals: Vec<Option<i64>> = a.values().iter().map(|&x| Some(x)).collect();
    vals[row - 1] = v;
    r.set(
        Field::new(name, DataType::Int64, true),
        Arc::new(Int64Array::from(vals)),
    );
}

fn first_row_with_zeta(r: &Raw, given: bool) -> usize {
    let z = r.column("zeta");
    (0..z.len()).find(|&i| z.is_valid(i) == given).unwrap() + 1
}

// ---------------------------------------------------------------- whole files

#[test]
fn missing_file() {
    let f = Fixture::new();
    std::fs::remove_file(f.path(OBSERVATIONS_FILE)).unwrap();
    let e = f.expect("observations.parquet: file not found");
    assert!(matches!(e, IoError::NotFound { .. }));
    assert!(e.path().ends_with("ds/observations.parquet"));

    let f = Fixture::new();
    std::fs::remove_file(f.path(MISSION_FILE)).unwrap();
    f.expect("mission.toml: file not found");

    let f = Fixture::new();
    std::fs::remove_file(f.path("truth/attitude.parquet")).unwrap();
    f.expect("truth/attitude.parquet: file not found");
}

#[test]
fn not_a_parquet_file() {
    let f = Fixture::new();
    std::fs::write(f.path(SOURCES_FILE), "source_id,ra,dec\n1,2,3\n").unwrap();
    let e = f.expect("sources.parquet: not a valid Parquet file");
    assert!(matches!(e, IoError::Parquet { .. }));
    std::fs::write(f.path(SOURCES_FILE), "").unwrap();
    f.expect("sources.parquet: not a valid Parquet file");
}

#[test]
fn truncated_file() {
    let f = Fixture::new();
    let p = f.path(OBSERVATIONS_FILE);
    let bytes = std::fs::read(&p).unwrap();
    let n = bytes.len();
    for cut in [n / 2, n - 1, n - 8, 4, 8, 100] {
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let e = read_observations(&p, &f.ds.sources, &f.ds.mission.instrument).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("observations.parquet: not a valid Parquet file"),
            "cut {cut}: {msg}"
        );
    }
    std::fs::write(&p, &bytes[..n / 2]).unwrap();
    f.expect("observations.parquet: not a valid Parquet file");
}

/// Damaged bytes anywhere in a file give an error (or, if the damage happens to hit
/// unused bytes, a successful read), never a panic.
#[test]
fn corrupt_bytes_never_panic() {
    let f = Fixture::new();
    let p = f.path(OBSERVATIONS_FILE);
    let bytes = std::fs::read(&p).unwrap();
    let mut rng = Rng::new(5);
    let mut n_err = 0;
    for k in 0..200 {
        let mut b = bytes.clone();
        let pos = if k < 100 {
            // the data pages
            rng.below(b.len() as u64 - 8) as usize
        } else {
            // the footer
            b.len() - 8 - rng.below(600.min(b.len() as u64 - 8)) as usize - 1
        };
        b[pos] ^= 1 << rng.below(8);
        std::fs::write(&p, &b).unwrap();
        if read_observations(&p, &f.ds.sources, &f.ds.mission.instrument).is_err() {
            n_err += 1;
        }
    }
    assert!(n_err > 0);
}

// ---------------------------------------------------------------- columns and types

#[test]
fn missing_column() {
    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| r.drop_column("eta"));
    let e = f.expect(r#"observations.parquet: missing column "eta""#);
    assert_eq!(e.column(), Some("eta"));

    // zeta without zeta_error (both absent would mean AL-only data)
    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| r.drop_column("zeta_error"));
    f.expect(r#"observations.parquet: missing column "zeta_error""#);

    let f = Fixture::new();
    f.edit(SOURCES_FILE, |r| r.drop_column("parallax"));
    f.expect(r#"sources.parquet: missing column "parallax""#);

    let f = Fixture::new();
    f.edit(ATTITUDE_FILE, |r| r.drop_column("q3"));
    f.expect(r#"attitude.parquet: missing column "q3""#);

    let f = Fixture::new();
    f.edit("truth/observation_truth.parquet", |r| {
        r.drop_column("is_outlier")
    });
    f.expect(r#"truth/observation_truth.parquet: missing column "is_outlier""#);
}

#[test]
fn wrong_column_type() {
    // eta as strings
    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| {
        let n = r.column("eta").len();
        let s: Vec<String> = (0..n).map(|i| format!("{i}.5")).collect();
        r.set(
            Field::new("eta", DataType::Utf8, false),
            Arc::new(StringArray::from(s)),
        );
    });
    let e = f.expect(r#"observations.parquet: column "eta" has type Utf8, expected float64"#);
    assert!(matches!(e, IoError::ColumnType { .. }));

    // eta as integers
    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| {
        let v: Vec<i64> = f64_col(r, "eta")
            .iter()
            .map(|x| x.unwrap() as i64)
            .collect();
        r.set(
            Field::new("eta", DataType::Int64, false),
            Arc::new(Int64Array::from(v)),
        );
    });
    f.expect(r#"observations.parquet: column "eta" has type Int64, expected float64"#);

    // fov as floats
    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| {
        let a = r.column("fov").as_primitive::<Int8Type>();
        let v: Vec<f64> = a.values().iter().map(|&x| x as f64).collect();
        r.set(
            Field::new("fov", DataType::Float64, false),
            Arc::new(Float64Array::from(v)),
        );
    });
    f.expect(r#"observations.parquet: column "fov" has type Float64, expected an integer type"#);

    // is_qso as integers
    let f = Fixture::new();
    f.edit(SOURCES_FILE, |r| {
        let n = r.column("is_qso").len();
        r.set(
            Field::new("is_qso", DataType::Int64, false),
            Arc::new(Int64Array::from(vec![0i64; n])),
        );
    });
    f.expect(r#"sources.parquet: column "is_qso" has type Int64, expected boolean"#);

    // a calibration term stored as strings
    let f = Fixture::new();
    f.edit(CALIBRATION_FILE, |r| {
        let n = r.column("ac_offset_mas").len();
        r.set(
            Field::new("ac_offset_mas", DataType::Utf8, false),
            Arc::new(StringArray::from(vec!["0"; n])),
        );
    });
    f.expect(r#"calibration.parquet: column "ac_offset_mas" has type Utf8, expected float64"#);
}

// ---------------------------------------------------------------- values

#[test]
fn nan_and_inf_in_required_values() {
    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| set_f64(r, "eta", 17, Some(f64::NAN)));
    let e =
        f.expect(r#"observations.parquet: row 17, column "eta": NaN is not a valid field angle"#);
    assert_eq!((e.row(), e.column()), (Some(17), Some("eta")));

    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| {
        set_f64(r, "t", 3, Some(f64::INFINITY))
    });
    f.expect(r#"observations.parquet: row 3, column "t": inf is not a valid observation time"#);

    // NaN is not how AL-only is written (null is)
    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| {
        let row = first_row_with_zeta(r, true);
        set_f64(r, "zeta", row, Some(f64::NAN));
    });
    f.expect(
        r#"column "zeta": NaN is not a valid field angle (AL-only observations have a null zeta)"#,
    );

    let f = Fixture::new();
    f.edit(SOURCES_FILE, |r| {
        set_f64(r, "ra", 2, Some(f64::NEG_INFINITY))
    });
    f.expect(r#"sources.parquet: row 2, column "ra": -inf is not a valid right ascension"#);

    let f = Fixture::new();
    f.edit(SOURCES_FILE, |r| set_f64(r, "dec", 5, Some(91.0)));
    f.expect(r#"sources.parquet: row 5, column "dec": declination 91 deg outside [-90, 90]"#);

    let f = Fixture::new();
    f.edit(ATTITUDE_FILE, |r| set_f64(r, "q2", 9, Some(f64::NAN)));
    f.expect(r#"attitude.parquet: row 9, column "q2": NaN is not a valid quaternion coefficient"#);

    let f = Fixture::new();
    f.edit(CALIBRATION_FILE, |r| {
        set_f64(r, "al_legendre_1_mas", 11, Some(f64::NAN))
    });
    f.expect(r#"calibration.parquet: row 11, column "al_legendre_1_mas": NaN is not a valid calibration parameter"#);

    let f = Fixture::new();
    f.edit("truth/observation_truth.parquet", |r| {
        set_f64(r, "noise_eta_mas", 6, Some(f64::NAN))
    });
    f.expect(r#"truth/observation_truth.parquet: row 6, column "noise_eta_mas": NaN is not a valid noise"#);
}

#[test]
fn null_in_required_values() {
    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| set_f64(r, "eta", 5, None));
    f.expect(r#"observations.parquet: row 5, column "eta": null in a required value"#);

    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| set_i64(r, "source_id", 8, None));
    f.expect(r#"observations.parquet: row 8, column "source_id": null in a required value"#);

    let f = Fixture::new();
    f.edit(SOURCES_FILE, |r| set_f64(r, "parallax", 4, None));
    f.expect(r#"sources.parquet: row 4, column "parallax": null in a required value"#);

    let f = Fixture::new();
    f.edit(SOURCES_FILE, |r| {
        set_f64(r, "nu_eff_used_in_astrometry", 3, None)
    });
    f.expect(
        r#"sources.parquet: row 3, column "nu_eff_used_in_astrometry": null in a required value"#,
    );

    // zeta given but zeta_error null
    let f = Fixture::new();
    let mut row = 0;
    f.edit(OBSERVATIONS_FILE, |r| {
        row = first_row_with_zeta(r, true);
        set_f64(r, "zeta_error", row, None);
    });
    f.expect(&format!(
        r#"observations.parquet: row {row}, column "zeta_error": null in a required value (zeta is given)"#
    ));

    let f = Fixture::new();
    f.edit("truth/observation_truth.parquet", |r| {
        let n = r.column("is_outlier").len();
        let v: Vec<Option<bool>> = (0..n).map(|i| (i != 9).then_some(false)).collect();
        r.set(
            Field::new("is_outlier", DataType::Boolean, true),
            Arc::new(BooleanArray::from(v)),
        );
    });
    f.expect(
        r#"truth/observation_truth.parquet: row 10, column "is_outlier": null in a required value"#,
    );
}

/// A null zeta (AL-only) makes zeta_error irrelevant: it may hold anything.
#[test]
fn al_only_rows_ignore_zeta_error() {
    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| {
        let row = first_row_with_zeta(r, false);
        set_f64(r, "zeta_error", row, Some(1.0));
    });
    let ds = read_dataset(&f.root).unwrap();
    assert!(ds
        .observations
        .obs
        .iter()
        .filter(|o| !o.has_ac())
        .all(|o| o.sigma_zeta.is_nan()));
}

#[test]
fn fov_and_ccd_out_of_range() {
    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| set_i8(r, "fov", 3, 2));
    f.expect(r#"observations.parquet: row 3, column "fov": fov 2 is neither 0 (preceding) nor 1 (following)"#);

    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| set_i8(r, "ccd_row", 12, 8));
    f.expect(r#"observations.parquet: row 12, column "ccd_row": ccd_row 8 outside 1..=7"#);

    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| set_i8(r, "ccd_strip", 1, 0));
    f.expect(r#"observations.parquet: row 1, column "ccd_strip": ccd_strip 0 outside 1..=9"#);

    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| set_f64(r, "ac_coord", 7, Some(1.5)));
    f.expect(r#"observations.parquet: row 7, column "ac_coord": ac_coord 1.5 outside [-1, 1]"#);

    // the range follows the mission: with 9 rows, ccd_row 8 is fine
    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| set_i8(r, "ccd_row", 12, 8));
    let mut m = f.ds.mission.clone();
    m.instrument.n_rows = 9;
    let obs = read_observations(f.path(OBSERVATIONS_FILE), &f.ds.sources, &m.instrument).unwrap();
    assert_eq!(obs[11].row, 7);
}

#[test]
fn unknown_source_id() {
    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| set_i64(r, "source_id", 4, Some(123)));
    f.expect(r#"observations.parquet: row 4, column "source_id": unknown source_id 123 (not in sources.parquet)"#);
}

#[test]
fn observation_outside_attitude_span() {
    let f = Fixture::new();
    let k = f.ds.attitude.knots;
    f.edit(OBSERVATIONS_FILE, |r| {
        set_f64(r, "t", 9, Some(k.t_end() + 1.0))
    });
    f.expect(&format!(
        r#"observations.parquet: row 9, column "t": observation outside the attitude span [{}, {}]"#,
        k.t0,
        k.t_end()
    ));
}

#[test]
fn duplicate_source_id() {
    let f = Fixture::new();
    let id2 = f.ds.sources[1].source_id;
    f.edit(SOURCES_FILE, |r| set_i64(r, "source_id", 4, Some(id2)));
    f.expect(&format!(
        r#"sources.parquet: row 4, column "source_id": duplicate source_id {id2} (also in row 2)"#
    ));
}

#[test]
fn ref_epoch_mismatch() {
    let f = Fixture::new();
    f.edit(SOURCES_FILE, |r| {
        let n = r.column("ref_epoch").len();
        r.set(
            Field::new("ref_epoch", DataType::Float64, false),
            Arc::new(Float64Array::from(vec![2015.5; n])),
        );
    });
    f.expect(r#"sources.parquet: row 1, column "ref_epoch": ref_epoch 2015.5 does not match the mission's reference epoch 2016"#);

    // all rows must share one epoch
    let f = Fixture::new();
    f.edit(SOURCES_FILE, |r| set_f64(r, "ref_epoch", 3, Some(2015.0)));
    f.expect(
        r#"sources.parquet: row 3, column "ref_epoch": ref_epoch 2015 differs from row 1 (2016)"#,
    );

    // the truth catalogue must have the same epoch
    let f = Fixture::new();
    f.edit("truth/sources.parquet", |r| {
        let n = r.column("ref_epoch").len();
        r.set(
            Field::new("ref_epoch", DataType::Float64, false),
            Arc::new(Float64Array::from(vec![2017.0; n])),
        );
    });
    f.expect(r#"truth/sources.parquet: row 1, column "ref_epoch": ref_epoch 2017 differs from that of sources.parquet"#);
}

#[test]
fn negative_or_zero_uncertainties() {
    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| set_f64(r, "eta_error", 2, Some(0.0)));
    f.expect(r#"observations.parquet: row 2, column "eta_error": uncertainty must be positive (got 0 mas)"#);

    let f = Fixture::new();
    let mut row = 0;
    f.edit(OBSERVATIONS_FILE, |r| {
        row = first_row_with_zeta(r, true);
        set_f64(r, "zeta_error", row, Some(-0.5));
    });
    f.expect(&format!(
        r#"observations.parquet: row {row}, column "zeta_error": uncertainty must be positive (got -0.5 mas)"#
    ));

    // catalogue uncertainties: rejected on writing and on reading
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("solution.parquet");
    let mut s = SolvedColumns {
        parallax_error: Some(vec![0.1 * MAS; f.ds.sources.len()]),
        ..Default::default()
    };
    s.parallax_error.as_mut().unwrap()[3] = -0.1 * MAS;
    let e = write_catalogue(&p, &f.ds.sources, 2016.0, Some(&s), false).unwrap_err();
    assert!(
        e.to_string().contains(
            r#"solution.parquet: row 4, column "parallax_error": uncertainty must be positive"#
        ),
        "{e}"
    );
    assert!(!p.exists());
    s.parallax_error.as_mut().unwrap()[3] = 0.1 * MAS;
    write_catalogue(&p, &f.ds.sources, 2016.0, Some(&s), false).unwrap();
    Raw::edit(&p, |r| set_f64(r, "parallax_error", 6, Some(0.0)));
    let e = read_catalogue(&p).unwrap_err();
    assert!(
        e.to_string().contains(r#"solution.parquet: row 6, column "parallax_error": uncertainty must be positive (got 0 mas)"#),
        "{e}"
    );
}

/// Values that parse but that no measurement or star can have (issue #14): a σ below 10
/// nano-arcseconds, a starting parallax or proper motion beyond any star's, an attitude
/// coefficient that leaves the spline's quaternion near zero. Each is refused on reading with
/// its file, row and column, and by the writer before anything is written.
#[test]
fn absurd_values_are_refused_with_their_row() {
    let f = Fixture::new();
    f.edit(OBSERVATIONS_FILE, |r| {
        set_f64(r, "eta_error", 2, Some(1e-200))
    });
    f.expect(r#"observations.parquet: row 2, column "eta_error": uncertainty 1e-200 mas is below the 1e-5 mas"#);

    let f = Fixture::new();
    let mut row = 0;
    f.edit(OBSERVATIONS_FILE, |r| {
        row = first_row_with_zeta(r, true);
        set_f64(r, "zeta_error", row, Some(2e-9));
    });
    f.expect(&format!(
        r#"observations.parquet: row {row}, column "zeta_error": uncertainty 2e-9 mas is below"#
    ));

    let f = Fixture::new();
    f.edit(SOURCES_FILE, |r| set_f64(r, "parallax", 5, Some(1e9)));
    f.expect(r#"sources.parquet: row 5, column "parallax": starting parallax 1e9 mas is beyond"#);

    let f = Fixture::new();
    f.edit(SOURCES_FILE, |r| set_f64(r, "pmdec", 3, Some(-2e5)));
    f.expect(r#"sources.parquet: row 3, column "pmdec": starting proper motion -2e5 mas/yr"#);

    let f = Fixture::new();
    f.edit(ATTITUDE_FILE, |r| {
        for q in ["q1", "q2", "q3", "q4"] {
            set_f64(r, q, 11, Some(0.0));
        }
    });
    f.expect(r#"attitude.parquet: row 11, column "q1": attitude coefficient 10 (q1..q4 of this row) has norm 0.000e0 where the median coefficient has 1.000"#);

    // the writer refuses them before writing anything
    let d = tempfile::tempdir().unwrap();
    for change in 0..3 {
        let (mut ds, _) = dataset_and_truth(22, 10, 200);
        let expected = match change {
            0 => {
                ds.observations.obs[7].sigma_eta = 1e-200 * MAS;
                r#"observations.parquet: row 8, column "eta_error": uncertainty 1e-200 mas is below"#
            }
            1 => {
                ds.sources[4].params.parallax = 1e9 * MAS;
                r#"sources.parquet: row 5, column "parallax": starting parallax"#
            }
            _ => {
                ds.sources[1].params.pmra = 3e5 * MAS;
                r#"sources.parquet: row 2, column "pmra": starting proper motion"#
            }
        };
        let e = write_dataset(d.path(), &ds, None, &WriteOptions::default()).unwrap_err();
        assert!(e.to_string().contains(expected), "{e}");
        assert!(
            std::fs::read_dir(d.path()).unwrap().next().is_none(),
            "nothing written"
        );
    }
}

// ---------------------------------------------------------------- metadata

#[test]
fn attitude_metadata_missing_or_inconsistent() {
    let f = Fixture::new();
    f.edit(ATTITUDE_FILE, |r| {
        r.set_meta("astrosolve.attitude.t0_days", None)
    });
    f.expect(r#"attitude.parquet: missing key-value metadata "astrosolve.attitude.t0_days""#);

    let f = Fixture::new();
    f.edit(ATTITUDE_FILE, |r| {
        r.set_meta("astrosolve.attitude.knot_interval_days", Some("half a day"))
    });
    f.expect(r#"attitude.parquet: key-value metadata "astrosolve.attitude.knot_interval_days" = "half a day" is not a valid f64"#);

    let f = Fixture::new();
    let n = f.ds.attitude.knots.n_intervals;
    f.edit(ATTITUDE_FILE, |r| {
        r.set_meta(
            "astrosolve.attitude.n_intervals",
            Some(&(n + 1).to_string()),
        )
    });
    f.expect(&format!(
        "attitude.parquet: {} rows, but the knot metadata (astrosolve.attitude.n_intervals = {}) needs n_intervals + 3 = {}",
        n + 3,
        n + 1,
        n + 4
    ));

    // knots shifted by a quarter interval: t_centre no longer agrees
    let f = Fixture::new();
    let k = f.ds.attitude.knots;
    f.edit(ATTITUDE_FILE, |r| {
        r.set_meta(
            "astrosolve.attitude.t0_days",
            Some(&format!("{:?}", k.t0 + 0.25 * k.h)),
        )
    });
    f.expect(r#"attitude.parquet: row 1, column "t_centre": t_centre"#);

    let f = Fixture::new();
    f.edit(ATTITUDE_FILE, |r| {
        let a = r
            .column("coeff_index")
            .as_primitive::<arrow_array::types::Int32Type>();
        let mut v = a.values().to_vec();
        v[5] = 4;
        r.set(
            Field::new("coeff_index", DataType::Int32, false),
            Arc::new(arrow_array::Int32Array::from(v)),
        );
    });
    f.expect(
        r#"attitude.parquet: row 6, column "coeff_index": duplicate coeff_index 4 (also in row 5)"#,
    );
}

#[test]
fn calibration_config_inconsistent_with_columns() {
    // metadata says degree 1, the file has a degree-2 column
    let f = Fixture::new();
    f.edit(CALIBRATION_FILE, |r| {
        r.set_meta("astrosolve.calibration.al_degree", Some("1"))
    });
    f.expect(r#"calibration.parquet: column "al_legendre_2_mas" is not a term of the calibration model in the metadata (al_degree = 1, chromatic = true, ac_offset = true)"#);

    // metadata says chromatic, the column is missing
    let f = Fixture::new();
    f.edit(CALIBRATION_FILE, |r| r.drop_column("al_chromatic_mas"));
    f.expect(r#"calibration.parquet: calibration model in the metadata (al_degree = 2, chromatic = true, ac_offset = true) needs column "al_chromatic_mas", which is missing"#);

    let f = Fixture::new();
    f.edit(CALIBRATION_FILE, |r| {
        r.set_meta("astrosolve.calibration.chromatic", None)
    });
    f.expect(
        r#"calibration.parquet: missing key-value metadata "astrosolve.calibration.chromatic""#,
    );

    // rows inconsistent with the time grid
    let f = Fixture::new();
    f.edit(CALIBRATION_FILE, |r| {
        r.set_meta("astrosolve.calibration.n_intervals", Some("3"))
    });
    f.expect("calibration.parquet: 504 rows, but the metadata (3 intervals × 2 fields of view × 7 rows × 9 strips) needs 378");

    let f = Fixture::new();
    f.edit(CALIBRATION_FILE, |r| set_f64(r, "t_end", 20, Some(0.0)));
    f.expect(
        r#"calibration.parquet: row 20, column "t_end": t_end 0 inconsistent with the time grid"#,
    );

    let f = Fixture::new();
    f.edit(CALIBRATION_FILE, |r| set_i8(r, "ccd_strip", 2, 1));
    f.expect(r#"calibration.parquet: row 2, column "interval": duplicate unit (interval 0, fov 0, ccd_row 1, ccd_strip 1), also in row 1"#);

    // a valid calibration file whose model is not the mission's
    let f = Fixture::new();
    let mut m = f.ds.mission.clone();
    m.calibration.chromatic = false;
    write_mission(f.path(MISSION_FILE), &m, true).unwrap();
    f.expect(
        "calibration.parquet: calibration model CalibrationConfig { al_degree: 2, chromatic: true",
    );
    f.expect("differs from [mission.calibration] in mission.toml");
}

#[test]
fn observation_truth_row_count() {
    let f = Fixture::new();
    f.edit("truth/observation_truth.parquet", |r| {
        for c in r.columns.iter_mut() {
            c.1 = c.1.slice(0, c.1.len() - 1);
        }
    });
    let n = f.ds.observations.len();
    f.expect(&format!(
        "truth/observation_truth.parquet: {} rows, but observations.parquet has {n}",
        n - 1
    ));
}

// ---------------------------------------------------------------- mission.toml

#[test]
fn mission_toml_errors_name_line_and_column() {
    let f = Fixture::new();
    let p = f.path(MISSION_FILE);
    std::fs::write(&p, "[mission]\nname = \"x\"\nduration_days = = 3\n").unwrap();
    let e = f.expect("mission.toml: line 3, column");
    assert!(matches!(e, IoError::Toml { line: 3, .. }));

    std::fs::write(&p, "[mission]\nname = \"x\"\n  colour = 3\n").unwrap();
    let e = f.expect("mission.toml: line 3, column 3: unknown field `colour`");
    assert!(matches!(
        e,
        IoError::Toml {
            line: 3,
            column: 3,
            ..
        }
    ));

    std::fs::write(&p, "[mission]\nduration_days = \"long\"\n").unwrap();
    f.expect("mission.toml: line 2, column");

    std::fs::write(&p, "[mission.instrument]\nn_rows = 0\n").unwrap();
    f.expect("mission.toml: mission.instrument.n_rows must be within 1..=255");

    std::fs::write(&p, "[simulation]\nseed = 1\n").unwrap();
    f.expect("mission.toml: no [mission] table");
}

// ---------------------------------------------------------------- writing

/// Writers refuse data the readers would reject, before writing anything.
#[test]
fn writers_refuse_invalid_data() {
    let d = tempfile::tempdir().unwrap();
    let (mut ds, truth) = dataset_and_truth(22, 10, 200);
    let t_end = ds.attitude.knots.t_end();
    ds.observations.obs[15].t = t_end + 2.0;
    let e = write_dataset(d.path(), &ds, Some(&truth), &WriteOptions::default()).unwrap_err();
    assert!(
        e.to_string().contains(
            r#"observations.parquet: row 16, column "t": observation outside the attitude span"#
        ),
        "{e}"
    );
    assert!(
        std::fs::read_dir(d.path()).unwrap().next().is_none(),
        "nothing written"
    );

    let (mut ds, _) = dataset_and_truth(22, 10, 200);
    ds.observations.obs[3].eta = f64::NAN;
    let p = d.path().join("o.parquet");
    let e = write_observations(&p, &ds.observations.obs, &ds.sources, false).unwrap_err();
    assert!(
        e.to_string()
            .contains(r#"o.parquet: row 4, column "eta": NaN is not a valid field angle"#),
        "{e}"
    );
    assert!(!p.exists());

    let (mut ds, _) = dataset_and_truth(22, 10, 200);
    ds.observations.obs[0].row = 7; // 0-based: the eighth row of a 7-row mission
    let e = write_dataset(d.path(), &ds, None, &WriteOptions::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains(r#"row 1, column "ccd_row": ccd_row 8 outside 1..=7"#),
        "{e}"
    );

    let (mut ds, _) = dataset_and_truth(22, 10, 200);
    ds.sources[2].source_id = ds.sources[0].source_id;
    let e = write_dataset(d.path(), &ds, None, &WriteOptions::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains(r#"sources.parquet: row 3, column "source_id": duplicate source_id"#),
        "{e}"
    );

    let (mut ds, _) = dataset_and_truth(22, 10, 200);
    ds.calibration.config.al_degree = 1;
    let e = write_dataset(d.path(), &ds, None, &WriteOptions::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("calibration.parquet: calibration model"),
        "{e}"
    );
}
