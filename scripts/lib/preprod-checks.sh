# shellcheck shell=bash
# Sourced by scripts/execute-pre-production-validation.sh: the pre-test
# checklist of both plans. Each check records one line
# "RESULT|check|the plan's item|detail" in CHECKS (RESULT: PASS, FAIL or SKIP)
# and a FAIL in FAILURES. Every request is bounded by CHECK_TIMEOUT seconds.

CHECKS=()
HEALTH_OK=0
STREAM='code-execution-jobs:container'

record() {
  printf '  %-4s %-13s %s\n' "$1" "$2" "$4"
  CHECKS+=("$1|$2|$3|$4")
  if [ "$1" = FAIL ]; then fail "check $2"; fi
}

# GET TARGET$1 into file $2 (with the API key when set); prints the status, 000 when unreachable.
http_get() {
  local auth=()
  if [ -n "${KILN_API_KEY:-}" ]; then auth=(-H "Authorization: Bearer $KILN_API_KEY"); fi
  curl -sS --max-time "$CHECK_TIMEOUT" "${auth[@]}" -o "$2" -w '%{http_code}' "$TARGET$1" 2>"$2.err" || true
}

# The value of an unlabelled sample NAME in Prometheus text file $2.
metric() { awk -v n="$1" '$1 == n { print $2; exit }' "$2"; }

# One scalar from a Prometheus instant query ($1), or nothing.
prom_query() {
  curl -sS --max-time "$CHECK_TIMEOUT" -G --data-urlencode "query=$1" "$PROM_URL/api/v1/query" 2>/dev/null |
    sed -n 's/.*"value":\[[^,]*,"\([^"]*\)"\].*/\1/p'
}

check_health() {
  local f=$REPORT_DIR/health.json code
  code=$(http_get /health "$f")
  if [ "$code" = 200 ]; then
    # shellcheck disable=SC2034  # read by the caller
    HEALTH_OK=1
    record PASS api-health "Target API is accessible (curl /health)" "GET /health: 200 $(head -c 300 "$f")"
  else
    record FAIL api-health "Target API is accessible (curl /health)" \
      "GET $TARGET/health: $code $(head -c 300 "$f" 2>/dev/null) $(head -c 200 "$f.err" 2>/dev/null)"
  fi
}

check_postgres() {
  local item="PostgreSQL is running and healthy" out
  if [ -z "$POSTGRES_URL" ]; then
    local store
    store=$(grep -o '"store":{[^}]*}' "$REPORT_DIR/health.json" 2>/dev/null)
    record SKIP postgres "$item" "no --postgres-url (nor KILN_STORE): the target's own store is checked through /health ($store; an embedded kiln serve keeps it in SQLite)"
    return
  fi
  if ! command -v pg_isready >/dev/null 2>&1; then
    record FAIL postgres "$item" "pg_isready not installed (apt-get install postgresql-client)"
  elif out=$(timeout $((CHECK_TIMEOUT + 5)) pg_isready -d "$POSTGRES_URL" -t "$CHECK_TIMEOUT" 2>&1); then
    record PASS postgres "$item" "pg_isready: $out"
  else
    record FAIL postgres "$item" "pg_isready: ${out:-no answer within ${CHECK_TIMEOUT}s}"
  fi
}

# The last error redis-cli gave, or the deadline it ran into.
redis_error() {
  tail -n 1 "$REPORT_DIR/redis.err" 2>/dev/null | grep . || echo "(within ${CHECK_TIMEOUT}s)"
}

# redis-cli with a deadline; its stdout only (errors go to redis.err).
rcli() {
  timeout "$CHECK_TIMEOUT" redis-cli --no-auth-warning -u "$REDIS_URL" "$@" 2>>"$REPORT_DIR/redis.err"
}

check_redis() {
  local item="Redis is running and healthy (redis-cli ping)" out
  if [ -z "$REDIS_URL" ]; then
    record SKIP redis-ping "$item" "no --redis-url (nor KILN_QUEUE=redis://…): an embedded single-node kiln serve has no Redis (its queue is SQLite in its data dir)"
  elif ! command -v redis-cli >/dev/null 2>&1; then
    record FAIL redis-ping "$item" "redis-cli not installed (apt-get install redis-tools)"
  elif out=$(rcli ping) && [ "$out" = PONG ]; then
    record PASS redis-ping "$item" "redis-cli ping: PONG"
  else
    record FAIL redis-ping "$item" "redis-cli ping: ${out:-no answer} $(redis_error)"
  fi
}

