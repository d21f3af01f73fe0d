//! Units stated by table files (ECSV `unit`, FITS `TUNITn`, VOTable `unit`, Parquet field
//! metadata) and their conversion to the unit a caller wants. A unit string is parsed as a
//! product of powers of known units (FITS 4.0 §4.3 / VOUnits / astropy's generic syntax:
//! `mas/yr`, `mas.yr**-1`, `mas yr-1`, `uas / yr`, `1/nm`, `nm**-1`, `nm-1`, `deg`, …) into a
//! scale and a dimension (angle, time, length, magnitude); two units convert when their
//! dimensions agree, by the ratio of their scales.

/// The unit a caller wants a column in. A file's unit of the same dimension is converted
/// (µas → mas ×10⁻³, rad → deg, …); one of another dimension is an error. `Any` does no
/// check and no conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// No check, no conversion.
    Any,
    /// A pure number (a stated unit of any dimension is an error).
    Dimensionless,
    /// Milliarcseconds.
    Mas,
    /// Microarcseconds.
    Uas,
    /// Degrees.
    Deg,
    /// Radians.
    Rad,
    /// Milliarcseconds per Julian year.
    MasPerYr,
    /// Microarcseconds per Julian year.
    UasPerYr,
    /// Nanoseconds.
    Ns,
    /// Nanometres.
    Nm,
    /// Inverse nanometres (wavenumber).
    PerNm,
    /// Magnitudes.
    Mag,
}

/// Exponents of (angle, time, length, magnitude).
type Dim = [i32; 4];

/// A parsed unit: value in unit = value × scale × 10^exp10 in base units (mas, s, nm,
/// mag); decimal prefixes go to `exp10` so that their ratios are exact powers of ten.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Parsed {
    scale: f64,
    exp10: i32,
    dim: Dim,
}

const MAS_PER_RAD: f64 = 180.0 / std::f64::consts::PI * 3.6e6;
const SECONDS_PER_JULIAN_YEAR: f64 = 365.25 * 86400.0;

impl Unit {
    fn parsed(self) -> Option<Parsed> {
        let (scale, exp10, dim) = match self {
            Unit::Any => return None,
            Unit::Dimensionless => (1.0, 0, [0, 0, 0, 0]),
            Unit::Mas => (1.0, 0, [1, 0, 0, 0]),
            Unit::Uas => (1.0, -3, [1, 0, 0, 0]),
            Unit::Deg => (3.6, 6, [1, 0, 0, 0]),
            Unit::Rad => (MAS_PER_RAD, 0, [1, 0, 0, 0]),
            Unit::MasPerYr => (1.0 / SECONDS_PER_JULIAN_YEAR, 0, [1, -1, 0, 0]),
            Unit::UasPerYr => (1.0 / SECONDS_PER_JULIAN_YEAR, -3, [1, -1, 0, 0]),
            Unit::Ns => (1.0, -9, [0, 1, 0, 0]),
            Unit::Nm => (1.0, 0, [0, 0, 1, 0]),
            Unit::PerNm => (1.0, 0, [0, 0, -1, 0]),
            Unit::Mag => (1.0, 0, [0, 0, 0, 1]),
        };
        Some(Parsed { scale, exp10, dim })
    }

    /// Short spelling, for messages.
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Any => "any unit",
            Unit::Dimensionless => "no unit",
            Unit::Mas => "mas",
            Unit::Uas => "uas",
            Unit::Deg => "deg",
            Unit::Rad => "rad",
            Unit::MasPerYr => "mas/yr",
            Unit::UasPerYr => "uas/yr",
            Unit::Ns => "ns",
            Unit::Nm => "nm",
            Unit::PerNm => "1/nm",
            Unit::Mag => "mag",
        }
    }
}

/// Factor by which values in the file's unit `stated` are multiplied to be in `want`.
/// 1 when `want` is [`Unit::Any`] or the file states no unit (None or blank). Exactly 1 when
/// the two scales are equal, so no rounding is added.
pub(crate) fn factor(stated: Option<&str>, want: Unit) -> Result<f64, String> {
    let Some(w) = want.parsed() else {
        return Ok(1.0);
    };
    let Some(s) = stated.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(1.0);
    };
    let p = parse(s).map_err(|e| {
        format!(
            "unit \"{s}\" is not understood ({e}); expected a unit convertible to {}",
            want.symbol()
        )
    })?;
    if p.dim != w.dim {
        return Err(format!(
            "the file's unit \"{s}\" cannot be converted to {}, the unit this quantity needs",
            want.symbol()
        ));
    }
    let ratio = if p.scale == w.scale {
        1.0
    } else {
        p.scale / w.scale
    };
    let e = p.exp10 - w.exp10;
    Ok(if e >= 0 {
        ratio * 10f64.powi(e)
    } else {
        ratio / 10f64.powi(-e)
    })
}

