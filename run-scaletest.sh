#!/usr/bin/env bash
# The scale-testing plan's ./run-scaletest.sh: a thin wrapper over
# `kiln scaletest` (docs/scaletest.md). Every option maps onto one of its
# flags; the tests, the results and their checks are kiln's.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib/kiln.sh
. "$ROOT/scripts/lib/kiln.sh"
me=run-scaletest.sh

usage() {
  cat <<EOF
usage: ./$me [--test all|create-workspaces|dashboard|workspace-traffic]
                        [--dry-run] [--no-cleanup] [--verbose] [--scale F]
                        [--config FILE] [--target URL] [--platform auto|kiln|coder]
                        [--output DIR]

Runs the scale-testing plan's tests with \`kiln scaletest\`:
  create-workspaces   pod and EC2 workspace provisioning (criteria 14.6, 14.7, 14.11)
  dashboard           API latency under simulated users (14.9, 14.10)
  workspace-traffic   terminal traffic into every scaletest- workspace
  all                 the three, in that order (default)

Options:
  --test T        which test(s) to run (default all)
  --dry-run       print the kiln command and the plan; create and contact nothing
  --no-cleanup    keep the created workspaces (\`kiln scaletest cleanup\` removes them)
  --verbose       every job's log lines on stderr as they happen
  --scale F       multiply counts, concurrencies and durations (e.g. 0.01)
  --config FILE   test parameters (default: scaletest-config.yaml beside this script)
  --target URL    the deployment (default: \$CODER_URL; with neither, kiln starts
                  its own \`kiln serve\` on a free loopback port)
  --platform P    auto (default: ask the target), kiln or coder
  --output DIR    parent of the results (default ./scaletest-results)
  -h, --help      this text

Environment:
  CODER_URL, CODER_SESSION_TOKEN   the target and its token: a Coder deployment
                  or a Kiln one (the target is asked which); for Kiln the token
                  is its API key
  KILN_API_KEY    a Kiln API key (instead of CODER_SESSION_TOKEN)
  KILN            the kiln binary (default: kiln on PATH, else this checkout's build)

Results: DIR/<timestamp>/ with pod-workspaces.json, ec2-workspaces.json,
dashboard-results.json, workspace-traffic-results.json, summary-report.md and
run.json. Judge them with: scripts/validate-results.sh DIR/<timestamp>

Exit codes: 0 every job passed; 1 a job or cleanup failed; 2 bad option,
tool or target error; 130 interrupted (results written, cleanup done).
EOF
}

die() { echo "$me: $*" >&2; echo "try: ./$me --help" >&2; exit 2; }

test_name=all
config=$ROOT/scaletest-config.yaml
output=./scaletest-results
pass=()
while [ $# -gt 0 ]; do
  opt=$1
  case $opt in
    -h|--help) usage; exit 0 ;;
    --dry-run|--no-cleanup|--verbose) pass+=("$opt"); shift; continue ;;
    --*=*) set -- "${opt%%=*}" "${opt#*=}" "${@:2}"; continue ;;
    --test|--scale|--config|--target|--platform|--output)
      [ $# -ge 2 ] && [ -n "$2" ] && [ "${2#--}" = "$2" ] || die "$opt needs a value"
      case $opt in
        --test) test_name=$2 ;;
        --config) config=$2 ;;
        --output) output=$2 ;;
        *) pass+=("$opt" "$2") ;;
      esac
      shift 2 ;;
    *) die "unknown option '$opt'" ;;
  esac
done
[ -f "$config" ] || die "config file '$config' not found"

kiln=$(find_kiln "$ROOT") || exit 2
cmd=("$kiln" scaletest --test "$test_name" --config "$config" --output "$output" "${pass[@]}")
printf '%s:' "$me" >&2; printf ' %q' "${cmd[@]}" >&2; echo >&2

# stdout goes through tee to learn the results directory; tee ignores Ctrl-C
# so kiln can still print where its results are after an interrupt.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"${cmd[@]}" | (trap '' INT; exec tee "$log")
code=${PIPESTATUS[0]}
dir=$(sed -n 's/^results in //p' "$log" | tail -n 1)
if [ -n "$dir" ]; then
  echo "$me: results in $dir (exit $code); validate with: scripts/validate-results.sh $dir" >&2
fi
exit "$code"
