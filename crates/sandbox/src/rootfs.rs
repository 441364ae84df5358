//! Builds a box's root inside its new mount namespace, then pivots into it:
//! a small tmpfs root holding read-only binds of what toolchains need, a
//! private `/proc`, a minimal `/dev` with its own `devpts` and `/dev/shm`, and
//! size-capped tmpfs mounts for `/tmp` and the working directory `/box`.
//! Runs in the box's single-threaded init, as root, before any untrusted code.
//!
//! - Every bind is read-only, nosuid and nodev *recursively* (`mount_setattr`
//!   with `AT_RECURSIVE`): a mount below a bound directory is read-only too.
//! - `/proc` shows the box, not the host: what runc masks (and `kallsyms`,
//!   `key-users`, `config.gz`, `cmdline`, `kmsg`, …) reads empty (`/dev/null`
//!   bound over files, an empty read-only tmpfs over directories), and
//!   `/proc/sys`, `/proc/bus`, `/proc/fs` and `/proc/irq` are read-only.
//! - `mountinfo` names no host path: a bind's root field is its path inside
//!   the source filesystem, so a directory that appears elsewhere than on
//!   the host (a toolchain under `/root/...`, a workspace's home under the
//!   data directory) is mounted as an overlay whose layers are given as
//!   neutral relative names (`lowerdir=0:e`) from a staging tmpfs that is
//!   gone before the box starts. Binds at their host path (`/usr`) and file
//!   binds stay plain binds: their root field says what the box sees anyway.

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::unistd::{chdir, chown, pivot_root, Gid, Uid};

use crate::protocol::BoxSetup;

/// The working directory of programs inside every box.
pub const WORK_DIR: &str = "/box";

/// A failed step: which layer, and what the kernel said.
pub struct LayerError {
    pub layer: &'static str,
    pub message: String,
}

type Step<T = ()> = Result<T, LayerError>;

fn fail<E: std::fmt::Display>(
    layer: &'static str,
    what: impl std::fmt::Display,
) -> impl FnOnce(E) -> LayerError {
    let what = what.to_string();
    move |e| LayerError {
        layer,
        message: format!("{what}: {e}"),
    }
}

fn tmpfs(target: &Path, flags: MsFlags, data: &str) -> Step {
    mount(Some("tmpfs"), target, Some("tmpfs"), flags, Some(data)).map_err(fail(
        "tmpfs",
        format!("mount tmpfs on {} ({data})", target.display()),
    ))
}

