//! MPI (rsmpi, the `mpi` crate) behind the cargo feature `mpi`: [`MpiComm`], the solver
//! core's communicator ([`astrosolve_core::comm::Comm`]) on MPI_COMM_WORLD, and the start and
//! end of an MPI run (MPI standard 4.0: sections 6.9 MPI_Reduce, 6.4 MPI_Bcast, 6.7
//! MPI_Allgatherv, 6.5 MPI_Gatherv, 6.12.1 MPI_Ibarrier, 11.2 MPI_Init_thread / MPI_Abort).
//!
//! Sums are MPI_Reduce to rank 0 followed by MPI_Bcast of rank 0's result, so that every rank
//! holds the same bits whatever reduction tree the MPI library picks (MPI_Allreduce does not
//! promise that, and ranks whose sums differed in the last bit could take different branches
//! of the solver and deadlock); for a fixed number of ranks the MPI library's choice is fixed,
//! so a run is reproducible. Maxima are exact in any order (MPI_Allreduce with MPI_MAX).
//!
//! Collectives are serialised through a mutex (MPI initialised with
//! `MPI_THREAD_SERIALIZED`): the solver's threads may call them, one at a time.

use crate::args::SolveArgs;
use crate::progress::{bar, solver_events};
use crate::{exit, pointed, prepare_out_dir, report_error_text, scanning, Command};
use astrosolve_core::comm::Comm;
use astrosolve_core::Method;
use astrosolve_io as io;
use astrosolve_scanning::run::{self, Problem, SOLUTION_FILES};
use mpi::collective::SystemOperation;
use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Count;
use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An initialised MPI environment: finalised (MPI_Finalize) when dropped.
pub struct Mpi {
    universe: Universe,
}

/// Initialises MPI once (at the start of `main`); None when it cannot be initialised (the
/// program then runs as one process).
pub fn init() -> Option<Mpi> {
    let (universe, _provided) = mpi::initialize_with_threading(mpi::Threading::Serialized)?;
    Some(Mpi { universe })
}

impl Mpi {
    /// This process's rank in MPI_COMM_WORLD.
    pub fn rank(&self) -> usize {
        self.universe.world().rank().max(0) as usize
    }

    /// The number of processes of MPI_COMM_WORLD.
    pub fn size(&self) -> usize {
        self.universe.world().size().max(1) as usize
    }

    /// The communicator on MPI_COMM_WORLD.
    pub fn comm(&self) -> MpiComm {
        let w = self.universe.world();
        MpiComm {
            rank: w.rank().max(0) as usize,
            size: w.size().max(1) as usize,
            lock: Mutex::new(()),
        }
    }
}

/// The solver's communicator on MPI_COMM_WORLD.
pub struct MpiComm {
    rank: usize,
    size: usize,
    /// Serialises the MPI calls (MPI_THREAD_SERIALIZED).
    lock: Mutex<()>,
}

fn world() -> SimpleCommunicator {
    SimpleCommunicator::world()
}

/// Counts (as MPI counts) and displacements of blocks of the given lengths.
fn partition(lengths: &[Count]) -> Vec<Count> {
    let mut d = Vec::with_capacity(lengths.len());
    let mut at: Count = 0;
    for &l in lengths {
        d.push(at);
        at += l;
    }
    d
}

/// Values per message of the pipelined ordered sum ([`MpiComm::ordered_fold`]): 1 MiB.
const FOLD_SEGMENT: usize = 1 << 17;

/// A buffer length as an MPI count: MPI counts are C ints; a longer buffer is a programming
/// error of the caller (the solver sends at most the global unknowns, ≪ 2³¹).
fn count(n: usize) -> Count {
    Count::try_from(n).unwrap_or_else(|_| {
        eprintln!(
            "error: an MPI message of {n} elements exceeds the {} MPI can send at once",
            Count::MAX
        );
        world().abort(1)
    })
}

impl MpiComm {
    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every rank's length, in rank order, on every rank.
    fn lengths(&self, n: usize) -> Vec<Count> {
        let mut all = vec![0 as Count; self.size];
        world().all_gather_into(&count(n), &mut all[..]);
        all
    }

