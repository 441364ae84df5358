//! The box's private `/proc` (with what shows the host masked) and its
//! minimal `/dev`.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use nix::mount::{mount, MsFlags};
use nix::sys::stat::makedev;

use super::mounts::{readonly_recursive, MOUNT_ATTR_NOEXEC};
use super::{fail, mkdirs, tmpfs, LayerError, Step};
use crate::protocol::BoxSetup;

/// `/proc` files that show the host (runc's masked paths, and more): `/dev/null`
/// is bound over each, so it reads empty.
const PROC_MASKED_FILES: &[&str] = &[
    "kcore",
    "kallsyms",
    "keys",
    "key-users",
    "timer_list",
    "timer_stats",
    "sched_debug",
    "latency_stats",
    "sysrq-trigger",
    "config.gz",
    "cmdline",
    "kmsg",
    "interrupts",
    "kpagecgroup",
    "kpagecount",
    "kpageflags",
    "vmallocinfo",
    "iomem",
    "ioports",
    "modules",
    "buddyinfo",
    "pagetypeinfo",
    "zoneinfo",
    "slabinfo",
];
/// `/proc` directories that show the host's hardware: an empty read-only tmpfs over each.
const PROC_MASKED_DIRS: &[&str] = &[
    "acpi",
    "asound",
    "scsi",
    "driver",
    "dynamic_debug",
    "tty/driver",
];
/// `/proc` directories left visible but read-only.
const PROC_READ_ONLY: &[&str] = &["sys", "bus", "fs", "irq"];

/// Masks what `/proc` would show of the host (see the module header).
pub(super) fn mask_proc(root: &Path) -> Step {
    let proc_dir = root.join("proc");
    let null = root.join("dev/null");
    for f in PROC_MASKED_FILES {
        let t = proc_dir.join(f);
        if fs::symlink_metadata(&t).is_err() {
            continue;
        }
        mount(
            Some(&null),
            &t,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(fail("proc", format!("mask /proc/{f}")))?;
        let ro = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NOEXEC;
        mount(None::<&str>, &t, None::<&str>, ro, None::<&str>)
            .map_err(fail("proc", format!("read-only mask of /proc/{f}")))?;
    }
    for d in PROC_MASKED_DIRS {
        let t = proc_dir.join(d);
        if !t.is_dir() {
            continue;
        }
        tmpfs(
            &t,
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            "size=4k,mode=555",
        )?;
    }
    for d in PROC_READ_ONLY {
        let t = proc_dir.join(d);
        if !t.is_dir() {
            continue;
        }
        mount(
            Some(&t),
            &t,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(fail("proc", format!("bind /proc/{d}")))?;
        readonly_recursive(&t, MOUNT_ATTR_NOEXEC)
            .map_err(fail("proc", format!("read-only /proc/{d}")))?;
    }
    Ok(())
}

/// Binds the host's `/dev/<name>` at `dst`, once it is checked to be the
/// character device `rdev`. A bind, not `mknod`: no `CAP_MKNOD` needed, and
/// it works in a user namespace, where `mknod` of a device is refused.
fn bind_device(dst: &Path, name: &str, rdev: libc::dev_t) -> Step {
    let src = Path::new("/dev").join(name);
    let meta =
        nix::sys::stat::stat(&src).map_err(fail("dev", format!("stat {}", src.display())))?;
    if meta.st_mode & libc::S_IFMT != libc::S_IFCHR || meta.st_rdev != rdev {
        return Err(super::LayerError {
            layer: "dev",
            message: format!(
                "{} is not the character device {}:{} (the host's /dev must provide it)",
                src.display(),
                libc::major(rdev),
                libc::minor(rdev)
            ),
        });
    }
    fs::write(dst, b"").map_err(fail("dev", format!("create /dev/{name}")))?;
    mount(
        Some(&src),
        dst,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(fail(
        "dev",
        format!("bind {} -> /dev/{name}", src.display()),
    ))
}

/// Binds host files read-only over files of the box's `/proc` (views of a
/// workspace's limits); each target must be an existing file there.
pub(super) fn bind_views(root: &Path, binds: &[crate::protocol::BindSpec]) -> Step {
    for b in binds {
        let Some(rel) = b
            .inside
            .strip_prefix("/proc/")
            .filter(|r| !r.contains(".."))
        else {
            return Err(LayerError {
                layer: "proc",
                message: format!("{:?} is not a /proc/ path", b.inside),
            });
        };
        let dst = root.join("proc").join(rel);
        if !dst.is_file() {
            return Err(LayerError {
                layer: "proc",
                message: format!("{} is not a file of /proc", b.inside),
            });
        }
        super::mounts::bind_readonly(Path::new(&b.host), &dst)?;
    }
    Ok(())
}

pub(super) fn build_dev(root: &Path, setup: &BoxSetup) -> Step {
    let dev = root.join("dev");
    mkdirs(&dev)?;
    tmpfs(
        &dev,
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        "size=64k,mode=755",
    )?;
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        bind_device(&dev.join(name), name, makedev(major, minor))?;
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        symlink(target, dev.join(link)).map_err(fail("dev", format!("symlink /dev/{link}")))?;
    }
    let pts = dev.join("pts");
    mkdirs(&pts)?;
    mount(
        Some("devpts"),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )
    .map_err(fail("dev", "mount a private devpts"))?;
    let shm = dev.join("shm");
    mkdirs(&shm)?;
    if super::after_switch(setup) {
        // Mounted after the switch to the box's user namespace.
        return Ok(());
    }
    shm_tmpfs(&shm, setup.shm_bytes)
}

pub(super) fn shm_tmpfs(shm: &Path, bytes: u64) -> Step {
    tmpfs(
        shm,
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        &format!("size={bytes},mode=1777"),
    )
}

/// Mounts a private `/proc` that hides other users' processes.
pub(super) fn mount_proc(root: &Path) -> Step {
    let proc_dir = root.join("proc");
    mkdirs(&proc_dir)?;
    let proc_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(
        Some("proc"),
        &proc_dir,
        Some("proc"),
        proc_flags,
        Some("hidepid=invisible"),
    )
    .or_else(|_| {
        mount(
            Some("proc"),
            &proc_dir,
            Some("proc"),
            proc_flags,
            Some("hidepid=2"),
        )
    })
    .map_err(fail("proc", "mount a private /proc"))
}
