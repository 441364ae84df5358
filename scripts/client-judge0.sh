#!/usr/bin/env bash
# The official Judge0 Python SDK (PyPI `judge0`), unchanged, against a local
# `kiln serve` (loopback, a free port, a temporary data dir and API key):
# scripts/clients/judge0_client.py runs single submissions, test cases, a
# batch of every language the SDK names that this Kiln has, and asserts the
# results. Installs the SDK into target/pyenv (the venv scripts/test.sh makes).
set -euo pipefail
cd "$(dirname "$0")/.."

KILN=${KILN:-${CARGO_TARGET_DIR:-target}/debug/kiln}
venv=target/pyenv
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
"$venv/bin/python" -c 'import judge0' 2>/dev/null ||
  "$venv/bin/pip" install -q --disable-pip-version-check judge0

PORT=${PORT:-$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
KEY=judge0-sdk-key
DATA=$(mktemp -d)
trap 'kill "${PID:-}" 2>/dev/null || true; wait "${PID:-}" 2>/dev/null || true; rm -rf "$DATA"' EXIT
KILN_API_KEYS=$KEY "$KILN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" 2>"$DATA/serve.log" &
PID=$!
for _ in $(seq 300); do curl -fs "http://127.0.0.1:$PORT/health/live" >/dev/null 2>&1 && break; sleep 0.1; done
if ! timeout 600 "$venv/bin/python" scripts/clients/judge0_client.py "http://127.0.0.1:$PORT" "$KEY"; then
  echo "judge0 SDK client failed; server log:" >&2
  tail -n 40 "$DATA/serve.log" >&2
  exit 1
fi
