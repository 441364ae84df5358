//! File access inside a box's working directory that never follows a symlink
//! and never leaves the directory: every step is `openat2` with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
//! RESOLVE_NO_XDEV` from a descriptor of `/box` (Judge0 CVE-2024-28185,
//! go-judge #176). Used by the box's init, which does all file work for the host.
//!
//! Listing one directory, removing, renaming and making directories live in
//! `ops` (same rules).
//!
//! Also the one rule for where a program may run from: [`check_exec_path`]
//! (no working directory and no program under `/proc`), which the API's
//! validation calls and the box's init enforces again on what it resolved.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

use crate::protocol::{FileInfo, FileKind};

/// Checks a path relative to the working directory: no absolute paths, no
/// `..`, no empty or `.` components, no NUL, bounded length and depth.
pub fn validate(path: &str) -> Result<Vec<&str>, String> {
    if path.is_empty() || path.len() > 1024 {
        return Err(format!("path {path:?} must be 1 to 1024 bytes"));
    }
    if path.starts_with('/') || path.contains('\0') {
        return Err(format!(
            "path {path:?} must be relative to the working directory, without NUL bytes"
        ));
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts.len() > 16 {
        return Err(format!("path {path:?} is nested deeper than 16 levels"));
    }
    for p in &parts {
        if p.is_empty() || *p == "." || *p == ".." {
            return Err(format!("path {path:?} has an empty, `.` or `..` component"));
        }
    }
    Ok(parts)
}

/// The rule for an exec's working directory and program: neither may be a
/// `/proc` path (`/proc/self/fd/N`, `/proc/1/root`, `/proc/self/exe` lead out
/// of the box or to Kiln's own binary). `path` is checked after `.` and `..`
/// are resolved lexically against `cwd` (for a relative path with a `/`); a
/// bare command name (`python3`) is looked up in `PATH` by the box, which
/// refuses what it finds on procfs. `field` names the request field in the
/// error (`cwd`, `command`).
pub fn check_exec_path(field: &str, path: &str, cwd: &str) -> Result<(), String> {
    if path.contains('\0') {
        return Err(format!("{field}: {path:?} contains a NUL byte"));
    }
    if !path.starts_with('/') && !path.contains('/') {
        return Ok(());
    }
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{cwd}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    if parts.first() == Some(&"proc") {
        return Err(format!("{field}: {path:?} is inside /proc; a program and its working directory may not be /proc paths"));
    }
    Ok(())
}

fn openat2<P: ?Sized + nix::NixPath>(
    dir: &impl AsFd,
    name: &P,
    flags: OFlag,
    mode: u32,
) -> Result<OwnedFd, Errno> {
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
        .mode(if flags.contains(OFlag::O_CREAT) {
            Mode::from_bits_truncate(mode)
        } else {
            Mode::empty()
        })
        .resolve(
            ResolveFlag::RESOLVE_BENEATH
                | ResolveFlag::RESOLVE_NO_SYMLINKS
                | ResolveFlag::RESOLVE_NO_MAGICLINKS
                | ResolveFlag::RESOLVE_NO_XDEV,
        );
    nix::fcntl::openat2(dir.as_fd(), name, how)
}

/// Walks to the parent directory of `parts`, creating missing directories
/// (owned by `owner`) when `create` is set. Returns it and the last name.
fn parent<'a>(
    root: &OwnedFd,
    parts: &[&'a str],
    create: Option<(u32, u32)>,
) -> Result<(OwnedFd, &'a str), String> {
    let (last, dirs) = parts.split_last().expect("validated: at least one part");
    let mut cur = root.try_clone().map_err(|e| format!("dup: {e}"))?;
    for d in dirs {
        if let Some((uid, gid)) = create {
            match nix::sys::stat::mkdirat(cur.as_fd(), *d, Mode::from_bits_truncate(0o755)) {
                Ok(()) => {
                    let sub = openat2(&cur, *d, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)
                        .map_err(|e| format!("open directory {d:?}: {e}"))?;
                    let _ = nix::unistd::fchownat(
                        &sub,
                        "",
                        Some(uid.into()),
                        Some(gid.into()),
                        nix::fcntl::AtFlags::AT_EMPTY_PATH,
                    );
                    cur = sub;
                    continue;
                }
                Err(Errno::EEXIST) => {}
                Err(e) => return Err(format!("mkdir {d:?}: {e}")),
            }
        }
        cur = openat2(&cur, *d, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)
            .map_err(|e| format!("open directory {d:?}: {e} (symlinks are not followed)"))?;
    }
    Ok((cur, last))
}

/// Creates (or appends to) a regular file, owned by the box's user.
pub fn write(
    root: &OwnedFd,
    path: &str,
    data: &[u8],
    mode: u32,
    append: bool,
    owner: (u32, u32),
) -> Result<(), String> {
    let parts = validate(path)?;
    let (dir, name) = parent(root, &parts, Some(owner))?;
    let mut flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_NONBLOCK;
    flags |= if append {
        OFlag::O_APPEND
    } else {
        OFlag::O_TRUNC
    };
    let fd = openat2(&dir, name, flags, mode & 0o777)
        .map_err(|e| format!("open {path:?} for writing: {e} (symlinks are not followed)"))?;
    let st = nix::sys::stat::fstat(&fd).map_err(|e| format!("fstat {path:?}: {e}"))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(format!("{path:?} is not a regular file"));
    }
    nix::unistd::fchown(&fd, Some(owner.0.into()), Some(owner.1.into()))
        .map_err(|e| format!("chown {path:?}: {e}"))?;
    let mut f = File::from(fd);
    f.write_all(data)
        .map_err(|e| format!("write {path:?}: {e}"))
}

