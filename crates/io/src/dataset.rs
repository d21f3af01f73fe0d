//! A data set directory: mission.toml, the four Parquet tables the solver starts from, and
//! optionally the simulation truth under `truth/`. Cross-file checks live here.

use crate::attitude::{self, read_attitude};
use crate::calibration::{self, read_calibration};
use crate::catalogue::{self, julian_year, read_catalogue, REF_EPOCH_TOLERANCE_YR};
use crate::error::{require_finite, within, IoError};
use crate::observations;
use crate::table::{check_overwrite, col, Table};
use crate::toml_io::{mission_from_text, read_mission, to_toml, write_text};
use astrosolve_model::bspline::UniformKnots;
use astrosolve_model::source::Source;
use astrosolve_model::units::MAS;
use astrosolve_model::{BSplineAttitude, Calibration, MissionConfig, Observation, ObservationSet};
use serde::Serialize;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Mission configuration (`[mission]`, plus whatever else the producer writes).
pub const MISSION_FILE: &str = "mission.toml";
/// Starting catalogue.
pub const SOURCES_FILE: &str = "sources.parquet";
/// The observations.
pub const OBSERVATIONS_FILE: &str = "observations.parquet";
/// Starting attitude.
pub const ATTITUDE_FILE: &str = "attitude.parquet";
/// Starting calibration.
pub const CALIBRATION_FILE: &str = "calibration.parquet";
/// Directory of the simulation truth.
pub const TRUTH_DIR: &str = "truth";
/// Per-observation truth, under [`TRUTH_DIR`], row-aligned with observations.parquet.
pub const OBSERVATION_TRUTH_FILE: &str = "observation_truth.parquet";

/// Everything a solver starts from.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub mission: MissionConfig,
    /// Starting catalogue; `Observation::source_index` indexes it.
    pub sources: Vec<Source>,
    pub observations: ObservationSet,
    /// Starting attitude; must cover every observation time.
    pub attitude: BSplineAttitude,
    /// Starting calibration; its model must equal `mission.calibration`.
    pub calibration: Calibration,
}

/// The simulation truth of a data set.
#[derive(Clone, Debug, PartialEq)]
pub struct Truth {
    /// True source parameters, in the order of `Dataset::sources` (same source_ids).
    pub sources: Vec<Source>,
    pub attitude: BSplineAttitude,
    pub calibration: Calibration,
    /// Per observation, aligned with `Dataset::observations.obs`: simulated as an outlier.
    pub is_outlier: Vec<bool>,
    /// Per observation: noise added to η (rad), including any outlier offset.
    pub noise_eta: Vec<f64>,
    /// Per observation: noise added to ζ (rad); NaN for AL-only observations.
    pub noise_zeta: Vec<f64>,
}

/// Per-observation truth as stored in truth/observation_truth.parquet (file order).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservationTruth {
    pub is_outlier: Vec<bool>,
    /// rad
    pub noise_eta: Vec<f64>,
    /// rad; NaN (null in the file) for AL-only observations.
    pub noise_zeta: Vec<f64>,
}

/// Options of [`write_dataset`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Replace existing files (otherwise an existing target file is an error and nothing
    /// is written).
    pub overwrite: bool,
}

/// Paths of the files of a data set in `dir`.
#[derive(Clone, Debug)]
pub struct DatasetPaths {
    pub mission: PathBuf,
    pub sources: PathBuf,
    pub observations: PathBuf,
    pub attitude: PathBuf,
    pub calibration: PathBuf,
    pub truth_dir: PathBuf,
    pub truth_sources: PathBuf,
    pub truth_attitude: PathBuf,
    pub truth_calibration: PathBuf,
    pub truth_observations: PathBuf,
}

impl DatasetPaths {
    pub fn new(dir: impl AsRef<Path>) -> Self {
        let d = dir.as_ref();
        let t = d.join(TRUTH_DIR);
        DatasetPaths {
            mission: d.join(MISSION_FILE),
            sources: d.join(SOURCES_FILE),
            observations: d.join(OBSERVATIONS_FILE),
            attitude: d.join(ATTITUDE_FILE),
            calibration: d.join(CALIBRATION_FILE),
            truth_sources: t.join(SOURCES_FILE),
            truth_attitude: t.join(ATTITUDE_FILE),
            truth_calibration: t.join(CALIBRATION_FILE),
            truth_observations: t.join(OBSERVATION_TRUTH_FILE),
            truth_dir: t,
        }
    }
    fn parquet_files(&self) -> [&PathBuf; 4] {
        [
            &self.sources,
            &self.observations,
            &self.attitude,
            &self.calibration,
        ]
    }
    fn truth_files(&self) -> [&PathBuf; 4] {
        [
            &self.truth_sources,
            &self.truth_attitude,
            &self.truth_calibration,
            &self.truth_observations,
        ]
    }
}

