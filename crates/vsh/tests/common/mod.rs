//! Shared helper: a synthetic astrosolve-style Parquet catalogue.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch};
use astrosolve_vsh::synth::{generate, SynthConfig};
use parquet::arrow::ArrowWriter;

/// Writes `n` sources with the given true coefficients [µas/yr] to `path` (Gaia columns and
/// units). Every 10th source is marked `is_qso = false` and given a wild proper motion, so an
/// analysis that forgets the selection fails. Magnitudes cycle through 14–20.
pub fn write_catalogue(path: &Path, n: usize, truth: Vec<f64>, seed: u64) {
    let syn = generate(&SynthConfig {
        n,
        truth,
        sigma_range: (100.0, 400.0),
        max_corr: 0.5,
        seed,
        ..Default::default()
    });
    let d = &syn.data;
    let is_qso: Vec<bool> = (0..n).map(|i| i % 10 != 0).collect();
    let wild = |i: usize, v: f64| if is_qso[i] { v } else { v + 5.0e5 };
    let deg = |v: &Vec<f64>| -> ArrayRef {
        Arc::new(Float64Array::from(
            v.iter().map(|x| x.to_degrees()).collect::<Vec<_>>(),
        ))
    };
    let mas = |v: &Vec<f64>, w: bool| -> ArrayRef {
        Arc::new(Float64Array::from(
            v.iter()
                .enumerate()
                .map(|(i, x)| if w { wild(i, *x) / 1000.0 } else { x / 1000.0 })
                .collect::<Vec<_>>(),
        ))
    };
    let batch = RecordBatch::try_from_iter(vec![
        (
            "source_id",
            Arc::new(Int64Array::from((0..n as i64).collect::<Vec<_>>())) as ArrayRef,
        ),
        ("ra", deg(&d.ra)),
        ("dec", deg(&d.dec)),
        ("pmra", mas(&d.pmra, true)),
        ("pmdec", mas(&d.pmdec, true)),
        ("pmra_error", mas(&d.pmra_error, false)),
        ("pmdec_error", mas(&d.pmdec_error, false)),
        (
            "pmra_pmdec_corr",
            Arc::new(Float64Array::from(d.pmra_pmdec_corr.clone())) as ArrayRef,
        ),
        (
            "phot_g_mean_mag",
            Arc::new(Float64Array::from(
                (0..n).map(|i| 14.0 + (i % 7) as f64).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "is_qso",
            Arc::new(BooleanArray::from(is_qso.clone())) as ArrayRef,
        ),
    ])
    .unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}
