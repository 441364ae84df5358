#!/bin/sh
# The guest's /init (busybox sh, in the initramfs scripts/vm-cgroup-v2.sh
# builds): loads the 9p modules from the unpacked Debian kernel package, mounts
# the host's / read-only over virtio-9p, writable tmpfs for /tmp, /var/tmp and /run, a writable overlay on /root,
# the results share (writable 9p) at /run/vm-out, cgroup2 with
# nsdelegate (as systemd mounts it), then switches into the host's root view
# and runs scripts/vm/guest.sh there. The kernel powers off when that ends.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
kver=$(uname -r)
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
         9pnet 9pnet_virtio netfs fscache 9p overlay; do
  f=$(find /modules -name "$m.ko" | head -n1)
  [ -n "$f" ] || { echo "vm-init: module $m not found"; continue; }
  insmod "$f" || echo "vm-init: insmod $m failed"
done
for w in $(cat /proc/cmdline); do
  case "$w" in
    kiln.guest=*) guest=${w#kiln.guest=} ;;
    kiln.cache=*) cache=${w#kiln.cache=} ;;
  esac
done
# The host's / at /host; the new root is a tmpfs holding binds of the host's
# top-level directories and fresh /proc, /sys, /dev, /tmp, /run. (Nothing is
# mounted on a 9p directory: a host directory whose attributes change, like
# /proc's link count, fails revalidation and takes the mounts on it along.)
mkdir -p /host /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=${cache:-loose},ro hostroot /host \
  || { echo "vm-init: mounting the host's root failed"; echo o > /proc/sysrq-trigger; }
mount -t tmpfs -o mode=0755 tmpfs /newroot
for e in /host/* /host/.[!.]*; do
  [ -e "$e" ] || [ -L "$e" ] || continue
  n=${e#/host/}
  case "$n" in
    proc|sys|dev|run|tmp) mkdir -p "/newroot/$n" ;;
    root) # Writable (tests make directories in root's home): an overlay
          # with the upper layer in memory, a plain bind where that fails.
          mkdir -p /newroot/root /ovl && mount -t tmpfs tmpfs /ovl && mkdir -p /ovl/u /ovl/w
          mount -t overlay overlay -o lowerdir=/host/root,upperdir=/ovl/u,workdir=/ovl/w /newroot/root \
            || mount --bind /host/root /newroot/root ;;
    var) mkdir -p /newroot/var/tmp
         for v in /host/var/* ; do
           [ "$v" = /host/var/tmp ] && continue
           if [ -L "$v" ]; then cp -a "$v" "/newroot/var/"
           elif [ -d "$v" ]; then mkdir -p "/newroot/${v#/host/}" && mount --bind "$v" "/newroot/${v#/host/}"
           fi
         done ;;
    *) if [ -L "$e" ]; then cp -a "$e" "/newroot/$n"
       elif [ -d "$e" ]; then mkdir -p "/newroot/$n" && mount --bind "$e" "/newroot/$n"
       fi ;;
  esac
done
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t cgroup2 -o nsdelegate cgroup2 /newroot/sys/fs/cgroup
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
mount -t tmpfs -o mode=1777 tmpfs /newroot/var/tmp
mount -t tmpfs -o mode=0755 tmpfs /newroot/run
# A repository below a directory replaced just above (a clone in /tmp, as
# `mktemp -d` makes) would be hidden: bind the host's copy back at its path.
repo=${guest%/scripts/vm/guest.sh}
case "$repo" in
  /tmp/*|/var/tmp/*|/run/*)
    mkdir -p "/newroot$repo" && mount -o bind "/host$repo" "/newroot$repo" \
      || echo "vm-init: binding the repository $repo back failed" ;;
esac
mkdir -p /newroot/run/vm-out
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none out /newroot/run/vm-out \
  || echo "vm-init: mounting the results share failed"
echo "vm-init: kernel $kver, cgroup2 controllers: $(cat /newroot/sys/fs/cgroup/cgroup.controllers)"
exec switch_root /newroot /bin/bash "$guest"
