//! Real vector spherical harmonic (VSH) basis in the convention of
//! Mignard & Klioner (2012, A&A 547, A59), hereafter MK12.
//!
//! Complex harmonics (MK12 eq. 9 and sect. 2), with α the right ascension, δ the declination:
//!
//! * `Y_lm(α,δ) = (-1)^m sqrt((2l+1)/(4π) (l-m)!/(l+m)!) P_lm(sin δ) e^{imα}`,
//!   `P_lm` *without* the Condon–Shortley phase (the `(-1)^m` is explicit);
//! * `T_lm = [∂Y/∂δ e_α − (1/cos δ) ∂Y/∂α e_δ] / sqrt(l(l+1))` (toroidal),
//! * `S_lm = [(1/cos δ) ∂Y/∂α e_α + ∂Y/∂δ e_δ] / sqrt(l(l+1))` (spheroidal).
//!
//! A real field is `V = Σ_l [ t_l0 T_l0 + s_l0 S_l0 + 2 Σ_{m>0} (t^R_lm Re T_lm − t^I_lm Im T_lm
//! + s^R_lm Re S_lm − s^I_lm Im S_lm) ]` (MK12 eq. 30), so the real design columns are
//! `T_l0`, `2 Re T_lm`, `−2 Im T_lm` (same for S) and the unknowns are the real and imaginary
//! parts of the complex coefficients. On the unit sphere the columns are mutually orthogonal
//! with squared norm 1 (m = 0) and 2 (m > 0), because the complex `T_lm, S_lm` are orthonormal.
//!
//! Coefficient order (identical to the PyPI package `vsh-tools`): degrees `l = 1..=L`; within a
//! degree `m = 0, 1, …, l`; for `m > 0` the real part before the imaginary part; within each of
//! these, `t` before `s`. Degree 1 is therefore `t10, s10, t11r, s11r, t11i, s11i`.
//!
//! Evaluation uses the fully normalised Legendre functions divided by `cos δ`,
//! `q_lm = p_lm / cos δ` (m ≥ 1), which are finite at the poles, so no division by `cos δ`
//! is ever performed.

use serde::Serialize;

/// Number of real coefficients of a full (T and S) fit up to degree `lmax`: `2 L (L + 2)`.
pub fn n_coef(lmax: usize) -> usize {
    2 * lmax * (lmax + 2)
}

/// Degree `L` such that `2 L (L + 2) = n`.
///
/// # Panics
/// If `n` is not a number of coefficients of a full fit.
pub fn lmax_from_ncoef(n: usize) -> usize {
    let l = ((1.0 + n as f64 / 2.0).sqrt() - 1.0).round() as usize;
    assert_eq!(
        n_coef(l),
        n,
        "{n} is not a number of VSH coefficients 2L(L+2)"
    );
    l
}

/// Toroidal (`t`) or spheroidal (`s`) family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Toroidal harmonics `T_lm` (rotation-like, divergence-free).
    T,
    /// Spheroidal harmonics `S_lm` (glide-like, curl-free).
    S,
}

/// Which real number of a complex coefficient an unknown is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// `m = 0`: the coefficient is real.
    Zonal,
    /// Real part of `t_lm` / `s_lm` (m > 0).
    Re,
    /// Imaginary part of `t_lm` / `s_lm` (m > 0).
    Im,
}

/// Identity of one real VSH coefficient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CoefLabel {
    /// Family `t` or `s`.
    pub family: Family,
    /// Degree `l ≥ 1`.
    pub l: usize,
    /// Order `0 ≤ m ≤ l`.
    pub m: usize,
    /// Zonal, real or imaginary part.
    pub part: Part,
}

impl CoefLabel {
    /// Name as in `vsh-tools`: `t10`, `s11r`, `t22i`; with an underscore when `l ≥ 10`:
    /// `t10_0`, `s10_3r`.
    pub fn name(&self) -> String {
        let f = match self.family {
            Family::T => 't',
            Family::S => 's',
        };
        let p = match self.part {
            Part::Zonal => "",
            Part::Re => "r",
            Part::Im => "i",
        };
        if self.l < 10 {
            format!("{f}{}{}{p}", self.l, self.m)
        } else {
            format!("{f}{}_{}{p}", self.l, self.m)
        }
    }