/// One known unit symbol (lower case) → (scale in base units, dimension).
fn base(sym: &str) -> Option<(f64, i32, Dim)> {
    const ANG: Dim = [1, 0, 0, 0];
    const T: Dim = [0, 1, 0, 0];
    const L: Dim = [0, 0, 1, 0];
    const MAG: Dim = [0, 0, 0, 1];
    const NONE: Dim = [0, 0, 0, 0];
    Some(match sym {
        "mas" | "milliarcsec" | "milliarcsecond" | "milliarcseconds" => (1.0, 0, ANG),
        "uas" | "µas" | "μas" | "microarcsec" | "microarcsecond" | "microarcseconds" => {
            (1.0, -3, ANG)
        }
        "arcsec" | "arcsecond" | "arcseconds" | "as" => (1.0, 3, ANG),
        "arcmin" | "arcminute" | "arcminutes" => (6.0, 4, ANG),
        "deg" | "degree" | "degrees" => (3.6, 6, ANG),
        "rad" | "radian" | "radians" => (MAS_PER_RAD, 0, ANG),
        "mrad" => (MAS_PER_RAD, -3, ANG),
        "yr" | "year" | "years" | "a" | "julianyear" => (SECONDS_PER_JULIAN_YEAR, 0, T),
        "d" | "day" | "days" => (86400.0, 0, T),
        "h" | "hr" | "hour" => (3600.0, 0, T),
        "min" => (60.0, 0, T),
        "s" | "sec" | "second" | "seconds" => (1.0, 0, T),
        "ms" => (1.0, -3, T),
        "us" | "µs" | "μs" => (1.0, -6, T),
        "ns" | "nanosec" | "nanosecond" | "nanoseconds" => (1.0, -9, T),
        "nm" | "nanometer" | "nanometre" | "nanometers" | "nanometres" => (1.0, 0, L),
        "um" | "µm" | "μm" | "micron" | "microns" => (1.0, 3, L),
        "angstrom" | "å" => (1.0, -1, L),
        "m" => (1.0, 9, L),
        "mag" | "mags" | "magnitude" => (1.0, 0, MAG),
        "dimensionless" | "dimensionless_unscaled" | "unitless" | "none" => (1.0, 0, NONE),
        _ => return None,
    })
}

/// Parses a unit expression: factors separated by spaces, `.` or `*`, `/` dividing by the
/// next factor, powers as `**n`, `^n`, `^(n)` or trailing digits (`yr-1`, `nm2`), numeric
/// factors such as `1` or `1e-3`; a few multi-word spellings ("micro arcsec") are joined.
fn parse(s: &str) -> Result<Parsed, String> {
    let mut t = s.trim().to_lowercase();
    for (from, to) in [
        ("micro arcsec", "uas"),
        ("micro-arcsec", "uas"),
        ("micro as", "uas"),
        ("milli arcsec", "mas"),
        ("milli-arcsec", "mas"),
        ("julian year", "julianyear"),
        ("per year", "/yr"),
    ] {
        t = t.replace(from, to);
    }
    let t = t.replace("**", "^");
    let chars: Vec<char> = t.chars().collect();
    let mut scale = 1.0f64;
    let mut exp10 = 0i32;
    let mut dim: Dim = [0; 4];
    let mut i = 0;
    let mut divide = false;
    let mut any = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() || c == '.' && !next_is_digit(&chars, i) || c == '*' {
            i += 1;
            continue;
        }
        if c == '/' {
            divide = true;
            i += 1;
            continue;
        }
        if c == '(' || c == ')' {
            // Parentheses around a single factor (e.g. "1/(nm)"): ignored.
            i += 1;
            continue;
        }
        // A numeric factor.
        if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || chars[i] == '.'
                    || (chars[i] == 'e'
                        && i + 1 < chars.len()
                        && (chars[i + 1].is_ascii_digit() || chars[i + 1] == '-')))
            {
                if chars[i] == 'e' && chars.get(i + 1) == Some(&'-') {
                    i += 1;
                }
                i += 1;
            }
            let num: String = chars[start..i].iter().collect();
            let v: f64 = num.parse().map_err(|_| format!("bad number \"{num}\""))?;
            let (p, ni) = power(&chars, i)?;
            i = ni;
            let v = v.powi(p);
            if divide {
                scale /= v;
            } else {
                scale *= v;
            }
            divide = false;
            any = true;
            continue;
        }
        // A symbol: letters (and µ/μ/å).
        let start = i;
        while i < chars.len() && (chars[i].is_alphabetic() || chars[i] == '_') {
            i += 1;
        }
        if i == start {
            return Err(format!("unexpected character '{c}'"));
        }
        let sym: String = chars[start..i].iter().collect();
        let (s, e, d) = base(&sym).ok_or_else(|| format!("unknown unit \"{sym}\""))?;
        let (mut p, ni) = power(&chars, i)?;
        i = ni;
        if divide {
            p = -p;
        }
        divide = false;
        scale *= s.powi(p);
        exp10 += e * p;
        for k in 0..4 {
            dim[k] += d[k] * p;
        }
        any = true;
    }
    if !any {
        return Err("empty unit".to_string());
    }
    Ok(Parsed { scale, exp10, dim })
}

