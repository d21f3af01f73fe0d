#!/usr/bin/env python3
"""Peer of the epoch-fit benchmark (crates/epoch/benches/epoch_fit.rs): fits every source of a
Gaia DR4 epoch-astrometry Parquet file in the internal CU9 layout (camelCase list columns, as
gaia-supdate's tests/test_data/gacs_data_link/1_epoch_astrometry.parquet) with ESA's PyPI
package `gaiasupdate`, and writes the parameters per source_id as JSON.

The fit is gaiasupdate's robust (AGIS-like) 5-parameter source update, called as in
gaia-supdate's tests/test_gacs_interface.py: GaiaEpochAstrometryCu9.from_dataframe (explodes
the CCD arrays), then per source GaiaSourceEpochAstrometryCu9.from_dataframe, the
used_by_agis_al filter and compute_source_update() (model '5p_single_source',
DesignEquation.solve() = solve_like_agis: eq. 66 downweights, eq. 64 excess noise).

Timing (time.perf_counter, wall clock; time.process_time, CPU, for the fit): `import` (numpy, pandas, gaiasupdate) and `read`
(pandas.read_parquet) are reported but excluded; `prepare` is the explode of the whole file
and the grouping by source; `fit` is the per-source part (object, filter, update). Sources per
second are given for `fit` alone and for `prepare + fit`.

usage: gaiasupdate_driver.py IN.parquet OUT.json
"""
import json
import sys
import time

t_start = time.perf_counter()
import logging  # noqa: E402
import resource  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import gaiasupdate  # noqa: E402,F401
from gaiasupdate.epoch_astrometry import (  # noqa: E402
    GaiaEpochAstrometryCu9,
    GaiaSourceEpochAstrometryCu9,
)

t_import = time.perf_counter() - t_start


def version(pkg):
    try:
        from importlib.metadata import version as v

        return v(pkg)
    except Exception:  # noqa: BLE001
        return "unknown"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gaiasupdate_driver.py IN.parquet OUT.json")
    path, out = sys.argv[1], sys.argv[2]
    logging.getLogger().setLevel(logging.WARNING)
    warnings.simplefilter("ignore")  # pandas SettingWithCopy/Future warnings inside gaiasupdate

    t = time.perf_counter()
    df = pd.read_parquet(path)
    t_read = time.perf_counter() - t

    t = time.perf_counter()
    exploded = GaiaEpochAstrometryCu9.from_dataframe(df).epoch_data
    groups = list(exploded.groupby("sourceId", sort=False))
    t_prepare = time.perf_counter() - t

    results = {}
    failed = []
    t = time.perf_counter()
    c = time.process_time()
    for sid, g in groups:
        sea = GaiaSourceEpochAstrometryCu9.from_dataframe(g, sid, is_exploded=True)
        sea.epoch_data = sea.epoch_data.epochastrometrycu9.filter_on_used_by_agis()
        r = sea.compute_source_update()
        if r.get("success") != 1:
            failed.append(int(sid))
            continue
        res = r["results"]
        results[str(int(sid))] = {
            "params": [float(x) for x in res["parameters"]],
            "errors": [float(x) for x in res["parameters_formal_uncertainty"]],
            "n_obs_al": int(res["n_data_total"]),
            "n_good_obs_al": int(res["n_measurements"]),
            "n_bad_obs_al": int(res["n_outliers"]),
            "excess_noise": float(res["excess_noise"]),
            "excess_noise_sig": float(res["significance"]),
        }
    t_fit = time.perf_counter() - t
    c_fit = time.process_time() - c

    n = len(groups)
    summary = {
        "gaiasupdate_version": version("gaiasupdate"),
        "numpy_version": np.__version__,
        "pandas_version": pd.__version__,
        "python_version": sys.version.split()[0],
        "call": "GaiaSourceEpochAstrometryCu9.compute_source_update() (5p_single_source, solve_like_agis)",
        "threads": 1,
        "n_sources": n,
        "n_ccd_rows": int(len(exploded)),
        "n_failed": len(failed),
        "failed_source_ids": failed[:100],
        "seconds": {"import": t_import, "read": t_read, "prepare": t_prepare, "fit": t_fit},
        "cpu_seconds": {"fit": c_fit},
        "sources_per_second_fit": n / t_fit if t_fit > 0 else None,
        "sources_per_second_prepare_fit": n / (t_prepare + t_fit) if t_prepare + t_fit > 0 else None,
        "sources_per_cpu_second_fit": n / c_fit if c_fit > 0 else None,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    print(
        f"gaiasupdate {summary['gaiasupdate_version']}: {n} sources ({len(exploded)} CCD rows), "
        f"{len(failed)} failed; import {t_import:.2f} s, read {t_read:.2f} s (both excluded), "
        f"prepare {t_prepare:.2f} s, fit {t_fit:.2f} s ({c_fit:.2f} CPU-s): {summary['sources_per_second_fit']:.1f} sources/s "
        f"(fit), {summary['sources_per_second_prepare_fit']:.1f} sources/s (prepare + fit); "
        f"peak memory {summary['peak_rss_bytes'] / 2**20:.0f} MiB"
    )
    summary["sources"] = results
    with open(out, "w") as f:
        json.dump(summary, f)


if __name__ == "__main__":
    main()
