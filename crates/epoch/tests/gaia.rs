//! Gaia DR4 epoch astrometry, real data (`../shared/data/real/gaia-dr4-epoch`, the test data of
//! ESA's gaia-supdate): the published values of gaia-supdate's own tests, to its tolerances.

use astrosolve_epoch::gaia::{read_gaia_sources, GaiaSourceStream};
use astrosolve_epoch::{
    fit_many, fit_source, EpochError, FitOptions, FitResult, ModelKind, SourceData, Weighting,
};
use astrosolve_io::tabular::{read_table, Unit};
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    let d = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/real/gaia-dr4-epoch"
    ));
    assert!(
        d.is_dir(),
        "real test data missing: {} (the shared data folder ../shared/data/real next to the \
         project root is needed by these tests)",
        d.display()
    );
    d
}

fn read_one(rel: &str) -> SourceData {
    let path = data_dir().join(rel);
    let (sources, errors) =
        read_gaia_sources(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(sources.len(), 1, "{}", path.display());
    sources.into_iter().next().unwrap()
}

fn opts(model: ModelKind, weighting: Weighting) -> FitOptions {
    FitOptions {
        model,
        weighting,
        ..FitOptions::default()
    }
}

/// Largest relative difference.
fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| ((x - y) / y).abs())
        .fold(0.0, f64::max)
}

// gaia-supdate tests/test_gacs_interface.py: robust 5-parameter update on the used rows
const BINARY: [f64; 5] = [
    -1.48337410e-03,
    -3.85162113e-03,
    3.07244857,
    -9.89371411,
    6.01353995,
];
const CSV: [f64; 5] = [
    -1.48336910e-03,
    -3.85162037e-03,
    3.07244859,
    -9.89371411,
    6.01353995,
];
const TABLEDATA: [f64; 5] = [
    -1.48337421e-03,
    -3.85162116e-03,
    3.07244857,
    -9.89371411,
    6.01353995,
];

fn datalink(file: &str, expected: &[f64; 5]) {
    let s = read_one(&format!("datalink/{file}"));
    assert_eq!(s.id, 1);
    let r = fit_source(&s, &opts(ModelKind::Five, Weighting::Agis)).expect("fit");
    let rel = max_rel(&r.params, expected);
    println!(
        "{file}: params {:?}, largest relative difference {rel:.2e} (tolerance 4e-8); \
         n_obs {} good {} ε {:.6} mas sig {:.3} iterations {}",
        r.params, r.n_obs_al, r.n_good_obs_al, r.excess_noise, r.excess_noise_sig, r.n_iter
    );
    assert!(
        rel <= 4e-8,
        "{file}: {:?} vs {expected:?}: {rel:e}",
        r.params
    );
}

#[test]
fn datalink_csv() {
    datalink("EPOCH_ASTROMETRY-Gaia DR4_INT2 1.csv", &CSV);
}

#[test]
fn datalink_ecsv() {
    datalink("EPOCH_ASTROMETRY-Gaia DR4_INT2 1.ecsv", &BINARY);
}

#[test]
fn datalink_fits() {
    datalink("EPOCH_ASTROMETRY-Gaia DR4_INT2 1.fits", &BINARY);
}

#[test]
fn datalink_votable_binary() {
    datalink("EPOCH_ASTROMETRY-Gaia DR4_INT2 1.xml", &BINARY);
}

#[test]
fn datalink_votable_tabledata() {
    datalink("EPOCH_ASTROMETRY-Gaia DR4_INT2 1.votplain.xml", &TABLEDATA);
}

#[test]
fn datalink_parquet_cu9_names() {
    datalink("1_epoch_astrometry.parquet", &BINARY);
}

/// The AGIS results of a folder, by source id: (column values in the order of `cols`).
fn agis_results(rel: &str, cols: &[&str]) -> Vec<(i64, Vec<f64>)> {
    let t = read_table(&data_dir().join(rel), None).expect("AGIS results");
    let ids = t.i64_column(&["sourceId"]).expect("sourceId");
    let vals: Vec<Vec<f64>> = cols
        .iter()
        .map(|c| t.f64_column(&[c], Unit::Any).expect(c))
        .collect();
    ids.iter()
        .enumerate()
        .map(|(i, id)| (id.expect("id"), vals.iter().map(|v| v[i]).collect()))
        .collect()
}

