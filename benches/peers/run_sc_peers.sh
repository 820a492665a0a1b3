#!/usr/bin/env bash
# Synthetic control side by side: cominev and the peers on the same files.
#   benches/peers/run_sc_peers.sh [UNITS...]     (default: 50 1000 5000)
# 1. Synthetic DiD with placebo SE (200 replications) on regional factor-model panels of UNITS
#    units × 40 quarters (10% treated, last 10 quarters post), written by `cominev simulate
#    --design regional-panel` and re-encoded with integer unit and time columns for the peers:
#    cominev (best of 3), R synthdid (sc_r_bench.R), diff-diff and Python synthdid
#    (sc_bench_python.py).
# 2. Proposition 99, ADH specification with nested V and all 38 placebos in space: cominev
#    (examples/prop99-adh.toml) against pysyncon and diff-diff (sc_bench_python.py --prop99);
#    R Synth's time comes from sc_r_synth_prop99.R (fixtures/sc_r_synth_prop99.json).
# JSON lines go to $OUT/sc_results.jsonl; peers time out after $TIMEOUT seconds.
# SC_PEERS (default "r,diff-diff,synthdid,prop99") picks the peers and the Prop 99 case, e.g.
# SC_PEERS=diff-diff for a quick side by side with the fastest peer only.
set -euo pipefail
cd "$(dirname "$0")/../.."
COMINEV=${COMINEV:-${CARGO_TARGET_DIR:-target}/release/cominev}
OUT=${OUT:-/tmp/cominev-sc-bench}
TIMEOUT=${TIMEOUT:-900}
PY=${SC_PEERS_PYTHON:-/tmp/venvs/all312/bin/python}
mkdir -p "$OUT"
RESULTS="$OUT/sc_results.jsonl"
: > "$RESULTS"
if [ $# -gt 0 ]; then UNITS=("$@"); else UNITS=(50 1000 5000); fi
PEERS=${SC_PEERS:-r,diff-diff,synthdid,prop99}
wants() { [[ ",$PEERS," == *",$1,"* ]]; }
PY_PEERS=$(echo "$PEERS" | tr ',' '\n' | grep -E '^(diff-diff|synthdid)$' | paste -sd, || true)

best_of_3() { # prints the best wall time of three runs of "$@"
  python3 - "$@" <<'PY'
import subprocess, sys, time
best = None
for _ in range(3):
    t = time.perf_counter()
    subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    e = time.perf_counter() - t
    best = e if best is None else min(best, e)
print(f"{best:.3f}")
PY
}

for n in "${UNITS[@]}"; do
  "$COMINEV" simulate --design regional-panel --units "$n" --periods 40 -o "$OUT/regional_$n.csv" 2>/dev/null
  python3 - "$OUT/regional_$n.csv" "$OUT/panel_$n.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
units = {u: k + 1 for k, u in enumerate(sorted({r["unit"] for r in rows}))}
times = {q: k + 1 for k, q in enumerate(sorted({r["quarter"] for r in rows}))}
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["unit", "time", "outcome", "treated"])
    for r in rows:
        w.writerow([units[r["unit"]], times[r["quarter"]], r["outcome"], r["treated"]])
PY
  cat > "$OUT/sdid_$n.toml" <<TOML
seed = 1
[data]
path = "panel_$n.csv"
unit = "unit"
time = "time"
treatment = "treated"
[[evaluation]]
name = "sdid"
method = "sdid"
outcomes = ["outcome"]
[evaluation.sdid]
variance = "placebo"
replications = 200
TOML
  seconds=$(best_of_3 "$COMINEV" estimate --config "$OUT/sdid_$n.toml" --format json -q -o "$OUT/cominev_$n.json")
  python3 - "$OUT/cominev_$n.json" "$seconds" "$n" >> "$RESULTS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(json.dumps({"peer": "cominev", "units": int(sys.argv[3]), "periods": 40, "seconds": float(sys.argv[2]),
                  "estimate": r["estimate"], "se": r["std_error"]}))
PY
  if wants r; then
    timeout "$TIMEOUT" Rscript benches/peers/sc_r_bench.R "$OUT/panel_$n.csv" 200 >> "$RESULTS" 2>/dev/null \
      || echo "{\"peer\": \"R synthdid\", \"units\": $n, \"status\": \"timeout or error\", \"seconds\": $TIMEOUT}" >> "$RESULTS"
  fi
  if [ -n "$PY_PEERS" ]; then
    "$PY" benches/peers/sc_bench_python.py "$OUT/panel_$n.csv" --peers "$PY_PEERS" --reps 200 --timeout "$TIMEOUT" >> "$RESULTS" || true
  fi
done
wants prop99 || { cat "$RESULTS"; exit 0; }

seconds=$(best_of_3 "$COMINEV" estimate --config examples/prop99-adh.toml --format json -q -o "$OUT/cominev_prop99.json")
python3 - "$OUT/cominev_prop99.json" "$seconds" >> "$RESULTS" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
w = {x["name"]: round(x["weight"], 4) for x in d["synthetic_controls"][0]["donor_weights"]}
print(json.dumps({"peer": "cominev", "case": "prop99 ADH nested V + 38 placebos", "seconds": float(sys.argv[2]),
                  "estimate": d["results"][0]["estimate"], "p_value": d["results"][0]["p_value"], "weights": w}))
PY
"$PY" benches/peers/sc_bench_python.py --prop99 --timeout "$TIMEOUT" >> "$RESULTS" || true
cat "$RESULTS"
