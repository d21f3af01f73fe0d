"""astrosolve.epoch.fit against `astrosolve epoch` on the real DR4 and Hipparcos test files
(../shared/data/real): the same catalogue and residuals to the last bit, from files and from
tables in memory; bad input raises with the command line's message."""

import threading
import time

import numpy as np
import pytest

import astrosolve

DATALINK = [
    "EPOCH_ASTROMETRY-Gaia DR4_INT2 1.csv",
    "EPOCH_ASTROMETRY-Gaia DR4_INT2 1.ecsv",
    "EPOCH_ASTROMETRY-Gaia DR4_INT2 1.fits",
    "EPOCH_ASTROMETRY-Gaia DR4_INT2 1.xml",
    "EPOCH_ASTROMETRY-Gaia DR4_INT2 1.votplain.xml",
    "1_epoch_astrometry.parquet",
]


def cli_fit(cli, run, parquet, files, out, *options):
    run(cli, "epoch", *files, "--out", out, *options)
    return parquet(out / "catalogue.parquet"), parquet(out / "residuals.parquet")


def python_options(options):
    kw = {}
    for flag, value in zip(options[::2], options[1::2]):
        kw[flag.lstrip("-")] = int(value) if flag == "--model" else value
    return kw


GAIA_CASES = {
    "datalink-agis": (["gaia-dr4-epoch/datalink/" + f for f in DATALINK], ()),
    "heaviside-agis": (["gaia-dr4-epoch/heaviside_weighting/epoch_astrometry.parquet"], ()),
    "heaviside-dr4": (
        ["gaia-dr4-epoch/heaviside_weighting/epoch_astrometry.parquet"],
        ("--weights", "dr4"),
    ),
    "heaviside-huber-6": (
        ["gaia-dr4-epoch/heaviside_weighting/epoch_astrometry.parquet"],
        ("--weights", "huber", "--model", "6"),
    ),
    "colour-dr4-6": (
        ["gaia-dr4-epoch/constrained_colour/1_archive_epoch_astro.parquet"],
        ("--weights", "dr4", "--model", "6"),
    ),
}

HIP_FILES = [
    "hipparcos/hip1997/027321.txt",
    "hipparcos/hip1997/044801.txt",
    "hipparcos/hip2007/HIP027321.d",
    "hipparcos/hip2007/HIP009631.d",
    "hipparcos/hip2007/HIP016468.d",
    "hipparcos/hip2014/H027321.d",
    "hipparcos/hip2014/H010160.d",
    "hipparcos/hip2014/H001550.d",
]

HIP_CASES = {
    "hipparcos-default": (HIP_FILES, ()),
    "hipparcos-5": (HIP_FILES, ("--model", "5")),
    "hipparcos-9-agis": (HIP_FILES, ("--model", "9", "--weights", "agis")),
}


@pytest.mark.parametrize("case", list(GAIA_CASES) + list(HIP_CASES))
def test_files_give_the_command_lines_bits(case, cli, run, real_data, parquet, same_bits, tmp_path):
    rel, options = {**GAIA_CASES, **HIP_CASES}[case]
    files = [real_data / r for r in rel]
    cat, res = cli_fit(cli, run, parquet, files, tmp_path / "cli", *options)
    fit = astrosolve.epoch.fit(
        [str(f) for f in files], output="dict", **python_options(options)
    )
    assert len(fit) == len(cat["source_id"]) > 0
    same_bits(cat, fit.catalogue, f"{case} catalogue")
    same_bits(res, fit.residuals, f"{case} residuals")
    c2, r2 = fit  # unpacks
    assert c2 is fit.catalogue and r2 is fit.residuals


def arrow_table(path):
    import pyarrow.parquet as pq

    return pq.read_table(path)


def as_numpy_dict(table):
    """A pyarrow table as a dict of NumPy arrays: list columns as 2-D arrays (rows × 10, NaN
    for a missing CCD value) where every row has the same length, else object arrays."""
    import pyarrow as pa

    out = {}
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        if pa.types.is_list(col.type):
            rows = col.to_pylist()
            lengths = {len(r) for r in rows if r is not None}
            if len(lengths) == 1 and all(r is not None for r in rows):
                dtype = bool if pa.types.is_boolean(col.type.value_type) else None
                if dtype is bool:
                    out[name] = np.array(rows, dtype=bool)
                else:
                    out[name] = np.array(
                        [[np.nan if v is None else v for v in r] for r in rows],
                        dtype=col.type.value_type.to_pandas_dtype(),
                    )
            else:
                out[name] = np.array([None if r is None else np.array(r) for r in rows], dtype=object)
        else:
            out[name] = col.to_numpy(zero_copy_only=False)
    return out


