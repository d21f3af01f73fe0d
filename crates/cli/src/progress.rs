//! Progress bars of the long commands, one style for all.

use astrosolve_core::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` steps labelled `what`.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what:<10} [{{bar:30}}] {{pos}}/{{len}} {{msg}} ({{elapsed}})"
        ))
        .expect("progress template")
        .progress_chars("=> "),
    );
    pb
}

/// The solver's progress on `pb`: inner iterations in the message, one line per outer
/// iteration. Returns true (go on) until Ctrl-C is pressed ([`crate::interrupt`]: the
/// callback holds a [`crate::interrupt::Solving`] for as long as it lives, so a Ctrl-C
/// during the solve stops the solver instead of the process).
pub fn solver_events(pb: &ProgressBar) -> impl FnMut(Progress) -> bool + '_ {
    let solving = crate::interrupt::Solving::start();
    move |ev| {
        let _keep = &solving;
        match ev {
            Progress::Inner {
                outer,
                iteration,
                residual,
            } => pb.set_message(format!(
                "outer {} inner {iteration} residual {residual:.1e}",
                outer + 1
            )),
            Progress::Outer(r) => {
                crate::interrupt::record_outer(r.iteration);
                pb.set_position(r.iteration as u64);
                pb.suspend(|| {
                    let in_sigma = r
                        .max_update_sigma
                        .map(|s| format!(", {s:.2e} σ"))
                        .unwrap_or_default();
                    println!(
                        "  outer {:>2}: {:>4} inner iterations, largest update {:.3} µas (sources {:.3}{in_sigma}, attitude {:.3}, calibration {:.3}), {} outliers, {:.1} s",
                        r.iteration,
                        r.inner_iterations,
                        r.max_update_uas,
                        r.max_update_parts_uas[0],
                        r.max_update_parts_uas[1],
                        r.max_update_parts_uas[2],
                        r.n_outliers,
                        r.wall_seconds
                    )
                });
            }
        }
        !crate::interrupt::requested()
    }
}

/// A counter of `what` for work of unknown length (a streamed file): count, rate, elapsed.
pub fn spinner(what: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what:<10} {{pos}} ({{per_sec}}, {{elapsed}}) {{msg}}"
        ))
        .expect("progress template"),
    );
    pb.enable_steady_tick(std::time::Duration::from_millis(200));
    pb
}