/// Largest |parallax| (mas) of a starting catalogue: 10″, a star closer than 0.1 pc (the
/// nearest, Proxima Centauri, has 768 mas).
pub const START_PARALLAX_MAX_MAS: f64 = 1e4;
/// Largest proper motion |µ| (mas/yr) of a starting catalogue: 100″/yr (the largest known,
/// Barnard's star, has 10.4″/yr).
pub const START_PM_MAX_MAS_YR: f64 = 1e5;

/// A starting catalogue's parallaxes and proper motions must be physically possible: the
/// solver linearises about them, and an absurd start (a parallax of 10⁹ mas is 4.8 rad) makes
/// every residual of the source meaningless. `sources[i]` is data row i + 1 of `path`.
pub fn check_start_catalogue(path: &Path, sources: &[Source]) -> Result<(), IoError> {
    for (i, s) in sources.iter().enumerate() {
        let p = &s.params;
        let plx = p.parallax / MAS;
        if plx.abs() > START_PARALLAX_MAX_MAS {
            return Err(IoError::value(
                path,
                i + 1,
                "parallax",
                format!(
                    "starting parallax {plx:e} mas is beyond the {START_PARALLAX_MAX_MAS:e} mas of any star (10″, closer than 0.1 pc); use 0 where the parallax is unknown: the solution determines it"
                ),
            ));
        }
        for (name, v) in [("pmra", p.pmra / MAS), ("pmdec", p.pmdec / MAS)] {
            if v.abs() > START_PM_MAX_MAS_YR {
                return Err(IoError::value(
                    path,
                    i + 1,
                    name,
                    format!(
                        "starting proper motion {v:e} mas/yr is beyond the {START_PM_MAX_MAS_YR:e} mas/yr (100″/yr) of any star; use 0 where the proper motion is unknown: the solution determines it"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The calibration's model and CCD layout must be the mission's.
pub(crate) fn check_calibration_vs_mission(
    path: &Path,
    cal: &Calibration,
    mission: &MissionConfig,
) -> Result<(), IoError> {
    if cal.config != mission.calibration {
        return Err(IoError::invalid(
            path,
            format!(
                "calibration model {:?} differs from [mission.calibration] in {MISSION_FILE} {:?}",
                cal.config, mission.calibration
            ),
        ));
    }
    let inst = &mission.instrument;
    if cal.n_rows != inst.n_rows || cal.n_strips != inst.n_strips {
        return Err(IoError::invalid(
            path,
            format!(
                "calibration has {} CCD rows × {} strips, the mission's instrument {} × {}",
                cal.n_rows, cal.n_strips, inst.n_rows, inst.n_strips
            ),
        ));
    }
    Ok(())
}

/// Every observation time must lie in the attitude span; `obs[i]` is data row i + 1.
fn check_attitude_span(
    path: &Path,
    obs: &[Observation],
    knots: &UniformKnots,
) -> Result<(), IoError> {
    for (i, o) in obs.iter().enumerate() {
        if !knots.contains(o.t) {
            return Err(IoError::value(
                path,
                i + 1,
                "t",
                format!(
                    "observation outside the attitude span [{}, {}] (t = {} days)",
                    knots.t0,
                    knots.t_end(),
                    o.t
                ),
            ));
        }
    }
    Ok(())
}

/// The order in which `ObservationSet::from_unsorted` arranges observations with these
/// source indices and times: by source, then time, stable. Returns (permutation:
/// in-memory position → file row index, source offsets).
fn csr_order(source_index: &[u32], t: &[f64], n_sources: usize) -> (Vec<u32>, Vec<usize>) {
    let mut offsets = vec![0usize; n_sources + 1];
    for &s in source_index {
        offsets[s as usize + 1] += 1;
    }
    for i in 0..n_sources {
        offsets[i + 1] += offsets[i];
    }
    let mut next = offsets.clone();
    let mut perm = vec![0u32; source_index.len()];
    for (i, &s) in source_index.iter().enumerate() {
        perm[next[s as usize]] = i as u32;
        next[s as usize] += 1;
    }
    for s in 0..n_sources {
        perm[offsets[s]..offsets[s + 1]].sort_by(|&a, &b| t[a as usize].total_cmp(&t[b as usize]));
    }
    (perm, offsets)
}

/// Writes a data set's Parquet files into `dir` (created if needed): sources.parquet,
/// observations.parquet (in the order of `dataset.observations.obs`), attitude.parquet,
/// calibration.parquet and, with `truth`, the four files under truth/. mission.toml is not
/// written here: the caller writes it (with [`crate::write_toml`] for a combined file, or
/// [`crate::write_mission`]).
///
/// Before anything is written, the data set is checked as [`read_dataset`] would check it
/// (values, CCD layout, attitude span, calibration model versus the mission), and, unless
/// `options.overwrite`, that none of the target files exists — the truth files included,
/// even when `truth` is None, so that an old truth is never left beside new data. With
/// `overwrite` and no `truth`, truth files left by an earlier data set are removed.
pub fn write_dataset(
    dir: impl AsRef<Path>,
    dataset: &Dataset,
    truth: Option<&Truth>,
    options: &WriteOptions,
) -> Result<(), IoError> {
    write_dataset_ref(dir, dataset.borrowed(), truth.map(Truth::borrowed), options)
}

/// A data set's parts, borrowed: what [`write_dataset_ref`] writes without the parts being
/// copied into a [`Dataset`] (e.g. from a simulation, which holds them already).
#[derive(Clone, Copy, Debug)]
pub struct DatasetRef<'a> {
    pub mission: &'a MissionConfig,
    pub sources: &'a [Source],
    pub observations: &'a ObservationSet,
    pub attitude: &'a BSplineAttitude,
    pub calibration: &'a Calibration,
}

/// A truth's parts, borrowed (see [`DatasetRef`]).
#[derive(Clone, Copy, Debug)]
pub struct TruthRef<'a> {
    pub sources: &'a [Source],
    pub attitude: &'a BSplineAttitude,
    pub calibration: &'a Calibration,
    pub is_outlier: &'a [bool],
    /// rad
    pub noise_eta: &'a [f64],
    /// rad; NaN for AL-only observations.
    pub noise_zeta: &'a [f64],
}

impl Dataset {
    /// The parts, borrowed.
    pub fn borrowed(&self) -> DatasetRef<'_> {
        DatasetRef {
            mission: &self.mission,
            sources: &self.sources,
            observations: &self.observations,
            attitude: &self.attitude,
            calibration: &self.calibration,
        }
    }
}

impl Truth {
    /// The parts, borrowed.
    pub fn borrowed(&self) -> TruthRef<'_> {
        TruthRef {
            sources: &self.sources,
            attitude: &self.attitude,
            calibration: &self.calibration,
            is_outlier: &self.is_outlier,
            noise_eta: &self.noise_eta,
            noise_zeta: &self.noise_zeta,
        }
    }
}

/// [`write_dataset`] of borrowed parts: the observations and their truth are converted and
/// written one row group at a time, so that writing holds no copy of them.
pub fn write_dataset_ref(
    dir: impl AsRef<Path>,
    dataset: DatasetRef<'_>,
    truth: Option<TruthRef<'_>>,
    options: &WriteOptions,
) -> Result<(), IoError> {
    let dir = dir.as_ref();
    let p = DatasetPaths::new(dir);
    let m = dataset.mission;
    m.validate().map_err(|e| IoError::invalid(&p.mission, e))?;
    if dataset.sources.len() > u32::MAX as usize {
        return Err(IoError::invalid(&p.sources, "too many sources"));
    }
    // check and convert everything before touching the disk
    let ref_epoch = julian_year(m.reference_epoch_jd);
    let obs = &dataset.observations.obs;
    check_start_catalogue(&p.sources, dataset.sources)?;
    let sources_table = catalogue::prepare(&p.sources, dataset.sources, ref_epoch, None)?;
    let layout = (m.instrument.n_rows, m.instrument.n_strips);
    // observations and their truth are checked here and converted one row group at a time
    // while they are written (no second copy of them)
    observations::check(&p.observations, obs, dataset.sources, Some(layout))?;
    check_attitude_span(&p.observations, obs, &dataset.attitude.knots)?;
    let attitude_table = attitude::prepare(&p.attitude, dataset.attitude)?;
    check_calibration_vs_mission(&p.calibration, dataset.calibration, m)?;
    let calibration_table = calibration::prepare(&p.calibration, dataset.calibration)?;
    let truth_tables = match truth {
        Some(tr) => {
            check_same_sources(&p.truth_sources, dataset.sources, tr.sources)?;
            let n = obs.len();
            for (name, len) in [
                ("is_outlier", tr.is_outlier.len()),
                ("noise_eta_mas", tr.noise_eta.len()),
                ("noise_zeta_mas", tr.noise_zeta.len()),
            ] {
                if len != n {
                    return Err(IoError::invalid(
                        &p.truth_observations,
                        format!("column \"{name}\" has {len} values for {n} observations"),
                    ));
                }
            }
            check_observation_truth(
                &p.truth_observations,
                tr.is_outlier,
                tr.noise_eta,
                tr.noise_zeta,
            )?;
            Some((
                [
                    catalogue::prepare(&p.truth_sources, tr.sources, ref_epoch, None)?,
                    attitude::prepare(&p.truth_attitude, tr.attitude)?,
                    calibration::prepare(&p.truth_calibration, tr.calibration)?,
                ],
                tr,
            ))
        }
        None => None,
    };
    if !options.overwrite {
        for f in p.parquet_files().into_iter().chain(p.truth_files()) {
            check_overwrite(f, false)?;
        }
    }

    std::fs::create_dir_all(dir).map_err(|e| IoError::os(dir, "create directory", e))?;
    let ow = options.overwrite;
    sources_table.write(&p.sources, ow)?;
    observations::write_checked(&p.observations, obs, dataset.sources, ow)?;
    attitude_table.write(&p.attitude, ow)?;
    calibration_table.write(&p.calibration, ow)?;
    match truth_tables {
        Some((tables, tr)) => {
            std::fs::create_dir_all(&p.truth_dir)
                .map_err(|e| IoError::os(&p.truth_dir, "create directory", e))?;
            for (t, f) in tables.into_iter().zip(p.truth_files()) {
                t.write(f, ow)?;
            }
            // in the row groups of observations.parquet
            write_checked_observation_truth(
                &p.truth_observations,
                tr.is_outlier,
                tr.noise_eta,
                tr.noise_zeta,
                observations::row_groups(obs),
                ow,
            )?;
        }
        None => {
            for f in p.truth_files() {
                if f.exists() {
                    std::fs::remove_file(f).map_err(|e| IoError::os(f, "remove stale file", e))?;
                }
            }
            // only if now empty
            let _ = std::fs::remove_dir(&p.truth_dir);
        }
    }
    Ok(())
}

/// [`write_dataset`], then mission.toml serialised from `config`: the caller's combined
/// configuration, a struct whose `mission` field (a [`MissionConfig`]) becomes `[mission]`
/// and whose other fields become other tables (e.g. `[simulation]`). The `[mission]` of
/// `config` must equal `dataset.mission`; mission.toml, like the other files, is not
/// replaced unless `options.overwrite`, and is checked for that before anything is
/// written. mission.toml is written last, so a data set with a mission.toml is complete.
pub fn write_dataset_with_config<C: Serialize>(
    dir: impl AsRef<Path>,
    config: &C,
    dataset: &Dataset,
    truth: Option<&Truth>,
    options: &WriteOptions,
) -> Result<(), IoError> {
    write_dataset_with_config_ref(
        dir,
        config,
        dataset.borrowed(),
        truth.map(Truth::borrowed),
        options,
    )
}

/// [`write_dataset_with_config`] of borrowed parts ([`write_dataset_ref`]).
pub fn write_dataset_with_config_ref<C: Serialize>(
    dir: impl AsRef<Path>,
    config: &C,
    dataset: DatasetRef<'_>,
    truth: Option<TruthRef<'_>>,
    options: &WriteOptions,
) -> Result<(), IoError> {
    let dir = dir.as_ref();
    let p = DatasetPaths::new(dir);
    let text = to_toml(&p.mission, config)?;
    let mission = mission_from_text(&p.mission, &text)?;
    if mission != *dataset.mission {
        return Err(IoError::invalid(
            &p.mission,
            "the [mission] table of the configuration differs from the data set's mission",
        ));
    }
    check_overwrite(&p.mission, options.overwrite)?;
    write_dataset_ref(dir, dataset, truth, options)?;
    write_text(&p.mission, &text, options.overwrite)
}

/// `truth` must hold the same source_ids as `sources` (in any order).
fn check_same_sources(path: &Path, sources: &[Source], truth: &[Source]) -> Result<(), IoError> {
    let map = observations::source_index_map(path, sources)?;
    let mut seen = vec![false; sources.len()];
    for (i, s) in truth.iter().enumerate() {
        match map.get(&s.source_id) {
            Some(&k) => seen[k as usize] = true,
            None => {
                return Err(IoError::value(
                    path,
                    i + 1,
                    "source_id",
                    format!(
                        "source_id {} is not in the starting catalogue {SOURCES_FILE}",
                        s.source_id
                    ),
                ))
            }
        }
    }
    if let Some(k) = seen.iter().position(|s| !s) {
        return Err(IoError::invalid(
            path,
            format!(
                "source_id {} of {SOURCES_FILE} is missing",
                sources[k].source_id
            ),
        ));
    }
    Ok(())
}

/// Reads a data set, taking the mission from the `[mission]` table of `dir/mission.toml`
/// (other tables are ignored, so a mission.toml with only `[mission]` is enough).
pub fn read_dataset(dir: impl AsRef<Path>) -> Result<Dataset, IoError> {
    let p = DatasetPaths::new(dir.as_ref());
    let mission = read_mission(&p.mission)?;
    read_dataset_with_mission(dir, mission)
}

/// Reads a data set with a mission configuration supplied by the caller (mission.toml is
/// not read).
pub fn read_dataset_with_mission(
    dir: impl AsRef<Path>,
    mission: MissionConfig,
) -> Result<Dataset, IoError> {
    read_inner(dir.as_ref(), mission).map(|(d, _, _)| d)
}

/// Reads a data set (mission from mission.toml) and its truth, if it has a truth/
/// directory, reading observations.parquet once.
pub fn read_dataset_and_truth(dir: impl AsRef<Path>) -> Result<(Dataset, Option<Truth>), IoError> {
    read_dataset_and_truth_with(dir, &ReadOptions::default())
}

/// Options of [`read_dataset_and_truth_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// Read truth/observation_truth.parquet (the noise and outlier flag of each observation,
    /// 17 bytes per observation in memory). A solve compares only the sources, attitude and
    /// calibration with the truth: without it, `Truth::is_outlier`, `noise_eta` and
    /// `noise_zeta` are empty.
    pub observation_truth: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            observation_truth: true,
        }
    }
}

