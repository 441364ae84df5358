#!/usr/bin/env bash
# Rebuilds the web console (web/) into crates/console/dist, which `kiln serve`
# embeds at compile time; commit the result. With --check, builds into a
# temporary folder and fails if the committed assets differ from the sources
# (CI runs that). Needs node and npm (the versions are pinned by
# web/package-lock.json; the build is deterministic).
set -euo pipefail
cd "$(dirname "$0")/../web"

if ! command -v npm >/dev/null 2>&1; then
  echo "build-console: needs node and npm (apt-get install -y nodejs npm)" >&2
  exit 2
fi
# npm ci only when the installed packages are not those of the lockfile.
if ! cmp -s package-lock.json node_modules/.package-lock.json.ci 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.package-lock.json.ci
fi
npx --no-install tsc --noEmit -p .
node build.mjs "$@"
