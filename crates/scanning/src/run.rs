//! simulate → data set → solve → solution files for the Gaia-like mission, as library calls
//! shared by the command line (`astrosolve simulate|solve|demo`) and the Python bindings, so
//! both run the same code and write the same bits (file formats: docs/formats.md; solver:
//! docs/solvers.md). Printing, progress bars and plots stay with the callers.
//!
//! Distributed solves ([`astrosolve_core::comm`]): a [`Problem`] may hold one rank's share —
//! a contiguous range of sources with their observations ([`Problem::part`]) and the full
//! attitude and calibration — and its communicator; [`solve`] and [`solve_checkpointed`] then
//! solve that share in lock-step with the other ranks (each rank its own checkpoint file,
//! [`rank_checkpoint_file`]), and [`gather`] collects the sources of every rank on rank 0 for
//! [`write_solution`].

use crate::frame::{FrameMode, FrameReference};
use crate::solution::Solution;
use crate::solve::ScanConfig;
use crate::truth::{self, TruthComparison};
use astrosolve_core::checkpoint::{self, Checkpoint, CheckpointRef, Fingerprint};
use astrosolve_core::comm::{Comm, Single};
use astrosolve_core::{Progress, SolveError, SolveReport};
use astrosolve_io::{self as io, Dataset, IoError, Truth, WriteOptions};
use astrosolve_model::source::{ReferencePosition, Source};
use astrosolve_model::units::UAS;
use astrosolve_model::{
    quat, BSplineAttitude, GaiaL2Ephemeris, GaiaModel, MissionConfig, ObservationSet,
    ObservationStore, TabulatedEphemeris,
};
use astrosolve_sim::{simulate_gaia, SimConfig, Simulation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Errors of a run, with the messages the command line prints.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A file could not be read or written (names file, row, column).
    #[error(transparent)]
    Io(#[from] IoError),
    /// The solver refused the data, diverged or was interrupted.
    #[error(transparent)]
    Solve(#[from] SolveError),
    /// Anything else (configuration, output directory), as a sentence.
    #[error("{0}")]
    Other(String),
}

impl From<String> for RunError {
    fn from(s: String) -> Self {
        RunError::Other(s)
    }
}

/// mission.toml as a whole: `[mission]` (the model, see docs/formats.md) and `[simulation]`
/// (the simulator, see docs/simulation.md). Every key has a default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MissionFile {
    pub mission: MissionConfig,
    pub simulation: SimConfig,
}

impl MissionFile {
    /// Applies the command line's overrides: seed, number of sources, mission length in days
    /// (the reference epoch stays in the middle), outlier rate.
    pub fn with_overrides(
        mut self,
        seed: Option<u64>,
        n_sources: Option<usize>,
        days: Option<f64>,
        outlier_rate: Option<f64>,
    ) -> Self {
        if let Some(s) = seed {
            self.simulation.seed = s;
        }
        if let Some(n) = n_sources {
            self.simulation.n_sources = n;
        }
        if let Some(d) = days {
            self.mission.duration_days = d;
            self.mission.start_day = -d / 2.0;
        }
        if let Some(r) = outlier_rate {
            self.simulation.outlier_rate = r;
        }
        self
    }
}

/// The files a data set must not already hold (unless forced) before a simulation.
pub const DATASET_FILES: [&str; 3] = [io::MISSION_FILE, io::OBSERVATIONS_FILE, io::SOURCES_FILE];

/// The files of a solution written by the command line (the first four by [`write_solution`]),
/// and the checkpoint a solve leaves while it runs.
pub const SOLUTION_FILES: [&str; 7] = [
    "catalogue.parquet",
    "attitude.parquet",
    "calibration.parquet",
    "report.json",
    "convergence.png",
    "parallax_vs_magnitude.png",
    CHECKPOINT_FILE,
];

/// The checkpoint a solve leaves in its output directory after every outer iteration that
/// another follows, removed once the solution is written (docs/solvers.md, "Checkpoint and
/// resume"; format: `astrosolve_core::checkpoint`).
pub const CHECKPOINT_FILE: &str = "checkpoint.bin";

/// The checkpoint file of rank `rank` of a distributed solve (`checkpoint.rank{rank}.bin`;
/// with one rank, [`CHECKPOINT_FILE`]).
pub fn rank_checkpoint_file(rank: usize, size: usize) -> String {
    if size <= 1 {
        CHECKPOINT_FILE.to_string()
    } else {
        format!("checkpoint.rank{rank}.bin")
    }
}

/// The files of a scanning data set the solution depends on (a checkpoint's data
/// fingerprint; reference_positions.parquet may be absent).
pub const INPUT_FILES: [&str; 6] = [
    io::MISSION_FILE,
    io::OBSERVATIONS_FILE,
    io::SOURCES_FILE,
    io::ATTITUDE_FILE,
    io::CALIBRATION_FILE,
    io::REFERENCE_FILE,
];

/// The checkpoints of a solve: where they are written, what they were computed from, and
/// whether the solve resumes from the one there. The run layer writes and reads the files;
/// the core hands over the state ([`astrosolve_core::solve_resumable`]).
#[derive(Clone, Debug)]
pub struct Checkpointing {
    pub path: PathBuf,
    pub fingerprint: Fingerprint,
    pub resume: bool,
}

impl Checkpointing {
    /// Checkpoints in `out` of a solve of the files `files` of the data set `dir` (their
    /// names, sizes and contents are hashed) with the configuration fingerprint `config`.
    pub fn new(
        out: &Path,
        dir: &Path,
        files: &[&str],
        config: u64,
        resume: bool,
    ) -> Result<Self, RunError> {
        let paths: Vec<PathBuf> = files.iter().map(|f| dir.join(f)).collect();
        let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
        let ck = Checkpointing {
            path: out.join(CHECKPOINT_FILE),
            fingerprint: Fingerprint { data: 0, config },
            resume,
        };
        // a distributed solve's checkpoints are checkpoint.rank{r}.bin ([`Self::for_rank`])
        if resume && !ck.path.exists() && !out.join(rank_checkpoint_file(0, 2)).exists() {
            return Err(ck.missing());
        }
        let data = checkpoint::fingerprint_files(&refs)?;
        Ok(Checkpointing {
            fingerprint: Fingerprint { data, config },
            ..ck
        })
    }

    /// These checkpoints as those of rank `comm.rank()` of `comm.size()` holding the sources
    /// `range` of the catalogue: its own file ([`rank_checkpoint_file`]) next to the
    /// one-process one, and a data fingerprint that also holds the number of ranks, the rank
    /// and its range, so that a rank refuses the checkpoint of another partition. One rank:
    /// unchanged.
    pub fn for_rank(&self, comm: &dyn Comm, range: Range<usize>) -> Checkpointing {
        if comm.size() <= 1 {
            return self.clone();
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let mut h = checkpoint::Hasher64::default();
        for v in [
            self.fingerprint.data,
            comm.size() as u64,
            comm.rank() as u64,
            range.start as u64,
            range.end as u64,
        ] {
            h.update(&v.to_le_bytes());
        }
        Checkpointing {
            path: dir.join(rank_checkpoint_file(comm.rank(), comm.size())),
            fingerprint: Fingerprint {
                data: h.finish(),
                config: self.fingerprint.config,
            },
            resume: self.resume,
        }
    }

    fn missing(&self) -> RunError {
        RunError::Other(format!(
            "{}: no checkpoint to resume from (a solve leaves one in its output directory after each outer iteration, until its solution is written); solve without --resume",
            self.path.display()
        ))
    }

    /// The checkpoint to resume from (None when not resuming): refused when missing,
    /// truncated, corrupt, or from another data set or configuration; errors name the file.
    pub fn load<S: DeserializeOwned>(&self) -> Result<Option<Checkpoint<S>>, RunError> {
        if !self.resume {
            return Ok(None);
        }
        let path = &self.path;
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(self.missing()),
            Err(e) => {
                return Err(RunError::Io(IoError::Os {
                    path: path.clone(),
                    action: "read",
                    source: e,
                }))
            }
        };
        checkpoint::decode(&bytes, &self.fingerprint)
            .map(Some)
            .map_err(|e| {
                RunError::Other(format!(
                    "{} {e}: cannot resume from it; solve without --resume (with --force to replace it) to start afresh",
                    path.display()
                ))
            })
    }

    /// Writes a checkpoint through a temporary file and a rename, synced to disk.
    pub fn save<S: Serialize>(&self, ck: &CheckpointRef<S>) -> Result<(), RunError> {
        let path = &self.path;
        let bytes = checkpoint::encode(ck, &self.fingerprint)
            .map_err(|e| RunError::Other(format!("{}: cannot encode: {e}", path.display())))?;
        let os = |source| IoError::Os {
            path: path.clone(),
            action: "write",
            source,
        };
        io::write_atomically(path, true, |mut f| {
            f.write_all(&bytes).map_err(os)?;
            f.sync_data().map_err(os)
        })?;
        Ok(())
    }

    /// Removes the checkpoint (once the solution is written).
    pub fn remove(&self) -> Result<(), RunError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(RunError::Io(IoError::Os {
                path: self.path.clone(),
                action: "remove",
                source: e,
            })),
        }
    }

    /// Runs `solve` with this checkpointing: the checkpoint to resume from and a saver that
    /// writes every checkpoint; a failed write stops the solve with its error.
    pub fn run<S: Serialize + DeserializeOwned, T>(
        &self,
        solve: impl FnOnce(
            Option<Checkpoint<S>>,
            &mut dyn FnMut(&CheckpointRef<S>) -> bool,
        ) -> Result<T, SolveError>,
    ) -> Result<T, RunError> {
        self.run_on(&Single, solve)
    }

    /// [`Self::run`] on every rank of `comm` (each with its own checkpoints,
    /// [`Self::for_rank`]): a checkpoint any rank cannot resume from stops every rank.
    pub fn run_on<S: Serialize + DeserializeOwned, T>(
        &self,
        comm: &dyn Comm,
        solve: impl FnOnce(
            Option<Checkpoint<S>>,
            &mut dyn FnMut(&CheckpointRef<S>) -> bool,
        ) -> Result<T, SolveError>,
    ) -> Result<T, RunError> {
        let from = self.load::<S>();
        if comm.size() > 1 && comm.any(from.is_err()) {
            return Err(from.err().unwrap_or_else(|| {
                RunError::Other(format!(
                    "another rank cannot resume from its checkpoint (next to {}); solve without --resume to start afresh",
                    self.path.display()
                ))
            }));
        }
        let from = from?;
        let mut failed: Option<RunError> = None;
        let r = solve(from, &mut |ck| match self.save(ck) {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        });
        match (r, failed) {
            (Ok(t), _) => Ok(t),
            (Err(_), Some(e)) => Err(e),
            (Err(e), None) => Err(e.into()),
        }
    }
}

