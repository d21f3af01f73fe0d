#!/usr/bin/env bash
# LSQR benchmark against SciPy: exports one linearised, column-scaled system of a simulated
# mission in Matrix Market format (crates/solve/benches/solvers.rs with SOLVERS_BENCH_EXPORT),
# runs astrosolve's LSQR and scipy.sparse.linalg.lsqr for the same number of iterations on it,
# and prints the agreement of the solutions and the ratio of the times per iteration.
# SciPy comes from PyPI, installed into a virtual environment under target/ where missing.
#
# Environment: SOLVERS_BENCH_SOURCES (default 1000), SOLVERS_BENCH_DAYS (365.25), SOLVERS_BENCH_SPIN (30),
# SOLVERS_BENCH_LSQR_ITERS (2000), PYTHON (python3), CARGO_TARGET_DIR.
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
SOLVERS_BENCH_SOURCES=${SOLVERS_BENCH_SOURCES:-1000} SOLVERS_BENCH_EXPORT=$DUMP \
    cargo bench -p astrosolve-solve --bench solvers

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
res = lsqr(A, b, atol=0.0, btol=0.0, conlim=0.0, iter_lim=iters)
sec = time.perf_counter() - t
per_iter = sec / max(res[2], 1)
x_sp = res[0] * dinv  # back to the unscaled unknowns (rad, rad/yr, ...)
uas = np.pi / 180 / 3600 / 1e6
diff = np.max(np.abs(x_sp - x_ast)) / uas
ratio = per_iter / meta["seconds_per_iteration"]
print(f"SciPy {scipy.__version__}: {res[2]} iterations in {sec:.1f} s, {per_iter * 1e3:.3f} ms per iteration (one thread)")
print(f"astrosolve: {meta['iterations']} iterations, {meta['seconds_per_iteration'] * 1e3:.3f} ms per iteration ({meta['threads']} threads)")
print(f"largest difference of the solutions: {diff:.2e} (µas for angles; attitude coefficients in µrad-like units)")
print(f"time per iteration, SciPy / astrosolve: {ratio:.2f}")
json.dump({
    "scipy_version": scipy.__version__,
    "n_rows": int(A.shape[0]), "n_cols": int(A.shape[1]), "nnz": int(A.nnz),
    "iterations": int(res[2]),
    "scipy_seconds_per_iteration": per_iter,
    "astrosolve_seconds_per_iteration": meta["seconds_per_iteration"],
    "astrosolve_threads": meta["threads"],
    "ratio_scipy_over_astrosolve": ratio,
    "max_difference_uas": float(diff),
}, open(out, "w"), indent=2)
print(f"wrote {out}")
PY
