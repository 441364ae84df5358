//! Starting an exec: its terminal or pipes, and the fork whose child
//! becomes the program (see [`child`](super::child)).

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Pid};

use super::child::{child, Target};
use super::Init;
use crate::protocol::{Rlimits, Stdio};
use crate::rootfs::cstr;

impl Init {
    /// Starts a program: forks a child that becomes it. Returns its pid and
    /// its terminal's master, or why it did not start (what the child wrote
    /// to the error pipe before `execveat`, which closes the pipe).
    pub(super) fn exec(
        &self,
        argv: &[String],
        env: &[String],
        cwd: &str,
        rl: Rlimits,
        stdio: Stdio,
        fds: Vec<OwnedFd>,
    ) -> Result<(Pid, Option<OwnedFd>), String> {
        if argv.is_empty() {
            return Err("empty command".into());
        }
        let (master, slave_path) = match stdio {
            Stdio::Pipes if fds.len() == 3 => (None, None),
            Stdio::Pipes => {
                return Err(format!(
                    "exec with pipes needs 3 descriptors, got {}",
                    fds.len()
                ))
            }
            Stdio::Pty { rows, cols } => {
                let (m, s) = open_pty().map_err(|e| format!("open a pseudo-terminal: {e}"))?;
                set_winsize(&m, rows, cols);
                (Some(m), Some(s))
            }
        };
        let env_c: Vec<CString> = env.iter().map(|e| cstr(e)).collect();
        let (err_r, err_w) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
        // SAFETY: init is single-threaded, so the child is a full copy of a
        // consistent process and may allocate; it ends in execve or _exit.
        match unsafe { fork() } {
            Err(e) => Err(format!("fork: {e}")),
            Ok(ForkResult::Child) => {
                drop(err_r);
                let target = Target {
                    root: &self.root,
                    run_groups: &self.run_groups,
                    argv,
                    env,
                    env_c: &env_c,
                    cwd,
                    setgroups: !self.rootless,
                };
                let Err(msg) = child(
                    &target,
                    rl,
                    &fds,
                    slave_path.as_deref(),
                    self.uid,
                    self.gid,
                    &self.filter,
                );
                let _ = nix::unistd::write(&err_w, msg.as_bytes());
                // SAFETY: _exit ends the child at once without running the
                // parent's atexit handlers or flushing its copied buffers.
                unsafe { libc::_exit(127) }
            }
            Ok(ForkResult::Parent { child }) => {
                drop(err_w);
                drop(fds);
                let msg = read_to_end(&err_r);
                if msg.is_empty() {
                    Ok((child, master))
                } else {
                    let _ = waitpid(child, None);
                    Err(format!(
                        "could not start {:?}: {}",
                        argv[0],
                        String::from_utf8_lossy(&msg)
                    ))
                }
            }
        }
    }
}

/// What a child wrote to `fd` until it closed.
fn read_to_end(fd: &OwnedFd) -> Vec<u8> {
    let mut msg = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        match nix::unistd::read(fd, &mut chunk) {
            Ok(0) => break,
            Ok(n) => msg.extend_from_slice(&chunk[..n]),
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    msg
}

fn open_pty() -> Result<(OwnedFd, String), Errno> {
    let m = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    nix::pty::grantpt(&m)?;
    nix::pty::unlockpt(&m)?;
    let name = nix::pty::ptsname_r(&m)?;
    Ok((OwnedFd::from(m), name))
}

/// Sets a terminal's size (TIOCSWINSZ).
pub fn set_winsize(fd: &impl AsRawFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives across the call.
    unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TIOCSWINSZ,
            &ws as *const libc::winsize,
        )
    };
}
