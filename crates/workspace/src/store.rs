//! Where workspaces live on the host: `<dir>/<id>/workspace.json` (written
//! atomically: a temporary file, fsync, rename), `<dir>/<id>/home.img`, the
//! home's filesystem, mounted at `<dir>/<id>/disk` while the workspace runs
//! (see [`crate::disk`]), and `<dir>/<id>/views`, its `/proc` views. `<dir>`
//! and each `<dir>/<id>` are root-only (0700), so nothing inside a box can
//! replace its home with a link. A workspace made before homes had images
//! keeps its plain directory `<dir>/<id>/home`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::disk::Disk;
use crate::error::{Result, WorkspaceError};
use crate::model::Workspace;

#[derive(Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn open(dir: &Path) -> Result<Store> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| WorkspaceError::io(format!("create {}", dir.display()), e))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| WorkspaceError::io(format!("chmod {}", dir.display()), e))?;
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    pub fn ws_dir(&self, id: Uuid) -> PathBuf {
        self.dir.join(id.to_string())
    }

    /// The plain home directory of a workspace made before homes had images.
    pub fn home(&self, id: Uuid) -> PathBuf {
        self.ws_dir(id).join("home")
    }

    /// Attaches the home of a workspace (its filesystem of `disk_mb`,
    /// created on first use) and returns the directory to bind. Blocking.
    pub fn attach_home(&self, id: Uuid, uid: u32, disk_mb: u64) -> Result<PathBuf> {
        if fs::symlink_metadata(self.home(id)).is_ok() {
            tracing::warn!(workspace = %id, "this workspace's home is a plain directory from an older Kiln: its size is not capped");
            return self.ensure_home(id, uid);
        }
        Disk::of(&self.ws_dir(id)).attach(disk_mb, uid)
    }

    /// Unmounts the home's filesystem (its box must be gone). Blocking.
    pub fn detach_home(&self, id: Uuid) -> Result<()> {
        Disk::of(&self.ws_dir(id)).detach()
    }

    /// Every workspace recorded; unreadable records are logged and skipped.
    pub fn load_all(&self) -> Result<Vec<Workspace>> {
        let mut out = Vec::new();
        let entries = fs::read_dir(&self.dir)
            .map_err(|e| WorkspaceError::io(format!("list {}", self.dir.display()), e))?;
        // `.pool` holds warm homes (see `crate::homes`), not workspaces.
        for e in entries
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        {
            let path = e.path().join("workspace.json");
            match fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Workspace>(&b).map_err(|e| e.to_string()))
            {
                Ok(w) => out.push(w),
                Err(err) => {
                    tracing::warn!(path = %path.display(), %err, "skipping an unreadable workspace record")
                }
            }
        }
        Ok(out)
    }

    pub fn save(&self, w: &Workspace) -> Result<()> {
        let dir = self.ws_dir(w.id);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| WorkspaceError::io(format!("create {}", dir.display()), e))?;
        let tmp = dir.join("workspace.json.tmp");
        let body = serde_json::to_vec_pretty(w).expect("a workspace serialises");
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
            fs::rename(&tmp, dir.join("workspace.json"))
        };
        write().map_err(|e| {
            WorkspaceError::io(format!("write {}", dir.join("workspace.json").display()), e)
        })
    }

    /// Creates the home (owned by `uid`) if missing.
    pub fn ensure_home(&self, id: Uuid, uid: u32) -> Result<PathBuf> {
        let home = self.home(id);
        match fs::DirBuilder::new().mode(0o755).create(&home) {
            Ok(()) => std::os::unix::fs::chown(&home, Some(uid), Some(uid))
                .map_err(|e| WorkspaceError::io(format!("chown {}", home.display()), e))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let meta = fs::symlink_metadata(&home)
                    .map_err(|e| WorkspaceError::io(format!("stat {}", home.display()), e))?;
                if !meta.is_dir() {
                    return Err(WorkspaceError::Config(format!(
                        "{} is not a directory; refusing to bind it as a home",
                        home.display()
                    )));
                }
            }
            Err(e) => return Err(WorkspaceError::io(format!("create {}", home.display()), e)),
        }
        Ok(home)
    }

    /// Removes a workspace's record and home. `remove_dir_all` unlinks
    /// symlinks planted inside without following them (std's
    /// CVE-2022-21658 fix walks with `openat`/`unlinkat` and `O_NOFOLLOW`).
    pub fn remove(&self, id: Uuid) -> Result<()> {
        self.detach_home(id)?;
        let dir = self.ws_dir(id);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(WorkspaceError::io(format!("remove {}", dir.display()), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Agent, AgentStatus, Build, Status};

    fn sample() -> Workspace {
        Workspace {
            id: Uuid::new_v4(),
            name: "a".into(),
            template: "pod-swdev".into(),
            owner: "anonymous".into(),
            status: Status::Running,
            parameters: Default::default(),
            created_at: "t".into(),
            updated_at: "t".into(),
            last_used_at: "t".into(),
            error: None,
            build: Build {
                started_at: "t".into(),
                finished_at: None,
                duration_ms: None,
                timings: vec![],
            },
            agent: Agent {
                status: AgentStatus::Connected,
                ready_at: None,
            },
            uid: 100_001,
        }
    }

    #[test]
    fn records_round_trip_and_removal_does_not_follow_links() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("keep"), "x").unwrap();
        let store = Store::open(&d.path().join("ws")).unwrap();
        let w = sample();
        store.save(&w).unwrap();
        let home = store.ensure_home(w.id, 0).unwrap();
        std::os::unix::fs::symlink(outside.path(), home.join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("keep"), home.join("file-link")).unwrap();
        let all = store.load_all().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].id, w.id);
        store.remove(w.id).unwrap();
        assert!(store.load_all().unwrap().is_empty());
        assert_eq!(
            fs::read_to_string(outside.path().join("keep")).unwrap(),
            "x"
        );
    }

    #[test]
    fn a_linked_home_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let w = sample();
        store.save(&w).unwrap();
        std::os::unix::fs::symlink("/etc", store.home(w.id)).unwrap();
        assert!(store
            .ensure_home(w.id, 0)
            .unwrap_err()
            .to_string()
            .contains("not a directory"));
    }
}
