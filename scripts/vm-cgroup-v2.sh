#!/usr/bin/env bash
# The sandbox on a cgroup v2 kernel: boots Debian 12's own kernel in QEMU
# (software emulation, TCG) with the unified hierarchy and every controller,
# shares this machine's / read-only into the guest over virtio-9p, and runs
# there, with the binaries built here:
#   - the sandbox crate's tests (unit, basics, cgroups, containment,
#     hostile, long_lived, seccomp_allowlist, stale_cgroups) with Kiln in the
#     cgroup root, and those of the cgroup paths plus the hostile suite
#     (unit, cgroups, stale_cgroups, long_lived, hostile) again in a
#     systemd-style delegated subtree (/sys/fs/cgroup/kiln.slice/kiln.service,
#     as Delegate=yes sets it up);
#   - `kiln run examples/hello.*` for every language this machine has;
#   - `kiln bench sandbox` (figures in target/vm/out/bench.json);
#   - rootless: as uid 1000 without capabilities, in a cgroup v2 subtree
#     delegated to that user, the sandbox tests basics, streams, hostile,
#     cgroups, stale_cgroups, `kiln languages` and `kiln run` of the C,
#     Python and shell hellos (scripts/vm/rootless.sh).
# Nothing is installed in the system but QEMU, busybox-static and cpio: the
# kernel package is downloaded and unpacked under target/vm/ (with the
# initramfs built from busybox-static), never installed. Results come back
# over a writable 9p share (target/vm/out: results, one log per step) and the
# serial console. Exits non-zero when any step fails. See docs/cgroup-v2.md.
#
# Environment: KILN_VM_ACCEL=kvm to try KVM (default tcg: a KVM guest hung
# at boot on nested hosts), KILN_VM_CPUS (2), KILN_VM_MEM (4096 MiB),
# KILN_VM_STEPS="root delegated hellos bench rootless" to choose the configurations,
# KILN_VM_ROOTLESS_TESTS (test binaries run as the user),
# KILN_VM_TESTS="hostile stale_cgroups" to run only those test binaries
# (unit, basics, containment, hostile, long_lived, seccomp_allowlist,
# stale_cgroups), KILN_VM_TEST_ARGS (more arguments for each test binary,
# e.g. a test name filter), KILN_VM_TIMEOUT (whole run, seconds, 1500).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
vm=$repo/target/vm
out=$vm/out
accel=${KILN_VM_ACCEL:-tcg}
cpus=${KILN_VM_CPUS:-2}
mem=${KILN_VM_MEM:-4096}
steps=${KILN_VM_STEPS:-root delegated hellos bench rootless}
limit=${KILN_VM_TIMEOUT:-1500}
say() { printf 'vm-cgroup-v2: %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "scripts/vm-cgroup-v2.sh: needs root (the guest runs the sandbox as root; QEMU shares / read-only)" >&2
  exit 2
fi

# -- host tools ---------------------------------------------------------------
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx switch_root || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# -- the kernel: Debian's linux-image package, unpacked, not installed ----------
mkdir -p "$vm"
kernel=$(ls "$vm"/kernel/boot/vmlinuz-* 2>/dev/null | head -n1 || true)
if [ -z "$kernel" ]; then
  pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9][^ ]*-amd64\).*/\1/p' | head -n1)
  [ -n "$pkg" ] || { apt-get update -qq; pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9][^ ]*-amd64\).*/\1/p' | head -n1); }
  [ -n "$pkg" ] || { echo "vm-cgroup-v2: cannot resolve linux-image-amd64 to a kernel package" >&2; exit 1; }
  say "downloading $pkg"
  (cd "$vm" && rm -f ./*.deb && apt-get download "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  rm -rf "$vm/kernel"
  dpkg-deb -x "$vm"/"$pkg"_*.deb "$vm/kernel"
  kernel=$(ls "$vm"/kernel/boot/vmlinuz-* | head -n1)
fi
kver=${kernel##*/vmlinuz-}
moddir=$vm/kernel/lib/modules/$kver/kernel

