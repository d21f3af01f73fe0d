//! Tests of the observation model against finite differences and independent closed forms.

use astrosolve_model::bspline::UniformKnots;
use astrosolve_model::ephemeris::{GaiaL2Ephemeris, TabulatedEphemeris};
use astrosolve_model::quat;
use astrosolve_model::scalar::f;
use astrosolve_model::units::{ecliptic_to_equatorial, equatorial_to_ecliptic, MAS};
use astrosolve_model::*;
use std::sync::Arc;

/// Small deterministic generator for test parameters.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.next()
    }
}

/// A spinning attitude: z axis fixed, spin 60″/s about it, as a B-spline.
fn spinning_attitude(z: [f64; 3], t0: f64, t1: f64, h: f64) -> BSplineAttitude {
    let knots = UniformKnots::covering(t0, t1, h);
    let a = f::normalize(&f::cross(&[0.0, 0.0, 1.0], &z));
    let b = f::cross(&z, &a);
    let omega = 2.0 * std::f64::consts::PI * 4.0; // rad/day: 60″/s
    let n = 400;
    let mut ts = Vec::new();
    let mut qs: Vec<[f64; 4]> = Vec::new();
    for i in 0..=n {
        let t = t0 + (t1 - t0) * i as f64 / n as f64;
        let (s, c) = (omega * t).sin_cos();
        let x = f::add(&f::scale(&a, c), &f::scale(&b, s));
        let y = f::cross(&z, &x);
        let mut q = quat::from_srs_axes(x, y, z);
        if let Some(p) = qs.last() {
            if (0..4).map(|k| p[k] * q[k]).sum::<f64>() < 0.0 {
                q = q.map(|v| -v);
            }
        }
        ts.push(t);
        qs.push(q);
    }
    BSplineAttitude::fit(knots, &ts, &qs)
}

fn setup() -> (GaiaModel, BSplineAttitude, Calibration) {
    let inst = Instrument::new(InstrumentConfig::default());
    let eph = GaiaL2Ephemeris::default();
    let tab = TabulatedEphemeris::sample(&eph, -10.0, 10.0, 0.25);
    let mut cal = Calibration::zeros(&CalibrationConfig::default(), &inst, -1.0, 1.0);
    let mut rng = Lcg(7);
    for p in cal.params.iter_mut() {
        *p = rng.range(-50.0, 50.0) * MAS;
    }
    let att = spinning_attitude(f::normalize(&[0.2, 0.5, 0.8]), -1.0, 1.0, 0.02);
    (GaiaModel::new(inst, &cal, Arc::new(tab)), att, cal)
}

