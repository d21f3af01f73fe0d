//! Barycentric position of the observer (and of the Sun), behind the [`Ephemeris`] trait so a
//! tabulated real ephemeris (e.g. Gaia's orbit file) can replace the analytic one.
//!
//! Frame: ICRS-aligned equatorial, units AU, time in days from the mission reference epoch
//! (TCB; VSOP87 is evaluated at JD(TCB) — the TCB−TDB offset, ~20 s in 2016, is ignored).

use crate::units::{ecliptic_to_equatorial, JD_J2016};
use serde::{Deserialize, Serialize};

/// Positions needed by the model and the simulator.
pub trait Ephemeris: Send + Sync {
    /// Barycentric position of the observer (AU, equatorial) at t (days from the reference epoch).
    fn observer_au(&self, t: f64) -> [f64; 3];
    /// Barycentric position of the Sun (AU, equatorial) at t.
    fn sun_au(&self, t: f64) -> [f64; 3];
    /// Both positions at t: (observer, Sun), as [`Ephemeris::observer_au`] and
    /// [`Ephemeris::sun_au`] give them (an implementation may share work between the two).
    fn observer_and_sun_au(&self, t: f64) -> ([f64; 3], [f64; 3]) {
        (self.observer_au(t), self.sun_au(t))
    }
}

/// Spacecraft near the Sun–Earth L2 point: the heliocentric Earth (VSOP87E) scaled by
/// `l2_scale` (1.01 puts it ~1.5 million km beyond the Earth), plus the barycentric Sun.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GaiaL2Ephemeris {
    /// Julian date (TCB) of t = 0.
    pub reference_epoch_jd: f64,
    /// Heliocentric distance factor of L2 relative to the Earth.
    pub l2_scale: f64,
}

impl Default for GaiaL2Ephemeris {
    fn default() -> Self {
        GaiaL2Ephemeris {
            reference_epoch_jd: JD_J2016,
            l2_scale: 1.01,
        }
    }
}

fn rect(c: vsop87::RectangularCoordinates) -> [f64; 3] {
    [c.x, c.y, c.z]
}

impl GaiaL2Ephemeris {
    /// The observer (ecliptic, AU) from the Earth's and the Sun's VSOP87E positions.
    fn observer_ecliptic(&self, e: [f64; 3], s: [f64; 3]) -> [f64; 3] {
        let k = self.l2_scale;
        [
            s[0] + k * (e[0] - s[0]),
            s[1] + k * (e[1] - s[1]),
            s[2] + k * (e[2] - s[2]),
        ]
    }
}

impl Ephemeris for GaiaL2Ephemeris {
    fn observer_au(&self, t: f64) -> [f64; 3] {
        let jd = self.reference_epoch_jd + t;
        let e = rect(vsop87::vsop87e::earth(jd));
        let s = rect(vsop87::vsop87e::sun(jd));
        ecliptic_to_equatorial(self.observer_ecliptic(e, s))
    }
    fn sun_au(&self, t: f64) -> [f64; 3] {
        ecliptic_to_equatorial(rect(vsop87::vsop87e::sun(self.reference_epoch_jd + t)))
    }
    /// One VSOP87 evaluation of the Sun for both.
    fn observer_and_sun_au(&self, t: f64) -> ([f64; 3], [f64; 3]) {
        let jd = self.reference_epoch_jd + t;
        let e = rect(vsop87::vsop87e::earth(jd));
        let s = rect(vsop87::vsop87e::sun(jd));
        (
            ecliptic_to_equatorial(self.observer_ecliptic(e, s)),
            ecliptic_to_equatorial(s),
        )
    }
}

/// Observer in low Earth orbit (JASMINE-like): the barycentric Earth (VSOP87E). The orbit
/// itself (≈ 7000 km ≈ 5 × 10⁻⁵ AU) is neglected: it moves a star at 8 kpc by < 0.01 µas.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EarthEphemeris {
    /// Julian date (TCB) of t = 0.
    pub reference_epoch_jd: f64,
}

impl Default for EarthEphemeris {
    fn default() -> Self {
        EarthEphemeris {
            reference_epoch_jd: JD_J2016,
        }
    }
}

impl Ephemeris for EarthEphemeris {
    fn observer_au(&self, t: f64) -> [f64; 3] {
        ecliptic_to_equatorial(rect(vsop87::vsop87e::earth(self.reference_epoch_jd + t)))
    }
    fn sun_au(&self, t: f64) -> [f64; 3] {
        ecliptic_to_equatorial(rect(vsop87::vsop87e::sun(self.reference_epoch_jd + t)))
    }
}

/// Ephemeris tabulated at a uniform step and interpolated with 4-point (cubic) Lagrange
/// polynomials. Used for speed (VSOP87 costs thousands of terms) and for real orbit files.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TabulatedEphemeris {
    /// Time of the first row (days from the reference epoch).
    pub t0: f64,
    /// Table step (days).
    pub step: f64,
    /// Observer positions (AU), one per row.
    pub observer: Vec<[f64; 3]>,
    /// Sun positions (AU), one per row.
    pub sun: Vec<[f64; 3]>,
}

