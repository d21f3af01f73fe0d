#!/usr/bin/env bash
# The mission grid of docs/solvers.md: simulate and solve Gaia-like missions of several sizes,
# lengths and AC rules with the default solver, and tabulate convergence, redundancy and the
# normalised RMS errors against the truth (sources with ≥ 20 good observations).
#
# Environment: GRID_SOURCES (default "1000 5000 20000"), GRID_DAYS ("182.6 365.25 1095.75"),
# GRID_AC ("21 13": AC for every source, Gaia's G < 13 rule), SOLVER (cg), OUT (target/grid),
# SOLVE_ARGS (extra arguments of `astrosolve solve`, e.g. "--min-attitude-redundancy 0
# --allow-unconverged" to tabulate what the solver gives below its thresholds).
# Output: OUT/grid.md (a Markdown table) and OUT/<case>/report.json.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-target/grid}
mkdir -p "$OUT"
cargo build --release --quiet || exit 1
BIN=target/release/astrosolve
TABLE=$OUT/grid.md
echo "| sources | days | AC for G < | outcome | outer / inner | rows per attitude unknown | ra* | dec | ϖ | pmra | pmdec | solve s |" > "$TABLE"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|" >> "$TABLE"
for n in ${GRID_SOURCES:-1000 5000 20000}; do
  for d in ${GRID_DAYS:-182.6 365.25 1095.75}; do
    for ac in ${GRID_AC:-21 13}; do
      case="n${n}_d${d}_ac${ac}"
      dir=$OUT/$case
      rm -rf "$dir"; mkdir -p "$dir"
      printf '[simulation]\nn_sources = %s\ng_ac_max = %s\n[mission]\nduration_days = %s\nstart_day = %s\n' \
        "$n" "$ac" "$d" "$(python3 -c "print(-$d/2)")" > "$dir/mission.toml"
      $BIN simulate --config "$dir/mission.toml" --out "$dir/sim" > "$dir/simulate.log" 2>&1
      start=$(date +%s.%N)
      $BIN solve "$dir/sim" --out "$dir/sol" --solver "${SOLVER:-cg}" ${SOLVE_ARGS:-} > "$dir/solve.log" 2>&1
      rc=$?
      secs=$(python3 -c "print(f'{$(date +%s.%N) - $start:.0f}')")
      python3 - "$dir" "$n" "$d" "$ac" "$rc" "$secs" >> "$TABLE" <<'PY'
import json, sys, pathlib
d, n, days, ac, rc, secs = sys.argv[1:]
rep = pathlib.Path(d, "sol", "report.json")
if rc != "0" or not rep.exists():
    err = pathlib.Path(d, "solve.log").read_text().strip().splitlines()
    why = err[-1][:160] if err else "failed"
    print(f"| {n} | {days} | {ac} | refused: {why} | | | | | | | | {secs} |")
    sys.exit()
r = json.loads(rep.read_text())
t = r.get("truth", {})
nr = lambda p: f"{t[p]['normalised_rms']:.2f}" if p in t else ""
att = next((g for g in r["redundancy"]["groups"] if g["name"] == "attitude"), None)
rpu = f"{att['rows_per_unknown']:.0f}" if att else ""
out = "converged" if r["converged"] else "NOT converged"
print(f"| {n} | {days} | {ac} | {out} | {r['outer_iterations']} / {r['inner_iterations']} | {rpu} | {nr('ra')} | {nr('dec')} | {nr('parallax')} | {nr('pmra')} | {nr('pmdec')} | {secs} |")
PY
      tail -n 1 "$TABLE"
    done
  done
done
echo "wrote $TABLE"
