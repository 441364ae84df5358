#!/usr/bin/env bash
# fsync calls of an embedded `kiln serve` per submission (issue 18: at most 2):
# strace counts fsync/fdatasync of the server and its threads while N Python
# hellos are submitted with wait=true, one after another; a run with N=0 gives
# what start-up and shutdown cost, to subtract.
#
#   scripts/bench-fsync.sh            # N=40, target/debug/kiln
#   N=200 BIN=target/release/kiln scripts/bench-fsync.sh
#
# Needs strace (apt-get install strace), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
count() {
local N=$1
D=$(mktemp -d)
strace -f -c -e trace=fsync,fdatasync -o "$D/strace.txt" "$BIN" serve --listen 127.0.0.1:0 --data-dir "$D/data" --workers 2 2> "$D/log" &
SPID=$!
for _ in $(seq 300); do a=$(grep -o 'listening on http://[0-9.:]*' "$D/log" | head -1 | sed 's|listening on http://||') || true; [ -n "$a" ] && break; sleep 0.1; done
python3 - "$a" "$N" <<'PY'
import json, sys, urllib.request
base, n = "http://" + sys.argv[1], int(sys.argv[2])
for i in range(n):
    req = urllib.request.Request(base + "/api/v1/submissions?wait=true", data=json.dumps({"language": "python", "source": "print(1)"}).encode(), headers={"content-type": "application/json"})
    v = json.load(urllib.request.urlopen(req, timeout=60))
    assert v["status"] == "accepted", v
PY
sleep 1
KPID=$(pgrep -P $SPID | head -1); kill -INT $KPID; wait $SPID || true
awk '/total/ {print $(NF-1)}' "$D/strace.txt"
rm -rf "$D"
}
N=${N:-40}
BIN=${BIN:-target/debug/kiln}
base=$(count 0)
with=$(count "$N")
python3 -c "import sys; b,w,n=map(int,sys.argv[1:]); print(f'fsyncs: {b} at start-up and shutdown, {w} with {n} submissions: {(w-b)/n:.2f} per submission')" "$base" "$with" "$N"
