//! The file tree of a running workspace: list a directory, remove, rename,
//! make a directory. Each is one request to the box's init, which resolves
//! every path beneath the home with `openat2` and never follows a symlink
//! (the host never opens a path inside a home). Archives of a directory are
//! in [`crate::archive`].

use kiln_sandbox::{FileInfo, FileKind, FileOp};
use serde::Serialize;
use uuid::Uuid;

use crate::error::{Result, WorkspaceError};
use crate::inside::{file_error, home_relative};
use crate::manager::{Manager, HOME};

/// Entries one directory listing may have.
pub const MAX_LIST_ENTRIES: u32 = 10_000;

/// One entry of a directory, as the API lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    /// Absolute, inside the workspace (`/home/kiln/…`).
    pub path: String,
    /// `file`, `dir`, `symlink` (listed, never followed) or `other`.
    pub kind: FileKind,
    /// Bytes of a regular file (0 for the rest).
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
}

impl DirEntry {
    pub(crate) fn from_info(info: FileInfo) -> DirEntry {
        DirEntry {
            name: info
                .path
                .rsplit('/')
                .next()
                .unwrap_or(&info.path)
                .to_string(),
            path: format!("{HOME}/{}", info.path),
            kind: info.kind,
            size: info.size,
            mode: info.mode,
        }
    }
}

/// `/home/kiln` (or with a trailing `/`) → `""`; below it as [`home_relative`].
pub fn dir_relative(path: &str) -> Result<&str> {
    if path.trim_end_matches('/') == HOME {
        return Ok("");
    }
    home_relative(path.trim_end_matches('/'))
}

impl Manager {
    /// Runs one file operation in the box of a running workspace.
    async fn tree_op(&self, owner: &str, id: Uuid, path: &str, op: FileOp) -> Result<()> {
        let e = self.entry(owner, id)?;
        let b = e.running_box()?;
        let _busy = e.busy();
        b.file_op(op).await.map_err(|err| file_error(path, err))
    }

    /// The entries of a directory of the home (`/home/kiln` itself included).
    pub async fn list_dir(&self, owner: &str, id: Uuid, path: &str) -> Result<Vec<DirEntry>> {
        let rel = dir_relative(path)?;
        let e = self.entry(owner, id)?;
        let b = e.running_box()?;
        let _busy = e.busy();
        let list = b
            .list_dir(rel, MAX_LIST_ENTRIES)
            .await
            .map_err(|err| file_error(path, err))?;
        Ok(list.into_iter().map(DirEntry::from_info).collect())
    }

    /// Removes a file, a symlink or a directory (recursively when asked).
    pub async fn remove_path(
        &self,
        owner: &str,
        id: Uuid,
        path: &str,
        recursive: bool,
    ) -> Result<()> {
        let rel = home_relative(path)?.to_string();
        let op = FileOp::Remove {
            path: rel,
            recursive,
        };
        self.tree_op(owner, id, path, op).await
    }

    /// Renames `from` to `to`, both in the home.
    pub async fn rename_path(&self, owner: &str, id: Uuid, from: &str, to: &str) -> Result<()> {
        let op = FileOp::Rename {
            from: home_relative(from)?.to_string(),
            to: home_relative(to)
                .map_err(|_| {
                    WorkspaceError::invalid("to", format!("{to:?} must be a path inside {HOME}/"))
                })?
                .to_string(),
        };
        self.tree_op(owner, id, from, op).await
    }

    /// Makes a directory (and its missing parents with `parents`).
    pub async fn make_dir(&self, owner: &str, id: Uuid, path: &str, parents: bool) -> Result<()> {
        let op = FileOp::MakeDir {
            path: home_relative(path)?.to_string(),
            parents,
        };
        self.tree_op(owner, id, path, op).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_home_itself_is_a_directory_to_list() {
        assert_eq!(dir_relative("/home/kiln").unwrap(), "");
        assert_eq!(dir_relative("/home/kiln/").unwrap(), "");
        assert_eq!(dir_relative("/home/kiln/src/").unwrap(), "src");
        assert!(dir_relative("/etc").is_err());
    }

    #[test]
    fn entries_are_named_and_absolute() {
        let e = DirEntry::from_info(FileInfo {
            path: "src/main.rs".into(),
            kind: FileKind::File,
            size: 3,
            mode: 0o644,
        });
        assert_eq!(e.name, "main.rs");
        assert_eq!(e.path, "/home/kiln/src/main.rs");
    }
}
