#!/usr/bin/env bash
# Piston's real clients, unchanged, against a local `kiln serve` (issue 20):
#  - npm `piston-client`, installed into target/node-clients (npm --prefix, no global install);
#  - PyPI `piston-rspy` (a wheel of the Rust piston_rs), installed into target/pyenv
#    (the venv scripts/test.sh creates; created here when missing).
# Each runs a scripted session (scripts/clients/) that asserts results in python,
# javascript, c, cpp, java, rust and go (LANGS overrides the list).
# Needs a built kiln (target/debug/kiln, or KILN), node/npm and python3-venv.
set -euo pipefail
cd "$(dirname "$0")/.."

LANGS=${LANGS:-python javascript c cpp java rust go}
KILN=${KILN:-${CARGO_TARGET_DIR:-target}/debug/kiln}
NODE_CLIENTS=target/node-clients
VENV=target/pyenv

if [ ! -f "$NODE_CLIENTS/node_modules/piston-client/package.json" ]; then
  mkdir -p "$NODE_CLIENTS"
  npm install --prefix "$NODE_CLIENTS" --no-audit --no-fund --silent piston-client@1.0.2
fi
if [ ! -x "$VENV/bin/python" ]; then
  /usr/bin/python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import piston_rspy' 2>/dev/null; then
  "$VENV/bin/pip" install -q --disable-pip-version-check piston-rspy==0.4.3
fi

PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
URL="http://127.0.0.1:$PORT"
DATA=$(mktemp -d)
trap 'kill "${PID:-}" 2>/dev/null || true; wait "${PID:-}" 2>/dev/null || true; rm -rf "$DATA"' EXIT
"$KILN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" 2>"$DATA/serve.log" &
PID=$!
for _ in $(seq 300); do curl -fs "$URL/health" >/dev/null 2>&1 && break; sleep 0.1; done
if ! curl -fs "$URL/health" >/dev/null 2>&1; then
  echo "client-piston: kiln serve did not start on $URL" >&2
  tail -n 20 "$DATA/serve.log" >&2
  exit 1
fi

status=0
# shellcheck disable=SC2086 # LANGS is a list of words
timeout 600 node scripts/clients/piston_client.mjs "$URL" "$NODE_CLIENTS" $LANGS || status=1
# piston_rspy (a Rust library under PyO3) has crashed with SIGSEGV while the
# interpreter exits, after its last check passed (seen once in CI on
# 2026-11-29, not reproduced in two reruns): that crash is the client's own
# teardown, so it is reported, not counted; any other failure counts.
rspy_out=$(mktemp)
# shellcheck disable=SC2086
rspy=0
timeout 600 "$VENV/bin/python" scripts/clients/piston_rspy.py "$URL" $LANGS >"$rspy_out" 2>&1 || rspy=$?
cat "$rspy_out"
if [ "$rspy" = 139 ] && [ "$(tail -n 1 "$rspy_out")" = "piston-rspy: all checks passed" ]; then
  echo "client-piston: warning: piston_rspy crashed (SIGSEGV) in its own teardown after every check passed" >&2
elif [ "$rspy" != 0 ]; then
  status=1
fi
rm -f "$rspy_out"
if [ "$status" != 0 ]; then
  echo "client-piston: FAILED (server log: last lines)" >&2
  tail -n 20 "$DATA/serve.log" >&2
fi
exit "$status"
