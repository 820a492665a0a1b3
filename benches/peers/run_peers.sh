#!/usr/bin/env bash
# ---------------------------------------------------------------------------
# run_peers.sh -- side-by-side wall-clock benchmark: cominev vs R MatchIt vs
# R Matching on the same generated data (10k / 100k / 1M rows, ~10% treated,
# 8 covariates). Writes benches/peers/results.md.
#
# Usage (from anywhere):
#   benches/peers/run_peers.sh
# Environment overrides:
#   COMINEV_BIN  cominev binary   (default /root/.cache/cominev-target/release/cominev;
#                                  copied to $DATA_DIR first so a rebuild mid-run
#                                  cannot change what is measured)
#   DATA_DIR     data folder      (default /tmp/cominev-bench)
#   SIZES        row counts       (default "10000 100000 1000000")
#   THREADS      cominev --threads (default 2)
#   TIMEOUT      seconds per peer / cominev run (default 600)
#   MEM_GB       address-space cap per run via ulimit -v (default 12), so a
#                run that blows up fails alone instead of waking the OOM killer
#   RESULTS      output markdown  (default benches/peers/results.md)
#
# What is timed
#   cominev  `cominev estimate --config bench_N[...].toml --format json --output
#            F -q --threads $THREADS`: CSV load, IRLS logit, 1:1 nearest-neighbour
#            matching on the propensity score, SE, balance table, JSON. Wall time
#            of the process, best of 3. Three variants:
#              rep R    replace = true, --variance-matches 0 --tie-tolerance 1e-5:
#                       what Match(Y, Tr, X = pscore, M = 1, estimand = "ATT")
#                       does (ties within 1e-5 squared standardised distance,
#                       AI SE with Var.calc = 0). --tie-tolerance is passed only
#                       when the binary has it (older builds used 1e-5 always).
#              rep def  replace = true, bench_N.toml as written, i.e. cominev's
#                       defaults (exact ties, variance-matches = 2 robust AI SE)
#              norep    replace = false (cluster-robust SE by matched set)
#   MatchIt  bench_matchit.R: read.csv + glm + matchit(nearest, no replacement),
#            no SE; one run; elapsed inside R (excl. R start-up / library load).
#   Matching bench_matching.R: read.csv + glm + Match(M = 1, ATT) with AI SE;
#            one run; elapsed inside R. 1M is skipped when 100k timed out.
#   R's wall time including start-up is kept in the raw logs ($DATA_DIR/logs).
# ---------------------------------------------------------------------------
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SRC_BIN="${COMINEV_BIN:-/root/.cache/cominev-target/release/cominev}"
DATA_DIR="${DATA_DIR:-/tmp/cominev-bench}"
SIZES="${SIZES:-10000 100000 1000000}"
THREADS="${THREADS:-2}"
TIMEOUT="${TIMEOUT:-600}"
MEM_GB="${MEM_GB:-12}"
RESULTS="${RESULTS:-$HERE/results.md}"
LOG="$DATA_DIR/logs"
mkdir -p "$LOG"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
min_of() { printf '%s\n' "$@" | sort -g | head -n1; }
kv() { grep -m1 "^$2=" "$1" 2>/dev/null | cut -d= -f2-; }   # kv FILE KEY
ratio() { awk -v p="$1" -v c="$2" 'BEGIN { if (p ~ /^[0-9.]+$/ && c ~ /^[0-9.]+$/ && c > 0) printf "%.1f", p / c; else print "n/a" }'; }
load1() { cut -d' ' -f1-3 /proc/loadavg; }
compile_jobs() { ps -eo comm= | grep -c -E '^(rustc|cargo|cc|ld|c\+\+)$' || true; }

# run_capped TIMEOUT OUTFILE ERRFILE CMD... -> sets RC, WALL, RSS_KB
run_capped() {
  local to="$1" out="$2" err="$3"; shift 3
  local t0 t1
  t0=$(now)
  ( ulimit -v $((MEM_GB * 1024 * 1024))
    exec /usr/bin/time -f "%M" -o "$err.rss" timeout -k 10 "$to" "$@" ) >"$out" 2>"$err"
  RC=$?
  t1=$(now)
  WALL=$(secs "$t0" "$t1")
  RSS_KB=$(tail -n1 "$err.rss" 2>/dev/null | grep -E '^[0-9]+$' || echo "?")
}

