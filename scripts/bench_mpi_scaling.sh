#!/usr/bin/env bash
# Strong and weak scaling of the MPI solve on one machine (issue 11, part 4): the same Gaia-like
# mission on 1, 2 and 4 ranks (strong), and SOURCES_PER_RANK sources per rank (weak), each rank
# with CORES / ranks rayon threads (at least one: 4 ranks on 2 cores are oversubscribed, said in
# the table). Every solve runs MAX_OUTER outer iterations of cg with --allow-unconverged, so
# the ranks do the same work; the figures are from report.json (wall time per outer iteration,
# inner iterations) and the catalogue's agreement with the one-rank solve.
#
# Needs the binary built with the mpi feature (scripts/install_mpi.sh, then
# `cargo build --release -p astrosolve --features mpi`).
# Environment: ASTROSOLVE (default target/release/astrosolve), SOURCES (strong, default 5000),
# SOURCES_PER_RANK (weak, default 3000: 2500 sources over one year leave the attitude too weakly determined), RANKS (default "1 2 4"), MAX_OUTER (default 4),
# CORES (default nproc), WORK (default target/bench/mpi-scaling), PYTHON (with pyarrow; default
# python3, else target/python-venv's).
# Output: target/bench/mpi_scaling.json and a table.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
mkdir -p "$TARGET/bench"
TARGET=$(cd "$TARGET" && pwd)
BIN=${ASTROSOLVE:-$TARGET/release/astrosolve}
SOURCES=${SOURCES:-5000}
PER_RANK=${SOURCES_PER_RANK:-3000}
RANKS=${RANKS:-"1 2 4"}
MAX_OUTER=${MAX_OUTER:-4}
CORES=${CORES:-$(nproc)}
WORK=${WORK:-$TARGET/bench/mpi-scaling}
command -v mpirun >/dev/null || { echo "mpirun not found: run scripts/install_mpi.sh" >&2; exit 1; }
[ -x "$BIN" ] || { echo "$BIN not found: cargo build --release -p astrosolve --features mpi" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$WORK" && mkdir -p "$WORK"
echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"

simulate() { # sources dir
    [ -d "$2" ] || "$BIN" simulate --n-sources "$1" --out "$2" >"$2.log" 2>&1
}
solve() { # data ranks out
    local np=$2 threads=$(( CORES / $2 ))
    [ "$threads" -ge 1 ] || threads=1
    local t0=$(date +%s.%N)
    mpirun --oversubscribe -np "$np" -x RAYON_NUM_THREADS="$threads" \
        "$BIN" solve "$1" --out "$3" --max-outer "$MAX_OUTER" --allow-unconverged >"$3.log" 2>&1
    local t1=$(date +%s.%N)
    echo "$np $threads $(echo "$t1 - $t0" | bc)" >"$3.wall"
}

simulate "$SOURCES" "$WORK/strong-data"
for np in $RANKS; do
    echo "strong: $SOURCES sources on $np rank(s)"
    solve "$WORK/strong-data" "$np" "$WORK/strong-$np"
    n=$(( PER_RANK * np ))
    echo "weak: $n sources on $np rank(s)"
    simulate "$n" "$WORK/weak-data-$np"
    solve "$WORK/weak-data-$np" "$np" "$WORK/weak-$np"
done

PY=${PYTHON:-python3}
"$PY" -c "import pyarrow" 2>/dev/null || PY=$TARGET/python-venv/bin/python
"$PY" - "$WORK" "$CORES" "$RANKS" "$TARGET/bench/mpi_scaling.json" <<'PY'
import json, sys

import pyarrow.parquet as pq

work, cores, ranks, out = sys.argv[1], int(sys.argv[2]), [int(r) for r in sys.argv[3].split()], sys.argv[4]
rows = []
for kind in ("strong", "weak"):
    base = None
    for np_ in ranks:
        d = f"{work}/{kind}-{np_}"
        rep = json.load(open(f"{d}/report.json"))
        hist = rep["history"]
        outer_s = [h["wall_seconds"] for h in hist]
        inner = sum(h["inner_iterations"] for h in hist)
        _, threads, wall = open(f"{d}.wall").read().split()
        cat = pq.read_table(f"{d}/catalogue.parquet", columns=["ra", "dec", "parallax"]).to_pydict()
        r = {
            "kind": kind, "ranks": np_, "threads_per_rank": int(threads),
            "oversubscribed": np_ * int(threads) > cores,
            "n_sources": rep["n_sources"], "n_rows": rep["n_rows"],
            "outer_iterations": len(hist), "inner_iterations": inner,
            "solve_wall_s": sum(outer_s), "process_wall_s": float(wall),
            "s_per_outer": sum(outer_s) / len(hist),
            "s_per_inner_incl_linearisation": sum(outer_s) / max(inner, 1),
            "ns_per_row_per_inner": sum(outer_s) / max(inner, 1) / rep["n_rows"] * 1e9,
        }
        if base is None:
            base = (r, cat)
        else:
            r["speedup_vs_1_rank"] = base[0]["solve_wall_s"] / r["solve_wall_s"]
            if kind == "strong":
                dmax = max(abs(a - b) for k in ("ra", "dec") for a, b in zip(cat[k], base[1][k]) if a is not None and b is not None)
                r["max_position_difference_deg_vs_1_rank"] = dmax
        rows.append(r)
json.dump(rows, open(out, "w"), indent=2)
print("| scaling | ranks × threads | sources | rows | outer / inner | solve wall (s) | s per outer | ns per row per inner iteration | t(1 rank) / t(N ranks) |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    over = " (oversubscribed)" if r["oversubscribed"] else ""
    sp = r.get("speedup_vs_1_rank")
    print(f"| {r['kind']} | {r['ranks']} × {r['threads_per_rank']}{over} | {r['n_sources']} | {r['n_rows']} | {r['outer_iterations']} / {r['inner_iterations']} | {r['solve_wall_s']:.1f} | {r['s_per_outer']:.2f} | {r['ns_per_row_per_inner']:.1f} | {'' if sp is None else f'{sp:.2f}×'} |")
print(f"wrote {out}")
PY
