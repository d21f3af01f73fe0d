//! The generic scalar of the model: `f64` for predictions, `DualSVec64<N>` for Jacobians.

use num_dual::DualNum;

/// A real scalar the model can be evaluated with: plain `f64` or a forward-mode dual number
/// (num-dual 0.15's `DualNum` trait, implemented by `f64` itself).
pub trait Real: DualNum<Primitive = f64> + Copy + Send + Sync + 'static {
    /// The value part (`re`) of the scalar.
    fn value(&self) -> f64;
    /// A constant (derivative-free) scalar.
    fn cst(x: f64) -> Self {
        Self::from(x)
    }
}

impl<T: DualNum<Primitive = f64> + Copy + Send + Sync + 'static> Real for T {
    fn value(&self) -> f64 {
        num_dual::DualStruct::re(self)
    }
}

/// 3-vector of generic scalars.
pub type V3<D> = [D; 3];

#[inline]
pub fn dot<D: Real>(a: &V3<D>, b: &V3<D>) -> D {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

#[inline]
pub fn cross<D: Real>(a: &V3<D>, b: &V3<D>) -> V3<D> {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

#[inline]
pub fn norm<D: Real>(a: &V3<D>) -> D {
    dot(a, a).sqrt()
}

#[inline]
pub fn normalize<D: Real>(a: &V3<D>) -> V3<D> {
    let n = norm(a).recip();
    [a[0] * n, a[1] * n, a[2] * n]
}

/// Plain-f64 helpers used outside the generic model.
pub mod f {
    pub fn dot(a: &[f64; 3], b: &[f64; 3]) -> f64 {
        a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
    }
    pub fn cross(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    }
    pub fn norm(a: &[f64; 3]) -> f64 {
        dot(a, a).sqrt()
    }
    pub fn normalize(a: &[f64; 3]) -> [f64; 3] {
        let n = norm(a);
        [a[0] / n, a[1] / n, a[2] / n]
    }
    pub fn scale(a: &[f64; 3], s: f64) -> [f64; 3] {
        [a[0] * s, a[1] * s, a[2] * s]
    }
    pub fn add(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
        [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
    }
    pub fn sub(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
        [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
    }
    /// Unit vector of spherical coordinates (longitude, latitude) in radians.
    pub fn unit(lon: f64, lat: f64) -> [f64; 3] {
        let (sl, cl) = lon.sin_cos();
        let (sb, cb) = lat.sin_cos();
        [cl * cb, sl * cb, sb]
    }
    /// Spherical coordinates (longitude in [0, 2π), latitude) of a vector.
    pub fn spherical(v: &[f64; 3]) -> (f64, f64) {
        let lon = v[1].atan2(v[0]).rem_euclid(std::f64::consts::TAU);
        let lat = v[2].atan2((v[0] * v[0] + v[1] * v[1]).sqrt());
        (lon, lat)
    }
}
