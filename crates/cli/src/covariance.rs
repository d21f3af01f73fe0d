//! Files of the direct solver: the eigenvalue spectrum, the full 5×5 covariance of every
//! source, and covariances between any pairs of unknowns asked for.
#![allow(clippy::needless_range_loop)] // index loops over parallel arrays mirror the formulas

use astrosolve_core::W_SCALE;
use astrosolve_model::source::Source;
use astrosolve_model::units::MAS;
use astrosolve_scanning::run::Problem;
use astrosolve_scanning::{Solution, SourceResult, NS};
use std::collections::HashMap;
use std::path::Path;

type R<T> = Result<T, Box<dyn std::error::Error>>;

const PARAM_NAMES: [&str; NS] = ["ra", "dec", "parallax", "pmra", "pmdec"];

/// One unknown of the full vector [sources | attitude | calibration].
#[derive(Clone, Debug)]
pub struct Unknown {
    pub label: String,
    pub index: usize,
    /// Factor from internal units (rad, rad/yr, quaternion component) to the output unit.
    pub scale: f64,
    pub unit: &'static str,
}

/// Parses `source:SOURCE_ID:PARAM`, `attitude:K` or `calibration:K`.
fn parse_unknown(s: &str, p: &Problem, ids: &HashMap<i64, usize>) -> Result<Unknown, String> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    let n_src = p.ds.sources.len();
    let (n_att, n_cal) = (p.ds.attitude.n_params(), p.ds.calibration.n_params());
    let bad = |why: &str| {
        format!("'{s}': {why} (expected source:SOURCE_ID:PARAM, attitude:K or calibration:K)")
    };
    match parts.as_slice() {
        ["source", id, param] => {
            let id: i64 = id.parse().map_err(|_| bad("source_id is not an integer"))?;
            let &i = ids
                .get(&id)
                .ok_or_else(|| bad("no such source_id in sources.parquet"))?;
            let k = PARAM_NAMES
                .iter()
                .position(|n| n == param)
                .ok_or_else(|| bad("PARAM must be one of ra, dec, parallax, pmra, pmdec"))?;
            Ok(Unknown {
                label: s.trim().to_string(),
                index: NS * i + k,
                scale: 1.0 / MAS,
                unit: if k < 3 { "mas" } else { "mas/yr" },
            })
        }
        ["attitude", k] => {
            let k: usize = k.parse().map_err(|_| bad("K is not an index"))?;
            if k >= n_att {
                return Err(bad(&format!("attitude index must be < {n_att}")));
            }
            Ok(Unknown {
                label: s.trim().to_string(),
                index: NS * n_src + k,
                scale: 1.0,
                unit: "1",
            })
        }
        ["calibration", k] => {
            let k: usize = k.parse().map_err(|_| bad("K is not an index"))?;
            if k >= n_cal {
                return Err(bad(&format!("calibration index must be < {n_cal}")));
            }
            Ok(Unknown {
                label: s.trim().to_string(),
                index: NS * n_src + n_att + k,
                scale: 1.0 / MAS,
                unit: "mas",
            })
        }
        _ => Err(bad("unrecognised unknown")),
    }
}

/// Reads the pairs file: CSV with a header holding columns `a` and `b`.
pub fn read_pairs(path: &Path, p: &Problem) -> R<Vec<(Unknown, Unknown)>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| format!("{}: empty file (expected a header `a,b`)", path.display()))?;
    let cols: Vec<&str> = header.split(',').map(|c| c.trim()).collect();
    let ca = cols.iter().position(|c| *c == "a");
    let cb = cols.iter().position(|c| *c == "b");
    let (ca, cb) = match (ca, cb) {
        (Some(a), Some(b)) => (a, b),
        _ => {
            return Err(format!(
                "{}: line 1: the header must name columns `a` and `b`, found {header:?}",
                path.display()
            )
            .into())
        }
    };
    let ids: HashMap<i64, usize> =
        p.ds.sources
            .iter()
            .enumerate()
            .map(|(i, s)| (s.source_id, i))
            .collect();
    let mut out = Vec::new();
    for (ln, line) in lines {
        let f: Vec<&str> = line.split(',').collect();
        let get = |c: usize, name: &str| {
            f.get(c).copied().ok_or_else(|| {
                format!(
                    "{}: line {}: column `{name}` missing",
                    path.display(),
                    ln + 1
                )
            })
        };
        let a = parse_unknown(get(ca, "a")?, p, &ids)
            .map_err(|e| format!("{}: line {}, column `a`: {e}", path.display(), ln + 1))?;
        let b = parse_unknown(get(cb, "b")?, p, &ids)
            .map_err(|e| format!("{}: line {}, column `b`: {e}", path.display(), ln + 1))?;
        out.push((a, b));
    }
    Ok(out)
}

