//! Ctrl-C (SIGINT, through the `ctrlc` crate). While a solver runs ([`Solving`], held by the
//! progress callback of `crate::progress::solver_events`), the first Ctrl-C asks it to stop:
//! the callback returns false, the solver returns `SolveError::Interrupted` at the next inner
//! iteration, nothing is written, and `main` says after which outer iteration it stopped and
//! exits 130. While outputs are written ([`Writing`]), the first Ctrl-C waits for them to be
//! complete. Anywhere else, or at a second Ctrl-C, the process exits 130 at once, removing
//! the temporary files being written (`astrosolve_io::output`): files already renamed into
//! place are complete, and no half-written one is left.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

/// Set by the first Ctrl-C.
static REQUESTED: AtomicBool = AtomicBool::new(false);
/// Solvers polling [`requested`] now.
static SOLVING: AtomicUsize = AtomicUsize::new(0);
/// Output writers that must not be cut short now.
static WRITING: AtomicUsize = AtomicUsize::new(0);
/// Outer iterations completed by the solver running last.
static LAST_OUTER: AtomicUsize = AtomicUsize::new(0);

/// Installs the handler (once, at start-up). If it cannot be installed, Ctrl-C keeps its
/// default action (the process ends at once), which is said on stderr.
pub fn install() {
    if let Err(e) = ctrlc::set_handler(on_ctrl_c) {
        eprintln!("warning: cannot handle Ctrl-C ({e}); an interrupt will end the run at once");
    }
}

fn on_ctrl_c() {
    let again = REQUESTED.swap(true, SeqCst);
    if !again && SOLVING.load(SeqCst) > 0 {
        eprintln!(
            "\nCtrl-C: stopping the solver at its next iteration; nothing will be written (press Ctrl-C again to stop at once)"
        );
        return;
    }
    if !again && WRITING.load(SeqCst) > 0 {
        eprintln!(
            "\nCtrl-C: finishing the files being written first (press Ctrl-C again to stop at once)"
        );
        return;
    }
    eprintln!(
        "\ninterrupted by Ctrl-C: stopped at once; no half-written file is left (files already complete are kept)"
    );
    astrosolve_io::output::remove_temporaries_and_exit(130)
}

/// True once Ctrl-C was pressed.
pub fn requested() -> bool {
    REQUESTED.load(SeqCst)
}

/// Records that the running solver completed outer iteration `k` (1-based).
pub fn record_outer(k: usize) {
    LAST_OUTER.store(k, SeqCst);
}

/// Outer iterations completed by the solver running last (0 if none).
pub fn last_outer() -> usize {
    LAST_OUTER.load(SeqCst)
}

/// Held while a solver runs and polls [`requested`] (through its progress callback).
pub struct Solving(());

impl Solving {
    pub fn start() -> Solving {
        LAST_OUTER.store(0, SeqCst);
        SOLVING.fetch_add(1, SeqCst);
        Solving(())
    }
}

impl Drop for Solving {
    fn drop(&mut self) {
        SOLVING.fetch_sub(1, SeqCst);
    }
}

/// Held while a set of output files is written: a first Ctrl-C lets them be completed.
pub struct Writing(());

impl Writing {
    pub fn start() -> Writing {
        WRITING.fetch_add(1, SeqCst);
        Writing(())
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        WRITING.fetch_sub(1, SeqCst);
    }
}

/// The message for a solve stopped by Ctrl-C, written nothing into `out`.
pub fn stopped_message(out: &std::path::Path, what: &str) -> String {
    format!(
        "interrupted by Ctrl-C after outer iteration {}; {what} was written to {}",
        last_outer(),
        out.display()
    )
}
