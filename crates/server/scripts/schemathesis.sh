#!/usr/bin/env bash
# Fuzz `kiln serve` from its own /openapi.json with schemathesis (PyPI), a
# bounded number of examples per operation. Every check runs except
# positive_data_acceptance: a schema-valid body can still be refused on
# purpose (both `source` and `files`, a host that does not resolve in
# `callback_url`), with a 4xx that the other checks verify.
#
#   crates/server/scripts/schemathesis.sh             # 30 examples per operation
#   EXAMPLES=100 crates/server/scripts/schemathesis.sh
#
# Needs: `pip install schemathesis` (st on PATH), a built kiln (cargo build -p kiln).
set -euo pipefail
cd "$(dirname "$0")/../../.."

EXAMPLES=${EXAMPLES:-30}
PORT=${PORT:-18300}
KILN=${KILN:-${CARGO_TARGET_DIR:-target}/debug/kiln}
DATA=$(mktemp -d)
trap 'kill "${PID:-}" 2>/dev/null || true; wait "${PID:-}" 2>/dev/null || true; rm -rf "$DATA"' EXIT

command -v st >/dev/null || { echo "schemathesis is not installed: pip install schemathesis" >&2; exit 2; }
[ -x "$KILN" ] || cargo build -q -p kiln
"$KILN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" --max-wait-secs 5 --retention-secs 0 2>"$DATA/serve.log" &
PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done

st run "http://127.0.0.1:$PORT/openapi.json" \
  --max-examples "$EXAMPLES" \
  --checks all --exclude-checks positive_data_acceptance \
  --request-timeout 30 \
  --seed 1 \
  --no-color