/// Fingerprint of the scanning settings that change the solution (the core's and the frame
/// mode).
pub fn config_fingerprint(cfg: &ScanConfig) -> u64 {
    let frame: &[u8] = match cfg.frame {
        FrameMode::Gaia => b"frame gaia",
        FrameMode::MinNorm => b"frame min-norm",
    };
    checkpoint::config_fingerprint(&cfg.solver, frame)
}

/// Prepares the output directory `dir` before any work: refuses it when it is, is inside or
/// contains one of the input directories in `inputs`, or contains one of the input files in
/// `inputs` (even with `force`: the outputs would replace or mix with the inputs); refuses to
/// reuse it when it already holds one of `names`, unless forced; creates it and checks that
/// it can be written (a probe file), so that a directory that cannot be written is refused
/// at once rather than after the solve (`astrosolve_io::output`).
pub fn prepare_out_dir(
    dir: &Path,
    names: &[&str],
    force: bool,
    inputs: &[&Path],
) -> Result<(), RunError> {
    io::check_output_location(dir, inputs)?;
    if !force {
        for n in names {
            let p = dir.join(n);
            if p.exists() {
                return Err(RunError::Other(format!(
                    "{} exists; use --force to overwrite it",
                    p.display()
                )));
            }
        }
    }
    io::ensure_writable_dir(dir)?;
    Ok(())
}

