"""Source updates on real epoch astrometry: Gaia DR4 epoch astrometry and Hipparcos IAD.

The same engine and the same outputs as ``astrosolve epoch`` (docs/epoch.md): for every
source, a weighted least-squares fit of its along-scan abscissae with 5, 6, 7 or 9 parameters
and DR4, AGIS-like, Huber or plain weights.
"""

import os

import numpy as np

from . import _core
from ._progress import progress_bar
from ._tables import engine_columns, make_table

__all__ = ["fit", "EpochFit"]

_MODELS = (5, 6, 7, 9)
_WEIGHTS = ("dr4", "agis", "huber", "none")
_FORMATS = ("auto", "gaia", "hip1997", "hip2007", "hip2014")


class EpochFit:
    """The result of :func:`fit`.

    Attributes
    ----------
    catalogue : astropy.table.Table or dict of numpy.ndarray
        One row per fitted source, the columns of the command line's ``catalogue.parquet``
        (docs/epoch.md): ``source_id``, ``ref_epoch`` [yr], ``astrometric_params_solved``,
        ``ra_offset``, ``dec_offset``, ``parallax`` [mas], ``pmra``, ``pmdec`` [mas/yr],
        (``pseudocolour_offset`` [1/nm], ``accel_ra``, ``accel_dec`` [mas/yr²],
        ``deriv_accel_ra``, ``deriv_accel_dec`` [mas/yr³]), their ``*_error``, every
        correlation ``*_corr``, ``astrometric_n_obs_al``, ``astrometric_n_good_obs_al``,
        ``astrometric_n_bad_obs_al``, ``astrometric_excess_noise`` [mas],
        ``astrometric_excess_noise_sig``, ``astrometric_chi2_al``, ``astrometric_gof_al``,
        ``uwe``, ``n_iterations``. A value the source's model does not have is NaN (null in
        the file).
    residuals : astropy.table.Table or dict of numpy.ndarray or None
        One row per observation: ``source_id``, ``transit``, ``epoch`` [yr], ``residual_al``
        [mas], ``sigma_al`` [mas], ``residual_al_norm``, ``weight_al``, ``used``. None when
        ``residuals=False``.
    skipped : list of (int or None, str)
        Sources (or files) that could not be fitted: source_id and the reason, naming file,
        row and column.
    warnings : list of str
        Warnings of the fits (e.g. Hipparcos file defects handled).
    seconds : float
        Wall time of the engine [s].

    ``catalogue, residuals = astrosolve.epoch.fit(...)`` unpacks the two tables.
    """

    def __init__(self, catalogue, residuals, skipped, warnings, seconds):
        self.catalogue = catalogue
        self.residuals = residuals
        self.skipped = skipped
        self.warnings = warnings
        self.seconds = seconds

    def __iter__(self):
        return iter((self.catalogue, self.residuals))

    def __len__(self):
        return len(self.catalogue["source_id"])

    def __repr__(self):
        c = self.catalogue
        n = len(self)
        names = list(c.keys()) if isinstance(c, dict) else list(c.colnames)
        extra = [x for x in ("pseudocolour_offset", "accel_ra", "deriv_accel_ra") if x in names]
        lines = [
            f"<EpochFit: {n} source(s) fitted, {len(self.skipped)} skipped, "
            f"{len(self.warnings)} warning(s), {self.seconds:.3f} s; columns up to "
            f"{extra[-1] if extra else 'pmdec'}>",
            f"  {'source_id':>20} {'parallax [mas]':>22} {'pmra [mas/yr]':>22} "
            f"{'pmdec [mas/yr]':>22} {'n_obs':>6} {'excess [mas]':>12}",
        ]
        for i in range(min(n, 8)):

            def pe(k):
                v, e = float(np.asarray(c[k])[i]), float(np.asarray(c[k + "_error"])[i])
                return f"{v:10.4f} ± {e:<9.4f}"

            lines.append(
                f"  {int(np.asarray(c['source_id'])[i]):>20} {pe('parallax'):>22} "
                f"{pe('pmra'):>22} {pe('pmdec'):>22} "
                f"{int(np.asarray(c['astrometric_n_obs_al'])[i]):>6} "
                f"{float(np.asarray(c['astrometric_excess_noise'])[i]):>12.4f}"
            )
        if n > 8:
            lines.append(f"  … {n - 8} more")
        for s in self.skipped[:5]:
            lines.append(f"  skipped: {s[1]}")
        return "\n".join(lines)


