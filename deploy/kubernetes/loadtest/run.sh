#!/usr/bin/env bash
# Runs `kiln loadtest` distributed over SHARDS pods and merges the shards:
#   SHARDS=4 LEAD=90 deploy/kubernetes/loadtest/run.sh [SCENARIO]
# Writes a copy of this kustomization with its run settings (KILN_SHARDS,
# KILN_START_AT = now + LEAD seconds: the barrier every shard waits for,
# LOADTEST_RUN_ID, the scenario, the Job's completions and parallelism),
# deletes the previous run's Jobs, applies, waits for the merge Job and prints
# its log (the merged verdict). Exit code: the merge's (0 pass, 1 fail,
# 3 inconclusive), 2 when the run could not be started.
# Needs kubectl with a context, the base applied, and loadtest-secrets.env
# (copy loadtest-secrets.env.example). TARGET overrides the API URL.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SHARDS=${SHARDS:-4}
LEAD=${LEAD:-90}
SCENARIO=${1:-${SCENARIO:-burst}}
TARGET=${TARGET:-http://kiln-api.kiln.svc:3000}
NS=${NS:-kiln}
case $SHARDS in ''|*[!0-9]*|0) echo "run.sh: SHARDS=$SHARDS must be a number >= 1" >&2; exit 2 ;; esac
[ -f "$here/loadtest-secrets.env" ] || { echo "run.sh: $here/loadtest-secrets.env is missing (copy loadtest-secrets.env.example and fill it)" >&2; exit 2; }

run_id=$(date -u +%Y%m%d-%H%M%S)
start_at=$(date -u -d "+$LEAD seconds" +%Y-%m-%dT%H:%M:%SZ)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$here/." "$work/"
cat >"$work/run.env" <<ENV
KILN_SHARDS=$SHARDS
KILN_START_AT=$start_at
LOADTEST_RUN_ID=$run_id
KILN_TARGET=$TARGET
LOADTEST_SCENARIO=$SCENARIO
ENV
cat >>"$work/kustomization.yaml" <<YAML
patches:
  - target: {kind: Job, name: kiln-loadtest-generators}
    patch: |-
      - {op: replace, path: /spec/completions, value: $SHARDS}
      - {op: replace, path: /spec/parallelism, value: $SHARDS}
YAML

kubectl -n "$NS" delete job kiln-loadtest-generators kiln-loadtest-merge --ignore-not-found
kubectl apply -k "$work"
echo "run.sh: run $run_id, $SHARDS shards of \`$SCENARIO\` against $TARGET, starting at $start_at"
echo "run.sh: results in the volume kiln-loadtest-results under $run_id/ (shard-0 … shard-$((SHARDS - 1)), merged)"
# The merge Job waits for every shard's histograms.json; then its exit code is the verdict.
until kubectl -n "$NS" wait --for=condition=complete job/kiln-loadtest-merge --timeout=60s >/dev/null 2>&1 \
   || kubectl -n "$NS" wait --for=condition=failed job/kiln-loadtest-merge --timeout=1s >/dev/null 2>&1; do
  if kubectl -n "$NS" wait --for=condition=failed job/kiln-loadtest-generators --timeout=1s >/dev/null 2>&1; then
    echo "run.sh: a generator pod failed:" >&2
    kubectl -n "$NS" logs job/kiln-loadtest-generators --tail=20 >&2 || true
    exit 2
  fi
done
kubectl -n "$NS" logs job/kiln-loadtest-merge -c merge
code=$(kubectl -n "$NS" get pods -l job-name=kiln-loadtest-merge \
  -o jsonpath='{.items[0].status.containerStatuses[0].state.terminated.exitCode}')
exit "${code:-2}"