/// Opens a regular file for reading.
pub fn open_read(root: &OwnedFd, path: &str) -> Result<File, String> {
    let parts = validate(path)?;
    let (dir, name) = parent(root, &parts, None)?;
    let fd = openat2(&dir, name, OFlag::O_RDONLY | OFlag::O_NONBLOCK, 0)
        .map_err(|e| format!("open {path:?}: {e} (symlinks are not followed)"))?;
    let st = nix::sys::stat::fstat(&fd).map_err(|e| format!("fstat {path:?}: {e}"))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(format!("{path:?} is not a regular file"));
    }
    Ok(File::from(fd))
}

/// Reads at most `max` bytes of a regular file. Returns the bytes and whether
/// the file was longer.
pub fn read(root: &OwnedFd, path: &str, max: u64) -> Result<(Vec<u8>, bool), String> {
    let f = open_read(root, path)?;
    let mut buf = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("read {path:?}: {e}"))?;
    let longer = buf.len() as u64 > max;
    buf.truncate(max as usize);
    Ok((buf, longer))
}

/// Every entry under `root`, depth first, at most `max_entries` of them
/// (more is an error, as is a path deeper or longer than [`validate`]
/// accepts): each directory is opened with the same `openat2` rules as a
/// file, and each entry is looked at with `fstatat(AT_SYMLINK_NOFOLLOW)`, so
/// a symlink is listed as one and never followed.
pub fn list(root: &OwnedFd, max_entries: usize) -> Result<Vec<FileInfo>, String> {
    let top = openat2(root, ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0)
        .map_err(|e| format!("open the working directory: {e}"))?;
    let mut out = Vec::new();
    // (directory, its path with a trailing `/` or empty, depth of its entries)
    let mut todo: Vec<(OwnedFd, String, usize)> = vec![(top, String::new(), 1)];
    while let Some((fd, prefix, depth)) = todo.pop() {
        let dirfd = fd.try_clone().map_err(|e| format!("dup: {e}"))?;
        let mut dir =
            nix::dir::Dir::from_fd(dirfd).map_err(|e| format!("read directory {prefix:?}: {e}"))?;
        for entry in dir.iter() {
            let entry = entry.map_err(|e| format!("read directory {prefix:?}: {e}"))?;
            let raw = entry.file_name().to_bytes();
            if raw == b"." || raw == b".." {
                continue;
            }
            let name = String::from_utf8_lossy(raw);
            let path = format!("{prefix}{name}");
            if out.len() == max_entries {
                return Err(format!("more than {max_entries} entries"));
            }
            if depth > 16 || path.len() > 1024 {
                return Err(format!(
                    "{path:?} is nested deeper than 16 levels or longer than 1024 bytes"
                ));
            }
            let info = ops::entry_info(&fd, entry.file_name(), path.clone())?;
            if info.kind == FileKind::Dir {
                let sub = openat2(&fd, &*name, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0)
                    .map_err(|e| format!("open directory {path:?}: {e}"))?;
                todo.push((sub, format!("{path}/"), depth + 1));
            }
            out.push(info);
        }
    }
    Ok(out)
}

mod ops;
pub use ops::{list_dir, make_dir, remove, rename};

#[cfg(test)]
mod tests;