@pytest.mark.parametrize(
    "rel, options",
    [
        ("gaia-dr4-epoch/heaviside_weighting/epoch_astrometry.parquet", ("--weights", "dr4")),
        ("gaia-dr4-epoch/heaviside_weighting/epoch_astrometry.parquet", ()),
        ("gaia-dr4-epoch/constrained_colour/1_archive_epoch_astro.parquet", ("--model", "6")),
    ],
)
def test_tables_in_memory_give_the_command_lines_bits(
    rel, options, cli, run, real_data, parquet, same_bits, tmp_path
):
    path = real_data / rel
    cat, res = cli_fit(cli, run, parquet, [path], tmp_path / "cli", *options)
    kw = python_options(options)
    table = arrow_table(path)
    kinds = {"pyarrow": table, "numpy": as_numpy_dict(table)}
    try:
        import astropy.table

        kinds["astropy"] = astropy.table.Table(as_numpy_dict(table))
    except ImportError:
        pass
    for kind, data in kinds.items():
        fit = astrosolve.epoch.fit(data, output="dict", **kw)
        same_bits(cat, fit.catalogue, f"{rel} as {kind}: catalogue")
        same_bits(res, fit.residuals, f"{rel} as {kind}: residuals")


@pytest.mark.parametrize("name", [f for f in DATALINK if not f.endswith((".csv", ".parquet"))])
def test_datalink_files_read_by_astropy_give_the_command_lines_bits(
    name, cli, run, real_data, parquet, same_bits, tmp_path
):
    """The archive's DataLink files as astropy reads them (ragged masked arrays with units,
    as astroquery returns them) fit to the bits of the file read by the engine."""
    table = pytest.importorskip("astropy.table")
    path = real_data / "gaia-dr4-epoch/datalink" / name
    cat, res = cli_fit(cli, run, parquet, [path], tmp_path / "cli")
    fit = astrosolve.epoch.fit(table.Table.read(path), output="dict")
    same_bits(cat, fit.catalogue, f"{name} via astropy: catalogue")
    same_bits(res, fit.residuals, f"{name} via astropy: residuals")


def test_units_of_an_astropy_table_are_honoured(real_data, same_bits):
    u = pytest.importorskip("astropy.units")
    table = pytest.importorskip("astropy.table")
    path = real_data / "gaia-dr4-epoch/heaviside_weighting/epoch_astrometry.parquet"
    d = as_numpy_dict(arrow_table(path))
    plain = astrosolve.epoch.fit(d, weights="dr4", output="dict")
    t = table.Table(d)
    # abscissae and their errors given in µas: converted back to mas by the engine
    for name in ("centroidPosAl", "centroidPosErrorAl"):
        t[name] = d[name].astype(np.float64) * 1000.0  # float64: exact enough
        t[name].unit = u.uas
    conv = astrosolve.epoch.fit(t, weights="dr4", output="dict")
    for k in ("parallax", "pmra", "parallax_error"):
        np.testing.assert_allclose(conv.catalogue[k], plain.catalogue[k], rtol=1e-12)
    # returned as an astropy table with units
    q = astrosolve.epoch.fit(d, weights="dr4", output="qtable").catalogue
    assert q["parallax"].unit == u.mas and q["pmra"].unit == u.mas / u.yr
    assert q["parallax"].to_value(u.mas).tolist() == plain.catalogue["parallax"].tolist()
    assert "EpochFit" in repr(plain) and "parallax" in repr(plain)


def test_a_bad_file_raises_the_command_lines_message(cli, run, tmp_path):
    # a malformed CSV: a used observation with σ ≤ 0 in data row 3
    head = (
        "source_id,obs_time_tcb,obs_time_bary_corr,centroid_pos_al,centroid_pos_error_al,"
        "scan_pos_angle,parallax_factor_al,colour_factor_al,used_by_agis_al\n"
    )
    rows = []
    for i in range(12):
        sigma = "-0.1" if i == 2 else "0.2"
        rows.append(
            f'7,"({1000000000000000 + i * 3000000000000000})",{i * 1e5},"(0.1)","({sigma})",'
            f'"({10.0 + 37.0 * i})",{0.3 * np.sin(i)},0.001,"(true)"\n'
        )
    bad = tmp_path / "bad.csv"
    bad.write_text(head + "".join(rows))
    r = run(cli, "epoch", bad, "--out", tmp_path / "o", check=False)
    assert r.returncode != 0
    cli_message = r.stderr.strip().splitlines()
    cli_message = "\n".join(cli_message[cli_message.index(next(l for l in cli_message if l.startswith("error: "))):])
    with pytest.raises(astrosolve.AstrosolveError) as e:
        astrosolve.epoch.fit(bad)
    assert cli_message == "error: " + str(e.value)
    assert f"{bad}: row 3, column \"centroid_pos_error_al\"" in str(e.value)

    with pytest.raises(astrosolve.AstrosolveError, match="nothing.csv: file not found"):
        astrosolve.epoch.fit(tmp_path / "nothing.csv")


