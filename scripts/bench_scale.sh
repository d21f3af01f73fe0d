#!/usr/bin/env bash
# Scale benchmark (issue 11, part 3): simulates a Gaia-like one-year mission of N_OBS AL
# observations (AC only for G < 13, as Gaia measures it) with `astrosolve simulate`, solves it
# with `astrosolve solve`, and reports for each step the wall time and the peak resident memory
# (/usr/bin/time -v, "Maximum resident set size"), the time per outer iteration, the inner
# iterations, the bytes per observation and the accuracy against the truth (normalised RMS of
# sources with ≥ 20 good observations, from the solve's report.json).
#
# Environment (all optional):
#   N_OBS            AL observations wanted (default 1e8); sources = N_OBS / OBS_PER_SOURCE
#   OBS_PER_SOURCE   AL observations per source in a year (default 146: the default mission's
#                    7.3e5 observations of 5000 sources)
#   G_AC_MAX         AC measurements for G below this (default 13, Gaia's rule; 21, every
#                    source, below N_OBS = 5e6, where G < 13 alone is too few for the attitude)
#   OBS_PER_ATT      [simulation] obs_per_attitude_param (default 400 × N_OBS / 1e7, at least
#                    400: with AC for G < 13 only, ≈ 6.5 % of the observations, 400 AL per
#                    attitude unknown give ≈ 26 AC per unknown, above the 20 the solver asks for
#                    (the simulator's default 100 would be refused); scaled with N_OBS as the
#                    calibration is, so that the knots stay ≈ 76 min apart at any size ≥ 1e7: at
#                    1e8 with 400 (knots every 7.6 min) the outer iterations shrank the attitude
#                    update only by ≈ 0.57 each (343″ → 17″ in 6 outer iterations, 18 min) and
#                    would not have converged within the hour (docs/scaling.md)
#   OBS_PER_CAL      [simulation] obs_per_calibration_param (default 200 × N_OBS / 1e7, at
#                    least 200: ≈ 110 calibration intervals of 3.4 days at any size ≥ 1e7)
#   SOLVER           inner solver (default cg)   EXTRA_SOLVE_ARGS  more `solve` flags
#   TOL_SIGMA        --tol-sigma of the solve (default 0.01: stop once every update is below
#                    1 % of its formal uncertainty; the weakest sources of 10⁷ observations
#                    otherwise keep moving by 10–30 µas, σ of tens of mas; "" leaves it off)
#   ROBUST_START_UAS --robust-start-uas (default 1e4: robust weighting from the outer iteration
#                    after the first update below 10 mas, two outer iterations earlier than the
#                    solver's 100 µas on these missions)
#   WORK             data and solution directory (default target/bench/scale-<N_OBS>)
#   KEEP=1           keep the data set and solution (default: removed after a successful run)
#   REUSE_DATA=1     solve the data set a KEEP=1 run left in WORK again (its simulation figures)
#   MAX_OUTER        --max-outer of the solve (default 30, the solver's). The solve runs with
#                    --allow-unconverged, so that its figures are written whatever the verdict
#                    (the verdict is in the JSON and the table)
#   ASTROSOLVE       the binary (default target/release/astrosolve, built if missing)
# Output: target/bench/scale.json (and scale-<N_OBS>.json), and a table on stdout.
set -euo pipefail
# the whole script is read before it runs (main below), so that editing it cannot disturb a run
main() {
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
mkdir -p "$TARGET/bench"
TARGET=$(cd "$TARGET" && pwd)

N_OBS=${N_OBS:-1e8}
OBS_PER_SOURCE=${OBS_PER_SOURCE:-146}
# below ≈ 5e6 observations a year the knot interval is at its cap (half a revolution) and
# G < 13 alone gives too few AC measurements per attitude unknown: AC for every source there
if [ -z "${G_AC_MAX:-}" ]; then
    if python3 -c "import sys; sys.exit(0 if float('$N_OBS') >= 5e6 else 1)"; then
        G_AC_MAX=13
    else
        G_AC_MAX=21
        echo "note: N_OBS < 5e6: AC for every source (G_AC_MAX=21); with G < 13 only, the solver would refuse the data (too few AC per attitude unknown at the longest knot interval)"
    fi
fi
OBS_PER_ATT=${OBS_PER_ATT:-$(python3 -c "print(max(400.0, 400.0 * float('$N_OBS') / 1e7))")}
# calibration intervals: [simulation] derives them from the observation rate (200 AL per AL
# unknown by default), ≈ 109 intervals (3.4 d) at 1e7 observations but ≈ 1000 at 1e8, whose
# dense (interval, field) blocks of 315 unknowns would take 1.6 GB per copy (the normal
# matrix and each thread's accumulator): the redundancy is scaled with N_OBS instead, keeping
# ≈ 110 intervals at any size ≥ 1e7
OBS_PER_CAL=${OBS_PER_CAL:-$(python3 -c "print(max(200.0, 200.0 * float('$N_OBS') / 1e7))")}
SOLVER=${SOLVER:-cg}
EXTRA_SOLVE_ARGS=${EXTRA_SOLVE_ARGS:-}
TOL_SIGMA=${TOL_SIGMA-0.01}
ROBUST_START_UAS=${ROBUST_START_UAS:-1e4}
CONVERGE_ARGS="--robust-start-uas $ROBUST_START_UAS"
[ -z "$TOL_SIGMA" ] || CONVERGE_ARGS="$CONVERGE_ARGS --tol-sigma $TOL_SIGMA"
N_INT=$(python3 -c "print(int(float('$N_OBS')))")
N_SOURCES=$(python3 -c "print(max(1000, round(float('$N_OBS') / float('$OBS_PER_SOURCE'))))")
WORK=${WORK:-$TARGET/bench/scale-$N_INT}
BIN=${ASTROSOLVE:-$TARGET/release/astrosolve}
if [ ! -x "$BIN" ]; then
    echo "building $BIN ..."
    cargo build --release -p astrosolve
fi
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time, apt-get install time)"; exit 1; }

