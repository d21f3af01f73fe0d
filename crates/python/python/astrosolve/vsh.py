"""Vector spherical harmonics (VSH) analysis of proper-motion fields (Mignard & Klioner 2012,
A&A 547, A59): the engine and the report of ``astrosolve vsh`` (docs/vsh.md) on arrays.
"""

import json

import numpy as np

from . import _core

__all__ = ["fit", "VshFit", "Vector", "as_float64"]

_NAMES = ("ra", "dec", "pmra", "pmdec", "pmra_error", "pmdec_error", "pmra_pmdec_corr")
_UNITS = ("deg", "deg", "mas/yr", "mas/yr", "mas/yr", "mas/yr", "")


def as_float64(x, name, unit=None):
    """``x`` as a contiguous 1-D float64 array, or a clear refusal.

    A NumPy array must already be float64 (any other dtype is refused: convert it explicitly);
    lists and tuples are converted; an astropy Quantity is converted to ``unit``; masked
    values become NaN (refused unless ``skip_invalid``).
    """
    if getattr(x, "unit", None) is not None and hasattr(x, "quantity"):
        x = x.quantity  # an astropy Column with a unit
    if hasattr(x, "unit") and hasattr(x, "to_value"):
        import astropy.units as u

        try:
            x = x.to_value(u.Unit(unit) if unit else u.dimensionless_unscaled)
        except u.UnitConversionError as e:
            raise ValueError(f"{name}: {e}") from None
        x = np.asarray(x, dtype=np.float64)
    elif np.ma.isMaskedArray(x):
        if x.dtype != np.float64:
            raise TypeError(
                f"{name}: expected a float64 array, got dtype {x.dtype} (convert it, e.g. "
                f"{name}.astype(np.float64))"
            )
        x = np.ma.filled(x, np.nan)
    elif isinstance(x, np.ndarray):
        if x.dtype != np.float64:
            raise TypeError(
                f"{name}: expected a float64 array, got dtype {x.dtype} (convert it, e.g. "
                f"{name}.astype(np.float64))"
            )
    elif isinstance(x, (list, tuple)):
        try:
            x = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{name}: not a sequence of numbers ({e})") from None
    else:
        arr = np.asarray(x)  # pandas Series, astropy Column, …
        if arr.dtype != np.float64:
            raise TypeError(
                f"{name}: expected float64 values, got {type(x).__name__} of dtype {arr.dtype}"
            )
        x = arr
    if x.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {x.shape}")
    return np.ascontiguousarray(x)


class Vector:
    """A rotation (spin) or glide vector of degree 1, equatorial, in µas/yr.

    Attributes
    ----------
    components, errors : numpy.ndarray
        (x, y, z) [µas/yr] and their standard errors.
    covariance : numpy.ndarray
        3 × 3 [(µas/yr)²].
    amplitude, amplitude_error : float
        |v| [µas/yr] and its linearised error.
    ra, dec, ra_error, dec_error : float
        Direction [deg] and errors.
    l, b, l_error, b_error : float
        Galactic direction [deg] and errors.
    """

    def __init__(self, kind, d):
        self.kind = kind
        self.components = np.array(d["components"])
        self.errors = np.array(d["errors"])
        self.covariance = np.array(d["covariance"])
        self.amplitude = d["amplitude"]
        self.amplitude_error = d["amplitude_error"]
        e, g = d["equatorial"], d["galactic"]
        self.ra, self.dec, self.ra_error, self.dec_error = (
            e["lon"], e["lat"], e["lon_error"], e["lat_error"])
        self.l, self.b, self.l_error, self.b_error = (
            g["lon"], g["lat"], g["lon_error"], g["lat_error"])

    def __repr__(self):
        c, e = self.components, self.errors
        return (
            f"{self.kind} [µas/yr]: x = {c[0]:.3f} ± {e[0]:.3f}, y = {c[1]:.3f} ± {e[1]:.3f}, "
            f"z = {c[2]:.3f} ± {e[2]:.3f}; |v| = {self.amplitude:.3f} ± {self.amplitude_error:.3f} "
            f"towards (α, δ) = ({self.ra:.1f} ± {self.ra_error:.1f}°, {self.dec:.1f} ± "
            f"{self.dec_error:.1f}°), (l, b) = ({self.l:.1f}°, {self.b:.1f}°)"
        )


