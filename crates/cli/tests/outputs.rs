//! Safe outputs (issue 14, item 5): an output directory that is, is inside or contains an
//! input directory (or contains an input file) is refused and the inputs stay byte for byte
//! the same; a directory that cannot be written is refused at once, before any work; files
//! are written through a temporary name and renamed, so no `.partial` or half-written file is
//! left on an error; errors name the file; Ctrl-C stops a solve with a message, exit status
//! 130 and nothing written; unsolved sources are flagged (astrometric_params_solved) and
//! `astrosolve vsh` skips them, saying how many.
//!
//! We run as root in CI, so a chmod 0555 directory is writable to us: the refusal of a
//! directory that cannot be written is tested with a path under a regular file (cannot be
//! created) and with /proc/self (exists; no file can be created in it, even by root), and
//! with chmod 0555 only when that really stops us.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn astrosolve(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_astrosolve"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn simulate(out: &Path, n_sources: &str, days: &str) {
    let o = astrosolve(&[
        "simulate",
        "--out",
        s(out),
        "--n-sources",
        n_sources,
        "--days",
        days,
        "--seed",
        "5",
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

/// Every file under `dir` (recursively, sorted), with a hash of its bytes.
fn hashes(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut v = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let mut h = DefaultHasher::new();
                std::fs::read(&p).unwrap().hash(&mut h);
                v.push((p, h.finish()));
            }
        }
    }
    v.sort();
    v
}

/// Names under `dir` (recursively) that are temporaries of the atomic writer.
fn partials(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.contains(".partial") || name.contains("write-probe") {
                v.push(p.clone());
            }
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    v
}

/// Runs a command that must be refused; returns its output text.
fn refused(args: &[&str]) -> String {
    let o = astrosolve(args);
    let t = text(&o);
    assert!(!o.status.success(), "{args:?} succeeded: {t}");
    assert!(!t.contains("panicked"), "{t}");
    t
}

#[test]
fn outputs_never_replace_inputs_and_unwritable_directories_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    simulate(&sim, "600", "60");
    let before = hashes(&sim);
    assert!(before.iter().any(|(p, _)| p.ends_with("attitude.parquet")));

    // `--out` the data set itself (the case: attitude.parquet and calibration.parquet
    // were silently replaced), written in other ways, inside it, containing it, a link to it:
    // refused, even with --force, before reading anything
    let mut cases: Vec<(PathBuf, &str)> = vec![
        (sim.clone(), "is the input directory"),
        (sim.join("."), "is the input directory"),
        (sim.join("truth/.."), "is the input directory"),
        (sim.join("sol"), "is inside the input directory"),
        (dir.path().to_path_buf(), "contains the input directory"),
    ];
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&sim, dir.path().join("link")).unwrap();
        cases.push((dir.path().join("link"), "is the input directory"));
    }
    for (out, what) in &cases {
        let t = refused(&["solve", s(&sim), "--out", s(out), "--force"]);
        assert!(
            t.contains(what) && t.contains(s(out)),
            "{}: {t}",
            out.display()
        );
        assert!(
            !t.contains("read 600 sources"),
            "refused only after reading: {t}"
        );
        assert_eq!(
            hashes(&sim),
            before,
            "inputs changed by --out {}",
            out.display()
        );
    }
    assert!(!sim.join("sol").exists());

    // an output path under a regular file: refused at once, naming it
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "a regular file").unwrap();
    let under_file = file.join("sol");
    let t = refused(&["solve", s(&sim), "--out", s(&under_file)]);
    assert!(
        t.contains(s(&under_file)) && t.contains("cannot create the output directory"),
        "{t}"
    );
    // a directory that exists but where no file can be created (even by root): refused at
    // once, naming it, instead of after the solve
    if Path::new("/proc/self").is_dir() {
        let t = refused(&["solve", s(&sim), "--out", "/proc/self"]);
        assert!(
            t.contains("/proc/self") && t.contains("cannot write in the output directory"),
            "{t}"
        );
        assert!(!t.contains("read 600 sources"), "{t}");
    }
    // chmod 0555: only where that stops this user (not root)
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let ro = dir.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        if std::fs::File::create(ro.join("x")).is_err() {
            let t = refused(&["solve", s(&sim), "--out", s(&ro)]);
            assert!(t.contains("cannot write in the output directory"), "{t}");
        } else {
            let _ = std::fs::remove_file(ro.join("x"));
        }
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert_eq!(hashes(&sim), before);
    assert!(
        partials(dir.path()).is_empty(),
        "{:?}",
        partials(dir.path())
    );

    // epoch: an output directory holding an input file is refused
    let hip = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/real/hipparcos/hip2014/H027321.d");
    assert!(
        hip.exists(),
        "real test data missing: {} (the shared folder beside the checkout)",
        hip.display()
    );
    let edir = dir.path().join("epoch");
    std::fs::create_dir(&edir).unwrap();
    std::fs::copy(&hip, edir.join("H027321.d")).unwrap();
    let ebefore = hashes(&edir);
    let t = refused(&[
        "epoch",
        s(&edir.join("H027321.d")),
        "--out",
        s(&edir),
        "--force",
    ]);
    assert!(t.contains("contains the input file"), "{t}");
    assert_eq!(hashes(&edir), ebefore);

    // vsh: an output that would replace the input catalogue is refused, even with --force
    let vdir = dir.path().join("v");
    std::fs::create_dir(&vdir).unwrap();
    let cat = vdir.join("vsh.json"); // a Parquet catalogue under an output's name
    std::fs::copy(sim.join("sources.parquet"), &cat).unwrap();
    let vbefore = hashes(&vdir);
    let t = refused(&["vsh", s(&cat), "--out", s(&vdir), "--force"]);
    assert!(t.contains("is the input catalogue"), "{t}");
    assert_eq!(hashes(&vdir), vbefore);
}

