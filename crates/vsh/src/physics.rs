//! Degree-1 coefficients as physical vectors: rigid rotation (spin) ω from `t_1m` and glide g
//! from `s_1m`, with errors, directions in equatorial and galactic coordinates.
//!
//! A rigid rotation gives `µ = ω × u`, a glide `µ = g − (g·u) u` (u the unit direction of the
//! source; MK12 sect. 4). Projecting on `e_α`, `e_δ` and comparing with the degree-1 columns
//! of [`crate::basis`] gives (derived in docs/vsh.md; checked against the closed forms by the tests)
//!
//! * `ω_x = −sqrt(3/4π) t^R_11`, `ω_y = sqrt(3/4π) t^I_11`, `ω_z = sqrt(3/8π) t_10`,
//! * `g_x = −sqrt(3/4π) s^R_11`, `g_y = sqrt(3/4π) s^I_11`, `g_z = sqrt(3/8π) s_10`.

use serde::Serialize;

use crate::basis::{coef_index, Family, Part};

/// `sqrt(3/(4π))`.
pub fn c11() -> f64 {
    (3.0 / (4.0 * std::f64::consts::PI)).sqrt()
}

/// `sqrt(3/(8π))`.
pub fn c10() -> f64 {
    (3.0 / (8.0 * std::f64::consts::PI)).sqrt()
}

/// Rotation matrix ICRS → galactic, `r_gal = A r_icrs` (Hipparcos Catalogue vol. 1, eq. 1.5.11;
/// Gaia DR documentation, matrix A_G′); digits as published.
#[allow(clippy::excessive_precision)]
pub const ICRS_TO_GALACTIC: [[f64; 3]; 3] = [
    [
        -0.054_875_560_416_215_4,
        -0.873_437_090_234_885,
        -0.483_835_015_548_713_2,
    ],
    [
        0.494_109_427_875_583_7,
        -0.444_829_629_960_011_2,
        0.746_982_244_497_218_9,
    ],
    [
        -0.867_666_149_019_004_7,
        -0.198_076_373_431_201_5,
        0.455_983_776_175_066_9,
    ],
];

/// Linear map from the 6 degree-1 coefficients of a family to the Cartesian vector:
/// returns `(indices [t10|s10, ·11r, ·11i], 3×3 matrix M)` with `v = M (x_10, x_11r, x_11i)`.
fn degree1_map(family: Family) -> ([usize; 3], [[f64; 3]; 3]) {
    let idx = [
        coef_index(family, 1, 0, Part::Zonal),
        coef_index(family, 1, 1, Part::Re),
        coef_index(family, 1, 1, Part::Im),
    ];
    let (a, b) = (c11(), c10());
    let m = [[0.0, -a, 0.0], [0.0, 0.0, a], [b, 0.0, 0.0]];
    (idx, m)
}

/// Degree-1 coefficients `(x_10, x_11r, x_11i)` of the family that produce the vector `v`
/// (ω for T, g for S); inverse of the conversion in the module documentation.
pub fn vector_to_coefficients(v: [f64; 3]) -> [f64; 3] {
    [v[2] / c10(), -v[0] / c11(), v[1] / c11()]
}

/// Closed-form rigid-rotation field `ω × u` at `(ra, dec)` [rad]: returns `(µα*, µδ)`.
pub fn rotation_field(omega: [f64; 3], ra: f64, dec: f64) -> (f64, f64) {
    let (sa, ca) = ra.sin_cos();
    let (sd, cd) = dec.sin_cos();
    (
        -omega[0] * sd * ca - omega[1] * sd * sa + omega[2] * cd,
        omega[0] * sa - omega[1] * ca,
    )
}

