//! Resolving an exec's working directory, program and `#!` interpreters
//! inside the box, as the box's user: `openat2` with `RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS`, nothing on procfs.

use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;

use crate::files;

/// How paths of an exec are resolved: inside the box's root, never through
/// a magic link (`/proc/<pid>/{root,cwd,exe,fd/N}`).
pub(super) fn open_in_box(
    root: &OwnedFd,
    cwd: Option<&OwnedFd>,
    path: &str,
    flags: OFlag,
) -> Result<OwnedFd, Errno> {
    let (dir, resolve) = match (path.starts_with('/'), cwd) {
        (false, Some(c)) => (c.as_fd(), nix::fcntl::ResolveFlag::RESOLVE_NO_MAGICLINKS),
        _ => (
            root.as_fd(),
            nix::fcntl::ResolveFlag::RESOLVE_IN_ROOT
                | nix::fcntl::ResolveFlag::RESOLVE_NO_MAGICLINKS,
        ),
    };
    // openat2 refuses O_PATH with other flags than O_DIRECTORY, O_NOFOLLOW, O_CLOEXEC.
    let extra = if flags.contains(OFlag::O_PATH) {
        OFlag::O_CLOEXEC
    } else {
        OFlag::O_CLOEXEC | OFlag::O_NOCTTY
    };
    let how = nix::fcntl::OpenHow::new()
        .flags(flags | extra)
        .resolve(resolve);
    nix::fcntl::openat2(dir, path, how)
}

/// Refuses a descriptor on procfs, whatever path led there.
pub(super) fn not_on_proc(fd: &OwnedFd, what: &str, path: &str) -> Result<(), String> {
    let st = nix::sys::statfs::fstatfs(fd).map_err(|e| format!("fstatfs {what} {path:?}: {e}"))?;
    if st.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC {
        return Err(format!(
            "{what} {path:?} is on /proc, which is refused for programs and working directories"
        ));
    }
    Ok(())
}

/// A program opened for exec: readable when the user may read it (so a
/// `#!` line can be seen), else `O_PATH` (execute-only binaries).
fn open_program(root: &OwnedFd, cwd: &OwnedFd, path: &str) -> Result<OwnedFd, Errno> {
    let fd = match open_in_box(root, Some(cwd), path, OFlag::O_RDONLY | OFlag::O_NONBLOCK) {
        Err(Errno::EACCES) => open_in_box(root, Some(cwd), path, OFlag::O_PATH)?,
        r => r?,
    };
    let st = nix::sys::stat::fstat(&fd)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(Errno::EACCES);
    }
    Ok(fd)
}

/// Finds and opens the program like `execvp`, as the box's user, inside the
/// box. Returns the descriptor and the path it was found at.
pub(super) fn find_program(
    root: &OwnedFd,
    cwd: &OwnedFd,
    cmd: &str,
    env: &[String],
) -> Result<(OwnedFd, String), String> {
    if cmd.is_empty() {
        return Err("empty command".into());
    }
    if cmd.contains('/') {
        if cmd.starts_with('/') {
            files::check_exec_path("command", cmd, "/")?;
        }
        let fd = open_program(root, cwd, cmd).map_err(|e| {
            format!("open {cmd:?}: {e} (resolved inside the box; magic links are not followed)")
        })?;
        return Ok((fd, cmd.to_string()));
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/bin:/bin");
    let mut denied = None;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = format!("{}/{cmd}", dir.trim_end_matches('/'));
        // Like execvp: go on past missing entries, remember a refused one,
        // stop at anything else (a link loop, a magic link).
        match open_program(root, cwd, &candidate) {
            Ok(fd) => return Ok((fd, candidate)),
            Err(Errno::EACCES) => denied = Some(candidate),
            Err(
                Errno::ENOENT | Errno::ENOTDIR | Errno::ESTALE | Errno::ENODEV | Errno::ETIMEDOUT,
            ) => {}
            Err(e) => {
                return Err(format!(
                "open {candidate:?}: {e} (resolved inside the box; magic links are not followed)"
            ))
            }
        }
    }
    match denied {
        Some(c) => Err(format!("{c:?} is not an executable regular file")),
        None => Err(format!(
            "command {cmd:?} not found in PATH {path:?} inside the box"
        )),
    }
}

/// Follows `#!` lines like the kernel does (at most 4 levels), resolving each
/// interpreter inside the box: returns the file to exec and its argv.
pub(super) fn interpret(
    root: &OwnedFd,
    cwd: &OwnedFd,
    mut fd: OwnedFd,
    mut path: String,
    mut argv: Vec<String>,
) -> Result<(OwnedFd, Vec<String>), String> {
    for _ in 0..4 {
        let mut head = [0u8; 256];
        // An O_PATH descriptor cannot be read (EBADF): no `#!` to follow.
        let n = match nix::sys::uio::pread(&fd, &mut head, 0) {
            Ok(n) => n,
            Err(_) => return Ok((fd, argv)),
        };
        if n < 2 || &head[..2] != b"#!" {
            return Ok((fd, argv));
        }
        let line = head[2..n].split(|&b| b == b'\n').next().unwrap_or(&[]);
        let line = String::from_utf8_lossy(line);
        let line = line.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r');
        let (interp, arg) = match line.split_once([' ', '\t']) {
            Some((i, a)) => (i, Some(a.trim_matches(|c: char| c == ' ' || c == '\t'))),
            None => (line, None),
        };
        if interp.is_empty() {
            return Err(format!("{path:?} has an empty #! line"));
        }
        files::check_exec_path("interpreter", interp, "/")?;
        let ifd = open_program(root, cwd, interp)
            .map_err(|e| format!("interpreter {interp:?} of {path:?}: {e}"))?;
        not_on_proc(&ifd, "interpreter", interp)?;
        let mut next = vec![interp.to_string()];
        next.extend(arg.filter(|a| !a.is_empty()).map(str::to_string));
        next.push(path);
        next.extend(argv.drain(..).skip(1));
        argv = next;
        fd = ifd;
        path = interp.to_string();
    }
    Err(format!("{path:?}: too many levels of #! interpreters"))
}
