//! Placeholder (being written).
use super::{Table, TableReader};
use crate::error::IoError;
use std::path::Path;

pub(crate) struct FitsReader {
    names: Vec<String>,
}

impl FitsReader {
    pub fn open(path: &Path) -> Result<FitsReader, IoError> {
        let _ = Vec::<String>::new();
        Err(IoError::invalid(
            path,
            "this table format is not supported yet",
        ))
    }
}

impl TableReader for FitsReader {
    fn column_names(&self) -> &[String] {
        &self.names
    }
    fn next_chunk(&mut self, _max_rows: usize) -> Result<Option<Table>, IoError> {
        Ok(None)
    }
}
