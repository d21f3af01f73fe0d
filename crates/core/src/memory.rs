//! Memory available to this process, and what a solve will hold, checked before the large
//! allocations so that a solve that cannot fit is refused at once with the figures instead of
//! being killed by the kernel hours later.
//!
//! Available = min(cgroup limit − cgroup working set, MemAvailable) (Linux kernel docs,
//! admin-guide/cgroup-v2.rst "memory.max", "memory.current", "memory.stat"; cgroup-v1/memory.rst
//! "memory.limit_in_bytes", "memory.usage_in_bytes"; filesystems/proc.rst "MemAvailable"). The
//! working set is the usage less the inactive file cache (as container runtimes count it: the
//! kernel reclaims that cache before it kills). Every level of the process's cgroup up to the
//! root is read, since a parent's limit binds as well. The user's figure
//! ([`crate::SolverConfig::max_memory_bytes`], `--max-memory`) replaces the measurement.
//! Where nothing can be read (no /proc: not Linux) the figure is unknown and nothing is refused.
//!
//! The estimate ([`Sizes::estimate`]) counts what the outer loop ([`crate::outer`]) holds at
//! its peak: the design rows, the normal equations' vectors and blocks, the solver's vectors
//! and, for the direct solver, every n × n matrix it holds at once ([`crate::schur`],
//! [`crate::covariance`]) and the source couplings.

use crate::config::{Method, SolverConfig};
use crate::error::SolveError;
use crate::robust::SourceWeighting;
use std::path::{Path, PathBuf};

/// Bytes in a GB (decimal, as the figures are printed).
pub const GB: f64 = 1e9;

/// Given bytes, returns GB (10⁹ bytes).
pub fn gb(bytes: u64) -> f64 {
    bytes as f64 / GB
}

/// Given bytes, returns them for a message: "21.89 GB", "10.0 MB", "4.1 kB", "512 bytes"
/// (decimal units).
pub fn fmt_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= GB {
        format!("{:.2} GB", b / GB)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{bytes} bytes")
    }
}

/// Memory available to this process.
#[derive(Clone, Debug, PartialEq)]
pub struct Available {
    /// Bytes, None when unknown (then nothing is refused).
    pub bytes: Option<u64>,
    /// Where the figure comes from, for messages ("cgroup v2 … − …", "MemAvailable in
    /// /proc/meminfo", "--max-memory").
    pub source: String,
}

/// The memory available: the user's figure `max_memory_bytes` if given, else measured
/// ([`measure`]). Warns (tracing) when it cannot be measured.
pub fn available(max_memory_bytes: Option<u64>) -> Available {
    if let Some(b) = max_memory_bytes {
        return Available {
            bytes: Some(b),
            source: "set by --max-memory (max_memory_bytes)".into(),
        };
    }
    let a = measure();
    if a.bytes.is_none() {
        tracing::warn!(
            "the memory available could not be measured ({}): the solver's memory check is off; set --max-memory to enable it",
            a.source
        );
    }
    a
}

/// Measures the memory available from /proc and /sys/fs/cgroup.
pub fn measure() -> Available {
    measure_with(&|p: &Path| std::fs::read_to_string(p).ok())
}

/// A limit of a cgroup file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupValue {
    /// "max" (v2), or a v1 figure of 2⁶⁰ bytes or more (v1's "unlimited" is 2⁶³ − 4096).
    Unlimited,
    Bytes(u64),
}

/// Parses a cgroup memory file (memory.max, memory.current, memory.limit_in_bytes,
/// memory.usage_in_bytes): one integer of bytes or "max". None when malformed.
pub fn parse_cgroup_value(text: &str) -> Option<CgroupValue> {
    let t = text.trim();
    if t == "max" {
        return Some(CgroupValue::Unlimited);
    }
    let v: u64 = t.parse().ok()?;
    Some(if v >= 1 << 60 {
        CgroupValue::Unlimited
    } else {
        CgroupValue::Bytes(v)
    })
}