/// [`read_dataset_and_truth`] with `options`.
pub fn read_dataset_and_truth_with(
    dir: impl AsRef<Path>,
    options: &ReadOptions,
) -> Result<(Dataset, Option<Truth>), IoError> {
    let dir = dir.as_ref();
    let p = DatasetPaths::new(dir);
    let mission = read_mission(&p.mission)?;
    let (dataset, perm, ref_epoch) = read_inner(dir, mission)?;
    let truth = if p.truth_dir.is_dir() {
        let n = options
            .observation_truth
            .then(|| dataset.observations.len());
        Some(read_truth_tables(
            &p,
            &dataset.sources,
            perm.as_deref(),
            n,
            ref_epoch,
        )?)
    } else {
        None
    };
    Ok((dataset, truth))
}

/// Reads the truth of a data set: None if it has no truth/ directory. The per-observation
/// vectors are aligned with `read_dataset(dir)?.observations.obs` and the sources with
/// `read_dataset(dir)?.sources`.
pub fn read_truth(dir: impl AsRef<Path>) -> Result<Option<Truth>, IoError> {
    let p = DatasetPaths::new(dir.as_ref());
    if !p.truth_dir.is_dir() {
        return Ok(None);
    }
    let cat = read_catalogue(&p.sources)?;
    let sources = cat.sources;
    let index = observations::source_index_map(&p.sources, &sources)?;
    let (ids, t) = observations::read_keys(&p.observations)?;
    let mut si = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        si.push(*index.get(id).ok_or_else(|| {
            IoError::value(
                &p.observations,
                i + 1,
                "source_id",
                format!("unknown source_id {id} (not in {SOURCES_FILE})"),
            )
        })?);
    }
    let (perm, _) = csr_order(&si, &t, sources.len());
    read_truth_tables(&p, &sources, Some(&perm), Some(ids.len()), cat.ref_epoch).map(Some)
}

