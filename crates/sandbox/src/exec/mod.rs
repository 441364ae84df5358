//! Running one program in a box: pipes for its stdio, limits in its cgroup
//! and rlimits, a wall-clock timer and a CPU watchdog on the host, output
//! captured up to a cap (going over stops the program and says so), and the
//! measured CPU time, wall time and memory peak.
//!
//! Three parts of an exec run at once and none waits on another:
//! - the *watcher* enforces the limits: the wall-clock timer, the CPU watchdog
//!   (the cgroup's usage every 20 ms), the output cap, and the reader of the
//!   output stream going away. It stops the run (the whole box, or in a
//!   shared box the program's process group) with a deadline on the request
//!   to init and the cgroup as backstop. Nothing it does waits on output.
//! - the *pump* reads stdout and stderr into the capture and forwards them
//!   to the stream, if any.
//! - stdin is written by a task of its own (a program that never reads it
//!   blocks only that task).
//!
//! Streaming policy: the stream is a bounded channel (its capacity is the
//! caller's; chunks are at most 64 KiB). When its reader is slower than the
//! program, the pump waits for room, the pipes fill and the program blocks in
//! `write`: it is slowed to the reader's pace, nothing is buffered without
//! bound, and its CPU and wall-clock limits hold all the same. Once the
//! program has ended or been stopped, the pump waits at most
//! [`STREAM_GRACE`] for room, then offers the rest without waiting (what a
//! full stream cannot take is not streamed; the outcome has all of it). When
//! the stream's reader goes away the run is stopped
//! ([`LimitHit::StreamClosed`]). If the exec's future is dropped before the
//! program ended (its caller went away), the program is killed all the same.
//!
//! Layout: this module holds the types and runs an exec ([`SandboxBox::exec`]);
//! `watch` is the watcher (and the kill of a dropped exec), `pump` the pump
//! and the stdin task, `verdict` the limit a program that ended on its own
//! ran into.

mod pump;
mod verdict;
mod watch;

use std::future::Future;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nix::fcntl::OFlag;
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};

use crate::boxed::SandboxBox;
use crate::conn::{Exit, Reply};
use crate::error::{Result, SandboxError};
use crate::protocol::{Request, Rlimits, Stdio};
use pump::{feed_stdin, pump, Capture};
use verdict::judge_limits;
use watch::{KillOnDrop, RunState};

/// Limits of one exec.
#[derive(Debug, Clone, Copy)]
pub struct ExecLimits {
    pub cpu_ms: u64,
    pub wall_ms: u64,
    pub memory_bytes: u64,
    /// Processes and threads of the program at once.
    pub processes: u32,
    /// stdout + stderr bytes kept.
    pub output_bytes: u64,
    pub file_size_bytes: u64,
    pub open_files: u64,
    pub stack_bytes: u64,
}

impl Default for ExecLimits {
    fn default() -> Self {
        ExecLimits {
            cpu_ms: 5_000,
            wall_ms: 10_000,
            memory_bytes: 256 << 20,
            processes: 64,
            output_bytes: 1 << 20,
            file_size_bytes: 64 << 20,
            open_files: 256,
            stack_bytes: 64 << 20,
        }
    }
}

/// Where the program's stdin comes from.
pub enum Input {
    Bytes(Vec<u8>),
    /// Chunks as they arrive; the channel closing is EOF.
    Stream(mpsc::Receiver<Bytes>),
}

/// A chunk of output, for streaming runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout(Bytes),
    Stderr(Bytes),
}

pub struct ExecSpec {
    pub argv: Vec<String>,
    pub env: Vec<String>,
    /// Working directory inside the box (default `/box`).
    pub cwd: String,
    pub limits: ExecLimits,
    pub stdin: Input,
    /// Also send output here as it is produced (it is captured either way).
    pub stream: Option<mpsc::Sender<Output>>,
    /// The box outlives this program (a workspace): other processes keep
    /// running when it exits, the box's cgroup limits are left as they are,
    /// and a limit stops only this program's process group.
    pub shared_box: bool,
    /// The program's stderr is its stdout (one pipe for both, so the two are
    /// interleaved as written): Judge0's `redirect_stderr_to_stdout`.
    pub merge_stderr: bool,
}

