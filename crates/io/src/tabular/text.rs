//! Parsing of text cells: numbers, booleans, nulls and array strings such as
//! `"(1.0, 2.0, , null, NaN)"` (Gaia archive CSV), `"[1.0,null]"` (ECSV JSON) or
//! `"{1 2 3}"`. Errors are messages; the caller adds file, row and column.

/// True for the spellings of a null cell or element: empty, `null`, `none`, `--` (astropy's
/// masked value), case-insensitive.
pub(crate) fn is_null(s: &str) -> bool {
    let s = s.trim();
    s.is_empty() || s.eq_ignore_ascii_case("null") || s.eq_ignore_ascii_case("none") || s == "--"
}

fn show(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() > MAX {
        let cut: String = s.chars().take(MAX).collect();
        format!("\"{cut}…\"")
    } else {
        format!("\"{s}\"")
    }
}

/// A float cell; null → NaN. `NaN`, `inf`, `-inf`, `Infinity` accepted.
pub(crate) fn parse_f64(s: Option<&str>) -> Result<f64, String> {
    match s {
        None => Ok(f64::NAN),
        Some(s) => parse_f64_item(s).map_err(|e| format!("{e} (expected a number)")),
    }
}

/// One float (a cell or a list element); null → NaN.
pub(crate) fn parse_f64_item(s: &str) -> Result<f64, String> {
    let t = s.trim();
    if is_null(t) {
        return Ok(f64::NAN);
    }
    t.parse::<f64>()
        .or_else(|_| {
            let l = t.to_ascii_lowercase();
            match l.as_str() {
                "infinity" | "+infinity" => Ok(f64::INFINITY),
                "-infinity" => Ok(f64::NEG_INFINITY),
                _ => Err(()),
            }
        })
        .map_err(|_| format!("cannot read {} as a number", show(t)))
}

/// One float stored as float32 in the file: parsed as float32 and widened, so the text of a
/// float32 gives the bits of its binary twin; null → NaN.
pub(crate) fn parse_f32_item(s: &str) -> Result<f64, String> {
    let t = s.trim();
    if is_null(t) {
        return Ok(f64::NAN);
    }
    match t.parse::<f32>() {
        Ok(v) => Ok(v as f64),
        Err(_) => parse_f64_item(t).map(|v| v as f32 as f64),
    }
}

/// An integer cell, exact; null → None. Integral decimals (`3.0`, `1e3`) accepted.
pub(crate) fn parse_i64(s: Option<&str>) -> Result<Option<i64>, String> {
    match s {
        None => Ok(None),
        Some(s) => parse_i64_item(s).map_err(|e| format!("{e} (expected an integer)")),
    }
}

/// One integer (cell or list element), exact; null → None.
pub(crate) fn parse_i64_item(s: &str) -> Result<Option<i64>, String> {
    let t = s.trim();
    if is_null(t) {
        return Ok(None);
    }
    let t2 = t.strip_prefix('+').unwrap_or(t);
    if let Ok(v) = t2.parse::<i64>() {
        return Ok(Some(v));
    }
    match t.parse::<f64>() {
        Ok(x) if x.is_nan() => Ok(None),
        Ok(x) => float_to_i64(x).map_err(|_| format!("cannot read {} as an integer", show(t))),
        Err(_) => Err(format!("cannot read {} as an integer", show(t))),
    }
}

/// A float holding an integer (any integral value in the int64 range, converted exactly:
/// a float64 time column such as the CU9 files' `obsTimeTcb` reads as integers); NaN → None.
pub(crate) fn float_to_i64(x: f64) -> Result<Option<i64>, String> {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if x.is_nan() {
        return Ok(None);
    }
    if x.fract() != 0.0 || !(-LIMIT..LIMIT).contains(&x) {
        return Err(format!("{x} is not an integer in the int64 range"));
    }
    Ok(Some(x as i64))
}

/// A boolean cell: `true`/`false`, `T`/`F`, `1`/`0`, `yes`/`no` (any case); null → None.
pub(crate) fn parse_bool(s: Option<&str>) -> Result<Option<bool>, String> {
    match s {
        None => Ok(None),
        Some(s) => parse_bool_item(s),
    }
}

/// One boolean (cell or list element); null (and VOTable's `?`) → None.
pub(crate) fn parse_bool_item(s: &str) -> Result<Option<bool>, String> {
    let t = s.trim();
    if is_null(t) || t == "?" {
        return Ok(None);
    }
    let l = t.to_ascii_lowercase();
    match l.as_str() {
        "true" | "t" | "1" | "yes" | "y" | "1.0" => Ok(Some(true)),
        "false" | "f" | "0" | "no" | "n" | "0.0" => Ok(Some(false)),
        _ => Err(format!(
            "cannot read {} as a boolean (expected true/false, T/F or 1/0)",
            show(t)
        )),
    }
}

/// An integer 0/1 as a boolean; null → None.
pub(crate) fn int_to_bool(x: Option<i64>) -> Result<Option<bool>, String> {
    match x {
        None => Ok(None),
        Some(0) => Ok(Some(false)),
        Some(1) => Ok(Some(true)),
        Some(v) => Err(format!("{v} is not a boolean (expected 0 or 1)")),
    }
}

