//! The VSH basis: orthonormality on the sphere and agreement with the definition
//! T = ∇Y × r / sqrt(l(l+1)), S = ∇Y / sqrt(l(l+1)) computed independently.

use astrosolve_vsh::basis::{coef_index, labels, n_coef, Family, Part, VshBasis};

/// Gauss–Legendre nodes and weights on [−1, 1] (Newton on P_n; Numerical Recipes `gauleg`).
fn gauss_legendre(n: usize) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut z = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut pp = 0.0;
        for _ in 0..100 {
            let (mut p1, mut p2) = (1.0, 0.0);
            for j in 0..n {
                let p3 = p2;
                p2 = p1;
                p1 = ((2 * j + 1) as f64 * z * p2 - j as f64 * p3) / (j + 1) as f64;
            }
            pp = n as f64 * (z * p1 - p2) / (z * z - 1.0);
            let dz = p1 / pp;
            z -= dz;
            if dz.abs() < 1e-15 {
                break;
            }
        }
        out.push((z, 2.0 / ((1.0 - z * z) * pp * pp)));
    }
    out
}

/// ∫ V_j · V_k dΩ over the unit sphere: the real design columns are orthogonal with squared
/// norms 1 (m = 0) and 2 (m > 0), i.e. the complex T_lm, S_lm are orthonormal (MK12 sect. 2),
/// and the columns divided by sqrt(weight) form an orthonormal set.
#[test]
fn basis_is_orthonormal_on_the_sphere() {
    let lmax = 12;
    let n = n_coef(lmax);
    let basis = VshBasis::new(lmax);
    // Exact for the trigonometric/polynomial integrands up to degree 2L (see docs/vsh.md);
    // generously finer than needed.
    let nodes = gauss_legendre(48);
    let nra = 72;
    let mut gram = vec![0.0; n * n];
    let (mut a, mut d) = (vec![0.0; n], vec![0.0; n]);
    for &(x, w) in &nodes {
        let dec = x.asin();
        for k in 0..nra {
            let ra = std::f64::consts::TAU * (k as f64 + 0.3) / nra as f64;
            let wt = w * std::f64::consts::TAU / nra as f64;
            basis.eval(ra, dec, &mut a, &mut d);
            for i in 0..n {
                let (ai, di) = (a[i] * wt, d[i] * wt);
                for j in i..n {
                    gram[i * n + j] += ai * a[j] + di * d[j];
                }
            }
        }
    }
    let lab = labels(lmax);
    let mut worst: f64 = 0.0;
    for i in 0..n {
        for j in i..n {
            let expect = if i == j { lab[i].power_weight() } else { 0.0 };
            let normalised =
                gram[i * n + j] / (lab[i].power_weight() * lab[j].power_weight()).sqrt();
            let e = if i == j { 1.0 } else { 0.0 };
            worst = worst.max((normalised - e).abs());
            assert!(
                (gram[i * n + j] - expect).abs() < 1e-12,
                "<{}, {}> = {}, expected {}",
                lab[i].name(),
                lab[j].name(),
                gram[i * n + j],
                expect
            );
        }
    }
    assert!(worst < 1e-12);
}

/// Fully normalised scalar harmonic Y_lm (MK12 eq. 9, with (−1)^m and P_lm without
/// Condon–Shortley phase), from the explicit polynomial of P_l differentiated m times —
/// independent of the recurrences used by the library.
fn ylm(l: usize, m: usize, ra: f64, dec: f64) -> (f64, f64) {
    let fact = |k: usize| (1..=k).fold(1.0f64, |p, i| p * i as f64);
    let binom = |n: usize, k: usize| fact(n) / (fact(k) * fact(n - k));
    // P_l(x) = 2^−l Σ_k (−1)^k C(l,k) C(2l−2k, l) x^{l−2k}.
    let mut poly = vec![0.0; l + 1]; // coefficient of x^p
    for k in 0..=l / 2 {
        let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
        poly[l - 2 * k] += sign * binom(l, k) * binom(2 * l - 2 * k, l) / 2f64.powi(l as i32);
    }
    for _ in 0..m {
        poly = (1..poly.len()).map(|p| p as f64 * poly[p]).collect();
        if poly.is_empty() {
            poly.push(0.0);
        }
    }
    let x = dec.sin();
    let dm: f64 = poly.iter().rev().fold(0.0, |s, c| s * x + c);
    let plm = dec.cos().powi(m as i32) * dm;
    let norm =
        ((2 * l + 1) as f64 / (4.0 * std::f64::consts::PI) * fact(l - m) / fact(l + m)).sqrt();
    let sgn = if m % 2 == 0 { 1.0 } else { -1.0 };
    let amp = sgn * norm * plm;
    let (s, c) = (m as f64 * ra).sin_cos();
    (amp * c, amp * s)
}

