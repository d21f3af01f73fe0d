"""astrosolve: global astrometric solutions, epoch-astrometry fits and vector spherical
harmonics, with a Rust engine — the one the ``astrosolve`` command line runs, so both give the
same results to the last bit.

- :func:`astrosolve.epoch.fit` — source updates on Gaia DR4 epoch astrometry and Hipparcos IAD;
- :func:`astrosolve.vsh.fit` — VSH analysis of a proper-motion field (rotation, glide, power);
- :func:`astrosolve.simulate`, :func:`astrosolve.solve` — a Gaia-like mission simulated with
  its truth, and its global solution (sources, attitude, calibration).

Long calls release the GIL, show a progress bar (tqdm when installed) and stop on Ctrl-C.
Tables come back as astropy ``Table`` objects with units when astropy is installed, else as
dicts of NumPy arrays. Documentation: docs/python.md.
"""

from . import epoch, vsh
from ._core import VERSION as __version__
from ._core import AstrosolveError
from ._scanning import Solution, simulate, solve

__all__ = ["AstrosolveError", "epoch", "vsh", "simulate", "solve", "Solution", "__version__"]
