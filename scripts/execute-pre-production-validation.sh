#!/usr/bin/env bash
# The scale-testing plan's ./scripts/execute-pre-production-validation.sh:
# the pre-test checklists of both plans, then both plans' suites
# (`kiln loadtest`, ./run-scaletest.sh) and both validations against one
# target, ending with one PASS/FAIL line and a combined report.
# The operator's runbook is PRE-PRODUCTION-VALIDATION.md.
set -uo pipefail
# shellcheck disable=SC2034  # the settings are read by the sourced scripts/lib/preprod-*.sh

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/kiln.sh
. "$ROOT/scripts/lib/kiln.sh"
# shellcheck source=scripts/lib/preprod-checks.sh
. "$ROOT/scripts/lib/preprod-checks.sh"
# shellcheck source=scripts/lib/preprod-suites.sh
. "$ROOT/scripts/lib/preprod-suites.sh"
me=execute-pre-production-validation.sh

usage() {
  cat <<EOF
usage: scripts/$me [--target URL] [--scale F] [options]

1. Pre-test checklist (both plans): API health, Redis ping, PostgreSQL, live
   workers, worker pods, queue depth ~0, Prometheus scraping. Checks that do
   not apply to the target (an embedded single-node kiln serve has no Redis)
   are SKIPped with the reason.
2. The load-test plan's suite: kiln loadtest --scenario all (its criteria are
   judged in the run: its verdict is the load-test validation).
3. The scale-test plan's suite: ./run-scaletest.sh --test all.
4. The scale-test validation: scripts/validate-results.sh on its results.
Ends with "PRE-PRODUCTION VALIDATION: PASS" or "…: FAIL" and writes
OUT/pre-production-results/<timestamp>/report.md.

Options:
  --target URL            the Kiln API (default http://localhost:3000)
  --scale F               scale of both suites (default 1 = the plans' full load)
  --loadtest-scenario S   kiln loadtest scenario name or TOML file (default all)
  --loadtest-duration D   length of each load-test phase (default: the plan's)
  --scaletest-test T      run-scaletest.sh --test (default all)
  --output DIR            where loadtest-results/, scaletest-results/ and
                          pre-production-results/ go (default .)
  --redis-url URL         the target's Redis (default \$KILN_QUEUE when redis://)
  --postgres-url URL      the target's PostgreSQL (default \$KILN_STORE when postgres://)
  --prometheus-url URL    a Prometheus that should scrape Kiln
  --kube-namespace NS     namespace of the worker pods (default: kubectl's)
  --min-workers N         fewest live workers that pass (default 1)
  --max-queue-depth N     largest queue depth that passes before the test (default 5)
  --check-timeout S       seconds each checklist request may take (default 10)
  --suite-timeout S       seconds each suite may take before it is interrupted
                          (default 10800; it still writes results and cleans up)
  --checks-only           run the checklist only
  -h, --help              this text
Environment: KILN_API_KEY (the target's API key), KILN (the kiln binary).
Exit codes: 0 PASS; 1 FAIL; 2 bad option or missing tool.
EOF
}

die() { echo "$me: $*" >&2; echo "try: scripts/$me --help" >&2; exit 2; }
is_uint() { case $1 in ''|*[!0-9]*) return 1 ;; esac; }

TARGET=http://localhost:3000 SCALE=1 LT_SCENARIO=all LT_DURATION='' ST_TEST=all OUT=.
REDIS_URL='' POSTGRES_URL='' PROM_URL='' KUBE_NS='' MIN_WORKERS=1 MAX_DEPTH=5
CHECK_TIMEOUT=10 SUITE_TIMEOUT=10800 CHECKS_ONLY=''
case ${KILN_QUEUE:-} in redis://*|rediss://*) REDIS_URL=$KILN_QUEUE ;; esac
case ${KILN_STORE:-} in postgres://*|postgresql://*) POSTGRES_URL=$KILN_STORE ;; esac
while [ $# -gt 0 ]; do
  opt=$1
  case $opt in
    -h|--help) usage; exit 0 ;;
    --checks-only) CHECKS_ONLY=1; shift; continue ;;
    --*=*) set -- "${opt%%=*}" "${opt#*=}" "${@:2}"; continue ;;
    --target|--scale|--loadtest-scenario|--loadtest-duration|--scaletest-test|--output|\
    --redis-url|--postgres-url|--prometheus-url|--kube-namespace|--min-workers|\
    --max-queue-depth|--check-timeout|--suite-timeout)
      [ $# -ge 2 ] && [ -n "$2" ] && [ "${2#--}" = "$2" ] || die "$opt needs a value"
      v=$2; shift 2 ;;
    *) die "unknown option '$opt'" ;;
  esac
  case $opt in
    --target) TARGET=${v%/} ;;
    --scale) SCALE=$v ;;
    --loadtest-scenario) LT_SCENARIO=$v ;;
    --loadtest-duration) LT_DURATION=$v ;;
    --scaletest-test) ST_TEST=$v ;;
    --output) OUT=$v ;;
    --redis-url) REDIS_URL=$v ;;
    --postgres-url) POSTGRES_URL=$v ;;
    --prometheus-url) PROM_URL=${v%/} ;;
    --kube-namespace) KUBE_NS=$v ;;
    --min-workers) is_uint "$v" || die "--min-workers wants a whole number, not '$v'"; MIN_WORKERS=$v ;;
    --max-queue-depth) is_uint "$v" || die "--max-queue-depth wants a whole number, not '$v'"; MAX_DEPTH=$v ;;
    --check-timeout) is_uint "$v" && [ "$v" -gt 0 ] || die "--check-timeout wants seconds > 0, not '$v'"; CHECK_TIMEOUT=$v ;;
    --suite-timeout) is_uint "$v" && [ "$v" -gt 0 ] || die "--suite-timeout wants seconds > 0, not '$v'"; SUITE_TIMEOUT=$v ;;
  esac
done
case $TARGET in http://*|https://*) ;; *) die "--target must start with http:// or https://, not '$TARGET'" ;; esac
command -v curl >/dev/null 2>&1 || die "curl is needed (apt-get install curl)"
KILN_BIN=$(find_kiln "$ROOT") || exit 2

STAMP=$(date -u +%Y%m%d-%H%M%S)
REPORT_DIR=$OUT/pre-production-results/$STAMP
mkdir -p "$REPORT_DIR" || die "cannot create $REPORT_DIR"
REPORT=$REPORT_DIR/report.md
FAILURES=()
fail() { FAILURES+=("$1"); }

echo "== pre-test checklist against $TARGET"
run_checklist
[ "$HEALTH_OK" = 1 ] || fail "the target is not healthy (GET /health)"

LT_CODE='' LT_DIR='' ST_CODE='' ST_DIR='' VAL_CODE=''
if [ -n "$CHECKS_ONLY" ]; then
  echo "== --checks-only: suites not run"
elif [ "$HEALTH_OK" != 1 ]; then
  echo "== suites not run: the target is not healthy"
else
  run_suites
fi
write_report
echo "report: $REPORT"
if [ ${#FAILURES[@]} -eq 0 ]; then
  echo "PRE-PRODUCTION VALIDATION: PASS"
  exit 0
fi
joined=$(printf '%s; ' "${FAILURES[@]}")
echo "PRE-PRODUCTION VALIDATION: FAIL (${joined%; })"
exit 1
