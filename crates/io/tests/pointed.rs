//! JASMINE-like pointed data sets: round trip, and malformed files giving errors that name
//! the file, row and column (never a panic).

mod common;

use arrow_array::{Float64Array, Int64Array, Int8Array};
use arrow_schema::{DataType, Field};
use astrosolve_io::*;
use astrosolve_model::pointed::{
    Distortion, Exposure, PointedMission, PointedObs, RefStar, N_DETECTORS,
};
use astrosolve_model::units::{DEG, MAS};
use common::{Raw, Rng};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn dataset() -> (PointedDataset, PointedTruth) {
    let mission = PointedMission::default();
    let mut rng = Rng::new(5);
    let n_stars = 30;
    let stars = PointedStars {
        source_id: (0..n_stars).map(|i| 100 + i as i64).collect(),
        params: (0..n_stars)
            .map(|_| {
                [
                    rng.range(266.0, 267.0) * DEG,
                    rng.range(-29.5, -28.5) * DEG,
                    rng.range(0.1, 0.5) * MAS,
                    rng.range(-5.0, 5.0) * MAS,
                    rng.range(-5.0, 5.0) * MAS,
                ]
            })
            .collect(),
        hw_mag: (0..n_stars).map(|_| rng.range(9.5, 15.0)).collect(),
    };
    let exposures: Vec<Exposure> = (0..6)
        .map(|e| Exposure {
            exposure_id: 10 + e,
            t: -300.0 + 100.0 * e as f64,
            cal_unit: (e / 3) as usize,
            attitude: [266.4 * DEG, -29.0 * DEG, 0.1 * e as f64],
        })
        .collect();
    let inst = &mission.instrument;
    let mut images = Vec::new();
    for e in 0..6u32 {
        for s in 0..n_stars as u32 {
            let d = (s as usize + e as usize) % N_DETECTORS;
            let (x, y) = inst.from_pixels(d, rng.range(0.0, 1968.0), rng.range(0.0, 1968.0));
            images.push(PointedObs {
                exposure: e,
                source: s,
                detector: d as u8,
                x,
                y,
                sigma: rng.range(1.0, 10.0) * MAS,
            });
        }
    }
    let reference = (0..5)
        .map(|i| RefStar {
            source_index: 3 * i,
            params: stars.params[3 * i],
            sigma: [0.1 * MAS, 0.1 * MAS, 0.12 * MAS, 0.11 * MAS, 0.11 * MAS],
            epoch_offset_yr: -17.5,
        })
        .collect();
    let mut distortion = Distortion::zeros(3, 2);
    for (k, c) in distortion.coeffs.iter_mut().enumerate() {
        *c = (k as f64 * 0.37).sin() * 100.0 * MAS;
    }
    let truth = PointedTruth {
        stars: stars.clone(),
        attitude: exposures.iter().map(|e| e.attitude).collect(),
        distortion,
    };
    (
        PointedDataset {
            mission,
            exposures,
            images,
            stars,
            reference,
        },
        truth,
    )
}

#[derive(serde::Serialize)]
struct MissionFile {
    jasmine: PointedMission,
}

fn write(dir: &Path) -> (PointedDataset, PointedTruth) {
    let (ds, truth) = dataset();
    write_pointed_dataset(dir, &ds, Some(&truth), false).unwrap();
    write_toml(
        dir.join(MISSION_FILE),
        &MissionFile {
            jasmine: ds.mission.clone(),
        },
        false,
    )
    .unwrap();
    (ds, truth)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn pointed_dataset_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("j");
    let (ds, truth) = write(&root);
    assert!(is_pointed_dataset(&root));
    let back = read_pointed_dataset(&root).unwrap();
    assert_eq!(back.mission, ds.mission);
    assert_eq!(back.exposures.len(), ds.exposures.len());
    for (a, b) in back.exposures.iter().zip(&ds.exposures) {
        assert_eq!((a.exposure_id, a.cal_unit), (b.exposure_id, b.cal_unit));
        for k in 0..3 {
            assert!(close(a.attitude[k], b.attitude[k], 1e-15));
        }
    }
    assert_eq!(back.images.len(), ds.images.len());
    for (a, b) in back.images.iter().zip(&ds.images) {
        assert_eq!(
            (a.exposure, a.source, a.detector),
            (b.exposure, b.source, b.detector)
        );
        assert!(close(a.x, b.x, 1e-15) && close(a.y, b.y, 1e-15));
        assert!(close(a.sigma, b.sigma, 1e-20));
    }
    assert_eq!(back.stars.source_id, ds.stars.source_id);
    for (a, b) in back.stars.params.iter().zip(&ds.stars.params) {
        for k in 0..5 {
            assert!(close(a[k], b[k], 1e-15), "{k}");
        }
    }
    assert_eq!(back.reference.len(), 5);
    for (a, b) in back.reference.iter().zip(&ds.reference) {
        assert_eq!(a.source_index, b.source_index);
        assert!(close(a.epoch_offset_yr, b.epoch_offset_yr, 1e-9));
        for k in 0..5 {
            assert!(close(a.params[k], b.params[k], 1e-15) && close(a.sigma[k], b.sigma[k], 1e-20));
        }
    }
    let t = read_pointed_truth(&root, &back).unwrap().expect("truth");
    assert_eq!(t.distortion.order, 3);
    assert_eq!(t.distortion.n_units, 2);
    for (a, b) in t.distortion.coeffs.iter().zip(&truth.distortion.coeffs) {
        assert!(close(*a, *b, 1e-20));
    }
    // a Gaia-like data set is not taken for a pointed one
    assert!(!is_pointed_dataset(dir.path()));
    // existing files are not replaced
    assert!(matches!(
        write_pointed_dataset(&root, &ds, None, false),
        Err(IoError::Exists { .. })
    ));
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("j");
        write(&root);
        Fixture { _dir: dir, root }
    }
    fn edit(&self, f: &str, g: impl FnOnce(&mut Raw)) {
        let p = self.root.join(f);
        let mut raw = Raw::read(&p);
        g(&mut raw);
        raw.write(&p);
    }
    fn expect(&self, file: &str, row: Option<usize>, column: Option<&str>, text: &str) {
        let e = match read_pointed_dataset(&self.root) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        };
        let msg = e.to_string();
        assert!(msg.contains(file), "{msg}");
        assert!(msg.contains(text), "{msg:?} lacks {text:?}");
        assert_eq!(e.row(), row, "{msg}");
        assert_eq!(e.column(), column, "{msg}");
    }
}

