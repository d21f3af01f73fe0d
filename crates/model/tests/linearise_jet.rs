//! The linearisation with the model's own dual number (`scalar::Jet`) against num-dual's
//! `DualSVec64` (`GaiaModel::linearise_reference`): the same model, the same derivative
//! formulas, hence the same design equations bit for bit, on random sources, times, fields of
//! view, CCDs and calibration parameters, also with a source's shared part (`SourceJets`)
//! computed once for several of its observations. The reference itself is checked against finite
//! differences in `tests/model.rs`.

use astrosolve_model::bspline::UniformKnots;
use astrosolve_model::ephemeris::{GaiaL2Ephemeris, TabulatedEphemeris};
use astrosolve_model::quat;
use astrosolve_model::scalar::f;
use astrosolve_model::units::MAS;
use astrosolve_model::*;
use std::sync::Arc;

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

/// A spinning attitude (z fixed, 60″/s) fitted as a B-spline over [t0, t1] days.
fn spinning_attitude(z: [f64; 3], t0: f64, t1: f64, h: f64) -> BSplineAttitude {
    let knots = UniformKnots::covering(t0, t1, h);
    let a = f::normalize(&f::cross(&[0.0, 0.0, 1.0], &z));
    let b = f::cross(&z, &a);
    let omega = 2.0 * std::f64::consts::PI * 4.0;
    let mut ts = Vec::new();
    let mut qs: Vec<[f64; 4]> = Vec::new();
    for i in 0..=400 {
        let t = t0 + (t1 - t0) * i as f64 / 400.0;
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

fn same(a: &Linearised, b: &Linearised) -> bool {
    let mut x: Vec<f64> = vec![a.eta, a.zeta];
    let mut y: Vec<f64> = vec![b.eta, b.zeta];
    for (l, r) in [(a, &mut x), (b, &mut y)] {
        r.extend(l.d_src_eta.iter().chain(&l.d_src_zeta));
        r.extend(l.d_q_eta.iter().chain(&l.d_q_zeta));
        r.extend(l.d_cal_eta.iter().chain(&l.d_cal_zeta));
        r.extend(&l.att_basis);
    }
    x == y && a.att_index == b.att_index && a.cal_unit == b.cal_unit
}

#[test]
fn jet_linearisation_equals_num_dual_bit_for_bit() {
    let inst = Instrument::new(InstrumentConfig::default());
    let eph = GaiaL2Ephemeris::default();
    let tab = TabulatedEphemeris::sample(&eph, -10.0, 10.0, 0.25);
    let mut rng = Lcg(11);
    for (chromatic, al_degree, ac_offset) in [(true, 2, true), (false, 3, false), (true, 0, true)] {
        let cfg = CalibrationConfig {
            al_degree,
            chromatic,
            ac_offset,
            interval_days: 0.5,
            ..Default::default()
        };
        let mut cal = Calibration::zeros(&cfg, &inst, -1.0, 1.0);
        for p in cal.params.iter_mut() {
            *p = rng.range(-50.0, 50.0) * MAS;
        }
        let model = GaiaModel::new(inst.clone(), &cal, Arc::new(tab.clone()));
        let att = spinning_attitude(f::normalize(&[0.2, 0.5, 0.8]), -1.0, 1.0, 0.02);
        for trial in 0..2000 {
            let fov = if trial % 2 == 0 {
                Fov::Preceding
            } else {
                Fov::Following
            };
            let t = rng.range(-0.99, 0.99);
            let q = att.quat(t);
            let x = quat::srs_to_icrs(
                &q,
                &[
                    (fov.sign() * 0.93 + rng.range(-0.01, 0.01)).cos(),
                    (fov.sign() * 0.93).sin(),
                    rng.range(-0.01, 0.01),
                ],
            );
            let (ra, dec) = f::spherical(&x);
            let src = SourceParams {
                ra,
                dec,
                parallax: rng.range(-1.0, 20.0) * MAS,
                pmra: rng.range(-50.0, 50.0) * MAS,
                pmdec: rng.range(-50.0, 50.0) * MAS,
                nu_eff: rng.range(1.3, 1.8),
            };
            let o = Observation {
                source_index: 0,
                fov,
                row: (trial % 7) as u8,
                strip: (trial % 9) as u8,
                t,
                eta: 0.0,
                zeta: 0.0,
                sigma_eta: MAS,
                sigma_zeta: MAS,
                ac_coord: rng.range(-1.0, 1.0),
            };
            let a = model.linearise(&src, &att, &cal, &o);
            let b = model.linearise_reference(&src, &att, &cal, &o);
            assert!(same(&a, &b), "trial {trial}: {a:?}\nvs num-dual {b:?}");
            let (eta, zeta) = model.predict_obs(&src, &att, &cal, &o);
            assert_eq!((a.eta, a.zeta), (eta, zeta));
            // what the source's observations share, computed once for several of them
            let sj = SourceJets::new(&src);
            for dt in [0.0, 1e-3, -0.2] {
                let o2 = Observation {
                    t: (o.t + dt).clamp(-0.99, 0.99),
                    strip: (o.strip + 1) % 9,
                    ..o
                };
                let a = model.linearise_source_obs(&sj, &att, &cal, &o2);
                let b = model.linearise_reference(&src, &att, &cal, &o2);
                assert!(
                    same(&a, &b),
                    "trial {trial}, shared: {a:?}\nvs num-dual {b:?}"
                );
            }
        }
    }
}