def test_a_bad_table_names_row_and_column(real_data):
    path = real_data / "gaia-dr4-epoch/heaviside_weighting/epoch_astrometry.parquet"
    d = as_numpy_dict(arrow_table(path))
    err = d["centroidPosErrorAl"].copy()
    used = d["usedByAgisAl"]
    ccd = int(np.flatnonzero(used[4])[0])
    err[4, ccd] = -1.0  # row 5
    d["centroidPosErrorAl"] = err
    fit = astrosolve.epoch.fit(d, name="mytable", output="dict")
    assert len(fit) == 9 and len(fit.skipped) == 1
    sid, reason = fit.skipped[0]
    assert sid == int(d["sourceId"][4])
    assert reason.startswith('mytable: row 5, column "centroidPosErrorAl"'), reason

    # only the bad source: nothing fitted, the reason in the error
    one = {k: v[d["sourceId"] == sid] for k, v in d.items()}
    with pytest.raises(astrosolve.AstrosolveError, match=r'no source could be fitted\n  <table>: row 5'):
        astrosolve.epoch.fit(one)


def test_wrong_tables_and_options_are_refused(real_data):
    path = real_data / "gaia-dr4-epoch/heaviside_weighting/epoch_astrometry.parquet"
    d = as_numpy_dict(arrow_table(path))
    with pytest.raises(ValueError, match="model must be 5, 6, 7 or 9"):
        astrosolve.epoch.fit(d, model=4)
    with pytest.raises(ValueError, match="weights must be dr4, agis, huber or none"):
        astrosolve.epoch.fit(d, weights="robust")
    bad = dict(d, centroidPosAl=d["centroidPosAl"].reshape(len(d["sourceId"]), 2, 5))
    with pytest.raises(ValueError, match=r'column "centroidPosAl": expected one value or one list per row, got shape'):
        astrosolve.epoch.fit(bad)
    bad = dict(d, centroidPosAl=d["centroidPosAl"].astype(np.complex128))
    with pytest.raises(TypeError, match=r'column "centroidPosAl": values of dtype complex128'):
        astrosolve.epoch.fit(bad)
    short = dict(d, parallaxFactorAl=d["parallaxFactorAl"][:-1])
    with pytest.raises(astrosolve.AstrosolveError, match=r'<table>: column "parallaxFactorAl" has 979 rows where "sourceId" has 980'):
        astrosolve.epoch.fit(short)
    missing = {k: v for k, v in d.items() if k != "scanPosAngle"}
    with pytest.raises(astrosolve.AstrosolveError, match="not Gaia epoch astrometry"):
        astrosolve.epoch.fit(missing)
    with pytest.raises(TypeError, match="data must be a file path"):
        astrosolve.epoch.fit(42)


def test_the_gil_is_released_during_a_fit(real_data):
    """A second Python thread keeps counting while a large in-memory table is fitted."""
    import pyarrow as pa

    path = real_data / "gaia-dr4-epoch/heaviside_weighting/epoch_astrometry.parquet"
    t = arrow_table(path)
    # 300 copies of the 10 sources, with new source ids: 3000 sources
    ids = t.column("sourceId").to_numpy()
    copies = []
    for k in range(300):
        copies.append(t.set_column(0, "sourceId", pa.array(ids + k * 100_000_000_000)))
    big = pa.concat_tables(copies)
    count = 0
    stop = False

    def counter():
        nonlocal count
        while not stop:
            count += 1
            time.sleep(0)

    th = threading.Thread(target=counter)
    th.start()
    try:
        time.sleep(0.05)
        before = count
        t0 = time.perf_counter()
        fit = astrosolve.epoch.fit(big, residuals=False, output="dict")
        elapsed = time.perf_counter() - t0
        during = count - before
    finally:
        stop = True
        th.join()
    assert len(fit) == 3000
    # with the GIL held for the whole call the counter would barely move (one switch interval)
    assert elapsed > 0.02, elapsed
    assert during > 1000, (during, elapsed)
