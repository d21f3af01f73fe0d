//! Observations kept on disk during a solve ([`ObservationFile`]): written once, then read
//! again source by source at every linearisation, so that only the design rows stay resident
//! (AGIS reads its observations from the database each outer iteration the same way;
//! Lindegren et al. 2012, section 5.2).
//!
//! The file is this program's scratch, not a data product: a 32-byte header (magic, number of
//! observations, of sources, record size) and one fixed-size little-endian record per
//! observation in source order: FoV code, CCD row, CCD strip, a zero byte, then t, η, ζ, σ_η,
//! σ_ζ and the AC coordinate as f64 ([`RECORD_BYTES`] bytes; every value as in memory, so
//! that a solve from the file gives the same bits). On Unix the file is unlinked as soon as it
//! is open: it takes no name in the output directory once written and cannot be left behind
//! by a killed run; elsewhere it is removed when the store is dropped.

use crate::error::IoError;
use astrosolve_model::instrument::Fov;
use astrosolve_model::{Observation, ObservationSet, ObservationStore};
use std::cell::RefCell;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};

/// Bytes of one observation in the file.
pub const RECORD_BYTES: usize = 52;
const HEADER_BYTES: usize = 32;
const MAGIC: &[u8; 8] = b"ASOBSv1\0";

/// Observations on disk, read source by source ([`ObservationStore`]); the source offsets stay
/// in memory (8 bytes per source).
#[derive(Debug)]
pub struct ObservationFile {
    path: PathBuf,
    /// Closed in `drop`, before the name is removed where it could not be at once.
    file: ManuallyDrop<File>,
    source_offsets: Vec<usize>,
}

impl Drop for ObservationFile {
    fn drop(&mut self) {
        // SAFETY: dropped once, here, and not used after
        unsafe { ManuallyDrop::drop(&mut self.file) };
        #[cfg(not(unix))]
        let _ = std::fs::remove_file(&self.path);
    }
}

thread_local! {
    /// Per thread: the bytes read and the records decoded (one source at a time).
    static BUFFERS: RefCell<(Vec<u8>, Vec<Observation>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

fn encode(o: &Observation, out: &mut [u8]) {
    out[0] = match o.fov {
        Fov::Preceding => 0,
        Fov::Following => 1,
    };
    out[1] = o.row;
    out[2] = o.strip;
    out[3] = 0;
    for (k, v) in [o.t, o.eta, o.zeta, o.sigma_eta, o.sigma_zeta, o.ac_coord]
        .iter()
        .enumerate()
    {
        out[4 + 8 * k..12 + 8 * k].copy_from_slice(&v.to_le_bytes());
    }
}

fn decode(b: &[u8], source_index: u32) -> Option<Observation> {
    let fov = match b[0] {
        0 => Fov::Preceding,
        1 => Fov::Following,
        _ => return None,
    };
    let f = |k: usize| f64::from_le_bytes(b[4 + 8 * k..12 + 8 * k].try_into().unwrap());
    Some(Observation {
        source_index,
        fov,
        row: b[1],
        strip: b[2],
        t: f(0),
        eta: f(1),
        zeta: f(2),
        sigma_eta: f(3),
        sigma_zeta: f(4),
        ac_coord: f(5),
    })
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

impl ObservationFile {
    /// Writes `obs` to a new file `path` (refused if it exists) and opens it for reading; on
    /// Unix the name is removed at once (the open file stays readable), elsewhere on drop.
    ///
    /// Given: `obs`, observations grouped by source; `path`, on a disk (not a RAM file system,
    /// or nothing is saved).
    /// Returned: the store, or the error naming the file.
    pub fn create(path: &Path, obs: &ObservationSet) -> Result<ObservationFile, IoError> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => IoError::Exists {
                    path: path.to_path_buf(),
                },
                _ => IoError::os(path, "create", e),
            })?;
        let written = (|| {
            let mut w = BufWriter::with_capacity(1 << 20, file);
            let mut header = [0u8; HEADER_BYTES];
            header[..8].copy_from_slice(MAGIC);
            header[8..16].copy_from_slice(&(obs.len() as u64).to_le_bytes());
            header[16..24].copy_from_slice(&(obs.n_sources() as u64).to_le_bytes());
            header[24..32].copy_from_slice(&(RECORD_BYTES as u64).to_le_bytes());
            w.write_all(&header)?;
            let mut rec = [0u8; RECORD_BYTES];
            for o in &obs.obs {
                encode(o, &mut rec);
                w.write_all(&rec)?;
            }
            // flushed, not synced: a scratch file read back through the page cache
            w.into_inner().map_err(|e| e.into_error()).map(drop)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(path);
            return Err(IoError::os(path, "write", e));
        }
        let file = File::open(path).map_err(|e| {
            let _ = std::fs::remove_file(path);
            IoError::os(path, "open", e)
        })?;
        #[cfg(unix)]
        std::fs::remove_file(path).map_err(|e| IoError::os(path, "remove", e))?;
        Ok(ObservationFile {
            path: path.to_path_buf(),
            file: ManuallyDrop::new(file),
            source_offsets: obs.source_offsets.clone(),
        })
    }

    /// Where the file was written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes on disk.
    pub fn file_bytes(&self) -> u64 {
        (HEADER_BYTES + RECORD_BYTES * self.n_observations()) as u64
    }

    /// Resident bytes (the source offsets).
    pub fn resident_bytes(&self) -> usize {
        self.source_offsets.capacity() * std::mem::size_of::<usize>()
    }

    fn read_source(
        &self,
        i: usize,
        bytes: &mut Vec<u8>,
        recs: &mut Vec<Observation>,
    ) -> Result<(), String> {
        let (a, b) = (self.source_offsets[i], self.source_offsets[i + 1]);
        bytes.resize((b - a) * RECORD_BYTES, 0);
        read_at(&self.file, bytes, (HEADER_BYTES + a * RECORD_BYTES) as u64).map_err(|e| {
            format!(
                "{}: cannot read the observations {a}..{b} of source {i} back: {e}",
                self.path.display()
            )
        })?;
        recs.clear();
        for (k, rec) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
            recs.push(decode(rec, i as u32).ok_or_else(|| {
                format!(
                    "{}: observation {} (source {i}) read back corrupt (FoV code {})",
                    self.path.display(),
                    a + k,
                    rec[0]
                )
            })?);
        }
        Ok(())
    }
}

impl ObservationStore for ObservationFile {
    fn source_offsets(&self) -> &[usize] {
        &self.source_offsets
    }

    fn with_source(&self, i: usize, f: &mut dyn FnMut(&[Observation])) -> Result<(), String> {
        BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                let (bytes, recs) = &mut *buf;
                self.read_source(i, bytes, recs)?;
                f(recs);
                Ok(())
            }
            // called from inside `f` on this thread: buffers of its own
            Err(_) => {
                let (mut bytes, mut recs) = (Vec::new(), Vec::new());
                self.read_source(i, &mut bytes, &mut recs)?;
                f(&recs);
                Ok(())
            }
        })
    }
}