check_workers() {
  local item="Worker fleet is scaled appropriately (live worker count)" n src hint
  n=$(metric code_execution_workers "$REPORT_DIR/metrics.txt")
  src="code_execution_workers of the target's /metrics (its own workers)"
  hint=" (an API node with separate workers reports 0: pass --prometheus-url)"
  if [ -n "$PROM_URL" ]; then
    hint=""
    n=$(prom_query 'sum(code_execution_workers)'); src="Prometheus sum(code_execution_workers) over every scraped process"
  fi
  n=${n%.*}
  if [ -z "$n" ]; then
    record FAIL live-workers "$item" "no worker count: $src did not answer"
  elif [ "$n" -ge "$MIN_WORKERS" ]; then
    record PASS live-workers "$item" "$n live workers ($src), at least --min-workers $MIN_WORKERS; the plan recommends 20-30 for its full load"
  else
    record FAIL live-workers "$item" "$n live workers ($src), fewer than --min-workers $MIN_WORKERS$hint"
  fi
}

check_pods() {
  local item="kubectl get pods -l app=code-execution-worker" ns=() out running total
  if ! command -v kubectl >/dev/null 2>&1; then
    record SKIP worker-pods "$item" "kubectl not installed: not a Kubernetes deployment (see live-workers)"; return
  fi
  if ! timeout "$CHECK_TIMEOUT" kubectl config current-context >/dev/null 2>&1; then
    record SKIP worker-pods "$item" "kubectl has no current context: not a Kubernetes deployment (see live-workers)"; return
  fi
  if [ -n "$KUBE_NS" ]; then ns=(-n "$KUBE_NS"); fi
  if ! out=$(timeout $((CHECK_TIMEOUT + 5)) kubectl get pods -l app=code-execution-worker "${ns[@]}" \
      --request-timeout="${CHECK_TIMEOUT}s" -o 'jsonpath={range .items[*]}{.status.phase}{"\n"}{end}' 2>&1); then
    record FAIL worker-pods "$item" "kubectl: $(echo "$out" | head -n 2)"; return
  fi
  total=$(printf '%s\n' "$out" | grep -c .)
  running=$(printf '%s\n' "$out" | grep -c '^Running$')
  if [ "$running" -ge 1 ]; then
    record PASS worker-pods "$item" "$running of $total worker pods Running"
  else
    record FAIL worker-pods "$item" "$running of $total worker pods Running"
  fi
}

check_queue() {
  local item="Queue depth ~0 before the test (redis-cli XLEN $STREAM)" n src
  if [ -n "$REDIS_URL" ] && command -v redis-cli >/dev/null 2>&1; then
    n=$(rcli XLEN "$STREAM"); src="XLEN $STREAM (waiting + in flight)"
    case $n in ''|*[!0-9]*) record FAIL queue-depth "$item" "redis-cli XLEN: ${n:-no answer} $(redis_error)"; return ;; esac
  else
    n=$(metric code_execution_queue_depth "$REPORT_DIR/metrics.txt"); n=${n%.*}
    src="code_execution_queue_depth of the target's /metrics"
    [ -n "$n" ] || { record FAIL queue-depth "$item" "no code_execution_queue_depth in /metrics"; return; }
  fi
  if [ "$n" -le "$MAX_DEPTH" ]; then
    record PASS queue-depth "$item" "$n jobs ($src), at most --max-queue-depth $MAX_DEPTH"
  else
    record FAIL queue-depth "$item" "$n jobs ($src), more than --max-queue-depth $MAX_DEPTH: wait for the queue to drain"
  fi
}

check_metrics() {
  local item="Prometheus/Grafana monitoring is active" code missing=() m f=$REPORT_DIR/metrics.txt
  code=$(http_get /metrics "$f")
  if [ "$code" != 200 ]; then
    record FAIL metrics "$item" "GET /metrics: $code"; return
  fi
  for m in code_execution_queue_depth code_execution_workers; do
    grep -q "^$m" "$f" || missing+=("$m")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    record PASS metrics "$item" "GET /metrics: 200 with code_execution_queue_depth and code_execution_workers (scrapeable; the job metrics appear with the first job)"
  else
    record FAIL metrics "$item" "GET /metrics lacks ${missing[*]}"
  fi
  if [ -z "$PROM_URL" ]; then
    record SKIP prometheus "$item" "no --prometheus-url: only the target's /metrics was checked"
  elif [ -n "$(prom_query 'count(code_execution_workers)')" ]; then
    record PASS prometheus "$item" "$PROM_URL has code_execution_workers series: it scrapes Kiln"
  else
    record FAIL prometheus "$item" "$PROM_URL has no code_execution_workers series (not scraping Kiln, or not answering)"
  fi
}

run_checklist() {
  check_health
  check_postgres
  check_redis
  check_metrics
  check_workers
  check_pods
  check_queue
}
