//! The staging tmpfs for overlays that keep host paths out of `mountinfo`
//! (see the module header of [`rootfs`](super)).

use std::fs;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::chdir;

use super::{fail, mkdirs, tmpfs, Step};

/// Where renamed directory binds are staged for their overlays: a tmpfs
/// inside the new root, unmounted and removed before the box starts.
pub(super) struct Stage {
    dir: PathBuf,
    next: usize,
}

impl Stage {
    pub(super) fn new(root: &Path) -> Step<Stage> {
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
    pub(super) fn readonly(&mut self, src: &Path, dst: &Path) -> Result<(), Errno> {
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
    pub(super) fn writable(&mut self, home: &Path, dst: &Path) -> Result<(), Errno> {
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
    pub(super) fn remove(self) -> Step {
        umount2(&self.dir, MntFlags::MNT_DETACH)
            .map_err(fail("bind mounts", "detach the staging tmpfs"))?;
        fs::remove_dir(&self.dir).map_err(fail("bind mounts", "remove the staging directory"))
    }
}
