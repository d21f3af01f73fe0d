//! Hipparcos IAD fits against the published catalogues (issue #12, "Done when"), reading the
//! real data in place from `../shared/data/real/hipparcos` (README.md there).
//!
//! Tolerances:
//! * corrections of the 2007/2014 5-parameter stars ≤ 0.005 mas (issue), errors = hip2.dat's to
//!   0.01 mas (issue). Where the printed precision of the file itself cannot support 0.005 —
//!   three times the rounding floor σ_round (the spread of the fit when every printed field is
//!   moved within its last digit, computed below) exceeds it — the test uses 3σ_round and
//!   says so in its output (HIP 72477's parallax only, see the report).
//! * 7/9-parameter extra terms: fitted value = catalogue value within half the last printed
//!   digit (0.005) plus 3σ_round; their errors to half the last digit (0.005).
//! * 1997 5-parameter stars: corrections ≤ 0.02 mas (issue); HIP 27321's errors to 0.01 mas.
//! * Consistency with the header: Δχ² ≤ DELTA_CHI2_TOLERANCE, |ΔF2| ≤ F2_TOLERANCE; the good
//!   stars must pass with a factor ≥ 10 to spare and HIP 39's 2007 file fail by ≥ 5.

use astrosolve_epoch::hipparcos::{
    chi2_from_f2, f2_from_chi2, fit_file, fit_star, header_consistency, inflation_factor,
    to_catalogue_basis, HipFit, DELTA_CHI2_TOLERANCE, F2_TOLERANCE,
};
use astrosolve_epoch::{fit_source, EpochError, FitOptions, ModelKind, Weighting};
use astrosolve_io::hipparcos::{
    read_hip2_acceleration, read_hip2_catalogue, read_iad, Hip2AccelerationRow, Hip2CatalogueRow,
    IadFormat, IadStar,
};
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    let d = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/real/hipparcos"
    ));
    assert!(
        d.is_dir(),
        "real Hipparcos test data not found at {} (the shared data folder ../shared/data/real \
         must sit next to the project; see its README.md)",
        d.display()
    );
    d
}

fn star(rel: &str) -> IadStar {
    let p = data_dir().join(rel);
    read_iad(&p, None).unwrap_or_else(|e| panic!("{e}"))
}

fn hip2_row(hip: u32) -> Hip2CatalogueRow {
    read_hip2_catalogue(&data_dir().join("hip2_subset.dat"))
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|r| r.hip == hip)
        .unwrap_or_else(|| panic!("HIP {hip} not in hip2_subset.dat"))
}

fn accel_row(hip: u32) -> Hip2AccelerationRow {
    read_hip2_acceleration(&data_dir().join("hip2_acceleration_subset.dat"))
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|r| r.hip == hip)
        .unwrap_or_else(|| panic!("HIP {hip} not in hip2_acceleration_subset.dat"))
}

fn fit(rel: &str) -> (IadStar, HipFit) {
    let s = star(rel);
    let f = fit_star(&s, None, Weighting::None).unwrap_or_else(|e| panic!("{rel}: {e}"));
    (s, f)
}

/// Deterministic uniform numbers in [−0.5, 0.5).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }
}

