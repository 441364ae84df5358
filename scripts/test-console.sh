#!/usr/bin/env bash
# The web console in a real browser (issue 14): starts a real `kiln serve`
# (API keys on, 2 workers, a temporary data directory, a free loopback port),
# writes real `kiln loadtest` and `kiln scaletest` reports against it, then
# runs web/tests/ with playwright-core driving Debian's chromium (no browser
# is downloaded). SCREENSHOTS=docs/console saves a screenshot of each page.
#
#   scripts/test-console.sh [path/to/kiln]        (default target/debug/kiln)
set -euo pipefail
cd "$(dirname "$0")/.."

KILN=${1:-${KILN:-${CARGO_TARGET_DIR:-target}/debug/kiln}}
CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
if [ ! -x "$KILN" ]; then
  echo "test-console: no kiln binary at $KILN (cargo build -p kiln)" >&2
  exit 2
fi
if [ -z "$CHROMIUM" ]; then
  echo "test-console: needs Debian's chromium (apt-get install -y chromium)" >&2
  exit 2
fi
(cd web && if ! cmp -s package-lock.json node_modules/.package-lock.json.ci 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.package-lock.json.ci
fi)

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
KEY="console-test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
DATA=$(mktemp -d)
trap 'kill "${PID:-}" 2>/dev/null || true; wait "${PID:-}" 2>/dev/null || true; rm -rf "$DATA"' EXIT
"$KILN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA/kiln" --api-keys "$KEY" --workers 2 \
  2>"$DATA/serve.log" &
PID=$!
for _ in $(seq 300); do curl -fs "$URL/health" >/dev/null 2>&1 && break; sleep 0.1; done
if ! curl -fs "$URL/health" >/dev/null 2>&1; then
  echo "test-console: kiln serve did not start on $URL" >&2
  tail -n 20 "$DATA/serve.log" >&2
  exit 1
fi

# Real reports for the reports page. A failed criterion (exit 1) or an
# overloaded generator on a busy machine (exit 3) still writes them; exit 2 is
# the tool failing.
rc=0
"$KILN" loadtest --scenario web/tests/loadtest-tiny.toml --target "$URL" --api-key "$KEY" \
  --out "$DATA/reports/loadtest" --quiet >"$DATA/loadtest.log" 2>&1 || rc=$?
case "$rc" in 0 | 1 | 3) ;; *) echo "test-console: kiln loadtest failed ($rc)" >&2; tail -n 20 "$DATA/loadtest.log" >&2; exit 1 ;; esac
rc=0
"$KILN" scaletest --test dashboard --scale 0.01 --target "$URL" --api-key "$KEY" \
  --output "$DATA/reports/scaletest" >"$DATA/scaletest.log" 2>&1 || rc=$?
[ "$rc" -le 1 ] || { echo "test-console: kiln scaletest failed ($rc)" >&2; tail -n 20 "$DATA/scaletest.log" >&2; exit 1; }

status=0
KILN_URL="$URL" KILN_KEY="$KEY" KILN_REPORTS="$DATA/reports" CHROMIUM="$CHROMIUM" \
  SCREENSHOTS="${SCREENSHOTS:+$PWD/$SCREENSHOTS}" \
  timeout 300 node --test --test-concurrency=1 web/tests/ || status=$?
if [ "$status" != 0 ]; then
  echo "test-console: FAILED (server log: last lines)" >&2
  tail -n 30 "$DATA/serve.log" >&2
fi
exit "$status"
