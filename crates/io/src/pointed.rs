//! Files of a JASMINE-like pointed data set (docs/formats.md, "JASMINE-like pointed data
//! sets"):
//!
//! ```text
//! DIR/mission.toml                  [jasmine] (PointedMission) and [simulation]
//! DIR/exposures.parquet             exposure_id, t, ra, dec, roll, cal_unit (nominal attitude)
//! DIR/images.parquet                exposure_id, source_id, detector, x_pix, y_pix, position_error
//! DIR/stars.parquet                 starting catalogue: source_id, ra, dec, parallax, pmra, pmdec, hw_mag
//! DIR/reference_catalogue.parquet   Gaia-like 5-parameter astrometry of reference stars + errors, ref_epoch
//! DIR/truth/stars.parquet           true parameters (optional truth/ directory)
//! DIR/truth/exposures.parquet       true attitude
//! DIR/truth/distortion.parquet      true distortion of each calibration unit
//! ```
//!
//! Files hold degrees, mas, mas/yr, pixels and days; memory holds radians, rad/yr and days.

use crate::catalogue::julian_year;
use crate::error::{require_finite, require_positive_uncertainty, IoError};
use crate::table::{col, Prepared, Table};
use astrosolve_model::pointed::{
    n_terms, Distortion, Exposure, PointedInstrument, PointedMission, PointedObs, RefStar,
    MAX_DISTORTION_ORDER, N_ATT, N_DETECTORS, N_SRC,
};
use astrosolve_model::units::{DEG, MAS};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

pub const EXPOSURES_FILE: &str = "exposures.parquet";
pub const IMAGES_FILE: &str = "images.parquet";
pub const STARS_FILE: &str = "stars.parquet";
pub const REFERENCE_CATALOGUE_FILE: &str = "reference_catalogue.parquet";
pub const DISTORTION_FILE: &str = "distortion.parquet";

/// Stars of a pointed data set: identifiers, parameters (α, δ, ϖ, μα*, μδ; rad, rad/yr)
/// and Hw magnitudes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PointedStars {
    pub source_id: Vec<i64>,
    pub params: Vec<[f64; N_SRC]>,
    pub hw_mag: Vec<f64>,
}

/// A pointed data set in memory.
#[derive(Clone, Debug)]
pub struct PointedDataset {
    pub mission: PointedMission,
    pub exposures: Vec<Exposure>,
    pub images: Vec<PointedObs>,
    pub stars: PointedStars,
    pub reference: Vec<RefStar>,
}

/// Truth of a simulated pointed data set.
#[derive(Clone, Debug)]
pub struct PointedTruth {
    pub stars: PointedStars,
    pub attitude: Vec<[f64; N_ATT]>,
    pub distortion: Distortion,
}

/// `[jasmine]` of mission.toml; other sections are ignored here.
#[derive(Deserialize, Serialize)]
struct MissionFileView {
    jasmine: PointedMission,
    #[serde(default)]
    simulation: Option<toml::Value>,
}

/// True if `dir/mission.toml` exists and has a `[jasmine]` table.
pub fn is_pointed_dataset(dir: impl AsRef<Path>) -> bool {
    let p = dir.as_ref().join(crate::dataset::MISSION_FILE);
    std::fs::read_to_string(p)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .is_some_and(|t| t.contains_key("jasmine"))
}

/// Reads `[jasmine]` of a mission.toml (errors name line and column).
pub fn read_pointed_mission(path: impl AsRef<Path>) -> Result<PointedMission, IoError> {
    let path = path.as_ref();
    let v: MissionFileView = crate::toml_io::read_toml(path)?;
    v.jasmine
        .validate()
        .map_err(|m| IoError::invalid(path, m))?;
    Ok(v.jasmine)
}

fn value<'a>(path: &'a Path, row: usize, column: &str) -> impl Fn(String) -> IoError + 'a {
    let column = column.to_string();
    move |m| IoError::value(path, row, &column, m)
}

// ---------------------------------------------------------------- exposures