/// The rounding floor σ_round of every parameter (catalogue basis): the r.m.s. change of the
/// fit when each printed field is moved uniformly within its last digit (1997: partials 1e-4,
/// residuals 0.01 mas; 2007: EPOCH and PARF 1e-3, CPSI/SPSI 1e-4, RES 0.01 mas; 2014: EPOCH,
/// PARF, CPSI, SPSI 1e-4, RES 0.01 mas).
fn rounding_floor(s: &IadStar, f: &HipFit) -> Vec<f64> {
    let (ht, hp) = match s.format {
        IadFormat::Hip2007 => (1e-3, 1e-3),
        _ => (1e-4, 1e-4),
    };
    let opts = FitOptions {
        model: f.model,
        weighting: Weighting::None,
        ..Default::default()
    };
    let mut r0 = fit_source(&f.data, &opts).expect("refit");
    to_catalogue_basis(&mut r0, f.model);
    let n = f.model.n_params();
    let mut rng = Lcg(0x5eed);
    let trials = 300;
    let mut s2 = vec![0.0; n];
    for _ in 0..trials {
        let mut d = f.data.clone();
        for o in d.obs.iter_mut() {
            o.w += 0.01 * rng.next();
            if s.format == IadFormat::Hip1997 {
                for a in [
                    &mut o.a_alpha,
                    &mut o.a_delta,
                    &mut o.a_parallax,
                    &mut o.a_pmra,
                    &mut o.a_pmdec,
                ] {
                    *a += 1e-4 * rng.next();
                }
            } else {
                o.t += ht * rng.next();
                o.a_parallax += hp * rng.next();
                o.a_alpha += 1e-4 * rng.next();
                o.a_delta += 1e-4 * rng.next();
                o.a_pmra = o.t * o.a_alpha;
                o.a_pmdec = o.t * o.a_delta;
            }
        }
        let mut r = fit_source(&d, &opts).expect("perturbed refit");
        to_catalogue_basis(&mut r, f.model);
        for (k, v) in s2.iter_mut().enumerate() {
            *v += (r.params[k] - r0.params[k]).powi(2);
        }
    }
    s2.iter().map(|v| (v / trials as f64).sqrt()).collect()
}

const NAMES: [&str; 9] = [
    "ra*", "dec", "plx", "pmra", "pmdec", "g_ra", "g_dec", "gdot_ra", "gdot_dec",
];

/// Checks the corrections ≤ max(tol, 3σ_round); prints the table. Returns the number of
/// parameters whose bound was the rounding floor.
fn check_corrections(
    label: &str,
    s: &IadStar,
    f: &HipFit,
    tol: f64,
    range: std::ops::Range<usize>,
) -> usize {
    let floor = rounding_floor(s, f);
    let mut by_floor = 0;
    for k in range {
        let c = f.result.params[k];
        let bound = tol.max(3.0 * floor[k]);
        let note = if bound > tol {
            by_floor += 1;
            " (bound = 3 sigma_round > issue tolerance)"
        } else {
            ""
        };
        println!(
            "  {label} {:<8} correction {c:+.4}  sigma_round {:.4}  bound {bound:.4}{note}",
            NAMES[k], floor[k]
        );
        assert!(
            c.abs() <= bound,
            "{label}: correction of {} = {c} exceeds {bound}",
            NAMES[k]
        );
    }
    by_floor
}

fn check_errors(label: &str, f: &HipFit, expected: &[f64], tol: f64, offset: usize) {
    for (j, &e) in expected.iter().enumerate() {
        let k = offset + j;
        let got = f.error(k);
        println!(
            "  {label} {:<8} error {got:.4}  catalogue {e:.2}  diff {:+.4}  (tol {tol})",
            NAMES[k],
            got - e
        );
        assert!(
            (got - e).abs() <= tol,
            "{label}: error of {} = {got}, catalogue {e}",
            NAMES[k]
        );
    }
}

#[test]
fn f2_transform_round_trips_and_matches_htof_inflation() {
    for nu in [5.0, 59.0, 106.0, 250.0] {
        for chi2 in [0.5 * nu, nu, 2.0 * nu] {
            let back = chi2_from_f2(f2_from_chi2(chi2, nu), nu);
            assert!((back - chi2).abs() < 1e-9 * chi2, "{chi2} {nu} {back}");
        }
    }
    // htof test_parse.py: u = 0.875291 for HIP 27321 (Ntr 111, 5 parameters, F2 = −1.81).
    let u = inflation_factor(-1.81, 106.0).expect("u");
    assert!((u - 0.875291).abs() < 1e-5 * 0.875291, "u = {u}");
    assert!(f2_from_chi2(10.0, 0.0).is_nan());
}

