//! Placeholder (being written).
use super::{Table, TableReader};
use crate::error::IoError;
use std::path::Path;

pub(crate) struct VoTableReader {
    names: Vec<String>,
}

impl VoTableReader {
    pub fn open(path: &Path) -> Result<VoTableReader, IoError> {
        let _ = Vec::<String>::new();
        Err(IoError::invalid(
            path,
            "this table format is not supported yet",
        ))
    }
}

impl TableReader for VoTableReader {
    fn column_names(&self) -> &[String] {
        &self.names
    }
    fn next_chunk(&mut self, _max_rows: usize) -> Result<Option<Table>, IoError> {
        Ok(None)
    }
}
