//! Hipparcos Intermediate Astrometric Data (IAD) and the catalogue rows they are checked against.
//!
//! Three IAD formats, one [`IadStar`] (formats: ESA 1997 Vol. 1 §2.8 and the CD-ROM files;
//! van Leeuwen 2007, "Hipparcos, the New Reduction", Appendix G.8 and its DVD; ESA's 2014
//! Java tool, <https://www.cosmos.esa.int/web/hipparcos/interactive-data-access>):
//!
//! ```text
//! 1997 (hip1997/*.txt)   IH1 .. IH9 header lines "IHn : value  description", a line
//!                        "ABCISSAE", a column line "A1 | |IA3 ...", then one record a line
//!                        A1|IA2|IA3|...|IA10: orbit, consortium F/N (lower case = rejected),
//!                        dv/d(α*, δ, ϖ, μα*, μδ), abscissa residual (mas), σ (mas), F–N
//!                        correlation of the orbit (blank when the orbit has one consortium).
//!                        Epoch − 1991.25 = IA6/IA3 or IA7/IA4, whichever divisor is larger
//!                        (van Leeuwen & Evans 1998, A&AS 130, 157, eqs. 11–12; htof parse.py).
//! 2007 (HIP*.d)          one header line HIP MCE NRES NC isol_n SCE F2 F1, then NRES lines
//!                        IORB EPOCH PARF CPSI SPSI RES SRES (EPOCH in yr − 1991.25; ∂/∂α* = CPSI,
//!                        ∂/∂δ = SPSI, ∂/∂ϖ = PARF, ∂/∂μ = EPOCH × those).
//! 2014 (H*.d)            '#' comment lines: a names line "HIP MCE NRES NC isol_n SCE F2 F1" and
//!                        its values line, "Hp B-V VarAnn NOB NR" and values, "RAdeg DEdeg Plx
//!                        ... var" and values ("---" = absent), "IORB EPOCH ... SRES"; then the
//!                        seven columns of 2007. A negative SRES marks a rejected record.
//! ```
//!
//! Every record keeps its 1-based line number. Errors are [`IoError::Value`] whose `row` is
//! the 1-based **line** of the text file and whose `column` names the field (`"IA8"`, `"RES"`,
//! `"F2"`, ...); nothing here panics on bad input.
//!
//! Also here: the readers of two real catalogue formats used to check fits — rows of the 2007
//! catalogue's main table (CDS I/311 `hip2.dat`, α and δ in **radians**) and of its 7- and
//! 9-parameter annexes (`hip7p.dat`, `hip9p.dat`), see [`read_hip2_catalogue`] and
//! [`read_hip2_acceleration`].

use crate::error::IoError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The reference epoch of all Hipparcos data, Julian year (TT).
pub const HIPPARCOS_EPOCH_YR: f64 = 1991.25;

/// The three IAD formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IadFormat {
    /// ESA 1997 (Hipparcos Catalogue), FAST and NDAC records.
    Hip1997,
    /// van Leeuwen 2007 DVD.
    Hip2007,
    /// ESA 2014 Java tool.
    Hip2014,
}

impl IadFormat {
    /// The name used on the command line: `hip1997`, `hip2007`, `hip2014`.
    pub fn name(self) -> &'static str {
        match self {
            IadFormat::Hip1997 => "hip1997",
            IadFormat::Hip2007 => "hip2007",
            IadFormat::Hip2014 => "hip2014",
        }
    }

    /// Parses [`IadFormat::name`]; None for anything else.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "hip1997" => Some(IadFormat::Hip1997),
            "hip2007" => Some(IadFormat::Hip2007),
            "hip2014" => Some(IadFormat::Hip2014),
            _ => None,
        }
    }
}

impl std::fmt::Display for IadFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The consortium that reduced a 1997 record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consortium {
    /// FAST (code F / f).
    Fast,
    /// NDAC (code N / n).
    Ndac,
}

/// One abscissa record of any format.
#[derive(Clone, Debug, PartialEq)]
pub struct IadRecord {
    /// 1-based line of the file.
    pub line: usize,
    /// Orbit number (A1 / IORB).
    pub orbit: u32,
    /// 1997 only: the consortium.
    pub consortium: Option<Consortium>,
    /// Rejected by the catalogue solution (1997: lower-case consortium; 2014: SRES < 0).
    /// The 2007 DVD does not mark rejections (its header F1 gives their percentage).
    pub rejected: bool,
    /// Epoch, Julian years from J1991.25.
    pub epoch: f64,
    /// ∂v/∂(α*, δ, ϖ, μα*, μδ): mas/mas for the first three, mas/(mas/yr) for the motions.
    pub partials: [f64; 5],
    /// Abscissa residual (observed − catalogue model), mas.
    pub residual: f64,
    /// Formal abscissa error, mas (> 0; for 2014 the absolute value of SRES).
    pub sigma: f64,
    /// 1997 only: correlation of the FAST and NDAC abscissae of this orbit (IA10), None when blank.
    pub correlation: Option<f64>,
}