fn bind_readonly(src: &Path, dst: &Path) -> Step {
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
const MOUNT_ATTR_NOEXEC: u64 = 0x8;
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
fn readonly_recursive(dst: &Path, extra: u64) -> Result<(), Errno> {
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

/// Where renamed directory binds are staged for their overlays: a tmpfs
/// inside the new root, unmounted and removed before the box starts.
struct Stage {
    dir: PathBuf,
    next: usize,
}

impl Stage {
    fn new(root: &Path) -> Step<Stage> {
        let dir = root.join(".kiln-stage");
        mkdirs(&dir)?;
        tmpfs(
            &dir,
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            "size=64k,mode=700",
        )?;
        mkdirs(&dir.join("e"))?;
        Ok(Stage { dir, next: 0 })
    }

    /// Binds `src` at a fresh neutral name in the stage; returns the name.
    fn stage(&mut self, src: &Path) -> Result<String, Errno> {
        let name = self.next.to_string();
        self.next += 1;
        let at = self.dir.join(&name);
        fs::create_dir(&at).map_err(|_| Errno::EIO)?;
        mount(Some(src), &at, None::<&str>, MsFlags::MS_BIND, None::<&str>)?;
        Ok(name)
    }

    /// Mounts an overlay at `dst` whose options name only staged layers,
    /// given relative to the stage (so no host path is recorded anywhere).
    fn overlay(&self, dst: &Path, flags: MsFlags, options: &str) -> Result<(), Errno> {
        let back = fs::File::open(".").map_err(|_| Errno::EIO)?;
        chdir(&self.dir)?;
        let r = mount(Some("overlay"), dst, Some("overlay"), flags, Some(options));
        let _ = nix::unistd::fchdir(&back);
        r
    }

    /// A read-only view of the directory `src` at `dst`, as an overlay.
    fn readonly(&mut self, src: &Path, dst: &Path) -> Result<(), Errno> {
        let name = self.stage(src)?;
        // Two lower layers (an overlay without an upper one needs two): the
        // directory over an empty one.
        self.overlay(
            dst,
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            &format!("lowerdir={name}:e"),
        )
    }

    /// A writable view of the directory `home` at `dst`: an overlay whose
    /// upper layer is `home` itself (files land there, as with a bind) and
    /// whose work directory is a sibling `.<name>.kiln-work` (an overlay
    /// needs one on the same mount; `home`'s parent is root-only).
    fn writable(&mut self, home: &Path, dst: &Path) -> Result<(), Errno> {
        let (Some(parent), Some(name)) = (home.parent(), home.file_name().and_then(|n| n.to_str()))
        else {
            return Err(Errno::EINVAL);
        };
        if name.contains([',', ':', '\\']) {
            return Err(Errno::EINVAL);
        }
        let work = format!(".{name}.kiln-work");
        match fs::create_dir(parent.join(&work)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(_) => return Err(Errno::EIO),
        }
        let staged = self.stage(parent)?;
        self.overlay(
            dst,
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            &format!("lowerdir=e,upperdir={staged}/{name},workdir={staged}/{work}"),
        )
    }

    /// Detaches the stage (the overlays keep their own references to their
    /// layers) and removes its directory.
    fn remove(self) -> Step {
        umount2(&self.dir, MntFlags::MNT_DETACH)
            .map_err(fail("bind mounts", "detach the staging tmpfs"))?;
        fs::remove_dir(&self.dir).map_err(fail("bind mounts", "remove the staging directory"))
    }
}

/// Binds a host directory read-write (nosuid, nodev): a workspace's home.
fn bind_writable(src: &Path, dst: &Path) -> Step {
    let what = format!("bind {} -> {} read-write", src.display(), dst.display());
    mount(Some(src), dst, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(fail("home", &what))?;
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(None::<&str>, dst, None::<&str>, flags, None::<&str>)
        .map_err(fail("home", format!("nosuid remount of {what}")))
}

fn mkdirs(p: &Path) -> Step {
    fs::create_dir_all(p).map_err(fail("root filesystem", format!("mkdir {}", p.display())))
}

fn inside(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Builds the root at `setup.root_dir` and pivots into it. Afterwards `/` is
/// the box's root and nothing of the host's tree is reachable.
pub fn build(setup: &BoxSetup) -> Step {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(fail("mount namespace", "make / private"))?;
    let root = PathBuf::from(&setup.root_dir);
    tmpfs(
        &root,
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        "size=8m,mode=755",
    )?;
    let mut stage = Stage::new(&root)?;

    for b in &setup.binds {
        let src = Path::new(&b.host);
        let dst = inside(&root, &b.inside);
        let Ok(meta) = fs::symlink_metadata(src) else {
            continue;
        };
        if let Some(parent) = dst.parent() {
            mkdirs(parent)?;
        }
        if meta.file_type().is_symlink() && dst.parent() == Some(root.as_path()) {
            // Top-level merged-/usr links (/bin -> usr/bin) are recreated as links.
            let target = fs::read_link(src).map_err(fail(
                "root filesystem",
                format!("readlink {}", src.display()),
            ))?;
            symlink(&target, &dst).map_err(fail(
                "root filesystem",
                format!("symlink {}", dst.display()),
            ))?;
            continue;
        }
        let is_dir = meta.is_dir() || fs::metadata(src).map(|m| m.is_dir()).unwrap_or(false);
        if is_dir {
            mkdirs(&dst)?;
        } else {
            fs::write(&dst, b"")
                .map_err(fail("root filesystem", format!("create {}", dst.display())))?;
        }
        // A directory seen elsewhere than on the host: an overlay, so that
        // mountinfo does not name the host path (falls back to a bind where
        // overlayfs is missing or refuses the source).
        if is_dir
            && b.host.trim_end_matches('/') != b.inside.trim_end_matches('/')
            && stage.readonly(src, &dst).is_ok()
        {
            continue;
        }
        bind_readonly(src, &dst)?;
    }

    for (path, content) in &setup.files {
        let dst = inside(&root, path);
        if let Some(parent) = dst.parent() {
            mkdirs(parent)?;
        }
        fs::write(&dst, content)
            .map_err(fail("root filesystem", format!("write {}", dst.display())))?;
        let _ = fs::set_permissions(&dst, fs::Permissions::from_mode(0o644));
    }

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
    .map_err(fail("proc", "mount a private /proc"))?;

    build_dev(&root, setup)?;
    mask_proc(&root)?;

    let tmp = root.join("tmp");
    mkdirs(&tmp)?;
    tmpfs(
        &tmp,
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        &format!("size={},mode=1777", setup.tmp_bytes),
    )?;
    let work = inside(&root, &setup.work_dir);
    mkdirs(&work)?;
    match &setup.work_host {
        Some(host) if stage.writable(Path::new(host), &work).is_ok() => {}
        Some(host) => bind_writable(Path::new(host), &work)?,
        None => {
            tmpfs(
                &work,
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                &format!("size={},mode=755", setup.work_bytes),
            )?;
            chown(
                &work,
                Some(Uid::from_raw(setup.uid)),
                Some(Gid::from_raw(setup.gid)),
            )
            .map_err(fail("root filesystem", format!("chown {}", setup.work_dir)))?;
        }
    }

    stage.remove()?;
    chdir(&root).map_err(fail("pivot_root", "chdir to the new root"))?;
    pivot_root(".", ".").map_err(fail("pivot_root", "pivot_root(., .)"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(fail("pivot_root", "detach the host's root"))?;
    chdir("/").map_err(fail("pivot_root", "chdir /"))?;
    let ro = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV;
    mount(None::<&str>, "/", None::<&str>, ro, None::<&str>)
        .map_err(fail("root filesystem", "remount / read-only"))?;
    let dev_ro = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NOEXEC;
    mount(None::<&str>, "/dev", None::<&str>, dev_ro, None::<&str>)
        .map_err(fail("dev", "remount /dev read-only"))?;
    Ok(())
}

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
fn mask_proc(root: &Path) -> Step {
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

fn build_dev(root: &Path, setup: &BoxSetup) -> Step {
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
        let p = dev.join(name);
        mknod(
            &p,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(major, minor),
        )
        .map_err(fail("dev", format!("mknod /dev/{name}")))?;
        // mknod honours the umask; make the mode exact.
        let _ = fs::set_permissions(&p, fs::Permissions::from_mode(0o666));
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
    tmpfs(
        &shm,
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        &format!("size={},mode=1777", setup.shm_bytes),
    )
}

/// Sets the box's hostname (its own UTS namespace).
pub fn set_hostname(name: &str) -> Step {
    nix::unistd::sethostname(name).map_err(fail("uts namespace", "sethostname"))
}

/// `CString` of a path or argument; interior NULs are refused by the host first.
pub fn cstr(s: &str) -> CString {
    CString::new(s.replace('\0', "")).expect("NULs removed")
}