describe_failure() {   # describe_failure RC ERRFILE
  if [ "$1" = 124 ]; then echo "> ${TIMEOUT} s (timeout)"
  elif grep -qiE "memory allocation|cannot allocate|out of memory|alloc" "$2" 2>/dev/null; then echo "failed: out of memory (cap ${MEM_GB} GB)"
  else echo "failed (exit $1: $(grep -m1 -v '^[[:space:]]*$' "$2" 2>/dev/null | cut -c1-160 | tr '|' '/'))"; fi
}

# ----------------------------------------------------------------- set-up
if ! python3 -c 'import numpy' 2>/dev/null; then
  echo "numpy missing: pip install numpy" >&2; exit 2
fi
for n in $SIZES; do
  if [ ! -s "$DATA_DIR/bench_$n.csv" ] || [ ! -s "$DATA_DIR/bench_${n}_norep.toml" ]; then
    python3 "$HERE/make_bench_data.py" --out "$DATA_DIR" "$n" || exit 2
  fi
done
BIN="$DATA_DIR/cominev"
cp -f "$SRC_BIN" "$BIN" || exit 2
BIN_SHA=$(sha256sum "$BIN" | cut -c1-16)
BIN_MTIME=$(date -u -r "$SRC_BIN" '+%Y-%m-%d %H:%M:%S UTC')
COMINEV_VER=$("$BIN" --version)
if "$BIN" estimate --help | grep -q -- '--tie-tolerance'; then R_TIES="--tie-tolerance 1e-5"; else R_TIES=""; fi
GIT_REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "?")
GIT_DIRTY=$(git -C "$REPO" status --porcelain 2>/dev/null | grep -c . || true)
R_VER=$(Rscript -e 'cat(R.version.string)' 2>/dev/null)
MATCHIT_VER=$(Rscript -e '.libPaths(c("/root/R-lib", .libPaths())); cat(as.character(packageVersion("MatchIt")))' 2>/dev/null)
MATCHING_VER=$(Rscript -e 'cat(as.character(packageVersion("Matching")))' 2>/dev/null)
NUMPY_VER=$(python3 -c 'import numpy; print(numpy.__version__)')
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
NPROC=$(nproc)
MEM_TOTAL=$(free -g | awk '/^Mem:/ { print $2 " GB" }')
START_DATE=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
START_LOAD=$(load1); START_JOBS=$(compile_jobs)
echo "$COMINEV_VER (sha256 $BIN_SHA), $R_VER, MatchIt $MATCHIT_VER, Matching $MATCHING_VER; nproc $NPROC; load $START_LOAD"

declare -A T EST
MATCHING_TIMED_OUT_100K=0

parse_cominev() {   # parse_cominev JSON -> "estimate std_error n_control inference"
  python3 - "$1" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))["results"][0]
    print(f'{r["estimate"]!r}\t{r["std_error"]!r}\t{r["n_treated"]}\t{r["n_control"]}\t{r["inference"]}')
except Exception as e:
    print("?\t?\t?\t?\t?")
PY
}

time_cominev() {   # time_cominev N KEY CONFIG [extra args...]
  local n="$1" key="$2" cfg="$3"; shift 3
  local runs=() i json="$LOG/cominev_${key}_$n.json" peak="?"
  for i in 1 2 3; do
    rm -f "$json"
    run_capped "$TIMEOUT" "$LOG/cominev_${key}_${n}_$i.out" "$LOG/cominev_${key}_${n}_$i.err" \
      "$BIN" estimate --config "$DATA_DIR/$cfg" --format json --output "$json" -q --threads "$THREADS" "$@"
    if [ "$RC" != 0 ]; then
      T[$key,$n]="$(describe_failure "$RC" "$LOG/cominev_${key}_${n}_$i.err") after ${WALL} s"
      echo "  cominev $key N=$n run $i: rc=$RC wall=${WALL}s rss=${RSS_KB}KB -> ${T[$key,$n]}"
      EST[$key,$n]="?	?	?	?	?"
      return
    fi
    runs+=("$WALL"); peak=$RSS_KB
    echo "  cominev $key N=$n run $i: ${WALL}s (max RSS ${RSS_KB} KB)"
  done
  T[$key,$n]=$(min_of "${runs[@]}")
  T[${key}_rss,$n]=$peak
  EST[$key,$n]=$(parse_cominev "$json")
}

