# shellcheck shell=bash
# Sourced by scripts/execute-pre-production-validation.sh: both plans' suites,
# both validations, and the combined report (report.md). Reads the caller's
# settings (TARGET, SCALE, LT_*, ST_TEST, OUT, SUITE_TIMEOUT, KILN_BIN,
# REPORT_DIR, REPORT, STAMP, CHECKS_ONLY) and CHECKS/FAILURES.

# Runs "$@" under SUITE_TIMEOUT (SIGINT first: the tools then write their
# results and clean up), its output shown and kept in log $1; returns its code.
run_logged() {
  local log=$1; shift
  printf '+'; printf ' %q' "$@"; echo
  timeout -s INT -k 120 "$SUITE_TIMEOUT" "$@" 2>&1 | (trap '' INT; exec tee "$log")
  return "${PIPESTATUS[0]}"
}

loadtest_meaning() {
  case $1 in
    0) echo "every criterion passed" ;;
    1) echo "a criterion failed or a failure indicator triggered" ;;
    2) echo "the tool failed (scenario, target)" ;;
    3) echo "the load generator was overloaded: the figures do not describe the target" ;;
    124) echo "interrupted after --suite-timeout ${SUITE_TIMEOUT}s" ;;
    *) echo "exit $1" ;;
  esac
}

scaletest_meaning() {
  case $1 in
    0) echo "every job passed" ;;
    1) echo "a job or cleanup failed" ;;
    2) echo "the tool could not run (config, target, template)" ;;
    124|130) echo "interrupted (after --suite-timeout ${SUITE_TIMEOUT}s or Ctrl-C)" ;;
    *) echo "exit $1" ;;
  esac
}

run_suites() {
  echo "== load-test plan: kiln loadtest --scenario $LT_SCENARIO"
  local lt=("$KILN_BIN" loadtest --scenario "$LT_SCENARIO" --target "$TARGET" --scale "$SCALE"
    --out "$OUT/loadtest-results" --quiet)
  if [ -n "$LT_DURATION" ]; then lt+=(--duration "$LT_DURATION"); fi
  LT_CMD=${lt[*]}
  run_logged "$REPORT_DIR/loadtest.log" "${lt[@]}"; LT_CODE=$?
  LT_DIR=$(sed -n 's/.*reports in //p' "$REPORT_DIR/loadtest.log" | tail -n 1)
  if [ -z "$LT_DIR" ] || [ ! -f "$LT_DIR/results.json" ]; then
    fail "the load test left no results"; LT_DIR=
  elif [ "$LT_CODE" != 0 ]; then
    fail "load-test validation: $(loadtest_meaning "$LT_CODE")"
  fi

  echo "== scale-test plan: ./run-scaletest.sh --test $ST_TEST"
  local st=("$ROOT/run-scaletest.sh" --test "$ST_TEST" --scale "$SCALE" --target "$TARGET"
    --platform kiln --output "$OUT/scaletest-results")
  ST_CMD="./run-scaletest.sh --test $ST_TEST --scale $SCALE --target $TARGET --platform kiln --output $OUT/scaletest-results"
  KILN=$KILN_BIN run_logged "$REPORT_DIR/scaletest.log" "${st[@]}"; ST_CODE=$?
  ST_DIR=$(sed -n 's/^results in //p' "$REPORT_DIR/scaletest.log" | tail -n 1)
  if [ "$ST_CODE" != 0 ]; then fail "scale test: $(scaletest_meaning "$ST_CODE")"; fi

  echo "== scale-test validation: scripts/validate-results.sh $ST_DIR"
  if [ -z "$ST_DIR" ]; then
    fail "the scale test left no results to validate"; return
  fi
  KILN=$KILN_BIN "$ROOT/scripts/validate-results.sh" "$ST_DIR" 2>&1 | tee "$REPORT_DIR/scaletest-validation.txt"
  VAL_CODE=${PIPESTATUS[0]}
  if [ "$VAL_CODE" != 0 ]; then fail "scale-test validation: an acceptance criterion did not pass"; fi
}

# The phase headings and success-criteria tables of a loadtest summary-report.md.
loadtest_criteria() {
  awk '/^## Phase/ { sub(/^## /, "### "); print; print ""; next }
       /^### Success criteria/ { on = 1; next }
       on && /^\|/ { print; t = 1; next }
       on && t { print ""; on = 0; t = 0 }' "$1"
}

write_report() {
  local c r name item detail
  {
    echo "# Pre-production validation"
    echo
    echo "- Target: $TARGET"
    echo "- Scale: $SCALE (both suites)"
    echo "- Started: $STAMP (UTC)"
    echo "- kiln: $KILN_BIN ($("$KILN_BIN" --version 2>/dev/null || echo unknown version))"
    echo
    echo "## Pre-test checklist (both plans)"
    echo
    echo "| result | check | the plan's item | detail |"
    echo "|---|---|---|---|"
    for c in "${CHECKS[@]}"; do
      IFS='|' read -r r name item detail <<<"$c"
      echo "| $r | $name | $item | ${detail//|/\\|} |"
    done
    echo
    if [ -z "$LT_CODE" ]; then
      echo "## Suites"
      echo
      echo "Not run: $([ -n "$CHECKS_ONLY" ] && echo "--checks-only" || echo "the target is not healthy")."
    else
      echo "## Load-test plan: \`kiln loadtest\`"
      echo
      echo "- Command: \`$LT_CMD\`"
      echo "- Exit $LT_CODE: $(loadtest_meaning "$LT_CODE")"
      echo "- Results: ${LT_DIR:-none} (summary-report.md, report.html, results.json, timeseries.csv)"
      echo "- Validation: kiln loadtest judges each success criterion during the run;"
      echo "  **$([ "$LT_CODE" = 0 ] && echo PASS || echo FAIL)**"
      echo
      if [ -n "$LT_DIR" ] && [ -f "$LT_DIR/summary-report.md" ]; then loadtest_criteria "$LT_DIR/summary-report.md"; fi
      echo
      echo "## Scale-test plan: \`./run-scaletest.sh\`"
      echo
      echo "- Command: \`$ST_CMD\`"
      echo "- Exit $ST_CODE: $(scaletest_meaning "$ST_CODE")"
      echo "- Results: ${ST_DIR:-none}"
      echo "- Validation: \`scripts/validate-results.sh ${ST_DIR:-…}\`:" \
        "**$([ "${VAL_CODE:-1}" = 0 ] && echo PASS || echo FAIL)**"
      echo
      echo '```text'
      cat "$REPORT_DIR/scaletest-validation.txt" 2>/dev/null || echo "(not run)"
      echo '```'
    fi
    echo
    echo "## Verdict"
    echo
    if [ ${#FAILURES[@]} -eq 0 ]; then
      echo "PRE-PRODUCTION VALIDATION: PASS"
    else
      echo "PRE-PRODUCTION VALIDATION: FAIL"
      echo
      for r in "${FAILURES[@]}"; do echo "- $r"; done
    fi
  } >"$REPORT"
}