/// Parses /proc/meminfo: MemAvailable in bytes (the file gives kB). None when absent
/// (kernels before 3.14) or malformed.
pub fn parse_meminfo(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix("MemAvailable:")?;
        let mut it = rest.split_whitespace();
        let v: u64 = it.next()?.parse().ok()?;
        match it.next() {
            Some("kB") | None => v.checked_mul(1024),
            Some(_) => None,
        }
    })
}

/// Parses a cgroup memory.stat: the inactive file cache in bytes (v2 `inactive_file`; v1
/// `total_inactive_file`, the hierarchical figure, else `inactive_file`). 0 when absent.
pub fn parse_inactive_file(text: &str) -> u64 {
    let get = |key: &str| {
        text.lines().find_map(|l| {
            let mut it = l.split_whitespace();
            (it.next()? == key).then(|| it.next()?.parse::<u64>().ok())?
        })
    };
    get("total_inactive_file")
        .or_else(|| get("inactive_file"))
        .unwrap_or(0)
}

/// The process's cgroups from /proc/self/cgroup: (v2 path of the "0::" line, v1 path of the
/// line whose controllers include "memory").
pub fn parse_proc_self_cgroup(text: &str) -> (Option<String>, Option<String>) {
    let mut v2 = None;
    let mut v1 = None;
    for l in text.lines() {
        let mut it = l.splitn(3, ':');
        let (Some(id), Some(ctl), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        if id == "0" && ctl.is_empty() {
            v2 = Some(path.to_string());
        } else if ctl.split(',').any(|c| c == "memory") {
            v1 = Some(path.to_string());
        }
    }
    (v2, v1)
}

/// Parses a size as the command line takes it: bytes, or a number with a unit (case
/// ignored) KB, MB, GB, TB (10³ⁿ), KiB, MiB, GiB, TiB (2¹⁰ⁿ) or K, M, G, T (taken as the
/// decimal units). "8GB" → 8·10⁹, "1.5GiB" → 1 610 612 736.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || {
        format!("\"{s}\" is not a memory size: give bytes or a number with a unit, e.g. 8GB, 512MB, 16GiB")
    };
    let v: f64 = num.parse().map_err(|_| bad())?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let b = v * mult;
    if !b.is_finite() || b < 1.0 || b > u64::MAX as f64 {
        return Err(format!(
            "\"{s}\" is not a memory size: it must be at least 1 byte"
        ));
    }
    Ok(b.round() as u64)
}

/// Limit less working set of one cgroup directory, None when it has no limit or no files.
/// `files`: (limit, usage) file names.
fn cgroup_room(
    read: &dyn Fn(&Path) -> Option<String>,
    dir: &Path,
    files: (&str, &str),
) -> Option<(u64, u64, u64, PathBuf)> {
    let limit_path = dir.join(files.0);
    let CgroupValue::Bytes(limit) = parse_cgroup_value(&read(&limit_path)?)? else {
        return None;
    };
    let usage = match read(&dir.join(files.1)).and_then(|t| parse_cgroup_value(&t)) {
        Some(CgroupValue::Bytes(u)) => u,
        _ => 0,
    };
    let inactive = read(&dir.join("memory.stat"))
        .map(|t| parse_inactive_file(&t))
        .unwrap_or(0);
    let used = usage.saturating_sub(inactive);
    Some((limit.saturating_sub(used), limit, used, limit_path))
}

/// The tightest room over a cgroup and its ancestors up to `root`, with its description.
fn tightest(
    read: &dyn Fn(&Path) -> Option<String>,
    root: &Path,
    rel: &str,
    files: (&str, &str),
    version: &str,
) -> Option<(u64, String)> {
    let mut dirs = vec![root.to_path_buf()];
    let mut d = root.to_path_buf();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        d = d.join(part);
        dirs.push(d.clone());
    }
    dirs.iter()
        .filter_map(|dir| cgroup_room(read, dir, files))
        .min_by_key(|r| r.0)
        .map(|(room, limit, used, path)| {
            (
                room,
                format!(
                    "cgroup {version} limit {} − {} in use, {}",
                    fmt_bytes(limit),
                    fmt_bytes(used),
                    path.display()
                ),
            )
        })
}

