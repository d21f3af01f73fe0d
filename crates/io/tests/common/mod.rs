//! Hand-built test data and helpers shared by the integration tests.
#![allow(dead_code)]

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema};
use astrosolve_io::{Dataset, Truth};
use astrosolve_model::bspline::UniformKnots;
use astrosolve_model::source::{Source, SourceParams};
use astrosolve_model::units::{DEG, MAS};
use astrosolve_model::{
    BSplineAttitude, Calibration, Fov, MissionConfig, Observation, ObservationSet,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use std::path::Path;
use std::sync::Arc;

/// SplitMix64: deterministic pseudo-random numbers without dependencies.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f(&mut self) -> f64 {
        (self.u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.f()
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.u64() % n
    }
}

pub fn mission() -> MissionConfig {
    let mut m = MissionConfig {
        name: "io-test".into(),
        attitude_knot_interval_days: 0.5,
        ..Default::default()
    };
    m.calibration.interval_days = 91.3125; // 4 intervals
    m
}

pub fn sources(rng: &mut Rng, n: usize) -> Vec<Source> {
    (0..n)
        .map(|i| Source {
            // Gaia-like large identifiers, not in index order
            source_id: 4_295_806_720 + 137 * (n - i) as i64 * 1_000_003,
            params: SourceParams {
                ra: rng.range(0.0, 360.0) * DEG,
                dec: rng.range(-90.0, 90.0) * DEG,
                parallax: rng.range(-1.0, 20.0) * MAS,
                pmra: rng.range(-50.0, 50.0) * MAS,
                pmdec: rng.range(-50.0, 50.0) * MAS,
                nu_eff: rng.range(1.2, 1.9),
            },
            phot_g_mean_mag: rng.range(6.0, 20.0),
            is_qso: i % 5 == 0,
        })
        .collect()
}

pub fn attitude(rng: &mut Rng, m: &MissionConfig) -> BSplineAttitude {
    let knots = UniformKnots::covering(m.t_start(), m.t_end(), m.attitude_knot_interval_days);
    let coeffs = (0..knots.n_coeffs())
        .map(|_| {
            let q = [
                rng.range(-1.0, 1.0),
                rng.range(-1.0, 1.0),
                rng.range(-1.0, 1.0),
                rng.range(-1.0, 1.0),
            ];
            let n = q.iter().map(|x| x * x).sum::<f64>().sqrt();
            q.map(|x| x / n)
        })
        .collect();
    BSplineAttitude { knots, coeffs }
}

pub fn calibration(rng: &mut Rng, m: &MissionConfig) -> Calibration {
    let mut c = Calibration::zeros(&m.calibration, &m.instrument(), m.t_start(), m.t_end());
    for p in c.params.iter_mut() {
        *p = rng.range(-5.0, 5.0) * MAS;
    }
    c
}

/// `n_obs` observations of `n_src` sources, about a third AL-only, in CSR order.
pub fn observations(
    rng: &mut Rng,
    m: &MissionConfig,
    n_src: usize,
    n_obs: usize,
) -> ObservationSet {
    let obs = (0..n_obs)
        .map(|_| {
            let al_only = rng.f() < 0.35;
            Observation {
                source_index: rng.below(n_src as u64) as u32,
                fov: if rng.f() < 0.5 {
                    Fov::Preceding
                } else {
                    Fov::Following
                },
                row: rng.below(m.instrument.n_rows as u64) as u8,
                strip: rng.below(m.instrument.n_strips as u64) as u8,
                t: rng.range(m.t_start(), m.t_end()),
                eta: rng.range(-1500.0, 1500.0) * MAS,
                zeta: if al_only {
                    f64::NAN
                } else {
                    rng.range(-1200.0, 1200.0) * MAS
                },
                sigma_eta: rng.range(0.05, 3.0) * MAS,
                sigma_zeta: if al_only {
                    f64::NAN
                } else {
                    rng.range(0.3, 10.0) * MAS
                },
                ac_coord: rng.range(-1.0, 1.0),
            }
        })
        .collect();
    ObservationSet::from_unsorted(obs, n_src)
}

pub fn dataset_and_truth(seed: u64, n_src: usize, n_obs: usize) -> (Dataset, Truth) {
    let mut rng = Rng::new(seed);
    let m = mission();
    let src = sources(&mut rng, n_src);
    let observations = observations(&mut rng, &m, n_src, n_obs);
    let n = observations.len();
    let truth_sources = src
        .iter()
        .map(|s| {
            let mut t = *s;
            t.params.parallax += rng.range(-1.0, 1.0) * MAS;
            t.params.ra += rng.range(-1.0, 1.0) * MAS;
            t
        })
        .collect();
    let truth = Truth {
        sources: truth_sources,
        attitude: attitude(&mut rng, &m),
        calibration: calibration(&mut rng, &m),
        is_outlier: (0..n).map(|_| rng.f() < 0.02).collect(),
        noise_eta: (0..n).map(|_| rng.range(-3.0, 3.0) * MAS).collect(),
        noise_zeta: observations
            .obs
            .iter()
            .map(|o| {
                if o.has_ac() {
                    rng.range(-3.0, 3.0) * MAS
                } else {
                    f64::NAN
                }
            })
            .collect(),
    };
    let dataset = Dataset {
        attitude: attitude(&mut rng, &m),
        calibration: calibration(&mut rng, &m),
        mission: m,
        sources: src,
        observations,
    };
    (dataset, truth)
}