/// A simulation with what the caller reports about it.
pub struct Simulated {
    pub sim: Simulation,
    /// Wall time of the simulation (s).
    pub seconds: f64,
    /// Warnings: the data are too few for the solver's default redundancy rule.
    pub warnings: Vec<String>,
}

impl Simulated {
    /// One line: sources, observations, attitude knots, calibration intervals, time.
    pub fn summary_line(&self) -> String {
        let sim = &self.sim;
        format!(
            "simulated {} sources, {} observations ({} with AC), {} attitude knots every {:.1} min, {} calibration interval(s), in {:.1} s",
            sim.truth_sources.len(),
            sim.observations.len(),
            sim.observations.obs.iter().filter(|o| o.has_ac()).count(),
            sim.truth_attitude.coeffs.len(),
            sim.mission.attitude_knot_interval_days * 1440.0,
            sim.truth_calibration.n_intervals,
            self.seconds
        )
    }
}

/// Simulates the mission of `file`; `progress` receives the number of sources done (it may be
/// called from several threads).
pub fn simulate(
    file: &MissionFile,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Simulated, RunError> {
    let t = Instant::now();
    let sim = simulate_gaia(&file.mission, &file.simulation, progress)?;
    let seconds = t.elapsed().as_secs_f64();
    let mut warnings = Vec::new();
    // the solver's redundancy rule (astrosolve_core::config::MIN_ATTITUDE_REDUNDANCY), from
    // all measurements: the solvable sources have fewer
    let n_ac = sim.observations.obs.iter().filter(|o| o.has_ac()).count();
    let n_att = (4 * sim.truth_attitude.coeffs.len()) as f64;
    let per_unknown = (sim.observations.len() + n_ac) as f64 / n_att;
    let min = astrosolve_core::config::MIN_ATTITUDE_REDUNDANCY;
    if per_unknown < min {
        warnings.push(format!(
            "{per_unknown:.1} measurements per attitude unknown, fewer than the {min:.0} `astrosolve solve` needs by default (it will refuse these data): the knot interval is at its longest (half a revolution); simulate ≈ {:.0} or more sources (more where not every source reaches the visibility periods; a longer mission adds knots as fast as measurements)",
            (sim.truth_sources.len() as f64 * min / per_unknown).ceil()
        ));
    } else if (n_ac as f64 / n_att) < min / 3.0 {
        warnings.push(format!(
            "{:.1} AC measurements per attitude unknown, fewer than the {:.0} `astrosolve solve` needs by default (it will refuse these data): raise [simulation] g_ac_max",
            n_ac as f64 / n_att,
            min / 3.0
        ));
    }
    Ok(Simulated {
        sim,
        seconds,
        warnings,
    })
}

/// A simulation as the data set a solver starts from, and its truth.
pub fn dataset_and_truth(sim: &Simulation) -> (Dataset, Truth) {
    let ds = Dataset {
        mission: sim.mission.clone(),
        sources: sim.start_sources.clone(),
        observations: sim.observations.clone(),
        attitude: sim.start_attitude.clone(),
        calibration: sim.start_calibration.clone(),
    };
    let tr = Truth {
        sources: sim.truth_sources.clone(),
        attitude: sim.truth_attitude.clone(),
        calibration: sim.truth_calibration.clone(),
        is_outlier: sim.is_outlier.clone(),
        noise_eta: sim.noise_eta.clone(),
        noise_zeta: sim.noise_zeta.clone(),
    };
    (ds, tr)
}

/// Writes a simulation as a data set in `dir` (mission.toml records the intervals actually
/// simulated), with its truth and the reference positions.
pub fn write_simulation(
    dir: &Path,
    file: &MissionFile,
    sim: &Simulation,
    force: bool,
) -> Result<(), RunError> {
    let (ds, tr) = dataset_and_truth(sim);
    let mut written = file.clone();
    written.mission = sim.mission.clone();
    io::ensure_writable_dir(dir)?;
    io::write_dataset_with_config(
        dir,
        &written,
        &ds,
        Some(&tr),
        &WriteOptions { overwrite: force },
    )?;
    io::write_reference_positions(
        dir.join(io::REFERENCE_FILE),
        &sim.reference_positions,
        &sim.start_sources,
        force,
    )?;
    Ok(())
}

/// Everything a solve needs, from files or from a simulation; or one rank's share of it
/// ([`Problem::part`]).
pub struct Problem {
    pub mission: MissionConfig,
    pub ds: Dataset,
    pub truth: Option<Truth>,
    pub refs: Vec<ReferencePosition>,
    /// The ranks sharing the solve ([`Single`] for one process).
    pub comm: Arc<dyn Comm>,
    /// The sources of the whole catalogue this problem holds (`0..n` unless a part).
    pub source_range: Range<usize>,
    /// The global chunks of the whole catalogue (`astrosolve_model::obs::chunk_sources` of
    /// its observation counts) that lie in `source_range`, indexed from its start: the chunks
    /// of every pass of the solver, so that chunk-aligned ranks reproduce the one-process
    /// bits (`astrosolve_model::obs::partition_chunks`).
    pub chunks: Vec<Range<usize>>,
    /// The observations on disk after [`Problem::spill_observations`] (`ds.observations` then
    /// keeps only its source offsets).
    pub spilled: Option<io::ObservationFile>,
}

/// The global chunks of a whole catalogue's observations.
pub fn catalogue_chunks(obs: &dyn ObservationStore) -> Vec<Range<usize>> {
    let counts: Vec<usize> = obs
        .source_offsets()
        .windows(2)
        .map(|w| w[1] - w[0])
        .collect();
    astrosolve_model::obs::chunk_sources(&counts)
}

impl Problem {
    /// Reads a data set directory (with its truth/ and reference_positions.parquet if present).
    /// The truth per observation (noise, outlier flags) is left out: the solve compares only
    /// sources, attitude and calibration with the truth (17 bytes per observation saved).
    pub fn read(dir: &Path) -> Result<Problem, RunError> {
        let options = io::ReadOptions {
            observation_truth: false,
        };
        let (ds, truth) = io::read_dataset_and_truth_with(dir, &options)?;
        let ref_path = dir.join(io::REFERENCE_FILE);
        let refs = if ref_path.exists() {
            io::read_reference_positions(&ref_path, &ds.sources)?
        } else {
            Vec::new()
        };
        let n = ds.sources.len();
        let chunks = catalogue_chunks(&ds.observations);
        Ok(Problem {
            mission: ds.mission.clone(),
            ds,
            truth,
            refs,
            comm: Arc::new(Single),
            source_range: 0..n,
            chunks,
            spilled: None,
        })
    }

    /// A simulation as a problem, with its truth.
    pub fn from_simulation(sim: &Simulation) -> Problem {
        let (ds, tr) = dataset_and_truth(sim);
        let n = ds.sources.len();
        let chunks = catalogue_chunks(&ds.observations);
        Problem {
            mission: sim.mission.clone(),
            ds,
            truth: Some(tr),
            refs: sim.reference_positions.clone(),
            comm: Arc::new(Single),
            source_range: 0..n,
            chunks,
            spilled: None,
        }
    }

    /// One rank's share: the sources `range` (of this problem's sources; clamped to them) with
    /// their observations (source indices re-indexed from 0), their truth and reference
    /// positions (re-indexed likewise), and the full attitude and calibration; solved with
    /// `comm`, and this problem's chunks that lie in the range. The observations of a rank are
    /// contiguous; cut at chunk boundaries (`astrosolve_model::obs::partition_chunks`) the
    /// ranks reproduce the one-process solution bit for bit.
    /// Taken before [`Problem::spill_observations`] (a spilled problem's parts have no
    /// observations).
    pub fn part(&self, range: Range<usize>, comm: Arc<dyn Comm>) -> Problem {
        debug_assert!(self.spilled.is_none(), "part of a spilled problem");
        let n = self.ds.sources.len();
        let end = range.end.min(n);
        let start = range.start.min(end);
        let obs = &self.ds.observations;
        let (o0, o1) = (obs.source_offsets[start], obs.source_offsets[end]);
        let observations = ObservationSet {
            obs: obs.obs[o0..o1]
                .iter()
                .map(|o| {
                    let mut o = *o;
                    o.source_index -= start as u32;
                    o
                })
                .collect(),
            source_offsets: obs.source_offsets[start..=end]
                .iter()
                .map(|&k| k - o0)
                .collect(),
        };
        let per_obs = |v: &Vec<f64>| {
            if v.len() == obs.len() {
                v[o0..o1].to_vec()
            } else {
                Vec::new()
            }
        };
        let truth = self.truth.as_ref().map(|t| Truth {
            sources: t
                .sources
                .get(start..end)
                .map(|s| s.to_vec())
                .unwrap_or_default(),
            attitude: t.attitude.clone(),
            calibration: t.calibration.clone(),
            is_outlier: if t.is_outlier.len() == obs.len() {
                t.is_outlier[o0..o1].to_vec()
            } else {
                Vec::new()
            },
            noise_eta: per_obs(&t.noise_eta),
            noise_zeta: per_obs(&t.noise_zeta),
        });
        let refs = self
            .refs
            .iter()
            .filter(|r| (start..end).contains(&r.source_index))
            .map(|r| ReferencePosition {
                source_index: r.source_index - start,
                ..*r
            })
            .collect();
        let first = self.source_range.start;
        Problem {
            mission: self.mission.clone(),
            ds: Dataset {
                mission: self.ds.mission.clone(),
                sources: self.ds.sources[start..end].to_vec(),
                observations,
                attitude: self.ds.attitude.clone(),
                calibration: self.ds.calibration.clone(),
            },
            truth,
            refs,
            comm,
            source_range: first + start..first + end,
            chunks: astrosolve_model::obs::local_chunks(&self.chunks, &(start..end)),
            spilled: None,
        }
    }

    /// Moves the observations out of memory into a file in `dir` (on a disk), read again
    /// source by source at every linearisation ([`io::ObservationFile`]: 52 bytes per
    /// observation on disk; resident only the design rows, ≈ 75 instead of ≈ 130 bytes per
    /// AL observation in all, docs/scaling.md). The solution is the same, bit for bit. The
    /// file's name is removed at once on Unix (nothing is left in `dir`).
    pub fn spill_observations(&mut self, dir: &Path) -> Result<(), RunError> {
        if self.spilled.is_some() {
            return Ok(());
        }
        let name = format!(
            ".astrosolve-observations-{}-rank{}.bin",
            std::process::id(),
            self.comm.rank()
        );
        let file = io::ObservationFile::create(&dir.join(name), &self.ds.observations)?;
        self.ds.observations.obs = Vec::new();
        self.spilled = Some(file);
        Ok(())
    }

    /// The observations: in memory, or on disk after [`Problem::spill_observations`].
    pub fn observations(&self) -> &dyn ObservationStore {
        match &self.spilled {
            Some(f) => f,
            None => &self.ds.observations,
        }
    }

    /// The observation model: the mission's instrument, the starting calibration's model and
    /// the Gaia-L2 ephemeris tabulated over the mission (± 1 day, every 0.25 day).
    pub fn model(&self) -> GaiaModel {
        let m = &self.mission;
        let analytic = GaiaL2Ephemeris {
            reference_epoch_jd: m.reference_epoch_jd,
            l2_scale: m.l2_scale,
        };
        let eph = TabulatedEphemeris::sample(&analytic, m.t_start() - 1.0, m.t_end() + 1.0, 0.25);
        GaiaModel::new(m.instrument(), &self.ds.calibration, Arc::new(eph))
    }

    /// What fixes the frame: the reference positions and the quasar-like sources. For the
    /// Gaia-like frame, refused when fewer than two of either exist or when the reference
    /// positions are grossly rotated from the starting catalogue
    /// ([`crate::frame::check_references`]); the end of the solve warns when few of them were solved.
    pub fn frame_reference(&self, mode: FrameMode) -> Result<FrameReference, RunError> {
        use crate::frame::{check_references_on, FEW_FRAME_SOURCES, MIN_FRAME_SOURCES};
        let comm = self.comm.as_ref();
        let mut fr = FrameReference::new(&self.refs, &self.ds.sources);
        if mode == FrameMode::MinNorm {
            return Ok(fr);
        }
        let (n_ref, n_qso) = (
            comm.sum_count(fr.positions.len()),
            comm.sum_count(fr.zero_spin.len()),
        );
        if n_ref < MIN_FRAME_SOURCES || n_qso < MIN_FRAME_SOURCES {
            return Err(RunError::Other(format!(
                "the Gaia-like frame needs at least {MIN_FRAME_SOURCES} reference positions (reference_positions.parquet: {n_ref}) and {MIN_FRAME_SOURCES} quasar-like sources (is_qso in sources.parquet: {n_qso}) to fix the orientation and the spin, {FEW_FRAME_SOURCES} or more of each to rest on more than a few; add them, or use --frame min-norm"
            )));
        }
        let start: Vec<_> = self.ds.sources.iter().map(|s| s.params).collect();
        let ids: Vec<i64> = self.ds.sources.iter().map(|s| s.source_id).collect();
        fr.warnings = check_references_on(&fr, &start, &ids, comm).map_err(RunError::Other)?;
        Ok(fr)
    }

    /// Number of attitude + calibration unknowns (the direct solver's reduced system).
    pub fn n_reduced_unknowns(&self) -> usize {
        self.ds.attitude.n_params() + self.ds.calibration.n_params()
    }
}

/// Solves `p` from its starting values; `progress` returns false to interrupt (then
/// `SolveError::Interrupted`).
pub fn solve(
    p: &Problem,
    cfg: &ScanConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<Solution, RunError> {
    let fr = p.frame_reference(cfg.frame)?;
    let model = p.model();
    Ok(crate::solve::solve_resumable_on(
        &model,
        p.observations(),
        &p.ds.sources,
        &p.ds.attitude,
        &p.ds.calibration,
        &fr,
        cfg,
        progress,
        None,
        &mut |_| true,
        p.comm.as_ref(),
        p.chunks.clone(),
    )?)
}

/// [`solve`] with checkpoints after every outer iteration, resumed from the one in the
/// output directory when `ck.resume` ([`Checkpointing`]). Under several ranks each rank
/// writes and resumes from its own file ([`Checkpointing::for_rank`], applied here).
pub fn solve_checkpointed(
    p: &Problem,
    cfg: &ScanConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
    ck: &Checkpointing,
) -> Result<Solution, RunError> {
    let fr = p.frame_reference(cfg.frame)?;
    let model = p.model();
    let comm = p.comm.as_ref();
    let ck = ck.for_rank(comm, p.source_range.clone());
    ck.run_on(comm, |from, save| {
        crate::solve::solve_resumable_on(
            &model,
            p.observations(),
            &p.ds.sources,
            &p.ds.attitude,
            &p.ds.calibration,
            &fr,
            cfg,
            progress,
            from,
            save,
            comm,
            p.chunks.clone(),
        )
    })
}

/// One rank's share of a solution as sent to rank 0 by [`gather`]: its starting sources,
/// their truth, its reference positions (indices of its sources), its solved sources.
type Share = (
    Vec<Source>,
    Option<Vec<Source>>,
    Vec<ReferencePosition>,
    Vec<crate::solution::SourceResult>,
);

/// Collects a distributed solution (collective: every rank calls it with its part and its
/// solution): on rank 0 the whole problem and solution, sources in catalogue order (ranks in
/// order), ready for [`write_solution`]; `None` on the other ranks. The attitude, calibration,
/// report and spectrum are rank 0's (replicated, equal on every rank). Not collected: the
/// observations (the gathered problem has none: `write_solution` does not need them; its
/// source offsets are all 0), the truth's per-observation noise and outlier flags, and the
/// direct solver's full covariance object (`Solution::covariance` is None; every source's
/// covariance block is in its `SourceResult`).
pub fn gather(p: &Problem, sol: &Solution) -> Result<Option<(Problem, Solution)>, RunError> {
    let comm = p.comm.as_ref();
    if comm.size() <= 1 {
        return Ok(Some((
            p.part(0..p.ds.sources.len(), Arc::new(Single)),
            clone_solution(sol),
        )));
    }
    let share = (
        &p.ds.sources,
        p.truth.as_ref().map(|t| &t.sources),
        &p.refs,
        &sol.sources,
    );
    let bytes = checkpoint::to_bytes(&share)
        .map_err(|e| RunError::Other(format!("gathering the solution: {e}")))?;
    let Some(all) = comm.gather_bytes(&bytes, 0) else {
        return Ok(None);
    };
    let mut sources = Vec::new();
    let mut truth_sources: Option<Vec<Source>> = p.truth.as_ref().map(|_| Vec::new());
    let mut refs = Vec::new();
    let mut results = Vec::new();
    for (rank, b) in all.iter().enumerate() {
        let (s, t, r, res): Share = checkpoint::from_bytes(b).map_err(|e| {
            RunError::Other(format!(
                "gathering the solution: the share of rank {rank}: {e}"
            ))
        })?;
        let first = sources.len();
        if res.len() != s.len() {
            return Err(RunError::Other(format!(
                "gathering the solution: rank {rank} sent {} sources and {} results",
                s.len(),
                res.len()
            )));
        }
        refs.extend(r.into_iter().map(|x| ReferencePosition {
            source_index: x.source_index + first,
            ..x
        }));
        if let (Some(all_t), Some(t)) = (truth_sources.as_mut(), t) {
            all_t.extend(t);
        }
        sources.extend(s);
        results.extend(res);
    }
    let n = sources.len();
    let truth = p.truth.as_ref().map(|t| Truth {
        sources: truth_sources.unwrap_or_default(),
        attitude: t.attitude.clone(),
        calibration: t.calibration.clone(),
        is_outlier: Vec::new(),
        noise_eta: Vec::new(),
        noise_zeta: Vec::new(),
    });
    let full = Problem {
        mission: p.mission.clone(),
        ds: Dataset {
            mission: p.ds.mission.clone(),
            sources,
            observations: ObservationSet {
                obs: Vec::new(),
                source_offsets: vec![0; n + 1],
            },
            attitude: p.ds.attitude.clone(),
            calibration: p.ds.calibration.clone(),
        },
        truth,
        refs,
        comm: Arc::new(Single),
        source_range: 0..n,
        chunks: Vec::new(),
        spilled: None,
    };
    let mut s = clone_solution(sol);
    s.sources = results;
    s.covariance = None;
    Ok(Some((full, s)))
}

/// A copy of a solution without its full covariance (not cloneable: it holds the factor).
fn clone_solution(sol: &Solution) -> Solution {
    Solution {
        sources: sol.sources.clone(),
        attitude: sol.attitude.clone(),
        calibration: sol.calibration.clone(),
        report: sol.report.clone(),
        frame: sol.frame.clone(),
        covariance: None,
        spectrum: sol.spectrum.clone(),
        layout: sol.layout.clone(),
    }
}

/// report.json: the solver's own record (solver, convergence, iterations, counts, timing,
/// history) with, where truth is known, the comparison against it.
#[derive(Serialize)]
pub struct Report<'a> {
    #[serde(flatten)]
    pub solve: &'a SolveReport,
    /// How the frame defect was fixed (gaia, min-norm).
    pub frame_mode: &'a str,
    /// Comparison with the simulated truth (sources with at least 20 good observations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truth: Option<TruthReport<'a>>,
}

/// The truth section of report.json.
#[derive(Serialize)]
pub struct TruthReport<'a> {
    #[serde(flatten)]
    pub comparison: &'a TruthComparison,
    /// Calibration parameters: RMS of estimate − truth (µas).
    pub calibration_rms_error_uas: f64,
    /// Attitude: RMS over time of the rotation between estimated and true attitude (µas), about
    /// the SRS z axis (along scan) and x, y (across scan).
    pub attitude_rms_error_uas: [f64; 3],
}

