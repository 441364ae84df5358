# shellcheck shell=bash
# Sourced by the plan's scripts (run-scaletest.sh, scripts/validate-results.sh,
# scripts/execute-pre-production-validation.sh): which `kiln` binary they run.
#
# Order: $KILN; `kiln` on PATH; then the checkout's own build
# (${CARGO_TARGET_DIR:-target}/release/kiln, then …/debug/kiln).
# Prints the path, or an error naming what to do and returns 2.
find_kiln() {
  local root=$1 t
  if [ -n "${KILN:-}" ]; then
    if [ -x "$KILN" ] || command -v "$KILN" >/dev/null 2>&1; then
      printf '%s\n' "$KILN"; return 0
    fi
    echo "KILN=$KILN is not an executable" >&2; return 2
  fi
  if command -v kiln >/dev/null 2>&1; then command -v kiln; return 0; fi
  t=${CARGO_TARGET_DIR:-$root/target}
  case $t in /*) ;; *) t=$root/$t ;; esac
  for b in "$t/release/kiln" "$t/debug/kiln"; do
    if [ -x "$b" ]; then printf '%s\n' "$b"; return 0; fi
  done
  echo "no kiln binary: build it (cargo build --release -p kiln), put it on PATH, or set KILN=/path/to/kiln" >&2
  return 2
}