/// Equal, or both NaN, or within `ulps` units in the last place (unit conversions).
pub fn close(a: f64, b: f64, ulps: u64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    if a.signum() != b.signum() {
        return false;
    }
    a.to_bits().abs_diff(b.to_bits()) <= ulps
}

/// Bit-identical or both NaN.
pub fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

pub fn assert_sources_close(a: &[Source], b: &[Source]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.source_id, y.source_id);
        assert_eq!(x.is_qso, y.is_qso);
        assert!(same(x.phot_g_mean_mag, y.phot_g_mean_mag));
        assert!(same(x.params.nu_eff, y.params.nu_eff));
        let (p, q) = (x.params.to_array(), y.params.to_array());
        for k in 0..5 {
            assert!(close(p[k], q[k], 1), "param {k}: {} vs {}", p[k], q[k]);
        }
    }
}

pub fn assert_obs_close(a: &[Observation], b: &[Observation]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(
            (x.source_index, x.fov, x.row, x.strip),
            (y.source_index, y.fov, y.row, y.strip),
            "obs {i}"
        );
        assert!(same(x.t, y.t), "obs {i} t");
        assert!(same(x.ac_coord, y.ac_coord), "obs {i} ac_coord");
        assert!(close(x.eta, y.eta, 1), "obs {i} eta");
        assert!(close(x.zeta, y.zeta, 1), "obs {i} zeta");
        assert!(close(x.sigma_eta, y.sigma_eta, 1), "obs {i} sigma_eta");
        assert!(close(x.sigma_zeta, y.sigma_zeta, 1), "obs {i} sigma_zeta");
    }
}

pub fn assert_cal_close(a: &Calibration, b: &Calibration) {
    assert_eq!(a.config, b.config);
    assert_eq!(
        (a.n_rows, a.n_strips, a.n_intervals),
        (b.n_rows, b.n_strips, b.n_intervals)
    );
    assert!(same(a.t0, b.t0) && same(a.interval, b.interval));
    assert_eq!(a.params.len(), b.params.len());
    for (x, y) in a.params.iter().zip(&b.params) {
        assert!(close(*x, *y, 1), "{x} vs {y}");
    }
}

/// A Parquet file's columns and key-value metadata (without the embedded Arrow schema).
pub struct Raw {
    pub columns: Vec<(Field, ArrayRef)>,
    pub metadata: Vec<KeyValue>,
}

impl Raw {
    pub fn read(path: &Path) -> Raw {
        let f = std::fs::File::open(path).unwrap();
        let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
        let metadata = b
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|kv| kv.key != "ARROW:schema")
            .collect();
        let schema = b.schema().clone();
        let batches: Vec<RecordBatch> = b
            .with_batch_size(1 << 30)
            .build()
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(batches.len(), 1);
        let columns = schema
            .fields()
            .iter()
            .zip(batches[0].columns())
            .map(|(f, a)| (f.as_ref().clone(), a.clone()))
            .collect();
        Raw { columns, metadata }
    }

    pub fn write(&self, path: &Path) {
        let schema = Arc::new(Schema::new(
            self.columns.iter().map(|c| c.0.clone()).collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(
            schema.clone(),
            self.columns.iter().map(|c| c.1.clone()).collect(),
        )
        .unwrap();
        let props = WriterProperties::builder()
            .set_key_value_metadata(Some(self.metadata.clone()))
            .build();
        let f = std::fs::File::create(path).unwrap();
        let mut w = ArrowWriter::try_new(f, schema, Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    pub fn column(&self, name: &str) -> &ArrayRef {
        &self.columns.iter().find(|c| c.0.name() == name).unwrap().1
    }

    /// Replaces (or, if absent, appends) a column.
    pub fn set(&mut self, field: Field, array: ArrayRef) {
        match self.columns.iter_mut().find(|c| c.0.name() == field.name()) {
            Some(c) => *c = (field, array),
            None => self.columns.push((field, array)),
        }
    }

    pub fn drop_column(&mut self, name: &str) {
        self.columns.retain(|c| c.0.name() != name);
    }

    pub fn set_meta(&mut self, key: &str, value: Option<&str>) {
        self.metadata.retain(|kv| kv.key != key);
        if let Some(v) = value {
            self.metadata
                .push(KeyValue::new(key.to_string(), v.to_string()));
        }
    }

    /// Edits one file in place.
    pub fn edit(path: &Path, f: impl FnOnce(&mut Raw)) {
        let mut r = Raw::read(path);
        f(&mut r);
        r.write(path);
    }
}