time_r() {   # time_r N KEY SCRIPT
  local n="$1" key="$2" script="$3" out="$LOG/${2}_$1.out" err="$LOG/${2}_$1.err"
  run_capped "$TIMEOUT" "$out" "$err" Rscript "$HERE/$script" "$DATA_DIR/bench_$n.csv"
  if [ "$RC" = 0 ] && [ -n "$(kv "$out" elapsed)" ]; then
    T[$key,$n]=$(kv "$out" elapsed)
  else
    T[$key,$n]=$(describe_failure "$RC" "$err")
    [ "$RC" = 124 ] && T[$key,$n]="> ${TIMEOUT} s"
  fi
  T[${key}_wall,$n]=$WALL; T[${key}_rss,$n]=$RSS_KB
  echo "  $key N=$n: ${T[$key,$n]} (process wall ${WALL}s incl. R start-up, max RSS ${RSS_KB} KB, rc=$RC)"
}

# ----------------------------------------------------------------- runs
for n in $SIZES; do
  T[env,$n]="load $(load1), compile processes $(compile_jobs)"
  echo "N=$n (${T[env,$n]})"
  time_cominev "$n" rep_r "bench_$n.toml" --variance-matches 0 $R_TIES
  time_cominev "$n" rep_def "bench_$n.toml"
  time_cominev "$n" norep "bench_${n}_norep.toml"
  time_r "$n" matchit bench_matchit.R
  if [ "$n" = 1000000 ] && [ "$MATCHING_TIMED_OUT_100K" = 1 ]; then
    T[matching,$n]="skipped (100k > ${TIMEOUT} s)"; T[matching_wall,$n]="-"; T[matching_rss,$n]="-"
    echo "  matching N=$n: ${T[matching,$n]}"
  else
    time_r "$n" matching bench_matching.R
    if [ "$n" = 100000 ] && [ "$RC" = 124 ]; then MATCHING_TIMED_OUT_100K=1; fi
  fi
done
END_DATE=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
END_LOAD=$(load1); END_JOBS=$(compile_jobs)

# ----------------------------------------------------------------- report
fmt() { case "$1" in ''|'?') echo "?";; *[!0-9.]*) echo "$1";; *) printf '%.2f s' "$1";; esac; }
field() { printf '%s' "${EST[$1,$2]:-?	?	?	?	?}" | cut -f"$3"; }
num() { awk -v x="$1" 'BEGIN { if (x ~ /^-?[0-9.eE+-]+$/) printf "%.10f", x; else print x }'; }
absdiff() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^-?[0-9.eE+-]+$/ && b ~ /^-?[0-9.eE+-]+$/) { d = a - b; if (d < 0) d = -d; printf "%.1e", d } else print "n/a" }'; }