impl TabulatedEphemeris {
    /// Samples another ephemeris over [t_start, t_end] (days) with two rows of margin on each
    /// side, `step` days apart. The rows are independent evaluations, spread over the
    /// available cores (a VSOP87 row costs tens of µs); the table does not depend on how.
    pub fn sample(eph: &dyn Ephemeris, t_start: f64, t_end: f64, step: f64) -> Self {
        let t0 = t_start - 2.0 * step;
        let n = ((t_end - t0) / step).ceil() as usize + 3;
        let mut rows = vec![([0.0; 3], [0.0; 3]); n];
        let fill = |first: usize, part: &mut [([f64; 3], [f64; 3])]| {
            for (i, r) in part.iter_mut().enumerate() {
                *r = eph.observer_and_sun_au(t0 + (first + i) as f64 * step);
            }
        };
        let threads = std::thread::available_parallelism().map_or(1, |k| k.get());
        let per = n.div_ceil(threads).max(64);
        if per >= n {
            fill(0, &mut rows);
        } else {
            std::thread::scope(|sc| {
                for (c, part) in rows.chunks_mut(per).enumerate() {
                    let fill = &fill;
                    sc.spawn(move || fill(c * per, part));
                }
            });
        }
        TabulatedEphemeris {
            t0,
            step,
            observer: rows.iter().map(|r| r.0).collect(),
            sun: rows.iter().map(|r| r.1).collect(),
        }
    }

    /// Time span that can be interpolated.
    pub fn span(&self) -> (f64, f64) {
        (
            self.t0 + self.step,
            self.t0 + (self.observer.len() as f64 - 2.0) * self.step,
        )
    }

    #[inline]
    fn interp(&self, rows: &[[f64; 3]], t: f64) -> [f64; 3] {
        let x = (t - self.t0) / self.step;
        let i = (x.floor() as isize).clamp(1, rows.len() as isize - 3) as usize;
        let u = x - i as f64;
        // Lagrange weights for nodes −1, 0, 1, 2
        let w = [
            -u * (u - 1.0) * (u - 2.0) / 6.0,
            (u + 1.0) * (u - 1.0) * (u - 2.0) / 2.0,
            -(u + 1.0) * u * (u - 2.0) / 2.0,
            (u + 1.0) * u * (u - 1.0) / 6.0,
        ];
        let mut p = [0.0; 3];
        for (k, wk) in w.iter().enumerate() {
            let r = rows[i + k - 1];
            for c in 0..3 {
                p[c] += wk * r[c];
            }
        }
        p
    }
}

impl Ephemeris for TabulatedEphemeris {
    #[inline]
    fn observer_au(&self, t: f64) -> [f64; 3] {
        self.interp(&self.observer, t)
    }
    #[inline]
    fn sun_au(&self, t: f64) -> [f64; 3] {
        self.interp(&self.sun, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scalar::f;

    #[test]
    fn l2_orbit_is_about_one_au_and_tabulation_is_accurate() {
        let eph = GaiaL2Ephemeris::default();
        let tab = TabulatedEphemeris::sample(&eph, -200.0, 200.0, 0.5);
        for i in 0..40 {
            let t = -190.0 + i as f64 * 9.37;
            let b = eph.observer_au(t);
            let s = eph.sun_au(t);
            let r = f::norm(&f::sub(&b, &s));
            assert!((r - 1.01).abs() < 0.02, "heliocentric distance {r}");
            let bt = tab.observer_au(t);
            assert!(f::norm(&f::sub(&b, &bt)) < 1e-9, "tabulation error");
        }
        // one year later the observer is back within ~1% of an AU
        let d = f::norm(&f::sub(&eph.observer_au(0.0), &eph.observer_au(365.25)));
        assert!(d < 0.02);
    }

    /// The table, filled over several threads, holds exactly the ephemeris' own values at
    /// t0 + i·step, and the shared evaluation of both positions equals the separate ones.
    #[test]
    fn sampled_rows_are_the_ephemeris_values() {
        let eph = GaiaL2Ephemeris::default();
        let tab = TabulatedEphemeris::sample(&eph, -30.0, 30.0, 0.25);
        assert!(tab.observer.len() > 200);
        for i in (0..tab.observer.len()).step_by(7) {
            let t = tab.t0 + i as f64 * tab.step;
            assert_eq!(tab.observer[i], eph.observer_au(t), "row {i}");
            assert_eq!(tab.sun[i], eph.sun_au(t), "row {i}");
        }
        let last = tab.observer.len() - 1;
        assert_eq!(
            tab.observer[last],
            eph.observer_au(tab.t0 + last as f64 * tab.step)
        );
    }
}