DATA=$WORK/data
SOL=$WORK/solution
reuse=0
if [ "${REUSE_DATA:-0}" = 1 ] && [ -f "$DATA/mission.toml" ] && [ -f "$WORK/simulate.time" ]; then
    reuse=1
    rm -rf "$SOL"
else
    rm -rf "$DATA" "$SOL"
fi
mkdir -p "$WORK"
cat >"$WORK/mission.toml" <<EOF
[simulation]
n_sources = $N_SOURCES
g_ac_max = $G_AC_MAX
obs_per_attitude_param = $OBS_PER_ATT
obs_per_calibration_param = $OBS_PER_CAL
EOF

echo "== scale benchmark: N_OBS = $N_OBS → $N_SOURCES sources, one year, AC for G < $G_AC_MAX, $OBS_PER_ATT AL per attitude and $OBS_PER_CAL per calibration unknown, solver $SOLVER $CONVERGE_ARGS"
echo "   machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo); work in $WORK"

# Runs "$@" under /usr/bin/time -v (peak RSS, wall and CPU time into $WORK/$name.time), its
# output shown and kept with time stamps in $WORK/$name.log, and its resident memory sampled
# every second into $WORK/$name.rss (time stamp, kB, CPU clock ticks), to tell which phase
# holds the peak and the CPU time of each outer iteration (robust to other loads).
run_measured() {
    local name=$1
    shift
    : >"$WORK/$name.rss"
    : >"$WORK/$name.log"
    /usr/bin/time -v -o "$WORK/$name.time" "$@" \
        > >(while IFS= read -r line; do
                printf '%s\n' "$line"
                printf '%s %s\n' "$(date +%s.%N)" "$line" >>"$WORK/$name.log"
            done) 2>&1 &
    local tpid=$! pid=""
    while kill -0 "$tpid" 2>/dev/null; do
        # the astrosolve process below this job (under time, under a subshell)
        [ -n "$pid" ] || pid=$(pgrep -x astrosolve -P "$tpid,$(pgrep -d, -P "$tpid" || echo 0)" | head -n 1 || true)
        if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
            # time stamp, VmRSS (kB), utime + stime of the process (clock ticks)
            echo "$(date +%s.%N) $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null) $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null)" >>"$WORK/$name.rss"
        fi
        sleep 1
    done
    wait "$tpid"
}

if [ "$reuse" = 1 ]; then
    echo "-- simulate: reusing $DATA and its figures (REUSE_DATA=1)"
else
    echo "-- simulate"
    run_measured simulate "$BIN" simulate --config "$WORK/mission.toml" --out "$DATA" --force
fi
echo "-- solve"
status=0
# shellcheck disable=SC2086
run_measured solve "$BIN" solve "$DATA" --out "$SOL" --force --solver "$SOLVER" \
    --max-outer "${MAX_OUTER:-30}" --allow-unconverged $CONVERGE_ARGS $EXTRA_SOLVE_ARGS || status=$?
sleep 1 # the last lines of the logs

