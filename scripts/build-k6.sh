#!/usr/bin/env bash
# Builds k6 (grafana/k6 v0.48.0) from a source checkout, offline, with Debian's
# Go, so the load-test plan's k6 scripts (loadtest/k6/) can be run where no k6
# package or prebuilt binary can be downloaded.
#
# Usage: scripts/build-k6.sh K6_SOURCE_DIR [OUTPUT]
#   K6_SOURCE_DIR  a checkout of grafana/k6 at tag v0.48.0 (the operator obtains
#                  it: `git clone --branch v0.48.0 https://github.com/grafana/k6`,
#                  or an archive of that tag); CI cannot reach GitHub.
#   OUTPUT         where the binary goes (default: target/k6/k6)
#
# Why v0.48.0: it vendors every Go module it needs (so `go build -mod=vendor`
# needs no network) and builds with Go 1.19, Debian 12's `golang-go`. One
# vendored file, vendor/golang.org/x/text/collate/tables.go, is missing from
# some snapshots of the tag; it is then copied from Debian's
# `golang-golang-x-text-dev` (/usr/share/gocode/src/golang.org/x/text/collate/).
# Missing Debian packages are installed with apt-get when run as root.
#
# The result is checked with `k6 version`. Never commit k6 or its source.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WANT_VERSION=0.48.0
X_TEXT_TABLES=/usr/share/gocode/src/golang.org/x/text/collate/tables.go
VENDORED_TABLES=vendor/golang.org/x/text/collate/tables.go

die() { echo "build-k6: $*" >&2; exit 2; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  die "usage: scripts/build-k6.sh K6_SOURCE_DIR [OUTPUT]"
fi
SRC=$(cd "$1" 2>/dev/null && pwd) || die "no such directory: $1"
OUT=${2:-$REPO/target/k6/k6}
case "$OUT" in /*) ;; *) OUT=$PWD/$OUT ;; esac

grep -q '^module go.k6.io/k6$' "$SRC/go.mod" 2>/dev/null \
  || die "$SRC is not a k6 source checkout (no 'module go.k6.io/k6' in go.mod)"
version=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' "$SRC/lib/consts/consts.go" 2>/dev/null || true)
[ "$version" = "$WANT_VERSION" ] \
  || die "$SRC is k6 '${version:-unknown}', this script builds v$WANT_VERSION (vendored modules, Go 1.19)"
[ -f "$SRC/vendor/modules.txt" ] || die "$SRC has no vendor/ directory"

# Debian packages: Go, and x/text for the one vendored file a snapshot may lack.
need=()
command -v go >/dev/null 2>&1 || need+=(golang-go)
if [ ! -f "$SRC/$VENDORED_TABLES" ] && [ ! -f "$X_TEXT_TABLES" ]; then
  need+=(golang-golang-x-text-dev)
fi
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${need[*]} (run as root, or apt-get install them)"
  echo "build-k6: apt-get install ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
fi
go_minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
if [ -z "$go_minor" ] || [ "$go_minor" -lt 19 ]; then
  die "need Go >= 1.19, have $(go env GOVERSION)"
fi

if [ ! -f "$SRC/$VENDORED_TABLES" ]; then
  echo "build-k6: $VENDORED_TABLES is missing; copying it from $X_TEXT_TABLES"
  cp "$X_TEXT_TABLES" "$SRC/$VENDORED_TABLES"
fi

mkdir -p "$(dirname "$OUT")"
echo "build-k6: building k6 v$WANT_VERSION from $SRC (go build -mod=vendor, $(go env GOVERSION)) …"
start=$(date +%s)
(
  cd "$SRC"
  # Offline and reproducible: vendored modules only, no toolchain download,
  # no cgo, no local paths in the binary.
  GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 \
    go build -trimpath -ldflags "-s -w" -o "$OUT" .
)
got=$("$OUT" version 2>&1 | head -n 1)
case "$got" in
  *"v$WANT_VERSION"*) ;;
  *) die "built $OUT but '$OUT version' says: $got" ;;
esac
echo "build-k6: $OUT ($got) in $(($(date +%s) - start)) s"
echo "build-k6: run e.g. $OUT run --no-usage-report loadtest/k6/burst-only.js"
