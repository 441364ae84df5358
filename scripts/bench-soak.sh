#!/usr/bin/env bash
# Soak: the load-test plan's soak shape (a steady arrival rate for 30 minutes:
# crates/loadtest/scenarios/soak.toml, 50 req/s, its language mix) scaled to
# this machine, against Kiln in two set-ups, one after the other:
#   1. embedded:  `kiln serve --workers W` (SQLite queue and store);
#   2. scale-out: `kiln serve --queue redis://… --store postgres://…` (API
#      node, no workers) + one `kiln worker --workers W`, with private Redis
#      (AOF, appendfsync always) and PostgreSQL in a temp dir on free ports.
# The load is `kiln loadtest --scenario soak --scale RATE_SCALE --duration
# DURATION` (?wait=true, open model). Every INTERVAL seconds a sampler records
# the RSS, open descriptors and threads of each kiln process, kiln.db and
# kiln.db-wal (embedded), Redis XLEN and used_memory and the PostgreSQL
# database size (scale-out), and the API node's code_execution_queue_depth;
# one more sample is taken idle before the load and one after the drain.
# After the load the queue drains, and the store is checked: every submission
# the server accepted is there, final, once, and matches what the generator
# got. Each series gets a least-squares slope over the steady part (after the
# first 10 % of the run); GROWING when it adds more than max(10 % of its
# mean, a floor) over the run (floors: RSS 4 MiB, 4 descriptors or threads,
# WAL and Redis memory 1 MiB, 5 queued jobs, 256 B per submission for the
# database files, which otherwise grow with the results they keep).
#
#   scripts/bench-soak.sh                           # 5 min per mode at 0.05 × 50 req/s
#   DURATION=30m RATE_SCALE=0.1 scripts/bench-soak.sh
#   MODES=embedded PROFILE=debug scripts/bench-soak.sh
#
# Environment: DURATION (per mode, default 5m); RATE_SCALE (default 0.05 =
# 2.5 req/s: two workers here are busy about a quarter of the time, which
# leaves room for neighbours on a shared machine); W (workers, default
# nproc); MODES ("embedded scaleout"); INTERVAL (sampling, default 5 s);
# PROFILE (release or debug build, default release; KILN=/path/to/kiln
# measures that binary instead, unbuilt); DRAIN_SECS (most seconds to wait
# for the queue to drain, 300); OUT (default target/bench-soak: table.md,
# <mode>/samples.csv, before.csv, after.csv, store.json, final.json,
# loadtest/, *.log).
# Exit: 0 all flat and exactly once; 1 a series grows or the exactly-once
# check fails; 2 the benchmark could not run.
#
# Needs: cargo, python3; for scale-out redis-server, redis-cli, psql and
# PostgreSQL (apt-get install redis-server postgresql). Long: not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

case ${1:-} in
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "bench-soak.sh takes no arguments (see --help); settings are environment variables" >&2; exit 2 ;;
esac

DURATION=${DURATION:-5m}
RATE_SCALE=${RATE_SCALE:-0.05}
W=${W:-$(nproc)}
MODES=${MODES:-embedded scaleout}
INTERVAL=${INTERVAL:-5}
PROFILE=${PROFILE:-release}
DRAIN_SECS=${DRAIN_SECS:-300}
OUT=${OUT:-${CARGO_TARGET_DIR:-target}/bench-soak}
BIN=${KILN:-${CARGO_TARGET_DIR:-target}/$PROFILE/kiln}
BUILT_AS="$PROFILE build"
LIB=scripts/lib
for m in $MODES; do
  case $m in embedded | scaleout) ;; *) echo "MODES: unknown mode '$m' (embedded, scaleout)" >&2; exit 2 ;; esac
done
case $PROFILE in
  release) BUILD=(--release) ;;
  debug) BUILD=() ;;
  *) echo "PROFILE must be release or debug, not '$PROFILE'" >&2; exit 2 ;;
esac

# shellcheck source=lib/bench.sh
. $LIB/bench.sh
bench_init

if [ -n "${KILN:-}" ]; then
  [ -x "$KILN" ] || { echo "KILN=$KILN is not an executable" >&2; exit 2; }
  BUILT_AS="binary $KILN"
else
  cargo build "${BUILD[@]}" -q -p kiln
fi
mkdir -p "$OUT"
STATUS=0
SECTIONS=()

# Waits until the store has no queued or running submission; $@: store args.
wait_drained() {
  local left=? i
  for ((i = 0; i < DRAIN_SECS; i++)); do
    left=$(python3 $LIB/soak_sample.py store "$@" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["unfinished"])') || left=?
    [ "$left" = 0 ] && return 0
    sleep 1
  done
  echo "   $left submissions still unfinished after $DRAIN_SECS s" >&2
}

