//! Quaternions, Gaia convention: q = (q1, q2, q3, q4) with q4 the scalar part, and the
//! attitude rotates ICRS into the scanning reference system (SRS) as
//! {u}_SRS = q⁻¹ {u}_ICRS q (Lindegren et al. 2012, eq. 12).

use crate::scalar::{Real, V3};

/// Hamilton product of two quaternions (vector part first, scalar last).
#[inline]
pub fn mul<D: Real>(a: &[D; 4], b: &[D; 4]) -> [D; 4] {
    let (ax, ay, az, aw) = (a[0], a[1], a[2], a[3]);
    let (bx, by, bz, bw) = (b[0], b[1], b[2], b[3]);
    [
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    ]
}

#[inline]
pub fn conj<D: Real>(q: &[D; 4]) -> [D; 4] {
    [-q[0], -q[1], -q[2], q[3]]
}

/// q normalised to unit length.
#[inline]
pub fn normalize<D: Real>(q: &[D; 4]) -> [D; 4] {
    let n = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
        .sqrt()
        .recip();
    [q[0] * n, q[1] * n, q[2] * n, q[3] * n]
}

/// Components in the SRS of a vector given in ICRS: q⁻¹ u q for a unit quaternion q
/// (Lindegren et al. 2012, eq. 12). Written out as the rotation matrix R(q)ᵀ u.
#[inline]
pub fn icrs_to_srs<D: Real>(q: &[D; 4], u: &V3<D>) -> V3<D> {
    let m = matrix(q);
    // transpose: rows of Rᵀ are columns of R
    [
        m[0][0] * u[0] + m[1][0] * u[1] + m[2][0] * u[2],
        m[0][1] * u[0] + m[1][1] * u[1] + m[2][1] * u[2],
        m[0][2] * u[0] + m[1][2] * u[1] + m[2][2] * u[2],
    ]
}

/// Components in ICRS of a vector given in the SRS: q v q⁻¹.
#[inline]
pub fn srs_to_icrs<D: Real>(q: &[D; 4], v: &V3<D>) -> V3<D> {
    let m = matrix(q);
    [
        m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
        m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
        m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
    ]
}

/// Active rotation matrix R(q) of a unit quaternion: q v q⁻¹ = R v.
#[inline]
pub fn matrix<D: Real>(q: &[D; 4]) -> [[D; 3]; 3] {
    let (x, y, z, w) = (q[0], q[1], q[2], q[3]);
    let one = D::cst(1.0);
    let two = D::cst(2.0);
    [
        [
            one - two * (y * y + z * z),
            two * (x * y - z * w),
            two * (x * z + y * w),
        ],
        [
            two * (x * y + z * w),
            one - two * (x * x + z * z),
            two * (y * z - x * w),
        ],
        [
            two * (x * z - y * w),
            two * (y * z + x * w),
            one - two * (x * x + y * y),
        ],
    ]
}

/// Unit quaternion of the attitude whose SRS axes x, y, z have the given ICRS components,
/// i.e. q with q⁻¹ u q = A u where the rows of A are x, y, z. Shepperd's method.
pub fn from_srs_axes(x: [f64; 3], y: [f64; 3], z: [f64; 3]) -> [f64; 4] {
    // R(q) = Aᵀ: its columns are x, y, z.
    let r = [[x[0], y[0], z[0]], [x[1], y[1], z[1]], [x[2], y[2], z[2]]];
    let tr = r[0][0] + r[1][1] + r[2][2];
    let q = if tr > 0.0 {
        let s = (tr + 1.0).sqrt() * 2.0;
        [
            (r[2][1] - r[1][2]) / s,
            (r[0][2] - r[2][0]) / s,
            (r[1][0] - r[0][1]) / s,
            0.25 * s,
        ]
    } else if r[0][0] > r[1][1] && r[0][0] > r[2][2] {
        let s = (1.0 + r[0][0] - r[1][1] - r[2][2]).sqrt() * 2.0;
        [
            0.25 * s,
            (r[0][1] + r[1][0]) / s,
            (r[0][2] + r[2][0]) / s,
            (r[2][1] - r[1][2]) / s,
        ]
    } else if r[1][1] > r[2][2] {
        let s = (1.0 + r[1][1] - r[0][0] - r[2][2]).sqrt() * 2.0;
        [
            (r[0][1] + r[1][0]) / s,
            0.25 * s,
            (r[1][2] + r[2][1]) / s,
            (r[0][2] - r[2][0]) / s,
        ]
    } else {
        let s = (1.0 + r[2][2] - r[0][0] - r[1][1]).sqrt() * 2.0;
        [
            (r[0][2] + r[2][0]) / s,
            (r[1][2] + r[2][1]) / s,
            0.25 * s,
            (r[1][0] - r[0][1]) / s,
        ]
    };
    normalize(&q)
}

/// Quaternion of a small rotation by the vector angle θ (rad) about its direction.
pub fn from_rotation_vector(theta: [f64; 3]) -> [f64; 4] {
    let a = (theta[0] * theta[0] + theta[1] * theta[1] + theta[2] * theta[2]).sqrt();
    if a < 1e-300 {
        return [0.0, 0.0, 0.0, 1.0];
    }
    let s = (0.5 * a).sin() / a;
    [theta[0] * s, theta[1] * s, theta[2] * s, (0.5 * a).cos()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scalar::f;

    #[test]
    fn srs_axes_round_trip() {
        let z = f::normalize(&[0.3, -0.5, 0.8]);
        let x = f::normalize(&f::cross(&[0.0, 0.0, 1.0], &z));
        let y = f::cross(&z, &x);
        let q = from_srs_axes(x, y, z);
        for (axis, expect) in [
            (x, [1.0, 0.0, 0.0]),
            (y, [0.0, 1.0, 0.0]),
            (z, [0.0, 0.0, 1.0]),
        ] {
            let v = icrs_to_srs(&q, &axis);
            for k in 0..3 {
                assert!((v[k] - expect[k]).abs() < 1e-14, "{v:?} vs {expect:?}");
            }
        }
        // q⁻¹ u q via Hamilton products equals the matrix form
        let u = [0.1, 0.7, -0.2];
        let p = mul(&mul(&conj(&q), &[u[0], u[1], u[2], 0.0]), &q);
        let v = icrs_to_srs(&q, &u);
        for k in 0..3 {
            assert!((p[k] - v[k]).abs() < 1e-14);
        }
        let back = srs_to_icrs(&q, &v);
        for k in 0..3 {
            assert!((back[k] - u[k]).abs() < 1e-14);
        }
    }
}