#[test]
fn five_parameter_stars_2007_and_2014_reproduce_the_catalogue() {
    let files = [
        "hip2007/HIP027321.d",
        "hip2007/HIP072477.d",
        "hip2014/H000651.d",
        "hip2014/H001550.d",
        "hip2014/H027100.d",
        "hip2014/H027321.d",
        "hip2014/H045101.d",
    ];
    let mut by_floor = 0;
    for rel in files {
        let (s, f) = fit(rel);
        assert_eq!(f.model, ModelKind::Five, "{rel}");
        let cat = hip2_row(s.hip);
        println!(
            "{rel}: HIP {} u = {:.4}, F2 header {:?} recomputed {:.3}, {} records used",
            s.hip,
            f.inflation,
            f.f2_header,
            f.f2_recomputed.unwrap_or(f64::NAN),
            f.result.n_obs_al
        );
        for w in &f.warnings {
            println!("  warning: {w}");
        }
        by_floor += check_corrections(rel, &s, &f, 0.005, 0..5);
        if s.hip == 1550 {
            // The 2014 file carries its own catalogue solution (NOB = 149 records, ϖ = 5.11 ±
            // 0.61), not hip2.dat's (Ntr = 153, ϖ = 6.32 ± 0.83): the fit reproduces the
            // file's; hip2.dat's row is a different solution.
            let hdr = s
                .reference
                .as_ref()
                .and_then(|r| r.errors)
                .expect("2014 header errors");
            let max_diff = (0..5)
                .map(|k| (hdr[k] - cat.errors[k]).abs())
                .fold(0.0, f64::max);
            println!("  HIP 1550: hip2.dat errors {:?} differ from the file header's {hdr:?} by up to {max_diff:.2}", cat.errors);
            assert!(max_diff > 0.1);
            check_errors(rel, &f, &hdr, 0.01, 0);
        } else {
            check_errors(rel, &f, &cat.errors, 0.01, 0);
            if let Some(hdr) = s.reference.as_ref().and_then(|r| r.errors) {
                check_errors(&format!("{rel} (header)"), &f, &hdr, 0.01, 0);
            }
        }
    }
    println!("parameters bounded by the rounding floor instead of 0.005: {by_floor}");
    assert!(
        by_floor <= 1,
        "the rounding-floor bound must stay an exception"
    );
}

#[test]
fn hip39_2007_is_detected_as_corrupt_and_the_good_files_pass_with_margin() {
    let s = star("hip2007/HIP000039.d");
    let c = header_consistency(&s).expect("figures").expect("2007 star");
    println!(
        "HIP 39 (2007): delta chi2 = {:.4} (tolerance {DELTA_CHI2_TOLERANCE}), refit moves it by up to {:.3} sigma, F2 recomputed {:.3} vs header {:?}",
        c.delta_chi2, c.max_shift_sigma, c.f2, s.f2
    );
    assert!(c.delta_chi2 >= 5.0 * DELTA_CHI2_TOLERANCE);
    match fit_star(&s, None, Weighting::None) {
        Err(EpochError::BadInput { source_id, message }) => {
            println!("HIP 39 (2007) reported: {message}");
            assert_eq!(source_id, 39);
            assert!(message.contains("corrupt"), "{message}");
            assert!(message.contains("HIP000039.d"), "{message}");
            assert!(message.contains("delta chi2"), "{message}");
        }
        Err(e) => panic!("HIP 39: wrong error {e}"),
        Ok(f) => panic!(
            "HIP 39's corrupt 2007 file was fitted: {:?}",
            f.result.params
        ),
    }
    // Every other 2007/2014 file passes with a factor 10 to spare (after the documented
    // repairs: NRES > NOB realignment, HIP 16468's unmarked rejection).
    for rel in [
        "hip2007/HIP009631.d",
        "hip2007/HIP016468.d",
        "hip2007/HIP027321.d",
        "hip2007/HIP072477.d",
        "hip2014/H000651.d",
        "hip2014/H001550.d",
        "hip2014/H010160.d",
        "hip2014/H027100.d",
        "hip2014/H027321.d",
        "hip2014/H045101.d",
    ] {
        let (_, f) = fit(rel);
        let c = f.consistency.expect("figures");
        let df2 = c.f2 - f.f2_header.expect("F2");
        println!(
            "{rel}: delta chi2 = {:.2e}, max shift {:.4} sigma, F2 {:.3} (header {:?}, diff {df2:+.3})",
            c.delta_chi2, c.max_shift_sigma, c.f2, f.f2_header
        );
        assert!(c.delta_chi2 <= DELTA_CHI2_TOLERANCE / 10.0, "{rel}");
        assert!(df2.abs() <= F2_TOLERANCE / 5.0, "{rel}");
    }
}