/// Measures the memory available, reading files through `read` (a path → its text, None when
/// unreadable; tests pass a fake file system).
pub fn measure_with(read: &dyn Fn(&Path) -> Option<String>) -> Available {
    let mut best: Option<(u64, String)> = None;
    let mut take = |c: Option<(u64, String)>| {
        if let Some((b, s)) = c {
            if best.as_ref().is_none_or(|(bb, _)| b < *bb) {
                best = Some((b, s));
            }
        }
    };
    take(
        read(Path::new("/proc/meminfo"))
            .and_then(|t| parse_meminfo(&t))
            .map(|b| (b, "MemAvailable in /proc/meminfo".to_string())),
    );
    let (v2, v1) = read(Path::new("/proc/self/cgroup"))
        .map(|t| parse_proc_self_cgroup(&t))
        .unwrap_or((None, None));
    let root2 = Path::new("/sys/fs/cgroup");
    let f2 = ("memory.max", "memory.current");
    let c2 = tightest(read, root2, v2.as_deref().unwrap_or("/"), f2, "v2")
        // a cgroup namespace that the mount does not reflect: the mount's own root
        .or_else(|| tightest(read, root2, "/", f2, "v2"));
    take(c2);
    let root1 = Path::new("/sys/fs/cgroup/memory");
    let f1 = ("memory.limit_in_bytes", "memory.usage_in_bytes");
    let c1 = tightest(read, root1, v1.as_deref().unwrap_or("/"), f1, "v1")
        .or_else(|| tightest(read, root1, "/", f1, "v1"));
    take(c1);
    match best {
        Some((b, s)) => Available {
            bytes: Some(b),
            source: s,
        },
        None => Available {
            bytes: None,
            source: "neither /proc/meminfo nor a cgroup memory limit could be read".into(),
        },
    }
}

/// One item of an estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub what: String,
    pub bytes: u64,
}

/// What a solve will hold at its peak, item by item.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Estimate {
    pub parts: Vec<Part>,
}

impl Estimate {
    fn add(&mut self, what: impl Into<String>, bytes: u64) {
        self.parts.push(Part {
            what: what.into(),
            bytes,
        });
    }

    /// Total bytes.
    pub fn total(&self) -> u64 {
        self.parts
            .iter()
            .fold(0u64, |s, p| s.saturating_add(p.bytes))
    }

