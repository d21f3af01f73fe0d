//! Every file type round-trips: in-memory → file → in-memory gives back the same values
//! (bit-identical where no unit conversion is involved, within 1 ulp where a value is
//! converted between rad and deg/mas), and the files hold what docs/formats.md says.

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int8Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float32Array, Float64Array, Int16Array, Int32Array, StringArray,
    UInt64Array, UInt8Array,
};
use arrow_schema::{DataType, Field};
use astrosolve_io::*;
use astrosolve_model::units::{DEG, JD_J2016, MAS};
use astrosolve_model::MissionConfig;
use common::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn full_solved(rng: &mut Rng, n: usize) -> SolvedColumns {
    let covs: Vec<[[f64; 5]; 5]> = (0..n)
        .map(|_| {
            // random SPD matrix A Aᵀ + diag, in mas²
            let a: [[f64; 5]; 5] =
                std::array::from_fn(|_| std::array::from_fn(|_| rng.range(-1.0, 1.0)));
            std::array::from_fn(|i| {
                std::array::from_fn(|j| {
                    let s: f64 = (0..5).map(|k| a[i][k] * a[j][k]).sum();
                    (s + if i == j { 0.1 } else { 0.0 }) * MAS * MAS
                })
            })
        })
        .collect();
    let mut s = SolvedColumns::from_covariances(&covs);
    s.astrometric_n_obs_al = Some((0..n as i32).map(|i| 100 + i).collect());
    s.astrometric_n_good_obs_al = Some((0..n as i32).map(|i| 98 + i).collect());
    s.astrometric_n_bad_obs_al = Some(vec![2; n]);
    s.astrometric_excess_noise = Some(
        (0..n)
            .map(|i| if i % 3 == 0 { 0.0 } else { rng.f() * MAS })
            .collect(),
    );
    s.ruwe = Some((0..n).map(|_| rng.range(0.8, 1.4)).collect());
    // NaN means "not available"
    s.ruwe.as_mut().unwrap()[1] = f64::NAN;
    s.extra = vec![
        (
            "visibility_periods_used".into(),
            (0..n).map(|i| i as f64).collect(),
        ),
        ("my_statistic".into(), (0..n).map(|_| rng.f()).collect()),
    ];
    s
}

fn assert_solved_close(a: &SolvedColumns, b: &SolvedColumns) {
    let f = |x: &Option<Vec<f64>>, y: &Option<Vec<f64>>, name: &str| {
        assert_eq!(x.is_some(), y.is_some(), "{name}");
        if let (Some(x), Some(y)) = (x, y) {
            assert_eq!(x.len(), y.len());
            for (p, q) in x.iter().zip(y) {
                assert!(close(*p, *q, 1), "{name}: {p} vs {q}");
            }
        }
    };
    f(&a.ra_error, &b.ra_error, "ra_error");
    f(&a.dec_error, &b.dec_error, "dec_error");
    f(&a.parallax_error, &b.parallax_error, "parallax_error");
    f(&a.pmra_error, &b.pmra_error, "pmra_error");
    f(&a.pmdec_error, &b.pmdec_error, "pmdec_error");
    f(&a.ra_dec_corr, &b.ra_dec_corr, "ra_dec_corr");
    f(&a.ra_parallax_corr, &b.ra_parallax_corr, "ra_parallax_corr");
    f(&a.ra_pmra_corr, &b.ra_pmra_corr, "ra_pmra_corr");
    f(&a.ra_pmdec_corr, &b.ra_pmdec_corr, "ra_pmdec_corr");
    f(
        &a.dec_parallax_corr,
        &b.dec_parallax_corr,
        "dec_parallax_corr",
    );
    f(&a.dec_pmra_corr, &b.dec_pmra_corr, "dec_pmra_corr");
    f(&a.dec_pmdec_corr, &b.dec_pmdec_corr, "dec_pmdec_corr");
    f(
        &a.parallax_pmra_corr,
        &b.parallax_pmra_corr,
        "parallax_pmra_corr",
    );
    f(
        &a.parallax_pmdec_corr,
        &b.parallax_pmdec_corr,
        "parallax_pmdec_corr",
    );
    f(&a.pmra_pmdec_corr, &b.pmra_pmdec_corr, "pmra_pmdec_corr");
    f(
        &a.astrometric_excess_noise,
        &b.astrometric_excess_noise,
        "excess noise",
    );
    f(&a.ruwe, &b.ruwe, "ruwe");
    assert_eq!(a.astrometric_n_obs_al, b.astrometric_n_obs_al);
    assert_eq!(a.astrometric_n_good_obs_al, b.astrometric_n_good_obs_al);
    assert_eq!(a.astrometric_n_bad_obs_al, b.astrometric_n_bad_obs_al);
    assert_eq!(a.extra.len(), b.extra.len());
    for ((n1, v1), (n2, v2)) in a.extra.iter().zip(&b.extra) {
        assert_eq!(n1, n2);
        assert!(v1.iter().zip(v2).all(|(x, y)| same(*x, *y)));
    }
}

