//! TOML configuration files: generic typed read/write, and the `[mission]` table of
//! mission.toml.

use crate::error::IoError;
pub(crate) use crate::output::write_text;
use astrosolve_model::MissionConfig;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// 1-based (line, column) of byte offset `pos` in `text` (column counted in characters).
fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &text[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Parses TOML text as `T`; errors name `path`, line and column.
pub fn parse_toml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, IoError> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        IoError::Toml {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })
}

/// Reads a TOML file as `T`. Errors name the file and, for syntax errors and unknown or
/// mistyped keys, the line and column.
pub fn read_toml<T: DeserializeOwned>(path: impl AsRef<Path>) -> Result<T, IoError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| IoError::os(path, "read", e))?;
    parse_toml(path, &text)
}

/// Writes `value` as TOML. Refuses to replace an existing file unless `overwrite`.
pub fn write_toml<T: Serialize>(
    path: impl AsRef<Path>,
    value: &T,
    overwrite: bool,
) -> Result<(), IoError> {
    let path = path.as_ref();
    write_text(path, &to_toml(path, value)?, overwrite)
}

/// `value` as TOML text (errors name `path`, the file it is meant for).
pub(crate) fn to_toml<T: Serialize>(path: &Path, value: &T) -> Result<String, IoError> {
    toml::to_string_pretty(value)
        .map_err(|e| IoError::invalid(path, format!("cannot express as TOML: {e}")))
}

#[derive(Deserialize)]
struct MissionSection {
    mission: Option<MissionConfig>,
}

#[derive(Serialize)]
struct MissionOnly<'a> {
    mission: &'a MissionConfig,
}

/// Reads the `[mission]` table of a mission.toml (other tables, such as `[simulation]`,
/// are ignored) and validates it. Missing keys take their defaults; unknown keys inside
/// `[mission]` are errors.
pub fn read_mission(path: impl AsRef<Path>) -> Result<MissionConfig, IoError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| IoError::os(path, "read", e))?;
    mission_from_text(path, &text)
}

/// The validated `[mission]` table of mission.toml text.
pub(crate) fn mission_from_text(path: &Path, text: &str) -> Result<MissionConfig, IoError> {
    let section: MissionSection = parse_toml(path, text)?;
    let mission = section
        .mission
        .ok_or_else(|| IoError::invalid(path, "no [mission] table"))?;
    mission.validate().map_err(|e| IoError::invalid(path, e))?;
    Ok(mission)
}

/// Writes a mission.toml holding only the `[mission]` table (the CLI writes its own, with
/// `[simulation]` too, through [`write_toml`]).
pub fn write_mission(
    path: impl AsRef<Path>,
    mission: &MissionConfig,
    overwrite: bool,
) -> Result<(), IoError> {
    write_toml(path, &MissionOnly { mission }, overwrite)
}

#[cfg(test)]
mod tests {
    use super::line_col;

    #[test]
    fn line_and_column() {
        let t = "a = 1\nbé = x\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        // 'x' is after "bé = " (é is two bytes)
        assert_eq!(line_col(t, t.find('x').unwrap()), (2, 6));
    }
}