#[test]
fn seven_and_nine_parameter_stars_reproduce_the_extra_terms() {
    for (rel, model) in [
        ("hip2007/HIP009631.d", ModelKind::Seven),
        ("hip2007/HIP016468.d", ModelKind::Nine),
        ("hip2014/H010160.d", ModelKind::Nine),
    ] {
        let (s, f) = fit(rel);
        assert_eq!(f.model, model, "{rel}");
        let cat = hip2_row(s.hip);
        let acc = accel_row(s.hip);
        assert_eq!(acc.n_params(), model.n_params());
        println!("{rel}: HIP {} {:?}, u = {:.4}", s.hip, model, f.inflation);
        for w in &f.warnings {
            println!("  warning: {w}");
        }
        check_corrections(rel, &s, &f, 0.005, 0..5);
        check_errors(rel, &f, &cat.errors, 0.01, 0);
        // Extra terms: value = catalogue value + correction, within half the last printed
        // digit plus 3σ_round; errors to half the last digit.
        let floor = rounding_floor(&s, &f);
        let mut values = acc.accel.to_vec();
        let mut errors = acc.accel_errors.to_vec();
        if let (Some(d), Some(e)) = (acc.accel_deriv, acc.accel_deriv_errors) {
            values.extend(d);
            errors.extend(e);
        }
        // The values the file's residuals refer to: 2014 header; 2007 (no header values):
        // the 2007 annex itself.
        let reference: Vec<f64> = match s.reference.as_ref() {
            Some(r) if s.format == IadFormat::Hip2014 => {
                let mut v = r.accel.expect("2014 header accel").to_vec();
                if model == ModelKind::Nine {
                    v.extend(r.accel_deriv.expect("2014 header accel deriv"));
                }
                v
            }
            _ => values.clone(),
        };
        for j in 0..values.len() {
            let k = 5 + j;
            let fitted = reference[j] + f.result.params[k];
            let bound = 0.005 + 3.0 * floor[k];
            println!(
                "  {rel} {:<8} fitted {fitted:.4} (reference {:.2} {:+.4}); 2007 annex {:.2}; bound {bound:.4}",
                NAMES[k], reference[j], f.result.params[k], values[j]
            );
            assert!(
                (fitted - reference[j]).abs() <= bound,
                "{rel}: {}",
                NAMES[k]
            );
        }
        check_errors(&format!("{rel} (annex)"), &f, &errors, 0.005, 5);
        if s.format == IadFormat::Hip2014 {
            let d: Vec<String> = reference
                .iter()
                .zip(&values)
                .map(|(a, b)| format!("{:+.2}", a - b))
                .collect();
            println!(
                "  HIP {}: 2014 header minus 2007 annex values: {d:?} (the two catalogues differ)",
                s.hip
            );
        }
    }
}

#[test]
fn hip16468_2007_gets_its_unmarked_rejection() {
    let (_, f) = fit("hip2007/HIP016468.d");
    let unused = f.data.obs.iter().filter(|o| !o.used).count();
    println!("{:?}", f.warnings);
    assert_eq!(unused, 1);
    assert!(f.warnings.iter().any(|w| w.contains("does not mark")));
}

#[test]
fn hipparcos_1997_stars_reproduce_their_headers() {
    for rel in [
        "hip1997/004391.txt",
        "hip1997/027321.txt",
        "hip1997/044801.txt",
    ] {
        let (s, f) = fit(rel);
        assert_eq!(f.model, ModelKind::Five);
        assert!(!f.data.pairs.is_empty(), "{rel}: FAST/NDAC pairs");
        println!(
            "{rel}: HIP {}, {} records used, {} correlated pairs",
            s.hip,
            f.result.n_obs_al,
            f.data.pairs.len()
        );
        check_corrections(rel, &s, &f, 0.02, 0..5);
        if s.hip == 27321 {
            check_errors(rel, &f, &[0.45, 0.46, 0.51, 0.53, 0.61], 0.01, 0);
        }
    }
    // HIP 44801's rejected NDAC record (lower case 'n') is not used.
    let (_, f) = fit("hip1997/044801.txt");
    assert_eq!(f.result.n_obs_al, 42);
}

