//! The generic scalar of the model: `f64` for predictions, the forward-mode dual number
//! [`Jet`] (value and N first derivatives, f(a + bε) = f(a) + f′(a) b ε; Griewank & Walther
//! 2008, ch. 3) for Jacobians; num-dual's `DualSVec64<N>` also qualifies (the pointed model and
//! the epoch model use it, and it is the reference the tests compare [`Jet`] with).
//!
//! [`Jet`] stores its derivatives as a plain `[f64; N]` (no allocation, no `Option`, no
//! indirection) and applies the same derivative formulas, operation for operation, as
//! num-dual 0.15's `DualVec` (product, quotient, chain rule of sqrt, recip, sin/cos and
//! atan2 via atan): the value part is computed exactly as in `f64`, and the derivatives agree
//! with num-dual's bit for bit (tested in `crates/model/tests/model.rs`).

use num_dual::{DualNum, DualSVec64};
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// A real scalar the model can be evaluated with: plain `f64`, a [`Jet`], or num-dual's
/// `DualVec` (f64 components). The operations the model uses: arithmetic with itself and with
/// `f64` constants, and the elementary functions below.
pub trait Real:
    Copy
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
{
    /// The value part of the scalar.
    fn value(&self) -> f64;
    /// A constant (derivative-free) scalar.
    fn cst(x: f64) -> Self;
    fn sin_cos(&self) -> (Self, Self);
    fn sin(&self) -> Self;
    fn cos(&self) -> Self;
    fn sqrt(&self) -> Self;
    /// 1/x.
    fn recip(&self) -> Self;
    /// atan2(self, x), the angle of the point (x, self).
    fn atan2(&self, x: Self) -> Self;
    fn powi(&self, n: i32) -> Self;
}

impl Real for f64 {
    #[inline(always)]
    fn value(&self) -> f64 {
        *self
    }
    #[inline(always)]
    fn cst(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn sin_cos(&self) -> (Self, Self) {
        f64::sin_cos(*self)
    }
    #[inline(always)]
    fn sin(&self) -> Self {
        f64::sin(*self)
    }
    #[inline(always)]
    fn cos(&self) -> Self {
        f64::cos(*self)
    }
    #[inline(always)]
    fn sqrt(&self) -> Self {
        f64::sqrt(*self)
    }
    #[inline(always)]
    fn recip(&self) -> Self {
        f64::recip(*self)
    }
    #[inline(always)]
    fn atan2(&self, x: Self) -> Self {
        f64::atan2(*self, x)
    }
    #[inline(always)]
    fn powi(&self, n: i32) -> Self {
        f64::powi(*self, n)
    }
}

/// num-dual's statically sized dual vector with f64 components.
impl<const N: usize> Real for DualSVec64<N> {
    #[inline]
    fn value(&self) -> f64 {
        self.re
    }
    #[inline]
    fn cst(x: f64) -> Self {
        Self::from(x)
    }
    #[inline]
    fn sin_cos(&self) -> (Self, Self) {
        DualNum::sin_cos(self)
    }
    #[inline]
    fn sin(&self) -> Self {
        DualNum::sin(self)
    }
    #[inline]
    fn cos(&self) -> Self {
        DualNum::cos(self)
    }
    #[inline]
    fn sqrt(&self) -> Self {
        DualNum::sqrt(self)
    }
    #[inline]
    fn recip(&self) -> Self {
        DualNum::recip(self)
    }
    #[inline]
    fn atan2(&self, x: Self) -> Self {
        DualNum::atan2(self, x)
    }
    #[inline]
    fn powi(&self, n: i32) -> Self {
        DualNum::powi(self, n)
    }
}

/// Forward-mode dual number with N derivative components: value `re` and gradient `eps`
/// (module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Jet<const N: usize> {
    pub re: f64,
    pub eps: [f64; N],
}

impl<const N: usize> Jet<N> {
    /// The independent variable k of N: value `re`, derivative `scale` in component k.
    #[inline(always)]
    pub fn seeded(re: f64, k: usize, scale: f64) -> Self {
        let mut eps = [0.0; N];
        eps[k] = scale;
        Jet { re, eps }
    }

    /// f(self) given f(re) = f0 and f′(re) = f1: (f0, eps f1).
    #[inline(always)]
    fn chain(&self, f0: f64, f1: f64) -> Self {
        Jet {
            re: f0,
            eps: self.eps.map(|e| e * f1),
        }
    }
}

impl<const N: usize> Add for Jet<N> {
    type Output = Self;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Jet {
            re: self.re + o.re,
            eps: std::array::from_fn(|k| self.eps[k] + o.eps[k]),
        }
    }
}

