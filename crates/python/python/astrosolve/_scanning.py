"""Simulate and solve a Gaia-like scanning mission: the engine of ``astrosolve simulate`` and
``astrosolve solve`` (docs/simulation.md, docs/solvers.md, file formats docs/formats.md).
"""

import json
import os
import pathlib
import sys
import tempfile
import warnings

import numpy as np

from . import _core
from ._progress import progress_bar
from ._tables import make_table

__all__ = ["simulate", "solve", "Solution"]

# Units of catalogue.parquet (docs/formats.md), which stores none.
CATALOGUE_UNITS = {
    "ra": "deg",
    "dec": "deg",
    "parallax": "mas",
    "pmra": "mas / yr",
    "pmdec": "mas / yr",
    "nu_eff_used_in_astrometry": "1 / um",
    "phot_g_mean_mag": "mag",
    "ref_epoch": "yr",
    "ra_error": "mas",
    "dec_error": "mas",
    "parallax_error": "mas",
    "pmra_error": "mas / yr",
    "pmdec_error": "mas / yr",
    "astrometric_excess_noise": "mas",
}

# Integer widths of catalogue.parquet (the engine's table reader widens integers to int64).
CATALOGUE_INT32 = ("astrometric_n_obs_al", "astrometric_n_good_obs_al", "astrometric_n_bad_obs_al")
# Gaia's code of the parameters solved (31: five, 0: none), int8 as in catalogue.parquet
CATALOGUE_INT8 = ("astrometric_params_solved",)

_SOLVERS = ("bi", "cg", "lsqr", "direct")


def simulate(
    config=None,
    out="astrosolve-sim",
    *,
    seed=None,
    n_sources=None,
    days=None,
    outlier_rate=None,
    force=False,
    progress=True,
):
    """Simulate a Gaia-like mission with ground truth and write it as a data set.

    The same simulation and files as ``astrosolve simulate`` (docs/simulation.md):
    ``mission.toml``, ``observations.parquet``, the solver's starting point
    (``sources.parquet``, ``attitude.parquet``, ``calibration.parquet``),
    ``reference_positions.parquet`` and ``truth/``.

    Parameters
    ----------
    config : str, os.PathLike, dict or None
        A mission.toml, or its tables as a dict (``{"mission": {...}, "simulation": {...}}``,
        every key optional); None: the default small mission (5000 sources, one year).
    out : str or os.PathLike
        Output directory.
    seed : int, optional
        Random seed.
    n_sources : int, optional
        Number of sources.
    days : float, optional
        Mission length [days]; the reference epoch stays in the middle.
    outlier_rate : float, optional
        Fraction of observations replaced by outliers.
    force : bool
        Overwrite the files of an existing data set in ``out``.
    progress : bool
        Show a progress bar (tqdm when installed: terminal or Jupyter).

    Returns
    -------
    pathlib.Path
        ``out``, ready for :func:`solve`.

    Raises
    ------
    astrosolve.AstrosolveError
        A bad configuration (naming file and key), an existing data set without ``force``.
    KeyboardInterrupt
        Ctrl-C (the data set is then not written).

    Warns
    -----
    UserWarning
        When the data are too few for the solver's default redundancy rule.
    """
    path = json_text = None
    if isinstance(config, (str, os.PathLike)):
        path = os.fspath(config)
    elif isinstance(config, dict):
        json_text = json.dumps(config)
    elif config is not None:
        raise TypeError(f"config must be a path, a dict or None (got {type(config).__name__})")
    with progress_bar("simulate", progress) as bar:
        line, warns, _, _ = _core.simulate(
            os.fspath(out), path, json_text, seed, n_sources, days, outlier_rate, force, bar
        )
    for w in warns:
        warnings.warn(w, stacklevel=2)
    if progress:
        print(line, file=sys.stderr)
    return pathlib.Path(out)


class Solution:
    """The result of :func:`solve`.

    Attributes
    ----------
    catalogue : astropy.table.Table or dict of numpy.ndarray
        ``catalogue.parquet`` (docs/formats.md): ``source_id``, ``ra``, ``dec`` [deg],
        ``parallax`` [mas], ``pmra``, ``pmdec`` [mas/yr], ``nu_eff_used_in_astrometry``
        [1/µm], ``phot_g_mean_mag`` [mag], ``is_qso``, ``ref_epoch`` [yr], the errors [mas,
        mas/yr] and ten correlations, ``astrometric_n_obs_al``, ``astrometric_n_good_obs_al``,
        ``astrometric_n_bad_obs_al``, ``astrometric_excess_noise`` [mas], ``ruwe``.
    report : dict
        ``report.json``: solver, convergence, iterations, counts, timings, history, frame
        and, for simulated data, the comparison with the truth (``report["truth"]``).
    out : pathlib.Path or None
        Where the solution files were written (None: not kept).

    ``catalogue, report = astrosolve.solve(...)`` unpacks the two.
    """

    def __init__(self, catalogue, report, out):
        self.catalogue = catalogue
        self.report = report
        self.out = out

    def __iter__(self):
        return iter((self.catalogue, self.report))

    def __repr__(self):
        r = self.report
        lines = [
            f"<Solution: {r.get('solver', '?').upper()}, "
            f"{'converged' if r.get('converged') else 'NOT converged'} after "
            f"{r.get('outer_iterations')} outer / {r.get('inner_iterations')} inner iterations "
            f"in {r.get('wall_seconds', float('nan')):.1f} s; {r.get('n_solved_sources')} of "
            f"{r.get('n_sources')} sources solved>"
        ]
        if r.get("verdict", "converged") != "converged":
            lines.insert(0, f"<{r['verdict']}>")
        t = r.get("truth")
        if t:
            lines.append(
                f"  against the truth ({t['n_sources']} sources): RMS error / median formal "
                "error / RMS(error/formal)"
            )
            for k, unit in (("ra", "µas"), ("dec", "µas"), ("parallax", "µas"),
                            ("pmra", "µas/yr"), ("pmdec", "µas/yr")):
                s = t[k]
                lines.append(
                    f"    {k:<9} {s['rms_error_uas']:9.1f} {unit:<7} "
                    f"{s['median_formal_error_uas']:9.1f} {unit:<7} {s['normalised_rms']:7.3f}"
                )
        if self.out is not None:
            lines.append(f"  files in {self.out}")
        return "\n".join(lines)


