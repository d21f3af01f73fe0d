//! `astrosolve._core`: the Rust half of the Python package `astrosolve` (PyO3). Thin wrappers
//! over the library crates — the same calls the command line makes (`astrosolve_epoch::run`,
//! `astrosolve_vsh::analyse_data`, `astrosolve_scanning::run`), so Python and the CLI give the
//! same bits. The Python half (`python/astrosolve/`) checks arguments, converts tables and
//! units, draws the progress bar and builds the result objects.
//!
//! Conventions: every long call releases the GIL (`Python::detach`); progress reaches Python
//! through [`progress::Progress`], which re-attaches at most ten times a second, checks for
//! Ctrl-C and stops the work cleanly; tables come back as lists of `(name, unit, array)` with
//! the arrays handed over without a copy (`Vec` → NumPy); errors raise
//! [`AstrosolveError`] with the command line's message (file, row, column).

use pyo3::prelude::*;

mod columns;
mod epoch;
mod progress;
mod scanning;
mod vsh;

pyo3::create_exception!(
    astrosolve,
    AstrosolveError,
    pyo3::exceptions::PyException,
    "An error of astrosolve's engine: bad input data (the message names the file or table, the \
row and the column), a refused solve, an output that exists. The messages are those of the \
astrosolve command line."
);

/// An engine error as a Python exception.
pub(crate) fn engine_error(e: impl std::fmt::Display) -> PyErr {
    AstrosolveError::new_err(e.to_string())
}

/// astrosolve's engine (Rust): epoch-astrometry fits, VSH fits, Gaia-like simulations and
/// solutions. Use the Python package `astrosolve`, which wraps these functions.
#[pymodule]
mod _core {
    #[pymodule_export]
    use super::AstrosolveError;

    #[pymodule_export]
    use super::epoch::{epoch_fit_files, epoch_fit_table, epoch_rust_seconds};

    #[pymodule_export]
    use super::vsh::vsh_fit;

    #[pymodule_export]
    use super::scanning::{simulate, solve};

    #[pymodule_export]
    const VERSION: &str = env!("CARGO_PKG_VERSION");
}
