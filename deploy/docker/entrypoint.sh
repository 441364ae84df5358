#!/bin/sh
# Entry point of Kiln's image: `entrypoint.sh serve|worker|… [flags]` runs
# /opt/kiln/kiln with the same arguments.
#
# For `worker`: on cgroup v2 the runtime mounts the pod's own cgroup subtree
# (its cgroup namespace) read-only at /sys/fs/cgroup. The sandbox creates one
# group per box below it, so the worker remounts it read-write first; this
# needs CAP_SYS_ADMIN and an AppArmor profile that allows mount (the worker
# Deployment grants both). Only the pod's own subtree is visible: the pod's
# limits live in parent groups that the namespace does not show.
set -eu

cgroup_readonly() {
  # mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPER
  awk '$5 == "/sys/fs/cgroup" {
         for (i = 7; i <= NF; i++) if ($i == "-") { fstype = $(i + 1); break }
         if (fstype == "cgroup2" && $6 ~ /(^|,)ro(,|$)/) found = 1
       }
       END { exit found ? 0 : 1 }' /proc/self/mountinfo
}

if [ "${1:-}" = worker ] && cgroup_readonly; then
  if ! mount -o remount,rw /sys/fs/cgroup 2>/tmp/kiln-remount.err; then
    echo "kiln worker: /sys/fs/cgroup is read-only and could not be remounted read-write:" >&2
    cat /tmp/kiln-remount.err >&2
    echo "kiln worker: the pod needs CAP_SYS_ADMIN and appArmorProfile Unconfined (see docs/kubernetes.md)" >&2
    exit 1
  fi
fi
exec /opt/kiln/kiln "$@"
