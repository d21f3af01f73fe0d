//! Safe outputs, shared by every writer of astrosolve (data-set tables, solution files,
//! reports, CSV, PNG): each file is filled under a temporary name `.NAME.partial` beside it and
//! renamed into place (a rename within a directory is atomic on POSIX file systems), so a
//! failed or interrupted run never leaves a half-written file under the final name, and the
//! temporary is removed on every error path. Temporaries are registered while open, so a Ctrl-C
//! handler that must exit at once removes them first ([`remove_temporaries_and_exit`]).
//!
//! Output directories are checked before any work ([`check_output_location`],
//! [`ensure_writable_dir`]): not an input directory, nor inside one, nor containing an input
//! directory or file; created, and a probe file written and removed in them, so a directory
//! that cannot be written is refused at once rather than after a long computation.

use crate::error::IoError;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Temporaries being written (created, not yet renamed into place or removed).
static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn temporaries() -> MutexGuard<'static, Vec<PathBuf>> {
    TEMPORARIES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fails with [`IoError::Exists`] if `path` exists and `overwrite` is false.
pub fn check_overwrite(path: &Path, overwrite: bool) -> Result<(), IoError> {
    if !overwrite && path.exists() {
        return Err(IoError::Exists {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Path of the temporary file a writer fills before renaming it into place:
/// `DIR/.NAME.partial` for `DIR/NAME`.
pub fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.partial"))
}

/// A file being written under its temporary name ([`partial_path`]). [`PartialFile::commit`]
/// renames it into place; dropped without a commit (an error, a panic), it removes the
/// temporary.
#[derive(Debug)]
pub struct PartialFile {
    path: PathBuf,
    tmp: PathBuf,
    done: bool,
}

impl PartialFile {
    /// Creates the temporary of `path` (refused if `path` exists and `overwrite` is false) and
    /// returns it with the open file. Errors name `path`.
    pub fn create(path: &Path, overwrite: bool) -> Result<(PartialFile, File), IoError> {
        check_overwrite(path, overwrite)?;
        let tmp = partial_path(path);
        // created and registered under the lock: a Ctrl-C handler that removes the registered
        // temporaries never misses one that exists
        let mut reg = temporaries();
        let file = File::create(&tmp).map_err(|e| {
            IoError::os(
                path,
                "create",
                std::io::Error::new(e.kind(), format!("{e} (temporary {})", tmp.display())),
            )
        })?;
        reg.push(tmp.clone());
        Ok((
            PartialFile {
                path: path.to_path_buf(),
                tmp,
                done: false,
            },
            file,
        ))
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary path being filled.
    pub fn temporary(&self) -> &Path {
        &self.tmp
    }

    /// Renames the temporary into place (on failure it is removed). The file must be closed or
    /// flushed by the caller first.
    pub fn commit(mut self) -> Result<(), IoError> {
        let mut reg = temporaries();
        let r = std::fs::rename(&self.tmp, &self.path)
            .map_err(|e| IoError::os(&self.path, "rename into place", e));
        if r.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        reg.retain(|p| p != &self.tmp);
        self.done = true;
        r
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.done {
            let mut reg = temporaries();
            let _ = std::fs::remove_file(&self.tmp);
            reg.retain(|p| p != &self.tmp);
        }
    }
}

/// Writes `path` through its temporary and a rename: `fill` writes the content into the open
/// temporary file; on any error the temporary is removed and nothing appears under `path`.
/// Refuses to replace an existing `path` unless `overwrite`.
pub fn write_atomically(
    path: &Path,
    overwrite: bool,
    fill: impl FnOnce(File) -> Result<(), IoError>,
) -> Result<(), IoError> {
    let (partial, file) = PartialFile::create(path, overwrite)?;
    fill(file)?;
    partial.commit()
}

/// Writes `text` to `path` atomically ([`write_atomically`], synced to disk before the
/// rename). Errors name `path`.
pub fn write_text(path: &Path, text: &str, overwrite: bool) -> Result<(), IoError> {
    write_atomically(path, overwrite, |mut f| {
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| IoError::os(path, "write", e))
    })
}

/// Writes a text file line by line atomically: `fill` writes into a buffered writer; an
/// I/O error while filling or flushing names `path`.
pub fn write_lines(
    path: &Path,
    overwrite: bool,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), IoError> {
    write_atomically(path, overwrite, |f| {
        let mut w = BufWriter::new(f);
        fill(&mut w)
            .and_then(|()| w.flush())
            .map_err(|e| IoError::os(path, "write", e))
    })
}

/// Writes an 8-bit RGB image (`rgb`: `width × height × 3` bytes, rows top to bottom) as a PNG
/// file atomically. Errors name `path`.
pub fn write_png(
    path: &Path,
    overwrite: bool,
    width: u32,
    height: u32,
    rgb: &[u8],
) -> Result<(), IoError> {
    if rgb.len() != width as usize * height as usize * 3 {
        return Err(IoError::invalid(
            path,
            format!(
                "internal error: {} bytes for a {width} × {height} RGB image",
                rgb.len()
            ),
        ));
    }
    write_atomically(path, overwrite, |f| {
        let err = |e: png::EncodingError| match e {
            png::EncodingError::IoError(e) => IoError::os(path, "write", e),
            e => IoError::invalid(path, format!("cannot encode PNG: {e}")),
        };
        let mut buf = BufWriter::new(f);
        let mut enc = png::Encoder::new(&mut buf, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(err)?;
        w.write_image_data(rgb).map_err(err)?;
        w.finish().map_err(err)?;
        buf.flush().map_err(|e| IoError::os(path, "write", e))
    })
}

/// Removes every temporary being written and exits the process with `code`, for a Ctrl-C
/// handler that cannot wait: holding the registry until the exit, no writer creates or renames
/// a temporary afterwards. Files already renamed into place are complete and stay.
pub fn remove_temporaries_and_exit(code: i32) -> ! {
    let reg = temporaries();
    for p in reg.iter() {
        let _ = std::fs::remove_file(p);
    }
    std::process::exit(code)
}

/// `path` as an absolute path with symbolic links, `.` and `..` resolved in its longest
/// existing prefix (canonicalised) and the rest, not yet created, normalised lexically.
pub fn canonical_path(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let mut out = PathBuf::new();
    let mut existing = true;
    for c in abs.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => out.push(c.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => {
                out.push(n);
                if existing {
                    match out.canonicalize() {
                        Ok(c) => out = c,
                        Err(_) => existing = false,
                    }
                }
            }
        }
    }
    out
}

/// Refuses an output directory `out` that is, is inside or contains one of the input
/// directories in `inputs`, or contains one of the input files in `inputs` (an input is a
/// file if it is one on disk, else a directory). Paths are compared canonically
/// ([`canonical_path`]), so `./sim`, `sim/` and a symbolic link to it are the same. Writing
/// there could replace the inputs (a solution's attitude.parquet and calibration.parquet have
/// the names of a data set's) or mix outputs with them.
pub fn check_output_location(out: &Path, inputs: &[&Path]) -> Result<(), IoError> {
    let o = canonical_path(out);
    for input in inputs {
        let i = canonical_path(input);
        let refuse = |what: String| {
            Err(IoError::invalid(
                out,
                format!("{what}; writing there could replace or mix with the inputs: choose an output directory outside it"),
            ))
        };
        if i.is_file() {
            if i.starts_with(&o) {
                return refuse(format!(
                    "the output directory contains the input file {}",
                    input.display()
                ));
            }
        } else if o == i {
            return refuse(format!(
                "the output directory is the input directory {}",
                input.display()
            ));
        } else if o.starts_with(&i) {
            return refuse(format!(
                "the output directory is inside the input directory {}",
                input.display()
            ));
        } else if i.starts_with(&o) {
            return refuse(format!(
                "the output directory contains the input directory {}",
                input.display()
            ));
        }
    }
    Ok(())
}

/// Creates `dir` (with its parents) and checks that files can be written in it by creating,
/// writing and removing a probe file. Errors name `dir`.
pub fn ensure_writable_dir(dir: &Path) -> Result<(), IoError> {
    // IoError::Os even for "not found": the directory is what cannot be made or written
    let os = |action, source| IoError::Os {
        path: dir.to_path_buf(),
        action,
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| os("create the output directory", e))?;
    if !dir.is_dir() {
        return Err(IoError::invalid(dir, "the output path is not a directory"));
    }
    let probe = dir.join(format!(".astrosolve-write-probe-{}", std::process::id()));
    let r = File::create(&probe)
        .and_then(|mut f| f.write_all(b"probe").and_then(|()| f.sync_all()))
        .map_err(|e| os("write in the output directory", e));
    let _ = std::fs::remove_file(&probe);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn atomic_writes_leave_nothing_behind_on_error() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.txt");
        write_text(&p, "one", false).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "one");
        // refused without overwrite; replaced with it
        assert!(matches!(
            write_text(&p, "two", false),
            Err(IoError::Exists { .. })
        ));
        write_text(&p, "two", true).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        // a failing filler: the old file is untouched, no temporary is left
        let e = write_lines(&p, true, |w| {
            writeln!(w, "half")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(e.to_string().starts_with(&p.display().to_string()), "{e}");
        assert!(e.to_string().contains("disk full"), "{e}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        assert_eq!(names(d.path()), ["a.txt"]);
        // the temporary cannot be created (a directory of its name): the error names the file
        let q = d.path().join("b.png");
        std::fs::create_dir(partial_path(&q)).unwrap();
        let e = write_png(&q, true, 1, 1, &[0, 0, 0]).unwrap_err();
        assert!(e.to_string().starts_with(&q.display().to_string()), "{e}");
        assert!(!q.exists());
        std::fs::remove_dir(partial_path(&q)).unwrap();
        assert!(!temporaries().iter().any(|t| t.starts_with(d.path())));
    }

    #[test]
    fn png_reads_back() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("i.png");
        let rgb: Vec<u8> = (0..2 * 3 * 3).map(|i| i as u8 * 10).collect();
        write_png(&p, false, 2, 3, &rgb).unwrap();
        let dec = png::Decoder::new(std::io::BufReader::new(File::open(&p).unwrap()));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        let info = r.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (2, 3));
        assert_eq!(&buf[..info.buffer_size()], &rgb[..]);
        assert!(write_png(&p, true, 2, 2, &rgb).is_err());
        assert_eq!(names(d.path()), ["i.png"]);
    }

    #[test]
    fn output_locations_clear_of_inputs() {
        let d = tempfile::tempdir().unwrap();
        let sim = d.path().join("sim");
        std::fs::create_dir_all(sim.join("truth")).unwrap();
        let file = sim.join("x.csv");
        std::fs::write(&file, "a").unwrap();
        let refused = |out: &Path, inp: &Path| check_output_location(out, &[inp]).is_err();
        assert!(refused(&sim, &sim));
        assert!(refused(&sim.join("."), &sim));
        assert!(refused(&d.path().join("sim/truth/../"), &sim));
        assert!(refused(&sim.join("sol"), &sim)); // inside, not yet existing
        assert!(refused(&sim.join("new/../sol"), &sim));
        assert!(refused(d.path(), &sim)); // contains
        assert!(refused(&sim, &file)); // contains an input file
        assert!(!refused(&d.path().join("sol"), &sim));
        assert!(!refused(&sim.join("sol"), &file)); // beside an input file's directory: allowed
        assert!(!refused(&d.path().join("simulation"), &sim)); // a prefix of the name only
        #[cfg(unix)]
        {
            let link = d.path().join("link");
            std::os::unix::fs::symlink(&sim, &link).unwrap();
            assert!(refused(&link, &sim));
            assert!(refused(&link.join("sol"), &sim));
        }
        let e = check_output_location(&sim, &[&sim])
            .unwrap_err()
            .to_string();
        assert!(e.contains("is the input directory"), "{e}");
    }

    #[test]
    fn output_directory_must_be_writable() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("a/b");
        ensure_writable_dir(&out).unwrap();
        assert!(out.is_dir());
        assert!(names(&out).is_empty(), "the probe is removed");
        // under a regular file: refused, naming the directory
        let f = d.path().join("f");
        std::fs::write(&f, "x").unwrap();
        let e = ensure_writable_dir(&f.join("sub")).unwrap_err().to_string();
        assert!(e.starts_with(&f.join("sub").display().to_string()), "{e}");
        assert!(ensure_writable_dir(&f).is_err());
    }
}
