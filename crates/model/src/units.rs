//! Units and constants. Internal units are radians, days (time from the reference epoch),
//! Julian years (for proper motion) and astronomical units (observer position).

use std::f64::consts::PI;

/// One degree in radians.
pub const DEG: f64 = PI / 180.0;
/// One arcminute in radians.
pub const ARCMIN: f64 = DEG / 60.0;
/// One arcsecond in radians.
pub const ARCSEC: f64 = DEG / 3600.0;
/// One milliarcsecond in radians.
pub const MAS: f64 = ARCSEC * 1e-3;
/// One microarcsecond in radians.
pub const UAS: f64 = ARCSEC * 1e-6;
/// Days in a Julian year (IAU).
pub const JULIAN_YEAR_DAYS: f64 = 365.25;
/// Julian date of J2000.0 (TCB/TDB, 2000-01-01T12:00).
pub const JD_J2000: f64 = 2_451_545.0;
/// Julian date of J2016.0, the Gaia DR3 reference epoch.
pub const JD_J2016: f64 = JD_J2000 + 16.0 * JULIAN_YEAR_DAYS;
/// Astronomical unit in km (IAU 2012 B2).
pub const AU_KM: f64 = 149_597_870.7;
/// km/s corresponding to 1 AU per Julian year: converts µ [mas/yr] · d [kpc] to v [km/s].
pub const KM_S_PER_AU_YR: f64 = AU_KM / (JULIAN_YEAR_DAYS * 86_400.0);
/// Obliquity of the ecliptic at J2000 (IAU 2006), radians.
pub const OBLIQUITY_J2000: f64 = 84_381.406 * ARCSEC;
/// Seconds per day.
pub const DAY_S: f64 = 86_400.0;

/// Julian years from days.
#[inline]
pub fn years(days: f64) -> f64 {
    days / JULIAN_YEAR_DAYS
}

/// Converts ecliptic (J2000) rectangular coordinates to equatorial (ICRS-aligned).
pub fn ecliptic_to_equatorial(v: [f64; 3]) -> [f64; 3] {
    let (s, c) = OBLIQUITY_J2000.sin_cos();
    [v[0], c * v[1] - s * v[2], s * v[1] + c * v[2]]
}

/// Converts equatorial (ICRS-aligned) rectangular coordinates to ecliptic (J2000).
pub fn equatorial_to_ecliptic(v: [f64; 3]) -> [f64; 3] {
    let (s, c) = OBLIQUITY_J2000.sin_cos();
    [v[0], c * v[1] + s * v[2], -s * v[1] + c * v[2]]
}

/// Rotation matrix from ICRS to Galactic coordinates (Hipparcos Catalogue, ESA 1997, vol. 1,
/// eq. 1.5.11): v_gal = A_G · v_icrs.
pub const ICRS_TO_GALACTIC: [[f64; 3]; 3] = [
    [-0.054_875_560_4, -0.873_437_090_2, -0.483_835_015_5],
    [0.494_109_427_9, -0.444_829_630_0, 0.746_982_244_5],
    [-0.867_666_149_0, -0.198_076_373_4, 0.455_983_776_2],
];

/// Galactic to ICRS (transpose of [`ICRS_TO_GALACTIC`]).
pub fn galactic_to_icrs(v: [f64; 3]) -> [f64; 3] {
    let a = ICRS_TO_GALACTIC;
    [
        a[0][0] * v[0] + a[1][0] * v[1] + a[2][0] * v[2],
        a[0][1] * v[0] + a[1][1] * v[1] + a[2][1] * v[2],
        a[0][2] * v[0] + a[1][2] * v[1] + a[2][2] * v[2],
    ]
}
