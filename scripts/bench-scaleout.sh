#!/usr/bin/env bash
# Jobs per second of Kiln in three set-ups, measured in ONE run with the same
# job mix, on this machine, loopback only:
#   1. embedded:  `kiln serve --workers W` (SQLite queue and store);
#   2. scale-out: `kiln serve --queue redis://… --store postgres://…` (API node,
#      no workers) + 1 `kiln worker --workers W` process;
#   3. the same with 2 `kiln worker --workers W` processes.
# Each set-up gets N submissions (half Python hello, half C hello, in batches of
# 100, as fast as the API accepts them; a 503 is retried after its Retry-After)
# and is timed from the first submit to the last final result.
# Redis (AOF, appendfsync always) and PostgreSQL are private instances in a
# temp dir on free ports (PostgreSQL runs as the `postgres` user when root).
#
#   scripts/bench-scaleout.sh              # N=200, W=nproc
#   N=400 W=4 scripts/bench-scaleout.sh
#
# Needs: cargo, python3, redis-server, PostgreSQL (apt-get install redis-server
# postgresql). The table goes to stdout and $OUT/table.md (default target/bench-scaleout/).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200}
W=${W:-$(nproc)}
OUT=${OUT:-${CARGO_TARGET_DIR:-target}/bench-scaleout}
BIN=${CARGO_TARGET_DIR:-target}/release/kiln
# shellcheck source=lib/bench.sh
. scripts/lib/bench.sh
bench_init

cargo build --release -q -p kiln
mkdir -p "$OUT"

# Submits N jobs to $1 and waits for all; prints "jobs/s seconds statuses".
drive() {
  python3 - "$1" "$N" <<'EOF'
import json, sys, time, urllib.request, urllib.error
base, n = "http://" + sys.argv[1], int(sys.argv[2])
C = '#include <stdio.h>\nint main(void){puts("hello");return 0;}\n'
jobs = [{"language": "python", "source": "print('hello')"} if i % 2 == 0 else {"language": "c", "source": C} for i in range(n)]
def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.load(r), r.headers
    except urllib.error.HTTPError as e:
        return e.code, json.load(e), e.headers
ids, t0 = [], time.monotonic()
for i in range(0, n, 100):
    while True:
        code, v, h = call("POST", "/api/v1/submissions/batch", {"submissions": jobs[i:i + 100]})
        if code == 202:
            ids += [s["id"] for s in v["submissions"]]
            break
        if code != 503:
            sys.exit(f"submit: {code} {v}")
        time.sleep(float(h.get("Retry-After", "1")))
pending, statuses = set(ids), {}
while pending:
    batch = list(pending)[:100]
    code, v, _ = call("GET", "/api/v1/submissions/batch?ids=" + ",".join(batch))
    for s in v["submissions"]:
        if s and s["status"] not in ("queued", "running"):
            pending.discard(s["id"])
            statuses[s["status"]] = statuses.get(s["status"], 0) + 1
    if pending:
        time.sleep(0.05)
dt = time.monotonic() - t0
print(f"{n / dt:.1f} {dt:.1f} {','.join(f'{k}={v}' for k, v in sorted(statuses.items()))}")
EOF
}

ROWS=()
row() { ROWS+=("| $1 | $W | $N | $2 | $3 | $4 |"); echo "   $1: $2 jobs/s ($3 s; $4)"; }

echo "== embedded: kiln serve --workers $W"
"$BIN" serve --listen 127.0.0.1:0 --data-dir "$TMP/embedded" --workers "$W" 2>"$TMP/embedded.log" &
PIDS+=($!)
read -r rate secs st < <(drive "$(addr_of "$TMP/embedded.log")")
row "embedded (SQLite)" "$rate" "$secs" "$st"
bench_stop "${PIDS[-1]}"

echo "== private Redis (AOF always) and PostgreSQL"
start_redis_pg

"$BIN" serve --listen 127.0.0.1:0 2>"$TMP/api.log" &
PIDS+=($!)
API=$(addr_of "$TMP/api.log")
for workers in 1 2; do
  echo "== scale-out: API node + $workers × kiln worker --workers $W"
  WPIDS=()
  for i in $(seq "$workers"); do
    "$BIN" worker --metrics-listen 127.0.0.1:0 --workers "$W" 2>"$TMP/worker-$workers-$i.log" &
    WPIDS+=($!); PIDS+=($!)
    addr_of "$TMP/worker-$workers-$i.log" >/dev/null
  done
  read -r rate secs st < <(drive "$API")
  row "Redis + PostgreSQL, $workers worker process(es)" "$rate" "$secs" "$st"
  for p in "${WPIDS[@]}"; do bench_stop "$p"; done
done

{
  echo "Kiln jobs/s, $(nproc) cores, $(date -u +%Y-%m-%d), N=$N (½ Python hello, ½ C hello), W workers per process"
  echo
  echo "| set-up | W | jobs | jobs/s | seconds | results |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
} | tee "$OUT/table.md"