    /// Weight of this unknown in the power `Σ_m |t_lm|²`: 1 for m = 0, 2 for m > 0 (MK12, power per degree).
    pub fn power_weight(&self) -> f64 {
        if self.m == 0 {
            1.0
        } else {
            2.0
        }
    }
}

/// Index of a coefficient in the packed vector (see the module documentation for the order).
/// For `m = 0` the `part` is ignored.
pub fn coef_index(family: Family, l: usize, m: usize, part: Part) -> usize {
    debug_assert!(l >= 1 && m <= l);
    let fam = match family {
        Family::T => 0,
        Family::S => 1,
    };
    let base = 2 * (l * l - 1);
    if m == 0 {
        base + fam
    } else {
        let p = match part {
            Part::Im => 2,
            _ => 0,
        };
        base + 2 * (2 * m - 1) + p + fam
    }
}

/// Labels of all coefficients up to `lmax`, in packed order.
pub fn labels(lmax: usize) -> Vec<CoefLabel> {
    let mut out = Vec::with_capacity(n_coef(lmax));
    for l in 1..=lmax {
        for m in 0..=l {
            let parts: &[Part] = if m == 0 {
                &[Part::Zonal]
            } else {
                &[Part::Re, Part::Im]
            };
            for &part in parts {
                for family in [Family::T, Family::S] {
                    out.push(CoefLabel { family, l, m, part });
                }
            }
        }
    }
    debug_assert!(out
        .iter()
        .enumerate()
        .all(|(i, c)| coef_index(c.family, c.l, c.m, c.part) == i));
    out
}

/// Indices of the `2l+1` coefficients of one family at degree `l` (m = 0, then Re/Im pairs).
pub fn degree_indices(family: Family, l: usize) -> Vec<usize> {
    let mut v = vec![coef_index(family, l, 0, Part::Zonal)];
    for m in 1..=l {
        v.push(coef_index(family, l, m, Part::Re));
        v.push(coef_index(family, l, m, Part::Im));
    }
    v
}

/// One step of [`VshBasis::walk`].
enum Term {
    /// Order m ≥ 1 of degree l: columns `base..base+4`.
    Order {
        base: usize,
        a: f64,
        b: f64,
        cm: f64,
        sm: f64,
    },
    /// Order 0 of degree l: columns `base` (t) and `base+1` (s).
    Zonal { base: usize, z: f64 },
}

#[derive(Clone, Copy, Debug, Default)]
struct LmConst {
    /// Three-term recurrence `q_lm = ra (x q_{l-1,m} − rb q_{l-2,m})` (fully normalised
    /// associated Legendre functions; Holmes & Featherstone 2002, J. Geod. 76, 279, forward column recurrence).
    ra: f64,
    /// Stored premultiplied: `ra · rb`.
    rb: f64,
    /// `f_lm = sqrt((2l+1)(l²−m²)/(2l−1))`: `dp_lm/dδ = (−l x p_lm + f_lm p_{l−1,m}) / cos δ`,
    /// from `(1−x²) dP_lm/dx = −l x P_lm + (l+m) P_{l−1,m}` (standard Legendre identity, normalised).
    f: f64,
    /// `2 (−1)^m / sqrt(l(l+1))`: factor of `∂Y/∂δ` in a real design column.
    ka: f64,
    /// `2 (−1)^m m / sqrt(l(l+1))`: factor of `(1/cos δ) ∂Y/∂α / i` in a real design column.
    kb: f64,
}

