//! A workspace's home as a filesystem of its own: a sparse image
//! `<ws dir>/home.img` of the template's `disk_mb`, formatted ext4 with a
//! bounded number of inodes (`mkfs.ext4` from e2fsprogs), loop-mounted
//! (nosuid, nodev) at `<ws dir>/disk` while the workspace runs. The home is
//! `disk/home`, owned by the workspace's uid; `disk` itself stays root-only
//! (0700), and the overlay work directory the sandbox needs lives beside the
//! home on the same filesystem. So a full home is `ENOSPC` inside the box,
//! and nothing lands on the host beyond the image's `disk_mb`.
//!
//! A workspace made before homes had images keeps its plain `<ws dir>/home`
//! directory (no size cap), and says so in the log.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{Result, WorkspaceError};

/// Inodes per MiB of a home (ext4's default ratio, 16 KiB per inode).
pub const INODES_PER_MB: u64 = 64;
/// The fewest inodes a home gets, however small.
pub const MIN_INODES: u64 = 1024;

/// The image, its mount point and the home of one workspace.
pub struct Disk {
    pub image: PathBuf,
    pub mount: PathBuf,
    pub home: PathBuf,
}

impl Disk {
    pub fn of(ws_dir: &Path) -> Disk {
        let mount = ws_dir.join("disk");
        Disk {
            image: ws_dir.join("home.img"),
            home: mount.join("home"),
            mount,
        }
    }

    /// The inodes a home of `disk_mb` gets.
    pub fn inodes(disk_mb: u64) -> u64 {
        (disk_mb * INODES_PER_MB).max(MIN_INODES)
    }

    /// Makes the image if missing, mounts it if not mounted, and makes the
    /// home (owned by `uid`); returns the home. Blocking (runs `mkfs.ext4`
    /// and `mount`).
    pub fn attach(&self, disk_mb: u64, uid: u32) -> Result<PathBuf> {
        if !self.image.exists() {
            self.format(disk_mb)?;
        }
        mkdir_private(&self.mount)?;
        if !is_mount_point(&self.mount) {
            run(Command::new("mount")
                .arg("-o")
                .arg("loop,nosuid,nodev")
                .arg(&self.image)
                .arg(&self.mount))?;
        }
        // The filesystem's root stays root-only: nothing in the box sees it.
        fs::set_permissions(&self.mount, fs::Permissions::from_mode(0o700))
            .map_err(|e| WorkspaceError::io(format!("chmod {}", self.mount.display()), e))?;
        match fs::DirBuilder::new().mode(0o755).create(&self.home) {
            Ok(()) => std::os::unix::fs::chown(&self.home, Some(uid), Some(uid))
                .map_err(|e| WorkspaceError::io(format!("chown {}", self.home.display()), e))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let meta = fs::symlink_metadata(&self.home)
                    .map_err(|e| WorkspaceError::io(format!("stat {}", self.home.display()), e))?;
                if !meta.is_dir() {
                    return Err(WorkspaceError::Config(format!(
                        "{} is not a directory; refusing to bind it as a home",
                        self.home.display()
                    )));
                }
                // A warm home (made for root) becomes the workspace's.
                if meta.uid() != uid {
                    std::os::unix::fs::chown(&self.home, Some(uid), Some(uid)).map_err(|e| {
                        WorkspaceError::io(format!("chown {}", self.home.display()), e)
                    })?;
                }
            }
            Err(e) => {
                return Err(WorkspaceError::io(
                    format!("create {}", self.home.display()),
                    e,
                ))
            }
        }
        Ok(self.home.clone())
    }

    /// A sparse image of `disk_mb` MiB with ext4 on it (no reserved blocks,
    /// [`Disk::inodes`] inodes, the root owned by root).
    fn format(&self, disk_mb: u64) -> Result<()> {
        let tmp = self.image.with_extension("img.tmp");
        let f = fs::File::create(&tmp)
            .map_err(|e| WorkspaceError::io(format!("create {}", tmp.display()), e))?;
        f.set_len(disk_mb << 20)
            .map_err(|e| WorkspaceError::io(format!("size {}", tmp.display()), e))?;
        drop(f);
        run(Command::new("mkfs.ext4")
            .args(["-q", "-F", "-m", "0", "-N"])
            .arg(Disk::inodes(disk_mb).to_string())
            .args([
                "-E",
                "lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0",
            ])
            .arg(&tmp))?;
        fs::rename(&tmp, &self.image)
            .map_err(|e| WorkspaceError::io(format!("rename {}", tmp.display()), e))
    }

    /// Unmounts the home's filesystem (after its box is gone). A mount still
    /// busy a moment after the box died is detached lazily: the kernel frees
    /// it (and its loop device) when the last reference goes.
    pub fn detach(&self) -> Result<()> {
        use nix::mount::{umount2, MntFlags};
        for _ in 0..20 {
            if !is_mount_point(&self.mount) {
                return Ok(());
            }
            match umount2(&self.mount, MntFlags::empty()) {
                Ok(()) => return Ok(()),
                Err(nix::errno::Errno::EBUSY) => std::thread::sleep(Duration::from_millis(25)),
                Err(e) => {
                    return Err(WorkspaceError::Config(format!(
                        "unmount {}: {e}",
                        self.mount.display()
                    )))
                }
            }
        }
        umount2(&self.mount, MntFlags::MNT_DETACH)
            .map_err(|e| WorkspaceError::Config(format!("detach {}: {e}", self.mount.display())))
    }
}