#[test]
fn basis_matches_gradient_of_scalar_harmonics() {
    let lmax = 6;
    let n = n_coef(lmax);
    let basis = VshBasis::new(lmax);
    let (mut a, mut d) = (vec![0.0; n], vec![0.0; n]);
    let h = 1e-5;
    let points = [
        (0.3, 0.2),
        (2.0, -1.1),
        (4.5, 1.3),
        (5.9, -0.05),
        (1.0, 1.5),
    ];
    for &(ra, dec) in &points {
        basis.eval(ra, dec, &mut a, &mut d);
        for l in 1..=lmax {
            let k = 1.0 / ((l * (l + 1)) as f64).sqrt();
            for m in 0..=l {
                // Complex derivatives of Y by central differences.
                let (yp, ym) = (ylm(l, m, ra, dec + h), ylm(l, m, ra, dec - h));
                let dyd = ((yp.0 - ym.0) / (2.0 * h), (yp.1 - ym.1) / (2.0 * h));
                let (yp, ym) = (ylm(l, m, ra + h, dec), ylm(l, m, ra - h, dec));
                let cd = dec.cos();
                let dya = (
                    (yp.0 - ym.0) / (2.0 * h * cd),
                    (yp.1 - ym.1) / (2.0 * h * cd),
                );
                // T = k (∂δY e_α − (1/cosδ) ∂αY e_δ), S = k ((1/cosδ) ∂αY e_α + ∂δY e_δ).
                let t = ((k * dyd.0, k * dyd.1), (-k * dya.0, -k * dya.1)); // (α:(re,im), δ:(re,im))
                let s = ((k * dya.0, k * dya.1), (k * dyd.0, k * dyd.1));
                let check = |fam: Family, v: ((f64, f64), (f64, f64))| {
                    if m == 0 {
                        let j = coef_index(fam, l, 0, Part::Zonal);
                        assert!((a[j] - v.0 .0).abs() < 1e-7, "a l{l}m{m} {fam:?}");
                        assert!((d[j] - v.1 .0).abs() < 1e-7, "d l{l}m{m} {fam:?}");
                    } else {
                        let jr = coef_index(fam, l, m, Part::Re);
                        let ji = coef_index(fam, l, m, Part::Im);
                        // Columns 2 Re V and −2 Im V (MK12 eq. 30).
                        assert!((a[jr] - 2.0 * v.0 .0).abs() < 1e-7, "a re l{l}m{m} {fam:?}");
                        assert!((d[jr] - 2.0 * v.1 .0).abs() < 1e-7, "d re l{l}m{m} {fam:?}");
                        assert!((a[ji] + 2.0 * v.0 .1).abs() < 1e-7, "a im l{l}m{m} {fam:?}");
                        assert!((d[ji] + 2.0 * v.1 .1).abs() < 1e-7, "d im l{l}m{m} {fam:?}");
                    }
                };
                check(Family::T, t);
                check(Family::S, s);
            }
        }
    }
}

/// The basis stays finite and continuous at and near the poles.
#[test]
fn basis_is_regular_at_the_poles() {
    let lmax = 10;
    let n = n_coef(lmax);
    let basis = VshBasis::new(lmax);
    let (mut a, mut d) = (vec![0.0; n], vec![0.0; n]);
    let (mut a2, mut d2) = (vec![0.0; n], vec![0.0; n]);
    for pole in [std::f64::consts::FRAC_PI_2, -std::f64::consts::FRAC_PI_2] {
        basis.eval(1.2, pole, &mut a, &mut d);
        basis.eval(1.2, pole - pole.signum() * 1e-9, &mut a2, &mut d2);
        for j in 0..n {
            assert!(a[j].is_finite() && d[j].is_finite());
            assert!((a[j] - a2[j]).abs() < 1e-6 && (d[j] - d2[j]).abs() < 1e-6);
        }
    }
}

/// `field` (direct summation) equals the sum of coefficients times the columns from `eval`.
#[test]
fn field_equals_coefficients_times_columns() {
    let lmax = 7;
    let n = n_coef(lmax);
    let basis = VshBasis::new(lmax);
    let coef: Vec<f64> = (0..n)
        .map(|j| ((j * 13 % 17) as f64 - 8.0) * 0.37)
        .collect();
    let (mut a, mut d) = (vec![0.0; n], vec![0.0; n]);
    for &(ra, dec) in &[(0.1, 0.2), (3.3, -1.4), (6.0, 1.5), (1.7, 0.0)] {
        basis.eval(ra, dec, &mut a, &mut d);
        let va: f64 = coef.iter().zip(&a).map(|(c, x)| c * x).sum();
        let vd: f64 = coef.iter().zip(&d).map(|(c, x)| c * x).sum();
        let (fa, fd) = basis.field(&coef, ra, dec);
        assert!(
            (fa - va).abs() < 1e-12 && (fd - vd).abs() < 1e-12,
            "{fa} {va} {fd} {vd}"
        );
    }
}

#[test]
fn coefficient_names_and_order_follow_vsh_tools() {
    let names: Vec<String> = labels(2).iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        [
            "t10", "s10", "t11r", "s11r", "t11i", "s11i", "t20", "s20", "t21r", "s21r", "t21i",
            "s21i", "t22r", "s22r", "t22i", "s22i"
        ]
    );
    assert_eq!(labels(10)[2 * (100 - 1)].name(), "t10_0");
    assert_eq!(n_coef(10), 240);
}