/// Evaluator of the real VSH design columns up to degree `lmax`.
#[derive(Clone, Debug)]
pub struct VshBasis {
    lmax: usize,
    n: usize,
    /// Constants per (l, m), triangular index `l(l+1)/2 + m`.
    c: Vec<LmConst>,
    /// `sqrt((2m+1)/(2m))`, diagonal recurrence `q_mm = diag_m cos δ q_{m−1,m−1}` (m ≥ 2).
    diag: Vec<f64>,
    /// `sqrt(2m+3)`: `q_{m+1,m} = sub_m x q_mm`.
    sub: Vec<f64>,
}

#[inline(always)]
fn tri(l: usize, m: usize) -> usize {
    l * (l + 1) / 2 + m
}

impl VshBasis {
    /// Basis up to degree `lmax ≥ 1`.
    ///
    /// # Panics
    /// If `lmax == 0` (a VSH expansion starts at degree 1).
    pub fn new(lmax: usize) -> Self {
        assert!(lmax >= 1, "VSH degree lmax must be at least 1");
        let mut c = vec![LmConst::default(); tri(lmax, lmax) + 1];
        for l in 1..=lmax {
            for m in 1..=l {
                let (lf, mf) = (l as f64, m as f64);
                let ra = if l >= m + 2 {
                    ((4.0 * lf * lf - 1.0) / (lf * lf - mf * mf)).sqrt()
                } else {
                    0.0
                };
                let rb = if l >= m + 2 {
                    (((lf - 1.0) * (lf - 1.0) - mf * mf) / (4.0 * (lf - 1.0) * (lf - 1.0) - 1.0))
                        .sqrt()
                } else {
                    0.0
                };
                let f = ((2.0 * lf + 1.0) * (lf * lf - mf * mf) / (2.0 * lf - 1.0)).sqrt();
                let sgn = if m % 2 == 0 { 1.0 } else { -1.0 };
                let k = 1.0 / (lf * (lf + 1.0)).sqrt();
                c[tri(l, m)] = LmConst {
                    ra,
                    rb: ra * rb,
                    f,
                    ka: 2.0 * sgn * k,
                    kb: 2.0 * sgn * k * mf,
                };
            }
        }
        let diag = (0..=lmax)
            .map(|m| {
                if m >= 2 {
                    ((2.0 * m as f64 + 1.0) / (2.0 * m as f64)).sqrt()
                } else {
                    0.0
                }
            })
            .collect();
        let sub = (0..=lmax).map(|m| (2.0 * m as f64 + 3.0).sqrt()).collect();
        VshBasis {
            lmax,
            n: n_coef(lmax),
            c,
            diag,
            sub,
        }
    }

    /// Maximum degree.
    pub fn lmax(&self) -> usize {
        self.lmax
    }

    /// Number of real coefficients, `2 L (L+2)`.
    pub fn n_coef(&self) -> usize {
        self.n
    }