#[test]
fn catalogue_roundtrip_with_solved_columns() {
    let d = tmp();
    let path = d.path().join("solution.parquet");
    let mut rng = Rng::new(1);
    let src = sources(&mut rng, 50);
    let solved = full_solved(&mut rng, 50);
    write_catalogue(&path, &src, 2016.0, Some(&solved), false).unwrap();
    let cat = read_catalogue(&path).unwrap();
    assert_eq!(cat.ref_epoch, 2016.0);
    assert_sources_close(&src, &cat.sources);
    assert_solved_close(&solved, &cat.solved);

    // the file holds Gaia names and units
    let raw = Raw::read(&path);
    let ra = raw.column("ra").as_primitive::<Float64Type>();
    assert!(close(ra.value(3), src[3].params.ra / DEG, 1));
    let plx = raw.column("parallax").as_primitive::<Float64Type>();
    assert!(close(plx.value(3), src[3].params.parallax / MAS, 1));
    let err = raw.column("parallax_error").as_primitive::<Float64Type>();
    assert!(close(
        err.value(7),
        solved.parallax_error.as_ref().unwrap()[7] / MAS,
        1
    ));
    assert_eq!(
        raw.column("astrometric_n_obs_al").data_type(),
        &DataType::Int32
    );
    assert_eq!(raw.column("is_qso").data_type(), &DataType::Boolean);
    assert_eq!(raw.column("source_id").data_type(), &DataType::Int64);
}

#[test]
fn catalogue_without_solved_columns() {
    let d = tmp();
    let path = d.path().join("sources.parquet");
    let mut rng = Rng::new(2);
    let src = sources(&mut rng, 10);
    write_catalogue(&path, &src, 2016.0, None, false).unwrap();
    let cat = read_catalogue(&path).unwrap();
    assert_sources_close(&src, &cat.sources);
    assert!(cat.solved.is_empty());
    // an empty catalogue is valid too
    let empty = d.path().join("empty.parquet");
    write_catalogue(&empty, &[], 2016.0, None, false).unwrap();
    assert!(read_catalogue(&empty).unwrap().sources.is_empty());
}

#[test]
fn solved_columns_from_covariances() {
    let s2 = |x: f64| x * x;
    let sig = [1.0, 2.0, 3.0, 4.0, 5.0];
    let mut c = [[0.0; 5]; 5];
    for i in 0..5 {
        c[i][i] = s2(sig[i]);
    }
    c[0][2] = 0.5 * sig[0] * sig[2];
    c[2][0] = c[0][2];
    c[3][4] = -0.25 * sig[3] * sig[4];
    c[4][3] = c[3][4];
    let s = SolvedColumns::from_covariances(&[c]);
    assert_eq!(s.ra_error.as_ref().unwrap()[0], 1.0);
    assert_eq!(s.pmdec_error.as_ref().unwrap()[0], 5.0);
    assert!((s.ra_parallax_corr.as_ref().unwrap()[0] - 0.5).abs() < 1e-15);
    assert!((s.pmra_pmdec_corr.as_ref().unwrap()[0] + 0.25).abs() < 1e-15);
    assert_eq!(s.ra_dec_corr.as_ref().unwrap()[0], 0.0);
}