/// A solution-like catalogue: `n` sources, every 4th not solved (astrometric_params_solved 0,
/// null uncertainties), a third of them quasar-like.
fn write_solution_catalogue(path: &Path, n: usize) -> usize {
    use astrosolve_io::{SolvedColumns, PARAMS_SOLVED_5, PARAMS_SOLVED_NONE};
    use astrosolve_model::source::{Source, SourceParams};
    let mas = astrosolve_model::units::MAS;
    let mut sources = Vec::new();
    let mut covs = Vec::new();
    let mut codes = Vec::new();
    let mut n_unsolved_qso = 0;
    for i in 0..n {
        let z = -1.0 + 2.0 * (i as f64 + 0.5) / n as f64;
        let ra = (i as f64 * 2.399963).rem_euclid(std::f64::consts::TAU);
        let solved = i % 4 != 0;
        let is_qso = i % 3 == 0;
        if is_qso && !solved {
            n_unsolved_qso += 1;
        }
        sources.push(Source {
            source_id: i as i64 + 1,
            params: SourceParams {
                ra,
                dec: z.asin(),
                parallax: 0.0,
                pmra: 0.01 * mas * ((i % 7) as f64 - 3.0),
                pmdec: 0.01 * mas * ((i % 5) as f64 - 2.0),
                nu_eff: 1.6,
            },
            phot_g_mean_mag: 18.0,
            is_qso,
        });
        let mut c = [[0.0; 5]; 5];
        for (k, row) in c.iter_mut().enumerate() {
            row[k] = if solved {
                (0.05 * mas).powi(2)
            } else {
                f64::NAN
            };
        }
        covs.push(c);
        codes.push(if solved {
            PARAMS_SOLVED_5
        } else {
            PARAMS_SOLVED_NONE
        });
    }
    let mut solved = SolvedColumns::from_covariances(&covs);
    solved.astrometric_params_solved = Some(codes);
    astrosolve_io::write_catalogue(path, &sources, 2016.0, Some(&solved), false).unwrap();
    n_unsolved_qso
}

