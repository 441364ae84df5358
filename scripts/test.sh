#!/usr/bin/env bash
# Kiln's whole test suite on a fresh Debian 12 machine, as root: installs
# what the tests need (toolchains, test tools), builds, and runs every test.
# This is the command the README gives and .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "scripts/test.sh: the sandbox tests need root (namespaces, cgroups); run it as root" >&2
  exit 2
fi

step "toolchains (Debian packages)"
scripts/install-toolchains.sh

step "test tools"
export DEBIAN_FRONTEND=noninteractive
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
# The plans' shell commands (run-scaletest.sh, pre-production validation).
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
# The scale-out tests start private Redis and PostgreSQL servers of their own.
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi
venv=target/pyenv
if [ ! -x "$venv/bin/locust" ] || [ ! -x "$venv/bin/schemathesis" ]; then
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check locust schemathesis
fi
export PATH="$PWD/$venv/bin:$PATH"

step "lint (rustfmt, clippy with warnings as errors)"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "benchmark scripts (syntax and the soak analysis' self-test; the benchmarks are long, not run here)"
for f in scripts/bench-*.sh scripts/lib/*.sh; do bash -n "$f"; done
scripts/bench-soak.sh --help >/dev/null
python3 scripts/lib/soak_report.py selftest

step "build"
cargo build --workspace --all-targets --locked

step "tests"
cargo nextest run --workspace --locked --no-fail-fast

step "the sandbox on a cgroup v2 kernel (QEMU guest, docs/cgroup-v2.md)"; scripts/vm-cgroup-v2.sh

step "deployment files (offline: Kubernetes and CRD schemas, promtool, dashboard)"
scripts/validate-deploy.sh

if [ -x scripts/ci-tools.sh ]; then
  step "external tools against a local Kiln (schemathesis, Locust)"
  scripts/ci-tools.sh
fi