/// Observations in file order put in the order of `ObservationSet::from_unsorted` (by
/// source, then time, stable) in place: the observations, the permutation from in-memory
/// position to file row (None: the file was in that order already, as a written data set is)
/// and the source offsets.
fn into_csr_order(
    mut obs: Vec<Observation>,
    n_sources: usize,
) -> (Vec<Observation>, Option<Vec<u32>>, Vec<usize>) {
    let in_order = obs.windows(2).all(|w| {
        w[0].source_index < w[1].source_index
            || (w[0].source_index == w[1].source_index && w[0].t.total_cmp(&w[1].t).is_le())
    });
    if in_order {
        let mut offsets = vec![0usize; n_sources + 1];
        for o in &obs {
            offsets[o.source_index as usize + 1] += 1;
        }
        for i in 0..n_sources {
            offsets[i + 1] += offsets[i];
        }
        return (obs, None, offsets);
    }
    let si: Vec<u32> = obs.iter().map(|o| o.source_index).collect();
    let t: Vec<f64> = obs.iter().map(|o| o.t).collect();
    let (perm, offsets) = csr_order(&si, &t, n_sources);
    drop((si, t));
    apply_permutation(&mut obs, &perm);
    (obs, Some(perm), offsets)
}

/// Puts `v` in the order `perm` (element k becomes the old `v[perm[k]]`) in place, following
/// the permutation's cycles (one bit per element of extra memory).
fn apply_permutation<T: Copy>(v: &mut [T], perm: &[u32]) {
    let mut done = vec![0u64; v.len().div_ceil(64)];
    for start in 0..v.len() {
        if done[start / 64] >> (start % 64) & 1 == 1 {
            continue;
        }
        let first = v[start];
        let mut k = start;
        loop {
            done[k / 64] |= 1 << (k % 64);
            let from = perm[k] as usize;
            if from == start {
                v[k] = first;
                break;
            }
            v[k] = v[from];
            k = from;
        }
    }
}