impl<'a> Report<'a> {
    pub fn new(
        solve: &'a SolveReport,
        frame_mode: &'a str,
        truth: Option<TruthReport<'a>>,
    ) -> Self {
        Report {
            solve,
            frame_mode,
            truth,
        }
    }
}

/// What [`write_solution`] wrote: report.json's text and the comparison with the truth.
pub struct Written {
    pub report_json: String,
    pub comparison: Option<TruthComparison>,
}

/// Sources with at least this many good observations enter the comparison with the truth.
pub const TRUTH_MIN_OBS: u32 = 20;

/// Writes catalogue.parquet, attitude.parquet, calibration.parquet and report.json of `sol`
/// into `out` (replacing them), each through a temporary file and a rename. The catalogue
/// flags each source with Gaia's `astrometric_params_solved`: 31 solved (5 parameters), 0 not
/// solved (starting values kept, uncertainties and excess noise null).
pub fn write_solution(p: &Problem, sol: &Solution, out: &Path) -> Result<Written, RunError> {
    let ref_epoch = io::julian_year(p.mission.reference_epoch_jd);
    let sources: Vec<Source> =
        p.ds.sources
            .iter()
            .zip(&sol.sources)
            .map(|(s, r)| Source {
                params: r.params,
                ..*s
            })
            .collect();
    // a source not solved keeps its starting values: flagged (astrometric_params_solved 0)
    // and without uncertainties (null in the file)
    let covs: Vec<[[f64; 5]; 5]> = sol
        .sources
        .iter()
        .map(|r| if r.solved { r.cov } else { [[f64::NAN; 5]; 5] })
        .collect();
    let mut solved = io::SolvedColumns::from_covariances(&covs);
    solved.astrometric_params_solved = Some(
        sol.sources
            .iter()
            .map(|r| {
                if r.solved {
                    io::PARAMS_SOLVED_5
                } else {
                    io::PARAMS_SOLVED_NONE
                }
            })
            .collect(),
    );
    solved.astrometric_n_obs_al = Some(sol.sources.iter().map(|r| r.n_obs_al as i32).collect());
    solved.astrometric_n_good_obs_al =
        Some(sol.sources.iter().map(|r| r.n_good_obs_al as i32).collect());
    solved.astrometric_n_bad_obs_al =
        Some(sol.sources.iter().map(|r| r.n_bad_obs_al as i32).collect());
    solved.astrometric_excess_noise = Some(
        sol.sources
            .iter()
            .map(|r| if r.solved { r.excess_noise } else { f64::NAN })
            .collect(),
    );
    solved.ruwe = Some(
        sol.sources
            .iter()
            .map(|r| r.ruwe.unwrap_or(f64::NAN))
            .collect(),
    );
    io::write_catalogue(
        out.join("catalogue.parquet"),
        &sources,
        ref_epoch,
        Some(&solved),
        true,
    )?;
    io::write_attitude(out.join("attitude.parquet"), &sol.attitude, true)?;
    io::write_calibration(out.join("calibration.parquet"), &sol.calibration, true)?;

    let comparison = p
        .truth
        .as_ref()
        .map(|t| truth::compare(&sol.sources, &t.sources, TRUTH_MIN_OBS));
    let truth_report = match (&p.truth, &comparison) {
        (Some(t), Some(c)) => Some(TruthReport {
            comparison: c,
            calibration_rms_error_uas: rms(sol
                .calibration
                .params
                .iter()
                .zip(&t.calibration.params)
                .map(|(a, b)| a - b))
                / UAS,
            attitude_rms_error_uas: attitude_error(&sol.attitude, &t.attitude),
        }),
        _ => None,
    };
    let report = Report::new(&sol.report, &sol.frame, truth_report);
    let report_json = serde_json::to_string_pretty(&report)
        .map_err(|e| RunError::Other(format!("report.json: {e}")))?;
    io::write_text(&out.join("report.json"), &report_json, true)?;
    Ok(Written {
        report_json,
        comparison,
    })
}

fn rms(it: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for v in it {
        s += v * v;
        n += 1;
    }
    (s / n.max(1) as f64).sqrt()
}

/// RMS rotation (x, y, z in the SRS, µas) between two attitudes, sampled at 20 000 times over
/// their common span.
pub fn attitude_error(a: &BSplineAttitude, b: &BSplineAttitude) -> [f64; 3] {
    let (t0, t1) = (
        a.knots.t0.max(b.knots.t0),
        a.knots.t_end().min(b.knots.t_end()),
    );
    let n = 20_000;
    let mut s = [0.0; 3];
    for i in 0..n {
        let t = t0 + (t1 - t0) * (i as f64 + 0.5) / n as f64;
        let d = quat::mul(&quat::conj(&b.quat(t)), &a.quat(t));
        let sign = if d[3] < 0.0 { -1.0 } else { 1.0 };
        for k in 0..3 {
            s[k] += (2.0 * sign * d[k]).powi(2);
        }
    }
    s.map(|v| (v / n as f64).sqrt() / UAS)
}