# -- the initramfs: busybox-static, the modules, scripts/vm/init.sh -------------
ird=$vm/initramfs
rm -rf "$ird"
mkdir -p "$ird"/{bin,dev,proc,sys,modules,newroot}
cp /bin/busybox "$ird/bin/busybox"
for a in $("$ird/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$ird/bin/$a"; done
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
         9pnet 9pnet_virtio netfs fscache 9p overlay; do
  f=$(find "$moddir" -name "$m.ko" | head -n1)
  [ -n "$f" ] || { echo "vm-cgroup-v2: module $m.ko not in the kernel package" >&2; exit 1; }
  cp "$f" "$ird/modules/"
done
mknod -m 600 "$ird/dev/console" c 5 1
cp scripts/vm/init.sh "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet) | gzip -1 > "$vm/initramfs.gz"

# -- the binaries, built here ------------------------------------------------------
say "building the sandbox's tests and kiln"
cargo build --locked -p kiln-sandbox --bins
cargo build --locked -p kiln --bin kiln
tests=$(cargo test --locked -p kiln-sandbox --no-run --message-format=json 2>/dev/null \
  | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        kind = m["target"]["kind"][0]
        print(("unit" if kind == "lib" else m["target"]["name"]) + " " + m["executable"])
')
[ -n "$tests" ] || { echo "vm-cgroup-v2: no test executables from cargo test --no-run" >&2; exit 1; }
kiln=$repo/target/debug/kiln

# -- the plan the guest runs ----------------------------------------------------------
rm -rf "$out"
mkdir -p "$out"
echo "$repo" > "$out/repo"
plan=$out/plan
tab=$'\t'
# In the root configuration every test binary runs; in the delegated one
# those of the cgroup paths and the hostile suite: unit, cgroups,
# stale_cgroups, long_lived, hostile (basics, containment and
# seccomp_allowlist ran at the root; where the cgroups are does not change
# them), to keep the run near ten minutes under emulation. One test at a time: under emulation a guest task's CPU time
# includes the time its vCPU thread waited for a host core, and the hostile
# tests give trivial shells 1 s of CPU. Skipped under emulation, as too slow
# there for its own CPU limit (it checks the seccomp filter, not cgroups, and
# runs on every host): seccomp_allowlist's
# shell_coreutils_git_python_and_node_work_under_the_filter (git, python and
# node start-up exceed its 5 s of CPU under TCG).
for config in root delegated; do
  case " $steps " in *" $config "*) ;; *) continue ;; esac
  while read -r name exe; do
    if [ -n "${KILN_VM_TESTS:-}" ]; then case " $KILN_VM_TESTS " in *" $name "*) ;; *) continue ;; esac; fi
    skip=
    case "$config/$name" in
      # In the delegated subtree: the tests of the cgroup paths (limits,
      # counters, kill, sweep, workspace limits) and the hostile suite.
      delegated/seccomp_allowlist|delegated/basics|delegated/containment) continue ;;
      */seccomp_allowlist) skip="--skip shell_coreutils_git_python_and_node_work_under_the_filter" ;;
    esac
    echo "$config$tab$name${tab}600$tab$exe --test-threads=${KILN_VM_THREADS:-1} $skip ${KILN_VM_TEST_ARGS:-}" >> "$plan"
  done <<< "$tests"
done
# No box group may be left behind (listed with what is in it): checked after
# the tests and again at the end.
leftovers="! find /sys/fs/cgroup -name 'kiln-[0-9]*-[0-9]*' -exec sh -c 'for d; do echo \$d; cat \$d/cgroup.events; cat \$d/*/cgroup.procs; done' sh {} + | grep ."
if [ -s "$plan" ]; then echo "$(tail -n1 "$plan" | cut -f1)${tab}no-leftover-groups-after-tests${tab}30${tab}$leftovers" >> "$plan"; fi
# Kiln's own view of itself, then the hellos and the benchmark, all in the
# delegated subtree when that configuration ran (the worker's case).
last=root
case " $steps " in *" delegated "*) last=delegated ;; esac
case " $steps " in *" hellos "*)
  # Warm the page cache for the toolchain probes (9p under emulation).
  echo "$last${tab}languages${tab}300$tab$kiln languages; $kiln languages" >> "$plan"
  for f in examples/hello.*; do
    echo "$last${tab}hello-${f##*.}${tab}300${tab}scripts/vm/hello.sh $kiln $f" >> "$plan"
  done ;;