#[test]
fn heaviside_weighting_reproduces_agis() {
    let (sources, errors) =
        read_gaia_sources(&data_dir().join("heaviside_weighting/epoch_astrometry.parquet"))
            .expect("read");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(sources.len(), 10);
    let cols = [
        "varpi",
        "alphaStarError",
        "deltaError",
        "varpiError",
        "muAlphaStarError",
        "muDeltaError",
        "nObsAl",
        "gMag",
        "excessNoise_mas",
        "muAlphaStar",
    ];
    let agis = agis_results(
        "heaviside_weighting/agis_source_update_results.parquet",
        &cols,
    );
    let o = opts(ModelKind::Five, Weighting::Dr4);
    let (mut worst_plx, mut worst_err) = (0.0f64, 0.0f64);
    for s in &sources {
        let (_, a) = agis
            .iter()
            .find(|(id, _)| *id == s.id)
            .unwrap_or_else(|| panic!("source {} not in the AGIS results", s.id));
        let eps = s.excess_noise.unwrap_or(0.0);
        assert!(
            (eps - a[8]).abs() <= 1e-6 * a[8].max(1.0),
            "source {}: epoch file ε {eps} vs AGIS {}",
            s.id,
            a[8]
        );
        let r = fit_source(s, &o).expect("fit");
        assert_eq!(r.n_obs_al as f64, a[6], "source {}: nObsAl", s.id);
        let dplx = r.params[2] - a[0];
        let derr = (0..5)
            .map(|k| (r.error(k) / a[1 + k] - 1.0).abs())
            .fold(0.0, f64::max);
        println!(
            "source {} G = {:.2}: ϖ − ϖ_AGIS = {dplx:+.2e} mas, largest relative error difference \
             {derr:.2e}, μα* − AGIS = {:+.2e}, nObsAl {}",
            s.id,
            a[7],
            r.params[3] - a[9],
            r.n_obs_al
        );
        assert!(dplx.abs() < 1e-2, "source {}: ϖ {dplx}", s.id);
        if a[7] > 7.0 {
            assert!(
                dplx.abs() <= 2e-4,
                "source {} (G = {}): ϖ differs by {dplx} mas",
                s.id,
                a[7]
            );
            worst_plx = worst_plx.max(dplx.abs());
        }
        assert!(
            derr <= 1e-4,
            "source {}: errors differ by {derr:e} relative",
            s.id
        );
        worst_err = worst_err.max(derr);
    }
    println!(
        "heaviside: largest |Δϖ| (G > 7) {worst_plx:.2e} mas (tolerance 2e-4), largest relative \
         error difference {worst_err:.2e} (tolerance 1e-4)"
    );
}

#[test]
fn constrained_colour_reproduces_agis() {
    let s = read_one("constrained_colour/1_archive_epoch_astro.parquet");
    let cols = [
        "varpi",
        "muAlphaStar",
        "muDelta",
        "pseudoColor",
        "alphaStarError",
        "deltaError",
        "varpiError",
        "muAlphaStarError",
        "muDeltaError",
        "pseudoColorError",
        "nObsAl",
    ];
    let agis = agis_results(
        "constrained_colour/1_archive_source_update_results.parquet",
        &cols,
    );
    let a = &agis[0].1;
    let r = fit_source(&s, &opts(ModelKind::Six, Weighting::Dr4)).expect("fit");
    let vals = max_rel(&r.params[2..6], &a[0..4]);
    let errs = max_rel(&(0..6).map(|k| r.error(k)).collect::<Vec<_>>(), &a[4..10]);
    println!(
        "constrained colour: ϖ, μα*, μδ, Δν {:?} vs AGIS {:?}: largest relative difference \
         {vals:.2e} (tolerance 3e-4); errors: {errs:.2e} (tolerance 1e-4); nObsAl {} vs {}",
        &r.params[2..6],
        &a[0..4],
        r.n_obs_al,
        a[10]
    );
    assert!(vals <= 3e-4);
    assert!(errs <= 1e-4);
    assert_eq!(r.n_obs_al as f64, a[10]);
}

