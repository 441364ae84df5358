#!/usr/bin/env bash
# External tools against a local Kiln, bounded in time, loopback only:
#  - schemathesis fuzzes `kiln serve` from its /openapi.json;
#  - real Locust drives the API with the load plan's tags for a few seconds each;
#  - the plan's k6 scripts are checked in Node with stubbed k6 modules (CI cannot
#    build k6; scripts/build-k6.sh builds it where its source is at hand);
#  - the web console: its committed assets match web/, and it works in Chromium.
# Needs a built kiln (target/debug/kiln), `st` and `locust` on PATH (scripts/test.sh
# installs them in target/pyenv).
set -euo pipefail
cd "$(dirname "$0")/.."

node loadtest/k6/test/check.mjs  # k6 scripts vs the load-test plan, no k6 needed (issue 20)

EXAMPLES=${EXAMPLES:-20} crates/server/scripts/schemathesis.sh

PORT=${PORT:-18320}
KILN=${KILN:-${CARGO_TARGET_DIR:-target}/debug/kiln}
DATA=$(mktemp -d)
trap 'kill "${PID:-}" 2>/dev/null || true; wait "${PID:-}" 2>/dev/null || true; rm -rf "$DATA"' EXIT
"$KILN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" 2>"$DATA/serve.log" &
PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
for tag in burst mixed compilation; do
  echo "locust -T $tag"
  locust -f loadtest/locust/locustfile.py --host="http://127.0.0.1:$PORT" --headless \
    -u 4 -r 4 --run-time 5s -T "$tag" --only-summary --stop-timeout 30 2>&1 | tail -n 12
done
scripts/client-piston.sh  # Piston clients (npm piston-client, PyPI piston-rspy), issue 20
KILN="$KILN" scripts/client-judge0.sh
scripts/build-console.sh --check  # crates/console/dist is what web/ builds (issue 14)
scripts/test-console.sh "$KILN"   # the console in Debian's chromium via playwright-core