    /// Waits until every rank has called it (MPI_Ibarrier, tested every millisecond); false
    /// when `timeout` passes first (another rank is stuck elsewhere). Collective.
    pub fn barrier_within(&self, timeout: Duration) -> bool {
        let _g = self.guard();
        let mut req = world().immediate_barrier();
        let t = Instant::now();
        loop {
            match req.test() {
                Ok(_) => return true,
                Err(r) => req = r,
            }
            if t.elapsed() > timeout {
                // the request stays pending: the caller aborts
                std::mem::forget(req);
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Ends every rank of the job (MPI_Abort) with exit status `code`.
    pub fn abort(&self, code: i32) -> ! {
        world().abort(code)
    }
}

impl Comm for MpiComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn sum(&self, buf: &mut [f64]) {
        if self.size == 1 || buf.is_empty() {
            return;
        }
        let _g = self.guard();
        let w = world();
        let root = w.process_at_rank(0);
        count(buf.len());
        if self.rank == 0 {
            let mut out = vec![0.0; buf.len()];
            root.reduce_into_root(&buf[..], &mut out[..], SystemOperation::sum());
            buf.copy_from_slice(&out);
        } else {
            root.reduce_into(&buf[..], SystemOperation::sum());
        }
        root.broadcast_into(&mut buf[..]);
    }

    fn max(&self, buf: &mut [f64]) {
        if self.size == 1 || buf.is_empty() {
            return;
        }
        let _g = self.guard();
        count(buf.len());
        let send = buf.to_vec();
        world().all_reduce_into(&send[..], &mut buf[..], SystemOperation::max());
    }

    /// A pipeline: rank r receives the sums of ranks 0..r from rank r − 1, adds its own
    /// (`f`), sends them to rank r + 1; the last rank broadcasts the result. Cost: size − 1
    /// messages of `buf` one after the other (each rank's `f` waits for the ranks before it;
    /// callers compute their partials before, so `f` is a cheap fold) and one broadcast.
    fn chain(&self, buf: &mut [f64], f: &mut dyn FnMut(&mut [f64])) {
        if self.size == 1 || buf.is_empty() {
            f(buf);
            return;
        }
        count(buf.len());
        if self.rank > 0 {
            let _g = self.guard();
            world()
                .process_at_rank(self.rank as i32 - 1)
                .receive_into(&mut buf[..]);
        }
        f(buf);
        let _g = self.guard();
        let w = world();
        if self.rank + 1 < self.size {
            w.process_at_rank(self.rank as i32 + 1).send(&buf[..]);
        }
        w.process_at_rank(self.size as i32 - 1)
            .broadcast_into(&mut buf[..]);
    }

    /// A pipeline in segments of [`FOLD_SEGMENT`] values: for each segment in turn, rank r
    /// receives the running sum of ranks 0..r from rank r − 1, folds its own partials into
    /// it, and sends it on to rank r + 1, so that rank r + 1 folds segment s while rank r
    /// folds segment s + 1; the last rank then broadcasts the whole sum. Time ≈ (size − 1 +
    /// segments) × (one segment's transfer and fold) + one broadcast; each rank sends and
    /// receives `total` once, plus the broadcast.
    fn ordered_fold(&self, parts: &[&[f64]], total: &mut [f64]) {
        total.iter_mut().for_each(|v| *v = 0.0);
        if self.size == 1 || total.is_empty() {
            astrosolve_core::chunks::fold_into(total, parts);
            return;
        }
        count(total.len());
        for (si, seg) in total.chunks_mut(FOLD_SEGMENT).enumerate() {
            let o = si * FOLD_SEGMENT;
            if self.rank > 0 {
                let _g = self.guard();
                world()
                    .process_at_rank(self.rank as i32 - 1)
                    .receive_into(&mut seg[..]);
            }
            let mine: Vec<&[f64]> = parts.iter().map(|p| &p[o..o + seg.len()]).collect();
            astrosolve_core::chunks::fold_into(seg, &mine);
            if self.rank + 1 < self.size {
                let _g = self.guard();
                world().process_at_rank(self.rank as i32 + 1).send(&seg[..]);
            }
        }
        let _g = self.guard();
        world()
            .process_at_rank(self.size as i32 - 1)
            .broadcast_into(&mut total[..]);
    }

    fn all_gather(&self, local: &[f64]) -> Vec<f64> {
        if self.size == 1 {
            return local.to_vec();
        }
        let _g = self.guard();
        let lengths = self.lengths(local.len());
        let displs = partition(&lengths);
        let total: usize = lengths.iter().map(|&c| c as usize).sum();
        let mut out = vec![0.0; total];
        {
            let mut part = PartitionMut::new(&mut out[..], &lengths[..], &displs[..]);
            world().all_gather_varcount_into(local, &mut part);
        }
        out
    }

    fn gather_bytes(&self, bytes: &[u8], root: usize) -> Option<Vec<Vec<u8>>> {
        if self.size == 1 {
            return Some(vec![bytes.to_vec()]);
        }
        let _g = self.guard();
        let w = world();
        let r = w.process_at_rank(root as i32);
        let n = count(bytes.len());
        // an empty slice of bytes points at address 1, which OpenMPI reads as MPI_IN_PLACE:
        // send from (and receive into) buffers that own memory
        let dummy = [0u8; 1];
        let bytes = if bytes.is_empty() { &dummy[..0] } else { bytes };
        if self.rank == root {
            let mut lengths = vec![0 as Count; self.size];
            r.gather_into_root(&n, &mut lengths[..]);
            let displs = partition(&lengths);
            let total: usize = lengths.iter().map(|&c| c as usize).sum();
            let mut all = vec![0u8; total.max(1)];
            {
                let mut part = PartitionMut::new(&mut all[..], &lengths[..], &displs[..]);
                r.gather_varcount_into_root(bytes, &mut part);
            }
            let mut out = Vec::with_capacity(self.size);
            for (&d, &l) in displs.iter().zip(&lengths) {
                out.push(all[d as usize..(d + l) as usize].to_vec());
            }
            Some(out)
        } else {
            r.gather_into(&n);
            r.gather_varcount_into(bytes);
            None
        }
    }

    fn broadcast_bytes(&self, bytes: &mut Vec<u8>, root: usize) {
        if self.size == 1 {
            return;
        }
        let _g = self.guard();
        let w = world();
        let r = w.process_at_rank(root as i32);
        let mut n = count(bytes.len()) as u64;
        r.broadcast_into(&mut n);
        bytes.resize(n as usize, 0);
        if n > 0 {
            r.broadcast_into(&mut bytes[..]);
        }
    }
}

/// Prints (rank 0) which ranks hold no source: ranks are cut only at the global chunk
/// boundaries (`astrosolve_model::obs::partition_chunks`, at most 32 chunks, fewer for small
/// catalogues), so that the solution is the one-process one bit for bit; ranks beyond the
/// number of chunks wait in the reductions.
fn empty_ranks_note(empty: impl Iterator<Item = bool>) {
    let idle: Vec<String> = empty
        .enumerate()
        .filter(|(_, e)| *e)
        .map(|(r, _)| r.to_string())
        .collect();
    if !idle.is_empty() {
        println!(
            "  note: rank(s) {} hold no source (ranks are cut only at the catalogue's fixed chunk boundaries, so that the solution is the one-process one bit for bit; use fewer ranks)",
            idle.join(", ")
        );
    }
}

/// How long a rank whose solve failed waits for the others to reach the end of the solve
/// before it takes its error as its own (the others wait in a collective it will never join)
/// and ends the job (MPI_Abort) with its message.
const FAILED_RANK_WAIT: Duration = Duration::from_secs(300);

type Res = Result<(), Box<dyn Error>>;

/// Removes this rank's checkpoint and, on rank 0, the one-process one before a fresh solve, so
/// that the checkpoints of an earlier solve (--force) are not resumed from by accident
/// (collective).
fn clear_checkpoints(
    comm: &MpiComm,
    command: &Command,
    ck: &run::Checkpointing,
    rank_ck: &run::Checkpointing,
) -> Result<(), i32> {
    let r: Res = (|| {
        rank_ck.remove()?;
        if comm.is_root() {
            ck.remove()?;
        }
        Ok(())
    })();
    agree(comm, command, r)
}

/// The outcome of one phase on every rank (collective): Ok when every rank succeeded;
/// otherwise the exit status of the first failing rank in rank order, whose message rank 0
/// prints, once.
fn agree(comm: &MpiComm, command: &Command, r: Res) -> Result<(), i32> {
    let msg: Vec<u8> = match &r {
        Ok(()) => Vec::new(),
        Err(e) => {
            let mut b = exit::code(e.as_ref()).to_le_bytes().to_vec();
            b.extend(e.to_string().as_bytes());
            b
        }
    };
    let mut code = 0i32;
    if let Some(all) = comm.gather_bytes(&msg, 0) {
        if let Some((rank, b)) = all.iter().enumerate().find(|(_, b)| b.len() >= 4) {
            let c = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let text = String::from_utf8_lossy(&b[4..]);
            let text = if rank == 0 {
                text.into_owned()
            } else {
                format!("(rank {rank}) {text}")
            };
            code = report_error_text(command, &text, c.max(1));
        }
    }
    let mut bytes = code.to_le_bytes().to_vec();
    comm.broadcast_bytes(&mut bytes, 0);
    let code = match bytes[..] {
        [a, b, c, d] => i32::from_le_bytes([a, b, c, d]),
        _ => 1,
    };
    if code == 0 {
        Ok(())
    } else {
        Err(code)
    }
}

/// Runs `command` on every rank of MPI_COMM_WORLD (more than one); the exit status, the same
/// on every rank.
pub fn run(env: &Mpi, command: &Command) -> i32 {
    let comm = Arc::new(env.comm());
    let r = match command {
        Command::Solve(a) if io::is_pointed_dataset(&a.dir) => {
            match solve_pointed(&comm, command, a) {
                Ok(()) => return 0,
                Err(code) => return code,
            }
        }
        Command::Solve(a) => match solve_scanning(&comm, command, a) {
            Ok(()) => return 0,
            Err(code) => return code,
        },
        _ => Err(format!(
            "only `astrosolve solve` runs on several MPI ranks (this job has {}); run the other commands as one process",
            comm.size()
        )
        .into()),
    };
    match agree(&comm, command, r) {
        Ok(()) => 0,
        Err(code) => code,
    }
}

/// `astrosolve solve` of a scanning data set on every rank: each rank reads its share of the
/// sources and their observations ([`io::read_dataset_part`]) and solves it in lock-step with
/// the others ([`run::solve_checkpointed`], each rank its own checkpoint); rank 0 gathers the
/// solution ([`run::gather`]), writes every output and prints; the other ranks stay quiet.
fn solve_scanning(comm: &Arc<MpiComm>, command: &Command, a: &SolveArgs) -> Result<(), i32> {
    let (rank, size, root) = (comm.rank(), comm.size(), comm.is_root());
    let opts = &a.solver;
    // refused before any work
    let r: Res = (|| {
        opts.check_direct_flags()?;
        if opts.cov_pairs.is_some() {
            return Err("--cov-pairs is not available on several MPI ranks (it needs the full covariance in one process); solve as one process for it".into());
        }
        if root {
            // resuming finishes the solve whose checkpoints OUT holds: its outputs may be replaced
            prepare_out_dir(&a.out, &SOLUTION_FILES, a.force || a.resume, &[&a.dir])?;
        }
        Ok(())
    })();
    agree(comm, command, r)?;

    // every rank: its checkpoints and its share of the data set
    let cfg = scanning::scan_config(opts);
    let read = (|| -> Result<_, Box<dyn Error>> {
        // the output directory may be on a file system of this rank's own
        io::ensure_writable_dir(&a.out)?;
        let ck = run::Checkpointing::new(
            &a.out,
            &a.dir,
            &run::INPUT_FILES,
            run::config_fingerprint(&cfg),
            a.resume,
        )?;
        let part = io::read_dataset_part(&a.dir, rank, size)?;
        Ok((ck, part))
    })();
    let (r, read) = match read {
        Ok(x) => (Ok(()), Some(x)),
        Err(e) => (Err(e), None),
    };
    agree(comm, command, r)?;
    let Some((ck, part)) = read else {
        return Err(1);
    };
    let range = part.source_range.clone();
    let shares = comm.all_gather(&[
        range.start as f64,
        range.end as f64,
        part.dataset.observations.len() as f64,
        part.row_groups_read as f64,
    ]);
    if root {
        println!(
            "read {} sources and {} observations from {} on {size} MPI ranks:",
            part.n_sources_total,
            part.n_observations_total,
            a.dir.display()
        );
        for (r, s) in shares.chunks_exact(4).enumerate() {
            println!(
                "  rank {r}: sources {}..{}, {} observations ({} of {} row groups read)",
                s[0], s[1], s[2], s[3], part.row_groups_total
            );
        }
        empty_ranks_note(shares.chunks_exact(4).map(|s| s[0] == s[1]));
    }
    let mut p = Problem {
        mission: part.dataset.mission.clone(),
        ds: part.dataset,
        truth: part.truth,
        refs: part.refs,
        comm: comm.clone(),
        source_range: range.clone(),
        chunks: part.chunks,
        spilled: None,
    };
    if a.observations_on_disk {
        // every rank its own file, in OUT as this rank sees it
        let r = p.spill_observations(&a.out).map_err(|e| e.into());
        agree(comm, command, r)?;
    }
    let rank_ck = ck.for_rank(comm.as_ref(), range.clone());
    if !a.resume {
        clear_checkpoints(comm, command, &ck, &rank_ck)?;
    }

    // the solve, in lock-step
    if root && cfg.solver.method == Method::Direct {
        let n = p.n_reduced_unknowns();
        println!(
            "direct solver: {n} reduced unknowns (attitude + calibration), dense matrix {:.2} GB on each rank \
(at the end: full covariance, skip with --no-covariance; eigenvalue spectrum, skip with --no-spectrum)",
            (n as f64).powi(2) * 8e-9
        );
    }
    let solved = if root {
        let pb = bar(cfg.solver.max_outer as u64, "solve");
        let s = run::solve_checkpointed(&p, &cfg, &mut solver_events(&pb), &ck);
        pb.finish_and_clear();
        s
    } else {
        let _solving = crate::interrupt::Solving::start();
        run::solve_checkpointed(&p, &cfg, &mut |_| !crate::interrupt::requested(), &ck)
    };
    let sol = end_of_solve(comm, command, solved.map_err(Into::into))?;

    // rank 0 writes everything
    let covariance = sol.covariance.is_some();
    let r: Res = match run::gather(&p, &sol) {
        Ok(Some((full, full_sol))) => {
            scanning::write_solution(&full, &full_sol, &a.out, covariance)
        }
        Ok(None) => Ok(()),
        Err(e) => Err(e.into()),
    };
    agree(comm, command, r)?;
    // the solution is written: the checkpoints are no longer needed
    agree(comm, command, rank_ck.remove().map_err(Into::into))
}

/// The end of a distributed solve (collective): the solution of this rank when every rank
/// solved; otherwise the exit status, rank 0 having printed the first failing rank's message.
/// A rank that failed alone (the others wait in a collective it will never join) ends the job
/// (MPI_Abort) with its message after [`FAILED_RANK_WAIT`].
fn end_of_solve<T>(
    comm: &MpiComm,
    command: &Command,
    solved: Result<T, Box<dyn Error>>,
) -> Result<T, i32> {
    let (r, sol): (Res, _) = match solved {
        Ok(s) => (Ok(()), Some(s)),
        Err(e) => (Err(e), None),
    };
    if let Err(e) = &r {
        if !comm.barrier_within(FAILED_RANK_WAIT) {
            eprintln!("error (rank {}): {e}", comm.rank());
            comm.abort(exit::code(e.as_ref()).max(1));
        }
    } else {
        comm.barrier_within(Duration::MAX);
    }
    agree(comm, command, r)?;
    sol.ok_or(1)
}

/// `astrosolve solve` of a JASMINE-like (pointed) data set on every rank: the global
/// solution distributed over the ranks, everything else as one process on rank 0.
///
/// Every rank reads the WHOLE data set (the pointed reader has no partial read yet: memory
/// and read time are those of one process on every rank) and keeps its contiguous range of
/// stars balanced by image count and cut at the global chunk boundaries
/// ([`partition_chunks`], [`Problem::part`]) with every
/// exposure and calibration unit; the global solution is solved in lock-step
/// ([`solve_global_on`], each rank its own checkpoint, [`run::Checkpointing::for_rank`]) and
/// gathered on rank 0 ([`gather_global`]). Rank 0 then computes the plate-by-plate solution
/// and the direct cross-check (where the reduced system fits) as one process, and writes every
/// output ([`pointed::write_solution`]); the other ranks wait (sleeping, MPI_Ibarrier).
///
/// [`partition_chunks`]: astrosolve_model::obs::partition_chunks
/// [`Problem::part`]: astrosolve_pointed::Problem::part
/// [`solve_global_on`]: astrosolve_pointed::solve_global_on
/// [`gather_global`]: astrosolve_pointed::gather_global
fn solve_pointed(comm: &Arc<MpiComm>, command: &Command, a: &SolveArgs) -> Result<(), i32> {
    let (rank, size, root) = (comm.rank(), comm.size(), comm.is_root());
    let opts = &a.solver;
    // refused before any work
    let r: Res = (|| {
        pointed::check_flags(opts)?;
        pointed::check_solve_args(a)?;
        if root {
            // resuming finishes the solve whose checkpoints OUT holds: its outputs may be replaced
            prepare_out_dir(
                &a.out,
                &pointed::SOLUTION_FILES,
                a.force || a.resume,
                &[&a.dir],
            )?;
        }
        Ok(())
    })();
    agree(comm, command, r)?;

    let cfg = pointed::global_config(opts);
    let read = (|| -> Result<_, Box<dyn Error>> {
        // the output directory may be on a file system of this rank's own
        io::ensure_writable_dir(&a.out)?;
        let ck = pointed::checkpointing(a, &cfg)?;
        let read = pointed::read(a, root)?;
        let mut counts = vec![0usize; read.p.n_sources];
        for o in &read.p.obs {
            counts[o.source as usize] += 1;
        }
        let range = astrosolve_model::obs::partition_chunks(&counts, size)
            .1
            .into_iter()
            .nth(rank)
            .unwrap_or(0..0);
        let part = read.p.part(range.clone())?;
        Ok((ck, read, range, part))
    })();
    let (r, read) = match read {
        Ok(x) => (Ok(()), Some(x)),
        Err(e) => (Err(e), None),
    };
    agree(comm, command, r)?;
    let Some((ck, read, range, part)) = read else {
        return Err(1);
    };
    // only rank 0 needs the whole data set again (plates, direct cross-check, outputs)
    let read = root.then_some(read);
    let shares = comm.all_gather(&[range.start as f64, range.end as f64, part.obs.len() as f64]);
    if root {
        println!("global solution on {size} MPI ranks:");
        for (r, s) in shares.chunks_exact(3).enumerate() {
            println!("  rank {r}: stars {}..{}, {} images", s[0], s[1], s[2]);
        }
        empty_ranks_note(shares.chunks_exact(3).map(|s| s[0] == s[1]));
    }
    let rank_ck = ck.for_rank(comm.as_ref(), range.clone());
    if !a.resume {
        clear_checkpoints(comm, command, &ck, &rank_ck)?;
    }

    // the global solution, in lock-step
    let c: &dyn Comm = comm.as_ref();
    let solved = if root {
        let pb = bar(cfg.max_outer as u64, "global");
        let s = rank_ck.run_on(c, |from, save| {
            astrosolve_pointed::solve_global_on(
                &part,
                None,
                &cfg,
                &mut solver_events(&pb),
                from,
                save,
                c,
            )
        });
        pb.finish_and_clear();
        s
    } else {
        let _solving = crate::interrupt::Solving::start();
        rank_ck.run_on(c, |from, save| {
            astrosolve_pointed::solve_global_on(
                &part,
                None,
                &cfg,
                &mut |_| !crate::interrupt::requested(),
                from,
                save,
                c,
            )
        })
    };
    let sol = end_of_solve(comm, command, solved.map_err(Into::into))?;

    // rank 0: plates, direct cross-check, outputs; the others wait
    let r: Res = match astrosolve_pointed::gather_global(&sol, c) {
        Ok(Some(global)) => match &read {
            Some(read) => pointed::plates(read)
                .and_then(|plate| pointed::write_solution(a, read, &cfg, plate, global)),
            None => Err("rank 0 lost its data set".into()),
        },
        Ok(None) => Ok(()),
        Err(e) => Err(e.into()),
    };
    comm.barrier_within(Duration::MAX);
    agree(comm, command, r)?;
    // the solution is written: the checkpoints are no longer needed
    agree(comm, command, rank_ck.remove().map_err(Into::into))?;
    if root {
        println!(
            "wrote {}/{{catalogue_plate,catalogue_global,exposures_global,distortion_global}}.parquet, report.json and plots",
            a.out.display()
        );
    }
    Ok(())
}