# soak MODE API_ADDR: one idle sample, the load with the sampler beside it,
# the drain, a last scrape of /metrics and one idle sample after the drain.
# SAMPLER: the sampler's arguments (processes, /metrics URLs, stores);
# STORE: the store's (for the drain); METRICS: every /metrics base URL.
soak() {
  local mode=$1 api=$2 rc=0 sampler
  python3 $LIB/soak_sample.py sample --once --out "$OUT/$mode/before.csv" "${SAMPLER[@]}"
  echo "   load: soak × $RATE_SCALE for $DURATION; samples every $INTERVAL s"
  python3 $LIB/soak_sample.py sample --out "$OUT/$mode/samples.csv" --interval "$INTERVAL" "${SAMPLER[@]}" &
  sampler=$!
  PIDS+=("$sampler")
  "$BIN" loadtest --scenario soak --target "http://$api" --scale "$RATE_SCALE" --duration "$DURATION" \
    --quiet --out-exact "$OUT/$mode/loadtest" || rc=$?
  bench_stop "$sampler" 10
  case $rc in
    0 | 1 | 3) ;;  # criteria verdicts and generator overload are reported, not fatal here
    *) echo "kiln loadtest failed (exit $rc)" >&2; exit 2 ;;
  esac
  wait_drained "${STORE[@]}"
  python3 $LIB/soak_sample.py metrics "${METRICS[@]}" >"$OUT/$mode/final.json"
  sleep 2  # the generator's connections are closed; give the server a moment to notice
  python3 $LIB/soak_sample.py sample --once --out "$OUT/$mode/after.csv" "${SAMPLER[@]}"
}

# judge MODE TITLE STORE_ARGS...: the store's counts (after the processes
# stopped) and the table section.
judge() {
  local mode=$1 title=$2 rc=0
  shift 2
  python3 $LIB/soak_sample.py store "$@" >"$OUT/$mode/store.json"
  python3 $LIB/soak_report.py report --title "$title" --samples "$OUT/$mode/samples.csv" \
    --results "$OUT/$mode/loadtest/results.json" --store "$OUT/$mode/store.json" \
    --final "$OUT/$mode/final.json" --before "$OUT/$mode/before.csv" --after "$OUT/$mode/after.csv" \
    >"$OUT/$mode/table.md" || rc=$?
  cat "$OUT/$mode/table.md"
  SECTIONS+=("$OUT/$mode/table.md")
  [ "$rc" = 0 ] || STATUS=1
}

embedded() {
  local dir=$TMP/embedded pid api
  echo "== embedded: kiln serve --workers $W"
  "$BIN" serve --listen 127.0.0.1:0 --data-dir "$dir" --workers "$W" 2>"$OUT/embedded/serve.log" &
  pid=$!
  PIDS+=("$pid")
  api=$(addr_of "$OUT/embedded/serve.log")
  METRICS=("http://$api")
  SAMPLER=(--proc "serve=$pid" --metrics "http://$api" --sqlite "$dir")
  STORE=(--sqlite "$dir/kiln.db")
  soak embedded "$api"
  bench_stop "$pid"
  judge embedded "embedded: \`kiln serve --workers $W\` (SQLite)" "${STORE[@]}"
}

scaleout() {
  local api_pid worker_pid api wm
  echo "== scale-out: kiln serve (API node) + kiln worker --workers $W, private Redis and PostgreSQL"
  start_redis_pg
  "$BIN" serve --listen 127.0.0.1:0 --data-dir "$TMP/api" 2>"$OUT/scaleout/api.log" &
  api_pid=$!
  PIDS+=("$api_pid")
  api=$(addr_of "$OUT/scaleout/api.log")
  "$BIN" worker --metrics-listen 127.0.0.1:0 --workers "$W" 2>"$OUT/scaleout/worker.log" &
  worker_pid=$!
  PIDS+=("$worker_pid")
  wm=$(addr_of "$OUT/scaleout/worker.log")
  METRICS=("http://$api" "http://$wm")
  SAMPLER=(--proc "api=$api_pid" --proc "worker=$worker_pid" --metrics "http://$api" --metrics "http://$wm"
    --redis "$RPORT" --pg "$PPORT")
  STORE=(--pg "$PPORT")
  soak scaleout "$api"
  bench_stop "$worker_pid"
  bench_stop "$api_pid"
  judge scaleout "scale-out: API node + \`kiln worker --workers $W\` (Redis + PostgreSQL)" "${STORE[@]}"
}

for m in $MODES; do
  rm -rf "${OUT:?}/$m"
  mkdir -p "$OUT/$m"
  "$m"
done

{
  echo "Kiln soak, $(nproc) cores, $(date -u +%Y-%m-%d), $BUILT_AS: \`kiln loadtest --scenario soak" \
    "--scale $RATE_SCALE --duration $DURATION\` per mode (the plan's 50 req/s × $RATE_SCALE, its language" \
    "mix, ?wait=true), W=$W, sampled every $INTERVAL s"
  echo
  cat "${SECTIONS[@]}"
} >"$OUT/table.md"
echo "== table: $OUT/table.md; exit $STATUS"
exit "$STATUS"