/// `v` (file order) in the in-memory order `perm` (None: the same).
fn permuted<T: Copy>(mut v: Vec<T>, perm: Option<&[u32]>) -> Vec<T> {
    if let Some(perm) = perm {
        apply_permutation(&mut v, perm);
    }
    v
}

/// What every reader of a data set reads first, checked: the catalogue (its reference epoch
/// against the mission's), the starting attitude and calibration (against the mission).
pub(crate) struct Start {
    pub sources: Vec<Source>,
    pub ref_epoch: f64,
    pub attitude: BSplineAttitude,
    pub calibration: Calibration,
}

/// Reads and checks the [`Start`] of the data set at `p` for `mission` (validated here).
pub(crate) fn read_start(p: &DatasetPaths, mission: &MissionConfig) -> Result<Start, IoError> {
    mission
        .validate()
        .map_err(|e| IoError::invalid(&p.mission, e))?;
    let cat = read_catalogue(&p.sources)?;
    let expected = julian_year(mission.reference_epoch_jd);
    if !cat.sources.is_empty() && !within(cat.ref_epoch, expected, REF_EPOCH_TOLERANCE_YR) {
        return Err(IoError::value(
            &p.sources,
            1,
            "ref_epoch",
            format!(
                "ref_epoch {} does not match the mission's reference epoch {} (reference_epoch_jd = {} in {MISSION_FILE})",
                cat.ref_epoch, expected, mission.reference_epoch_jd
            ),
        ));
    }
    check_start_catalogue(&p.sources, &cat.sources)?;
    let attitude = read_attitude(&p.attitude)?;
    let calibration = read_calibration(&p.calibration)?;
    check_calibration_vs_mission(&p.calibration, &calibration, mission)?;
    Ok(Start {
        sources: cat.sources,
        ref_epoch: cat.ref_epoch,
        attitude,
        calibration,
    })
}