/// HIP 46871 has a 1997 7-parameter solution. Its five corrections reach 0.057 mas(/yr),
/// above the 0.02, while the data's rounding floor is ≤ 0.004: the 1997 7-parameter
/// solutions are not reproduced to 0.02 by their IAD (htof's own test of this star,
/// test_main.py `test_Hip1_fit_to_hip7p9p_source`, uses 0.07). Checked here at htof's 0.07,
/// reported as an open point.
#[test]
fn hipparcos_1997_seven_parameter_star() {
    let (s, f) = fit("hip1997/46871.txt");
    assert_eq!(f.model, ModelKind::Seven);
    let floor = rounding_floor(&s, &f);
    for k in 0..7 {
        println!(
            "  HIP 46871 {:<8} {:+.4} ± {:.4} (sigma_round {:.4})",
            NAMES[k],
            f.result.params[k],
            f.error(k),
            floor[k]
        );
    }
    for (k, name) in NAMES.iter().enumerate().take(5) {
        assert!(f.result.params[k].abs() <= 0.07, "{name}");
    }
    // The residuals refer to the 5-parameter part: the acceleration is fitted in full and is
    // significant (the reason for the 7-parameter solution).
    let g = f.result.params[5] / f.error(5);
    assert!(g.abs() > 3.0, "g_ra / error = {g}");
}

#[test]
fn nres_greater_than_nob_is_realigned_and_reported() {
    // HIP 651: one extra record. htof drops residual row 164 (the last) and orbit row 112
    // (0-based), one of the rows of orbits 1435–1437 whose geometry is nearly identical
    // (htof notes such ties); here the stationarity search gives the figures below.
    let (s, f) = fit("hip2014/H000651.d");
    let fix = f.nres_nob_fix.as_ref().expect("HIP 651 realigned");
    println!("HIP 651: {fix:?}");
    assert_eq!(fix.n_extra, 1);
    assert_eq!(fix.dropped_residual_lines, vec![s.records[164].line]);
    let orbit = s.records[fix.dropped_orbit_rows[0]].orbit;
    assert!((1435..=1437).contains(&orbit), "orbit {orbit}");
    assert!((1435..=1437).contains(&s.records[112].orbit));
    assert!(fix.gradient_after < fix.gradient_before / 100.0);
    assert!(f
        .warnings
        .iter()
        .any(|w| w.contains("NRES = 165 > NOB = 164")));
    assert_eq!(f.result.n_obs_al, 164 - 3);

    let (_, f) = fit("hip2014/H001550.d");
    let fix = f.nres_nob_fix.as_ref().expect("HIP 1550 realigned");
    println!("HIP 1550: {fix:?}");
    assert_eq!(fix.n_extra, 4);
    assert!(fix.gradient_after < fix.gradient_before / 100.0);
    assert!(f
        .warnings
        .iter()
        .any(|w| w.contains("NRES = 153 > NOB = 149")));
    assert_eq!(f.result.n_obs_al, 149);

    // Files without the defect are left alone.
    let (_, f) = fit("hip2014/H027100.d");
    assert!(f.nres_nob_fix.is_none());
    assert_eq!(f.result.n_obs_al, 147 - 2);
}

#[test]
fn read_errors_name_file_line_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("HIP000001.d");
    std::fs::write(
        &p,
        "     1      1   6 1   5    0   0.10  0\n 100 -1.0 0.1 0.5 0.5 1.0 x\n",
    )
    .expect("write");
    match fit_file(&p, None, None, Weighting::None) {
        Err(EpochError::Data {
            path, row, column, ..
        }) => {
            assert_eq!(path, p);
            assert_eq!(row, 2);
            assert_eq!(column, "SRES");
        }
        other => panic!("{other:?}"),
    }
}
