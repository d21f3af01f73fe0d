//! `epoch --plot`: one source's along-scan residuals against time, and its fitted path on the
//! sky (parallax ellipse plus motion) with the one-dimensional measurements on it.
//!
//! The two-dimensional parallax displacement needs the source direction, which Gaia's epoch
//! astrometry does not give: it is recovered from the along-scan parallax factors themselves,
//! f = −(∂w/∂α* b·e_α + ∂w/∂δ b·e_δ) with b the observer's barycentric position (AU; Lindegren
//! et al. 2012, eq. 4), by a grid search over the sphere. Hipparcos headers give it directly.

use astrosolve_model::ephemeris::{EarthEphemeris, Ephemeris, GaiaL2Ephemeris};
use astrosolve_model::source::normal_triad;
use astrosolve_model::units::JD_J2000;
use plotters::prelude::*;
use std::path::Path;

use astrosolve_epoch::run::Fitted;

type R = Result<(), Box<dyn std::error::Error>>;

use astrosolve_model::units::JULIAN_YEAR_DAYS as DAYS_PER_YEAR;

/// Observer ephemeris with t = 0 at the Julian year `ref_epoch`: Gaia at L2 for the DR4 epoch
/// (J2017.5), the Earth for Hipparcos (J1991.25).
fn ephemeris(ref_epoch: f64) -> Box<dyn Ephemeris> {
    let jd = JD_J2000 + (ref_epoch - 2000.0) * DAYS_PER_YEAR;
    if ref_epoch > 2010.0 {
        Box::new(GaiaL2Ephemeris {
            reference_epoch_jd: jd,
            l2_scale: 1.01,
        })
    } else {
        Box::new(EarthEphemeris {
            reference_epoch_jd: jd,
        })
    }
}

/// (b·e_α, b·e_δ) in AU for the direction (ra, dec), rad.
fn projections(b: &[f64; 3], ra: f64, dec: f64) -> (f64, f64) {
    let [p, q, _] = normal_triad(ra, dec);
    (
        b[0] * p[0] + b[1] * p[1] + b[2] * p[2],
        b[0] * q[0] + b[1] * q[1] + b[2] * q[2],
    )
}

/// The source direction (rad) that best explains the along-scan parallax factors, with the
/// RMS misfit of the factors (AU); None with fewer than 3 usable observations.
pub fn direction_from_parallax_factors(f: &Fitted) -> Option<(f64, f64, f64)> {
    let eph = ephemeris(f.ref_epoch);
    let obs: Vec<_> = f
        .data
        .obs
        .iter()
        .filter(|o| o.used && o.a_parallax.is_finite())
        .collect();
    if obs.len() < 3 {
        return None;
    }
    // One ephemeris evaluation per distinct time (CCDs of one transit share it to ~1e-5 AU).
    let b: Vec<[f64; 3]> = obs
        .iter()
        .map(|o| eph.observer_au(o.t * DAYS_PER_YEAR))
        .collect();
    let misfit = |ra: f64, dec: f64| -> f64 {
        obs.iter()
            .zip(&b)
            .map(|(o, b)| {
                let (pa, pd) = projections(b, ra, dec);
                let r = o.a_parallax + o.a_alpha * pa + o.a_delta * pd;
                r * r
            })
            .sum::<f64>()
    };
    let search = |best: (f64, f64, f64), ra0: f64, dec0: f64, half: f64, n: i32| {
        let mut b2 = best;
        for i in -n..=n {
            let dec = (dec0 + half * f64::from(i) / f64::from(n))
                .clamp(-std::f64::consts::FRAC_PI_2, std::f64::consts::FRAC_PI_2);
            for j in -2 * n..=2 * n {
                let ra = ra0 + 2.0 * half * f64::from(j) / f64::from(2 * n);
                let m = misfit(ra, dec);
                if m < b2.0 {
                    b2 = (m, ra, dec);
                }
            }
        }
        b2
    };
    let mut best = search(
        (f64::INFINITY, 0.0, 0.0),
        std::f64::consts::PI,
        0.0,
        std::f64::consts::FRAC_PI_2,
        45,
    );
    let mut half = 4f64.to_radians();
    while half > 1e-6 {
        best = search(best, best.1, best.2, half, 4);
        half /= 3.0;
    }
    let (m, ra, dec) = best;
    Some((
        ra.rem_euclid(std::f64::consts::TAU),
        dec,
        (m / obs.len() as f64).sqrt(),
    ))
}

