//! One directory's listing, and the changes a file tree needs (remove,
//! rename, make a directory), under the rules of [`files`](super): every
//! directory is reached with `openat2` beneath the working directory and
//! never through a symlink, and the last component is acted on with the
//! `*at` calls relative to it, so a symlink is removed or renamed itself,
//! never its target.

use std::ffi::CStr;
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstatat, mkdirat, Mode};
use nix::unistd::{unlinkat, UnlinkatFlags};

use super::{openat2, parent, validate};
use crate::protocol::{FileInfo, FileKind};

/// How deep a recursive removal goes.
const MAX_REMOVE_DEPTH: usize = 64;

/// What one entry of `dir` is, looked at without following it.
pub(super) fn entry_info(dir: &OwnedFd, raw: &CStr, path: String) -> Result<FileInfo, String> {
    let st = fstatat(dir, raw, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|e| format!("stat {path:?}: {e}"))?;
    let kind = match st.st_mode & libc::S_IFMT {
        _ if raw.to_str().is_err() => FileKind::Other,
        libc::S_IFREG => FileKind::File,
        libc::S_IFDIR => FileKind::Dir,
        libc::S_IFLNK => FileKind::Symlink,
        _ => FileKind::Other,
    };
    Ok(FileInfo {
        size: if kind == FileKind::File {
            st.st_size as u64
        } else {
            0
        },
        mode: st.st_mode & 0o7777,
        path,
        kind,
    })
}

/// Opens a directory for reading (`""`: the working directory).
fn open_dir(root: &OwnedFd, path: &str) -> Result<OwnedFd, String> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
    if path.is_empty() {
        return openat2(root, ".", flags, 0)
            .map_err(|e| format!("open the working directory: {e}"));
    }
    let parts = validate(path)?;
    let (dir, name) = parent(root, &parts, None)?;
    openat2(&dir, name, flags, 0)
        .map_err(|e| format!("open directory {path:?}: {e} (symlinks are not followed)"))
}

/// The names in a directory (without `.` and `..`), at most `max`.
fn names(dir: &OwnedFd, what: &str, max: usize) -> Result<Vec<std::ffi::CString>, String> {
    let fd = dir.try_clone().map_err(|e| format!("dup: {e}"))?;
    let mut d = nix::dir::Dir::from_fd(fd).map_err(|e| format!("read directory {what:?}: {e}"))?;
    let mut out = Vec::new();
    for entry in d.iter() {
        let entry = entry.map_err(|e| format!("read directory {what:?}: {e}"))?;
        let raw = entry.file_name();
        if raw.to_bytes() == b"." || raw.to_bytes() == b".." {
            continue;
        }
        if out.len() == max {
            return Err(format!("{what:?} has more than {max} entries"));
        }
        out.push(raw.to_owned());
    }
    Ok(out)
}

/// The entries of one directory, sorted by name; paths relative to the
/// working directory.
pub fn list_dir(root: &OwnedFd, path: &str, max_entries: usize) -> Result<Vec<FileInfo>, String> {
    let dir = open_dir(root, path)?;
    let prefix = if path.is_empty() {
        String::new()
    } else {
        format!("{path}/")
    };
    let mut out = names(&dir, path, max_entries)?
        .iter()
        .map(|raw| {
            let name = String::from_utf8_lossy(raw.to_bytes());
            entry_info(&dir, raw, format!("{prefix}{name}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Removes a file, a symlink or a directory (with what is in it when `recursive`).
pub fn remove(root: &OwnedFd, path: &str, recursive: bool) -> Result<(), String> {
    let parts = validate(path)?;
    let (dir, name) = parent(root, &parts, None)?;
    let st = fstatat(&dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|e| format!("stat {path:?}: {e}"))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return unlinkat(&dir, name, UnlinkatFlags::NoRemoveDir)
            .map_err(|e| format!("remove {path:?}: {e}"));
    }
    if recursive {
        let sub = openat2(&dir, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0)
            .map_err(|e| format!("open directory {path:?}: {e}"))?;
        empty(&sub, path, 1)?;
    }
    unlinkat(&dir, name, UnlinkatFlags::RemoveDir).map_err(|e| match e {
        Errno::ENOTEMPTY | Errno::EEXIST => {
            format!("{path:?} is a directory that is not empty; remove it recursively")
        }
        e => format!("remove {path:?}: {e}"),
    })
}

/// Removes everything in a directory, depth first.
fn empty(dir: &OwnedFd, what: &str, depth: usize) -> Result<(), String> {
    if depth > MAX_REMOVE_DEPTH {
        return Err(format!(
            "{what:?} is nested deeper than {MAX_REMOVE_DEPTH} levels"
        ));
    }
    for raw in names(dir, what, usize::MAX)? {
        let st = fstatat(dir, raw.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| format!("stat in {what:?}: {e}"))?;
        let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
        if is_dir {
            let sub = openat2(dir, raw.as_c_str(), OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0)
                .map_err(|e| format!("open a directory in {what:?}: {e}"))?;
            empty(&sub, what, depth + 1)?;
        }
        let how = if is_dir {
            UnlinkatFlags::RemoveDir
        } else {
            UnlinkatFlags::NoRemoveDir
        };
        unlinkat(dir, raw.as_c_str(), how).map_err(|e| format!("remove in {what:?}: {e}"))?;
    }
    Ok(())
}

/// Renames `from` to `to` (both relative to the working directory).
pub fn rename(root: &OwnedFd, from: &str, to: &str) -> Result<(), String> {
    let (fparts, tparts) = (validate(from)?, validate(to)?);
    let (fdir, fname) = parent(root, &fparts, None)?;
    let (tdir, tname) = parent(root, &tparts, None)?;
    nix::fcntl::renameat(&fdir, fname, &tdir, tname)
        .map_err(|e| format!("rename {from:?} to {to:?}: {e}"))
}

/// Makes a directory owned by `owner` (with its missing parents when `parents`).
pub fn make_dir(
    root: &OwnedFd,
    path: &str,
    parents: bool,
    owner: (u32, u32),
) -> Result<(), String> {
    let parts = validate(path)?;
    let (dir, name) = parent(root, &parts, parents.then_some(owner))?;
    match mkdirat(&dir, name, Mode::from_bits_truncate(0o755)) {
        Ok(()) => {}
        Err(Errno::EEXIST) if parents => {
            let st = fstatat(&dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
                .map_err(|e| format!("stat {path:?}: {e}"))?;
            if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                return Ok(());
            }
            return Err(format!("{path:?} exists and is not a directory"));
        }
        Err(e) => return Err(format!("mkdir {path:?}: {e}")),
    }
    let fd = openat2(&dir, name, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)
        .map_err(|e| format!("open directory {path:?}: {e}"))?;
    nix::unistd::fchownat(
        &fd,
        "",
        Some(owner.0.into()),
        Some(owner.1.into()),
        AtFlags::AT_EMPTY_PATH,
    )
    .map_err(|e| format!("chown {path:?}: {e}"))
}