esac
case " $steps " in *" bench "*)
  # Output to the guest's /tmp first: a write to the 9p share failing
  # mid-run must not lose the figures.
  echo "$last${tab}bench${tab}400${tab}$kiln bench sandbox --runs 30 --python-runs 10 --json /tmp/bench.json > /tmp/bench.txt 2>&1; rc=\$?; cat /tmp/bench.txt; cp /tmp/bench.json $out/ 2>/dev/null; exit \$rc" >> "$plan" ;;
esac
# Rootless: as uid 1000 with no capability, in a cgroup v2 subtree delegated
# to that user (scripts/vm/rootless.sh): the sandbox tests that need nothing
# of root's on the host side, `kiln languages` and the hellos of the
# toolchains under /usr (root's rustup and the like are not the user's).
case " $steps " in *" rootless "*)
  while read -r name exe; do
    case " ${KILN_VM_ROOTLESS_TESTS:-basics streams hostile cgroups stale_cgroups} " in *" $name "*) ;; *) continue ;; esac
    echo "rootless$tab$name${tab}600$tab$exe --test-threads=${KILN_VM_THREADS:-1} ${KILN_VM_TEST_ARGS:-}" >> "$plan"
  done <<< "$tests"
  echo "rootless${tab}languages${tab}300$tab$kiln languages" >> "$plan"
  for f in examples/hello.c examples/hello.py examples/hello.sh; do
    echo "rootless${tab}hello-${f##*.}${tab}300${tab}scripts/vm/hello.sh $kiln $f" >> "$plan"
  done ;;
esac
echo "$last${tab}no-leftover-groups${tab}30${tab}$leftovers" >> "$plan"

# -- boot -----------------------------------------------------------------------------------
accel_opts=(-accel tcg,thread=multi)
[ "$accel" = kvm ] && accel_opts=(-accel kvm -cpu host)
say "booting $kver ($accel, $cpus vCPUs, $mem MiB); plan: $(grep -c . "$plan") steps; logs in $out"
start=$(date +%s)
set +e
timeout -k 10 "$limit" qemu-system-x86_64 "${accel_opts[@]}" -smp "$cpus" -m "$mem" \
  -kernel "$kernel" -initrd "$vm/initramfs.gz" \
  -append "console=ttyS0 quiet panic=-1 rdinit=/init kiln.guest=$repo/scripts/vm/guest.sh" \
  -fsdev local,id=r,path=/,security_model=none,readonly=on,multidevs=remap -device virtio-9p-pci,fsdev=r,mount_tag=hostroot \
  -fsdev local,id=o,path="$out",security_model=none -device virtio-9p-pci,fsdev=o,mount_tag=out \
  -nic none -display none -monitor none -serial stdio -no-reboot < /dev/null | tee "$vm/console.log"
qrc=${PIPESTATUS[0]}
set -e
secs=$(( $(date +%s) - start ))

# -- summary --------------------------------------------------------------------------------
echo
say "summary (VM wall time ${secs}s, qemu exit $qrc):"
touch "$out/results"
cat "$out/results"
if [ -f "$out/bench.json" ]; then say "bench: $(tr -d '\n' < "$out/bench.json")"; fi
failed=$(grep -cv '^PASS\|^SKIP\|^vm-guest: done' "$out/results" || true)
if ! grep -q '^vm-guest: done' "$out/results"; then
  say "FAILED: the guest did not finish (timeout ${limit}s or a crash; see $vm/console.log)"
  exit 1
fi
if [ "$failed" != 0 ]; then
  say "FAILED: $failed step(s) failed; their logs are in $out"
  exit 1
fi
say "all $(grep -c '^PASS' "$out/results") steps passed"