impl<const N: usize> Sub for Jet<N> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Jet {
            re: self.re - o.re,
            eps: std::array::from_fn(|k| self.eps[k] - o.eps[k]),
        }
    }
}

/// Product rule, as num-dual: (a b, a′ b + b′ a).
#[allow(clippy::suspicious_arithmetic_impl)]
impl<const N: usize> Mul for Jet<N> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        Jet {
            re: self.re * o.re,
            eps: std::array::from_fn(|k| self.eps[k] * o.re + o.eps[k] * self.re),
        }
    }
}

/// Quotient rule, as num-dual: with i = 1/b, (a i, ((a′ b − b′ a) i) i).
#[allow(clippy::suspicious_arithmetic_impl)]
impl<const N: usize> Div for Jet<N> {
    type Output = Self;
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        let inv = o.re.recip();
        Jet {
            re: self.re * inv,
            eps: std::array::from_fn(|k| (self.eps[k] * o.re - o.eps[k] * self.re) * inv * inv),
        }
    }
}

impl<const N: usize> Neg for Jet<N> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        Jet {
            re: -self.re,
            eps: self.eps.map(|e| -e),
        }
    }
}

impl<const N: usize> Add<f64> for Jet<N> {
    type Output = Self;
    #[inline(always)]
    fn add(mut self, o: f64) -> Self {
        self.re += o;
        self
    }
}

impl<const N: usize> Sub<f64> for Jet<N> {
    type Output = Self;
    #[inline(always)]
    fn sub(mut self, o: f64) -> Self {
        self.re -= o;
        self
    }
}

impl<const N: usize> Mul<f64> for Jet<N> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, o: f64) -> Self {
        Jet {
            re: self.re * o,
            eps: self.eps.map(|e| e * o),
        }
    }
}

impl<const N: usize> Div<f64> for Jet<N> {
    type Output = Self;
    #[inline(always)]
    fn div(self, o: f64) -> Self {
        Jet {
            re: self.re / o,
            eps: self.eps.map(|e| e / o),
        }
    }
}

impl<const N: usize> AddAssign for Jet<N> {
    #[inline(always)]
    fn add_assign(&mut self, o: Self) {
        *self = *self + o;
    }
}

impl<const N: usize> SubAssign for Jet<N> {
    #[inline(always)]
    fn sub_assign(&mut self, o: Self) {
        *self = *self - o;
    }
}

impl<const N: usize> MulAssign for Jet<N> {
    #[inline(always)]
    fn mul_assign(&mut self, o: Self) {
        *self = *self * o;
    }
}

impl<const N: usize> Real for Jet<N> {
    #[inline(always)]
    fn value(&self) -> f64 {
        self.re
    }
    #[inline(always)]
    fn cst(x: f64) -> Self {
        Jet {
            re: x,
            eps: [0.0; N],
        }
    }
    #[inline(always)]
    fn sin_cos(&self) -> (Self, Self) {
        let (s, c) = self.re.sin_cos();
        (self.chain(s, c), self.chain(c, -s))
    }
    #[inline(always)]
    fn sin(&self) -> Self {
        let (s, c) = self.re.sin_cos();
        self.chain(s, c)
    }
    #[inline(always)]
    fn cos(&self) -> Self {
        let (s, c) = self.re.sin_cos();
        self.chain(c, -s)
    }
    /// As num-dual: f′ = (√x · (1/x)) · ½.
    #[inline(always)]
    fn sqrt(&self) -> Self {
        let rec = self.re.recip();
        let f0 = self.re.sqrt();
        self.chain(f0, f0 * rec * 0.5)
    }
    /// As num-dual: f′ = −(1/x) · (1/x).
    #[inline(always)]
    fn recip(&self) -> Self {
        let rec = self.re.recip();
        self.chain(rec, -rec * rec)
    }
    /// As num-dual: the derivatives of atan(y/x) (f′ = 1/(1 + (y/x)²)), the value atan2(y, x)
    /// (num-dual computes atan(y/x) too and overwrites it).
    #[inline(always)]
    fn atan2(&self, x: Self) -> Self {
        let q = *self / x;
        let rec = (1.0 + q.re * q.re).recip();
        q.chain(self.re.atan2(x.re), rec)
    }
    /// As num-dual: n = 0, 1, 2 exactly (1, x, x·x), otherwise f′ = x^(n−3) x x n.
    #[inline(always)]
    fn powi(&self, n: i32) -> Self {
        match n {
            0 => Self::cst(1.0),
            1 => *self,
            2 => *self * *self,
            _ => {
                let pow3 = self.re.powi(n - 3);
                let f0 = pow3 * self.re * self.re * self.re;
                self.chain(f0, pow3 * self.re * self.re * n as f64)
            }
        }
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
