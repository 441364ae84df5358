#!/bin/bash
# Runs inside the cgroup v2 guest (see scripts/vm-cgroup-v2.sh), in the host's
# root view (read-only) with writable /tmp, /run and /var/tmp. Executes the
# plan the host wrote to /run/vm-out/plan, one step a line:
#   <config> TAB <name> TAB <timeout seconds> TAB <shell command>
# config "root" runs Kiln in the cgroup root; the first "delegated" step first
# moves this shell into /sys/fs/cgroup/kiln.slice/kiln.service with the
# controllers delegated, as systemd's Delegate=yes does, so Kiln runs in a
# delegated subtree, not at the root; config "rootless" runs each step as
# uid 1000 without capabilities in a subtree delegated to that user
# (scripts/vm/rootless.sh). Each step's output goes to
# /run/vm-out/<config>-<name>.log and its verdict to /run/vm-out/results.
# Powers the machine off at the end.
out=/run/vm-out
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C.UTF-8 RUST_BACKTRACE=1
# Software emulation is several times slower than the host, and a guest
# task's CPU time also counts the time its vCPU thread waited for a host
# core: the tests multiply their CPU and wall limits and their deadlines by
# this (crates/sandbox/tests/common: time_scale).
export KILN_TEST_TIME_SCALE=${KILN_TEST_TIME_SCALE:-4}
# Toolchains installed with rustup live under root's home.
[ -d /root/.rustup ] && export RUSTUP_HOME=/root/.rustup CARGO_HOME=/root/.cargo
cg=/sys/fs/cgroup
# switch_root carries /sys and /dev over but not always /proc.
[ -e /proc/self ] || mount -t proc proc /proc
: > "$out/results"
poweroff() {
  sync
  echo 1 > /proc/sys/kernel/sysrq
  echo o > /proc/sysrq-trigger
  sleep 30
}
trap poweroff EXIT
cd "$(cat "$out/repo")" || exit 1
echo "vm-guest: $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
echo "vm-guest: root cgroup controllers: $(cat $cg/cgroup.controllers)"
echo +memory > $cg/cgroup.subtree_control
mkdir -p $cg/vm-probe
echo "vm-guest: a group's memory files: $(cd $cg/vm-probe && echo memory.*)"
rmdir $cg/vm-probe

delegate() {
  # What systemd does for a unit with Delegate=yes: the slice and the unit
  # get the controllers, the unit's process sits in the unit's group, and
  # the subtree below is the unit's to manage.
  local ctrls="+cpu +memory +pids +io"
  echo "$ctrls" > $cg/cgroup.subtree_control
  mkdir -p $cg/kiln.slice/kiln.service
  echo "$ctrls" > $cg/kiln.slice/cgroup.subtree_control
  echo $$ > $cg/kiln.slice/kiln.service/cgroup.procs
  echo "vm-guest: now in $(cat /proc/self/cgroup), controllers $(cat $cg/kiln.slice/kiln.service/cgroup.controllers)"
}

rootless_setup() {
  # A user's delegated subtree, as systemd sets up user@1000.service with
  # Delegate=yes: the controllers reach it, and the group, its
  # cgroup.procs, cgroup.threads and cgroup.subtree_control belong to the
  # user. Each step of the configuration enters it as root and becomes the
  # user (scripts/vm/rootless.sh); this shell stays where it is.
  local ctrls="+cpu +memory +pids" grp=$cg/user.slice/user-1000.slice/kiln-rootless
  echo "$ctrls" > $cg/cgroup.subtree_control
  mkdir -p $grp
  echo "$ctrls" > $cg/user.slice/cgroup.subtree_control
  echo "$ctrls" > $cg/user.slice/user-1000.slice/cgroup.subtree_control
  chown 1000:1000 $grp $grp/cgroup.procs $grp/cgroup.threads $grp/cgroup.subtree_control
  mkdir -p /tmp/rootless-home && chown 1000:1000 /tmp/rootless-home
  echo "vm-guest: rootless: uid 1000 owns $grp (controllers $(cat $grp/cgroup.controllers)); user namespaces: max $(cat /proc/sys/user/max_user_namespaces)"
}

delegated_done= rootless_done=
while IFS=$'\t' read -r config name limit cmd; do
  [ -n "$config" ] && [ "${config#\#}" = "$config" ] || continue
  # Each set-up once: the shell stays in the delegated group afterwards.
  case "$config" in
    delegated) [ -n "$delegated_done" ] || { delegate; delegated_done=1; } ;;
    rootless) [ -n "$rootless_done" ] || { rootless_setup; rootless_done=1; } ;;
  esac
  # As the unprivileged user, in the user's delegated group.
  [ "$config" = rootless ] && cmd="scripts/vm/rootless.sh $(printf '%q' "$cmd")"
  log="$out/$config-$name.log"
  start=$(date +%s)
  timeout -k 10 "$limit" bash -c "$cmd" > "$log" 2>&1 < /dev/null
  rc=$?
  secs=$(( $(date +%s) - start ))
  note=
  # Test binaries only: the tests that failed get one more try, alone. Under
  # emulation a guest task's CPU time includes the time its vCPU thread
  # waited for a host core, so on a loaded host a trivial shell can pass the
  # hostile tests' 1 s of CPU; a defect fails twice. The retry is reported.
  if [ $rc != 0 ] && [ $rc != 124 ] && [ "${cmd#*--test-threads}" != "$cmd" ]; then
    failed=$(awk '/^failures:$/ {n++; next} n == 2 && /^    [A-Za-z0-9_:]+$/ {print $1}' "$log" | tr '\n' ' ')
    if [ -n "$failed" ]; then
      timeout -k 10 "$limit" bash -c "$cmd --exact $failed" > "$log.retry" 2>&1 < /dev/null
      rc=$?
      note=" (failed once, passed alone on a retry: $failed)"
      [ $rc = 0 ] || note=" (failed again alone: $failed)"
      secs=$(( $(date +%s) - start ))
    fi
  fi
  # The hellos compile real programs under CPU limits (30 s for a compile):
  # on a loaded host the same inflation can push Go's compile over it. One
  # more try, reported; a defect fails twice.
  if [ $rc != 0 ] && [ $rc != 124 ] && [ "${name#hello-}" != "$name" ]; then
    timeout -k 10 "$limit" bash -c "$cmd" > "$log.retry" 2>&1 < /dev/null
    rc=$?
    note=" (failed once, passed on a retry)"
    [ $rc = 0 ] || note=" (failed again)"
    secs=$(( $(date +%s) - start ))
  fi
  if [ $rc = 0 ]; then verdict=PASS; else verdict=FAIL; fi
  [ $rc = 124 ] && verdict=TIMEOUT
  [ $rc = 77 ] && verdict=SKIP
  printf '%s %s %s %ss rc=%s%s\n' "$verdict" "$config" "$name" "$secs" "$rc" "$note" | tee -a "$out/results"
  if [ $verdict = FAIL ] || [ $verdict = TIMEOUT ]; then
    tail -n 40 "$log" | sed "s/^/  [$config-$name] /"
  fi
done < "$out/plan"
echo "vm-guest: done" | tee -a "$out/results"