impl ExecSpec {
    pub fn new(argv: Vec<String>, env: Vec<String>, limits: ExecLimits) -> ExecSpec {
        ExecSpec {
            argv,
            env,
            cwd: crate::protocol::WORK_DIR.into(),
            limits,
            stdin: Input::Bytes(Vec::new()),
            stream: None,
            shared_box: false,
            merge_stderr: false,
        }
    }
}

/// Which limit stopped the program, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitHit {
    CpuTime,
    WallTime,
    Memory,
    Output,
    /// The reader of the output stream went away (the client left), so the
    /// run was stopped.
    StreamClosed,
}

#[derive(Debug, Clone)]
pub struct ExecOutcome {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub cpu_ms: u64,
    pub wall_ms: u64,
    pub memory_peak_kb: u64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub limit: Option<LimitHit>,
}

impl ExecOutcome {
    pub fn success(&self) -> bool {
        self.limit.is_none() && self.exit_code == Some(0) && self.signal.is_none()
    }
}

fn pipe_pair() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| SandboxError::io("create a pipe", e.into()))
}

/// How often the watcher reads the cgroup's CPU usage.
const WATCHDOG_PERIOD: Duration = Duration::from_millis(20);
/// How long a kill request to init may take before the cgroup kills instead.
const KILL_DEADLINE: Duration = Duration::from_secs(1);
/// How long, once the program ended or was stopped, the pump still waits for
/// room in the stream.
pub const STREAM_GRACE: Duration = Duration::from_millis(250);
/// Bytes read from a pipe at once (the largest streamed chunk).
pub const CHUNK_BYTES: usize = 64 * 1024;

impl SandboxBox {
    /// Runs a program to completion (or to a limit). Every other process of
    /// the box is killed when it exits.
    pub async fn exec(&self, spec: ExecSpec) -> Result<ExecOutcome> {
        let lim = spec.limits;
        let cg = self.cgroup();
        let shared = spec.shared_box;
        if !shared {
            cg.set_limits(lim.memory_bytes, lim.processes.saturating_add(1))?;
            cg.reset_peak();
        }
        let before = cg.usage()?;

        let (in_r, in_w) = pipe_pair()?;
        let (out_r, out_w) = pipe_pair()?;
        let (err_r, err_w) = pipe_pair()?;
        let req = self.conn.next_id();
        let msg = Request::Exec {
            req,
            argv: spec.argv.clone(),
            env: spec.env,
            cwd: spec.cwd,
            rlimits: Rlimits {
                cpu_seconds: Some(lim.cpu_ms.div_ceil(1000) + 1),
                file_size_bytes: Some(lim.file_size_bytes),
                open_files: Some(lim.open_files),
                stack_bytes: Some(lim.stack_bytes),
                address_space_bytes: None,
            },
            stdio: Stdio::Pipes,
            kill_all_on_exit: !shared,
        };
        // Merged: fd 2 is another copy of the stdout pipe's write end; the
        // stderr pipe then only ever reads EOF.
        let err_w = if spec.merge_stderr {
            drop(err_w);
            out_w
                .try_clone()
                .map_err(|e| SandboxError::io("stdout pipe for stderr", e))?
        } else {
            err_w
        };
        let (pid, exit_rx) = self.start(req, &msg, [in_r, out_w, err_w]).await?;
        let started = Instant::now();
        // From here on the program runs: should this future be dropped before
        // it ends (the caller went away), the guard kills it.
        let mut guard = KillOnDrop {
            conn: Some(self.conn.clone()),
            pid,
            all: !shared,
        };

        let stdin_task = tokio::spawn(feed_stdin(in_w, spec.stdin));
        let out =
            pipe::Receiver::from_owned_fd(out_r).map_err(|e| SandboxError::io("stdout pipe", e))?;
        let err =
            pipe::Receiver::from_owned_fd(err_r).map_err(|e| SandboxError::io("stderr pipe", e))?;
        let mut cap = Capture::new(lim.output_bytes);
        let run = RunState::new();
        let exit = {
            let pump = pump(out, err, &mut cap, spec.stream.clone(), &run);
            let watcher = self.watch(&run, lim, (shared, pid), &before, spec.stream.as_ref());
            self.wait_for_end(pump, watcher, exit_rx, &run, shared)
                .await
        };
        stdin_task.abort();
        let exit = exit?.expect("loop ends with an exit");
        guard.conn = None;
        let after = cg.usage()?;
        let cpu_ms = after.cpu_ns.saturating_sub(before.cpu_ns) / 1_000_000;
        let mut hit = run.hit();
        if hit.is_none() {
            hit = judge_limits(&exit, cpu_ms, lim, &before, &after);
        }
        Ok(ExecOutcome {
            exit_code: exit.code,
            signal: exit.signal,
            cpu_ms,
            wall_ms: exit.at.saturating_duration_since(started).as_millis() as u64,
            memory_peak_kb: after.memory_peak_bytes / 1024,
            stdout: cap.stdout,
            stderr: cap.stderr,
            limit: hit,
        })
    }