/// An observation of `src` near time t in field `fov`: the time is moved to the transit.
fn observation_near(
    model: &GaiaModel,
    att: &BSplineAttitude,
    cal: &Calibration,
    src: &SourceParams,
    fov: Fov,
    t_guess: f64,
) -> Observation {
    let mut o = Observation {
        source_index: 0,
        fov,
        row: 3,
        strip: 4,
        t: t_guess,
        eta: 0.0,
        zeta: 0.0,
        sigma_eta: MAS,
        sigma_zeta: MAS,
        ac_coord: 0.3,
    };
    // Newton on η(t) = 0 with dη/dt ≈ −ω
    for _ in 0..20 {
        let (eta, _) = model.predict_obs(src, att, cal, &o);
        let eta =
            (eta + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI;
        o.t += eta / (2.0 * std::f64::consts::PI * 4.0);
    }
    o
}

/// Fourth-order central difference of both field angles; `f(j)` evaluates at x + j·h.
fn fd4(h: f64, f: impl Fn(f64) -> (f64, f64)) -> (f64, f64) {
    let (a2, b2) = f(2.0);
    let (a1, b1) = f(1.0);
    let (am1, bm1) = f(-1.0);
    let (am2, bm2) = f(-2.0);
    (
        (-a2 + 8.0 * a1 - 8.0 * am1 + am2) / (12.0 * h),
        (-b2 + 8.0 * b1 - 8.0 * bm1 + bm2) / (12.0 * h),
    )
}

#[test]
fn autodiff_jacobian_matches_central_differences() {
    let (model, att, cal) = setup();
    let mut rng = Lcg(42);
    let mut n_checked = 0;
    for trial in 0..30 {
        let fov = if trial % 2 == 0 {
            Fov::Preceding
        } else {
            Fov::Following
        };
        // a source near the scanned great circle: perpendicular to z
        let t_guess = rng.range(-0.5, 0.5);
        let q = att.quat(t_guess);
        let x = quat::srs_to_icrs(
            &q,
            &[(fov.sign() * 0.93).cos(), (fov.sign() * 0.93).sin(), 0.004],
        );
        let (ra, dec) = f::spherical(&x);
        let src = SourceParams {
            ra,
            dec,
            parallax: rng.range(0.0, 20.0) * MAS,
            pmra: rng.range(-50.0, 50.0) * MAS,
            pmdec: rng.range(-50.0, 50.0) * MAS,
            nu_eff: rng.range(1.3, 1.8),
        };
        let o = observation_near(&model, &att, &cal, &src, fov, t_guess);
        let lin = model.linearise(&src, &att, &cal, &o);
        let (eta0, zeta0) = model.predict_obs(&src, &att, &cal, &o);
        assert!((lin.eta - eta0).abs() < 1e-15 && (lin.zeta - zeta0).abs() < 1e-15);

        let check = |ad: f64, fd: f64, what: &str| {
            let scale = ad.abs().max(fd.abs()).max(1e-3);
            assert!(
                (ad - fd).abs() <= 1e-7 * scale,
                "{what}: autodiff {ad:e} vs finite difference {fd:e}"
            );
        };
        // source parameters
        for k in 0..6 {
            let h = 1e-5;
            let step = if k == 0 { h / src.dec.cos() } else { h };
            let (fe, fz) = fd4(h, |j| {
                let mut a = src.to_array();
                a[k] += j * step;
                model.predict_obs(&SourceParams::from_array(a), &att, &cal, &o)
            });
            check(lin.d_src_eta[k], fe, "∂η/∂source");
            check(lin.d_src_zeta[k], fz, "∂ζ/∂source");
            n_checked += 2;
        }
        // attitude coefficients
        for m in 0..4 {
            for k in 0..4 {
                let h = 1e-4;
                let i = lin.att_index + m;
                let orig = att.coeffs[i][k];
                let (fe, fz) = fd4(h, |j| {
                    let mut a = att.clone();
                    a.coeffs[i][k] = orig + j * h;
                    model.predict_obs(&src, &a, &cal, &o)
                });
                check(lin.att_basis[m] * lin.d_q_eta[k], fe, "∂η/∂attitude");
                check(lin.att_basis[m] * lin.d_q_zeta[k], fz, "∂ζ/∂attitude");
                n_checked += 2;
            }
        }
        // calibration parameters of the unit
        let n = cal.n_per_unit();
        let n_al = cal.config.n_al();
        for k in 0..n {
            let h = 1e-4;
            let i = lin.cal_unit * n + k;
            let orig = cal.params[i];
            let (fe, fz) = fd4(h, |j| {
                let mut c = cal.clone();
                c.params[i] = orig + j * h;
                model.predict_obs(&src, &att, &c, &o)
            });
            let (ad_eta, ad_zeta) = if k < n_al {
                (lin.d_cal_eta[k], 0.0)
            } else {
                (0.0, lin.d_cal_zeta[k - n_al])
            };
            check(ad_eta, fe, "∂η/∂calibration");
            check(ad_zeta, fz, "∂ζ/∂calibration");
            n_checked += 2;
        }
    }
    assert!(n_checked > 1000);
}

#[test]
fn parallax_factor_matches_sun_observer_geometry() {
    // Independent closed form: the parallax displaces u by −ϖ (b − (b·u)u), so the AL
    // parallax factor is ∂η/∂ϖ = −(b · e_η)/cos ζ with e_η = −sin φ x + cos φ y built from
    // the SRS axes, and the AC factor ∂ζ/∂ϖ = −b · e_ζ.
    let (model, att, cal) = setup();
    let mut rng = Lcg(3);
    for trial in 0..40 {
        let fov = if trial % 2 == 0 {
            Fov::Preceding
        } else {
            Fov::Following
        };
        let t_guess = rng.range(-0.8, 0.8);
        let q = att.quat(t_guess);
        let zeta_in = rng.range(-0.005, 0.005);
        let phi = fov.sign() * model.instrument.half_basic_angle;
        let x = quat::srs_to_icrs(
            &q,
            &[
                phi.cos() * zeta_in.cos(),
                phi.sin() * zeta_in.cos(),
                zeta_in.sin(),
            ],
        );
        let (ra, dec) = f::spherical(&x);
        let src = SourceParams {
            ra,
            dec,
            parallax: 0.0,
            pmra: 0.0,
            pmdec: 0.0,
            nu_eff: 1.55,
        };
        let o = observation_near(&model, &att, &cal, &src, fov, t_guess);
        let lin = model.linearise(&src, &att, &cal, &o);
        // SRS axes in ICRS at the observation time
        let qo = att.quat(o.t);
        let ax = quat::srs_to_icrs(&qo, &[1.0, 0.0, 0.0]);
        let ay = quat::srs_to_icrs(&qo, &[0.0, 1.0, 0.0]);
        let az = quat::srs_to_icrs(&qo, &[0.0, 0.0, 1.0]);
        let u = f::unit(ra, dec);
        let (ux, uy, uz) = (f::dot(&u, &ax), f::dot(&u, &ay), f::dot(&u, &az));
        let phi_s = uy.atan2(ux);
        let zeta_s = uz.atan2((ux * ux + uy * uy).sqrt());
        let e_eta = f::add(&f::scale(&ax, -phi_s.sin()), &f::scale(&ay, phi_s.cos()));
        let e_zeta = f::sub(
            &f::scale(&az, zeta_s.cos()),
            &f::add(
                &f::scale(&ax, zeta_s.sin() * phi_s.cos()),
                &f::scale(&ay, zeta_s.sin() * phi_s.sin()),
            ),
        );
        let b = model.ephemeris.observer_au(o.t);
        let pf_al = -f::dot(&b, &e_eta) / zeta_s.cos();
        let pf_ac = -f::dot(&b, &e_zeta);
        assert!(
            (lin.d_src_eta[2] - pf_al).abs() < 1e-6,
            "AL {} vs {}",
            lin.d_src_eta[2],
            pf_al
        );
        assert!(
            (lin.d_src_zeta[2] - pf_ac).abs() < 1e-6,
            "AC {} vs {}",
            lin.d_src_zeta[2],
            pf_ac
        );
        // and the AL factor is bounded by R sin ξ-type geometry: |pf| ≤ |b|
        assert!(pf_al.abs() <= f::norm(&b) + 1e-12);
    }
}

#[test]
fn one_year_of_positions_traces_the_parallax_ellipse() {
    // Source at ecliptic latitude β with parallax ϖ: over a year the direction describes an
    // ellipse with semi-axes ≈ R ϖ along ecliptic longitude and R ϖ |sin β| along latitude
    // (R ≈ 1.01 AU at L2, eccentricity 0.0167).
    let eph = GaiaL2Ephemeris::default();
    for beta_deg in [10.0f64, 35.0, 60.0, 85.0] {
        let beta = beta_deg.to_radians();
        let lambda = 1.2f64;
        let r_ecl = f::unit(lambda, beta);
        let r = ecliptic_to_equatorial(r_ecl);
        let (ra, dec) = f::spherical(&r);
        let plx = 100.0 * MAS;
        let p = [ra, dec, plx, 0.0, 0.0, 1.5];
        let e_lon = [-lambda.sin(), lambda.cos(), 0.0];
        let e_lat = [
            -beta.sin() * lambda.cos(),
            -beta.sin() * lambda.sin(),
            beta.cos(),
        ];
        let (mut max_lon, mut max_lat) = (0.0f64, 0.0f64);
        let mut pts = Vec::new();
        for i in 0..365 {
            let t = i as f64;
            let u = astrosolve_model::source::direction(&p, t / 365.25, &eph.observer_au(t));
            let ue = equatorial_to_ecliptic(u);
            let x = f::dot(&ue, &e_lon) / plx;
            let y = f::dot(&ue, &e_lat) / plx;
            max_lon = max_lon.max(x.abs());
            max_lat = max_lat.max(y.abs());
            pts.push((x, y));
        }
        assert!(
            (max_lon - 1.01).abs() < 0.03,
            "β={beta_deg}: longitude semi-axis {max_lon}"
        );
        let b_exp = 1.01 * beta.sin();
        assert!(
            (max_lat - b_exp).abs() < 0.03 * b_exp.max(0.1),
            "β={beta_deg}: latitude semi-axis {max_lat} vs {b_exp}"
        );
        for (x, y) in pts {
            let e = (x / 1.01).powi(2) + (y / b_exp).powi(2);
            assert!(
                (e - 1.0).abs() < 0.06,
                "β={beta_deg}: point off the ellipse ({e})"
            );
        }
    }
}

#[test]
fn calibration_constraints_define_the_srs() {
    let inst = Instrument::new(InstrumentConfig::default());
    let mut cal = Calibration::zeros(
        &CalibrationConfig {
            interval_days: 10.0,
            ..Default::default()
        },
        &inst,
        0.0,
        30.0,
    );
    assert_eq!(cal.n_intervals, 3);
    let mut rng = Lcg(9);
    cal.params
        .iter_mut()
        .for_each(|p| *p = rng.range(-1.0, 1.0));
    cal.project_onto_constraints(&inst);
    for row in cal.constraints(&inst) {
        let s: f64 = row.iter().map(|&(i, c)| c * cal.params[i]).sum();
        assert!(s.abs() < 1e-12);
    }
    // unit index round trip
    for u in [0, 17, cal.n_units() - 1] {
        let (iv, fov, row, strip) = cal.unit_parts(u);
        assert_eq!(cal.unit(iv, fov, row, strip), u);
    }
}