/// The data set, the permutation from in-memory to file order of the observations (None:
/// the same), and the catalogue's reference epoch.
#[allow(clippy::type_complexity)]
fn read_inner(
    dir: &Path,
    mission: MissionConfig,
) -> Result<(Dataset, Option<Vec<u32>>, f64), IoError> {
    let p = DatasetPaths::new(dir);
    let Start {
        sources,
        ref_epoch,
        attitude,
        calibration,
    } = read_start(&p, &mission)?;
    let obs = observations::read_observations_from(
        &p.observations,
        &sources,
        &mission.instrument,
        SOURCES_FILE,
    )?;
    check_attitude_span(&p.observations, &obs, &attitude.knots)?;
    let (obs, perm, source_offsets) = into_csr_order(obs, sources.len());
    let dataset = Dataset {
        mission,
        sources,
        observations: ObservationSet {
            obs,
            source_offsets,
        },
        attitude,
        calibration,
    };
    Ok((dataset, perm, ref_epoch))
}

fn read_truth_tables(
    p: &DatasetPaths,
    sources: &[Source],
    perm: Option<&[u32]>,
    n_obs: Option<usize>,
    ref_epoch: f64,
) -> Result<Truth, IoError> {
    let cat = read_catalogue(&p.truth_sources)?;
    if !cat.sources.is_empty()
        && !sources.is_empty()
        && !within(cat.ref_epoch, ref_epoch, REF_EPOCH_TOLERANCE_YR)
    {
        return Err(IoError::value(
            &p.truth_sources,
            1,
            "ref_epoch",
            format!(
                "ref_epoch {} differs from that of {SOURCES_FILE} ({ref_epoch})",
                cat.ref_epoch
            ),
        ));
    }
    check_same_sources(&p.truth_sources, sources, &cat.sources)?;
    let index = observations::source_index_map(&p.truth_sources, sources)?;
    let mut ordered = cat.sources.clone();
    for s in &cat.sources {
        ordered[index[&s.source_id] as usize] = *s;
    }
    let attitude = read_attitude(&p.truth_attitude)?;
    let calibration = read_calibration(&p.truth_calibration)?;
    // the per-observation truth when asked for (`n_obs`: the observations it must match)
    let Some(n_obs) = n_obs else {
        return Ok(Truth {
            sources: ordered,
            attitude,
            calibration,
            is_outlier: Vec::new(),
            noise_eta: Vec::new(),
            noise_zeta: Vec::new(),
        });
    };
    let ot = read_observation_truth(&p.truth_observations)?;
    if ot.is_outlier.len() != n_obs {
        return Err(IoError::invalid(
            &p.truth_observations,
            format!(
                "{} rows, but {OBSERVATIONS_FILE} has {n_obs}",
                ot.is_outlier.len(),
            ),
        ));
    }
    Ok(Truth {
        sources: ordered,
        attitude,
        calibration,
        is_outlier: permuted(ot.is_outlier, perm),
        noise_eta: permuted(ot.noise_eta, perm),
        noise_zeta: permuted(ot.noise_zeta, perm),
    })
}