    /// Sends the exec request `msg` (request id `req`) with the far ends of
    /// the pipes (stdin's read end, stdout's and stderr's write ends), which
    /// are closed here once sent; returns the program's pid and where its
    /// exit will be reported.
    async fn start(
        &self,
        req: u64,
        msg: &Request,
        fds: [OwnedFd; 3],
    ) -> Result<(i32, oneshot::Receiver<Exit>)> {
        let raw = fds.each_ref().map(|f| f.as_raw_fd());
        let reply = self.conn.request(req, msg, &[], &raw).await;
        drop(fds);
        match reply? {
            Reply::Started { exit, pid, .. } => Ok((pid, exit)),
            Reply::Failed(m) => Err(SandboxError::Rejected(m)),
            Reply::Done => Err(SandboxError::Channel("unexpected reply to exec".into())),
        }
    }

    /// Drives the pump and the watcher until the program's exit is known and
    /// its output read; a run whose pipes stay open after it ended or was
    /// stopped is killed through the cgroup. Never `Ok(None)`.
    async fn wait_for_end(
        &self,
        pump: impl Future<Output = ()>,
        watcher: impl Future<Output = ()>,
        exit_rx: oneshot::Receiver<Exit>,
        run: &RunState,
        shared: bool,
    ) -> Result<Option<Exit>> {
        let cg = self.cgroup();
        tokio::pin!(pump, watcher);
        let mut exit_rx = Some(exit_rx);
        let mut exit: Option<Exit> = None;
        let (mut pump_done, mut watch_done) = (false, false);
        let mut hard_stop: Option<Instant> = None;
        loop {
            if pump_done && exit.is_some() {
                break Ok(exit);
            }
            // After the program exits, its pipes close once every holder
            // died; after a kill, the cgroup makes sure of that.
            let grace = hard_stop.map_or(Duration::from_secs(3600), |t| {
                t.saturating_duration_since(Instant::now())
            });
            tokio::select! {
                () = &mut pump, if !pump_done => pump_done = true,
                () = &mut watcher, if !watch_done => {
                    watch_done = true;
                    if run.hit().is_some() {
                        hard_stop.get_or_insert(Instant::now() + Duration::from_secs(2));
                    }
                },
                e = async { exit_rx.as_mut().expect("guarded").await }, if exit_rx.is_some() => {
                    exit_rx = None;
                    match e {
                        Ok(e) => exit = Some(e),
                        Err(_) => break Err(SandboxError::Gone),
                    }
                    run.ended.send_replace(true);
                    hard_stop.get_or_insert(Instant::now() + Duration::from_millis(500));
                },
                () = tokio::time::sleep(grace), if hard_stop.is_some() => {
                    // Something still holds the pipes or init stopped answering.
                    // In a shared box a background process may keep them: leave it be.
                    if !(shared && exit.is_some()) {
                        cg.kill_all();
                    }
                    if exit.is_none() {
                        break Err(SandboxError::Gone);
                    }
                    break Ok(exit);
                },
            }
        }
    }
}
