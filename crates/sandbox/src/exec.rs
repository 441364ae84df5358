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

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nix::fcntl::OFlag;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, watch, Notify};

use crate::boxed::SandboxBox;
use crate::conn::{Exit, Reply};
use crate::error::{Result, SandboxError};
use crate::protocol::{Request, Rlimits, Stdio};

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
}

impl ExecSpec {
    pub fn new(argv: Vec<String>, env: Vec<String>, limits: ExecLimits) -> ExecSpec {
        ExecSpec {
            argv,
            env,
            cwd: crate::rootfs::WORK_DIR.into(),
            limits,
            stdin: Input::Bytes(Vec::new()),
            stream: None,
            shared_box: false,
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

/// Output kept so far, with the cap shared by stdout and stderr.
struct Capture {
    cap: u64,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    exceeded: bool,
}

impl Capture {
    fn take(&mut self, is_err: bool, data: &[u8]) -> usize {
        let room = self
            .cap
            .saturating_sub((self.stdout.len() + self.stderr.len()) as u64)
            as usize;
        let n = data.len().min(room);
        if n < data.len() {
            self.exceeded = true;
        }
        let buf = if is_err {
            &mut self.stderr
        } else {
            &mut self.stdout
        };
        buf.extend_from_slice(&data[..n]);
        n
    }
}

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
        let reply = self
            .conn
            .request(
                req,
                &msg,
                &[],
                &[in_r.as_raw_fd(), out_w.as_raw_fd(), err_w.as_raw_fd()],
            )
            .await;
        drop((in_r, out_w, err_w));
        let (pid, exit_rx) = match reply? {
            Reply::Started { exit, pid, .. } => (pid, exit),
            Reply::Failed(m) => return Err(SandboxError::Rejected(m)),
            Reply::Done => return Err(SandboxError::Channel("unexpected reply to exec".into())),
        };
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
        let mut cap = Capture {
            cap: lim.output_bytes,
            stdout: Vec::new(),
            stderr: Vec::new(),
            exceeded: false,
        };
        let run = RunState {
            hit: std::sync::Mutex::new(None),
            over_cap: Notify::new(),
            ended: watch::channel(false).0,
        };
        let exit = {
            let pump = pump(out, err, &mut cap, spec.stream.clone(), &run);
            let watcher = self.watch(&run, lim, (shared, pid), &before, spec.stream.as_ref());
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

    /// The watcher: returns when the program ended on its own (without
    /// doing anything) or after it stopped the run for a limit.
    async fn watch(
        &self,
        run: &RunState,
        lim: ExecLimits,
        (shared, pid): (bool, i32),
        before: &crate::cgroup::Usage,
        stream: Option<&mpsc::Sender<Output>>,
    ) {
        let cg = self.cgroup();
        let wall = tokio::time::sleep(Duration::from_millis(lim.wall_ms));
        tokio::pin!(wall);
        let mut watchdog = tokio::time::interval(WATCHDOG_PERIOD);
        watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut ended = run.ended.subscribe();
        let stream_closed = async {
            match stream {
                Some(tx) => tx.closed().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(stream_closed);
        let hit = loop {
            tokio::select! {
                _ = ended.wait_for(|e| *e) => return,
                () = &mut wall => break LimitHit::WallTime,
                () = run.over_cap.notified() => break LimitHit::Output,
                () = &mut stream_closed => break LimitHit::StreamClosed,
                _ = watchdog.tick(), if !shared => {
                    if let Ok(u) = cg.usage() {
                        if u.cpu_ns.saturating_sub(before.cpu_ns) > lim.cpu_ms * 1_000_000 {
                            break LimitHit::CpuTime;
                        }
                    }
                },
            }
        };
        run.set_hit(hit);
        self.stop_run(shared, pid).await;
    }

    /// Stops a run: its process group in a shared box, else the whole box.
    /// A box whose init does not take the request within [`KILL_DEADLINE`]
    /// is killed through its cgroup.
    async fn stop_run(&self, shared: bool, pid: i32) {
        if shared {
            let _ = tokio::time::timeout(KILL_DEADLINE, self.kill(pid)).await;
        } else {
            self.stop().await;
        }
    }

    /// Kills every process of the box: through init, and the cgroup as backstop.
    async fn stop(&self) {
        if !matches!(
            tokio::time::timeout(KILL_DEADLINE, self.kill_all()).await,
            Ok(Ok(()))
        ) {
            self.cgroup().kill_all();
        }
    }
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

/// What the pump and the watcher of one exec share.
struct RunState {
    /// The limit that stopped the run (the first one wins).
    hit: std::sync::Mutex<Option<LimitHit>>,
    /// The pump found output over the cap.
    over_cap: Notify,
    /// The program exited, or a limit stopped it.
    ended: watch::Sender<bool>,
}

impl RunState {
    fn hit(&self) -> Option<LimitHit> {
        *self.hit.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_hit(&self, hit: LimitHit) {
        self.hit
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(hit);
        self.ended.send_replace(true);
    }
}

/// Reads both pipes to their end into `cap`, forwarding what is kept to
/// `stream` (see the module's streaming policy).
async fn pump(
    mut out: pipe::Receiver,
    mut err: pipe::Receiver,
    cap: &mut Capture,
    mut stream: Option<mpsc::Sender<Output>>,
    run: &RunState,
) {
    let (mut obuf, mut ebuf) = (vec![0u8; CHUNK_BYTES], vec![0u8; CHUNK_BYTES]);
    let (mut out_open, mut err_open) = (true, true);
    let mut ended = run.ended.subscribe();
    let mut deadline: Option<tokio::time::Instant> = None;
    while out_open || err_open {
        let (is_err, n) = tokio::select! {
            r = out.read(&mut obuf), if out_open => match r {
                Ok(0) | Err(_) => { out_open = false; continue }
                Ok(n) => (false, n),
            },
            r = err.read(&mut ebuf), if err_open => match r {
                Ok(0) | Err(_) => { err_open = false; continue }
                Ok(n) => (true, n),
            },
        };
        let data = if is_err { &ebuf[..n] } else { &obuf[..n] };
        let kept = cap.take(is_err, data);
        if cap.exceeded && run.hit().is_none() {
            run.over_cap.notify_one();
        }
        let Some(tx) = stream.as_ref().filter(|_| kept > 0) else {
            continue;
        };
        let chunk = Bytes::copy_from_slice(&data[..kept]);
        let chunk = if is_err {
            Output::Stderr(chunk)
        } else {
            Output::Stdout(chunk)
        };
        if *ended.borrow() {
            deadline.get_or_insert_with(|| tokio::time::Instant::now() + STREAM_GRACE);
        }
        // Whether the reader went away (the watcher then stops the run).
        let gone = {
            let send = tx.send(chunk);
            tokio::pin!(send);
            let mut sent = None;
            if deadline.is_none() {
                // Backpressure: wait for the reader as long as the run goes on.
                tokio::select! {
                    r = &mut send => sent = Some(r.is_err()),
                    _ = ended.wait_for(|e| *e) => deadline = Some(tokio::time::Instant::now() + STREAM_GRACE),
                }
            }
            match sent {
                Some(gone) => gone,
                // The run is over: a little more time, then the chunk is not streamed.
                None => {
                    let d = deadline.unwrap_or_else(tokio::time::Instant::now);
                    matches!(tokio::time::timeout_at(d, send).await, Ok(Err(_)))
                }
            }
        };
        if gone {
            stream = None;
        }
    }
}

/// Kills a started program if the exec's future is dropped before it ended.
struct KillOnDrop {
    conn: Option<std::sync::Arc<crate::conn::Conn>>,
    pid: i32,
    all: bool,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        let (pid, all) = (self.pid, self.all);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = tokio::time::timeout(
                    KILL_DEADLINE,
                    conn.send(&Request::Kill { pid, all }, &[], &[]),
                )
                .await;
            });
        }
    }
}

/// Decides which limit a program that ended on its own ran into, if any.
fn judge_limits(
    exit: &Exit,
    cpu_ms: u64,
    lim: ExecLimits,
    before: &crate::cgroup::Usage,
    after: &crate::cgroup::Usage,
) -> Option<LimitHit> {
    let failed = exit.code != Some(0) || exit.signal.is_some();
    if after.oom_kills > before.oom_kills {
        return Some(LimitHit::Memory);
    }
    if exit.signal == Some(libc::SIGXCPU)
        || cpu_ms > lim.cpu_ms
        || (exit.signal == Some(libc::SIGKILL) && cpu_ms + 50 >= lim.cpu_ms)
    {
        return Some(LimitHit::CpuTime);
    }
    // A program that failed after hitting the memory limit (an allocation
    // that returned NULL, MemoryError, bad_alloc) ran out of memory.
    if failed && after.limit_hits > before.limit_hits.min(after.limit_hits) && after.limit_hits > 0
    {
        return Some(LimitHit::Memory);
    }
    None
}

async fn feed_stdin(fd: OwnedFd, input: Input) {
    let Ok(mut tx) = pipe::Sender::from_owned_fd(fd) else {
        return;
    };
    match input {
        Input::Bytes(b) => {
            let _ = tx.write_all(&b).await;
        }
        Input::Stream(mut rx) => {
            while let Some(chunk) = rx.recv().await {
                if tx.write_all(&chunk).await.is_err() {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::Usage;

    fn exit(code: Option<i32>, signal: Option<i32>) -> Exit {
        Exit {
            code,
            signal,
            at: Instant::now(),
        }
    }

    #[test]
    fn capture_caps_both_streams_together() {
        let mut c = Capture {
            cap: 10,
            stdout: vec![],
            stderr: vec![],
            exceeded: false,
        };
        assert_eq!(c.take(false, b"123456"), 6);
        assert_eq!(c.take(true, b"abcdef"), 4);
        assert!(c.exceeded);
        assert_eq!(c.stdout, b"123456");
        assert_eq!(c.stderr, b"abcd");
    }

    #[test]
    fn limits_are_judged_from_counters() {
        let lim = ExecLimits {
            cpu_ms: 1000,
            ..Default::default()
        };
        let u = Usage::default();
        let oom = Usage { oom_kills: 1, ..u };
        assert_eq!(
            judge_limits(&exit(None, Some(9)), 10, lim, &u, &oom),
            Some(LimitHit::Memory)
        );
        assert_eq!(
            judge_limits(&exit(None, Some(libc::SIGXCPU)), 1000, lim, &u, &u),
            Some(LimitHit::CpuTime)
        );
        assert_eq!(
            judge_limits(&exit(Some(0), None), 1500, lim, &u, &u),
            Some(LimitHit::CpuTime)
        );
        let hits = Usage { limit_hits: 3, ..u };
        assert_eq!(
            judge_limits(&exit(Some(1), None), 10, lim, &u, &hits),
            Some(LimitHit::Memory)
        );
        assert_eq!(judge_limits(&exit(Some(0), None), 10, lim, &u, &hits), None);
        assert_eq!(judge_limits(&exit(Some(1), None), 10, lim, &u, &u), None);
    }
}
