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
//!
//! Layout: this module builds the root in order ([`build`]); `mounts` binds
//! host paths, `stage` makes the overlays that hide them, `procdev` mounts
//! and masks `/proc` and fills `/dev`.

mod mounts;
mod procdev;
mod stage;

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, chown, pivot_root, Gid, Uid};

use crate::protocol::{BindSpec, BoxSetup};
use mounts::{bind_readonly, bind_writable};
use stage::Stage;

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
        bind(&root, &mut stage, b)?;
    }
    write_files(&root, &setup.files)?;
    procdev::mount_proc(&root)?;
    procdev::build_dev(&root, setup)?;
    procdev::mask_proc(&root)?;
    procdev::bind_views(&root, &setup.proc_binds)?;
    mount_scratch(&root, &mut stage, setup)?;
    stage.remove()?;
    pivot(&root)
}

/// Puts one host path into the root: read-only, or a recreated top-level link.
fn bind(root: &Path, stage: &mut Stage, b: &BindSpec) -> Step {
    let src = Path::new(&b.host);
    let dst = inside(root, &b.inside);
    let Ok(meta) = fs::symlink_metadata(src) else {
        return Ok(());
    };
    if let Some(parent) = dst.parent() {
        mkdirs(parent)?;
    }
    if meta.file_type().is_symlink() && dst.parent() == Some(root) {
        // Top-level merged-/usr links (/bin -> usr/bin) are recreated as links.
        let target = fs::read_link(src).map_err(fail(
            "root filesystem",
            format!("readlink {}", src.display()),
        ))?;
        symlink(&target, &dst).map_err(fail(
            "root filesystem",
            format!("symlink {}", dst.display()),
        ))?;
        return Ok(());
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
        return Ok(());
    }
    bind_readonly(src, &dst)
}

/// Writes the extra text files (`/etc/passwd`, …) into the root.
fn write_files(root: &Path, files: &[(String, String)]) -> Step {
    for (path, content) in files {
        let dst = inside(root, path);
        if let Some(parent) = dst.parent() {
            mkdirs(parent)?;
        }
        fs::write(&dst, content)
            .map_err(fail("root filesystem", format!("write {}", dst.display())))?;
        let _ = fs::set_permissions(&dst, fs::Permissions::from_mode(0o644));
    }
    Ok(())
}

/// `/tmp` and the working directory: size-capped tmpfs mounts, or the
/// workspace's home at the working directory.
fn mount_scratch(root: &Path, stage: &mut Stage, setup: &BoxSetup) -> Step {
    let tmp = root.join("tmp");
    mkdirs(&tmp)?;
    let late = after_switch(setup);
    if !late {
        tmp_tmpfs(&tmp, setup.tmp_bytes)?;
    }
    let work = inside(root, &setup.work_dir);
    mkdirs(&work)?;
    match &setup.work_host {
        Some(host) if stage.writable(Path::new(host), &work).is_ok() => {}
        Some(host) => bind_writable(Path::new(host), &work)?,
        None if late => {}
        None => work_tmpfs(&work, setup)?,
    }
    Ok(())
}

/// Whether the scratch tmpfs mounts (`/tmp`, `/dev/shm`, a fresh working
/// directory) wait until init is in the box's own user namespace.
fn after_switch(setup: &BoxSetup) -> bool {
    setup.root_uid.is_some()
}

/// A fresh working directory: a size-capped tmpfs owned by the box user.
fn work_tmpfs(work: &Path, setup: &BoxSetup) -> Step {
    tmpfs(
        work,
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        &format!("size={},mode=755", setup.work_bytes),
    )?;
    chown(
        work,
        Some(Uid::from_raw(setup.uid)),
        Some(Gid::from_raw(setup.gid)),
    )
    .map_err(fail("root filesystem", format!("chown {}", setup.work_dir)))
}

fn tmp_tmpfs(tmp: &Path, bytes: u64) -> Step {
    tmpfs(
        tmp,
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        &format!("size={bytes},mode=1777"),
    )
}

/// `/tmp`, `/dev/shm` and a fresh working directory of a box with its own
/// user namespace, mounted after the switch (in the root already built): a
/// mount made before it would be locked, and init replaces `/tmp` and
/// `/dev/shm` between runs; chowning the working directory then needs no
/// capability on the host.
pub fn mount_after_switch(setup: &BoxSetup) -> Step {
    tmp_tmpfs(Path::new("/tmp"), setup.tmp_bytes)?;
    procdev::shm_tmpfs(Path::new("/dev/shm"), setup.shm_bytes)?;
    if setup.work_host.is_none() {
        work_tmpfs(Path::new(&setup.work_dir), setup)?;
    }
    Ok(())
}

/// Pivots into the built root, detaches the host's and makes `/` and `/dev`
/// read-only.
fn pivot(root: &Path) -> Step {
    chdir(root).map_err(fail("pivot_root", "chdir to the new root"))?;
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

/// Sets the box's hostname (its own UTS namespace).
pub fn set_hostname(name: &str) -> Step {
    nix::unistd::sethostname(name).map_err(fail("uts namespace", "sethostname"))
}

/// `CString` of a path or argument; interior NULs are refused by the host first.
pub fn cstr(s: &str) -> CString {
    CString::new(s.replace('\0', "")).expect("NULs removed")
}
