#!/bin/bash
# Runs one step of the cgroup v2 guest's `rootless` configuration (see
# scripts/vm/guest.sh) as an unprivileged user: moves this process (still
# root) into the user's delegated group, then becomes uid/gid 1000 with no
# supplementary group and no capability at all (empty bounding set), and
# runs the command. Kiln then finds itself in a delegated cgroup v2 subtree
# it owns and builds each box's user namespace itself (rootless mode).
grp=${KILN_VM_ROOTLESS_GROUP:-/sys/fs/cgroup/user.slice/user-1000.slice/kiln-rootless}
# After the first Kiln run its group hands controllers down and holds no
# process: later ones start in the leaf Kiln made (it uses the group above).
if [ -d "$grp/kiln-host" ]; then
  echo $$ > "$grp/kiln-host/cgroup.procs"
else
  echo $$ > "$grp/cgroup.procs"
fi || exit 1
exec setpriv --reuid=1000 --regid=1000 --clear-groups --inh-caps=-all --bounding-set=-all \
  env HOME=/tmp/rootless-home USER=kiln-rootless bash -c "$1 ${*:2}"
