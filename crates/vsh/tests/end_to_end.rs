//! Catalogue file → selection → fit → JSON report and PNG plots.

mod common;

use astrosolve_vsh::basis::{n_coef, Family, Part};
use astrosolve_vsh::physics::vector_to_coefficients;
use astrosolve_vsh::{analyse_file, coef_index, AnalysisOptions, VshError};

#[test]
fn catalogue_to_report_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("qso.parquet");
    let mut truth = vec![0.0; n_coef(2)];
    let w = vector_to_coefficients([12.0, -8.0, 5.0]);
    truth[coef_index(Family::T, 1, 0, Part::Zonal)] = w[0];
    truth[coef_index(Family::T, 1, 1, Part::Re)] = w[1];
    truth[coef_index(Family::T, 1, 1, Part::Im)] = w[2];
    truth[coef_index(Family::S, 2, 1, Part::Im)] = 20.0;
    common::write_catalogue(&cat, 30_000, truth, 5);

    let opts = AnalysisOptions {
        lmax: 3,
        select: vec!["is_qso".into(), "phot_g_mean_mag<20".into()],
        ..Default::default()
    };
    let a = analyse_file(&cat, &opts).unwrap();
    let input = a.report.input.as_ref().unwrap();
    assert_eq!(input.n_rows, 30_000);
    // is_qso removes every 10th row, G < 20 removes magnitude 20 (one in 7).
    let expect = (0..30_000)
        .filter(|i| i % 10 != 0 && 14 + i % 7 < 20)
        .count();
    assert_eq!(input.n_selected, expect);
    let r = &a.report.rotation;
    for (i, t) in [12.0, -8.0, 5.0].iter().enumerate() {
        assert!((r.components[i] - t).abs() < 4.0 * r.errors[i], "omega {i}");
    }
    let s21i = a
        .report
        .coefficients
        .iter()
        .find(|c| c.name == "s21i")
        .unwrap();
    assert!((s21i.value - 20.0).abs() < 4.0 * s21i.error);
    assert!(a.report.power[1].spheroidal.z > 5.0);
    assert!((a.report.fit.unit_weight_error - 1.0).abs() < 0.05);
    let text = a.summary_text();
    assert!(
        text.contains("Rotation") && text.contains("Glide") && text.contains("Power per degree")
    );

    // Outputs.
    let out = dir.path().join("out");
    let files = a.write_outputs(&out, false, true).unwrap();
    assert_eq!(files.len(), 5);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        if f.extension().unwrap() == "png" {
            assert!(
                bytes.len() > 10_000 && bytes.starts_with(b"\x89PNG"),
                "{}",
                f.display()
            );
        }
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("vsh.json")).unwrap()).unwrap();
    assert_eq!(json["settings"]["lmax"], 3);
    assert_eq!(json["coefficients"].as_array().unwrap().len(), 30);
    assert_eq!(json["correlation"].as_array().unwrap().len(), 30);
    assert_eq!(json["correlation"][4][4].as_f64().unwrap(), 1.0);
    assert!(json["glide"]["galactic"]["lat"].is_number());
    assert_eq!(json["power"][0]["toroidal"]["dof"], 3);
    assert_eq!(json["input"]["selection"][0], "is_qso");
    // No overwrite without force; nothing is touched.
    let before = std::fs::metadata(out.join("vsh.json"))
        .unwrap()
        .modified()
        .unwrap();
    let e = a.write_outputs(&out, false, true).unwrap_err();
    assert!(matches!(e, VshError::OutputExists(_)));
    assert_eq!(
        std::fs::metadata(out.join("vsh.json"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
    a.write_outputs(&out, true, false).unwrap();

    // Forgetting the selection lets the wild non-QSO motions in: clipping must catch them all.
    let b = analyse_file(
        &cat,
        &AnalysisOptions {
            lmax: 3,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(b.report.fit.n_rejected >= 3000);
    let r = &b.report.rotation;
    for (i, t) in [12.0, -8.0, 5.0].iter().enumerate() {
        assert!(
            (r.components[i] - t).abs() < 4.0 * r.errors[i],
            "omega {i} (clipped)"
        );
    }
}