#[test]
fn observations_roundtrip_including_al_only() {
    let d = tmp();
    let path = d.path().join("observations.parquet");
    let mut rng = Rng::new(3);
    let m = mission();
    let src = sources(&mut rng, 40);
    let set = observations(&mut rng, &m, 40, 2000);
    let n_al_only = set.obs.iter().filter(|o| !o.has_ac()).count();
    assert!(n_al_only > 100 && n_al_only < 1900);
    write_observations(&path, &set.obs, &src, false).unwrap();
    let back = read_observations(&path, &src, &m.instrument).unwrap();
    assert_obs_close(&set.obs, &back);

    // file conventions: null zeta and zeta_error for AL-only rows, int8 1-based CCDs, mas
    let raw = Raw::read(&path);
    assert_eq!(raw.column("zeta").null_count(), n_al_only);
    assert_eq!(raw.column("zeta_error").null_count(), n_al_only);
    for name in ["fov", "ccd_row", "ccd_strip"] {
        assert_eq!(raw.column(name).data_type(), &DataType::Int8, "{name}");
    }
    let row = raw.column("ccd_row").as_primitive::<Int8Type>();
    let strip = raw.column("ccd_strip").as_primitive::<Int8Type>();
    let fov = raw.column("fov").as_primitive::<Int8Type>();
    for (i, o) in set.obs.iter().enumerate() {
        assert_eq!(row.value(i), o.row as i8 + 1);
        assert_eq!(strip.value(i), o.strip as i8 + 1);
        assert_eq!(fov.value(i), o.fov.index() as i8);
    }
    assert_eq!(row.values().iter().min(), Some(&1));
    assert_eq!(row.values().iter().max(), Some(&7));
    let eta = raw.column("eta").as_primitive::<Float64Type>();
    assert!(close(eta.value(5), set.obs[5].eta / MAS, 1));
    let t = raw.column("t").as_primitive::<Float64Type>();
    assert_eq!(t.value(5), set.obs[5].t);
}

/// Observations kept on disk during a solve come back bit for bit, source by source (AL-only
/// ones with their NaN ζ), from any thread; the scratch file's name is gone once it is open,
/// and an existing file is not overwritten.
#[test]
fn observation_file_returns_every_source_bit_for_bit() {
    use astrosolve_model::{Observation, ObservationSet, ObservationStore};
    let d = tmp();
    let path = d.path().join("obs.bin");
    let mut rng = Rng::new(4);
    let m = mission();
    let set = ObservationSet::from_unsorted(observations(&mut rng, &m, 40, 2000).obs, 40);
    let file = ObservationFile::create(&path, &set).unwrap();
    assert_eq!(file.file_bytes(), 32 + 52 * 2000);
    #[cfg(unix)]
    assert!(!path.exists());
    assert_eq!(file.source_offsets(), &set.source_offsets[..]);
    let bits = |o: &Observation| {
        (
            o.source_index,
            o.fov,
            o.row,
            o.strip,
            [o.t, o.eta, o.zeta, o.sigma_eta, o.sigma_zeta, o.ac_coord].map(f64::to_bits),
        )
    };
    let check = |i: usize| {
        let mut n = 0;
        file.with_source(i, &mut |obs| {
            assert_eq!(obs.len(), set.of_source(i).len());
            for (a, b) in obs.iter().zip(set.of_source(i)) {
                assert_eq!(bits(a), bits(b), "source {i}");
            }
            n += 1;
        })
        .unwrap();
        assert_eq!(n, 1);
    };
    std::thread::scope(|sc| {
        sc.spawn(|| (0..40).rev().for_each(check));
        (0..40).for_each(check);
    });
    // a read from inside a read (its own buffers)
    file.with_source(3, &mut |a| {
        file.with_source(4, &mut |b| assert_eq!(b.len(), set.of_source(4).len()))
            .unwrap();
        assert_eq!(a.len(), set.of_source(3).len());
    })
    .unwrap();
    // never over a file that exists
    let taken = d.path().join("taken.bin");
    std::fs::write(&taken, b"keep").unwrap();
    let e = ObservationFile::create(&taken, &set).unwrap_err();
    assert!(matches!(e, IoError::Exists { .. }), "{e}");
    assert_eq!(std::fs::read(&taken).unwrap(), b"keep");
}