def solve(
    path,
    solver="cg",
    *,
    out=None,
    frame=None,
    tol_uas=None,
    tol_sigma=None,
    max_outer=30,
    max_inner=None,
    inner_tol=None,
    robust=True,
    min_visibility_periods=None,
    min_attitude_redundancy=None,
    allow_unconverged=False,
    force=False,
    progress=True,
    output="auto",
    observations_on_disk=False,
):
    """Solve a data set: sources, attitude and calibration (the global astrometric solution).

    The same solution as ``astrosolve solve`` with the same options (docs/solvers.md), to the
    last bit.

    Parameters
    ----------
    path : str or os.PathLike
        Data set directory (mission.toml, observations.parquet, sources.parquet,
        attitude.parquet, calibration.parquet; optional reference_positions.parquet and
        truth/), e.g. from :func:`simulate`.
    solver : {"cg", "bi", "lsqr", "direct"}
        Inner solver: conjugate gradients, block iteration, LSQR, or direct (full
        covariance).
    out : str or os.PathLike, optional
        Directory for catalogue.parquet, attitude.parquet, calibration.parquet and
        report.json (the command line's files less the plots); None: not kept.
    frame : {"gaia", "min-norm"}, optional
        How the frame is fixed (default ``"gaia"``: reference positions and quasars).
    tol_uas : float, optional
        Stop when the largest update is below this [µas, µas/yr] (default 0.01).
    tol_sigma : float, optional
        Also stop when every update (sources, attitude, calibration) is below this fraction
        of its formal uncertainty, e.g. 0.01 for large missions whose weakest sources keep
        moving by a few µas (default: off).
    max_outer : int
        Most outer (relinearisation) iterations.
    max_inner : int, optional
        Most inner iterations per outer iteration (default 5000).
    inner_tol : float, optional
        Relative residual at which an inner solve stops (default 1e-6).
    robust : bool
        Down-weight outliers (and fit excess noise).
    min_visibility_periods : int, optional
        Fewest visibility periods for a source to be solved (default 6).
    min_attitude_redundancy : float, optional
        Fewest measurements per attitude unknown below which the data are refused
        (default 60).
    allow_unconverged : bool
        Return (and write) the results even when the solve does not converge or the frame
        cannot be fixed; ``report["verdict"]`` then says what failed. By default such a
        solve raises :class:`astrosolve.AstrosolveError` with the diagnosis.
    force : bool
        Overwrite existing solution files in ``out``.
    progress : bool
        Show a progress bar (tqdm when installed: terminal or Jupyter).
    output : {"auto", "table", "qtable", "dict"}
        Type of the catalogue returned (astropy ``Table`` with units when installed).
    observations_on_disk : bool
        Keep the observations on disk during the solve (a scratch file in ``out``, or in a
        temporary directory, removed at once), read again at every outer iteration: only the
        design rows stay in memory (≈ 75 instead of ≈ 130 bytes per AL observation). The
        same solution, bit for bit.

    Returns
    -------
    Solution
        ``catalogue`` and ``report``; unpacks as ``catalogue, report``.

    Raises
    ------
    astrosolve.AstrosolveError
        Data the solver refuses (with the reason), a diverging or unconverged solution
        (unless ``allow_unconverged``), bad files.
    KeyboardInterrupt
        Ctrl-C: the solver stops at its next iteration and nothing is written.
    """
    if solver not in _SOLVERS:
        raise ValueError(f'solver must be bi, cg, lsqr or direct (got "{solver}")')
    tmp = None
    if out is None:
        tmp = tempfile.TemporaryDirectory(prefix="astrosolve-")
        target = tmp.name
    else:
        target = os.fspath(out)
    try:
        with progress_bar("solve", progress) as bar:
            report, columns = _core.solve(
                os.fspath(path), target, solver, frame, tol_uas, tol_sigma, int(max_outer), max_inner,
                inner_tol, bool(robust), min_visibility_periods, min_attitude_redundancy,
                bool(allow_unconverged), force, bar, bool(observations_on_disk),
            )
    finally:
        if tmp is not None:
            tmp.cleanup()
    columns = [
        (
            n,
            unit,
            a.astype(np.int32) if n in CATALOGUE_INT32
            else a.astype(np.int8) if n in CATALOGUE_INT8
            else a,
        )
        for n, unit, a in columns
    ]
    return Solution(
        make_table(columns, output, CATALOGUE_UNITS),
        json.loads(report),
        None if out is None else pathlib.Path(out),
    )