/// Closed-form glide field `g − (g·u) u` at `(ra, dec)` [rad]: returns `(µα*, µδ)`.
pub fn glide_field(g: [f64; 3], ra: f64, dec: f64) -> (f64, f64) {
    let (sa, ca) = ra.sin_cos();
    let (sd, cd) = dec.sin_cos();
    (
        -g[0] * sa + g[1] * ca,
        -g[0] * sd * ca - g[1] * sd * sa + g[2] * cd,
    )
}

/// A 3-vector estimate with its covariance and derived quantities (angles in degrees).
#[derive(Clone, Debug, Serialize)]
pub struct VectorEstimate {
    /// Equatorial (ICRS) components `[x, y, z]` [µas/yr].
    pub components: [f64; 3],
    /// Their formal errors [µas/yr].
    pub errors: [f64; 3],
    /// Their covariance [(µas/yr)²].
    pub covariance: [[f64; 3]; 3],
    /// Amplitude `|v|` [µas/yr].
    pub amplitude: f64,
    /// Linearised error of the amplitude, `sqrt(ûᵀ C û)` [µas/yr].
    pub amplitude_error: f64,
    /// Direction in equatorial coordinates (`ra`, `dec` in degrees, with errors).
    pub equatorial: Direction,
    /// Direction in galactic coordinates (`lon` = l, `lat` = b, degrees, with errors).
    pub galactic: Direction,
    /// Galactic components `[x, y, z]` [µas/yr].
    pub galactic_components: [f64; 3],
}

/// A direction on the sky with linearised errors (degrees). For equatorial coordinates
/// `lon` = α, `lat` = δ; for galactic `lon` = l, `lat` = b. `lon_error` is the error of the
/// longitude angle itself (not multiplied by cos lat).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Direction {
    /// Longitude [deg] in [0, 360).
    pub lon: f64,
    /// Latitude [deg].
    pub lat: f64,
    /// Error of the longitude [deg].
    pub lon_error: f64,
    /// Error of the latitude [deg].
    pub lat_error: f64,
}

fn mat_vec(m: &[[f64; 3]; 3], v: &[f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|i| m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2])
}

/// `M C Mᵀ`.
fn congruence(m: &[[f64; 3]; 3], c: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut out = [[0.0; 3]; 3];
    for (i, oi) in out.iter_mut().enumerate() {
        for (j, oij) in oi.iter_mut().enumerate() {
            let mut s = 0.0;
            for k in 0..3 {
                for l in 0..3 {
                    s += m[i][k] * c[k][l] * m[j][l];
                }
            }
            *oij = s;
        }
    }
    out
}

/// Direction of `v` with errors from covariance `c` (first-order propagation).
pub fn direction(v: &[f64; 3], c: &[[f64; 3]; 3]) -> Direction {
    let (x, y, z) = (v[0], v[1], v[2]);
    let rho2 = x * x + y * y;
    let rho = rho2.sqrt();
    let r2 = rho2 + z * z;
    let lon = y.atan2(x).to_degrees().rem_euclid(360.0);
    let lat = z.atan2(rho).to_degrees();
    // ∂α/∂v = (−y, x, 0)/ρ²; ∂δ/∂v = (−xz/ρ, −yz/ρ, ρ)/r² (from α = atan2(y,x), δ = atan2(z,ρ)).
    let ga = [-y / rho2, x / rho2, 0.0];
    let gd = [-x * z / (rho * r2), -y * z / (rho * r2), rho / r2];
    let quad = |g: &[f64; 3]| {
        let mut s = 0.0;
        for i in 0..3 {
            for j in 0..3 {
                s += g[i] * c[i][j] * g[j];
            }
        }
        s.max(0.0).sqrt().to_degrees()
    };
    Direction {
        lon,
        lat,
        lon_error: quad(&ga),
        lat_error: quad(&gd),
    }
}