def _check_options(model, weights, format, colour_prior_sigma):
    if model is not None and model not in _MODELS:
        raise ValueError(f'model must be 5, 6, 7 or 9 (got "{model}")')
    if weights is not None and weights not in _WEIGHTS:
        raise ValueError(f'weights must be dr4, agis, huber or none (got "{weights}")')
    if format not in _FORMATS:
        raise ValueError(f"format must be one of {', '.join(_FORMATS)} (got {format!r})")
    if hasattr(colour_prior_sigma, "unit"):
        import astropy.units as u

        colour_prior_sigma = colour_prior_sigma.to_value(1 / u.nm)
    return float(colour_prior_sigma)


def fit(
    data,
    model=None,
    weights=None,
    *,
    format="auto",
    colour_prior_sigma=0.085e-3,
    residuals=True,
    output="auto",
    progress=False,
    name="<table>",
):
    """Fit every source of Gaia DR4 epoch astrometry or Hipparcos IAD.

    Parameters
    ----------
    data : str, os.PathLike, list of those, or table
        Files in any format the command line reads (Gaia DR4 epoch astrometry as CSV, ECSV,
        FITS, VOTable or Parquet, with archive or CU9 column names; Hipparcos IAD of 1997,
        2007, 2014), in any mix; or a table of DR4 epoch astrometry in memory: a dict of
        arrays, an astropy ``Table``/``QTable``, a pandas ``DataFrame``, a pyarrow ``Table``
        or a NumPy structured array, with the archive's columns (docs/epoch.md): one row per
        transit, the per-CCD columns as 2-D arrays (rows × 10), object arrays of 1-D arrays,
        or pyarrow lists; astropy units are honoured (e.g. µas read as µas).
    model : {5, 6, 7, 9}, optional
        Parameters: 5 (Δα*, Δδ, ϖ, μα*, μδ); 6 (+ pseudo-colour Δν with a Gaussian prior); 7
        (+ gα*, gδ); 9 (+ ġα*, ġδ). Default: 5 for Gaia, the star's own solution type for
        Hipparcos.
    weights : {"dr4", "agis", "huber", "none"}, optional
        ``"dr4"``: DR4's own update (used CCDs, σ² + ε² with the published excess noise, no
        iteration); ``"agis"``: the robust AGIS-like update (Lindegren et al. 2012, eqs.
        64–66); ``"huber"``; ``"none"``: 1/σ². Default: ``"agis"`` for Gaia, ``"none"`` for
        Hipparcos.
    format : {"auto", "gaia", "hip1997", "hip2007", "hip2014"}
        Format of the files (``"auto"``: detected from each file's content).
    colour_prior_sigma : float or astropy.units.Quantity
        σ of the prior on the pseudo-colour offset for ``model=6`` [nm⁻¹].
    residuals : bool
        Also return every observation's residual.
    output : {"auto", "table", "qtable", "dict"}
        Table type returned: astropy ``Table`` (with units) or ``QTable`` (Quantities), or a
        dict of NumPy arrays; ``"auto"``: ``Table`` when astropy is installed.
    progress : bool
        Show the number of sources fitted (tqdm when installed).
    name : str
        Name of an in-memory table in messages (in place of a file name).

    Returns
    -------
    EpochFit
        ``catalogue``, ``residuals``, ``skipped``, ``warnings``; unpacks as
        ``catalogue, residuals``.

    Raises
    ------
    astrosolve.AstrosolveError
        With the command line's message: a file that cannot be read, or no source fitted
        (with the reasons, naming file, row and column).
    ValueError, TypeError
        Bad options or a table that cannot be converted.

    Examples
    --------
    >>> import astrosolve
    >>> cat, res = astrosolve.epoch.fit("epoch_astrometry.parquet", weights="dr4")
    >>> cat["parallax"], cat["parallax_error"]
    """
    colour_prior_sigma = _check_options(model, weights, format, colour_prior_sigma)
    with progress_bar("epoch", progress) as bar:
        if isinstance(data, (str, os.PathLike)) or (
            isinstance(data, (list, tuple))
            and data
            and all(isinstance(p, (str, os.PathLike)) for p in data)
        ):
            paths = [os.fspath(data)] if isinstance(data, (str, os.PathLike)) else [
                os.fspath(p) for p in data
            ]
            out = _core.epoch_fit_files(
                paths, format, model, weights, colour_prior_sigma, residuals, bar
            )
        else:
            if format not in ("auto", "gaia"):
                raise ValueError("a table in memory is Gaia DR4 epoch astrometry: format must be auto or gaia")
            columns = engine_columns(data)
            out = _core.epoch_fit_table(
                name, columns, model, weights, colour_prior_sigma, residuals, bar
            )
    cat, res, skipped, warnings, seconds = out
    return EpochFit(
        make_table(cat, output),
        None if res is None else make_table(res, output),
        skipped,
        warnings,
        seconds,
    )
