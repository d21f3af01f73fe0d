"""astrosolve.vsh.fit against `astrosolve vsh` on a synthetic proper-motion field: the same
report (coefficients, errors, correlations, rotation, glide, power) to the last bit; arrays of
the wrong dtype, shape or length refused; bad values raise naming index and column."""

import json
import threading
import time

import numpy as np
import pytest

import astrosolve

# rotation and glide of the synthetic field (µas/yr)
OMEGA = np.array([3.0, -2.0, 5.0])
GLIDE = np.array([-1.0, 4.0, -2.5])


def synthetic_field(n, seed=11):
    """Sources uniform on the sky with proper motions ω × u + g − (g·u)u plus Gaussian noise
    with correlated errors (mas/yr), a few outliers."""
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0.0, 360.0, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    a, d = np.radians(ra), np.radians(dec)
    ea = np.stack([-np.sin(a), np.cos(a), np.zeros(n)], axis=1)
    ed = np.stack([-np.sin(d) * np.cos(a), -np.sin(d) * np.sin(a), np.cos(d)], axis=1)
    u = np.stack([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)], axis=1)
    v = np.cross(OMEGA, u) + GLIDE - (u @ GLIDE)[:, None] * u  # µas/yr
    sa = rng.uniform(0.05, 0.4, n)
    sd = rng.uniform(0.05, 0.4, n)
    rho = rng.uniform(-0.5, 0.5, n)
    z1 = rng.standard_normal(n)
    z2 = rho * z1 + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    pmra = (v * ea).sum(1) / 1000.0 + sa * z1
    pmdec = (v * ed).sum(1) / 1000.0 + sd * z2
    out = rng.choice(n, n // 200, replace=False)
    pmra[out] += 20.0
    return dict(
        ra=ra, dec=dec, pmra=pmra, pmdec=pmdec, pmra_error=sa, pmdec_error=sd,
        pmra_pmdec_corr=rho,
    )


@pytest.fixture(scope="module")
def field():
    return synthetic_field(20000)


def write_parquet(cols, path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(cols), path)


@pytest.mark.parametrize("lmax, clip", [(1, 3.0), (4, 3.0), (6, 0.0)])
def test_the_command_lines_report_to_the_last_bit(field, lmax, clip, cli, run, tmp_path):
    path = tmp_path / "field.parquet"
    write_parquet(field, path)
    r = run(cli, "vsh", path, "--lmax", lmax, "--clip", clip, "--json", "--no-plot")
    expected = json.loads(r.stdout)
    fit = astrosolve.vsh.fit(**field, lmax=lmax, clip=clip)
    got = fit.report
    for key in ("settings", "fit", "rotation", "glide", "coefficients", "correlation", "power"):
        assert got[key] == expected[key], key
    # the arrays handed over equal the report's numbers bit for bit
    assert fit.values.tolist() == [c["value"] for c in expected["coefficients"]]
    assert fit.errors.tolist() == [c["error"] for c in expected["coefficients"]]
    assert fit.names == [c["name"] for c in expected["coefficients"]]
    assert fit.n_rejected == expected["fit"]["n_rejected"]
    assert fit.used.sum() == expected["fit"]["n_used"]
    # and the field is recovered (once the outliers are clipped): rotation and glide within 4 σ
    if clip > 0:
        assert fit.n_rejected >= 100
        for vec, truth in ((fit.rotation, OMEGA), (fit.glide, GLIDE)):
            assert np.all(np.abs(vec.components - truth) < 4 * vec.errors), (vec, truth)
    text = repr(fit)
    assert "rotation [µas/yr]" in text and "glide" in text and "l=1" in text
    assert "t10" in fit.summary() or "rotation" in fit.summary().lower()


def test_wrong_arrays_are_refused(field):
    f = dict(field)
    with pytest.raises(TypeError, match=r"pmra: expected a float64 array, got dtype float32"):
        astrosolve.vsh.fit(**dict(f, pmra=f["pmra"].astype(np.float32)))
    with pytest.raises(TypeError, match=r"dec: expected a float64 array, got dtype int64"):
        astrosolve.vsh.fit(**dict(f, dec=np.zeros(len(f["dec"]), dtype=np.int64)))
    with pytest.raises(TypeError, match=r"ra: expected a float64 array, got dtype <U"):
        astrosolve.vsh.fit(**dict(f, ra=f["ra"].astype(str)))
    with pytest.raises(ValueError, match=r"pmdec: expected a 1-D array, got shape \(100, 200\)"):
        astrosolve.vsh.fit(**dict(f, pmdec=f["pmdec"].reshape(100, 200)))
    with pytest.raises(ValueError, match=r"pmdec_error has 19999 values where ra has 20000"):
        astrosolve.vsh.fit(**dict(f, pmdec_error=f["pmdec_error"][1:]))
    with pytest.raises(ValueError, match=r"lmax must be 1 to 30"):
        astrosolve.vsh.fit(**f, lmax=0)
    # non-contiguous float64 views are fine (copied), lists too
    small = {k: v[:2000] for k, v in f.items()}
    strided = {k: np.repeat(v, 2)[::2] for k, v in small.items()}
    a = astrosolve.vsh.fit(**small, lmax=2)
    b = astrosolve.vsh.fit(**strided, lmax=2)
    c = astrosolve.vsh.fit(**{k: v.tolist() for k, v in small.items()}, lmax=2)
    assert a.values.tolist() == b.values.tolist() == c.values.tolist()


def test_bad_values_raise_naming_index_and_column(field):
    f = {k: v[:3000].copy() for k, v in field.items()}
    f["pmra_error"][7] = 0.0
    with pytest.raises(
        astrosolve.AstrosolveError,
        match=r"<arrays>: index 7, column 'pmra_error': standard error must be positive, got 0",
    ):
        astrosolve.vsh.fit(**f, lmax=2)
    f["dec"][9] = np.nan
    fit = astrosolve.vsh.fit(**f, lmax=2, skip_invalid=True)
    assert fit.n_sources == 2998 and not fit.used[7] and not fit.used[9]
    assert np.isnan(fit.x[7]) and np.isfinite(fit.x[0])
    with pytest.raises(astrosolve.AstrosolveError, match="need more sources or a lower --lmax"):
        astrosolve.vsh.fit(**{k: v[:10] for k, v in field.items()}, lmax=5)


def test_quantities_are_converted(field):
    u = pytest.importorskip("astropy.units")
    small = {k: v[:4000] for k, v in field.items()}
    plain = astrosolve.vsh.fit(**small, lmax=2)
    q = dict(small)
    q["ra"] = (small["ra"] * u.deg).to(u.rad)
    q["pmra"] = (small["pmra"] * u.mas / u.yr).to(u.uas / u.yr)
    conv = astrosolve.vsh.fit(**q, lmax=2)
    np.testing.assert_allclose(conv.values, plain.values, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="pmdec"):
        astrosolve.vsh.fit(**dict(small, pmdec=small["pmdec"] * u.deg), lmax=2)


def test_the_gil_is_released_during_a_fit():
    f = synthetic_field(400_000, seed=3)
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
        astrosolve.vsh.fit(**f, lmax=8, clip=0.0)
        elapsed = time.perf_counter() - t0
        during = count - before
    finally:
        stop = True
        th.join()
    assert elapsed > 0.05, elapsed
    assert during > 1000, (during, elapsed)