/// Converts a vector and its covariance into a [`VectorEstimate`].
pub fn vector_estimate(v: [f64; 3], c: [[f64; 3]; 3]) -> VectorEstimate {
    let amp = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    let u = if amp > 0.0 {
        [v[0] / amp, v[1] / amp, v[2] / amp]
    } else {
        [0.0; 3]
    };
    let mut s = 0.0;
    for i in 0..3 {
        for j in 0..3 {
            s += u[i] * c[i][j] * u[j];
        }
    }
    let vg = mat_vec(&ICRS_TO_GALACTIC, &v);
    let cg = congruence(&ICRS_TO_GALACTIC, &c);
    VectorEstimate {
        components: v,
        errors: [0, 1, 2].map(|i| c[i][i].max(0.0).sqrt()),
        covariance: c,
        amplitude: amp,
        amplitude_error: s.max(0.0).sqrt(),
        equatorial: direction(&v, &c),
        galactic: direction(&vg, &cg),
        galactic_components: vg,
    }
}

/// Rotation (Family::T) or glide (Family::S) vector from the fitted coefficients `coef` and
/// their row-major covariance `cov` (`n × n`, `n = coef.len()`).
pub fn degree1_vector(family: Family, coef: &[f64], cov: &[f64]) -> VectorEstimate {
    let n = coef.len();
    let (idx, m) = degree1_map(family);
    let x = idx.map(|i| coef[i]);
    let mut cx = [[0.0; 3]; 3];
    for (a, row) in cx.iter_mut().enumerate() {
        for (b, e) in row.iter_mut().enumerate() {
            *e = cov[idx[a] * n + idx[b]];
        }
    }
    vector_estimate(mat_vec(&m, &x), congruence(&m, &cx))
}

/// Equatorial `(ra, dec)` [rad] → galactic `(l, b)` [rad].
pub fn equatorial_to_galactic(ra: f64, dec: f64) -> (f64, f64) {
    let (sa, ca) = ra.sin_cos();
    let (sd, cd) = dec.sin_cos();
    let g = mat_vec(&ICRS_TO_GALACTIC, &[cd * ca, cd * sa, sd]);
    (
        g[1].atan2(g[0]).rem_euclid(std::f64::consts::TAU),
        g[2].atan2((g[0] * g[0] + g[1] * g[1]).sqrt()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn galactic_pole_and_centre() {
        // Galactic north pole and centre (ICRS), Gaia DR documentation / Hipparcos vol. 1.
        let (_, b) =
            equatorial_to_galactic(192.859_48_f64.to_radians(), 27.128_25_f64.to_radians());
        assert!(
            (b.to_degrees() - 90.0).abs() < 1e-4,
            "b = {}",
            b.to_degrees()
        );
        let (l, b) =
            equatorial_to_galactic(266.404_99_f64.to_radians(), (-28.936_17_f64).to_radians());
        let l = l.to_degrees();
        let l = if l > 180.0 { l - 360.0 } else { l };
        assert!(
            l.abs() < 1e-3 && b.to_degrees().abs() < 1e-3,
            "l={l} b={}",
            b.to_degrees()
        );
        // Orthonormal matrix.
        for (i, ri) in ICRS_TO_GALACTIC.iter().enumerate() {
            for (j, rj) in ICRS_TO_GALACTIC.iter().enumerate() {
                let s: f64 = ri.iter().zip(rj).map(|(a, b)| a * b).sum();
                assert!((s - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn direction_errors_match_finite_differences() {
        // Perturb the vector along each axis by 1σ (diagonal covariance) and compare angles.
        let v = [1.0, -2.0, 0.7];
        let s = 1e-4;
        for axis in 0..3 {
            let mut c = [[0.0; 3]; 3];
            c[axis][axis] = s * s;
            let d = direction(&v, &c);
            let mut w = v;
            w[axis] += s;
            let d2 = direction(&w, &[[0.0; 3]; 3]);
            assert!(((d2.lon - d.lon).abs() - d.lon_error).abs() < 5e-6);
            assert!(((d2.lat - d.lat).abs() - d.lat_error).abs() < 5e-6);
        }
    }
}