python3 - "$WORK" "$TARGET/bench" "$N_INT" "$N_SOURCES" "$G_AC_MAX" "$SOLVER" "$status" "$CONVERGE_ARGS $EXTRA_SOLVE_ARGS" <<'PY'
import json, os, re, sys

work, bench, n_obs_wanted, n_sources, g_ac_max, solver, status, solve_flags = sys.argv[1:]

def gnu_time(path):
    """Wall seconds and peak RSS (bytes) from /usr/bin/time -v."""
    text = open(path).read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) * 1024
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text).group(1)
    sec = 0.0
    for part in wall.split(":"):
        sec = sec * 60 + float(part)
    cpu = sum(float(re.search(rf"{k} time \(seconds\): ([\d.]+)", text).group(1)) for k in ("User", "System"))
    return sec, rss, cpu

sim_s, sim_rss, sim_cpu = gnu_time(os.path.join(work, "simulate.time"))
sol_s, sol_rss, sol_cpu = gnu_time(os.path.join(work, "solve.time"))
def stamped(name):
    """(time stamp, line) of a run's log."""
    out = []
    for l in open(os.path.join(work, name + ".log")):
        t, _, text = l.rstrip("\n").partition(" ")
        try:
            out.append((float(t), text))
        except ValueError:
            pass
    return out

TICK = os.sysconf("SC_CLK_TCK")

def rss_samples(name):
    out = []
    for l in open(os.path.join(work, name + ".rss")):
        p = l.split()
        if len(p) >= 2:
            out.append((float(p[0]), int(p[1]) * 1024, int(p[2]) / TICK if len(p) > 2 else None))
    return out

def cpu_at(samples, t):
    """CPU seconds of the process at time t (the last sample before it)."""
    c = None
    for ts, _, cpu in samples:
        if ts > t:
            break
        c = cpu
    return c

def peak_between(samples, t0, t1):
    v = [r for t, r, _ in samples if t0 <= t <= t1]
    return max(v) if v else None

log = "\n".join(t for _, t in stamped("simulate"))
m = re.search(r"simulated (\d+) sources, (\d+) observations \((\d+) with AC\), (\d+) attitude knots every ([\d.]+) min, (\d+) calibration", log)
n_al, n_ac, n_knots, knot_min = int(m.group(2)), int(m.group(3)), int(m.group(4)), float(m.group(5))
data_dir = os.path.join(work, "data")
data_bytes = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(data_dir) for f in fs)
rep_path = os.path.join(work, "solution", "report.json")
rep = json.load(open(rep_path)) if os.path.exists(rep_path) else None

out = {
    "n_obs_requested": int(n_obs_wanted),
    "n_sources": int(n_sources),
    "n_obs_al": n_al,
    "n_obs_ac": n_ac,
    "g_ac_max": float(g_ac_max),
    "attitude_knots": n_knots,
    "knot_interval_min": knot_min,
    "threads": os.cpu_count(),
    "data_set_bytes": data_bytes,
    "simulate": {"wall_s": sim_s, "cpu_s": sim_cpu, "peak_rss_bytes": sim_rss,
                 "bytes_per_al_obs": sim_rss / n_al},
    "solve_flags": f"--solver {solver} {solve_flags}".strip(),
    "solve": {"wall_s": sol_s, "cpu_s": sol_cpu, "peak_rss_bytes": sol_rss,
              "bytes_per_al_obs": sol_rss / n_al, "bytes_per_obs_al_ac": sol_rss / (n_al + n_ac),
              "exit_status": int(status)},
}
# which phase holds the solve's peak: reading (until "read … observations"), the outer
# iterations, and writing (after the last outer iteration); sampled every second
lines = stamped("solve")
samples = rss_samples("solve")
t_read = next((t for t, l in lines if l.startswith("read ")), None)
t_outer = [t for t, l in lines if l.strip().startswith("outer ")]
if t_read and samples:
    t_end = samples[-1][0]
    out["solve"]["read_s"] = t_read - samples[0][0]
    # CPU seconds of reading and of each outer iteration (sampled each second)
    marks = [t_read] + t_outer
    cpus = [cpu_at(samples, t) for t in marks]
    if all(c is not None for c in cpus):
        out["solve"]["read_cpu_s"] = cpus[0]
        out["solve"]["outer_cpu_s"] = [b - a for a, b in zip(cpus, cpus[1:])]
    out["solve"]["peak_rss_sampled_bytes"] = {
        "reading": peak_between(samples, 0, t_read + 0.5),
        "outer_iterations": peak_between(samples, t_read + 0.5, t_outer[-1] if t_outer else t_end),
        "after_last_outer": peak_between(samples, t_outer[-1], t_end) if t_outer else None,
    }