class VshFit:
    """The result of :func:`fit`.

    Attributes
    ----------
    lmax : int
        Maximum degree L.
    names : list of str
        Coefficient names in packed order (``t10, s10, t11r, s11r, t11i, s11i, t20, …``).
    values, errors : numpy.ndarray
        Coefficients and their formal errors [µas/yr].
    covariance : numpy.ndarray
        n × n covariance of the coefficients [(µas/yr)²]; ``correlation`` the same normalised.
    rotation, glide : Vector
        Degree-1 vectors (spin ω and glide g) with errors and directions.
    power : list of dict
        Per degree l: ``{"l", "toroidal", "spheroidal", "total"}``, each with ``power``,
        ``noise_bias``, ``power_corrected``, ``power_corrected_error`` [(µas/yr)²],
        ``rms_corrected`` [µas/yr], ``chi2``, ``dof``, ``p_value``, ``z``.
    used : numpy.ndarray of bool
        For every input row: entered the final fit (valid and not clipped).
    x : numpy.ndarray
        Normalised residual X of every input row (NaN for rows skipped as invalid).
    n_sources, n_used, n_rejected, iterations : int
        Rows given to the fit, used, rejected by the clipping, fits made.
    chi2, unit_weight_error : float
    report : dict
        The full report, as ``vsh.json`` of the command line.
    """

    def __init__(self, report_json, summary, coef, cov, rejected, x, index, n_rows):
        self.report = json.loads(report_json)
        self._summary = summary
        self.lmax = self.report["settings"]["lmax"]
        self.names = [c["name"] for c in self.report["coefficients"]]
        self.values = coef
        n = len(coef)
        self.covariance = cov.reshape(n, n)
        self.errors = np.sqrt(np.diag(self.covariance))
        d = self.errors
        with np.errstate(invalid="ignore", divide="ignore"):
            self.correlation = self.covariance / np.outer(d, d)
        self.rotation = Vector("rotation", self.report["rotation"])
        self.glide = Vector("glide", self.report["glide"])
        self.power = self.report["power"]
        f = self.report["fit"]
        self.n_sources, self.n_used = f["n_sources"], f["n_used"]
        self.n_rejected, self.iterations = f["n_rejected"], f["iterations"]
        self.converged = f["converged"]
        self.chi2, self.unit_weight_error = f["chi2"], f["unit_weight_error"]
        self.used = np.zeros(n_rows, dtype=bool)
        self.used[index] = ~rejected
        self.x = np.full(n_rows, np.nan)
        self.x[index] = x

    def coefficient(self, name):
        """(value, error) of the coefficient ``name`` (e.g. ``"t11r"``) [µas/yr]."""
        k = self.names.index(name)
        return float(self.values[k]), float(self.errors[k])

    def summary(self):
        """The command line's printed summary."""
        return self._summary

    def __repr__(self):
        lines = [
            f"<VshFit: lmax {self.lmax}, {len(self.values)} coefficients, {self.n_used} of "
            f"{self.n_sources} sources used ({self.n_rejected} clipped, {self.iterations} "
            f"fit(s){'' if self.converged else ', NOT converged'}), unit-weight error "
            f"{self.unit_weight_error:.3f}>",
            f"  {self.rotation!r}",
            f"  {self.glide!r}",
            "  power per degree [(µas/yr)²], bias-corrected ± error (Z):",
        ]
        for p in self.power:
            t, s = p["toroidal"], p["spheroidal"]
            lines.append(
                f"    l={p['l']:<2}  T {t['power_corrected']:12.4g} ± {t['power_corrected_error']:<10.3g}"
                f" ({t['z']:5.1f})   S {s['power_corrected']:12.4g} ± "
                f"{s['power_corrected_error']:<10.3g} ({s['z']:5.1f})"
            )
        k = np.argsort(-np.abs(self.values / self.errors))[:6]
        lines.append(
            "  largest coefficients [µas/yr]: "
            + ", ".join(f"{self.names[i]} = {self.values[i]:.3f} ± {self.errors[i]:.3f}" for i in k)
        )
        return "\n".join(lines)


def fit(
    ra,
    dec,
    pmra,
    pmdec,
    pmra_error,
    pmdec_error,
    pmra_pmdec_corr,
    *,
    lmax=5,
    clip=3.0,
    max_iter=20,
    skip_invalid=False,
):
    """Fit toroidal and spheroidal vector spherical harmonics to a proper-motion field.

    Weighted least squares with each source's 2 × 2 covariance, iterative outlier clipping
    (a source is rejected when X = sqrt(Δᵀ C⁻¹ Δ) > ``clip`` · median(X)); conventions of
    Mignard & Klioner (2012), docs/vsh.md.

    Parameters
    ----------
    ra, dec : array_like or astropy.units.Quantity
        Position [deg].
    pmra, pmdec : array_like or astropy.units.Quantity
        Proper motion μα* = μα cos δ and μδ [mas/yr].
    pmra_error, pmdec_error : array_like or astropy.units.Quantity
        Their standard errors [mas/yr].
    pmra_pmdec_corr : array_like
        Correlation of μα* and μδ.
    lmax : int
        Maximum degree L (1–30); 2L(L+2) coefficients.
    clip : float
        Clipping factor κ (≥ 0; 0 disables clipping).
    max_iter : int
        Most fits in the clipping loop (1–1000).
    skip_invalid : bool
        Skip rows with a NaN, non-finite or out-of-range value (|dec| > 90°, error ≤ 0,
        |corr| ≥ 1) instead of raising.

    All arrays are 1-D float64 of one length (a NumPy array of another dtype is refused;
    Quantities are converted to the units above).

    Returns
    -------
    VshFit
        Coefficients with errors, rotation and glide, power per degree, the full report.

    Raises
    ------
    TypeError, ValueError
        An array of the wrong dtype, shape or length.
    astrosolve.AstrosolveError
        An invalid value (naming its index and column), too few sources for ``lmax``, a
        singular system.
    """
    arrays = [
        as_float64(a, n, u)
        for a, n, u in zip(
            (ra, dec, pmra, pmdec, pmra_error, pmdec_error, pmra_pmdec_corr), _NAMES, _UNITS
        )
    ]
    n = len(arrays[0])
    for a, name in zip(arrays, _NAMES):
        if len(a) != n:
            raise ValueError(f"{name} has {len(a)} values where ra has {n}")
    out = _core.vsh_fit(
        *arrays, lmax=int(lmax), clip=float(clip), max_iter=int(max_iter),
        skip_invalid=bool(skip_invalid),
    )
    return VshFit(*out, n_rows=n)
