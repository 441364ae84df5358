#!/usr/bin/env bash
# The scale-testing plan's scripts/validate-results.sh: judges a results
# directory of ./run-scaletest.sh against the plan's performance acceptance
# criteria with `kiln scaletest validate` (the rules live there:
# crates/scaletest/src/validate/, docs/scaletest.md).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/kiln.sh
. "$ROOT/scripts/lib/kiln.sh"
me=validate-results.sh

usage() {
  cat <<EOF
usage: scripts/$me DIR

DIR is a results directory of ./run-scaletest.sh (./scaletest-results/<timestamp>).
Prints one line per acceptance criterion of the plan (14.6 pod and 14.7 EC2
provisioning P95, 14.9/14.10 API latency P95/P99, 14.11 provisioning error
rate; targets and rules in docs/scaletest.md) with its measured value and
verdict: PASS, WARN (over its target, under twice it), FAIL, or NOT RUN (its
test was not part of the run); then the overall verdict.

Exit codes: 0 every criterion of the run passed; 1 a criterion did not pass
(or none applies to the run); 2 DIR is missing, not a results directory, or
holds a file that cannot be read.
Environment: KILN, the kiln binary (default: kiln on PATH, else this checkout's build).
EOF
}

case ${1:-} in
  -h|--help) usage; exit 0 ;;
esac
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "$me: expected exactly one results directory" >&2; usage >&2; exit 2
fi
dir=$1
if [ ! -d "$dir" ]; then
  echo "$me: '$dir' is not a directory" >&2; exit 2
fi
if ! compgen -G "$dir/*.json" >/dev/null; then
  echo "$me: '$dir' holds no results (*.json): is it a ./scaletest-results/<timestamp> directory?" >&2
  exit 2
fi

kiln=$(find_kiln "$ROOT") || exit 2
"$kiln" scaletest validate "$dir"
