//! Interactive programs on a pseudo-terminal inside a box (workspaces'
//! terminals). The box opens the terminal in its own `devpts`; the host gets
//! the master end and reads and writes it asynchronously.

use std::io;
use std::os::fd::OwnedFd;

use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;

use crate::boxed::SandboxBox;
use crate::conn::{Exit, Reply};
use crate::error::{Result, SandboxError};
use crate::protocol::{Request, Rlimits, Stdio};

const WRITE_BACKOFF_MIN: std::time::Duration = std::time::Duration::from_millis(1);
const WRITE_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_millis(50);

/// A program running on a terminal.
pub struct PtyProcess {
    pub pid: i32,
    master: AsyncFd<OwnedFd>,
    exit: Option<oneshot::Receiver<Exit>>,
}

impl SandboxBox {
    /// Starts `argv` on a new terminal of `rows` x `cols`. Other processes of
    /// the box keep running when it exits.
    pub async fn spawn_pty(
        &self,
        argv: Vec<String>,
        env: Vec<String>,
        cwd: &str,
        rows: u16,
        cols: u16,
    ) -> Result<PtyProcess> {
        self.spawn_pty_limited(argv, env, cwd, rows, cols, Rlimits::default())
            .await
    }

    /// Like [`SandboxBox::spawn_pty`], with rlimits for the terminal's programs.
    pub async fn spawn_pty_limited(
        &self,
        argv: Vec<String>,
        env: Vec<String>,
        cwd: &str,
        rows: u16,
        cols: u16,
        rlimits: Rlimits,
    ) -> Result<PtyProcess> {
        let req = self.conn.next_id();
        let msg = Request::Exec {
            req,
            argv,
            env,
            cwd: cwd.to_string(),
            rlimits,
            stdio: Stdio::Pty { rows, cols },
            kill_all_on_exit: false,
        };
        match self.conn.request(req, &msg, &[], &[]).await? {
            Reply::Started { pid, mut fds, exit } => {
                let master = fds.pop().ok_or_else(|| {
                    SandboxError::Channel("terminal started without its master".into())
                })?;
                let flags = nix::fcntl::fcntl(&master, nix::fcntl::FcntlArg::F_GETFL)
                    .map_err(|e| SandboxError::io("F_GETFL", e.into()))?;
                let flags =
                    nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
                nix::fcntl::fcntl(&master, nix::fcntl::FcntlArg::F_SETFL(flags))
                    .map_err(|e| SandboxError::io("F_SETFL", e.into()))?;
                // SAFETY: `master` is an open descriptor owned by the AsyncFd for its whole life.
                let master = unsafe { AsyncFd::register(master) }
                    .map_err(|e| SandboxError::io("register the terminal", e.into_parts().1))?;
                Ok(PtyProcess {
                    pid,
                    master,
                    exit: Some(exit),
                })
            }
            Reply::Failed(m) => Err(SandboxError::Rejected(m)),
            Reply::Done => Err(SandboxError::Channel("unexpected reply to exec".into())),
        }
    }

    /// Changes a terminal's size.
    pub async fn resize(&self, pid: i32, rows: u16, cols: u16) -> Result<()> {
        let req = self.conn.next_id();
        match self
            .conn
            .request(
                req,
                &Request::Resize {
                    req,
                    pid,
                    rows,
                    cols,
                },
                &[],
                &[],
            )
            .await?
        {
            Reply::Done => Ok(()),
            Reply::Failed(m) => Err(SandboxError::Rejected(m)),
            Reply::Started { .. } => {
                Err(SandboxError::Channel("unexpected reply to a resize".into()))
            }
        }
    }

    /// Kills one process group started by `exec`/`spawn_pty`.
    pub async fn kill(&self, pid: i32) -> Result<()> {
        self.conn
            .send(&Request::Kill { pid, all: false }, &[], &[])
            .await
    }
}

impl PtyProcess {
    /// Reads output; `Ok(0)` once the terminal has no more writers.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.master.readable().await?;
            match guard.try_io(|fd| nix::unistd::read(fd.get_ref(), buf).map_err(io::Error::from)) {
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Ok(0),
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes all of `data` as terminal input.
    ///
    /// When the terminal's input queue is full (the program does not read, or
    /// its echo waits for our reader to drain it), a pty master can be woken
    /// as writable again and again while every write fails with `EAGAIN`:
    /// seen with 1000 busy terminals, where retrying on readiness alone spun
    /// both runtime threads and starved the tasks that would drain them. So a
    /// refused write waits a little, longer each time (1 ms doubling to 50 ms).
    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        let mut backoff = WRITE_BACKOFF_MIN;
        while !data.is_empty() {
            let mut guard = self.master.writable().await?;
            match guard.try_io(|fd| nix::unistd::write(fd.get_ref(), data).map_err(io::Error::from))
            {
                Ok(Ok(n)) if n > 0 => {
                    data = &data[n..];
                    backoff = WRITE_BACKOFF_MIN;
                }
                Ok(Ok(_)) | Err(_) => {
                    drop(guard);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(WRITE_BACKOFF_MAX);
                }
                Ok(Err(e)) => return Err(e),
            }
        }
        Ok(())
    }

    /// Waits for the program to exit.
    pub async fn wait(&mut self) -> Result<Exit> {
        match self.exit.take() {
            Some(rx) => rx.await.map_err(|_| SandboxError::Gone),
            None => Err(SandboxError::Channel("already waited".into())),
        }
    }
}
