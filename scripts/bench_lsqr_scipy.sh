#!/usr/bin/env bash
# LSQR benchmark against SciPy: exports one linearised, column-scaled system of a simulated
# mission in Matrix Market format (crates/scanning/benches/lsqr_export.rs),
# runs astrosolve's LSQR and scipy.sparse.linalg.lsqr on it to the same tolerances (the
# iterates themselves depend on rounding in this ill-conditioned system), and prints the
# agreement of the converged solutions and the ratio of the times per iteration.
# SciPy comes from PyPI, installed into a virtual environment under target/ where missing.
#
# Environment: LSQR_BENCH_SOURCES (default 3000), LSQR_BENCH_TOL (1e-10), PYTHON (python3),
# CARGO_TARGET_DIR.
# Output: target/bench/lsqr_scipy.json.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
mkdir -p "$TARGET/bench"
TARGET=$(cd "$TARGET" && pwd)
BENCH_DIR=$TARGET/bench
DUMP=$BENCH_DIR/lsqr_system
mkdir -p "$DUMP"

echo "== export and astrosolve LSQR"
LSQR_BENCH_OUT=$DUMP cargo bench -p astrosolve-scanning --bench lsqr_export

echo
echo "== scipy.sparse.linalg.lsqr"
VENV=$TARGET/scipy-venv
PY=${PYTHON:-python3}
have_scipy() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import scipy.sparse.linalg" 2>/dev/null; }
if ! have_scipy; then
    echo "installing scipy into $VENV ..."
    if ! { "$PY" -m venv "$VENV" && "$VENV/bin/pip" install --quiet scipy numpy; } >"$BENCH_DIR/scipy_install.log" 2>&1 \
        || ! have_scipy; then
        echo "SciPy could not be installed (see $BENCH_DIR/scipy_install.log):"
        tail -n 5 "$BENCH_DIR/scipy_install.log" | sed 's/^/    /'
        echo "comparison skipped; astrosolve's figures are in $DUMP/astrosolve.json"
        exit 0
    fi
fi

"$VENV/bin/python" - "$DUMP" "$BENCH_DIR/lsqr_scipy.json" <<'PY'
import json, sys, time

import numpy as np
import scipy
import scipy.io
from scipy.sparse.linalg import lsqr

dump, out = sys.argv[1], sys.argv[2]
meta = json.load(open(f"{dump}/astrosolve.json"))
t = time.perf_counter()
A = scipy.io.mmread(f"{dump}/A.mtx").tocsr()
b = np.asarray(scipy.io.mmread(f"{dump}/b.mtx")).ravel()
dinv = np.asarray(scipy.io.mmread(f"{dump}/dinv.mtx")).ravel()
x_ast = np.asarray(scipy.io.mmread(f"{dump}/x_astrosolve.mtx")).ravel()
print(f"read {A.shape[0]} x {A.shape[1]}, {A.nnz} non-zeros in {time.perf_counter() - t:.1f} s")
iters = meta["iterations"]
t = time.perf_counter()
tol = meta["tol"]
res = lsqr(A, b, atol=tol, btol=tol, conlim=1e16, iter_lim=10 * iters)
sec = time.perf_counter() - t
per_iter = sec / max(res[2], 1)
x_sp = res[0] * dinv  # back to the unscaled unknowns (rad, rad/yr, ...)
uas = np.pi / 180 / 3600 / 1e6
diff = np.max(np.abs(x_sp - x_ast)) / uas
ns = meta["n_source_unknowns"]
diff_src = np.max(np.abs(x_sp[:ns] - x_ast[:ns])) / uas
rel = np.linalg.norm(res[0] - x_ast / dinv) / np.linalg.norm(x_ast / dinv)
ratio = per_iter / meta["seconds_per_iteration"]
print(f"SciPy {scipy.__version__}: stop {res[1]} after {res[2]} iterations in {sec:.1f} s, {per_iter * 1e3:.3f} ms per iteration (one thread)")
print(f"astrosolve: {meta['iterations']} iterations, {meta['seconds_per_iteration'] * 1e3:.3f} ms per iteration ({meta['threads']} threads)")
print(f"difference of the iterates: relative (scaled unknowns) {rel:.2e}; largest over source parameters {diff_src:.2e} µas, over all unknowns {diff:.2e}")
print(f"time per iteration, SciPy / astrosolve: {ratio:.2f}")
json.dump({
    "scipy_version": scipy.__version__,
    "n_rows": int(A.shape[0]), "n_cols": int(A.shape[1]), "nnz": int(A.nnz),
    "iterations_scipy": int(res[2]),
    "iterations_astrosolve": int(meta["iterations"]),
    "tol": tol,
    "scipy_seconds_per_iteration": per_iter,
    "astrosolve_seconds_per_iteration": meta["seconds_per_iteration"],
    "astrosolve_threads": meta["threads"],
    "ratio_scipy_over_astrosolve": ratio,
    "max_difference_uas": float(diff),
    "max_difference_sources_uas": float(diff_src),
    "relative_difference": float(rel),
}, open(out, "w"), indent=2)
print(f"wrote {out}")
PY
