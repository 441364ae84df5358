//! The init of a box: PID 1 of its PID namespace, single-threaded, root in the
//! box's own user namespace (an unprivileged uid on the host, see
//! `crate::userns`; root on the host where user namespaces are off) and
//! inside the box's mount, network, IPC and UTS namespaces (each program also gets a cgroup namespace rooted at the box's
//! limited `run` group, which it joins first; init stays outside it). It builds the root, then serves the host's requests:
//! files (written and read without following symlinks), and execs — each exec
//! forks a child that sets rlimits, drops every privilege, and only then, as
//! the box's user, resolves its working directory and program inside the box
//! (`openat2` with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`, nothing on
//! procfs), installs seccomp and calls `execveat` on the program it opened
//! (`#!` scripts are resolved the same way). Because init has one thread, the
//! child may allocate.
//!
//! Memory charged to the box that no process holds must never make init or
//! the helper the OOM killer's choice: they are outside the limited group
//! (see `cgroup`); they also get `oom_score_adj` -1000 where the host allows
//! it, and every program +1000, for an OOM of the whole host. When a
//! one-shot exec ends (before its exit is reported) and again before the
//! next one starts, init kills and reaps its leftovers and drops what it left
//! in memory that no process holds: it mounts a fresh `/tmp` and `/dev/shm`
//! and removes every SysV message queue, shared memory segment and semaphore
//! set of the box's IPC namespace. `/box` stays: it holds the run's files.
//!
//! A packet init cannot read (too big, malformed) is answered with a failure//!
//! Layout: this module starts init and serves requests; `reads` answers a
//! file read or listing chunk by chunk; `cleanup` reaps exits and frees what
//! a run left behind; `spawn` forks an exec's child,
//! which `child` turns into the program, resolving its paths with `resolve`.

mod child;
mod cleanup;
mod reads;
mod resolve;
mod spawn;

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::stat::Mode;
use nix::unistd::Pid;

use crate::protocol::{self, BoxSetup, Recv, Request, Response, MAX_MESSAGE, MAX_PACKET};
use crate::rootfs;
use crate::{files, seccomp};
use spawn::set_winsize;

/// `oom_score_adj` of the helper and init where the host allows it
/// (`CAP_SYS_RESOURCE`; Docker's default capabilities lack it): never the
/// OOM killer's choice. Memory charged to the box but held by no process
/// (tmpfs files, pipe buffers, SysV messages) would otherwise make them the
/// biggest target.
pub(crate) const OOM_SCORE_ADJ_KILN: &str = "-1000";
/// `oom_score_adj` of every program (set before it drops its privileges):
/// the OOM killer's first choice, in the box's cgroup and on the host. Its
/// score is its size plus the whole limit, more than init's or the helper's
/// can be, so they are not chosen while a program lives even where they
/// could not get -1000.
pub(crate) const OOM_SCORE_ADJ_PROGRAM: &str = "1000";

struct Running {
    kill_all_on_exit: bool,
    pty_master: Option<OwnedFd>,
}

struct Init {
    ctl: OwnedFd,
    uid: u32,
    gid: u32,
    /// A rootless box (see `crate::userns::enter_rootless`).
    rootless: bool,
    work: OwnedFd,
    /// The box's root, for resolving an exec's paths inside it.
    root: OwnedFd,
    tmp_bytes: u64,
    shm_bytes: u64,
    filter: Vec<libc::sock_filter>,
    running: HashMap<i32, Running>,
    /// `cgroup.procs` of the box's `run` group, one per hierarchy.
    run_groups: Vec<OwnedFd>,
    /// Programs ran since the scratch memory was last freed.
    dirty: bool,
}

fn reply(ctl: &OwnedFd, r: &Response, payload: &[u8], fds: &[RawFd]) {
    // If the host is gone, the next recv sees it and init exits.
    let _ = protocol::send(ctl.as_fd(), r, payload, fds);
}

/// A failure answer, its message cut to [`MAX_MESSAGE`] bytes so that it
/// always fits in a packet.
fn failed(req: u64, mut message: String) -> Response {
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    Response::Failed { req, message }
}

/// Tells the host that building the box failed at `layer`, and exits.
fn setup_failed(ctl: &OwnedFd, layer: &str, message: String) -> ! {
    reply(
        ctl,
        &Response::SetupFailed {
            layer: layer.into(),
            message,
        },
        &[],
        &[],
    );
    std::process::exit(1);
}

fn open_dir(path: &str) -> nix::Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Blocks SIGCHLD and returns a descriptor that reads it.
fn sigchld_fd() -> nix::Result<SignalFd> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None).and_then(|()| {
        SignalFd::with_flags(
            &mask,
            nix::sys::signalfd::SfdFlags::SFD_CLOEXEC | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK,
        )
    })
}

