#!/usr/bin/env bash
# VSH benchmark: fits 1.5 million synthetic sources at L = 10 (240 unknowns) with astrosolve
# (crates/vsh/benches/vsh.rs) and prints the time; then, where the PyPI package vsh-tools
# installs (in a virtual environment under target/), fits the same input with it and prints the
# agreement of the coefficients and the time ratio.
#
# Environment: VSH_BENCH_N (default 1500000), VSH_BENCH_LMAX (default 10), CARGO_TARGET_DIR,
# PYTHON (default python3), VSH_TOOLS_SPEC (pip requirement, default "vsh-tools").
# Output: target/bench/vsh.json (astrosolve), target/bench/vsh_compare.json (comparison).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
mkdir -p "$TARGET/bench"
TARGET=$(cd "$TARGET" && pwd)  # absolute: cargo bench runs in the package directory
BENCH_DIR=$TARGET/bench
DUMP=$BENCH_DIR/vsh_input
mkdir -p "$BENCH_DIR"

echo "== astrosolve VSH benchmark"
VSH_BENCH_DUMP=$DUMP cargo bench -p astrosolve-vsh --bench vsh

echo
echo "== comparison with vsh-tools (PyPI)"
VENV=$TARGET/vsh-venv
PY=${PYTHON:-python3}
SPEC=${VSH_TOOLS_SPEC:-vsh-tools}
have_vsh_tools() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import vsh_tools" 2>/dev/null; }
if ! have_vsh_tools; then
    echo "installing $SPEC into $VENV ..."
    if ! { "$PY" -m venv "$VENV" && "$VENV/bin/pip" install --quiet "$SPEC"; } >"$BENCH_DIR/vsh_tools_install.log" 2>&1 \
        || ! have_vsh_tools; then
        echo "vsh-tools could not be installed or imported (see $BENCH_DIR/vsh_tools_install.log):"
        tail -n 5 "$BENCH_DIR/vsh_tools_install.log" | sed 's/^/    /'
        echo "comparison skipped; astrosolve's figures are above and in $BENCH_DIR/vsh.json"
        rm -f "$DUMP/vsh_input.f64"
        exit 0
    fi
fi

status=0
"$VENV/bin/python" - "$DUMP" "$BENCH_DIR/vsh_compare.json" <<'PY' || status=$?
import json, sys, time

import numpy as np

dump, out = sys.argv[1], sys.argv[2]
try:
    import vsh_tools
    from vsh_tools import fit_vsh
except Exception as exc:  # noqa: BLE001 - report any import problem plainly
    print(f"vsh-tools is installed but unusable ({exc!r}); comparison skipped")
    sys.exit(0)

meta = json.load(open(f"{dump}/vsh_astrosolve.json"))
n, lmax = meta["n_sources"], meta["lmax"]
cols = np.fromfile(f"{dump}/vsh_input.f64", dtype="<f8").reshape(7, n)
ra, dec, pmra, pmdec, sig_ra, sig_dec, rho = cols
version = getattr(vsh_tools, "__version__", "?")
print(f"vsh-tools {version}: fitting {n} sources at lmax {lmax} (method='chunked', same weights) ...")
try:
    t0 = time.perf_counter()
    fit = fit_vsh(ra, dec, pmra, pmdec, lmax, method="chunked", sigma_ra=sig_ra,
                  sigma_dec=sig_dec, rho=rho, block_size=20_000, store_residuals=False)
    t_tools = time.perf_counter() - t0
except TypeError as exc:
    print(f"vsh-tools API differs from the one this script knows ({exc}); comparison skipped")
    sys.exit(0)

ours = dict(zip(meta["names"], meta["coefficients"]))
ours_err = dict(zip(meta["names"], meta["errors"]))
theirs = dict(zip(fit.coefficient_names, fit.coefficients))
theirs_err = dict(zip(fit.coefficient_names, np.sqrt(np.diag(fit.covariance))))
missing = sorted(set(ours) ^ set(theirs))
if missing:
    print(f"coefficient names differ: {missing[:10]}")
    sys.exit(1)
d_sigma = max(abs(ours[k] - theirs[k]) / ours_err[k] for k in ours)
d_abs = max(abs(ours[k] - theirs[k]) for k in ours)
d_err = max(abs(ours_err[k] - theirs_err[k]) / ours_err[k] for k in ours)
t_ours = meta["fit_no_clip_s"]
print(f"  coefficients: max |astrosolve - vsh-tools| = {d_abs:.3e} uas/yr = {d_sigma:.3e} sigma")
print(f"  formal errors: max relative difference {d_err:.3e}")
print(f"  time: astrosolve {t_ours:.2f} s ({meta['threads']} threads), vsh-tools {t_tools:.2f} s;"
      f" ratio vsh-tools/astrosolve = {t_tools / t_ours:.1f}")
json.dump({"n_sources": n, "lmax": lmax, "vsh_tools_version": version,
           "max_abs_diff_uas_yr": d_abs, "max_diff_sigma": d_sigma,
           "max_rel_error_diff": d_err, "astrosolve_s": t_ours, "vsh_tools_s": t_tools,
           "time_ratio": t_tools / t_ours}, open(out, "w"), indent=2)
print(f"  wrote {out}")
if d_sigma > 1e-6:
    print("  DISAGREEMENT: coefficients differ by more than 1e-6 sigma")
    sys.exit(1)
PY
rm -f "$DUMP/vsh_input.f64"
exit $status
