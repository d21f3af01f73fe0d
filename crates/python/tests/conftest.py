"""Shared fixtures: the repository, the real test data (read in place), the command-line binary
whose outputs the Python results must equal bit for bit, and bit-level comparison helpers."""

import os
import pathlib
import subprocess

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
REAL = REPO.parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data():
    """../shared/data/real relative to the repository root."""
    if not REAL.is_dir():
        pytest.fail(
            f"real test data missing: {REAL} (the shared data folder ../shared/data/real next to "
            "the project root is needed by these tests)"
        )
    return REAL


@pytest.fixture(scope="session")
def cli():
    """The astrosolve command-line binary: $ASTROSOLVE_CLI (set by crates/cli/tests/python.rs),
    else the newest of target/{release,debug}/astrosolve."""
    env = os.environ.get("ASTROSOLVE_CLI")
    if env:
        p = pathlib.Path(env)
        if not p.is_file():
            pytest.fail(f"ASTROSOLVE_CLI={env}: no such file")
        return p
    found = [REPO / "target" / d / "astrosolve" for d in ("release", "debug")]
    found = [p for p in found if p.is_file()]
    if not found:
        pytest.fail(
            "the astrosolve command line is needed to compare with: build it (cargo build "
            "--release) or set ASTROSOLVE_CLI"
        )
    return max(found, key=lambda p: p.stat().st_mtime)


def run_cli(cli, *args, check=True):
    """Runs the command line; returns the completed process (stdout, stderr as text)."""
    r = subprocess.run(
        [str(cli), *map(str, args)], capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}
    )
    if check and r.returncode != 0:
        raise AssertionError(f"astrosolve {' '.join(map(str, args))} failed:\n{r.stderr}")
    return r


@pytest.fixture(scope="session")
def run():
    return run_cli


def read_parquet(path):
    """A Parquet file's columns as NumPy arrays (null → NaN for floats), in file order."""
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    out = {}
    for name in t.column_names:
        col = t.column(name)
        out[name] = col.to_numpy(zero_copy_only=False)
    return out


def assert_same_bits(expected, actual, what=""):
    """Two tables (dict-like of arrays) have the same columns in the same order and the same
    values bit for bit (floats: NaN where the other has NaN or null, else identical bits)."""
    e_names = list(expected.keys())
    a_names = list(actual.keys()) if isinstance(actual, dict) else list(actual.colnames)
    assert e_names == a_names, f"{what}: columns differ:\n{e_names}\n{a_names}"
    for name in e_names:
        e = np.asarray(expected[name])
        a = np.asarray(actual[name])
        assert e.shape == a.shape, f"{what}: column {name}: {e.shape} vs {a.shape}"
        assert e.dtype == a.dtype, f"{what}: column {name}: dtype {e.dtype} vs {a.dtype}"
        if e.dtype.kind == "f" or a.dtype.kind == "f":
            e64 = e.astype(np.float64)
            a64 = a.astype(np.float64)
            en, an = np.isnan(e64), np.isnan(a64)
            assert np.array_equal(en, an), f"{what}: column {name}: NaN at different rows"
            ok = e64[~en].view(np.int64) == a64[~an].view(np.int64)
            if not ok.all():
                i = int(np.flatnonzero(~ok)[0])
                raise AssertionError(
                    f"{what}: column {name} differs at row {i}: {e64[~en][i]!r} vs {a64[~an][i]!r}"
                )
        else:
            assert np.array_equal(e, a), f"{what}: column {name} differs"


@pytest.fixture(scope="session")
def same_bits():
    return assert_same_bits


@pytest.fixture(scope="session")
def parquet():
    return read_parquet