/// Runs the box. Never returns: exits when the host closes the channel.
/// `userns`: the channel to the helper, where the box gets its own user
/// namespace (entered once the root is built, see `crate::userns`).
pub fn run(ctl: OwnedFd, setup: BoxSetup, run_groups: Vec<OwnedFd>, userns: Option<OwnedFd>) -> ! {
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes this process's flag; it
    // keeps box processes from reading init's memory or /proc/1/exe.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    if let Err(e) = rootfs::build(&setup).and_then(|()| rootfs::set_hostname(&setup.hostname)) {
        setup_failed(&ctl, e.layer, e.message);
    }
    if let Some(sync) = userns {
        if let Err(e) = crate::userns::enter(&sync) {
            setup_failed(&ctl, "user namespace", e);
        }
        // In the mount namespace of the box's user namespace, so that init
        // may replace them between runs.
        if let Err(e) = rootfs::mount_after_switch(&setup) {
            setup_failed(&ctl, e.layer, e.message);
        }
    }
    let work = open_dir(setup.work_dir.as_str()).unwrap_or_else(|e| {
        setup_failed(
            &ctl,
            "root filesystem",
            format!("open {}: {e}", setup.work_dir),
        )
    });
    let root = open_dir("/")
        .unwrap_or_else(|e| setup_failed(&ctl, "root filesystem", format!("open /: {e}")));
    let mut init = Init {
        ctl,
        uid: setup.uid,
        gid: setup.gid,
        rootless: setup.rootless,
        work,
        root,
        tmp_bytes: setup.tmp_bytes,
        shm_bytes: setup.shm_bytes,
        filter: seccomp::program(),
        running: HashMap::new(),
        run_groups,
        dirty: false,
    };
    let sigfd =
        sigchld_fd().unwrap_or_else(|e| setup_failed(&init.ctl, "init", format!("signalfd: {e}")));
    reply(&init.ctl, &Response::Ready, &[], &[]);
    init.serve(&sigfd)
}

/// Kills every process of the box and exits; the kernel then tears down the
/// namespaces and unmounts the box's tmpfs (nothing is walked).
fn shutdown() -> ! {
    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
    std::process::exit(0)
}

impl Init {
    /// Serves the host's requests and reaps children until the host goes away.
    fn serve(&mut self, sigfd: &SignalFd) -> ! {
        let mut buf = vec![0u8; MAX_PACKET];
        loop {
            let (ctl_ready, sig_ready) = {
                let mut fds = [
                    PollFd::new(self.ctl.as_fd(), PollFlags::POLLIN),
                    PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
                ];
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) => {}
                    Err(Errno::EINTR) => continue,
                    Err(_) => shutdown(),
                }
                let r = |f: &PollFd| f.revents().is_some_and(|e| !e.is_empty());
                (r(&fds[0]), r(&fds[1]))
            };
            if sig_ready {
                while let Ok(Some(_)) = sigfd.read_signal() {}
                let _ = self.reap();
            }
            if ctl_ready {
                match protocol::recv::<Request>(self.ctl.as_fd(), &mut buf) {
                    Ok(Recv::Packet(p)) => self.handle(p.header, &p.payload, p.fds),
                    Ok(Recv::Closed) | Err(protocol::RecvError::Sys(_)) => shutdown(),
                    Err(protocol::RecvError::Malformed { req, message }) => reply(
                        &self.ctl,
                        &failed(
                            req,
                            format!("the box could not read the request: {message}"),
                        ),
                        &[],
                        &[],
                    ),
                }
            }
        }
    }

    fn handle(&mut self, req: Request, payload: &[u8], fds: Vec<OwnedFd>) {
        match req {
            Request::WriteFile {
                req,
                path,
                mode,
                append,
            } => {
                let r = files::write(
                    &self.work,
                    &path,
                    payload,
                    mode,
                    append,
                    (self.uid, self.gid),
                );
                self.done(req, r);
            }
            Request::ReadFile {
                req,
                path,
                max_bytes,
                offset,
            } => self.read_file(req, &path, max_bytes, offset),
            Request::ListFiles { req, max_entries } => self.list_files(req, max_entries),
            Request::FileOp { req, op } => self.file_op(req, op),
            Request::Exec {
                req,
                argv,
                env,
                cwd,
                rlimits,
                stdio,
                kill_all_on_exit,
            } => {
                // Normally done when the last one-shot exec ended; here when
                // that could not be (another exec was running then).
                if kill_all_on_exit && self.dirty && self.running.is_empty() {
                    self.settle();
                    self.fresh_scratch();
                }
                self.dirty = true;
                let r = self.exec(&argv, &env, &cwd, rlimits, stdio, fds);
                self.started(req, r, kill_all_on_exit);
            }
            Request::Kill { pid, all } => {
                let target = if all {
                    Pid::from_raw(-1)
                } else {
                    Pid::from_raw(-pid.abs())
                };
                let _ = kill(target, Signal::SIGKILL);
            }
            Request::Resize {
                req,
                pid,
                rows,
                cols,
            } => {
                let r = match self.running.get(&pid) {
                    Some(Running {
                        pty_master: Some(m),
                        ..
                    }) => {
                        set_winsize(m, rows, cols);
                        Ok(())
                    }
                    _ => Err(format!(
                        "no terminal for process {pid} (it exited, or was not started with one)"
                    )),
                };
                self.done(req, r);
            }
        }
    }

    fn done(&self, req: u64, r: Result<(), String>) {
        let resp = match r {
            Ok(()) => Response::Done { req },
            Err(message) => failed(req, message),
        };
        reply(&self.ctl, &resp, &[], &[]);
    }

    /// Answers an exec request: the program's pid (and terminal), or why it
    /// did not start.
    fn started(
        &mut self,
        req: u64,
        r: Result<(Pid, Option<OwnedFd>), String>,
        kill_all_on_exit: bool,
    ) {
        match r {
            Ok((pid, master)) => {
                let sent: Vec<RawFd> = master.iter().map(|m| m.as_raw_fd()).collect();
                reply(
                    &self.ctl,
                    &Response::Started {
                        req,
                        pid: pid.as_raw(),
                    },
                    &[],
                    &sent,
                );
                self.running.insert(
                    pid.as_raw(),
                    Running {
                        kill_all_on_exit,
                        pty_master: master,
                    },
                );
            }
            Err(message) => reply(&self.ctl, &failed(req, message), &[], &[]),
        }
    }
}