/// Writes truth/observation_truth.parquet: `is_outlier`, `noise_eta_mas`,
/// `noise_zeta_mas` (null where `noise_zeta` is NaN: AL-only), noises given in rad.
pub fn write_observation_truth(
    path: impl AsRef<Path>,
    is_outlier: &[bool],
    noise_eta: &[f64],
    noise_zeta: &[f64],
    overwrite: bool,
) -> Result<(), IoError> {
    let path = path.as_ref();
    check_observation_truth(path, is_outlier, noise_eta, noise_zeta)?;
    let n = is_outlier.len();
    let groups = (0..n)
        .step_by(observations::ROW_GROUP_ROWS)
        .map(|a| a..(a + observations::ROW_GROUP_ROWS).min(n))
        .collect();
    write_checked_observation_truth(path, is_outlier, noise_eta, noise_zeta, groups, overwrite)
}

/// Lengths and values of the per-observation truth, as [`write_observation_truth`] checks them.
fn check_observation_truth(
    path: &Path,
    is_outlier: &[bool],
    noise_eta: &[f64],
    noise_zeta: &[f64],
) -> Result<(), IoError> {
    let n = is_outlier.len();
    if noise_eta.len() != n || noise_zeta.len() != n {
        return Err(IoError::invalid(
            path,
            format!(
                "column lengths differ: is_outlier {n}, noise_eta_mas {}, noise_zeta_mas {}",
                noise_eta.len(),
                noise_zeta.len()
            ),
        ));
    }
    for (i, &v) in noise_eta.iter().enumerate() {
        require_finite(v, "noise").map_err(|m| IoError::value(path, i + 1, "noise_eta_mas", m))?;
    }
    for (i, &v) in noise_zeta.iter().enumerate() {
        if !v.is_nan() {
            require_finite(v, "noise")
                .map_err(|m| IoError::value(path, i + 1, "noise_zeta_mas", m))?;
        }
    }
    Ok(())
}