fn next_is_digit(chars: &[char], i: usize) -> bool {
    chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())
}

/// An optional power after a factor at `i`: `^n`, `^(n)`, `^-n`, or bare `-n` / `n`.
fn power(chars: &[char], mut i: usize) -> Result<(i32, usize), String> {
    let mut explicit = false;
    if chars.get(i) == Some(&'^') {
        i += 1;
        explicit = true;
    }
    let paren = chars.get(i) == Some(&'(');
    if paren {
        i += 1;
    }
    let start = i;
    if matches!(chars.get(i), Some('-') | Some('+')) {
        i += 1;
    }
    while chars.get(i).is_some_and(|c| c.is_ascii_digit()) {
        i += 1;
    }
    let s: String = chars[start..i].iter().collect();
    if s.is_empty() || s == "-" || s == "+" {
        if explicit {
            return Err("a power without a number".to_string());
        }
        return Ok((1, start - usize::from(paren)));
    }
    if paren {
        if chars.get(i) != Some(&')') {
            return Err("unclosed parenthesis in a power".to_string());
        }
        i += 1;
    }
    let p: i32 = s.parse().map_err(|_| format!("bad power \"{s}\""))?;
    Ok((p, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str, u: Unit) -> f64 {
        factor(Some(s), u).unwrap()
    }

    #[test]
    fn spellings() {
        for s in [
            "mas/yr",
            "mas.yr**-1",
            "mas yr-1",
            "mas / yr",
            "mas yr^-1",
            "mas.yr-1",
        ] {
            assert_eq!(f(s, Unit::MasPerYr), 1.0, "{s}");
        }
        for s in [
            "uas/yr",
            "µas/yr",
            "μas / yr",
            "micro arcsec/yr",
            "uas yr-1",
        ] {
            assert!((f(s, Unit::MasPerYr) - 1e-3).abs() < 1e-18, "{s}");
        }
        for s in ["1/nm", "nm**-1", "nm-1", "1 / nm", "nm^-1"] {
            assert_eq!(f(s, Unit::PerNm), 1.0, "{s}");
        }
        assert_eq!(f("um-1", Unit::PerNm), 1e-3);
        assert_eq!(f("ns", Unit::Ns), 1.0);
        assert_eq!(f("s", Unit::Ns), 1e9);
        assert_eq!(f("mag", Unit::Mag), 1.0);
        assert_eq!(f("deg", Unit::Mas), 3.6e6);
        assert!((f("rad", Unit::Deg) - 180.0 / std::f64::consts::PI).abs() < 1e-13);
        assert_eq!(f("uas", Unit::Mas), 1e-3);
        assert!(factor(Some("deg"), Unit::MasPerYr).is_err());
        assert!(factor(Some("mas/yr"), Unit::Mas).is_err());
        assert!(factor(Some("furlong"), Unit::Mas).is_err());
        assert!(factor(Some("mas"), Unit::Dimensionless).is_err());
        assert_eq!(factor(Some("furlong"), Unit::Any), Ok(1.0));
        assert_eq!(factor(None, Unit::Mas), Ok(1.0));
        assert_eq!(factor(Some(" "), Unit::Mas), Ok(1.0));
    }
}