#[test]
fn attitude_roundtrip_is_bit_exact() {
    let d = tmp();
    let path = d.path().join("attitude.parquet");
    let mut rng = Rng::new(4);
    let att = attitude(&mut rng, &mission());
    write_attitude(&path, &att, false).unwrap();
    let back = read_attitude(&path).unwrap();
    assert_eq!(att, back);
    let raw = Raw::read(&path);
    assert_eq!(raw.column("q4").len(), att.knots.n_intervals + 3);
    let tc = raw.column("t_centre").as_primitive::<Float64Type>();
    assert_eq!(tc.value(1), att.knots.t0);
    assert_eq!(tc.value(0), att.knots.t0 - att.knots.h);
}

#[test]
fn calibration_roundtrip() {
    let d = tmp();
    let path = d.path().join("calibration.parquet");
    let mut rng = Rng::new(5);
    let m = mission();
    let cal = calibration(&mut rng, &m);
    assert_eq!(cal.n_intervals, 4);
    write_calibration(&path, &cal, false).unwrap();
    let back = read_calibration(&path).unwrap();
    assert_cal_close(&cal, &back);
    let raw = Raw::read(&path);
    let names: Vec<&str> = raw.columns.iter().map(|c| c.0.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "interval",
            "t_start",
            "t_end",
            "fov",
            "ccd_row",
            "ccd_strip",
            "al_legendre_0_mas",
            "al_legendre_1_mas",
            "al_legendre_2_mas",
            "al_chromatic_mas",
            "ac_offset_mas"
        ]
    );
    // a unit's parameters land in its row, in mas
    let u = cal.unit(2, 1, 3, 8);
    let col = raw.column("al_chromatic_mas").as_primitive::<Float64Type>();
    assert!(close(
        col.value(u),
        cal.params[u * cal.n_per_unit() + 3] / MAS,
        1
    ));

    // other models: no chromatic, no AC, degree 0
    let mut m2 = m.clone();
    m2.calibration.al_degree = 0;
    m2.calibration.chromatic = false;
    m2.calibration.ac_offset = false;
    let cal2 = calibration(&mut rng, &m2);
    let p2 = d.path().join("cal2.parquet");
    write_calibration(&p2, &cal2, false).unwrap();
    assert_cal_close(&cal2, &read_calibration(&p2).unwrap());
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Simulation {
    seed: u64,
    n_sources: usize,
    outlier_fraction: f64,
}
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Combined {
    mission: MissionConfig,
    simulation: Simulation,
}

#[test]
fn mission_toml_roundtrip() {
    let d = tmp();
    let path = d.path().join("mission.toml");
    let mut m = mission();
    m.reference_epoch_jd = JD_J2016 + 0.125;
    m.instrument.n_rows = 5;
    let c = Combined {
        mission: m.clone(),
        simulation: Simulation {
            seed: 42,
            n_sources: 1000,
            outlier_fraction: 0.01,
        },
    };
    write_toml(&path, &c, false).unwrap();
    let back: Combined = read_toml(&path).unwrap();
    assert_eq!(back, c);
    // the solver reads only [mission]; [simulation] is ignored
    assert_eq!(read_mission(&path).unwrap(), m);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("[mission]") && text.contains("[simulation]"));

    // a mission.toml with only [mission]
    let p2 = d.path().join("only.toml");
    write_mission(&p2, &m, false).unwrap();
    assert_eq!(read_mission(&p2).unwrap(), m);
    // missing keys take defaults
    let p3 = d.path().join("partial.toml");
    std::fs::write(&p3, "[mission]\nduration_days = 100.0\n").unwrap();
    let m3 = read_mission(&p3).unwrap();
    assert_eq!(m3.duration_days, 100.0);
    assert_eq!(m3.instrument, MissionConfig::default().instrument);
}

