//! Source selection expressions, e.g. `is_qso`, `phot_g_mean_mag<19`,
//! `is_qso & phot_g_mean_mag>=15 & phot_g_mean_mag<20`.
//!
//! Grammar: terms joined by `&` (or `&&`, or the word `and`); several expressions (repeated
//! `--select` flags) are joined by AND as well. A term is
//!
//! * `COLUMN` — true when the value is true / non-zero (boolean columns such as `is_qso`);
//! * `!COLUMN` or `not COLUMN` — true when the value is false / zero;
//! * `COLUMN OP NUMBER` with OP one of `<  <=  >  >=  ==  =  !=`; `true`/`false` are accepted
//!   as 1/0.
//!
//! A missing (null/empty) or NaN value in a selection column makes the term false (and `!=`
//! false as well), so such rows are not selected.

use crate::error::VshError;

/// Comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==` or `=`
    Eq,
    /// `!=`
    Ne,
}

/// One term of a selection.
#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    /// `COLUMN` (negate = false) or `!COLUMN` (negate = true).
    Truthy {
        /// Column name.
        column: String,
        /// Whether the term is negated.
        negate: bool,
    },
    /// `COLUMN OP VALUE`.
    Compare {
        /// Column name.
        column: String,
        /// Operator.
        op: CmpOp,
        /// Right-hand value.
        value: f64,
    },
}

impl Term {
    /// Column the term reads.
    pub fn column(&self) -> &str {
        match self {
            Term::Truthy { column, .. } | Term::Compare { column, .. } => column,
        }
    }

    /// Whether `v` (the column's value, NaN when missing) satisfies the term.
    pub fn eval(&self, v: f64) -> bool {
        if v.is_nan() {
            return false;
        }
        match self {
            Term::Truthy { negate, .. } => (v != 0.0) != *negate,
            Term::Compare { op, value, .. } => match op {
                CmpOp::Lt => v < *value,
                CmpOp::Le => v <= *value,
                CmpOp::Gt => v > *value,
                CmpOp::Ge => v >= *value,
                CmpOp::Eq => v == *value,
                CmpOp::Ne => v != *value,
            },
        }
    }
}

/// A conjunction of terms.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    /// The terms, all of which must hold.
    pub terms: Vec<Term>,
    /// The expressions as given.
    pub exprs: Vec<String>,
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

fn parse_term(t: &str, expr: &str) -> Result<Term, VshError> {
    let err = |m: String| VshError::Selection {
        expr: expr.to_string(),
        message: m,
    };
    let t = t.trim();
    if t.is_empty() {
        return Err(err("empty term".into()));
    }
    // Operators, longest first.
    for (tok, op) in [
        ("<=", CmpOp::Le),
        (">=", CmpOp::Ge),
        ("==", CmpOp::Eq),
        ("!=", CmpOp::Ne),
        ("<", CmpOp::Lt),
        (">", CmpOp::Gt),
        ("=", CmpOp::Eq),
    ] {
        if let Some(pos) = t.find(tok) {
            let column = t[..pos].trim();
            let rhs = t[pos + tok.len()..].trim();
            if !is_ident(column) {
                return Err(err(format!("'{column}' is not a column name")));
            }
            let value = match rhs.to_ascii_lowercase().as_str() {
                "true" => 1.0,
                "false" => 0.0,
                r => r
                    .parse::<f64>()
                    .map_err(|_| err(format!("'{rhs}' is not a number (nor true/false)")))?,
            };
            if value.is_nan() {
                return Err(err("comparison with NaN".into()));
            }
            return Ok(Term::Compare {
                column: column.to_string(),
                op,
                value,
            });
        }
    }
    let (negate, name) = if let Some(rest) = t.strip_prefix('!') {
        (true, rest.trim())
    } else if let Some(rest) = t.strip_prefix("not ") {
        (true, rest.trim())
    } else {
        (false, t)
    };
    if !is_ident(name) {
        return Err(err(format!(
            "'{t}' is neither a column name nor a comparison (COLUMN<VALUE, COLUMN>=VALUE, …)"
        )));
    }
    Ok(Term::Truthy {
        column: name.to_string(),
        negate,
    })
}

impl Selection {
    /// Parses expressions (each a conjunction of terms); an empty list selects everything.
    pub fn parse<S: AsRef<str>>(exprs: &[S]) -> Result<Selection, VshError> {
        let mut terms = Vec::new();
        for e in exprs {
            let e = e.as_ref();
            let normalised = e.replace("&&", "&").replace(" and ", "&");
            for t in normalised.split('&') {
                terms.push(parse_term(t, e)?);
            }
        }
        Ok(Selection {
            terms,
            exprs: exprs.iter().map(|e| e.as_ref().to_string()).collect(),
        })
    }

    /// Whether nothing is selected away.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Distinct columns read by the selection, in order of first use.
    pub fn columns(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for t in &self.terms {
            if !v.iter().any(|c| c == t.column()) {
                v.push(t.column().to_string());
            }
        }
        v
    }

    /// Evaluates the selection; `value(k)` returns the value of `self.columns()[k]` (NaN when
    /// missing).
    pub fn eval(&self, columns: &[String], value: impl Fn(usize) -> f64) -> bool {
        self.terms.iter().all(|t| {
            let k = columns
                .iter()
                .position(|c| c == t.column())
                .expect("column of the selection");
            t.eval(value(k))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_eval() {
        let s =
            Selection::parse(&["is_qso & phot_g_mean_mag<19", "phot_g_mean_mag >= 15"]).unwrap();
        assert_eq!(s.terms.len(), 3);
        let cols = s.columns();
        assert_eq!(
            cols,
            vec!["is_qso".to_string(), "phot_g_mean_mag".to_string()]
        );
        let ok = |q: f64, g: f64| s.eval(&cols, |k| if k == 0 { q } else { g });
        assert!(ok(1.0, 17.0));
        assert!(!ok(0.0, 17.0));
        assert!(!ok(1.0, 19.0));
        assert!(ok(1.0, 15.0));
        assert!(!ok(1.0, 14.9));
        assert!(!ok(1.0, f64::NAN));
        let n = Selection::parse(&["!is_qso && g != 3", "not x and y==true"]).unwrap();
        assert_eq!(
            n.terms[0],
            Term::Truthy {
                column: "is_qso".into(),
                negate: true
            }
        );
        assert_eq!(
            n.terms[3],
            Term::Compare {
                column: "y".into(),
                op: CmpOp::Eq,
                value: 1.0
            }
        );
        for bad in ["", "g <", "3 < g", "g < abc", "a b", "is_qso &"] {
            assert!(Selection::parse(&[bad]).is_err(), "{bad:?} accepted");
        }
    }
}
