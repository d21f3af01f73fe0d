//! Progress of Rust work (run with the GIL released) reported to a Python callable, and Ctrl-C.
//!
//! The engine calls [`Progress::report`] often (every inner iteration, every source batch,
//! from any thread); it re-attaches to the interpreter at most every [`INTERVAL`] (and on
//! events marked `force`), runs the signal handlers (`PyErr_CheckSignals`: a Ctrl-C raises
//! `KeyboardInterrupt` there) and calls `callback(kind, done, total, message)`. When either
//! raises, the error is kept, `report` returns false ("stop") and the engine stops cleanly;
//! the caller then raises the kept error. Signal handlers run on the main thread only, so
//! Ctrl-C is seen when the call was made from the main thread (as in a terminal or Jupyter).

use pyo3::prelude::*;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Shortest time between two calls into Python.
pub const INTERVAL: Duration = Duration::from_millis(100);

pub struct Progress {
    /// False: never calls into Python (benchmarks).
    active: bool,
    callback: Option<Py<PyAny>>,
    kind: &'static str,
    last: Mutex<Option<Instant>>,
    error: Mutex<Option<PyErr>>,
}

impl Progress {
    /// Progress of work of `kind` ("simulate", "solve", "epoch") to `callback` (None: only
    /// Ctrl-C is checked).
    pub fn new(callback: Option<Py<PyAny>>, kind: &'static str) -> Self {
        Progress {
            active: true,
            callback,
            kind,
            last: Mutex::new(None),
            error: Mutex::new(None),
        }
    }

    /// A progress that never calls into Python (no callback, no Ctrl-C).
    pub fn silent() -> Self {
        Progress {
            active: false,
            ..Progress::new(None, "")
        }
    }

    /// Reports `done` of `total` (0: unknown) with a message; `force` skips the rate limit.
    /// Returns false when the work should stop (Ctrl-C, or the callback raised).
    pub fn report(&self, done: u64, total: u64, message: &str, force: bool) -> bool {
        if !self.active {
            return true;
        }
        if self.failed() {
            return false;
        }
        {
            let Ok(mut last) = self.last.lock() else {
                return true;
            };
            let now = Instant::now();
            if !force && last.is_some_and(|t| now.duration_since(t) < INTERVAL) {
                return true;
            }
            *last = Some(now);
        }
        let outcome = Python::attach(|py| -> PyResult<()> {
            py.check_signals()?;
            if let Some(cb) = &self.callback {
                cb.call1(py, (self.kind, done, total, message))?;
            }
            Ok(())
        });
        match outcome {
            Ok(()) => true,
            Err(e) => {
                if let Ok(mut slot) = self.error.lock() {
                    slot.get_or_insert(e);
                }
                false
            }
        }
    }

    /// Whether a report failed (Ctrl-C or an exception in the callback).
    pub fn failed(&self) -> bool {
        self.error.lock().map(|e| e.is_some()).unwrap_or(false)
    }

    /// The exception that stopped the work, if any.
    pub fn take_error(&self) -> Option<PyErr> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }
}