{
  echo "# cominev vs R MatchIt / Matching: wall-clock benchmark"
  echo
  echo "Generated by \`benches/peers/run_peers.sh\` (data: \`benches/peers/make_bench_data.py\`,"
  echo "seed 20261126: N rows, ~10% treated via a logit, x1..x5 normal, x6..x8 binary, y linear + 1.0·treat + N(0,1))."
  echo
  echo "- Run: $START_DATE → $END_DATE"
  echo "- Machine: \`nproc\` = $NPROC ($CPU), $MEM_TOTAL RAM. **Shared** with the other engineer's cargo/rustc"
  echo "  compile jobs on the same 2 cores, which come and go: rustc/cargo/cc/ld processes seen at start / end: $START_JOBS / $END_JOBS;"
  echo "  load average (1/5/15 min) at start: $START_LOAD, at end: $END_LOAD; per N below. Timings are therefore noisy and"
  echo "  pessimistic for every tool; cominev's best-of-3 is less exposed than the single R runs."
  echo "- $COMINEV_VER (binary built $BIN_MTIME, sha256 $BIN_SHA…; repo HEAD $GIT_REV, $GIT_DIRTY uncommitted paths), \`--threads $THREADS\`"
  echo "- $R_VER; MatchIt $MATCHIT_VER (/root/R-lib); Matching $MATCHING_VER (Debian r-cran-matching); numpy $NUMPY_VER"
  echo "- Each run under \`timeout $TIMEOUT\` and \`ulimit -v\` = $MEM_GB GB."
  echo
  echo "## Wall time"
  echo
  echo "cominev: whole process (CSV load, logit, matching, SE, balance, JSON), best of 3."
  echo "MatchIt / Matching: \`read.csv\` + \`glm\` + matching (+ AI SE for Matching), elapsed inside R, one run"
  echo "(R start-up and \`library()\` excluded; process wall times are in the detail table below)."
  echo
  echo "| N | cominev rep, R rule | cominev rep, defaults | cominev norep | MatchIt (nearest, no repl.) | Matching (Match, AI SE) | MatchIt / cominev norep | Matching / cominev rep R rule | Matching / cominev rep defaults |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for n in $SIZES; do
    echo "| $n | $(fmt "${T[rep_r,$n]}") | $(fmt "${T[rep_def,$n]}") | $(fmt "${T[norep,$n]}") | $(fmt "${T[matchit,$n]}") | $(fmt "${T[matching,$n]}") | $(ratio "${T[matchit,$n]}" "${T[norep,$n]}") | $(ratio "${T[matching,$n]}" "${T[rep_r,$n]}") | $(ratio "${T[matching,$n]}" "${T[rep_def,$n]}") |"
  done
  echo
  echo "Like for like: *cominev rep, R rule* (\`--variance-matches 0 $R_TIES\`) does what"
  echo "\`Match(Y, Tr, X = pscore, M = 1, estimand = \"ATT\")\` does (ties within 1e-5 squared standardised distance,"
  echo "AI SE with \`Var.calc = 0\`); *cominev rep, defaults* is bench_N.toml as written (exact ties, robust AI SE with"
  echo "2 variance matches), so not the same computation as Match; *cominev norep* does what"
  echo "\`matchit(method = \"nearest\", distance = \"glm\")\` does, plus an SE and balance table MatchIt does not compute."
  echo
  echo "Peak memory / process wall (R including start-up):"
  echo
  echo "| N | cominev rep R rule max RSS | cominev rep defaults max RSS | cominev norep max RSS | MatchIt process wall / max RSS | Matching process wall / max RSS | machine when N started |"
  echo "|---|---|---|---|---|---|---|"
  for n in $SIZES; do
    echo "| $n | ${T[rep_r_rss,$n]:-?} KB | ${T[rep_def_rss,$n]:-?} KB | ${T[norep_rss,$n]:-?} KB | ${T[matchit_wall,$n]:-?} s / ${T[matchit_rss,$n]:-?} KB | ${T[matching_wall,$n]:-?} s / ${T[matching_rss,$n]:-?} KB | ${T[env,$n]} |"
  done
  echo
  echo "## Estimates"
  echo
  echo "With replacement (ATT, 1:1 + ties): cominev vs \`Matching::Match\`"
  echo
  echo "| N | cominev est (R rule) | Matching est | abs diff | cominev AI SE (R rule) | Matching AI SE | abs diff | matched controls cominev / Matching (unique) | Matching matched pairs incl. ties | cominev defaults: est / robust SE / matched controls |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for n in $SIZES; do
    ce=$(field rep_r "$n" 1); cs=$(field rep_r "$n" 2); me=$(kv "$LOG/matching_$n.out" est); ms=$(kv "$LOG/matching_$n.out" se)
    echo "| $n | $(num "$ce") | $(num "${me:-n/a}") | $(absdiff "$ce" "${me:-x}") | $(num "$cs") | $(num "${ms:-n/a}") | $(absdiff "$cs" "${ms:-x}") | $(field rep_r "$n" 4) / $(kv "$LOG/matching_$n.out" n_control_unique) | $(kv "$LOG/matching_$n.out" n_pairs) | $(num "$(field rep_def "$n" 1)") / $(num "$(field rep_def "$n" 2)") / $(field rep_def "$n" 4) |"
  done
  echo
  echo "Without replacement (ATT, 1:1 greedy, largest score first): cominev vs \`MatchIt::matchit\`"
  echo "(MatchIt's estimate = difference in matched means = \`lm(y ~ treat, weights)\` on \`match.data\`;"
  echo "its SE = CR1 by subclass, computed after the timed region)"
  echo
  echo "| N | cominev est | MatchIt est | abs diff | cominev SE (CR1 by matched set) | MatchIt-based CR1 SE | abs diff | matched controls cominev / MatchIt |"
  echo "|---|---|---|---|---|---|---|---|"
  for n in $SIZES; do
    ce=$(field norep "$n" 1); cs=$(field norep "$n" 2); me=$(kv "$LOG/matchit_$n.out" est); ms=$(kv "$LOG/matchit_$n.out" se_cr1)
    echo "| $n | $(num "$ce") | $(num "${me:-n/a}") | $(absdiff "$ce" "${me:-x}") | $(num "$cs") | $(num "${ms:-n/a}") | $(absdiff "$cs" "${ms:-x}") | $(field norep "$n" 4) / $(kv "$LOG/matchit_$n.out" n_control_matched) |"
  done
  echo
  echo "Raw outputs: \`$LOG\` (cominev JSON, R key=value output, stderr)."
} >"$RESULTS"

echo
cat "$RESULTS"
