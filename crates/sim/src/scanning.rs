//! The nominal scanning law (NSL) of a Gaia-like spinning satellite: the spin axis z keeps
//! the solar aspect angle ξ to the Sun and precesses around it, the satellite spins about z.
//! Simplified from Lindegren et al. 2012 (section 3.3) and Lindegren 2001 (GAIA-LL-035): the
//! precession phase ν advances uniformly (period P) instead of the constant-S law.

use astrosolve_model::ephemeris::Ephemeris;
use astrosolve_model::quat;
use astrosolve_model::scalar::f;
use astrosolve_model::units::{ecliptic_to_equatorial, ARCSEC, DAY_S, DEG};

#[derive(Clone, Copy, Debug)]
pub struct ScanningLaw {
    /// Solar aspect angle ξ (rad).
    pub xi: f64,
    /// Spin rate (rad/day).
    pub omega: f64,
    /// Precession rate of ν (rad/day).
    pub nu_rate: f64,
    pub nu0: f64,
    pub omega0: f64,
}

impl ScanningLaw {
    pub fn new(spin_arcsec_s: f64, xi_deg: f64, precession_days: f64) -> Self {
        ScanningLaw {
            xi: xi_deg * DEG,
            omega: spin_arcsec_s * ARCSEC * DAY_S,
            nu_rate: std::f64::consts::TAU / precession_days,
            nu0: 0.3,
            omega0: 0.0,
        }
    }

    /// SRS axes (x, y, z) in ICRS at time t.
    pub fn axes(&self, eph: &dyn Ephemeris, t: f64) -> [[f64; 3]; 3] {
        let s = f::normalize(&f::sub(&eph.sun_au(t), &eph.observer_au(t)));
        let k = ecliptic_to_equatorial([0.0, 0.0, 1.0]);
        // unit vectors perpendicular to the Sun direction
        let k_perp = f::normalize(&f::sub(&k, &f::scale(&s, f::dot(&k, &s))));
        let m = f::cross(&s, &k_perp);
        let nu = self.nu0 + self.nu_rate * t;
        let (sx, cx) = self.xi.sin_cos();
        let z = f::add(
            &f::scale(&s, cx),
            &f::add(
                &f::scale(&k_perp, sx * nu.cos()),
                &f::scale(&m, sx * nu.sin()),
            ),
        );
        let a = f::normalize(&f::cross(&s, &z));
        let b = f::cross(&z, &a);
        let om = self.omega0 + self.omega * t;
        let x = f::add(&f::scale(&a, om.cos()), &f::scale(&b, om.sin()));
        let y = f::cross(&z, &x);
        [x, y, z]
    }

    /// Attitude quaternion (q⁻¹ u q gives SRS components) at time t.
    pub fn quat(&self, eph: &dyn Ephemeris, t: f64) -> [f64; 4] {
        let [x, y, z] = self.axes(eph, t);
        quat::from_srs_axes(x, y, z)
    }
}