/// The catalogue solution a file's residuals refer to, as written in its header.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IadReference {
    /// Right ascension, radians, J1991.25 (the file gives degrees).
    pub ra_rad: f64,
    /// Declination, radians, J1991.25 (the file gives degrees).
    pub dec_rad: f64,
    /// Parallax, mas.
    pub parallax: f64,
    /// Proper motion μα* (mas/yr).
    pub pmra: f64,
    /// Proper motion μδ (mas/yr).
    pub pmdec: f64,
    /// 2014: errors of (α*, δ, ϖ, μα*, μδ), mas and mas/yr.
    pub errors: Option<[f64; 5]>,
    /// 2014, 7/9-parameter stars: (dμα*/dt, dμδ/dt), mas/yr².
    pub accel: Option<[f64; 2]>,
    /// Their errors, mas/yr².
    pub accel_errors: Option<[f64; 2]>,
    /// 2014, 9-parameter stars: (d²μα*/dt², d²μδ/dt²), mas/yr³.
    pub accel_deriv: Option<[f64; 2]>,
    /// Their errors, mas/yr³.
    pub accel_deriv_errors: Option<[f64; 2]>,
    /// 2014, VIM stars: (υα*, υδ), mas.
    pub vim: Option<[f64; 2]>,
    /// Their errors, mas.
    pub vim_errors: Option<[f64; 2]>,
    /// 2014, stochastic solutions: cosmic dispersion added, mas.
    pub cosmic_dispersion: Option<f64>,
}

/// One star's Intermediate Astrometric Data with its header.
#[derive(Clone, Debug, PartialEq)]
pub struct IadStar {
    /// The file read.
    pub path: PathBuf,
    /// Its format.
    pub format: IadFormat,
    /// HIP number.
    pub hip: u32,
    /// Solution type as written: 1997 IH8 code (5, 7, 9, C, O, V, X, -); 2007/2014 isol_n
    /// (10·d + s, CDS I/311 note 1).
    pub solution_type: String,
    /// Hp magnitude (1997 IH2; 2014 header), None for 2007.
    pub hp: Option<f64>,
    /// 2014: B − V.
    pub b_v: Option<f64>,
    /// Catalogue values of the header (1997 and 2014); None for 2007 (the DVD file has none).
    pub reference: Option<IadReference>,
    /// 2007/2014: MCE (main catalogue entry).
    pub mce: Option<u32>,
    /// Number of records announced by the header (1997 IH9, 2007/2014 NRES).
    pub n_res: usize,
    /// 2007/2014: NC, number of components.
    pub nc: Option<u32>,
    /// 2007/2014: SCE.
    pub sce: Option<u32>,
    /// 2007/2014: goodness of fit F2 of the catalogue solution.
    pub f2: Option<f64>,
    /// 2007/2014: F1, percentage of rejected records.
    pub f1: Option<f64>,
    /// 2014: VarAnn.
    pub var_ann: Option<u32>,
    /// 2014: NOB, number of observations the catalogue solution used.
    pub nob: Option<usize>,
    /// 2014: NR, number of rejected observations.
    pub nr: Option<usize>,
    /// The records, in file order.
    pub records: Vec<IadRecord>,
}

impl IadStar {
    /// Number of astrometric parameters of the catalogue solution (5, 7 or 9), from the
    /// solution type: 1997 codes 5/7/9; 2007/2014 s = isol_n mod 10 with s = 5, 7, 9.
    /// None for the other solutions (stochastic, VIM, component, orbital, ...).
    pub fn n_params(&self) -> Option<usize> {
        match self.format {
            IadFormat::Hip1997 => match self.solution_type.trim() {
                "5" => Some(5),
                "7" => Some(7),
                "9" => Some(9),
                _ => None,
            },
            IadFormat::Hip2007 | IadFormat::Hip2014 => {
                let s: u32 = self.solution_type.trim().parse().ok()?;
                match s % 10 {
                    5 => Some(5),
                    7 => Some(7),
                    9 => Some(9),
                    _ => None,
                }
            }
        }
    }

    /// Number of records marked rejected.
    pub fn n_rejected(&self) -> usize {
        self.records.iter().filter(|r| r.rejected).count()
    }
}

/// Recognises the format from the file's content: a first line starting with `IH1` (1997),
/// `#` comment lines holding the `HIP MCE NRES` and `IORB EPOCH` names (2014), or a first line
/// of six integers and two numbers, HIP MCE NRES NC isol_n SCE F2 F1 (2007).
pub fn detect_iad_format(path: &Path, text: &str) -> Result<IadFormat, IoError> {
    let first_line = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, clean(l)))
        .find(|(_, l)| !l.trim().is_empty());
    let Some((first_no, first)) = first_line else {
        return Err(IoError::value(
            path,
            1,
            "header",
            "empty file: no Hipparcos intermediate-data header",
        ));
    };
    let t = first.trim_start();
    if t.starts_with("IH1") {
        return Ok(IadFormat::Hip1997);
    }
    if t.starts_with('#') {
        let comments: Vec<Vec<&str>> = text
            .lines()
            .map(clean)
            .filter(|l| l.trim_start().starts_with('#'))
            .map(|l| comment_tokens(l))
            .collect();
        let has = |a: &str, b: &str| {
            comments.iter().any(|c| {
                c.len() >= 2 && c[0].eq_ignore_ascii_case(a) && c[1].eq_ignore_ascii_case(b)
            })
        };
        if has("HIP", "MCE") && has("IORB", "EPOCH") {
            return Ok(IadFormat::Hip2014);
        }
        return Err(IoError::value(
            path,
            first_no,
            "format",
            "unknown format: '#' comment header without the 'HIP MCE NRES ...' and 'IORB EPOCH ...' \
             lines of the 2014 Hipparcos intermediate data",
        ));
    }
    let toks: Vec<&str> = t.split_whitespace().collect();
    let integers = |ts: &[&str]| ts.iter().all(|s| s.parse::<u32>().is_ok());
    let numbers = |ts: &[&str]| ts.iter().all(|s| s.parse::<f64>().is_ok());
    if toks.len() == 8 && integers(&toks[..6]) && numbers(&toks[6..]) {
        return Ok(IadFormat::Hip2007);
    }
    Err(IoError::value(
        path,
        first_no,
        "format",
        format!(
            "unknown format: the first line \"{}\" is neither an IH1 line (Hipparcos 1997), a '#' \
             header (2014) nor the eight-number header HIP MCE NRES NC isol_n SCE F2 F1 (2007)",
            ellipsis(t, 60)
        ),
    ))
}

