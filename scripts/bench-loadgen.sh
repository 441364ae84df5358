#!/usr/bin/env bash
# Requests per second per core of Kiln's load generator beside wrk and Locust,
# against the same trivial loopback endpoint (the stub submission API,
# POST /api/v1/submissions?wait=true answering at once), in the same run.
#
# Each generator is pinned to one core (taskset -c GEN_CPU), the stub to
# another (STUB_CPU), and runs DURATION seconds with CONNS connections/users.
#
#   scripts/bench-loadgen.sh            # 10 s each, 64 connections
#   DURATION=5 CONNS=32 scripts/bench-loadgen.sh
#
# Needs: cargo, wrk (apt-get install -y wrk), locust (pip install locust),
# taskset (util-linux), python3. A missing wrk or locust row says "not installed".
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
PORT=${PORT:-18090}
STUB_CPU=${STUB_CPU:-1}
GEN_CPU=${GEN_CPU:-0}
URL="http://127.0.0.1:$PORT"
WORK=$(mktemp -d)
trap 'kill "${STUB_PID:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --release -q -p kiln-loadtest --examples
BIN=${CARGO_TARGET_DIR:-target}/release/examples
taskset -c "$STUB_CPU" "$BIN/stub_server" "127.0.0.1:$PORT" 0 2>/dev/null &
STUB_PID=$!
for _ in $(seq 50); do curl -fs "$URL/health" >/dev/null 2>&1 && break; sleep 0.1; done

BODY='{"language":"python","files":[{"name":"main.py","content":"print(\"Hello, Kiln!\")\n"}],"stdin":"","expected_output":"Hello, Kiln!\n"}'
declare -A RPS

# 1. kiln loadtest (closed model at full speed, one runtime thread on one core)
LOADGEN_THREADS=1 taskset -c "$GEN_CPU" "$BIN/loadgen" --quiet --scenario smoke --reuse-sources \
  --users "$CONNS" --duration "${DURATION}s" --target "$URL" --out-exact "$WORK/kiln" >/dev/null || true
RPS[kiln]=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['phases'][0]['achieved_rps']))" "$WORK/kiln/results.json")

# 2. wrk, the same POST
if command -v wrk >/dev/null; then
  cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
LUA
  RPS[wrk]=$(taskset -c "$GEN_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$WORK/post.lua" "$URL/api/v1/submissions?wait=true" \
    | awk '/Requests\/sec/ {printf "%d", $2}')
else
  RPS[wrk]="not installed"
fi

# 3. Locust (one process = one core), the repo's locustfile as fast as it goes
if command -v locust >/dev/null; then
  (cd "$WORK" && KILN_PACING=0 taskset -c "$GEN_CPU" locust -f "$OLDPWD/loadtest/locust/locustfile.py" --host "$URL" \
    --headless -u "$CONNS" -r "$CONNS" --run-time "${DURATION}s" -T burst --csv "$WORK/locust" --only-summary >/dev/null 2>&1 || true)
  RPS[locust]=$(python3 -c "
import csv,sys
rows=[r for r in csv.DictReader(open(sys.argv[1])) if r['Name']=='Aggregated']
print(round(float(rows[0]['Requests/s'])))" "$WORK/locust_stats.csv")
else
  RPS[locust]="not installed"
fi

printf '\n%-28s %18s\n' "generator (1 core, $CONNS conns)" "requests/s/core"
printf '%-28s %18s\n' "----------------------------" "------------------"
printf '%-28s %18s\n' "kiln loadtest" "${RPS[kiln]}"
printf '%-28s %18s\n' "wrk" "${RPS[wrk]}"
printf '%-28s %18s\n' "locust (FastHttpUser)" "${RPS[locust]}"
printf '\n%s s each against %s (stub pinned to CPU %s). Indicative only on shared machines.\n' "$DURATION" "$URL" "$STUB_CPU"
