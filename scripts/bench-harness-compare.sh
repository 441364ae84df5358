#!/usr/bin/env bash
# The same scenario against the same known-latency target, measured by three
# load generators: `kiln loadtest`, Locust and wrk. Prints each tool's
# P50/P95/P99 beside the truth, and each tool's CPU time per request.
#
# Target: the loopback stub of Kiln's submission API (crates/loadtest/src/stub.rs)
# answering every POST /api/v1/submissions?wait=true after exactly DELAY_MS,
# so every percentile's truth is DELAY_MS (plus well under 1 ms of loopback).
# Scenario: RATE submissions per second for DURATION seconds:
#   - kiln loadtest: open model, RATE/s uniformly spaced (latency from each
#     submission's scheduled start);
#   - Locust (FastHttpUser, loadtest/locust/locustfile.py -T burst): USERS
#     users, each paced to one submission every USERS/RATE s (KILN_PACING);
#   - wrk: CONNS connections back to back (closed loop: CONNS/DELAY ≈ RATE/s),
#     the same POST body, percentiles from a Lua done() hook.
# CPU per request: user + system CPU time of the generator process (and its
# threads) from getrusage, divided by the requests it completed.
#
#   scripts/bench-harness-compare.sh                 # 20 s each, 100/s, 50 ms
#   DURATION=60 RATE=200 DELAY_MS=20 scripts/bench-harness-compare.sh
#
# Needs: cargo, python3, curl, wrk (apt-get install -y wrk), locust (PyPI; this
# script installs it into target/pyenv when missing, as scripts/test.sh does).
# Exit 0 with the table; 2 when a tool cannot be run.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-20}
RATE=${RATE:-100}
DELAY_MS=${DELAY_MS:-50}
USERS=${USERS:-10}
CONNS=${CONNS:-$(( (RATE * DELAY_MS + 999) / 1000 ))}
PORT=${PORT:-18095}
URL="http://127.0.0.1:$PORT"
WORK=$(mktemp -d)
trap 'kill "${STUB_PID:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

need() { command -v "$1" >/dev/null || { echo "bench-harness-compare: $1 is missing ($2)" >&2; exit 2; }; }
need python3 "apt-get install -y python3"
need curl "apt-get install -y curl"
need wrk "apt-get install -y wrk"
venv=target/pyenv
if [ ! -x "$venv/bin/locust" ]; then
  [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check locust
fi

cargo build --release -q -p kiln-loadtest --examples
BIN=${CARGO_TARGET_DIR:-target}/release/examples
"$BIN/stub_server" "127.0.0.1:$PORT" "$DELAY_MS" 2>/dev/null &
STUB_PID=$!
for _ in $(seq 50); do curl -fs "$URL/health" >/dev/null 2>&1 && break; sleep 0.1; done

# `cpu FILE CMD…`: runs CMD, writes its user+system CPU seconds to FILE.
cpu() {
  local out=$1; shift
  python3 - "$out" "$@" <<'PY'
import resource, subprocess, sys
subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(f"{r.ru_utime + r.ru_stime}\n")
PY
}

# 1. kiln loadtest: the open model at RATE/s.
cat >"$WORK/scenario.toml" <<TOML
name = "compare"
description = "$RATE submissions/s for $DURATION s against a $DELAY_MS ms stub"
[load]
model = "open"
spacing = "uniform"
late_threshold = "5ms"
[[load.stages]]
duration = "${DURATION}s"
rate = $RATE
[languages]
python = 1
[submit]
unique_sources = false
TOML
cpu "$WORK/kiln.cpu" "$BIN/loadgen" --quiet --scenario "$WORK/scenario.toml" --target "$URL" --out-exact "$WORK/kiln"

# 2. Locust: USERS users paced to RATE/s in all.
PACING=$(python3 -c "print($USERS / $RATE)")
(cd "$WORK" && export KILN_PACING=$PACING && cpu "$WORK/locust.cpu" "$OLDPWD/$venv/bin/locust" \
  -f "$OLDPWD/loadtest/locust/locustfile.py" --host "$URL" --headless -u "$USERS" -r "$USERS" \
  --run-time "${DURATION}s" -T burst --csv "$WORK/locust" --only-summary)

# 3. wrk: CONNS connections, the same POST, percentiles from done().
BODY='{"language":"python","files":[{"name":"main.py","content":"print(\"Hello, Kiln!\")\n"}],"stdin":"","expected_output":"Hello, Kiln!\n"}'
cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local f = io.open("$WORK/wrk.txt", "w")
  f:write(string.format("%d %f %f %f\n", summary.requests,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
  f:close()
end
LUA
cpu "$WORK/wrk.cpu" wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$WORK/post.lua" "$URL/api/v1/submissions?wait=true"

python3 - "$WORK" "$DELAY_MS" "$RATE" "$DURATION" "$USERS" "$CONNS" <<'PY'
import csv, json, sys
work, delay, rate, duration, users, conns = sys.argv[1:]
cpu = lambda t: float(open(f"{work}/{t}.cpu").read())
rows = []
k = json.load(open(f"{work}/kiln/results.json"))["phases"][0]
rows.append((f"kiln loadtest (open, {rate}/s)", k["completed"], k["latency"]["p50_ms"], k["latency"]["p95_ms"],
             k["latency"]["p99_ms"], cpu("kiln")))
s = k["service_time"]
rows.append(("  the same, from the actual send", k["completed"], s["p50_ms"], s["p95_ms"], s["p99_ms"], None))
agg = [r for r in csv.DictReader(open(f"{work}/locust_stats.csv")) if r["Name"] == "Aggregated"][0]
rows.append((f"Locust (FastHttpUser, {users} users paced)", int(agg["Request Count"]), float(agg["50%"]),
             float(agg["95%"]), float(agg["99%"]), cpu("locust")))
n, p50, p95, p99 = open(f"{work}/wrk.txt").read().split()
rows.append((f"wrk (closed, {conns} connections)", int(n), float(p50), float(p95), float(p99), cpu("wrk")))
print(f"\n{rate} submissions/s for {duration} s (wrk: as fast as {conns} connections go) against a stub answering in {delay} ms\n")
print("| generator | requests | P50 (ms) | P95 (ms) | P99 (ms) | CPU per request (ms) |")
print("|---|---:|---:|---:|---:|---:|")
print(f"| **truth** (the stub's fixed delay) | | {float(delay):.1f} | {float(delay):.1f} | {float(delay):.1f} | |")
for name, n, a, b, c, t in rows:
    per = "" if t is None else f"{1000 * t / max(n, 1):.3f}"
    print(f"| {name} | {n} | {a:.1f} | {b:.1f} | {c:.1f} | {per} |")
PY
echo
echo "Indicative on a shared machine: the generators and the stub share its cores."