if rep:
    hist = rep.get("history", [])
    per = [h["wall_seconds"] for h in hist]  # each outer iteration's own wall time
    out["solve"].update({
        "verdict": rep.get("verdict"),
        "converged": rep.get("converged"),
        "outer_iterations": rep.get("outer_iterations"),
        "inner_iterations": rep.get("inner_iterations"),
        "inner_per_outer": [h["inner_iterations"] for h in hist],
        "solver_wall_s": rep.get("wall_seconds"),
        "outer_wall_s": per,
        "mean_outer_wall_s": (sum(per) / len(per)) if per else None,
        "n_rows": rep.get("n_rows"),
        "design_bytes_per_row": rep.get("design_bytes_per_row"),
        "n_global_unknowns": rep.get("n_global_unknowns"),
        "n_solved_sources": rep.get("n_solved_sources"),
    })
    tr = rep.get("truth")
    if tr:
        out["accuracy"] = {
            "n_sources_compared": tr["n_sources"],
            "min_obs": tr["min_obs"],
            **{p: {"rms_error_uas": tr[p]["rms_error_uas"], "normalised_rms": tr[p]["normalised_rms"]}
               for p in ("ra", "dec", "parallax", "pmra", "pmdec")},
            "noise_floor_0.8_1.3": all(0.8 <= tr[p]["normalised_rms"] <= 1.3
                                       for p in ("ra", "dec", "parallax", "pmra", "pmdec")),
        }
for name in (f"scale-{n_obs_wanted}.json", "scale.json"):
    with open(os.path.join(bench, name), "w") as f:
        json.dump(out, f, indent=2)

gib = 2**30
s, v = out["simulate"], out["solve"]
print()
print(f"scale benchmark: {n_al:,} AL + {n_ac:,} AC observations of {int(n_sources):,} sources, "
      f"{n_knots:,} knots every {knot_min:.1f} min, data set {data_bytes / 1e9:.2f} GB")
print(f"  {'step':<10}{'wall (s)':>10}{'cpu (s)':>10}{'peak RSS (GiB)':>16}{'B / AL obs':>12}")
print(f"  {'simulate':<10}{s['wall_s']:>10.1f}{s['cpu_s']:>10.1f}{s['peak_rss_bytes'] / gib:>16.2f}{s['bytes_per_al_obs']:>12.1f}")
print(f"  {'solve':<10}{v['wall_s']:>10.1f}{v['cpu_s']:>10.1f}{v['peak_rss_bytes'] / gib:>16.2f}{v['bytes_per_al_obs']:>12.1f}")
if rep:
    print(f"  solve: {v['verdict']}; {v['outer_iterations']} outer / {v['inner_iterations']} inner iterations "
          f"(per outer: {v['inner_per_outer']}); {v['mean_outer_wall_s']:.1f} s per outer iteration "
          f"(solver {v['solver_wall_s']:.1f} s of {v['wall_s']:.1f} s)")
    a = out.get("accuracy")
    if a:
        print(f"  accuracy ({a['n_sources_compared']:,} sources with ≥ {a['min_obs']} good observations):")
        print(f"    {'param':<10}{'RMS error':>12}{'normalised RMS':>16}")
        for p in ("ra", "dec", "parallax", "pmra", "pmdec"):
            print(f"    {p:<10}{a[p]['rms_error_uas']:>12.2f}{a[p]['normalised_rms']:>16.3f}")
        print(f"    noise floor (0.8–1.3): {'reached' if a['noise_floor_0.8_1.3'] else 'NOT reached'}")
else:
    print(f"  solve exited with status {status}: no report.json (see {work}/solve.log)")
ph = v.get("peak_rss_sampled_bytes")
if ph:
    f = lambda b: f"{b / gib:.2f}" if b else "-"
    print(f"  solve peak RSS by phase (sampled each second, GiB): reading {f(ph['reading'])}, "
          f"outer iterations {f(ph['outer_iterations'])}, after {f(ph['after_last_outer'])}")
print(f"wrote {bench}/scale.json")
PY
if [ "$status" -ne 0 ]; then
    echo "solve failed (status $status); data kept in $WORK"
    exit "$status"
fi
if [ "${KEEP:-0}" != 1 ]; then
    rm -rf "$DATA" "$SOL"
fi
}

main "$@"; exit $?