/// Writes exposures (attitude in degrees, t in days).
pub fn write_exposures(
    path: impl AsRef<Path>,
    ex: &[Exposure],
    overwrite: bool,
) -> Result<(), IoError> {
    let path = path.as_ref();
    for (i, e) in ex.iter().enumerate() {
        for (k, name) in ["ra", "dec", "roll"].iter().enumerate() {
            require_finite(e.attitude[k], "angle").map_err(value(path, i + 1, name))?;
        }
        require_finite(e.t, "time").map_err(value(path, i + 1, "t"))?;
    }
    Prepared {
        table: "pointed_exposures",
        columns: vec![
            col::i64("exposure_id", ex.iter().map(|e| e.exposure_id).collect()),
            col::f64("t", ex.iter().map(|e| e.t).collect()),
            col::f64("ra", ex.iter().map(|e| e.attitude[0] / DEG).collect()),
            col::f64("dec", ex.iter().map(|e| e.attitude[1] / DEG).collect()),
            col::f64("roll", ex.iter().map(|e| e.attitude[2] / DEG).collect()),
            col::i32("cal_unit", ex.iter().map(|e| e.cal_unit as i32).collect()),
        ],
        metadata: vec![],
    }
    .write(path, overwrite)
}

/// Reads exposures; identifiers must be unique, units non-negative, angles finite.
pub fn read_exposures(path: impl AsRef<Path>) -> Result<Vec<Exposure>, IoError> {
    let path = path.as_ref();
    let t = Table::read(path, &|f| {
        matches!(
            f.name().as_str(),
            "exposure_id" | "t" | "ra" | "dec" | "roll" | "cal_unit"
        )
    })?;
    let id = t.i64_required("exposure_id")?;
    let tt = t.f64_required("t")?;
    let ra = t.f64_required("ra")?;
    let dec = t.f64_required("dec")?;
    let roll = t.f64_required("roll")?;
    let unit = t.i64_required("cal_unit")?;
    let mut seen = HashMap::new();
    let mut out = Vec::with_capacity(id.len());
    for i in 0..id.len() {
        let row = i + 1;
        if let Some(first) = seen.insert(id[i], row) {
            return Err(IoError::value(
                path,
                row,
                "exposure_id",
                format!("duplicate exposure_id {} (first in row {first})", id[i]),
            ));
        }
        require_finite(tt[i], "time").map_err(value(path, row, "t"))?;
        require_finite(ra[i], "right ascension").map_err(value(path, row, "ra"))?;
        require_finite(dec[i], "declination").map_err(value(path, row, "dec"))?;
        if !(-90.0..=90.0).contains(&dec[i]) {
            return Err(IoError::value(
                path,
                row,
                "dec",
                format!("declination {} outside [-90, 90] deg", dec[i]),
            ));
        }
        require_finite(roll[i], "roll").map_err(value(path, row, "roll"))?;
        if !(0..=100_000).contains(&unit[i]) {
            return Err(IoError::value(
                path,
                row,
                "cal_unit",
                format!("calibration unit {} outside [0, 100000]", unit[i]),
            ));
        }
        out.push(Exposure {
            exposure_id: id[i],
            t: tt[i],
            cal_unit: unit[i] as usize,
            attitude: [ra[i] * DEG, dec[i] * DEG, roll[i] * DEG],
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------- stars

/// Writes a star table (deg, mas, mas/yr; `ref_epoch` Julian year in the metadata).
pub fn write_stars(
    path: impl AsRef<Path>,
    stars: &PointedStars,
    ref_epoch: f64,
    overwrite: bool,
) -> Result<(), IoError> {
    let path = path.as_ref();
    let n = stars.source_id.len();
    if stars.params.len() != n || stars.hw_mag.len() != n {
        return Err(IoError::invalid(path, "columns of different lengths"));
    }
    for (i, p) in stars.params.iter().enumerate() {
        for (k, name) in ["ra", "dec", "parallax", "pmra", "pmdec"]
            .iter()
            .enumerate()
        {
            require_finite(p[k], "value").map_err(value(path, i + 1, name))?;
        }
        require_finite(stars.hw_mag[i], "magnitude").map_err(value(path, i + 1, "hw_mag"))?;
    }
    let c = |k: usize, s: f64| stars.params.iter().map(|p| p[k] / s).collect::<Vec<f64>>();
    Prepared {
        table: "pointed_stars",
        columns: vec![
            col::i64("source_id", stars.source_id.clone()),
            col::f64("ra", c(0, DEG)),
            col::f64("dec", c(1, DEG)),
            col::f64("parallax", c(2, MAS)),
            col::f64("pmra", c(3, MAS)),
            col::f64("pmdec", c(4, MAS)),
            col::f64("hw_mag", stars.hw_mag.clone()),
        ],
        metadata: vec![("astrosolve.ref_epoch".into(), format!("{ref_epoch:?}"))],
    }
    .write(path, overwrite)
}

/// Reads a star table.
pub fn read_stars(path: impl AsRef<Path>) -> Result<PointedStars, IoError> {
    let path = path.as_ref();
    let t = Table::read(path, &|f| {
        matches!(
            f.name().as_str(),
            "source_id" | "ra" | "dec" | "parallax" | "pmra" | "pmdec" | "hw_mag"
        )
    })?;
    let id = t.i64_required("source_id")?;
    let cols: Vec<Vec<f64>> = ["ra", "dec", "parallax", "pmra", "pmdec", "hw_mag"]
        .iter()
        .map(|c| t.f64_required(c))
        .collect::<Result<_, _>>()?;
    let mut seen = HashMap::new();
    let mut out = PointedStars::default();
    for i in 0..id.len() {
        let row = i + 1;
        if let Some(first) = seen.insert(id[i], row) {
            return Err(IoError::value(
                path,
                row,
                "source_id",
                format!("duplicate source_id {} (first in row {first})", id[i]),
            ));
        }
        for (k, name) in ["ra", "dec", "parallax", "pmra", "pmdec", "hw_mag"]
            .iter()
            .enumerate()
        {
            require_finite(cols[k][i], "value").map_err(value(path, row, name))?;
        }
        if !(-90.0..=90.0).contains(&cols[1][i]) {
            return Err(IoError::value(
                path,
                row,
                "dec",
                format!("declination {} outside [-90, 90] deg", cols[1][i]),
            ));
        }
        out.source_id.push(id[i]);
        out.params.push([
            cols[0][i] * DEG,
            cols[1][i] * DEG,
            cols[2][i] * MAS,
            cols[3][i] * MAS,
            cols[4][i] * MAS,
        ]);
        out.hw_mag.push(cols[5][i]);
    }
    Ok(out)
}

// ---------------------------------------------------------------- images

/// Writes images: measured pixel coordinates on their detector and the position error.
pub fn write_images(
    path: impl AsRef<Path>,
    images: &[PointedObs],
    exposures: &[Exposure],
    source_ids: &[i64],
    instrument: &PointedInstrument,
    overwrite: bool,
) -> Result<(), IoError> {
    let path = path.as_ref();
    let mut px = Vec::with_capacity(images.len());
    let mut py = Vec::with_capacity(images.len());
    for (i, o) in images.iter().enumerate() {
        if o.exposure as usize >= exposures.len() || o.source as usize >= source_ids.len() {
            return Err(IoError::value(
                path,
                i + 1,
                "exposure_id",
                "exposure or source index outside the tables",
            ));
        }
        if o.detector as usize >= N_DETECTORS {
            return Err(IoError::value(
                path,
                i + 1,
                "detector",
                format!("detector {} outside 0..3", o.detector),
            ));
        }
        require_positive_uncertainty(o.sigma / MAS, "mas").map_err(value(
            path,
            i + 1,
            "position_error",
        ))?;
        let (x, y) = instrument.to_pixels(o.detector as usize, o.x, o.y);
        require_finite(x, "pixel coordinate").map_err(value(path, i + 1, "x_pix"))?;
        require_finite(y, "pixel coordinate").map_err(value(path, i + 1, "y_pix"))?;
        px.push(x);
        py.push(y);
    }
    Prepared {
        table: "pointed_images",
        columns: vec![
            col::i64(
                "exposure_id",
                images
                    .iter()
                    .map(|o| exposures[o.exposure as usize].exposure_id)
                    .collect(),
            ),
            col::i64(
                "source_id",
                images
                    .iter()
                    .map(|o| source_ids[o.source as usize])
                    .collect(),
            ),
            col::i8(
                "detector",
                images.iter().map(|o| o.detector as i8).collect(),
            ),
            col::f64("x_pix", px),
            col::f64("y_pix", py),
            col::f64(
                "position_error",
                images.iter().map(|o| o.sigma / MAS).collect(),
            ),
        ],
        metadata: vec![],
    }
    .write(path, overwrite)
}

/// Reads images, resolving exposure_id and source_id; pixel coordinates must lie within
/// the detector (±50 pixels of margin).
pub fn read_images(
    path: impl AsRef<Path>,
    exposures: &[Exposure],
    source_ids: &[i64],
    instrument: &PointedInstrument,
) -> Result<Vec<PointedObs>, IoError> {
    let path = path.as_ref();
    let t = Table::read(path, &|f| {
        matches!(
            f.name().as_str(),
            "exposure_id" | "source_id" | "detector" | "x_pix" | "y_pix" | "position_error"
        )
    })?;
    let eid = t.i64_required("exposure_id")?;
    let sid = t.i64_required("source_id")?;
    let det = t.i64_required("detector")?;
    let xp = t.f64_required("x_pix")?;
    let yp = t.f64_required("y_pix")?;
    let err = t.f64_required("position_error")?;
    let ex_index: HashMap<i64, usize> = exposures
        .iter()
        .enumerate()
        .map(|(i, e)| (e.exposure_id, i))
        .collect();
    let src_index: HashMap<i64, usize> = source_ids
        .iter()
        .enumerate()
        .map(|(i, &s)| (s, i))
        .collect();
    let lim = instrument.detector_pixels as f64 + 50.0;
    let mut out = Vec::with_capacity(eid.len());
    for i in 0..eid.len() {
        let row = i + 1;
        let Some(&e) = ex_index.get(&eid[i]) else {
            return Err(IoError::value(
                path,
                row,
                "exposure_id",
                format!("unknown exposure_id {} (not in exposures.parquet)", eid[i]),
            ));
        };
        let Some(&s) = src_index.get(&sid[i]) else {
            return Err(IoError::value(
                path,
                row,
                "source_id",
                format!("unknown source_id {} (not in stars.parquet)", sid[i]),
            ));
        };
        if !(0..N_DETECTORS as i64).contains(&det[i]) {
            return Err(IoError::value(
                path,
                row,
                "detector",
                format!("detector {} outside 0..3", det[i]),
            ));
        }
        for (name, v) in [("x_pix", xp[i]), ("y_pix", yp[i])] {
            require_finite(v, "pixel coordinate").map_err(value(path, row, name))?;
            if !(-50.0..=lim).contains(&v) {
                return Err(IoError::value(
                    path,
                    row,
                    name,
                    format!(
                        "pixel coordinate {v} outside the detector (0 … {})",
                        instrument.detector_pixels
                    ),
                ));
            }
        }
        require_positive_uncertainty(err[i], "mas").map_err(value(path, row, "position_error"))?;
        let (x, y) = instrument.from_pixels(det[i] as usize, xp[i], yp[i]);
        out.push(PointedObs {
            exposure: e as u32,
            source: s as u32,
            detector: det[i] as u8,
            x,
            y,
            sigma: err[i] * MAS,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------- reference catalogue

const REF_COLS: [&str; 10] = [
    "ra",
    "dec",
    "parallax",
    "pmra",
    "pmdec",
    "ra_error",
    "dec_error",
    "parallax_error",
    "pmra_error",
    "pmdec_error",
];

/// Writes the reference catalogue; `mission_epoch` is the Julian year of the mission's
/// reference epoch (the catalogue's `ref_epoch` = mission_epoch + epoch_offset_yr).
pub fn write_reference_catalogue(
    path: impl AsRef<Path>,
    refs: &[RefStar],
    source_ids: &[i64],
    mission_epoch: f64,
    overwrite: bool,
) -> Result<(), IoError> {
    let path = path.as_ref();
    let scale = [DEG, DEG, MAS, MAS, MAS];
    let mut cols: Vec<Vec<f64>> = (0..10).map(|_| Vec::with_capacity(refs.len())).collect();
    for (i, r) in refs.iter().enumerate() {
        if r.source_index >= source_ids.len() {
            return Err(IoError::value(
                path,
                i + 1,
                "source_id",
                "source index outside the star table",
            ));
        }
        for k in 0..N_SRC {
            require_finite(r.params[k], "value").map_err(value(path, i + 1, REF_COLS[k]))?;
            require_positive_uncertainty(r.sigma[k] / MAS, "mas").map_err(value(
                path,
                i + 1,
                REF_COLS[5 + k],
            ))?;
            cols[k].push(r.params[k] / scale[k]);
            cols[5 + k].push(r.sigma[k] / MAS);
        }
    }
    let mut columns = vec![col::i64(
        "source_id",
        refs.iter().map(|r| source_ids[r.source_index]).collect(),
    )];
    for (k, c) in cols.into_iter().enumerate() {
        columns.push(col::f64(REF_COLS[k], c));
    }
    columns.push(col::f64(
        "ref_epoch",
        refs.iter()
            .map(|r| mission_epoch + r.epoch_offset_yr)
            .collect(),
    ));
    Prepared {
        table: "reference_catalogue",
        columns,
        metadata: vec![],
    }
    .write(path, overwrite)
}

/// Reads the reference catalogue, resolving source_ids against the star table.
pub fn read_reference_catalogue(
    path: impl AsRef<Path>,
    source_ids: &[i64],
    mission_epoch: f64,
) -> Result<Vec<RefStar>, IoError> {
    let path = path.as_ref();
    let t = Table::read(path, &|f| {
        f.name() == "source_id" || f.name() == "ref_epoch" || REF_COLS.contains(&f.name().as_str())
    })?;
    let ids = t.i64_required("source_id")?;
    let cols: Vec<Vec<f64>> = REF_COLS
        .iter()
        .map(|c| t.f64_required(c))
        .collect::<Result<_, _>>()?;
    let epoch = t.f64_required("ref_epoch")?;
    let index: HashMap<i64, usize> = source_ids
        .iter()
        .enumerate()
        .map(|(i, &s)| (s, i))
        .collect();
    let scale = [DEG, DEG, MAS, MAS, MAS];
    let mut out = Vec::with_capacity(ids.len());
    for i in 0..ids.len() {
        let row = i + 1;
        let Some(&s) = index.get(&ids[i]) else {
            return Err(IoError::value(
                path,
                row,
                "source_id",
                format!("unknown source_id {} (not in stars.parquet)", ids[i]),
            ));
        };
        for k in 0..N_SRC {
            require_finite(cols[k][i], "value").map_err(value(path, row, REF_COLS[k]))?;
            require_positive_uncertainty(cols[5 + k][i], "mas").map_err(value(
                path,
                row,
                REF_COLS[5 + k],
            ))?;
        }
        if !(-90.0..=90.0).contains(&cols[1][i]) {
            return Err(IoError::value(
                path,
                row,
                "dec",
                format!("declination {} outside [-90, 90] deg", cols[1][i]),
            ));
        }
        require_finite(epoch[i], "epoch").map_err(value(path, row, "ref_epoch"))?;
        if (epoch[i] - mission_epoch).abs() > 100.0 {
            return Err(IoError::value(
                path,
                row,
                "ref_epoch",
                format!(
                    "epoch {} more than 100 years from the mission epoch {mission_epoch}",
                    epoch[i]
                ),
            ));
        }
        out.push(RefStar {
            source_index: s,
            params: std::array::from_fn(|k| cols[k][i] * scale[k]),
            sigma: std::array::from_fn(|k| cols[5 + k][i] * MAS),
            epoch_offset_yr: epoch[i] - mission_epoch,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------- distortion

/// Writes distortion coefficients: one row per (cal_unit, detector, axis) with columns
/// c0 … c{n−1} (mas); the polynomial order is in the metadata.
pub fn write_distortion(
    path: impl AsRef<Path>,
    d: &Distortion,
    overwrite: bool,
) -> Result<(), IoError> {
    let path = path.as_ref();
    let t = n_terms(d.order);
    let n_rows = d.n_units * N_DETECTORS * 2;
    if d.coeffs.len() != n_rows * t {
        return Err(IoError::invalid(
            path,
            "coefficient count does not match order and units",
        ));
    }
    for (i, c) in d.coeffs.iter().enumerate() {
        require_finite(*c, "coefficient").map_err(value(
            path,
            i / t + 1,
            &format!("c{}", i % t),
        ))?;
    }
    let mut columns = vec![
        col::i32(
            "cal_unit",
            (0..n_rows)
                .map(|r| (r / (2 * N_DETECTORS)) as i32)
                .collect(),
        ),
        col::i8(
            "detector",
            (0..n_rows).map(|r| ((r / 2) % N_DETECTORS) as i8).collect(),
        ),
        col::i8("axis", (0..n_rows).map(|r| (r % 2) as i8).collect()),
    ];
    for k in 0..t {
        columns.push(col::f64(
            &format!("c{k}"),
            (0..n_rows).map(|r| d.coeffs[r * t + k] / MAS).collect(),
        ));
    }
    Prepared {
        table: "pointed_distortion",
        columns,
        metadata: vec![("astrosolve.distortion_order".into(), d.order.to_string())],
    }
    .write(path, overwrite)
}

/// Reads distortion coefficients (rows in the order written: unit, detector, axis).
pub fn read_distortion(path: impl AsRef<Path>) -> Result<Distortion, IoError> {
    let path = path.as_ref();
    let t0 = Table::read(path, &|_| false)?;
    let order: usize = t0.meta_parse(
        "astrosolve.distortion_order",
        "order of the distortion polynomials",
    )?;
    if order > MAX_DISTORTION_ORDER {
        return Err(IoError::invalid(
            path,
            format!("distortion order {order} > {MAX_DISTORTION_ORDER}"),
        ));
    }
    let t = n_terms(order);
    let names: Vec<String> = (0..t).map(|k| format!("c{k}")).collect();
    let tab = Table::read(path, &|f| {
        matches!(f.name().as_str(), "cal_unit" | "detector" | "axis") || names.contains(f.name())
    })?;
    let unit = tab.i64_required("cal_unit")?;
    let det = tab.i64_required("detector")?;
    let axis = tab.i64_required("axis")?;
    let cols: Vec<Vec<f64>> = names
        .iter()
        .map(|c| tab.f64_required(c))
        .collect::<Result<_, _>>()?;
    let n_rows = unit.len();
    if n_rows % (2 * N_DETECTORS) != 0 {
        return Err(IoError::invalid(
            path,
            format!("{n_rows} rows: expected 8 per calibration unit"),
        ));
    }
    let mut d = Distortion::zeros(order, n_rows / (2 * N_DETECTORS));
    for r in 0..n_rows {
        let row = r + 1;
        let expect = [
            (r / (2 * N_DETECTORS)) as i64,
            ((r / 2) % N_DETECTORS) as i64,
            (r % 2) as i64,
        ];
        for (name, got, want) in [
            ("cal_unit", unit[r], expect[0]),
            ("detector", det[r], expect[1]),
            ("axis", axis[r], expect[2]),
        ] {
            if got != want {
                return Err(IoError::value(
                    path,
                    row,
                    name,
                    format!("expected {want} (rows ordered by unit, detector, axis), found {got}"),
                ));
            }
        }
        for k in 0..t {
            require_finite(cols[k][r], "coefficient").map_err(value(path, row, &names[k]))?;
            d.coeffs[r * t + k] = cols[k][r] * MAS;
        }
    }
    Ok(d)
}

// ---------------------------------------------------------------- whole data sets

/// Writes the Parquet files of a data set (mission.toml is written by the caller, which
/// owns the [simulation] section) and, if given, truth/.
pub fn write_pointed_dataset(
    dir: impl AsRef<Path>,
    ds: &PointedDataset,
    truth: Option<&PointedTruth>,
    overwrite: bool,
) -> Result<(), IoError> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir).map_err(|e| IoError::os(dir, "create directory", e))?;
    let epoch = julian_year(ds.mission.reference_epoch_jd);
    let inst = &ds.mission.instrument;
    write_exposures(dir.join(EXPOSURES_FILE), &ds.exposures, overwrite)?;
    write_images(
        dir.join(IMAGES_FILE),
        &ds.images,
        &ds.exposures,
        &ds.stars.source_id,
        inst,
        overwrite,
    )?;
    write_stars(dir.join(STARS_FILE), &ds.stars, epoch, overwrite)?;
    write_reference_catalogue(
        dir.join(REFERENCE_CATALOGUE_FILE),
        &ds.reference,
        &ds.stars.source_id,
        epoch,
        overwrite,
    )?;
    if let Some(t) = truth {
        let td = dir.join(crate::dataset::TRUTH_DIR);
        std::fs::create_dir_all(&td).map_err(|e| IoError::os(&td, "create directory", e))?;
        write_stars(td.join(STARS_FILE), &t.stars, epoch, overwrite)?;
        let ex: Vec<Exposure> = ds
            .exposures
            .iter()
            .zip(&t.attitude)
            .map(|(e, a)| Exposure { attitude: *a, ..*e })
            .collect();
        write_exposures(td.join(EXPOSURES_FILE), &ex, overwrite)?;
        write_distortion(td.join(DISTORTION_FILE), &t.distortion, overwrite)?;
    }
    Ok(())
}

/// Reads a pointed data set (mission.toml's `[jasmine]` and the Parquet files).
pub fn read_pointed_dataset(dir: impl AsRef<Path>) -> Result<PointedDataset, IoError> {
    let dir = dir.as_ref();
    let mission = read_pointed_mission(dir.join(crate::dataset::MISSION_FILE))?;
    let epoch = julian_year(mission.reference_epoch_jd);
    let exposures = read_exposures(dir.join(EXPOSURES_FILE))?;
    let stars = read_stars(dir.join(STARS_FILE))?;
    let images = read_images(
        dir.join(IMAGES_FILE),
        &exposures,
        &stars.source_id,
        &mission.instrument,
    )?;
    let rpath = dir.join(REFERENCE_CATALOGUE_FILE);
    let reference = read_reference_catalogue(&rpath, &stars.source_id, epoch)?;
    if reference.is_empty() {
        return Err(IoError::invalid(
            &rpath,
            "no reference stars: they fix the frame of every solution",
        ));
    }
    Ok(PointedDataset {
        mission,
        exposures,
        images,
        stars,
        reference,
    })
}

/// Reads truth/ of a pointed data set, if present; checks it matches the data set.
pub fn read_pointed_truth(
    dir: impl AsRef<Path>,
    ds: &PointedDataset,
) -> Result<Option<PointedTruth>, IoError> {
    let td = dir.as_ref().join(crate::dataset::TRUTH_DIR);
    if !td.join(STARS_FILE).exists() {
        return Ok(None);
    }
    let sp = td.join(STARS_FILE);
    let stars = read_stars(&sp)?;
    if stars.source_id != ds.stars.source_id {
        return Err(IoError::invalid(
            &sp,
            "source_ids differ from stars.parquet",
        ));
    }
    let ep = td.join(EXPOSURES_FILE);
    let ex = read_exposures(&ep)?;
    if ex.len() != ds.exposures.len()
        || ex
            .iter()
            .zip(&ds.exposures)
            .any(|(a, b)| a.exposure_id != b.exposure_id)
    {
        return Err(IoError::invalid(
            &ep,
            "exposure_ids differ from exposures.parquet",
        ));
    }
    let distortion = read_distortion(td.join(DISTORTION_FILE))?;
    Ok(Some(PointedTruth {
        stars,
        attitude: ex.iter().map(|e| e.attitude).collect(),
        distortion,
    }))
}
