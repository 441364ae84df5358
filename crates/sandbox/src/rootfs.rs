//! Builds a box's root inside its new mount namespace, then pivots into it:
//! a small tmpfs root holding read-only binds of what toolchains need, a
//! private `/proc`, a minimal `/dev` with its own `devpts` and `/dev/shm`, and
//! size-capped tmpfs mounts for `/tmp` and the working directory `/box`.
//! Runs in the box's single-threaded init, as root, before any untrusted code.

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

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

fn fail<E: std::fmt::Display>(layer: &'static str, what: impl std::fmt::Display) -> impl FnOnce(E) -> LayerError {
    let what = what.to_string();
    move |e| LayerError { layer, message: format!("{what}: {e}") }
}

fn tmpfs(target: &Path, flags: MsFlags, data: &str) -> Step {
    mount(Some("tmpfs"), target, Some("tmpfs"), flags, Some(data))
        .map_err(fail("tmpfs", format!("mount tmpfs on {} ({data})", target.display())))
}

fn bind_readonly(src: &Path, dst: &Path) -> Step {
    let what = format!("bind {} -> {}", src.display(), dst.display());
    mount(Some(src), dst, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .map_err(fail("bind mounts", &what))?;
    let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(None::<&str>, dst, None::<&str>, ro, None::<&str>).map_err(fail("bind mounts", format!("read-only remount of {what}")))
}

/// Binds a host directory read-write (nosuid, nodev): a workspace's home.
fn bind_writable(src: &Path, dst: &Path) -> Step {
    let what = format!("bind {} -> {} read-write", src.display(), dst.display());
    mount(Some(src), dst, None::<&str>, MsFlags::MS_BIND, None::<&str>).map_err(fail("home", &what))?;
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(None::<&str>, dst, None::<&str>, flags, None::<&str>).map_err(fail("home", format!("nosuid remount of {what}")))
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
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(fail("mount namespace", "make / private"))?;
    let root = PathBuf::from(&setup.root_dir);
    tmpfs(&root, MsFlags::MS_NOSUID | MsFlags::MS_NODEV, "size=8m,mode=755")?;

    for b in &setup.binds {
        let src = Path::new(&b.host);
        let dst = inside(&root, &b.inside);
        let Ok(meta) = fs::symlink_metadata(src) else { continue };
        if let Some(parent) = dst.parent() {
            mkdirs(parent)?;
        }
        if meta.file_type().is_symlink() && dst.parent() == Some(root.as_path()) {
            // Top-level merged-/usr links (/bin -> usr/bin) are recreated as links.
            let target = fs::read_link(src).map_err(fail("root filesystem", format!("readlink {}", src.display())))?;
            symlink(&target, &dst).map_err(fail("root filesystem", format!("symlink {}", dst.display())))?;
            continue;
        }
        if meta.is_dir() || fs::metadata(src).map(|m| m.is_dir()).unwrap_or(false) {
            mkdirs(&dst)?;
        } else {
            fs::write(&dst, b"").map_err(fail("root filesystem", format!("create {}", dst.display())))?;
        }
        bind_readonly(src, &dst)?;
    }

    for (path, content) in &setup.files {
        let dst = inside(&root, path);
        if let Some(parent) = dst.parent() {
            mkdirs(parent)?;
        }
        fs::write(&dst, content).map_err(fail("root filesystem", format!("write {}", dst.display())))?;
        let _ = fs::set_permissions(&dst, fs::Permissions::from_mode(0o644));
    }

    let proc_dir = root.join("proc");
    mkdirs(&proc_dir)?;
    let proc_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), &proc_dir, Some("proc"), proc_flags, Some("hidepid=invisible"))
        .or_else(|_| mount(Some("proc"), &proc_dir, Some("proc"), proc_flags, Some("hidepid=2")))
        .map_err(fail("proc", "mount a private /proc"))?;

    build_dev(&root, setup)?;

    let tmp = root.join("tmp");
    mkdirs(&tmp)?;
    tmpfs(&tmp, MsFlags::MS_NOSUID | MsFlags::MS_NODEV, &format!("size={},mode=1777", setup.tmp_bytes))?;
    let work = inside(&root, &setup.work_dir);
    mkdirs(&work)?;
    match &setup.work_host {
        Some(host) => bind_writable(Path::new(host), &work)?,
        None => {
            tmpfs(&work, MsFlags::MS_NOSUID | MsFlags::MS_NODEV, &format!("size={},mode=755", setup.work_bytes))?;
            chown(&work, Some(Uid::from_raw(setup.uid)), Some(Gid::from_raw(setup.gid)))
                .map_err(fail("root filesystem", format!("chown {}", setup.work_dir)))?;
        }
    }

    chdir(&root).map_err(fail("pivot_root", "chdir to the new root"))?;
    pivot_root(".", ".").map_err(fail("pivot_root", "pivot_root(., .)"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(fail("pivot_root", "detach the host's root"))?;
    chdir("/").map_err(fail("pivot_root", "chdir /"))?;
    let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(None::<&str>, "/", None::<&str>, ro, None::<&str>).map_err(fail("root filesystem", "remount / read-only"))?;
    let dev_ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    mount(None::<&str>, "/dev", None::<&str>, dev_ro, None::<&str>)
        .map_err(fail("dev", "remount /dev read-only"))?;
    Ok(())
}

fn build_dev(root: &Path, setup: &BoxSetup) -> Step {
    let dev = root.join("dev");
    mkdirs(&dev)?;
    tmpfs(&dev, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC, "size=64k,mode=755")?;
    for (name, major, minor) in [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)] {
        let p = dev.join(name);
        mknod(&p, SFlag::S_IFCHR, Mode::from_bits_truncate(0o666), makedev(major, minor))
            .map_err(fail("dev", format!("mknod /dev/{name}")))?;
        // mknod honours the umask; make the mode exact.
        let _ = fs::set_permissions(&p, fs::Permissions::from_mode(0o666));
    }
    for (link, target) in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx")] {
        symlink(target, dev.join(link)).map_err(fail("dev", format!("symlink /dev/{link}")))?;
    }
    let pts = dev.join("pts");
    mkdirs(&pts)?;
    mount(Some("devpts"), &pts, Some("devpts"), MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC, Some("newinstance,ptmxmode=0666,mode=0620"))
        .map_err(fail("dev", "mount a private devpts"))?;
    let shm = dev.join("shm");
    mkdirs(&shm)?;
    tmpfs(&shm, MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC, &format!("size={},mode=1777", setup.shm_bytes))
}

/// Sets the box's hostname (its own UTS namespace).
pub fn set_hostname(name: &str) -> Step {
    nix::unistd::sethostname(name).map_err(fail("uts namespace", "sethostname"))
}

/// `CString` of a path or argument; interior NULs are refused by the host first.
pub fn cstr(s: &str) -> CString {
    CString::new(s.replace('\0', "")).expect("NULs removed")
}