/// Whether a file looks like Hipparcos intermediate data (its first 8 kB pass
/// [`detect_iad_format`]); false for binary tables and other text. Errors only when the file
/// cannot be read.
pub fn looks_like_iad(path: &Path) -> Result<bool, IoError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| IoError::os(path, "open", e))?;
    let mut buf = vec![0u8; 8192];
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(IoError::os(path, "read", e)),
        }
    }
    buf.truncate(n);
    if buf.contains(&0) {
        return Ok(false);
    }
    let text = String::from_utf8_lossy(&buf);
    // Drop a possibly cut last line.
    let text = match text.rfind('\n') {
        Some(k) if n == 8192 => &text[..k],
        _ => &text[..],
    };
    Ok(detect_iad_format(path, text).is_ok())
}

/// Reads one IAD file; `format` None detects it from the content ([`detect_iad_format`]).
pub fn read_iad(path: &Path, format: Option<IadFormat>) -> Result<IadStar, IoError> {
    let bytes = std::fs::read(path).map_err(|e| IoError::os(path, "read", e))?;
    let text = String::from_utf8_lossy(&bytes);
    parse_iad(path, &text, format)
}

/// Parses the text of one IAD file (`path` is used in messages only).
pub fn parse_iad(path: &Path, text: &str, format: Option<IadFormat>) -> Result<IadStar, IoError> {
    let format = match format {
        Some(f) => f,
        None => detect_iad_format(path, text)?,
    };
    let star = match format {
        IadFormat::Hip1997 => parse_1997(path, text)?,
        IadFormat::Hip2007 => parse_2007(path, text)?,
        IadFormat::Hip2014 => parse_2014(path, text)?,
    };
    if star.records.is_empty() {
        return Err(IoError::invalid(path, "no abscissa records"));
    }
    Ok(star)
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// A line without its carriage return and byte-order mark.
fn clean(line: &str) -> &str {
    line.trim_start_matches('\u{feff}').trim_end_matches('\r')
}

/// Tokens of a `#` comment line, without the `#`.
fn comment_tokens(line: &str) -> Vec<&str> {
    line.trim_start()
        .trim_start_matches('#')
        .split_whitespace()
        .collect()
}

fn ellipsis(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// A finite number from a field.
fn num(path: &Path, line: usize, field: &str, tok: &str) -> Result<f64, IoError> {
    let t = tok.trim();
    if t.is_empty() {
        return Err(IoError::value(
            path,
            line,
            field,
            "empty field, a number is required",
        ));
    }
    let v: f64 = t
        .parse()
        .map_err(|_| IoError::value(path, line, field, format!("\"{t}\" is not a number")))?;
    if !v.is_finite() {
        return Err(IoError::value(
            path,
            line,
            field,
            format!("{t} is not a finite number"),
        ));
    }
    Ok(v)
}

/// A non-negative integer from a field.
fn int(path: &Path, line: usize, field: &str, tok: &str) -> Result<u32, IoError> {
    let t = tok.trim();
    if t.is_empty() {
        return Err(IoError::value(
            path,
            line,
            field,
            "empty field, an integer is required",
        ));
    }
    t.parse::<u32>().map_err(|_| {
        IoError::value(
            path,
            line,
            field,
            format!("\"{t}\" is not a non-negative integer"),
        )
    })
}

/// A strictly positive σ.
fn positive(path: &Path, line: usize, field: &str, v: f64) -> Result<f64, IoError> {
    if v > 0.0 {
        Ok(v)
    } else {
        Err(IoError::value(
            path,
            line,
            field,
            format!("abscissa error must be non-zero (got {v} mas)"),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// 1997

const COLS_1997: [&str; 10] = [
    "A1", "IA2", "IA3", "IA4", "IA5", "IA6", "IA7", "IA8", "IA9", "IA10",
];

fn parse_1997(path: &Path, text: &str) -> Result<IadStar, IoError> {
    let lines: Vec<&str> = text.lines().map(clean).collect();
    // Header: IH1..IH9, "IHn : value description".
    let mut header: [Option<(usize, String)>; 9] = Default::default();
    let mut i = 0;
    let mut data_start = None;
    while i < lines.len() {
        let l = lines[i].trim();
        let line_no = i + 1;
        i += 1;
        if l.is_empty() {
            continue;
        }
        let upper = l.to_ascii_uppercase();
        if upper.starts_with("IH") {
            let Some((key, rest)) = l.split_once(':') else {
                return Err(IoError::value(
                    path,
                    line_no,
                    key_of(l),
                    "header line without ':' separating the key from its value",
                ));
            };
            let key = key.trim();
            let n: usize = key[2..].trim().parse().map_err(|_| {
                IoError::value(
                    path,
                    line_no,
                    key,
                    "unknown header key (expected IH1 .. IH9)",
                )
            })?;
            if !(1..=9).contains(&n) {
                return Err(IoError::value(
                    path,
                    line_no,
                    key,
                    "unknown header key (expected IH1 .. IH9)",
                ));
            }
            let value = rest.split_whitespace().next().unwrap_or("").to_string();
            header[n - 1] = Some((line_no, value));
            continue;
        }
        if upper.starts_with("ABCISSAE") || upper.starts_with("ABSCISSAE") {
            continue;
        }
        if upper.starts_with("A1") {
            data_start = Some(i);
            break;
        }
        // The first record line without a column line: accept it if it has the pipes.
        if l.contains('|') {
            data_start = Some(i - 1);
            break;
        }
        return Err(IoError::value(
            path,
            line_no,
            "header",
            format!(
                "unexpected line \"{}\" in the 1997 header (IH1 .. IH9, ABCISSAE, A1 | ...)",
                ellipsis(l, 60)
            ),
        ));
    }
    let get = |n: usize| -> Result<(usize, &str), IoError> {
        match &header[n - 1] {
            Some((line, v)) => Ok((*line, v.as_str())),
            None => Err(IoError::value(
                path,
                header_line_hint(&header, n),
                &format!("IH{n}"),
                "header line missing",
            )),
        }
    };
    let (l1, v1) = get(1)?;
    let hip = int(path, l1, "IH1", v1)?;
    let hp = match get(2) {
        Ok((l, v)) if !v.is_empty() => Some(num(path, l, "IH2", v)?),
        _ => None,
    };
    let (l8, v8) = get(8)?;
    if v8.is_empty() {
        return Err(IoError::value(path, l8, "IH8", "empty solution type"));
    }
    let solution_type = v8.to_string();
    let (l9, v9) = get(9)?;
    let n_res = int(path, l9, "IH9", v9)? as usize;
    // IH3..IH7 are blank for stars without an astrometric solution.
    let mut vals = [0.0; 5];
    let mut complete = true;
    for (k, v) in vals.iter_mut().enumerate() {
        let n = k + 3;
        let (l, s) = get(n)?;
        if s.is_empty() {
            complete = false;
        } else {
            *v = num(path, l, &format!("IH{n}"), s)?;
        }
    }
    let reference = complete.then(|| IadReference {
        ra_rad: vals[0].to_radians(),
        dec_rad: vals[1].to_radians(),
        parallax: vals[2],
        pmra: vals[3],
        pmdec: vals[4],
        ..Default::default()
    });
    let Some(start) = data_start else {
        return Err(IoError::value(
            path,
            lines.len() + 1,
            "A1",
            format!("file ends before the abscissa records ({n_res} announced by IH9)"),
        ));
    };
    let mut records = Vec::with_capacity(n_res);
    for (k, raw) in lines.iter().enumerate().skip(start) {
        let line = k + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = raw.split('|').collect();
        if fields.len() != 10 {
            let field = COLS_1997.get(fields.len()).copied().unwrap_or("IA10");
            return Err(IoError::value(
                path,
                line,
                if fields.len() < 10 { field } else { "IA10" },
                format!(
                    "expected 10 '|'-separated fields (A1|IA2|IA3..IA10), found {}",
                    fields.len()
                ),
            ));
        }
        let orbit = int(path, line, "A1", fields[0])?;
        let code = fields[1].trim();
        let (consortium, rejected) = match code {
            "F" => (Consortium::Fast, false),
            "f" => (Consortium::Fast, true),
            "N" => (Consortium::Ndac, false),
            "n" => (Consortium::Ndac, true),
            other => {
                return Err(IoError::value(
                    path,
                    line,
                    "IA2",
                    format!("consortium code \"{other}\" is not F, N, f or n"),
                ))
            }
        };
        let mut v = [0.0; 7];
        for (j, x) in v.iter_mut().enumerate() {
            *x = num(path, line, COLS_1997[j + 2], fields[j + 2])?;
        }
        let correlation = if fields[9].trim().is_empty() {
            None
        } else {
            let r = num(path, line, "IA10", fields[9])?;
            if !(-1.0..=1.0).contains(&r) {
                return Err(IoError::value(
                    path,
                    line,
                    "IA10",
                    format!("correlation {r} outside [-1, 1]"),
                ));
            }
            Some(r)
        };
        let [ia3, ia4, ia5, ia6, ia7, ia8, ia9] = v;
        let epoch = if ia3.abs() >= ia4.abs() && ia3 != 0.0 {
            ia6 / ia3
        } else if ia4 != 0.0 {
            ia7 / ia4
        } else {
            return Err(IoError::value(
                path,
                line,
                "IA3",
                "IA3 and IA4 are both zero: no epoch can be derived",
            ));
        };
        records.push(IadRecord {
            line,
            orbit,
            consortium: Some(consortium),
            rejected,
            epoch,
            partials: [ia3, ia4, ia5, ia6, ia7],
            residual: ia8,
            sigma: positive(path, line, "IA9", ia9)?,
            correlation,
        });
    }
    if records.len() != n_res {
        return Err(IoError::value(
            path,
            if records.len() < n_res {
                lines.len() + 1
            } else {
                l9
            },
            if records.len() < n_res { "A1" } else { "IH9" },
            format!(
                "{} abscissa records found, IH9 (line {l9}) announces {n_res}{}",
                records.len(),
                if records.len() < n_res {
                    ": the file is truncated"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(IadStar {
        path: path.to_path_buf(),
        format: IadFormat::Hip1997,
        hip,
        solution_type,
        hp,
        b_v: None,
        reference,
        mce: None,
        n_res,
        nc: None,
        sce: None,
        f2: None,
        f1: None,
        var_ann: None,
        nob: None,
        nr: None,
        records,
    })
}

fn key_of(l: &str) -> &str {
    l.split_whitespace().next().unwrap_or("header")
}

/// The line where a missing header line IHn would have been: after the last present one.
fn header_line_hint(header: &[Option<(usize, String)>; 9], n: usize) -> usize {
    header[..n - 1]
        .iter()
        .rev()
        .find_map(|h| h.as_ref().map(|(l, _)| l + 1))
        .unwrap_or(1)
}

// ---------------------------------------------------------------------------------------------
// 2007 and 2014 records

const COLS_2007: [&str; 7] = ["IORB", "EPOCH", "PARF", "CPSI", "SPSI", "RES", "SRES"];

/// One IORB EPOCH PARF CPSI SPSI RES SRES line; `signed_sres`: a negative SRES marks a
/// rejection (2014) rather than an error.
fn record_2007(
    path: &Path,
    line: usize,
    raw: &str,
    signed_sres: bool,
) -> Result<IadRecord, IoError> {
    let toks: Vec<&str> = raw.split_whitespace().collect();
    if toks.len() != 7 {
        let field = if toks.len() < 7 {
            COLS_2007[toks.len()]
        } else {
            "SRES"
        };
        return Err(IoError::value(
            path,
            line,
            field,
            format!(
                "expected 7 columns (IORB EPOCH PARF CPSI SPSI RES SRES), found {}",
                toks.len()
            ),
        ));
    }
    let orbit = int(path, line, "IORB", toks[0])?;
    let mut v = [0.0; 6];
    for (j, x) in v.iter_mut().enumerate() {
        *x = num(path, line, COLS_2007[j + 1], toks[j + 1])?;
    }
    let [epoch, parf, cpsi, spsi, res, sres] = v;
    let (sigma, rejected) = if signed_sres && sres < 0.0 {
        (-sres, true)
    } else {
        (sres, false)
    };
    Ok(IadRecord {
        line,
        orbit,
        consortium: None,
        rejected,
        epoch,
        partials: [cpsi, spsi, parf, epoch * cpsi, epoch * spsi],
        residual: res,
        sigma: positive(path, line, "SRES", sigma)?,
        correlation: None,
    })
}

const HEAD_2007: [&str; 8] = ["HIP", "MCE", "NRES", "NC", "isol_n", "SCE", "F2", "F1"];

struct Head2007 {
    hip: u32,
    mce: u32,
    nres: usize,
    nc: u32,
    isol: String,
    sce: u32,
    f2: f64,
    f1: f64,
    line: usize,
}

/// The eight values HIP MCE NRES NC isol_n SCE F2 F1 of `toks`, at `line`.
fn head_2007(path: &Path, line: usize, toks: &[&str]) -> Result<Head2007, IoError> {
    if toks.len() < 8 {
        return Err(IoError::value(
            path,
            line,
            HEAD_2007[toks.len()],
            format!(
                "header has {} values, expected 8 (HIP MCE NRES NC isol_n SCE F2 F1)",
                toks.len()
            ),
        ));
    }
    if toks.len() > 8 {
        return Err(IoError::value(
            path,
            line,
            "F1",
            format!(
                "header has {} values, expected 8 (HIP MCE NRES NC isol_n SCE F2 F1)",
                toks.len()
            ),
        ));
    }
    int(path, line, "isol_n", toks[4])?;
    Ok(Head2007 {
        hip: int(path, line, "HIP", toks[0])?,
        mce: int(path, line, "MCE", toks[1])?,
        nres: int(path, line, "NRES", toks[2])? as usize,
        nc: int(path, line, "NC", toks[3])?,
        isol: toks[4].to_string(),
        sce: int(path, line, "SCE", toks[5])?,
        f2: num(path, line, "F2", toks[6])?,
        f1: num(path, line, "F1", toks[7])?,
        line,
    })
}

/// Records from line index `start` on; checks their count against NRES.
fn records_2007(
    path: &Path,
    lines: &[&str],
    start: usize,
    head: &Head2007,
    signed_sres: bool,
) -> Result<Vec<IadRecord>, IoError> {
    let mut records = Vec::with_capacity(head.nres);
    for (k, raw) in lines.iter().enumerate().skip(start) {
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        records.push(record_2007(path, k + 1, t, signed_sres)?);
    }
    if records.len() != head.nres {
        let short = records.len() < head.nres;
        return Err(IoError::value(
            path,
            if short { lines.len() + 1 } else { head.line },
            if short { "IORB" } else { "NRES" },
            format!(
                "{} records found, NRES (line {}) announces {}{}",
                records.len(),
                head.line,
                head.nres,
                if short { ": the file is truncated" } else { "" }
            ),
        ));
    }
    Ok(records)
}

fn parse_2007(path: &Path, text: &str) -> Result<IadStar, IoError> {
    let lines: Vec<&str> = text.lines().map(clean).collect();
    let Some(first) = lines.iter().position(|l| !l.trim().is_empty()) else {
        return Err(IoError::value(path, 1, "HIP", "empty file"));
    };
    let toks: Vec<&str> = lines[first].split_whitespace().collect();
    let head = head_2007(path, first + 1, &toks)?;
    let records = records_2007(path, &lines, first + 1, &head, false)?;
    Ok(IadStar {
        path: path.to_path_buf(),
        format: IadFormat::Hip2007,
        hip: head.hip,
        solution_type: head.isol,
        hp: None,
        b_v: None,
        reference: None,
        mce: Some(head.mce),
        n_res: head.nres,
        nc: Some(head.nc),
        sce: Some(head.sce),
        f2: Some(head.f2),
        f1: Some(head.f1),
        var_ann: None,
        nob: None,
        nr: None,
        records,
    })
}

// ---------------------------------------------------------------------------------------------
// 2014

/// A value of the 2014 header: its line and text.
type Named<'a> = HashMap<String, (usize, &'a str)>;

fn parse_2014(path: &Path, text: &str) -> Result<IadStar, IoError> {
    let lines: Vec<&str> = text.lines().map(clean).collect();
    // Comment lines that name columns, each followed by a comment line of values.
    let mut named: Named = HashMap::new();
    let mut head_line = None;
    let mut data_start = None;
    let mut k = 0;
    while k < lines.len() {
        let l = lines[k].trim_start();
        if !l.starts_with('#') {
            if l.trim().is_empty() {
                k += 1;
                continue;
            }
            data_start = Some(k);
            break;
        }
        let names = comment_tokens(l);
        let first = names.first().copied().unwrap_or("");
        let is_names = ["HIP", "Hp", "RAdeg"]
            .iter()
            .any(|n| first.eq_ignore_ascii_case(n));
        if first.eq_ignore_ascii_case("IORB") {
            k += 1;
            data_start = Some(k);
            break;
        }
        if is_names {
            let vline = k + 1;
            let values = lines
                .get(vline)
                .filter(|v| v.trim_start().starts_with('#'))
                .map(|v| comment_tokens(v))
                .unwrap_or_default();
            if values.len() < names.len() {
                let missing = names[values.len()];
                return Err(IoError::value(
                    path,
                    vline + 1,
                    missing,
                    format!(
                        "header values line has {} values for the {} names of line {}",
                        values.len(),
                        names.len(),
                        k + 1
                    ),
                ));
            }
            if first.eq_ignore_ascii_case("HIP") {
                head_line = Some(vline + 1);
            }
            for (n, v) in names.iter().zip(values.iter()) {
                named.insert(n.to_ascii_lowercase(), (vline + 1, *v));
            }
            k += 2;
            continue;
        }
        k += 1;
    }
    let Some(head_line) = head_line else {
        return Err(IoError::value(
            path,
            1,
            "HIP",
            "2014 header line \"# HIP MCE NRES NC isol_n SCE F2 F1\" not found",
        ));
    };
    let head_toks: Vec<&str> = HEAD_2007
        .iter()
        .map_while(|n| named.get(&n.to_ascii_lowercase()).map(|(_, v)| *v))
        .collect();
    let head = head_2007(path, head_line, &head_toks)?;
    let opt_num = |name: &str| -> Result<Option<f64>, IoError> {
        match named.get(&name.to_ascii_lowercase()) {
            None => Ok(None),
            Some((_, v)) if v.trim() == "---" => Ok(None),
            Some((l, v)) => num(path, *l, name, v).map(Some),
        }
    };
    let opt_int = |name: &str| -> Result<Option<u32>, IoError> {
        match named.get(&name.to_ascii_lowercase()) {
            None => Ok(None),
            Some((_, v)) if v.trim() == "---" => Ok(None),
            Some((l, v)) => int(path, *l, name, v).map(Some),
        }
    };
    let pair = |a: &str, b: &str| -> Result<Option<[f64; 2]>, IoError> {
        Ok(match (opt_num(a)?, opt_num(b)?) {
            (Some(x), Some(y)) => Some([x, y]),
            _ => None,
        })
    };
    let five = ["RAdeg", "DEdeg", "Plx", "pm_RA", "pm_DE"];
    let mut vals = [0.0; 5];
    let mut complete = true;
    for (v, n) in vals.iter_mut().zip(five) {
        match opt_num(n)? {
            Some(x) => *v = x,
            None => complete = false,
        }
    }
    let reference = if complete {
        let errs = ["e_RA", "e_DE", "e_Plx", "e_pmRA", "e_pmDE"];
        let mut e = [0.0; 5];
        let mut have = true;
        for (v, n) in e.iter_mut().zip(errs) {
            match opt_num(n)? {
                Some(x) => *v = x,
                None => have = false,
            }
        }
        Some(IadReference {
            ra_rad: vals[0].to_radians(),
            dec_rad: vals[1].to_radians(),
            parallax: vals[2],
            pmra: vals[3],
            pmdec: vals[4],
            errors: have.then_some(e),
            accel: pair("dpmRA", "dpmDE")?,
            accel_errors: pair("e_dpmRA", "e_dpmDE")?,
            accel_deriv: pair("ddpmRA", "ddpmDE")?,
            accel_deriv_errors: pair("e_ddpmRA", "e_ddpmDE")?,
            vim: pair("upsRA", "upsDE")?,
            vim_errors: pair("e_upsRA", "e_upsDE")?,
            cosmic_dispersion: opt_num("var")?,
        })
    } else {
        None
    };
    let Some(start) = data_start else {
        return Err(IoError::value(
            path,
            lines.len() + 1,
            "IORB",
            format!(
                "file ends before the records ({} announced by NRES)",
                head.nres
            ),
        ));
    };
    let records = records_2007(path, &lines, start, &head, true)?;
    Ok(IadStar {
        path: path.to_path_buf(),
        format: IadFormat::Hip2014,
        hip: head.hip,
        solution_type: head.isol,
        hp: opt_num("Hp")?,
        b_v: opt_num("B-V")?,
        reference,
        mce: Some(head.mce),
        n_res: head.nres,
        nc: Some(head.nc),
        sce: Some(head.sce),
        f2: Some(head.f2),
        f1: Some(head.f1),
        var_ann: opt_int("VarAnn")?,
        nob: opt_int("NOB")?.map(|n| n as usize),
        nr: opt_int("NR")?.map(|n| n as usize),
        records,
    })
}

// ---------------------------------------------------------------------------------------------
// Catalogue rows (CDS I/311)

/// One row of the 2007 catalogue's main table (CDS I/311 `hip2.dat`, van Leeuwen 2007).
#[derive(Clone, Debug, PartialEq)]
pub struct Hip2CatalogueRow {
    /// 1-based line of the file.
    pub line: usize,
    /// HIP number.
    pub hip: u32,
    /// Solution type of the new reduction, 10·d + s (s: 1 stochastic, 3 VIM, 5, 7, 9 parameters).
    pub sn: u32,
    /// Solution type of the 1997 reduction.
    pub so: u32,
    /// Number of components.
    pub nc: u32,
    /// Right ascension, **radians**, ICRS, J1991.25.
    pub ra_rad: f64,
    /// Declination, **radians**, ICRS, J1991.25.
    pub dec_rad: f64,
    /// Parallax, mas.
    pub parallax: f64,
    /// μα*, mas/yr.
    pub pmra: f64,
    /// μδ, mas/yr.
    pub pmdec: f64,
    /// Formal errors of (α*, δ, ϖ, μα*, μδ), mas and mas/yr.
    pub errors: [f64; 5],
    /// Number of field transits used.
    pub ntr: u32,
    /// Goodness of fit F2.
    pub f2: f64,
    /// Percentage of rejected data.
    pub f1: u32,
    /// Cosmic dispersion added (stochastic solutions), mas.
    pub var: f64,
    /// Entry in one of the supplementary catalogues.
    pub ic: u32,
    /// Hp magnitude.
    pub hp: f64,
    /// Error of the mean Hp.
    pub e_hp: f64,
    /// Scatter of Hp.
    pub s_hp: f64,
    /// Reference to the variability annex.
    pub va: u32,
    /// B − V.
    pub b_v: f64,
    /// Error of B − V.
    pub e_b_v: f64,
    /// V − I.
    pub v_i: f64,
    /// Upper-triangular weight matrix U (column-wise: U11, U12, U22, U13, U23, U33, ...), C⁻¹ = UᵀU.
    pub uw: [f64; 15],
}

impl Hip2CatalogueRow {
    /// Number of astrometric parameters (5, 7, 9) of the solution, None for other types.
    pub fn n_params(&self) -> Option<usize> {
        match self.sn % 10 {
            5 => Some(5),
            7 => Some(7),
            9 => Some(9),
            _ => None,
        }
    }
}

/// One row of the 2007 catalogue's 7- or 9-parameter annex (CDS I/311 `hip7p.dat`, `hip9p.dat`).
#[derive(Clone, Debug, PartialEq)]
pub struct Hip2AccelerationRow {
    /// 1-based line of the file.
    pub line: usize,
    /// HIP number.
    pub hip: u32,
    /// Fg, detection statistic.
    pub fg: f64,
    /// (dμα*/dt, dμδ/dt), mas/yr².
    pub accel: [f64; 2],
    /// Their formal errors, mas/yr².
    pub accel_errors: [f64; 2],
    /// 9-parameter rows: (d²μα*/dt², d²μδ/dt²), mas/yr³.
    pub accel_deriv: Option<[f64; 2]>,
    /// Their formal errors, mas/yr³.
    pub accel_deriv_errors: Option<[f64; 2]>,
    /// The weight-matrix elements U16..U28 (7p) or U16..U45 (9p).
    pub uw: Vec<f64>,
}

impl Hip2AccelerationRow {
    /// 7 or 9.
    pub fn n_params(&self) -> usize {
        if self.accel_deriv.is_some() {
            9
        } else {
            7
        }
    }
}

const HIP2_COLS: [&str; 26] = [
    "HIP", "Sn", "So", "Nc", "RArad", "DErad", "Plx", "pmRA", "pmDE", "e_RArad", "e_DErad",
    "e_Plx", "e_pmRA", "e_pmDE", "Ntr", "F2", "F1", "var", "ic", "Hpmag", "e_Hpmag", "sHp", "VA",
    "B-V", "e_B-V", "V-I",
];

/// Reads rows of CDS I/311 `hip2.dat` (whitespace-separated, 26 values then the 15 UW values).
pub fn read_hip2_catalogue(path: &Path) -> Result<Vec<Hip2CatalogueRow>, IoError> {
    let bytes = std::fs::read(path).map_err(|e| IoError::os(path, "read", e))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut rows = Vec::new();
    for (k, raw) in text.lines().map(clean).enumerate() {
        let line = k + 1;
        let toks: Vec<&str> = raw.split_whitespace().collect();
        if toks.is_empty() {
            continue;
        }
        if toks.len() != 41 {
            let field = if toks.len() < 26 {
                HIP2_COLS[toks.len()].to_string()
            } else if toks.len() < 41 {
                format!("UW{}", toks.len() - 26 + 1)
            } else {
                "UW15".to_string()
            };
            return Err(IoError::value(
                path,
                line,
                &field,
                format!(
                    "expected 41 values (26 columns and 15 UW), found {}",
                    toks.len()
                ),
            ));
        }
        let f = |j: usize| num(path, line, HIP2_COLS[j], toks[j]);
        let i = |j: usize| int(path, line, HIP2_COLS[j], toks[j]);
        let mut uw = [0.0; 15];
        for (j, u) in uw.iter_mut().enumerate() {
            *u = num(path, line, &format!("UW{}", j + 1), toks[26 + j])?;
        }
        rows.push(Hip2CatalogueRow {
            line,
            hip: i(0)?,
            sn: i(1)?,
            so: i(2)?,
            nc: i(3)?,
            ra_rad: f(4)?,
            dec_rad: f(5)?,
            parallax: f(6)?,
            pmra: f(7)?,
            pmdec: f(8)?,
            errors: [f(9)?, f(10)?, f(11)?, f(12)?, f(13)?],
            ntr: i(14)?,
            f2: f(15)?,
            f1: i(16)?,
            var: f(17)?,
            ic: i(18)?,
            hp: f(19)?,
            e_hp: f(20)?,
            s_hp: f(21)?,
            va: i(22)?,
            b_v: f(23)?,
            e_b_v: f(24)?,
            v_i: f(25)?,
            uw,
        });
    }
    if rows.is_empty() {
        return Err(IoError::invalid(path, "no catalogue rows"));
    }
    Ok(rows)
}

/// Reads rows of the CDS I/311 7- and 9-parameter annexes (`hip7p.dat`: HIP Fg dpmRA dpmDE
/// e_dpmRA e_dpmDE and 13 UW; `hip9p.dat`: HIP Fg dpmRA dpmDE ddpmRA ddpmDE e_dpmRA e_dpmDE
/// e_ddpmRA e_ddpmDE and 30 UW); both kinds may be mixed in one file, told apart by their count.
pub fn read_hip2_acceleration(path: &Path) -> Result<Vec<Hip2AccelerationRow>, IoError> {
    const C7: [&str; 6] = ["HIP", "Fg", "dpmRA", "dpmDE", "e_dpmRA", "e_dpmDE"];
    const C9: [&str; 10] = [
        "HIP", "Fg", "dpmRA", "dpmDE", "ddpmRA", "ddpmDE", "e_dpmRA", "e_dpmDE", "e_ddpmRA",
        "e_ddpmDE",
    ];
    let bytes = std::fs::read(path).map_err(|e| IoError::os(path, "read", e))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut rows = Vec::new();
    for (k, raw) in text.lines().map(clean).enumerate() {
        let line = k + 1;
        let toks: Vec<&str> = raw.split_whitespace().collect();
        if toks.is_empty() {
            continue;
        }
        let row = match toks.len() {
            19 => {
                let f = |j: usize| num(path, line, C7[j], toks[j]);
                let mut uw = Vec::with_capacity(13);
                for (j, t) in toks[6..].iter().enumerate() {
                    uw.push(num(path, line, &format!("UW{}", 16 + j), t)?);
                }
                Hip2AccelerationRow {
                    line,
                    hip: int(path, line, "HIP", toks[0])?,
                    fg: f(1)?,
                    accel: [f(2)?, f(3)?],
                    accel_errors: [f(4)?, f(5)?],
                    accel_deriv: None,
                    accel_deriv_errors: None,
                    uw,
                }
            }
            40 => {
                let f = |j: usize| num(path, line, C9[j], toks[j]);
                let mut uw = Vec::with_capacity(30);
                for (j, t) in toks[10..].iter().enumerate() {
                    uw.push(num(path, line, &format!("UW{}", 16 + j), t)?);
                }
                Hip2AccelerationRow {
                    line,
                    hip: int(path, line, "HIP", toks[0])?,
                    fg: f(1)?,
                    accel: [f(2)?, f(3)?],
                    accel_deriv: Some([f(4)?, f(5)?]),
                    accel_errors: [f(6)?, f(7)?],
                    accel_deriv_errors: Some([f(8)?, f(9)?]),
                    uw,
                }
            }
            n => {
                let field = if n < 6 { C7[n] } else { "UW" };
                return Err(IoError::value(
                    path,
                    line,
                    field,
                    format!(
                        "expected 19 values (7-parameter row) or 40 (9-parameter row), found {n}"
                    ),
                ));
            }
        };
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(IoError::invalid(path, "no 7/9-parameter rows"));
    }
    Ok(rows)
}