    /// Walks all (l, m ≥ 1) pairs at one position, calling `emit(Term::Order{..})`
    /// where `base` is the index of `t_lm^R` and the four columns `t^R, s^R, t^I, s^I` at
    /// `base..base+4` are (MK12 eq. 30 with `S_α = −T_δ`, `S_δ = T_α`)
    /// `2 Re T = (A cos, B sin)`, `2 Re S = (−B sin, A cos)`, `−2 Im T = (−A sin, B cos)`,
    /// `−2 Im S = (−B cos, −A sin)`, with `A = 2(−1)^m ∂p_lm/∂δ / sqrt(l(l+1))` and
    /// `B = 2(−1)^m m q_lm / sqrt(l(l+1))`; and `emit(Term::Zonal{..})` for m = 0 where
    /// `T_l0 = (z, 0)`, `S_l0 = (0, z)`.
    #[inline(always)]
    fn walk(&self, ra: f64, dec: f64, mut emit: impl FnMut(Term)) {
        let (x, cd) = dec.sin_cos();
        let (s1, c1) = ra.sin_cos();
        // q_11 = p_11 / cos δ = sqrt(3/(8π)) (normalised P_11 = cos δ without Condon–Shortley phase).
        let mut qmm = (3.0 / (8.0 * std::f64::consts::PI)).sqrt();
        let (mut cm, mut sm) = (c1, s1); // cos mα, sin mα
        for m in 1..=self.lmax {
            if m >= 2 {
                qmm *= self.diag[m] * cd;
                // cos/sin addition formulas for e^{imα}.
                let cn = cm * c1 - sm * s1;
                sm = sm * c1 + cm * s1;
                cm = cn;
            }
            let mut q_prev2 = 0.0;
            let mut q_prev = 0.0; // q_{m−1,m} = 0
            for l in m..=self.lmax {
                let k = &self.c[tri(l, m)];
                let q = if l == m {
                    qmm
                } else if l == m + 1 {
                    // q_{m+1,m} = sqrt(2m+3) x q_mm.
                    self.sub[m] * x * q_prev
                } else {
                    // Written as (ra x) q_{l−1} − (ra rb) q_{l−2}: one multiply–subtract on the
                    // dependency chain through l (the evaluation is latency-bound).
                    (k.ra * x) * q_prev - k.rb * q_prev2
                };
                // ∂p_lm/∂δ = −l x q_lm + f_lm q_{l−1,m}.
                let dp = -(l as f64) * x * q + k.f * q_prev;
                emit(Term::Order {
                    base: 2 * (l * l - 1) + 2 * (2 * m - 1),
                    a: k.ka * dp,
                    b: k.kb * q,
                    cm,
                    sm,
                });
                if m == 1 {
                    // Zonal: ∂p_l0/∂δ / sqrt(l(l+1)) = p_l1 = cos δ q_l1; (1/cos δ) ∂Y_l0/∂α = 0.
                    emit(Term::Zonal {
                        base: 2 * (l * l - 1),
                        z: cd * q,
                    });
                }
                q_prev2 = q_prev;
                q_prev = q;
            }
        }
    }

    /// Evaluates every real design column at one position.
    ///
    /// `ra`, `dec` in radians. On return `a[j]`, `d[j]` are the components along `e_α` (i.e. the
    /// µα* = µα cos δ direction) and `e_δ` of column `j`. Both slices must have length
    /// [`Self::n_coef`]. Allocates nothing.
    #[inline]
    pub fn eval(&self, ra: f64, dec: f64, a: &mut [f64], d: &mut [f64]) {
        let n = self.n;
        let a = &mut a[..n];
        let d = &mut d[..n];
        self.walk(ra, dec, |t| match t {
            Term::Order {
                base,
                a: aa,
                b: bb,
                cm,
                sm,
            } => {
                a[base] = aa * cm;
                d[base] = bb * sm;
                a[base + 1] = -bb * sm;
                d[base + 1] = aa * cm;
                a[base + 2] = -aa * sm;
                d[base + 2] = bb * cm;
                a[base + 3] = -bb * cm;
                d[base + 3] = -aa * sm;
            }
            Term::Zonal { base, z } => {
                a[base] = z;
                d[base] = 0.0;
                a[base + 1] = 0.0;
                d[base + 1] = z;
            }
        });
    }

    /// Field `(v_α*, v_δ)` of the coefficients `coef` (length [`Self::n_coef`]) at one position,
    /// summed directly (no design row is formed). Allocates nothing.
    #[inline]
    pub fn field(&self, coef: &[f64], ra: f64, dec: f64) -> (f64, f64) {
        let coef = &coef[..self.n];
        let (mut va, mut vd) = (0.0, 0.0);
        self.walk(ra, dec, |t| match t {
            Term::Order { base, a, b, cm, sm } => {
                // Columns t^R, s^R, t^I, s^I (see `walk`).
                let c = &coef[base..base + 4];
                va += a * (c[0] * cm - c[2] * sm) - b * (c[1] * sm + c[3] * cm);
                vd += b * (c[0] * sm + c[2] * cm) + a * (c[1] * cm - c[3] * sm);
            }
            Term::Zonal { base, z } => {
                va += coef[base] * z;
                vd += coef[base + 1] * z;
            }
        });
        (va, vd)
    }
}
