#!/usr/bin/env bash
# The scale-testing plan on this machine: `kiln scaletest --test all` against
# an embedded `kiln serve` (started by the tool on a free loopback port),
# scaled by SCALE, then `kiln scaletest validate` on its results.
#
#   scripts/bench-scaletest.sh                # SCALE=0.1: 70 pod + 30 EC2 workspaces, 5 users 30 s, traffic 60 s
#   SCALE=0.3 scripts/bench-scaletest.sh
#   CONFIG=examples/scaletest-config.yaml SCALE=1 scripts/bench-scaletest.sh   # the full plan (~20 min)
#
# Needs root (workspaces are sandboxes) and Kiln's workspace API in `kiln serve`.
# BIN=path/to/kiln uses that binary instead of building a release one.
# Results go to $OUT (default target/bench-scaletest/<timestamp>/).
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE=${SCALE:-0.1}
OUT=${OUT:-${CARGO_TARGET_DIR:-target}/bench-scaletest}
args=(scaletest --test all --scale "$SCALE" --output "$OUT")
if [ -n "${CONFIG:-}" ]; then args+=(--config "$CONFIG"); fi

if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p kiln
  BIN=${CARGO_TARGET_DIR:-target}/release/kiln
fi
before=$(ls -1 "$OUT" 2>/dev/null || true)
code=0
"$BIN" "${args[@]}" || code=$?
dir=$(comm -13 <(printf '%s\n' "$before" | sort) <(ls -1 "$OUT" | sort) | tail -1)
echo
cat "$OUT/$dir/summary-report.md"
echo
"$BIN" scaletest validate "$OUT/$dir" || true
echo "kiln scaletest exit code: $code (0 all jobs passed, 1 a job failed, 2 tool error)"
exit "$code"
