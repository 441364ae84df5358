#!/usr/bin/env bash
# Benchmark of `kiln serve` on this machine, loopback only, bounded in time:
#  1. the load-test plan's burst shape (1000 submissions over 60 s, the plan's
#     language mix) scaled by SCALE to what this machine sustains, through
#     `kiln loadtest` (?wait=true, open model): success rate and P50/P95/P99
#     of submit-to-result time, corrected for coordinated omission;
#  2. `GET /api/v1/submissions/{id}` with CLIENTS concurrent clients for
#     GET_SECONDS: requests/s and P50/P95/P99.
#
#   scripts/bench-serve.sh                 # SCALE=0.35 (350 submissions in 60 s), 50 clients, 20 s
#   SCALE=0.1 DURATION=30s scripts/bench-serve.sh
#   SERVE_ARGS="--warm-boxes 2" scripts/bench-serve.sh   # extra `kiln serve` flags
#
# Needs: cargo, curl, python3. Results go to $OUT (default target/bench-serve/).
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE=${SCALE:-0.35}
DURATION=${DURATION:-60s}
CLIENTS=${CLIENTS:-50}
GET_SECONDS=${GET_SECONDS:-20}
PORT=${PORT:-18310}
WORKERS=${WORKERS:-$(nproc)}
OUT=${OUT:-${CARGO_TARGET_DIR:-target}/bench-serve}
URL="http://127.0.0.1:$PORT"
DATA=$(mktemp -d)
trap 'kill "${PID:-}" 2>/dev/null || true; wait "${PID:-}" 2>/dev/null || true; rm -rf "$DATA"' EXIT

cargo build --release -q -p kiln -p kiln-server --example get_bench
BIN=${CARGO_TARGET_DIR:-target}/release
"$BIN/kiln" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" --workers "$WORKERS" \
  --queue-capacity 5000 --rate-limit-per-sec 0 ${SERVE_ARGS:-} 2>"$DATA/serve.log" &
PID=$!
for _ in $(seq 100); do curl -fs "$URL/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$URL/health" >/dev/null || { cat "$DATA/serve.log"; exit 1; }
mkdir -p "$OUT"

echo "== burst: 1000 submissions / 60 s × $SCALE over $DURATION, $WORKERS workers, $(nproc) cores"
"$BIN/kiln" loadtest --scenario burst --scale "$SCALE" --duration "$DURATION" --target "$URL" \
  --mode wait --quiet --out-exact "$OUT/burst" || true

echo "== GET /api/v1/submissions/{id}: $CLIENTS clients, $GET_SECONDS s"
: > "$OUT/ids.txt"
BATCH=$(python3 -c 'import json; print(json.dumps({"submissions":[{"language":"python","source":"print(%d)" % i} for i in range(100)]}))')
for _ in 1 2; do
  curl -fs -X POST "$URL/api/v1/submissions/batch" -H 'Content-Type: application/json' -d "$BATCH" |
    python3 -c 'import json,sys; print("\n".join(s["id"] for s in json.load(sys.stdin)["submissions"]))' >> "$OUT/ids.txt"
done
# Let them finish, so the GETs read complete results.
for _ in $(seq 600); do
  [ "$(curl -fs "$URL/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["queue"]["depth"])')" = 0 ] && break
  sleep 0.2
done
"$BIN/examples/get_bench" "$URL" "$OUT/ids.txt" "$CLIENTS" "$GET_SECONDS" | tee "$OUT/get.json"