#[test]
fn dataset_roundtrip_with_truth() {
    let d = tmp();
    let dir = d.path().join("run");
    let (ds, truth) = dataset_and_truth(6, 60, 3000);
    write_dataset(&dir, &ds, Some(&truth), &WriteOptions::default()).unwrap();
    write_mission(dir.join(MISSION_FILE), &ds.mission, false).unwrap();
    for f in [
        "mission.toml",
        "sources.parquet",
        "observations.parquet",
        "attitude.parquet",
        "calibration.parquet",
        "truth/sources.parquet",
        "truth/attitude.parquet",
        "truth/calibration.parquet",
        "truth/observation_truth.parquet",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let (back, back_truth) = read_dataset_and_truth(&dir).unwrap();
    check_dataset(&ds, &back);
    let bt = back_truth.expect("truth");
    check_truth(&truth, &bt);
    // the separate entry points agree
    let ds2 = read_dataset(&dir).unwrap();
    check_dataset(&ds, &ds2);
    check_truth(&truth, &read_truth(&dir).unwrap().unwrap());
    let ds3 = read_dataset_with_mission(&dir, ds.mission.clone()).unwrap();
    check_dataset(&ds, &ds3);
}

/// The CLI's path: data set plus a combined mission.toml ([mission] and [simulation]).
#[test]
fn dataset_with_combined_config() {
    let d = tmp();
    let (ds, truth) = dataset_and_truth(13, 20, 300);
    let config = Combined {
        mission: ds.mission.clone(),
        simulation: Simulation {
            seed: 13,
            n_sources: 20,
            outlier_fraction: 0.02,
        },
    };
    let opts = WriteOptions::default();
    write_dataset_with_config(d.path(), &config, &ds, Some(&truth), &opts).unwrap();
    let back: Combined = read_toml(d.path().join(MISSION_FILE)).unwrap();
    assert_eq!(back, config);
    check_dataset(&ds, &read_dataset(d.path()).unwrap());

    // refused as a whole when mission.toml exists
    let d2 = tmp();
    std::fs::write(d2.path().join(MISSION_FILE), "[mission]\n").unwrap();
    let e = write_dataset_with_config(d2.path(), &config, &ds, None, &opts).unwrap_err();
    assert!(
        e.to_string().contains("mission.toml: already exists"),
        "{e}"
    );
    assert!(!d2.path().join(SOURCES_FILE).exists());

    // the configuration's [mission] must be the data set's
    let mut other = config;
    other.mission.l2_scale = 1.02;
    let d3 = tmp();
    let e = write_dataset_with_config(d3.path(), &other, &ds, None, &opts).unwrap_err();
    assert!(
        e.to_string()
            .contains("mission.toml: the [mission] table of the configuration differs"),
        "{e}"
    );
    assert!(!d3.path().join(SOURCES_FILE).exists());
}

fn check_dataset(a: &Dataset, b: &Dataset) {
    assert_eq!(a.mission, b.mission);
    assert_sources_close(&a.sources, &b.sources);
    assert_eq!(a.observations.source_offsets, b.observations.source_offsets);
    assert_obs_close(&a.observations.obs, &b.observations.obs);
    assert_eq!(a.attitude, b.attitude);
    assert_cal_close(&a.calibration, &b.calibration);
}

fn check_truth(a: &Truth, b: &Truth) {
    assert_sources_close(&a.sources, &b.sources);
    assert_eq!(a.attitude, b.attitude);
    assert_cal_close(&a.calibration, &b.calibration);
    assert_eq!(a.is_outlier, b.is_outlier);
    assert_eq!(a.noise_eta.len(), b.noise_eta.len());
    for (x, y) in a.noise_eta.iter().zip(&b.noise_eta) {
        assert!(close(*x, *y, 1));
    }
    for (x, y) in a.noise_zeta.iter().zip(&b.noise_zeta) {
        assert!(close(*x, *y, 1));
    }
}

#[test]
fn dataset_without_truth() {
    let d = tmp();
    let (ds, _) = dataset_and_truth(7, 20, 500);
    write_dataset(d.path(), &ds, None, &WriteOptions::default()).unwrap();
    write_mission(d.path().join(MISSION_FILE), &ds.mission, false).unwrap();
    assert!(!d.path().join(TRUTH_DIR).exists());
    assert!(read_truth(d.path()).unwrap().is_none());
    let (back, truth) = read_dataset_and_truth(d.path()).unwrap();
    assert!(truth.is_none());
    check_dataset(&ds, &back);
}

/// Observation files from other producers may be in any order: the reader groups them by
/// source and time, and the per-observation truth follows the same permutation.
#[test]
fn shuffled_observation_file_is_regrouped_and_truth_stays_aligned() {
    let d = tmp();
    let (ds, truth) = dataset_and_truth(8, 30, 1500);
    write_dataset(d.path(), &ds, Some(&truth), &WriteOptions::default()).unwrap();
    write_mission(d.path().join(MISSION_FILE), &ds.mission, false).unwrap();
    let n = ds.observations.len();
    // a random permutation applied to both row-aligned files
    let mut rng = Rng::new(99);
    let mut perm: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        perm.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let idx = arrow_array::UInt32Array::from(perm);
    for f in [
        d.path().join(OBSERVATIONS_FILE),
        d.path().join(TRUTH_DIR).join(OBSERVATION_TRUTH_FILE),
    ] {
        Raw::edit(&f, |r| {
            for c in r.columns.iter_mut() {
                c.1 = arrow_select_take(&c.1, &idx);
            }
        });
    }
    let (back, bt) = read_dataset_and_truth(d.path()).unwrap();
    check_dataset(&ds, &back);
    check_truth(&truth, &bt.unwrap());
    check_truth(&truth, &read_truth(d.path()).unwrap().unwrap());
}

/// `take` for the few array types the test files use (no arrow-select dependency).
fn arrow_select_take(a: &ArrayRef, idx: &arrow_array::UInt32Array) -> ArrayRef {
    let ix = idx.values();
    match a.data_type() {
        DataType::Float64 => {
            let v = a.as_primitive::<Float64Type>();
            Arc::new(Float64Array::from(
                ix.iter()
                    .map(|&i| v.is_valid(i as usize).then(|| v.value(i as usize)))
                    .collect::<Vec<_>>(),
            ))
        }
        DataType::Int8 => {
            let v = a.as_primitive::<Int8Type>();
            Arc::new(arrow_array::Int8Array::from(
                ix.iter().map(|&i| v.value(i as usize)).collect::<Vec<_>>(),
            ))
        }
        DataType::Int64 => {
            let v = a.as_primitive::<arrow_array::types::Int64Type>();
            Arc::new(arrow_array::Int64Array::from(
                ix.iter().map(|&i| v.value(i as usize)).collect::<Vec<_>>(),
            ))
        }
        DataType::Boolean => {
            let v = a.as_boolean();
            Arc::new(BooleanArray::from(
                ix.iter().map(|&i| v.value(i as usize)).collect::<Vec<_>>(),
            ))
        }
        other => panic!("take: {other}"),
    }
}

/// An observation file without zeta columns holds AL-only observations.
#[test]
fn observations_without_zeta_columns_are_al_only() {
    let d = tmp();
    let path = d.path().join("observations.parquet");
    let mut rng = Rng::new(12);
    let m = mission();
    let src = sources(&mut rng, 5);
    let set = observations(&mut rng, &m, 5, 100);
    write_observations(&path, &set.obs, &src, false).unwrap();
    Raw::edit(&path, |r| {
        r.drop_column("zeta");
        r.drop_column("zeta_error");
    });
    let back = read_observations(&path, &src, &m.instrument).unwrap();
    assert!(back
        .iter()
        .all(|o| o.zeta.is_nan() && o.sigma_zeta.is_nan()));
    assert!(back.iter().zip(&set.obs).all(|(a, b)| a.eta == b.eta));
}

/// Readers accept Float32 for float64 columns and any integer width for integers.
#[test]
fn lenient_column_types() {
    let d = tmp();
    let path = d.path().join("observations.parquet");
    let mut rng = Rng::new(9);
    let m = mission();
    let src = sources(&mut rng, 5);
    let set = observations(&mut rng, &m, 5, 200);
    write_observations(&path, &set.obs, &src, false).unwrap();
    Raw::edit(&path, |r| {
        let eta = r.column("eta").as_primitive::<Float64Type>().clone();
        let eta32: Float32Array = eta.values().iter().map(|&v| Some(v as f32)).collect();
        r.set(Field::new("eta", DataType::Float32, false), Arc::new(eta32));
        let row = r.column("ccd_row").as_primitive::<Int8Type>().clone();
        r.set(
            Field::new("ccd_row", DataType::UInt8, false),
            Arc::new(UInt8Array::from(
                row.values().iter().map(|&v| v as u8).collect::<Vec<_>>(),
            )),
        );
        let strip = r.column("ccd_strip").as_primitive::<Int8Type>().clone();
        r.set(
            Field::new("ccd_strip", DataType::Int32, false),
            Arc::new(Int32Array::from(
                strip.values().iter().map(|&v| v as i32).collect::<Vec<_>>(),
            )),
        );
        let ids = r
            .column("source_id")
            .as_primitive::<arrow_array::types::Int64Type>()
            .clone();
        r.set(
            Field::new("source_id", DataType::UInt64, false),
            Arc::new(UInt64Array::from(
                ids.values().iter().map(|&v| v as u64).collect::<Vec<_>>(),
            )),
        );
    });
    let back = read_observations(&path, &src, &m.instrument).unwrap();
    for (a, b) in set.obs.iter().zip(&back) {
        assert_eq!(
            (a.source_index, a.row, a.strip),
            (b.source_index, b.row, b.strip)
        );
        assert_eq!(b.eta, ((a.eta / MAS) as f32) as f64 * MAS);
    }
}

/// A Gaia-archive-like export: float32 columns, an int16 count, a string column, no
/// is_qso, a null nu_eff_used_in_astrometry with a pseudocolour (6-parameter solution).
#[test]
fn gaia_like_export_reads() {
    let d = tmp();
    let path = d.path().join("gaia.parquet");
    let mut rng = Rng::new(10);
    let src = sources(&mut rng, 4);
    write_catalogue(&path, &src, 2016.0, None, false).unwrap();
    Raw::edit(&path, |r| {
        r.drop_column("is_qso");
        let g = r
            .column("phot_g_mean_mag")
            .as_primitive::<Float64Type>()
            .clone();
        r.set(
            Field::new("phot_g_mean_mag", DataType::Float32, true),
            Arc::new(
                g.values()
                    .iter()
                    .map(|&v| Some(v as f32))
                    .collect::<Float32Array>(),
            ),
        );
        r.set(
            Field::new("nu_eff_used_in_astrometry", DataType::Float32, true),
            Arc::new(Float32Array::from(vec![
                Some(1.5),
                None,
                Some(1.6),
                Some(1.7),
            ])),
        );
        r.set(
            Field::new("pseudocolour", DataType::Float32, true),
            Arc::new(Float32Array::from(vec![None, Some(1.25), None, None])),
        );
        r.set(
            Field::new("designation", DataType::Utf8, false),
            Arc::new(StringArray::from(vec![
                "Gaia DR3 1",
                "Gaia DR3 2",
                "Gaia DR3 3",
                "Gaia DR3 4",
            ])),
        );
        r.set(
            Field::new("astrometric_n_obs_al", DataType::Int16, false),
            Arc::new(Int16Array::from(vec![200, 300, 400, 500])),
        );
        r.set(
            Field::new("parallax_error", DataType::Float32, true),
            Arc::new(Float32Array::from(vec![
                Some(0.02),
                None,
                Some(0.5),
                Some(0.1),
            ])),
        );
        r.set(
            Field::new("random_index", DataType::Int64, true),
            Arc::new(arrow_array::Int64Array::from(vec![
                Some(7),
                None,
                Some(9),
                Some(1),
            ])),
        );
    });
    let cat = read_catalogue(&path).unwrap();
    assert!(cat.sources.iter().all(|s| !s.is_qso));
    assert_eq!(cat.sources[0].params.nu_eff, 1.5f32 as f64);
    assert_eq!(cat.sources[1].params.nu_eff, 1.25);
    assert_eq!(
        cat.solved.astrometric_n_obs_al,
        Some(vec![200, 300, 400, 500])
    );
    let pe = cat.solved.parallax_error.as_ref().unwrap();
    assert!(pe[1].is_nan());
    assert_eq!(pe[2], 0.5 * MAS);
    let names: Vec<&str> = cat.solved.extra.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["pseudocolour", "random_index"]);
    assert!(cat.solved.extra[1].1[1].is_nan());
    assert_eq!(cat.solved.extra[1].1[2], 9.0);
}