/// Parses an array string into its elements with `item`. Brackets `()`, `[]` or `{}`
/// (nested ones are flattened, row-major) are optional; elements are separated by commas,
/// or by white space when there is no comma. An empty or null cell is an empty list; a
/// bare scalar is a list of one.
pub(crate) fn parse_list<T>(
    s: Option<&str>,
    item: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let Some(s) = s else {
        return Ok(Vec::new());
    };
    let t = s.trim();
    if is_null(t) {
        return Ok(Vec::new());
    }
    // Fast path, the common case (Gaia archive arrays): one level of brackets around plain
    // elements. Same result as the general path below.
    let b = t.as_bytes();
    if b.len() >= 2
        && matches!(
            (b[0], b[b.len() - 1]),
            (b'(', b')') | (b'[', b']') | (b'{', b'}')
        )
    {
        let inner = &t[1..t.len() - 1];
        if !inner
            .bytes()
            .any(|x| matches!(x, b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b'\''))
        {
            let inner = inner.trim();
            if inner.is_empty() {
                return Ok(Vec::new());
            }
            let mut out = Vec::with_capacity(16);
            let mut push = |k: usize, p: &str| -> Result<(), String> {
                out.push(item(p).map_err(|e| format!("array element {}: {e}", k + 1))?);
                Ok(())
            };
            if inner.contains(',') {
                for (k, p) in inner.split(',').enumerate() {
                    push(k, p)?;
                }
            } else {
                for (k, p) in inner.split_whitespace().enumerate() {
                    push(k, p)?;
                }
            }
            return Ok(out);
        }
    }
    // Check bracket balance and strip all brackets.
    let mut depth: i32 = 0;
    let mut stack: Vec<char> = Vec::new();
    let mut body = String::with_capacity(t.len());
    let mut had_brackets = false;
    for c in t.chars() {
        match c {
            '(' | '[' | '{' => {
                had_brackets = true;
                depth += 1;
                stack.push(c);
                body.push(' ');
            }
            ')' | ']' | '}' => {
                let open = stack.pop();
                let want = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if open != Some(want) {
                    return Err(format!("unbalanced brackets in the array {}", show(t)));
                }
                depth -= 1;
                body.push(if depth > 0 { ',' } else { ' ' });
            }
            '"' | '\'' => body.push(' '),
            _ => body.push(c),
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced brackets in the array {}", show(t)));
    }
    let body = body.trim();
    if had_brackets && body.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = if body.contains(',') {
        body.split(',').collect()
    } else {
        body.split_whitespace().collect()
    };
    // Commas introduced between nested brackets ("[[1,2],[3,4]]" → " ,1,2,,3,4, ") leave
    // empty pieces that are not null elements: drop them when nested.
    let nested = t.matches(['(', '[', '{']).count() > 1;
    let mut out = Vec::with_capacity(parts.len());
    for (k, p) in parts.iter().enumerate() {
        if nested && p.trim().is_empty() {
            continue;
        }
        out.push(item(p).map_err(|e| format!("array element {}: {e}", k + 1))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        let f = |s| parse_list(Some(s), parse_f64_item).unwrap();
        let v = f("(1.0, 2.0, , null, NaN)");
        assert_eq!(v.len(), 5);
        assert_eq!(&v[..2], &[1.0, 2.0]);
        assert!(v[2..].iter().all(|x| x.is_nan()));
        assert_eq!(f("[1,null,3]")[2], 3.0);
        assert_eq!(f("{1 2 3}"), vec![1.0, 2.0, 3.0]);
        assert_eq!(f("1 2"), vec![1.0, 2.0]);
        assert_eq!(f("[[1,2],[3,4]]"), vec![1.0, 2.0, 3.0, 4.0]);
        assert!(f("()").is_empty());
        assert!(f("").is_empty());
        assert_eq!(f("4.5"), vec![4.5]);
        assert!(parse_list(Some("(1.0, x)"), parse_f64_item).is_err());
        assert!(parse_list(Some("(1.0, 2"), parse_f64_item).is_err());
        assert!(parse_list(Some("[1.0, 2)"), parse_f64_item).is_err());
        let b = parse_list(Some("(false, true, )"), parse_bool_item).unwrap();
        assert_eq!(b, vec![Some(false), Some(true), None]);
        let i = parse_list(Some("[151942290263873806,null]"), parse_i64_item).unwrap();
        assert_eq!(i, vec![Some(151942290263873806), None]);
    }

    #[test]
    fn scalars() {
        assert_eq!(
            parse_i64(Some("151942290263873806")),
            Ok(Some(151942290263873806))
        );
        assert_eq!(parse_i64(Some("3.0")), Ok(Some(3)));
        assert!(parse_i64(Some("3.5")).is_err());
        assert!(parse_f64(Some("abc")).is_err());
        assert!(parse_f64(Some("")).unwrap().is_nan());
        assert_eq!(parse_bool(Some("T")), Ok(Some(true)));
        assert_eq!(parse_f32_item("0.6812349"), Ok(0.6812349f32 as f64));
    }
}