fn f64_col(name: &str, v: Vec<f64>) -> (Field, Arc<Float64Array>) {
    (
        Field::new(name, DataType::Float64, false),
        Arc::new(Float64Array::from(v)),
    )
}

fn replace_f64(raw: &mut Raw, name: &str, row: usize, value: f64) {
    let a = raw
        .column(name)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    let mut v: Vec<f64> = a.values().to_vec();
    v[row - 1] = value;
    let (f, a) = f64_col(name, v);
    raw.set(f, a);
}

#[test]
fn malformed_pointed_files_name_file_row_and_column() {
    let fx = Fixture::new();
    fx.edit(IMAGES_FILE, |r| replace_f64(r, "x_pix", 7, f64::NAN));
    fx.expect(IMAGES_FILE, Some(7), Some("x_pix"), "NaN");

    let fx = Fixture::new();
    fx.edit(IMAGES_FILE, |r| replace_f64(r, "y_pix", 3, 5000.0));
    fx.expect(IMAGES_FILE, Some(3), Some("y_pix"), "outside the detector");

    let fx = Fixture::new();
    fx.edit(IMAGES_FILE, |r| replace_f64(r, "position_error", 12, -1.0));
    fx.expect(IMAGES_FILE, Some(12), Some("position_error"), "positive");

    let fx = Fixture::new();
    fx.edit(IMAGES_FILE, |r| {
        let a = r
            .column("detector")
            .as_any()
            .downcast_ref::<Int8Array>()
            .unwrap();
        let mut v: Vec<i8> = a.values().to_vec();
        v[4] = 7;
        r.set(
            Field::new("detector", DataType::Int8, false),
            Arc::new(Int8Array::from(v)),
        );
    });
    fx.expect(IMAGES_FILE, Some(5), Some("detector"), "outside 0..3");

    let fx = Fixture::new();
    fx.edit(IMAGES_FILE, |r| {
        let a = r
            .column("exposure_id")
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        let mut v: Vec<i64> = a.values().to_vec();
        v[9] = 999;
        r.set(
            Field::new("exposure_id", DataType::Int64, false),
            Arc::new(Int64Array::from(v)),
        );
    });
    fx.expect(
        IMAGES_FILE,
        Some(10),
        Some("exposure_id"),
        "unknown exposure_id 999",
    );

    let fx = Fixture::new();
    fx.edit(EXPOSURES_FILE, |r| {
        let a = r
            .column("exposure_id")
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        let mut v: Vec<i64> = a.values().to_vec();
        v[2] = v[1];
        r.set(
            Field::new("exposure_id", DataType::Int64, false),
            Arc::new(Int64Array::from(v)),
        );
    });
    fx.expect(EXPOSURES_FILE, Some(3), Some("exposure_id"), "duplicate");

    let fx = Fixture::new();
    fx.edit(REFERENCE_CATALOGUE_FILE, |r| {
        replace_f64(r, "parallax_error", 2, 0.0)
    });
    fx.expect(
        REFERENCE_CATALOGUE_FILE,
        Some(2),
        Some("parallax_error"),
        "positive",
    );

    let fx = Fixture::new();
    fx.edit(REFERENCE_CATALOGUE_FILE, |r| {
        r.columns.retain(|c| c.0.name() != "ref_epoch")
    });
    fx.expect(
        REFERENCE_CATALOGUE_FILE,
        None,
        Some("ref_epoch"),
        "missing column",
    );

    let fx = Fixture::new();
    fx.edit(STARS_FILE, |r| replace_f64(r, "dec", 4, 95.0));
    fx.expect(STARS_FILE, Some(4), Some("dec"), "outside [-90, 90]");

    let fx = Fixture::new();
    std::fs::write(fx.root.join(IMAGES_FILE), b"not a parquet file at all").unwrap();
    fx.expect(IMAGES_FILE, None, None, "not a valid Parquet file");

    let fx = Fixture::new();
    let m = fx.root.join(MISSION_FILE);
    let text = std::fs::read_to_string(&m).unwrap();
    std::fs::write(&m, text.replace("plate_order", "plate_ordre")).unwrap();
    let e = read_pointed_dataset(&fx.root).unwrap_err();
    assert!(matches!(e, IoError::Toml { .. }), "{e}");
    assert!(e.to_string().contains("plate_ordre"), "{e}");

    let fx = Fixture::new();
    let d = fx.root.join("truth").join(DISTORTION_FILE);
    let mut raw = Raw::read(&d);
    replace_f64(&mut raw, "c4", 6, f64::INFINITY);
    raw.write(&d);
    let ds = read_pointed_dataset(&fx.root).unwrap();
    let e = read_pointed_truth(&fx.root, &ds).unwrap_err();
    assert_eq!((e.row(), e.column()), (Some(6), Some("c4")), "{e}");
}
