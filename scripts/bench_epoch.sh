#!/usr/bin/env bash
# Epoch-fit benchmark against ESA's gaiasupdate (PyPI), in one run: astrosolve's robust
# (AGIS-like) 5-parameter source update of EPOCH_SOURCES simulated Gaia DR4-like sources
# (~700 CCD observations each), then gaiasupdate on the first PEER_SOURCES of them (written as a
# CU9-layout Parquet file); prints sources per second of both, their ratio and the largest
# parameter difference (crates/epoch/benches/epoch_fit.rs, scripts/gaiasupdate_driver.py).
# gaiasupdate comes from PyPI, installed into a virtual environment under target/ where missing.
#
# Environment: EPOCH_SOURCES (default 1000000), PEER_SOURCES (1000), EPOCH_CHUNK (2000),
# EPOCH_SEED (1), PYTHON (python3, to create the venv), RAYON_NUM_THREADS.
# Output: target/bench/epoch_fit.json (and epoch_peer.parquet, epoch_peer_gaiasupdate.json).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=target/bench
mkdir -p "$BENCH_DIR"
VENV=target/gaiasupdate-venv
PY=${PYTHON:-python3}
have_peer() {
    [ -x "$VENV/bin/python" ] &&
        "$VENV/bin/python" -c "import pyarrow, gaiasupdate.epoch_astrometry" >/dev/null 2>&1
}
if [ "${PEER_SOURCES:-1000}" != 0 ] && ! have_peer; then
    echo "installing gaiasupdate into $VENV ..."
    if ! { "$PY" -m venv "$VENV" && "$VENV/bin/pip" install --quiet gaiasupdate pyarrow; } \
        >"$BENCH_DIR/gaiasupdate_install.log" 2>&1 || ! have_peer; then
        echo "gaiasupdate could not be installed (see $BENCH_DIR/gaiasupdate_install.log):"
        tail -n 5 "$BENCH_DIR/gaiasupdate_install.log" | sed 's/^/    /'
        echo "the benchmark runs without the peer comparison"
    fi
fi
export GAIASUPDATE_PYTHON=${GAIASUPDATE_PYTHON:-$PWD/$VENV/bin/python}
cargo bench -p astrosolve-epoch --bench epoch_fit