/// Writes covariance_pairs.csv: a, b, covariance (in unit_a·unit_b), correlation.
pub fn write_pairs(
    path: &Path,
    sol: &Solution,
    _p: &Problem,
    pairs: &[(Unknown, Unknown)],
) -> R<()> {
    let cov = sol
        .covariance
        .as_ref()
        .ok_or("no covariance was computed (direct solver with covariance needed)")?;
    astrosolve_io::write_lines(path, true, |f| {
        writeln!(f, "a,b,covariance,unit,correlation")?;
        for (a, b) in pairs {
            let c = cov.element(a.index, b.index) * W_SCALE;
            let va = cov.element(a.index, a.index) * W_SCALE;
            let vb = cov.element(b.index, b.index) * W_SCALE;
            writeln!(
                f,
                "{},{},{},{}·{},{}",
                a.label,
                b.label,
                csv_number(c * a.scale * b.scale, 9),
                a.unit,
                b.unit,
                csv_fixed(c / (va * vb).sqrt(), 6)
            )?;
        }
        Ok(())
    })?;
    Ok(())
}

/// `v` in exponent notation with `digits` decimals; empty (a null) when not finite: a CSV
/// never holds NaN.
fn csv_number(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$e}")
    } else {
        String::new()
    }
}

/// `v` with `digits` decimals; empty when not finite.
fn csv_fixed(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        String::new()
    }
}

/// Writes eigenvalues.csv (atomically, as every CSV here; a non-finite value is left empty): index (1 = smallest), eigenvalue (solver units), relative to largest.
pub fn write_spectrum(path: &Path, ev: &[f64]) -> R<()> {
    let top = ev.iter().fold(f64::MIN_POSITIVE, |m, v| m.max(v.abs()));
    astrosolve_io::write_lines(path, true, |f| {
        writeln!(f, "index,eigenvalue,relative")?;
        for (i, v) in ev.iter().enumerate() {
            writeln!(
                f,
                "{},{},{}",
                i + 1,
                csv_number(*v, 9),
                csv_number(v / top, 9)
            )?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Writes source_covariance.csv: per source the upper triangle of the full 5×5 covariance
/// (mas², mas²/yr, mas²/yr²) and the standard uncertainties of the inverse-block covariance.
pub fn write_source_covariance(path: &Path, res: &[SourceResult], sources: &[Source]) -> R<()> {
    let mut header = vec!["source_id".to_string()];
    for a in 0..NS {
        for b in a..NS {
            header.push(format!("{}_{}", PARAM_NAMES[a], PARAM_NAMES[b]));
        }
    }
    for n in PARAM_NAMES {
        header.push(format!("{n}_error_block"));
    }
    let m2 = 1.0 / (MAS * MAS);
    astrosolve_io::write_lines(path, true, |f| {
        writeln!(f, "{}", header.join(","))?;
        for (r, s) in res.iter().zip(sources) {
            if !r.solved {
                continue;
            }
            let mut row = vec![s.source_id.to_string()];
            for a in 0..NS {
                for b in a..NS {
                    row.push(csv_number(r.cov[a][b] * m2, 9));
                }
            }
            for k in 0..NS {
                let v = r.cov_block.map(|c| c[k][k]).unwrap_or(f64::NAN);
                row.push(csv_number(v.sqrt() / MAS, 6));
            }
            writeln!(f, "{}", row.join(","))?;
        }
        Ok(())
    })?;
    Ok(())
}
