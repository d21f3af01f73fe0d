//! PNG plots with plotters and an embedded font (no system font libraries), drawn in memory
//! and written through the one atomic writer ([`png`]).

use astrosolve_core::SolveReport;
use astrosolve_model::source::Source;
use astrosolve_model::units::UAS;
use astrosolve_scanning::SourceResult;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

type R = Result<(), Box<dyn std::error::Error>>;

/// The drawing area a plot is drawn on.
pub type Root<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draws a `size` (width, height in pixels) plot with `draw` and writes it to `path` as a PNG
/// through a temporary file and a rename (`astrosolve_vsh::plot::render_png`, the one plot
/// writer): a failed or interrupted plot leaves no half-written file, and every error names
/// `path`.
pub fn png(path: &Path, size: (u32, u32), draw: impl FnOnce(&Root<'_>) -> R) -> R {
    astrosolve_vsh::plot::render_png(path, size, |root| {
        draw(root).map_err(|e| -> Box<dyn std::error::Error> {
            format!("{}: cannot draw: {e}", path.display()).into()
        })
    })
}

/// Largest update per outer iteration and the inner residual history.
pub fn convergence(path: &Path, r: &SolveReport) -> R {
    png(path, (1000, 450), |root| {
        root.fill(&WHITE)?;
        let (left, right) = root.split_horizontally(500);
        let pts: Vec<(f64, f64)> = r
            .history
            .iter()
            .map(|h| (h.iteration as f64, h.max_update_uas.max(1e-6).log10()))
            .collect();
        let ymax = pts.iter().map(|p| p.1).fold(0.0, f64::max) + 0.5;
        let ymin = pts.iter().map(|p| p.1).fold(0.0, f64::min).min(-0.5) - 0.5;
        let mut c = ChartBuilder::on(&left)
            .caption("Outer iterations", ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(0.5..(pts.len() as f64 + 0.5), ymin..ymax)?;
        c.configure_mesh()
            .x_desc("outer iteration")
            .y_desc("log10 largest update [µas]")
            .draw()?;
        c.draw_series(LineSeries::new(pts.clone(), &BLUE))?;
        c.draw_series(pts.iter().map(|&p| Circle::new(p, 4, BLUE.filled())))?;
        c.draw_series(LineSeries::new(
            vec![(0.5, 0.0), (pts.len() as f64 + 0.5, 0.0)],
            &RED,
        ))?
        .label("1 µas")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
        c.configure_series_labels()
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()?;

        let mut inner: Vec<(f64, f64)> = Vec::new();
        let mut k = 0.0;
        for h in &r.history {
            let step = h.inner_iterations as f64 / h.inner_history.len().max(1) as f64;
            for v in &h.inner_history {
                k += step;
                inner.push((k, v.max(1e-16).log10()));
            }
        }
        let xmax = k.max(1.0);
        let ymin = inner.iter().map(|p| p.1).fold(0.0, f64::min) - 0.5;
        let mut c = ChartBuilder::on(&right)
            .caption(
                format!("Inner iterations ({})", r.solver.to_uppercase()),
                ("sans-serif", 20),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..xmax, ymin..0.5)?;
        c.configure_mesh()
            .x_desc("cumulative inner iteration")
            .y_desc("log10 relative residual")
            .draw()?;
        c.draw_series(inner.iter().map(|&p| Circle::new(p, 2, GREEN.filled())))?;
        Ok(())
    })
}

/// Parallax error |ϖ − ϖ_true| and formal error σ_ϖ against G magnitude.
pub fn parallax_vs_magnitude(path: &Path, sol: &[SourceResult], truth: &[Source]) -> R {
    png(path, (800, 550), |root| {
        root.fill(&WHITE)?;
        let mut err = Vec::new();
        let mut sig = Vec::new();
        for (s, t) in sol.iter().zip(truth) {
            if !s.solved {
                continue;
            }
            let g = t.phot_g_mean_mag;
            let e = ((s.params.parallax - t.params.parallax).abs() / UAS).max(0.1);
            err.push((g, e.log10()));
            sig.push((g, (s.sigma(2) / UAS).log10()));
        }
        let (gmin, gmax) = err
            .iter()
            .fold((30.0f64, 0.0f64), |(a, b), p| (a.min(p.0), b.max(p.0)));
        let ymax = err.iter().chain(&sig).map(|p| p.1).fold(0.0, f64::max) + 0.3;
        let ymin = err
            .iter()
            .chain(&sig)
            .map(|p| p.1)
            .fold(10.0, f64::min)
            .max(-1.0)
            - 0.3;
        let mut c = ChartBuilder::on(root)
            .caption(
                "Parallax: error against truth and formal error",
                ("sans-serif", 22),
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((gmin - 0.3)..(gmax + 0.3), ymin..ymax)?;
        c.configure_mesh()
            .x_desc("G [mag]")
            .y_desc("log10 parallax error [µas]")
            .draw()?;
        c.draw_series(
            err.iter()
                .map(|&p| Circle::new(p, 2, BLUE.mix(0.5).filled())),
        )?
        .label("|ϖ − ϖ_true|")
        .legend(|(x, y)| Circle::new((x + 10, y), 3, BLUE.filled()));
        c.draw_series(sig.iter().map(|&p| Circle::new(p, 2, RED.filled())))?
            .label("formal σ_ϖ")
            .legend(|(x, y)| Circle::new((x + 10, y), 3, RED.filled()));
        c.configure_series_labels()
            .background_style(WHITE)
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        Ok(())
    })
}

/// Eigenvalue spectrum of the reduced normal matrix (no constraints, no damping): the frame
/// modes are the six values at the bottom.
pub fn spectrum(path: &Path, ev: &[f64]) -> R {
    png(path, (800, 450), |root| {
        root.fill(&WHITE)?;
        let top = ev.iter().fold(f64::MIN_POSITIVE, |m, v| m.max(v.abs()));
        let pts: Vec<(f64, f64)> = ev
            .iter()
            .enumerate()
            .map(|(i, v)| ((i + 1) as f64, (v.abs() / top).max(1e-20).log10()))
            .collect();
        let ymin = pts.iter().map(|p| p.1).fold(0.0, f64::min) - 0.5;
        let mut c = ChartBuilder::on(root)
            .caption(
                "Reduced normal matrix: eigenvalues / largest",
                ("sans-serif", 20),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d((0.8f64..(ev.len() as f64 * 1.2)).log_scale(), ymin..0.5)?;
        c.configure_mesh()
            .x_desc("eigenvalue index (ascending)")
            .y_desc("log10 |λ| / λmax")
            .draw()?;
        c.draw_series(
            pts.iter()
                .enumerate()
                .map(|(i, &p)| Circle::new(p, 2, if i < 6 { RED.filled() } else { BLUE.filled() })),
        )?;
        Ok(())
    })
}
