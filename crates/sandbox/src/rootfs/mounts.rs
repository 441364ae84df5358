//! Binds of host paths into the new root: read-only recursively, or
//! read-write for a workspace's home.

use std::ffi::CString;
use std::fs;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};

use super::{fail, Step};

/// Binds a host path read-only (recursively: see [`readonly_recursive`]).
pub(super) fn bind_readonly(src: &Path, dst: &Path) -> Step {
    let what = format!("bind {} -> {}", src.display(), dst.display());
    mount(
        Some(src),
        dst,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(fail("bind mounts", &what))?;
    readonly_recursive(dst, 0).map_err(fail("bind mounts", format!("read-only remount of {what}")))
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
pub(super) const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const AT_RECURSIVE: libc::c_uint = 0x8000;

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Makes the mount at `dst` and every mount below it read-only, nosuid and
/// nodev (plus `extra` attributes). `MS_REMOUNT | MS_BIND` would change the
/// top mount only. Kernels before 5.12 (no `mount_setattr`) get each mount
/// below `dst`, found in `mountinfo`, remounted one by one.
pub(super) fn readonly_recursive(dst: &Path, extra: u64) -> Result<(), Errno> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(dst.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | extra,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr reads a path string and a mount_attr that live
    // across the call; the size passed is the struct's.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = Errno::last();
    if e != Errno::ENOSYS {
        return Err(e);
    }
    let mut flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV;
    if extra & MOUNT_ATTR_NOEXEC != 0 {
        flags |= MsFlags::MS_NOEXEC;
    }
    mount(None::<&str>, dst, None::<&str>, flags, None::<&str>)?;
    let below = format!("{}/", dst.display());
    let mounts = fs::read_to_string("/proc/self/mountinfo").map_err(|_| Errno::EIO)?;
    for point in mounts.lines().filter_map(|l| l.split(' ').nth(4)) {
        if point.starts_with(&below) {
            mount(None::<&str>, point, None::<&str>, flags, None::<&str>)?;
        }
    }
    Ok(())
}

/// Binds a host directory read-write (nosuid, nodev): a workspace's home.
pub(super) fn bind_writable(src: &Path, dst: &Path) -> Step {
    let what = format!("bind {} -> {} read-write", src.display(), dst.display());
    mount(Some(src), dst, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(fail("home", &what))?;
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(None::<&str>, dst, None::<&str>, flags, None::<&str>)
        .map_err(fail("home", format!("nosuid remount of {what}")))
}
