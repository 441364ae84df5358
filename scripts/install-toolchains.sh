#!/usr/bin/env bash
# Installs every language toolchain Kiln knows (see crates/lang) from Debian
# packages. Idempotent: a toolchain whose binary is already in /usr/bin is left
# alone, and apt is not touched at all when nothing is missing. Quiet unless
# something fails.
#
# Usage: scripts/install-toolchains.sh [--dry-run]
#   --dry-run   print the packages that would be installed, install nothing
#
# Rust: an existing rustup toolchain (`rustc` on PATH or in ~/.cargo/bin) is
# used as it is; otherwise Debian's rustc is installed.
set -euo pipefail

dry_run=0
case "${1:-}" in
  --dry-run) dry_run=1 ;;
  "") ;;
  *) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
esac

# package            binary that proves it is there
toolchains=(
  "python3                 /usr/bin/python3"
  "nodejs                  /usr/bin/node"
  "gcc                     /usr/bin/gcc"
  "g++                     /usr/bin/g++"
  "openjdk-17-jdk-headless /usr/bin/javac"
  "golang-go               /usr/bin/go"
  "bash                    /usr/bin/bash"
  "ruby                    /usr/bin/ruby"
  "php-cli                 /usr/bin/php"
  "perl                    /usr/bin/perl"
  "lua5.4                  /usr/bin/lua5.4"
  # Workspaces: each home is an ext4 image (docs/workspaces.md, Quotas).
  "e2fsprogs               /usr/sbin/mkfs.ext4"
)

# The ec2-datasci workspace template's Python packages (docs/workspaces.md):
# package            module /usr/bin/python3 must import
python_packages=(
  "python3-numpy           numpy"
  "python3-pandas          pandas"
  "python3-scipy           scipy"
  "python3-matplotlib      matplotlib"
)

have_rust() {
  command -v rustc >/dev/null 2>&1 || [ -x "${HOME:-/root}/.cargo/bin/rustc" ] \
    || [ -x /root/.cargo/bin/rustc ] || [ -x /usr/bin/rustc ]
}

# Sets `missing` to the packages whose binary is absent.
find_missing() {
  missing=()
  local entry package binary
  for entry in "${toolchains[@]}"; do
    read -r package binary <<<"$entry"
    [ -x "$binary" ] || missing+=("$package")
  done
  have_rust || missing+=("rustc")
  local module
  for entry in "${python_packages[@]}"; do
    read -r package module <<<"$entry"
    /usr/bin/python3 -c "import $module" >/dev/null 2>&1 || missing+=("$package")
  done
}

find_missing

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$dry_run" -eq 1 ]; then
  echo "would install: ${missing[*]}"
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "install-toolchains: must run as root to install: ${missing[*]}" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-toolchains: apt-get not found; install these by hand: ${missing[*]}" >&2
  exit 1
fi

log=$(mktemp /tmp/kiln-install-toolchains.XXXXXX.log)
fail() {
  echo "install-toolchains: $1 (log: $log)" >&2
  tail -n 20 "$log" >&2
  exit 1
}
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q >>"$log" 2>&1 || fail "apt-get update failed"
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1 \
  || fail "apt-get install ${missing[*]} failed"

# Check that every toolchain is now really there.
find_missing
if [ ${#missing[@]} -gt 0 ]; then
  fail "installed, but still missing: ${missing[*]}"
fi
rm -f "$log"