/// Model position offset (α*, δ) in mas at t (yr) for the fitted parameters (plus the reference
/// values they correct), with parallax displacement (pa, pd) = −(b·e_α, b·e_δ) in AU.
fn position(f: &Fitted, t: f64, pa: f64, pd: f64) -> (f64, f64) {
    use astrosolve_epoch::hipparcos::{A97, B97};
    let p = &f.result.params;
    let r = f.reference_motion.unwrap_or([0.0; 7]);
    let mut x = p[0] + (r[0] + p[2]) * pa + (r[1] + p[3]) * t;
    let mut y = p[1] + (r[0] + p[2]) * pd + (r[2] + p[4]) * t;
    let names = f.model.names();
    let (a, b) = if f.catalogue_basis {
        (A97, B97)
    } else {
        (0.0, 0.0)
    };
    let (g_a, g_d) = if names.len() >= 7 && names[5] == "accel_ra" {
        (p[5] + r[3], p[6] + r[4])
    } else {
        (r[3], r[4])
    };
    x += 0.5 * g_a * (t * t - a);
    y += 0.5 * g_d * (t * t - a);
    let (h_a, h_d) = if names.len() >= 9 {
        (p[7] + r[5], p[8] + r[6])
    } else {
        (r[5], r[6])
    };
    x += h_a * (t * t * t - b * t) / 6.0;
    y += h_d * (t * t * t - b * t) / 6.0;
    (x, y)
}

/// Draws `path` for one fitted source, in memory, written through a temporary file and a
/// rename (`crate::plots::png`: an interrupted run leaves no half-written PNG; errors name
/// `path`).
pub fn draw(path: &Path, f: &Fitted) -> R {
    crate::plots::png(path, (1200, 520), |root| draw_on(root, f))
}