#[test]
fn fit_many_is_bit_identical_whatever_the_thread_count() {
    let (sources, _) =
        read_gaia_sources(&data_dir().join("heaviside_weighting/epoch_astrometry.parquet"))
            .expect("read");
    // many sources: the real ones repeated with shuffled observation subsets
    let mut many = Vec::new();
    for rep in 0..20 {
        for s in &sources {
            let mut c = s.clone();
            c.id = s.id * 100 + rep;
            c.obs.retain(|o| (o.transit as i64 + rep) % 5 != 0);
            many.push(c);
        }
    }
    let o = opts(ModelKind::Five, Weighting::Agis);
    let run = |threads: usize| -> Vec<Result<FitResult, String>> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
            .install(|| fit_many(&many, &o))
            .into_iter()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect()
    };
    let one = run(1);
    for threads in [2, 4] {
        assert_eq!(one, run(threads), "{threads} threads");
    }
    for (i, s) in many.iter().enumerate().step_by(37) {
        assert_eq!(
            one[i],
            fit_source(s, &o).map_err(|e| e.to_string()),
            "source {i} in order"
        );
    }
}

/// A Gaia CSV of three sources in archive format; `mangle` edits source 2's second row.
fn write_csv(dir: &std::path::Path, mangle: impl Fn(&mut Vec<String>)) -> PathBuf {
    let header = "source_id,obs_time_bary_corr,centroid_pos_al,centroid_pos_error_al,\
                  scan_pos_angle,parallax_factor_al,colour_factor_al,obs_time_tcb,\
                  used_by_agis_al,used_by_agis_al,agis_source_excess_noise";
    let mut lines = vec![header.to_string()];
    let list = |v: &[f64]| {
        format!(
            "\"({})\"",
            v.iter()
                .map(|x| format!("{x:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    for sid in 1..=3i64 {
        for tr in 0..40 {
            let t0 = 1.5e17 + tr as f64 * 2.3e15 + sid as f64 * 1e13;
            let theta = (tr * 47 % 360) as f64 - 180.0;
            let plx = ((tr as f64) * 0.7).sin();
            let ts: Vec<i64> = (0..10).map(|k| (t0 + k as f64 * 4.86e9) as i64).collect();
            let tyr: Vec<f64> = ts
                .iter()
                .map(|&t| astrosolve_epoch::gaia::dr4_time(t, 0.0))
                .collect();
            let th = theta.to_radians();
            let w: Vec<f64> = tyr
                .iter()
                .map(|&t| {
                    0.3 * th.sin() - 0.2 * th.cos()
                        + 2.0 * plx
                        + t * (5.0 * th.sin() - 3.0 * th.cos())
                        + 0.01 * ((tr * 10) as f64).sin()
                })
                .collect();
            let used = "\"(false, true, true, true, true, true, true, true, true, true)\"";
            lines.push(format!(
                "{sid},0.0,{},{},{},{plx},0.0,\"({})\",{used},{used},0.05",
                list(&w),
                list(&[0.1; 10]),
                list(&[theta; 10]),
                ts.iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
    }
    // data row 42 = source 2, transit 1
    let mut cells: Vec<String> = split_csv(&lines[42]);
    mangle(&mut cells);
    lines[42] = cells.join(",");
    let path = dir.join("gaia.csv");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    path
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for ch in line.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                out.last_mut().unwrap().push(ch);
            }
            ',' if !quoted => out.push(String::new()),
            _ => out.last_mut().unwrap().push(ch),
        }
    }
    out
}

fn malformed(mangle: impl Fn(&mut Vec<String>), column: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_csv(dir.path(), mangle);
    for chunk in [1, 7, 4096] {
        let items: Vec<_> = GaiaSourceStream::open(&path)
            .expect("open")
            .with_chunk_rows(chunk)
            .collect();
        assert_eq!(items.len(), 3, "chunk {chunk}");
        let e = items[1].as_ref().expect_err("source 2 must be skipped");
        let msg = e.to_string();
        println!("chunk {chunk}: {msg}");
        match e {
            EpochError::Data {
                path: p,
                row,
                column: c,
                source_id,
                ..
            } => {
                assert_eq!(p, &path);
                assert_eq!(*row, 42);
                assert_eq!(c, column);
                assert_eq!(*source_id, 2);
            }
            other => panic!("unexpected error {other}"),
        }
        assert!(msg.contains("gaia.csv") && msg.contains("row 42") && msg.contains(column));
        for k in [0, 2] {
            let s = items[k].as_ref().expect("the other sources are read");
            let r = fit_source(s, &opts(ModelKind::Five, Weighting::Dr4)).expect("fit");
            assert_eq!(r.n_obs_al, 360);
            assert!((r.params[2] - 2.0).abs() < 0.01, "{:?}", r.params);
        }
    }
}

#[test]
fn malformed_inconsistent_array_length_skips_only_that_source() {
    malformed(
        |c| {
            // centroid_pos_al with 9 values
            let v = c[2]
                .trim_matches('"')
                .trim_matches(|x| x == '(' || x == ')');
            let nine: Vec<&str> = v.split(", ").take(9).collect();
            c[2] = format!("\"({})\"", nine.join(", "));
        },
        "centroid_pos_al",
    );
}

#[test]
fn malformed_nan_centroid_skips_only_that_source() {
    malformed(
        |c| {
            let v = c[2]
                .trim_matches('"')
                .trim_matches(|x| x == '(' || x == ')');
            let mut items: Vec<String> = v.split(", ").map(str::to_string).collect();
            items[4] = "NaN".into();
            c[2] = format!("\"({})\"", items.join(", "));
        },
        "centroid_pos_al",
    );
}

#[test]
fn malformed_unparsable_cell_skips_only_that_source() {
    malformed(
        |c| {
            c[3] = "\"(0.1, 0.1, oops, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1)\"".into();
        },
        "centroid_pos_error_al",
    );
}

#[test]
fn missing_column_is_a_file_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.csv");
    std::fs::write(
        &path,
        "source_id,centroid_pos_al,scan_pos_angle\n1,\"(1.0)\",\"(2.0)\"\n",
    )
    .unwrap();
    let e = read_gaia_sources(&path).expect_err("missing columns");
    let msg = e.to_string();
    assert!(
        msg.contains("bad.csv") && msg.contains("obs_time_tcb"),
        "{msg}"
    );
}

#[test]
fn chunk_boundaries_do_not_change_the_sources() {
    let path = data_dir().join("heaviside_weighting/epoch_astrometry.parquet");
    let read = |n: usize| -> Vec<SourceData> {
        GaiaSourceStream::open(&path)
            .expect("open")
            .with_chunk_rows(n)
            .map(|s| s.expect("source"))
            .collect()
    };
    let whole = read(1 << 20);
    assert_eq!(whole.len(), 10);
    for n in [1, 13, 97] {
        assert_eq!(read(n), whole, "chunks of {n} rows");
    }
    // unused CCDs are kept (for their residuals) where their values are complete
    let s = &whole[0];
    assert!(s.obs.iter().any(|o| !o.used));
    assert!(s.obs.iter().all(|o| o.sigma > 0.0 && o.w.is_finite()));
}

#[test]
fn rows_of_a_source_reappearing_later_are_an_error_for_that_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_csv(dir.path(), |_| {});
    // move source 1's last row to the end of the file
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let moved = lines.remove(40);
    lines.push(moved);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let items: Vec<_> = GaiaSourceStream::open(&path).expect("open").collect();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0].as_ref().expect("source 1").obs.len(), 39 * 10);
    assert!(items[1].is_ok() && items[2].is_ok());
    let e = items[3].as_ref().expect_err("reappearing rows");
    assert!(
        matches!(
            e,
            EpochError::Data {
                source_id: 1,
                row: 120,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("contiguous"), "{e}");
}
