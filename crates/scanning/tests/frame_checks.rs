//! The frame checks: a rotation that the sources do not determine is reported as such (never
//! a NaN σ), a frame resting on few sources is warned about, and reference positions rotated
//! grossly from the starting catalogue are refused.

use astrosolve_model::SourceParams;
use astrosolve_scanning::frame::{
    check_references, fit_rotation, gaia_frame, FrameReference, FEW_FRAME_SOURCES,
};
use astrosolve_scanning::row::NS;

const ARCSEC: f64 = std::f64::consts::PI / (180.0 * 3600.0);

fn source(ra_deg: f64, dec_deg: f64) -> SourceParams {
    SourceParams {
        ra: ra_deg.to_radians(),
        dec: dec_deg.to_radians(),
        parallax: 0.0,
        pmra: 0.0,
        pmdec: 0.0,
        nu_eff: 1.55,
    }
}

/// (p, q, Δα*, Δδ, weight) of one source, as `fit_rotation` takes them.
type Equation = ([f64; 3], [f64; 3], f64, f64, f64);

fn eqs(srcs: &[SourceParams]) -> Vec<Equation> {
    srcs.iter()
        .map(|s| {
            let [p, q, _] = astrosolve_model::source::normal_triad(s.ra, s.dec);
            (p, q, 1e-9, -2e-9, 1.0)
        })
        .collect()
}

#[test]
fn one_source_does_not_determine_a_rotation() {
    assert!(fit_rotation(eqs(&[source(10.0, 20.0)]).into_iter()).is_none());
    // two antipodal sources: the rotation about their axis is free
    assert!(fit_rotation(eqs(&[source(10.0, 20.0), source(190.0, -20.0)]).into_iter()).is_none());
    let (_, cov) =
        fit_rotation(eqs(&[source(10.0, 20.0), source(100.0, -30.0)]).into_iter()).unwrap();
    assert!((0..3).all(|k| cov[k][k].is_finite() && cov[k][k] > 0.0));
}

#[test]
fn the_frame_fit_says_when_it_is_undetermined_or_fragile() {
    let params: Vec<SourceParams> = (0..30)
        .map(|i| source(12.0 * i as f64, -60.0 + 4.0 * i as f64))
        .collect();
    let mut cov = [[0.0; NS]; NS];
    for (k, row) in cov.iter_mut().enumerate() {
        row[k] = (100e-6 * ARCSEC).powi(2);
    }
    let covs = vec![cov; params.len()];
    let active = vec![true; params.len()];
    let refs = |n: usize| -> Vec<(usize, f64, f64, f64)> {
        (0..n)
            .map(|i| (i, params[i].ra, params[i].dec, 1e-3 * ARCSEC))
            .collect()
    };
    // one quasar: the spin is undetermined, and the message says so with the number
    let fr = FrameReference {
        positions: refs(20),
        zero_spin: vec![3],
        warnings: vec![],
    };
    let fit = gaia_frame(&params, &covs, &active, &fr);
    let why = fit.undetermined().expect("one quasar cannot fix the spin");
    assert!(
        why.contains("the spin rests on 1 solved quasar-like sources"),
        "{why}"
    );
    assert!(!why.contains("orientation"), "{why}");
    // three of each: determined, but warned
    let fr = FrameReference {
        positions: refs(3),
        zero_spin: vec![4, 11, 17],
        warnings: vec![],
    };
    let fit = gaia_frame(&params, &covs, &active, &fr);
    assert!(fit.undetermined().is_none());
    let w = fit.warnings().join("\n");
    assert!(
        w.contains("orientation rests on only 3") && w.contains("spin rests on only 3"),
        "{w}"
    );
    // enough of each: no warning
    let fr = FrameReference {
        positions: refs(FEW_FRAME_SOURCES),
        zero_spin: (10..10 + FEW_FRAME_SOURCES).collect(),
        warnings: vec![],
    };
    let fit = gaia_frame(&params, &covs, &active, &fr);
    assert!(fit.undetermined().is_none() && fit.warnings().is_empty());
    // the frame's sources unsolved: undetermined
    let inactive = vec![false; params.len()];
    let fit = gaia_frame(&params, &covs, &inactive, &fr);
    assert!(fit.undetermined().unwrap().contains("rests on 0"));
}

#[test]
fn references_rotated_from_the_start_are_refused_and_single_ones_warned() {
    let start: Vec<SourceParams> = (0..40)
        .map(|i| source(9.0 * i as f64, -70.0 + 3.5 * i as f64))
        .collect();
    let ids: Vec<i64> = (0..40).map(|i| 1000 + i).collect();
    let sigma = 1e-3 * ARCSEC;
    // references = start + 30 mas of noise-free offset: accepted, no warning
    let mut fr = FrameReference {
        positions: start
            .iter()
            .enumerate()
            .map(|(i, s)| (i, s.ra, s.dec + 0.03 * ARCSEC, sigma))
            .collect(),
        zero_spin: vec![],
        warnings: vec![],
    };
    assert!(check_references(&fr, &start, &ids).unwrap().is_empty());
    // one reference 5″ off: warned, naming it
    fr.positions[7].2 += 5.0 * ARCSEC;
    let w = check_references(&fr, &start, &ids).unwrap();
    assert!(
        w.len() == 1 && w[0].contains("1 of 40") && w[0].contains("1007 (5.0″)"),
        "{w:?}"
    );
    // all rotated by 10° about the pole (α + 10°): refused with the angle
    for p in fr.positions.iter_mut() {
        p.1 += 10f64.to_radians();
        p.2 = start[p.0].dec;
    }
    let err = check_references(&fr, &start, &ids).unwrap_err();
    assert!(
        err.contains("disagree grossly") && err.contains("--frame min-norm"),
        "{err}"
    );
}