/// Whether `dir` is the root of a mount (its device differs from its parent's).
pub fn is_mount_point(dir: &Path) -> bool {
    let (Ok(me), Some(Ok(up))) = (
        fs::symlink_metadata(dir),
        dir.parent().map(fs::symlink_metadata),
    ) else {
        return false;
    };
    me.is_dir() && me.dev() != up.dev()
}

fn mkdir_private(dir: &Path) -> Result<()> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(WorkspaceError::io(format!("create {}", dir.display()), e)),
    }
}

/// Runs a host tool; its stderr is the error when it fails.
fn run(cmd: &mut Command) -> Result<()> {
    let what = format!("{cmd:?}");
    // Nothing Kiln inherited goes on to the tool.
    if let Err(e) = kiln_sandbox::hostfds::cloexec_inherited() {
        tracing::warn!(error = %e, "could not mark inherited descriptors close-on-exec");
    }
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            WorkspaceError::Config(format!(
                "{what}: {e} (install e2fsprogs and util-linux: scripts/install-toolchains.sh)"
            ))
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(WorkspaceError::Config(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inodes_are_bounded_by_the_size() {
        assert_eq!(Disk::inodes(1), MIN_INODES);
        assert_eq!(Disk::inodes(1024), 65_536);
    }

    #[test]
    fn a_plain_directory_is_not_a_mount_point() {
        let d = tempfile::tempdir().unwrap();
        assert!(!is_mount_point(d.path()));
        assert!(!is_mount_point(&d.path().join("missing")));
        assert!(is_mount_point(Path::new("/proc")));
    }

    /// Root only (mount): a 4 MiB home refuses the fifth MiB, and the image
    /// on the host stays within 4 MiB.
    #[test]
    fn a_home_is_full_at_its_size() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root to mount");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let disk = Disk::of(d.path());
        let home = disk.attach(4, 4242).unwrap();
        assert_eq!(fs::metadata(&home).unwrap().uid(), 4242);
        let mut written = 0u64;
        let err = loop {
            match fs::write(home.join(format!("f{written}")), vec![1u8; 1 << 20]) {
                Ok(()) => written += 1,
                Err(e) => break e,
            }
            assert!(written < 16, "wrote {written} MiB into a 4 MiB home");
        };
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
        disk.detach().unwrap();
        assert!(!is_mount_point(&disk.mount));
        let on_host = fs::metadata(&disk.image).unwrap().blocks() * 512;
        assert!(on_host <= 4 << 20, "the image holds {on_host} bytes");
        // Mounted again, the files are there.
        disk.attach(4, 4242).unwrap();
        assert!(home.join("f0").exists());
        disk.detach().unwrap();
    }
}