    /// The items, largest first, as "what 1.23 GB".
    pub fn describe(&self) -> String {
        let mut p: Vec<&Part> = self.parts.iter().filter(|p| p.bytes > 0).collect();
        p.sort_by_key(|p| std::cmp::Reverse(p.bytes));
        p.iter()
            .map(|p| format!("{} {}", p.what, fmt_bytes(p.bytes)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The sizes of a problem that fix what a solve holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// Unknowns per source (NS).
    pub ns: usize,
    pub n_sources: usize,
    /// Global unknowns n (attitude, calibration, global parameters): the direct solver's
    /// dense matrices are n × n.
    pub n_global: usize,
    /// f64 values stored for the diagonal blocks of the global unknowns, factored
    /// ([`crate::layout::GlobalLayout::factored_len`]: the units blocks' low-rank factors
    /// included, also in the per-thread accumulators, which hold only the accumulated part:
    /// a small overestimate).
    pub block_storage: usize,
    /// Design rows (measurements) and the bytes of one stored row.
    pub n_rows: usize,
    pub row_bytes: usize,
    /// Frame rows of every linear step (at most the six of the frame defect).
    pub frame_rows: usize,
    /// Worker threads (accumulators per thread).
    pub threads: usize,
    /// Observation records held in memory (bytes; not in the estimate, which counts what the
    /// solve allocates): what `--observations-on-disk` would free.
    pub resident_records: u64,
}

/// Frame rows assumed before the first linearisation: the six directions of the frame
/// defect (orientation and spin), the most any instrument constrains.
pub const FRAME_ROWS: usize = 6;

const F64: u64 = 8;

impl Sizes {
    /// Sizes of problem `p` at `state` (before the first linearisation).
    pub fn of_problem<const NS: usize, P: crate::outer::Problem<NS>>(
        p: &P,
        state: &P::State,
    ) -> Sizes {
        let layout = p.global_layout(state);
        Sizes {
            ns: NS,
            n_sources: p.n_sources(),
            n_global: layout.n,
            block_storage: layout.factored_len(),
            n_rows: p.row_offsets().last().copied().unwrap_or(0),
            row_bytes: std::mem::size_of::<P::Row>(),
            frame_rows: FRAME_ROWS,
            threads: rayon::current_num_threads().max(1),
            resident_records: p.resident_record_bytes(),
        }
    }

    /// All unknowns N = NS · sources + n.
    pub fn n_unknowns(&self) -> u64 {
        (self.ns * self.n_sources + self.n_global) as u64
    }

    /// What a solve with `cfg` holds at its peak (bytes, item by item). `couplings`: the
    /// direct solver's source couplings ([`crate::schur::coupling_bytes`]), known after the
    /// first linearisation; None leaves them out (the estimate is then a lower bound).
    pub fn estimate(&self, cfg: &SolverConfig, couplings: Option<u64>) -> Estimate {
        let nn = self.n_unknowns();
        let (ns, src, ng) = (self.ns as u64, self.n_sources as u64, self.n_global as u64);
        let th = self.threads as u64;
        let mut e = Estimate::default();
        e.add(
            "design rows",
            self.n_rows as u64 * self.row_bytes as u64 + (src + 1) * F64,
        );
        // b, the workspace's vector, the factored source blocks, active/used/prior flags, the
        // global blocks, per-thread accumulators (assembly and passes), the frame rows and
        // their products, the outer loop's per-source covariances (this step's and the last),
        // weights and two parameter states (≈ one f64 per unknown each)
        let weights = std::mem::size_of::<SourceWeighting>() as u64;
        e.add(
            "normal equations and outer loop",
            2 * nn * F64
                + src * ns * ns * F64
                + src * 9
                + self.block_storage as u64 * F64
                + th * (2 * ng + self.block_storage as u64) * F64
                + 2 * self.frame_rows as u64 * nn * F64
                + 2 * src * (ns * ns * F64 + weights)
                + 2 * nn * F64,
        );
        match cfg.method {
            Method::Cg => e.add("PCG vectors (5 × unknowns)", 5 * nn * F64),
            Method::Bi => e.add("simple-iteration vectors (3 × unknowns)", 3 * nn * F64),
            Method::Lsqr => {
                // u (the right-hand side), LSQR's u and A v over the rows (design rows, and
                // at most NS per source not solved); x, v, w, Aᵀu, d_k, variances, the
                // preconditioner's and the variance callback's scratch, column scales
                let m = self.n_rows as u64 + ns * src;
                e.add(
                    "LSQR vectors (3 × rows + 9 × unknowns)",
                    3 * m * F64 + 9 * nn * F64,
                )
            }
            Method::Direct => {
                let n = self.n_global;
                let k = self.frame_rows as u64;
                // the copy of the source factors, flags, B, c, back-substituted update
                e.add(
                    "direct solver's vectors",
                    src * (ns * ns * F64 + 1) + ng * (k + 1) * F64 + nn * F64,
                );
                if let Some(c) = couplings {
                    e.add("source couplings (L⁻¹E per source)", c);
                }
                let (count, why) = direct_matrices(n, cfg);
                e.add(
                    format!(
                        "{count} dense {n} × {n} matrices of {} each at once ({why})",
                        fmt_bytes(crate::schur::square_bytes(n))
                    ),
                    count.saturating_mul(crate::schur::square_bytes(n)),
                );
            }
        }
        e
    }
}

/// Most n × n matrices the direct solver with `cfg` holds at once, and in which phase.
pub fn direct_matrices(n: usize, cfg: &SolverConfig) -> (u64, String) {
    let step = crate::schur::step_matrices(n, cfg.keep_rank_defect);
    let mut phases = vec![(
        step,
        if cfg.keep_rank_defect {
            "eigendecomposition of each step"
        } else {
            "Cholesky of each step"
        },
    )];
    if cfg.spectrum {
        phases.push((crate::schur::SPECTRUM_MATRICES, "the spectrum"));
    }
    if cfg.covariance {
        phases.push((crate::covariance::COVARIANCE_MATRICES, "the covariance"));
    }
    let most = phases.iter().map(|p| p.0).max().unwrap_or(step);
    let at: Vec<&str> = phases.iter().filter(|p| p.0 == most).map(|p| p.1).collect();
    (most, format!("peak in {}", at.join(" and ")))
}

/// Refuses a solve whose estimate `est` exceeds the memory available, with the figures and
/// what the alternatives in `alternatives` (a flag and its estimate) would need.
pub fn check(
    what: &str,
    est: &Estimate,
    avail: &Available,
    alternatives: &[(String, u64)],
    fewer: &str,
) -> Result<(), SolveError> {
    let Some(room) = avail.bytes else {
        return Ok(());
    };
    let need = est.total();
    if need <= room {
        return Ok(());
    }
    let mut alt: Vec<String> = alternatives
        .iter()
        .map(|(flag, b)| {
            format!(
                "{flag} (needs {}{})",
                fmt_bytes(*b),
                if *b <= room { "" } else { ", also too much" }
            )
        })
        .collect();
    alt.push(fewer.to_string());
    alt.push("or --max-memory if more memory is in fact available".to_string());
    Err(SolveError::Memory {
        what: what.to_string(),
        need_bytes: need,
        available_bytes: room,
        limit: avail.source.clone(),
        breakdown: est.describe(),
        advice: alt.join("; "),
    })
}

/// Checks a solve of a problem of `sizes` with `cfg` against `avail`, before it starts
/// (`couplings` None) or after the first linearisation (the direct solver's couplings known).
pub fn check_solve(
    sizes: &Sizes,
    cfg: &SolverConfig,
    avail: &Available,
    couplings: Option<u64>,
) -> Result<(), SolveError> {
    if avail.bytes.is_none() {
        return Ok(());
    }
    let est = sizes.estimate(cfg, couplings);
    let with = |f: &dyn Fn(&mut SolverConfig)| {
        let mut c = cfg.clone();
        f(&mut c);
        sizes.estimate(&c, couplings).total()
    };
    let mut alts: Vec<(String, u64)> = Vec::new();
    if cfg.method != Method::Cg {
        alts.push((
            "--solver cg".into(),
            with(&|c: &mut SolverConfig| c.method = Method::Cg),
        ));
    }
    if cfg.method != Method::Lsqr {
        alts.push((
            "--solver lsqr".into(),
            with(&|c: &mut SolverConfig| c.method = Method::Lsqr),
        ));
    }
    if cfg.method == Method::Direct {
        if cfg.keep_rank_defect {
            alts.push((
                "the direct solver without --pseudo-inverse".into(),
                with(&|c: &mut SolverConfig| c.keep_rank_defect = false),
            ));
        }
        if cfg.covariance {
            alts.push((
                "--no-covariance".into(),
                with(&|c: &mut SolverConfig| c.covariance = false),
            ));
        }
        if cfg.spectrum {
            alts.push((
                "--no-spectrum".into(),
                with(&|c: &mut SolverConfig| c.spectrum = false),
            ));
        }
        if cfg.covariance && cfg.spectrum {
            alts.push((
                "--no-covariance --no-spectrum".into(),
                with(&|c: &mut SolverConfig| {
                    c.covariance = false;
                    c.spectrum = false
                }),
            ));
        }
    }
    if sizes.resident_records > 0 {
        // the records freed count as memory made available
        alts.push((
            "--observations-on-disk".into(),
            est.total().saturating_sub(sizes.resident_records),
        ));
    }
    // those that save memory, the cheapest first, each saving once (the first flag that
    // gives it: `--no-spectrum` saves nothing beside the covariance's peak)
    let need = est.total();
    alts.retain(|a| a.1 < need);
    alts.sort_by_key(|a| a.1);
    alts.dedup_by_key(|a| a.1);
    let fewer = if cfg.method == Method::Direct {
        format!(
            "fewer global unknowns (the dense matrices grow as the square of the {} attitude + calibration unknowns: a longer attitude knot interval or a shorter mission)",
            sizes.n_global
        )
    } else {
        format!(
            "fewer sources or measurements ({} sources, {} measurements)",
            sizes.n_sources, sizes.n_rows
        )
    };
    let what = format!(
        "the {} solver{}",
        cfg.method.name(),
        if couplings.is_none() && cfg.method == Method::Direct {
            " (source couplings not yet counted)"
        } else {
            ""
        }
    );
    check(&what, &est, avail, &alts, &fewer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn fs(files: &[(&str, &str)]) -> impl Fn(&Path) -> Option<String> {
        let m: HashMap<PathBuf, String> = files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect();
        move |p: &Path| m.get(p).cloned()
    }

    const MEMINFO: &str = "MemTotal:       24576000 kB\nMemFree:        20000000 kB\nMemAvailable:   23826224 kB\nBuffers:          100 kB\n";

    #[test]
    fn parses_meminfo() {
        assert_eq!(parse_meminfo(MEMINFO), Some(23_826_224 * 1024));
        assert_eq!(parse_meminfo("MemTotal: 1 kB\n"), None);
        assert_eq!(parse_meminfo("MemAvailable: x kB\n"), None);
        assert_eq!(parse_meminfo(""), None);
    }

    #[test]
    fn parses_cgroup_files() {
        assert_eq!(parse_cgroup_value("max\n"), Some(CgroupValue::Unlimited));
        assert_eq!(
            parse_cgroup_value("8589934592\n"),
            Some(CgroupValue::Bytes(8_589_934_592))
        );
        // cgroup v1's "unlimited"
        assert_eq!(
            parse_cgroup_value("9223372036854771712"),
            Some(CgroupValue::Unlimited)
        );
        assert_eq!(parse_cgroup_value("-1"), None);
        assert_eq!(parse_cgroup_value(""), None);
        let stat2 = "anon 100\nfile 5000\nactive_file 3000\ninactive_file 2000\n";
        assert_eq!(parse_inactive_file(stat2), 2000);
        let stat1 = "cache 10\ninactive_file 7\ntotal_inactive_file 70\n";
        assert_eq!(parse_inactive_file(stat1), 70);
        assert_eq!(parse_inactive_file("anon 1\n"), 0);
        let cg = "9:name=systemd:/\n4:memory:/process_api/ad89\n3:cpu,cpuacct:/\n0::/user.slice/a.scope\n";
        assert_eq!(
            parse_proc_self_cgroup(cg),
            (
                Some("/user.slice/a.scope".into()),
                Some("/process_api/ad89".into())
            )
        );
        assert_eq!(parse_proc_self_cgroup("garbage"), (None, None));
    }

    #[test]
    fn formats_bytes() {
        assert_eq!(fmt_bytes(21_890_000_000), "21.89 GB");
        assert_eq!(fmt_bytes(10_000_000), "10.0 MB");
        assert_eq!(fmt_bytes(4_100), "4.1 kB");
        assert_eq!(fmt_bytes(512), "512 bytes");
    }

    #[test]
    fn measures_this_machine() {
        // on Linux MemAvailable at least is readable
        if Path::new("/proc/meminfo").exists() {
            let a = measure();
            println!("{a:?}");
            assert!(a.bytes.is_some_and(|b| b > 0), "{a:?}");
        }
    }

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_size("8GB"), Ok(8_000_000_000));
        assert_eq!(parse_size("8 gb"), Ok(8_000_000_000));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("1.5GiB"), Ok(1_610_612_736));
        assert_eq!(parse_size("512M"), Ok(512_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("2TiB"), Ok(2 << 40));
        for bad in ["", "GB", "8 parsecs", "-1GB", "0", "1e400GB", "NaN"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn measures_cgroup_v2_with_its_ancestors() {
        let read = fs(&[
            ("/proc/meminfo", MEMINFO),
            ("/proc/self/cgroup", "0::/a/b\n"),
            ("/sys/fs/cgroup/a/memory.max", "10000000000\n"),
            ("/sys/fs/cgroup/a/memory.current", "3000000000\n"),
            ("/sys/fs/cgroup/a/memory.stat", "inactive_file 1000000000\n"),
            ("/sys/fs/cgroup/a/b/memory.max", "max\n"),
            ("/sys/fs/cgroup/a/b/memory.current", "2000000000\n"),
        ]);
        let a = measure_with(&read);
        // the parent binds: 10 GB − (3 − 1) GB
        assert_eq!(a.bytes, Some(8_000_000_000));
        assert!(
            a.source.contains("cgroup v2") && a.source.contains("/sys/fs/cgroup/a/memory.max"),
            "{}",
            a.source
        );
        // MemAvailable binds when smaller
        let read = fs(&[
            ("/proc/meminfo", "MemAvailable: 1000 kB\n"),
            ("/proc/self/cgroup", "0::/\n"),
            ("/sys/fs/cgroup/memory.max", "10000000000\n"),
            ("/sys/fs/cgroup/memory.current", "0\n"),
        ]);
        let a = measure_with(&read);
        assert_eq!(a.bytes, Some(1_024_000));
        assert!(a.source.contains("MemAvailable"), "{}", a.source);
    }

    #[test]
    fn measures_cgroup_v1_and_namespaced_paths() {
        // as on the development machine: v1 memory controller, unlimited
        let read = fs(&[
            ("/proc/meminfo", MEMINFO),
            ("/proc/self/cgroup", "4:memory:/process_api/ad89\n0::/\n"),
            (
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                "9223372036854771712\n",
            ),
            (
                "/sys/fs/cgroup/memory/process_api/ad89/memory.limit_in_bytes",
                "9223372036854771712\n",
            ),
        ]);
        assert_eq!(measure_with(&read).bytes, Some(23_826_224 * 1024));
        // a limited v1 group whose path the mount does not show (cgroup namespace)
        let read = fs(&[
            ("/proc/self/cgroup", "4:memory:/docker/xyz\n"),
            (
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                "4000000000\n",
            ),
            (
                "/sys/fs/cgroup/memory/memory.usage_in_bytes",
                "1500000000\n",
            ),
            (
                "/sys/fs/cgroup/memory/memory.stat",
                "total_inactive_file 500000000\n",
            ),
        ]);
        let a = measure_with(&read);
        assert_eq!(a.bytes, Some(3_000_000_000));
        assert!(a.source.contains("cgroup v1"), "{}", a.source);
    }

    #[test]
    fn unknown_without_proc_refuses_nothing() {
        let a = measure_with(&|_: &Path| None);
        assert_eq!(a.bytes, None);
        let sizes = Sizes {
            ns: 5,
            n_sources: 1000,
            n_global: 100_000,
            block_storage: 0,
            n_rows: 0,
            row_bytes: 0,
            frame_rows: 6,
            threads: 1,
            resident_records: 0,
        };
        let cfg = SolverConfig {
            method: Method::Direct,
            ..SolverConfig::default()
        };
        assert!(check_solve(&sizes, &cfg, &a, None).is_ok());
        // the override
        let a = available(Some(123));
        assert_eq!(a.bytes, Some(123));
        assert!(check_solve(&sizes, &cfg, &a, None).is_err());
    }

    fn sizes(n_global: usize) -> Sizes {
        Sizes {
            ns: 5,
            n_sources: 2000,
            n_global,
            block_storage: 3 * n_global,
            n_rows: 200_000,
            row_bytes: 64,
            frame_rows: 6,
            threads: 2,
            resident_records: 0,
        }
    }

    fn dense_part(e: &Estimate) -> u64 {
        e.parts
            .iter()
            .find(|p| p.what.contains("dense"))
            .map(|p| p.bytes)
            .unwrap_or(0)
    }

    /// Every n × n matrix held at once: 2 for each Cholesky step (R turned into S and faer's
    /// factor), 2 for the spectrum (R and faer's copy), 3 for the covariance (the factor, the
    /// inverse, faer's scratch), 5 for an eigendecomposition step from n = 128 on (R, the
    /// eigenvectors, faer's copy and its two divide-and-conquer matrices).
    #[test]
    fn the_direct_estimate_counts_every_dense_matrix() {
        let n = 1000usize;
        let sq = 8 * (n as u64) * (n as u64);
        let s = sizes(n);
        let direct = |cov, spec, pinv| SolverConfig {
            method: Method::Direct,
            covariance: cov,
            spectrum: spec,
            keep_rank_defect: pinv,
            ..SolverConfig::default()
        };
        assert_eq!(
            dense_part(&s.estimate(&direct(true, true, false), None)),
            3 * sq
        );
        assert_eq!(
            dense_part(&s.estimate(&direct(false, true, false), None)),
            2 * sq
        );
        assert_eq!(
            dense_part(&s.estimate(&direct(false, false, false), None)),
            2 * sq
        );
        assert_eq!(
            dense_part(&s.estimate(&direct(true, true, true), None)),
            5 * sq
        );
        let small = 100usize;
        assert_eq!(
            dense_part(&sizes(small).estimate(&direct(false, false, true), None)),
            3 * 8 * (small as u64).pow(2)
        );
        // the couplings are added once known
        let a = s.estimate(&direct(true, true, false), None).total();
        let b = s.estimate(&direct(true, true, false), Some(12345)).total();
        assert_eq!(b - a, 12345);
        // the design rows for every solver
        let cg = s.estimate(&SolverConfig::default(), None);
        assert_eq!(cg.parts[0].bytes, 200_000 * 64 + 2001 * 8);
        assert_eq!(dense_part(&cg), 0);
        // the 20 000-source year of issue 14: n ≈ 52 300, 21.9 GB per matrix
        let big = sizes(52_300).estimate(&direct(true, true, false), None);
        assert!((gb(dense_part(&big)) - 3.0 * 21.88).abs() < 0.1, "{big:?}");
    }

    #[test]
    fn a_refusal_gives_the_figures_and_the_alternatives() {
        let s = sizes(20_000);
        let cfg = SolverConfig {
            method: Method::Direct,
            ..SolverConfig::default()
        };
        let avail = Available {
            bytes: Some(4_000_000_000),
            source: "test limit".into(),
        };
        let need = s.estimate(&cfg, None).total();
        let err = check_solve(&s, &cfg, &avail, None).unwrap_err();
        let SolveError::Memory {
            need_bytes,
            available_bytes,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!((*need_bytes, *available_bytes), (need, 4_000_000_000));
        let msg = err.to_string();
        for s in [
            &format!("{:.2} GB", gb(need)),
            "4.00 GB are available",
            "test limit",
            "--solver cg (needs",
            "--solver lsqr (needs",
            "--no-covariance (needs",
            "20000 attitude + calibration unknowns",
            "--max-memory",
            "3 dense 20000 × 20000 matrices of 3.20 GB each",
        ] {
            assert!(msg.contains(s), "{s:?} not in {msg}");
        }
        // cg fits, the direct solver without covariance does not; --no-spectrum alone saves
        // nothing beside the covariance's three matrices, and is not offered
        let alt = |f: &dyn Fn(&mut SolverConfig)| {
            let mut c = cfg.clone();
            f(&mut c);
            fmt_bytes(s.estimate(&c, None).total())
        };
        let cg = alt(&|c| c.method = Method::Cg);
        assert!(msg.contains(&format!("--solver cg (needs {cg});")), "{msg}");
        let no_cov = alt(&|c| c.covariance = false);
        assert!(
            msg.contains(&format!("--no-covariance (needs {no_cov}, also too much)")),
            "{msg}"
        );
        assert!(!msg.contains("--no-spectrum"), "{msg}");
        assert!(!msg.contains("NaN"));
        // enough memory: no refusal
        let avail = Available {
            bytes: Some(need),
            source: "test".into(),
        };
        assert!(check_solve(&s, &cfg, &avail, None).is_ok());
    }
}