fn draw_on(root: &crate::plots::Root<'_>, f: &Fitted) -> R {
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(640);

    // Residuals against time.
    let pts: Vec<(f64, f64, f64, bool)> = f
        .data
        .obs
        .iter()
        .enumerate()
        .filter(|(j, _)| f.result.residuals.get(*j).is_some_and(|r| r.is_finite()))
        .map(|(j, o)| {
            (
                f.ref_epoch + o.t,
                f.result.residuals[j],
                f.result.weights.get(j).copied().unwrap_or(0.0),
                o.used,
            )
        })
        .collect();
    let (t0, t1) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.0), b.max(p.0))
        });
    let mut rs: Vec<f64> = pts.iter().filter(|p| p.3).map(|p| p.1.abs()).collect();
    rs.sort_by(f64::total_cmp);
    let rmax = if rs.is_empty() {
        1.0
    } else {
        (rs[(rs.len() * 99 / 100).min(rs.len() - 1)] * 1.3).max(1e-3)
    };
    let pad = ((t1 - t0) * 0.03).max(0.01);
    let mut c = ChartBuilder::on(&left)
        .caption(
            format!("source {}: along-scan residuals", f.data.id),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(38)
        .y_label_area_size(60)
        .build_cartesian_2d((t0 - pad)..(t1 + pad), -rmax..rmax)?;
    c.configure_mesh()
        .x_desc("epoch [Julian year]")
        .y_desc("residual w − model [mas]")
        .draw()?;
    let clip = |r: f64| r.clamp(-rmax, rmax);
    c.draw_series(
        pts.iter()
            .filter(|p| !p.3)
            .map(|p| Circle::new((p.0, clip(p.1)), 2, RGBColor(170, 170, 170).filled())),
    )?
    .label("not used")
    .legend(|(x, y)| Circle::new((x, y), 3, RGBColor(170, 170, 170).filled()));
    c.draw_series(
        pts.iter()
            .filter(|p| p.3 && p.2 >= 0.2)
            .map(|p| Circle::new((p.0, clip(p.1)), 2, BLUE.filled())),
    )?
    .label("used")
    .legend(|(x, y)| Circle::new((x, y), 3, BLUE.filled()));
    c.draw_series(
        pts.iter()
            .filter(|p| p.3 && p.2 < 0.2)
            .map(|p| Cross::new((p.0, clip(p.1)), 4, RED)),
    )?
    .label("outlier (weight < 0.2)")
    .legend(|(x, y)| Cross::new((x, y), 4, RED));
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;

    // Path on the sky.
    let dir = f
        .reference_radec
        .or_else(|| direction_from_parallax_factors(f).map(|(a, d, _)| (a, d)));
    let Some((ra, dec)) = dir else {
        return Ok(());
    };
    let eph = ephemeris(f.ref_epoch);
    let tmin = t0 - f.ref_epoch;
    let tmax = t1 - f.ref_epoch;
    let n = 600;
    let curve: Vec<(f64, f64)> = (0..=n)
        .map(|i| {
            let t = tmin + (tmax - tmin) * f64::from(i) / f64::from(n);
            let (pa, pd) = projections(&eph.observer_au(t * DAYS_PER_YEAR), ra, dec);
            position(f, t, -pa, -pd)
        })
        .collect();
    // The 1-D measurements: the model position moved along the scan direction by the residual.
    let meas: Vec<(f64, f64, f64, f64)> = f
        .data
        .obs
        .iter()
        .enumerate()
        .filter(|(j, o)| o.used && f.result.weights.get(*j).is_some_and(|w| *w >= 0.2))
        .filter_map(|(j, o)| {
            let r = *f.result.residuals.get(j)?;
            let norm = o.a_alpha.hypot(o.a_delta);
            if !(norm > 0.0 && r.is_finite()) {
                return None;
            }
            let (pa, pd) = projections(&eph.observer_au(o.t * DAYS_PER_YEAR), ra, dec);
            let (x, y) = position(f, o.t, -pa, -pd);
            let (ux, uy) = (o.a_alpha / norm, o.a_delta / norm);
            Some((x + r * ux, y + r * uy, ux, uy))
        })
        .collect();
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in &curve {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let span = (x1 - x0).max(y1 - y0).max(1e-3) * 0.55;
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let tick = span * 0.03;
    let mut s = ChartBuilder::on(&right)
        .caption(
            format!(
                "{} (α {:.4}°, δ {:.4}°)",
                if f.reference_motion.is_some() {
                    "catalogue + corrections"
                } else if f.ref_epoch < 2010.0 {
                    "corrections only (no catalogue values in the file)"
                } else {
                    "path on the sky"
                },
                ra.to_degrees(),
                dec.to_degrees()
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(38)
        .y_label_area_size(60)
        // East to the left, as on the sky.
        .build_cartesian_2d((cx + span)..(cx - span), (cy - span)..(cy + span))?;
    s.configure_mesh()
        .x_desc("Δα* [mas]")
        .y_desc("Δδ [mas]")
        .draw()?;
    s.draw_series(LineSeries::new(curve, &BLACK))?
        .label("fitted path")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK));
    // Each measurement constrains the position along scan only: a short segment across scan.
    s.draw_series(meas.iter().map(|&(x, y, ux, uy)| {
        PathElement::new(
            vec![
                (x - tick * uy, y + tick * ux),
                (x + tick * uy, y - tick * ux),
            ],
            BLUE.mix(0.5),
        )
    }))?
    .label("measurements (along scan)")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLUE));
    s.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use astrosolve_epoch::Weighting;
    use std::path::Path;

    /// The direction recovered from the along-scan parallax factors alone is the catalogue's
    /// (HIP 27321, 2014 edition, whose header gives α, δ): the plot's parallax ellipse is right.
    #[test]
    fn direction_from_parallax_factors_matches_the_hipparcos_header() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/real/hipparcos/hip2014/H027321.d");
        assert!(
            file.exists(),
            "real test data missing: {} (the shared folder beside the checkout)",
            file.display()
        );
        let star = astrosolve_io::hipparcos::read_iad(&file, None).unwrap();
        let fit = astrosolve_epoch::hipparcos::fit_star(&star, None, Weighting::None).unwrap();
        let r = star.reference.as_ref().unwrap();
        let f = Fitted {
            data: fit.data,
            result: fit.result,
            model: fit.model,
            ref_epoch: astrosolve_epoch::hipparcos::REF_EPOCH_YR,
            warnings: vec![],
            reference_radec: None,
            reference_motion: None,
            catalogue_basis: true,
        };
        let (ra, dec, rms) = direction_from_parallax_factors(&f).unwrap();
        let sep = (ra - r.ra_rad).abs() * r.dec_rad.cos() + (dec - r.dec_rad).abs();
        // Hipparcos parallax factors are printed to 4 digits (1e-4 AU): a few 0.01°.
        assert!(
            sep.to_degrees() < 0.1,
            "recovered ({:.4}°, {:.4}°) vs header ({:.4}°, {:.4}°), rms misfit {rms:.1e} AU",
            ra.to_degrees(),
            dec.to_degrees(),
            r.ra_rad.to_degrees(),
            r.dec_rad.to_degrees()
        );
        assert!(rms < 1e-3, "rms misfit {rms:.1e} AU");
    }
}
