//! PNG plots: a vector field on an all-sky Aitoff projection (equatorial, α = 0 at the centre,
//! α increasing to the left) and the power spectrum per degree. Text uses the embedded DejaVu
//! Sans font registered with plotters' `ab_glyph` backend (no system font library needed).

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::VshError;
use crate::power::DegreePower;

static FONT: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn ensure_font() {
    REGISTER.call_once(|| {
        // The font is embedded at compile time; failure would be a build defect.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Aitoff projection of `(ra, dec)` [rad] centred on α = 0, α increasing to the left.
/// Returns `(x, y)` with `x ∈ [−π, π]`, `y ∈ [−π/2, π/2]`.
pub fn aitoff(ra: f64, dec: f64) -> (f64, f64) {
    let pi = std::f64::consts::PI;
    let mut lam = ra.rem_euclid(std::f64::consts::TAU);
    if lam > pi {
        lam -= std::f64::consts::TAU;
    }
    aitoff_lambda(lam, dec)
}

/// Aitoff projection for a longitude `lam ∈ [−π, π]` relative to the centre.
fn aitoff_lambda(lam: f64, dec: f64) -> (f64, f64) {
    let z = (dec.cos() * (0.5 * lam).cos()).clamp(-1.0, 1.0).acos();
    let k = if z.abs() < 1e-12 { 1.0 } else { z / z.sin() };
    (-(2.0 * dec.cos() * (0.5 * lam).sin() * k), dec.sin() * k)
}

/// One arrow of a field plot: position [rad] and vector `(v_α*, v_δ)` [µas/yr].
#[derive(Clone, Copy, Debug)]
pub struct FieldVector {
    /// Right ascension [rad].
    pub ra: f64,
    /// Declination [rad].
    pub dec: f64,
    /// Component along e_α [µas/yr].
    pub va: f64,
    /// Component along e_δ [µas/yr].
    pub vd: f64,
}

/// Unit direction on the projection of a tangent vector `(va, vd)` at `(ra, dec)`.
fn projected_direction(ra: f64, dec: f64, va: f64, vd: f64) -> Option<(f64, f64)> {
    let norm = va.hypot(vd);
    if norm == 0.0 || !norm.is_finite() {
        return None;
    }
    let (sa, ca) = ra.sin_cos();
    let (sd, cd) = dec.sin_cos();
    let u = [cd * ca, cd * sa, sd];
    let ea = [-sa, ca, 0.0];
    let ed = [-sd * ca, -sd * sa, cd];
    let t = [0, 1, 2].map(|i| (va * ea[i] + vd * ed[i]) / norm);
    let p0 = aitoff(ra, dec);
    for eps in [1e-4, -1e-4] {
        let w = [0, 1, 2].map(|i| u[i] + eps * t[i]);
        let (r2, d2) = (w[1].atan2(w[0]), w[2].atan2(w[0].hypot(w[1])));
        let p1 = aitoff(r2, d2);
        let (dx, dy) = ((p1.0 - p0.0) / eps, (p1.1 - p0.1) / eps);
        let l = dx.hypot(dy);
        if l.is_finite() && l > 0.0 && (p1.0 - p0.0).abs() < 0.1 {
            return Some((dx / l, dy / l));
        }
    }
    None
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> VshError {
    VshError::Plot {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The one way astrosolve writes a plot: draws a `size` (width, height in pixels) RGB image in
/// memory with `draw` (given the root drawing area; the embedded font is registered), then
/// writes it as a PNG through the atomic writer (`astrosolve_io::write_png`: a temporary file
/// renamed into place), so a failed or interrupted plot leaves no half-written file. Errors
/// name `path`. Shared with the command line's plots.
pub fn render_png<E: From<astrosolve_io::IoError>>(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), E>,
) -> Result<(), E> {
    ensure_font();
    let mut buf = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        draw(&root)?;
        root.present()
            .map_err(|e| astrosolve_io::IoError::Invalid {
                path: path.to_path_buf(),
                message: format!("cannot draw the plot: {e}"),
            })?;
    }
    astrosolve_io::write_png(path, true, size.0, size.1, &buf)?;
    Ok(())
}

/// A "nice" round number ≤ x (1, 2 or 5 times a power of ten).
fn nice_below(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 || !x.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(x.log10().floor());
    for m in [5.0, 2.0, 1.0] {
        if m * p <= x {
            return m * p;
        }
    }
    p
}

/// Draws a vector field on an Aitoff all-sky map into a PNG file.
pub fn plot_field(path: &Path, title: &str, vectors: &[FieldVector]) -> Result<(), VshError> {
    ensure_font();
    render_png(path, (1300, 760), |root| {
        root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 24))
            .margin(12)
            .build_cartesian_2d(-3.35f64..3.35f64, -1.78f64..1.72f64)
            .map_err(|e| plot_err(path, e))?;
        let grey = RGBColor(190, 190, 190);
        // Graticule: meridians every 30°, parallels every 30°.
        let pi = std::f64::consts::PI;
        for k in 0..12 {
            let ra = (k as f64 * 30.0).to_radians();
            let pts: Vec<(f64, f64)> = (0..=90)
                .map(|i| aitoff(ra, -pi / 2.0 + pi * i as f64 / 90.0))
                .collect();
            chart
                .draw_series(LineSeries::new(pts, &grey))
                .map_err(|e| plot_err(path, e))?;
        }
        for k in -2..=2 {
            let dec = (k as f64 * 30.0).to_radians();
            // Longitude relative to the centre from +π to −π (one edge to the other).
            let pts: Vec<(f64, f64)> = (0..=180)
                .map(|i| aitoff_lambda(pi * (1.0 - 1e-9) * (1.0 - i as f64 / 90.0), dec))
                .collect();
            chart
                .draw_series(LineSeries::new(pts, &grey))
                .map_err(|e| plot_err(path, e))?;
        }
        // Outline.
        // The Aitoff boundary (λ = ±π) is the ellipse x²/π² + y²/(π/2)² = 1; sampled uniformly in
        // its parameter so that no segment is shorter than a pixel.
        let outline: Vec<(f64, f64)> = (0..=720)
            .map(|i| {
                let t = std::f64::consts::TAU * i as f64 / 720.0;
                (pi * t.cos(), 0.5 * pi * t.sin())
            })
            .collect();
        chart
            .draw_series(LineSeries::new(outline, &BLACK))
            .map_err(|e| plot_err(path, e))?;
        // Labels.
        let font = ("sans-serif", 15).into_font().color(&RGBColor(90, 90, 90));
        for h in [60, 120, 180, 240, 300] {
            let (x, y) = aitoff((h as f64).to_radians(), 0.0);
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{h}°"),
                    (x + 0.03, y - 0.03),
                    font.clone(),
                )))
                .map_err(|e| plot_err(path, e))?;
        }
        for d in [-60, -30, 30, 60] {
            let (x, y) = aitoff(pi - 1e-9, (d as f64).to_radians());
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{d:+}°"),
                    (x - 0.33, y + 0.04),
                    font.clone(),
                )))
                .map_err(|e| plot_err(path, e))?;
        }
        // Arrows, longest 0.22 plot units.
        let vmax = vectors
            .iter()
            .map(|v| v.va.hypot(v.vd))
            .filter(|x| x.is_finite())
            .fold(0.0, f64::max);
        let scale = if vmax > 0.0 { 0.22 / vmax } else { 0.0 };
        let blue = RGBColor(20, 60, 170);
        let mut segs: Vec<Vec<(f64, f64)>> = Vec::new();
        let arrow =
            |x0: f64, y0: f64, dx: f64, dy: f64, len: f64, segs: &mut Vec<Vec<(f64, f64)>>| {
                let (x1, y1) = (x0 + dx * len, y0 + dy * len);
                segs.push(vec![(x0, y0), (x1, y1)]);
                let h = (0.3 * len).min(0.05);
                for ang in [0.45f64, -0.45] {
                    let (s, c) = ang.sin_cos();
                    let (bx, by) = (-dx, -dy);
                    let (rx, ry) = (c * bx - s * by, s * bx + c * by);
                    segs.push(vec![(x1, y1), (x1 + rx * h, y1 + ry * h)]);
                }
            };
        for v in vectors {
            if let Some((dx, dy)) = projected_direction(v.ra, v.dec, v.va, v.vd) {
                let (x0, y0) = aitoff(v.ra, v.dec);
                arrow(x0, y0, dx, dy, scale * v.va.hypot(v.vd), &mut segs);
            }
        }
        chart
            .draw_series(segs.into_iter().map(|s| PathElement::new(s, blue)))
            .map_err(|e| plot_err(path, e))?;
        // Scale bar.
        if vmax > 0.0 {
            let key = nice_below(vmax);
            let mut segs = Vec::new();
            arrow(-3.2, -1.62, 1.0, 0.0, scale * key, &mut segs);
            chart
                .draw_series(segs.into_iter().map(|s| PathElement::new(s, blue)))
                .map_err(|e| plot_err(path, e))?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{key} µas/yr"),
                    (-3.2 + scale * key + 0.06, -1.57),
                    ("sans-serif", 16).into_font(),
                )))
                .map_err(|e| plot_err(path, e))?;
        }
        chart
            .draw_series(std::iter::once(Text::new(
                "Aitoff, equatorial (ICRS), α = 0 at centre, increasing to the left",
                (0.6, -1.57),
                ("sans-serif", 14).into_font(),
            )))
            .map_err(|e| plot_err(path, e))?;
        Ok(())
    })
}