#[test]
fn overwrite_is_refused_unless_asked() {
    let d = tmp();
    let (ds, truth) = dataset_and_truth(11, 10, 100);
    write_dataset(d.path(), &ds, Some(&truth), &WriteOptions::default()).unwrap();
    let before = std::fs::read(d.path().join(SOURCES_FILE)).unwrap();

    let e = write_dataset(
        d.path(),
        &ds,
        Some(&truth),
        &WriteOptions { overwrite: false },
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("sources.parquet: already exists"), "{msg}");
    assert!(matches!(e, IoError::Exists { .. }));

    // the single-table writers refuse too, naming the file
    let e = write_attitude(d.path().join(ATTITUDE_FILE), &ds.attitude, false).unwrap_err();
    assert!(
        e.to_string().contains("attitude.parquet: already exists"),
        "{e}"
    );
    write_mission(d.path().join(MISSION_FILE), &ds.mission, false).unwrap();
    let e = write_mission(d.path().join(MISSION_FILE), &ds.mission, false).unwrap_err();
    assert!(
        e.to_string().contains("mission.toml: already exists"),
        "{e}"
    );

    // a refused write leaves files untouched
    assert_eq!(std::fs::read(d.path().join(SOURCES_FILE)).unwrap(), before);

    // only the truth is left: still refused, nothing written
    for f in [
        "sources.parquet",
        "observations.parquet",
        "attitude.parquet",
        "calibration.parquet",
    ] {
        std::fs::remove_file(d.path().join(f)).unwrap();
    }
    let e = write_dataset(d.path(), &ds, Some(&truth), &WriteOptions::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("truth/sources.parquet: already exists"),
        "{e}"
    );
    assert!(!d.path().join(SOURCES_FILE).exists());

    // with overwrite: replaced; without truth, stale truth files are removed
    write_dataset(d.path(), &ds, None, &WriteOptions { overwrite: true }).unwrap();
    assert!(!d.path().join(TRUTH_DIR).exists());
    check_dataset(&ds, &read_dataset(d.path()).unwrap());
    // no temporary files left behind
    let names: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
}