/// The file columns of the per-observation truth of rows `r`.
fn observation_truth_columns(
    is_outlier: &[bool],
    noise_eta: &[f64],
    noise_zeta: &[f64],
    r: Range<usize>,
) -> Vec<(arrow_schema::Field, arrow_array::ArrayRef)> {
    vec![
        col::bool("is_outlier", is_outlier[r.clone()].to_vec()),
        col::f64(
            "noise_eta_mas",
            noise_eta[r.clone()].iter().map(|v| v / MAS).collect(),
        ),
        col::f64_opt(
            "noise_zeta_mas",
            noise_zeta[r]
                .iter()
                .map(|&v| (!v.is_nan()).then_some(v / MAS))
                .collect(),
        ),
    ]
}

/// Writes checked per-observation truth ([`check_observation_truth`]) in the row groups
/// `groups`, converting one at a time.
fn write_checked_observation_truth(
    path: &Path,
    is_outlier: &[bool],
    noise_eta: &[f64],
    noise_zeta: &[f64],
    groups: Vec<Range<usize>>,
    overwrite: bool,
) -> Result<(), IoError> {
    let fields = observation_truth_columns(&[], &[], &[], 0..0)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    let mut groups = groups.into_iter();
    crate::table::write_row_groups(
        path,
        "observation_truth",
        fields,
        vec![],
        overwrite,
        &mut || {
            Ok(groups.next().map(|g| {
                observation_truth_columns(is_outlier, noise_eta, noise_zeta, g)
                    .into_iter()
                    .map(|(_, a)| a)
                    .collect()
            }))
        },
    )
}

/// Reads truth/observation_truth.parquet (file order; noises in rad, NaN for null).
pub fn read_observation_truth(path: impl AsRef<Path>) -> Result<ObservationTruth, IoError> {
    let path = path.as_ref();
    let t = Table::read(path, &|f| {
        matches!(
            f.name().as_str(),
            "is_outlier" | "noise_eta_mas" | "noise_zeta_mas"
        )
    })?;
    let is_outlier = t.bool_required("is_outlier")?;
    let noise_eta = t.f64_required("noise_eta_mas")?;
    let (noise_zeta, valid) = t.f64_nullable("noise_zeta_mas")?;
    t.check_len("is_outlier", &is_outlier)?;
    t.check_len("noise_eta_mas", &noise_eta)?;
    t.check_len("noise_zeta_mas", &noise_zeta)?;
    for (i, &v) in noise_eta.iter().enumerate() {
        require_finite(v, "noise").map_err(|m| IoError::value(path, i + 1, "noise_eta_mas", m))?;
    }
    for (i, &v) in noise_zeta.iter().enumerate() {
        let given = valid.as_ref().is_none_or(|g| g[i]);
        if given {
            require_finite(v, "noise").map_err(|m| {
                IoError::value(
                    path,
                    i + 1,
                    "noise_zeta_mas",
                    format!("{m} (use null for AL-only observations)"),
                )
            })?;
        }
    }
    Ok(ObservationTruth {
        is_outlier,
        noise_eta: noise_eta.into_iter().map(|v| v * MAS).collect(),
        noise_zeta: noise_zeta.into_iter().map(|v| v * MAS).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::apply_permutation;

    #[test]
    fn permutation_applied_in_place_as_gathered() {
        let n = 1000usize;
        // a permutation with cycles of many lengths and fixed points
        let mut perm: Vec<u32> = (0..n as u32).collect();
        let mut x = 12345u64;
        for i in (1..n).rev() {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if x >> 62 != 0 {
                perm.swap(i, (x >> 33) as usize % (i + 1));
            }
        }
        let v: Vec<u64> = (0..n as u64).map(|k| k * 7 + 3).collect();
        let expect: Vec<u64> = perm.iter().map(|&i| v[i as usize]).collect();
        let mut w = v.clone();
        apply_permutation(&mut w, &perm);
        assert_eq!(w, expect);
        let mut e: Vec<u64> = Vec::new();
        apply_permutation(&mut e, &[]);
        assert!(e.is_empty());
    }
}