/// Draws the power per degree (raw power and the expected noise contribution, both families,
/// log scale) into a PNG file.
pub fn plot_power(path: &Path, power: &[DegreePower]) -> Result<(), VshError> {
    ensure_font();
    let lmax = power.len().max(1);
    let mut vals: Vec<f64> = Vec::new();
    for d in power {
        vals.extend([
            d.toroidal.power,
            d.spheroidal.power,
            d.toroidal.noise_bias,
            d.spheroidal.noise_bias,
        ]);
    }
    let pos: Vec<f64> = vals
        .iter()
        .copied()
        .filter(|v| *v > 0.0 && v.is_finite())
        .collect();
    let lo = pos.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = pos.iter().copied().fold(0.0, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > 0.0 {
        (lo / 3.0, hi * 3.0)
    } else {
        (1e-3, 1.0)
    };
    let floor = lo * 1.01;
    render_png(path, (900, 600), |root| {
        root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
        let mut chart = ChartBuilder::on(root)
            .caption("VSH power per degree", ("sans-serif", 24))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(0.5f64..(lmax as f64 + 0.5), (lo..hi).log_scale())
            .map_err(|e| plot_err(path, e))?;
        chart
            .configure_mesh()
            .x_labels(lmax.min(20) + 1)
            .x_label_formatter(&|x| format!("{:.0}", x))
            .y_label_formatter(&|y| format!("{:.1e}", y))
            .x_desc("degree l")
            .y_desc("power [(µas/yr)²]")
            .label_style(("sans-serif", 15))
            .draw()
            .map_err(|e| plot_err(path, e))?;
        let blue = RGBColor(20, 60, 170);
        let red = RGBColor(200, 40, 30);
        let l_of = |d: &DegreePower| d.l as f64;
        let t_pts: Vec<(f64, f64)> = power
            .iter()
            .map(|d| (l_of(d) - 0.08, d.toroidal.power.max(floor)))
            .collect();
        let s_pts: Vec<(f64, f64)> = power
            .iter()
            .map(|d| (l_of(d) + 0.08, d.spheroidal.power.max(floor)))
            .collect();
        chart
            .draw_series(t_pts.iter().map(|&p| Circle::new(p, 5, blue.filled())))
            .map_err(|e| plot_err(path, e))?
            .label("toroidal P_l (raw)")
            .legend(move |(x, y)| Circle::new((x, y), 5, blue.filled()));
        chart
            .draw_series(
                s_pts
                    .iter()
                    .map(|&p| TriangleMarker::new(p, 6, red.filled())),
            )
            .map_err(|e| plot_err(path, e))?
            .label("spheroidal P_l (raw)")
            .legend(move |(x, y)| TriangleMarker::new((x, y), 6, red.filled()));
        let tn: Vec<(f64, f64)> = power
            .iter()
            .map(|d| (l_of(d), d.toroidal.noise_bias.max(floor)))
            .collect();
        let sn: Vec<(f64, f64)> = power
            .iter()
            .map(|d| (l_of(d), d.spheroidal.noise_bias.max(floor)))
            .collect();
        let light_blue = RGBColor(120, 150, 230);
        let light_red = RGBColor(235, 140, 130);
        chart
            .draw_series(LineSeries::new(tn, light_blue.stroke_width(5)))
            .map_err(|e| plot_err(path, e))?
            .label("toroidal noise level tr(DC)")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x - 10, y), (x + 10, y)], light_blue.stroke_width(5))
            });
        chart
            .draw_series(LineSeries::new(sn, light_red.stroke_width(2)))
            .map_err(|e| plot_err(path, e))?
            .label("spheroidal noise level tr(DC)")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x - 10, y), (x + 10, y)], light_red.stroke_width(2))
            });
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| plot_err(path, e))?;
        Ok(())
    })
}

/// Near-uniform points on the sphere (Fibonacci lattice), `(ra, dec)` [rad].
pub fn fibonacci_points(n: usize) -> Vec<(f64, f64)> {
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    (0..n)
        .map(|i| {
            let z = 1.0 - (2.0 * i as f64 + 1.0) / n as f64;
            (
                (golden * i as f64).rem_euclid(std::f64::consts::TAU),
                z.asin(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aitoff_corners() {
        let (x, y) = aitoff(0.0, 0.0);
        assert!(x.abs() < 1e-15 && y.abs() < 1e-15);
        let (x, y) = aitoff(std::f64::consts::PI - 1e-12, 0.0);
        assert!((x + std::f64::consts::PI).abs() < 1e-6 && y.abs() < 1e-12);
        let (x, y) = aitoff(1.0, std::f64::consts::FRAC_PI_2);
        assert!(x.abs() < 1e-12 && (y - std::f64::consts::FRAC_PI_2).abs() < 1e-12);
        // α increases to the left.
        assert!(aitoff(0.5, 0.2).0 < 0.0);
    }
}
