#!/usr/bin/env bash
# Validates everything under deploy/ offline, in well under a minute:
# - renders each kustomization (kubectl kustomize or kustomize, when present);
# - every manifest against the Kubernetes JSON schemas (PyPI kubernetes-validate,
#   strict, for Kubernetes 1.30 and the newest it ships) and the KEDA /
#   Prometheus Operator resources against their CRD schemas (npm
#   @kubernetes-models/keda and /prometheus-operator);
# - Kiln's own rules: selectors, ports, probes, secret references, the worker's
#   exact capabilities, autoscaler targets, no default credentials;
# - promtool check + unit tests of the alert rules; the Grafana dashboard's six (+ stages)
#   panels, PromQL, and metric/label names against a running `kiln serve`, and a
#   real Prometheus scraping that server must answer every dashboard query;
# - a negative self-test: known-bad variants must each be rejected, and so must
#   deploy/kubernetes/testdata/invalid.yaml.
# Installs what it needs on first use (venv target/pyenv, Debian's prometheus
# package for promtool, two npm packages in target/deploy-validate).
#
# Usage: scripts/validate-deploy.sh [--write]
#   --write   regenerate deploy/kubernetes/monitoring/prometheusrule.yaml from
#             deploy/prometheus/alerts.yml first
set -euo pipefail
cd "$(dirname "$0")/.."

KEDA_MODELS=@kubernetes-models/keda@0.4.2
PROM_MODELS=@kubernetes-models/prometheus-operator@6.0.0

venv=target/pyenv
if [ ! -x "$venv/bin/python" ]; then
  /usr/bin/python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import kubernetes_validate, yaml' >/dev/null 2>&1; then
  "$venv/bin/pip" install -q --disable-pip-version-check 'kubernetes-validate==1.37.0'
fi

if ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "validate-deploy: promtool is missing; install Debian's prometheus package (as root)" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

models=target/deploy-validate
if [ ! -d "$models/node_modules/@kubernetes-models/keda" ] || [ ! -d "$models/node_modules/@kubernetes-models/prometheus-operator" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "validate-deploy: npm is missing; the CRD schemas come from the npm registry" >&2
    exit 2
  fi
  mkdir -p "$models"
  npm install --silent --no-audit --no-fund --prefix "$models" "$KEDA_MODELS" "$PROM_MODELS" 2>&1 \
    | grep -v 'Unknown user config' || true
fi

bash -n deploy/docker/entrypoint.sh

export PYTHONPATH="$PWD/scripts" PYTHONDONTWRITEBYTECODE=1
"$venv/bin/python" -m deploycheck --node-modules "$models/node_modules" "$@"

# End to end: the command must fail on a known-bad manifest file.
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if "$venv/bin/python" -m deploycheck --node-modules "$models/node_modules" files deploy/kubernetes/testdata/invalid.yaml >"$out" 2>&1; then
  cat "$out"
  echo "validate-deploy: FAILED: deploy/kubernetes/testdata/invalid.yaml was accepted" >&2
  exit 1
fi
for expected in "'replica' was unexpected" "is not of type 'integer'" "minReplicaCount must be integer"; do
  if ! grep -qF "$expected" "$out"; then
    cat "$out"
    echo "validate-deploy: FAILED: the invalid manifest was rejected, but without the error: $expected" >&2
    exit 1
  fi
done
echo "validate-deploy: the known-bad manifest is rejected: ok"