#[test]
fn plots_and_reports_are_written_atomically_and_vsh_skips_unsolved_sources() {
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("catalogue.parquet");
    let n_unsolved_qso = write_solution_catalogue(&cat, 3000);

    // the README's example on a catalogue with unsolved sources (null uncertainties)
    let out = dir.path().join("vsh");
    let o = astrosolve(&[
        "vsh",
        s(&cat),
        "--select",
        "is_qso",
        "--lmax",
        "3",
        "--out",
        s(&out),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains(&format!(
            "skipped {n_unsolved_qso} unsolved sources (astrometric_params_solved < 31)"
        )),
        "{t}"
    );
    assert!(!t.contains("NaN"), "{t}");
    for f in ["vsh.json", "vsh_field.png", "vsh_power.png"] {
        let b = std::fs::read(out.join(f)).unwrap();
        assert!(b.len() > 100, "{f} is {} bytes", b.len());
    }
    let png = std::fs::read(out.join("vsh_field.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(partials(&out).is_empty(), "{:?}", partials(&out));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("vsh.json")).unwrap()).unwrap();
    assert_eq!(
        json["input"]["n_skipped_unsolved"].as_u64(),
        Some(n_unsolved_qso as u64)
    );
    // kept on request, their null uncertainties stop the run, naming row and column
    let t = refused(&["vsh", s(&cat), "--select", "is_qso", "--include-unsolved"]);
    assert!(t.contains("row 1") && t.contains("pmra_error"), "{t}");

    // a full disk while a plot is written (its temporary is a link to /dev/full, where every
    // write fails with ENOSPC; elsewhere a directory takes the temporary's name): the error
    // names the file, the plot is not there and no temporary is left
    let out2 = dir.path().join("vsh2");
    std::fs::create_dir_all(&out2).unwrap();
    let tmp = out2.join(".vsh_field.png.partial");
    let full = Path::new("/dev/full").exists();
    #[cfg(unix)]
    if full {
        std::os::unix::fs::symlink("/dev/full", &tmp).unwrap();
    }
    if !full {
        std::fs::create_dir(&tmp).unwrap();
    }
    let t = refused(&[
        "vsh",
        s(&cat),
        "--select",
        "is_qso",
        "--lmax",
        "3",
        "--out",
        s(&out2),
    ]);
    assert!(t.contains(s(&out2.join("vsh_field.png"))), "{t}");
    assert!(!t.contains("Drawing backend error"), "{t}");
    if full {
        assert!(t.contains("No space left on device"), "{t}");
        assert!(
            std::fs::symlink_metadata(&tmp).is_err(),
            "the temporary was left"
        );
    }
    assert!(!out2.join("vsh_field.png").exists());
    let left: Vec<PathBuf> = partials(&out2).into_iter().filter(|p| p != &tmp).collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Sends SIGINT to `pid`.
fn ctrl_c(pid: u32) {
    let st = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// Waits for `child` at most `limit`; kills it and fails if it is still running.
fn wait_at_most(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            panic!("still running {limit:?} after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_stops_cleanly_with_a_message_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    // the smallest scanning mission that is solvable
    simulate(&sim, "5000", "365.25");
    let before = hashes(&sim);

    // during the solve: the solver stops at its next iteration, nothing is written
    let out = dir.path().join("sol");
    let mut child = Command::new(env!("CARGO_BIN_EXE_astrosolve"))
        .args(["solve", s(&sim), "--out", s(&out)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).unwrap();
        s
    });
    let (tx, rx) = mpsc::channel();
    let out_thread = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if line.trim_start().starts_with("outer") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    // after the first outer iteration
    if rx.recv_timeout(Duration::from_secs(300)).is_err() {
        let _ = child.kill();
        panic!("no outer iteration within 300 s");
    }
    ctrl_c(child.id());
    let t = Instant::now();
    let st = wait_at_most(&mut child, Duration::from_secs(120));
    let stopped_in = t.elapsed();
    let (stdout, stderr) = (out_thread.join().unwrap(), err_thread.join().unwrap());
    assert_eq!(st.code(), Some(130), "{stdout}{stderr}");
    assert!(
        stderr.contains("interrupted by Ctrl-C after outer iteration")
            && stderr.contains(&format!(
                "nothing of the solution was written to {}",
                out.display()
            )),
        "{stderr}"
    );
    assert!(
        !stderr.contains("error:") && !stderr.contains("panicked"),
        "{stderr}"
    );
    // nothing of the solution; the checkpoint of the completed outer iteration stays for --resume
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "checkpoint.bin")
        .collect();
    assert!(left.is_empty(), "files left in {}: {left:?}", out.display());
    if out.join("checkpoint.bin").exists() {
        assert!(stderr.contains("--resume continues from it"), "{stderr}");
    }
    assert_eq!(hashes(&sim), before);
    eprintln!(
        "solve stopped {:.1} s after Ctrl-C",
        stopped_in.as_secs_f64()
    );

    // during a simulation (no solver to poll): the process stops at once, nothing is written
    let out = dir.path().join("sim2");
    let mut child = Command::new(env!("CARGO_BIN_EXE_astrosolve"))
        .args(["simulate", "--out", s(&out), "--n-sources", "20000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    ctrl_c(child.id());
    let st = wait_at_most(&mut child, Duration::from_secs(30));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(st.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted by Ctrl-C"), "{stderr}");
    assert!(partials(&out).is_empty(), "{:?}", partials(&out));
    assert!(
        !out.join("observations.parquet").exists(),
        "a data set was written"
    );

    // a solution keeps unsolved sources flagged: astrometric_params_solved 0 and no
    // uncertainties; `astrosolve vsh --select is_qso` (the README's example) skips them.
    // Needs a solution written without converging (--allow-unconverged), when available.
    let help = text(&astrosolve(&["solve", "--help"]));
    if !help.contains("--allow-unconverged") {
        eprintln!("skipped: `solve --allow-unconverged` not available");
        return;
    }
    let sol = dir.path().join("sol1");
    let o = astrosolve(&[
        "solve",
        s(&sim),
        "--out",
        s(&sol),
        "--max-outer",
        "1",
        "--allow-unconverged",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let c = astrosolve_io::read_catalogue(sol.join("catalogue.parquet")).unwrap();
    let codes = c.solved.astrometric_params_solved.unwrap();
    let err = c.solved.pmra_error.unwrap();
    let n_unsolved = codes.iter().filter(|&&k| k == 0).count();
    assert!(n_unsolved > 0 && n_unsolved < codes.len(), "{n_unsolved}");
    for (k, e) in codes.iter().zip(&err) {
        assert!(
            (*k == 0 && e.is_nan()) || (*k == 31 && e.is_finite() && *e > 0.0),
            "code {k}, pmra_error {e}"
        );
    }
    let o = astrosolve(&[
        "vsh",
        s(&sol.join("catalogue.parquet")),
        "--select",
        "is_qso",
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("unsolved sources (astrometric_params_solved < 31)"),
        "{t}"
    );
    assert!(
        partials(dir.path()).is_empty(),
        "{:?}",
        partials(dir.path())
    );
}
