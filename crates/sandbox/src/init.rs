//! The init of a box: PID 1 of its PID namespace, single-threaded, root in the
//! host's user namespace but inside the box's mount, network, IPC and UTS
//! namespaces (each program also gets a cgroup namespace rooted at the box's
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
//! A packet init cannot read (too big, malformed) is answered with a failure
//! for the request id in its prefix, so the host's waiter ends.

use std::collections::HashMap;
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Gid, Pid, Uid};

use crate::protocol::{
    self, BoxSetup, Recv, Request, Response, Rlimits, Stdio, CHUNK, MAX_MESSAGE, MAX_PACKET,
};
use crate::rootfs::{self, cstr};
use crate::{files, seccomp};

struct Running {
    kill_all_on_exit: bool,
    pty_master: Option<OwnedFd>,
}

struct Init {
    ctl: OwnedFd,
    uid: u32,
    gid: u32,
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

/// Runs the box. Never returns: exits when the host closes the channel.
pub fn run(ctl: OwnedFd, setup: BoxSetup, run_groups: Vec<OwnedFd>) -> ! {
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes this process's flag; it
    // keeps box processes from reading init's memory or /proc/1/exe.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    if let Err(e) = rootfs::build(&setup).and_then(|()| rootfs::set_hostname(&setup.hostname)) {
        reply(
            &ctl,
            &Response::SetupFailed {
                layer: e.layer.into(),
                message: e.message,
            },
            &[],
            &[],
        );
        std::process::exit(1);
    }
    let work = match nix::fcntl::open(
        setup.work_dir.as_str(),
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => {
            reply(
                &ctl,
                &Response::SetupFailed {
                    layer: "root filesystem".into(),
                    message: format!("open {}: {e}", setup.work_dir),
                },
                &[],
                &[],
            );
            std::process::exit(1);
        }
    };
    let root = match nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => {
            reply(
                &ctl,
                &Response::SetupFailed {
                    layer: "root filesystem".into(),
                    message: format!("open /: {e}"),
                },
                &[],
                &[],
            );
            std::process::exit(1);
        }
    };
    let mut init = Init {
        ctl,
        uid: setup.uid,
        gid: setup.gid,
        work,
        root,
        tmp_bytes: setup.tmp_bytes,
        shm_bytes: setup.shm_bytes,
        filter: seccomp::program(),
        running: HashMap::new(),
        run_groups,
        dirty: false,
    };
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    let sigfd = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None).and_then(|()| {
        SignalFd::with_flags(
            &mask,
            nix::sys::signalfd::SfdFlags::SFD_CLOEXEC | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK,
        )
    });
    let sigfd = match sigfd {
        Ok(s) => s,
        Err(e) => {
            reply(
                &init.ctl,
                &Response::SetupFailed {
                    layer: "init".into(),
                    message: format!("signalfd: {e}"),
                },
                &[],
                &[],
            );
            std::process::exit(1);
        }
    };
    reply(&init.ctl, &Response::Ready, &[], &[]);
    let mut buf = vec![0u8; MAX_PACKET];
    loop {
        let (ctl_ready, sig_ready) = {
            let mut fds = [
                PollFd::new(init.ctl.as_fd(), PollFlags::POLLIN),
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
            let _ = init.reap();
        }
        if ctl_ready {
            match protocol::recv::<Request>(init.ctl.as_fd(), &mut buf) {
                Ok(Recv::Packet(p)) => init.handle(p.header, &p.payload, p.fds),
                Ok(Recv::Closed) | Err(protocol::RecvError::Sys(_)) => shutdown(),
                Err(protocol::RecvError::Malformed { req, message }) => reply(
                    &init.ctl,
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

/// Kills every process of the box and exits; the kernel then tears down the
/// namespaces and unmounts the box's tmpfs (nothing is walked).
fn shutdown() -> ! {
    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
    std::process::exit(0)
}

impl Init {
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
            } => match files::open_read(&self.work, &path).and_then(|mut f| {
                use std::io::Seek;
                f.seek(std::io::SeekFrom::Start(offset))
                    .map(|_| f)
                    .map_err(|e| format!("seek {path:?} to {offset}: {e}"))
            }) {
                // Chunk by chunk: init never holds more than one chunk of a
                // file; an empty chunk marks the end.
                Ok(mut f) => {
                    use std::io::Read;
                    let mut chunk = vec![0u8; CHUNK];
                    let mut left = max_bytes;
                    loop {
                        let want = (CHUNK as u64).min(left) as usize;
                        let n = if want == 0 {
                            Ok(0)
                        } else {
                            f.read(&mut chunk[..want])
                        };
                        match n {
                            Ok(0) => {
                                reply(&self.ctl, &Response::Chunk { req, eof: true }, &[], &[]);
                                break;
                            }
                            Ok(n) => {
                                left -= n as u64;
                                reply(
                                    &self.ctl,
                                    &Response::Chunk { req, eof: false },
                                    &chunk[..n],
                                    &[],
                                );
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                            Err(e) => {
                                reply(
                                    &self.ctl,
                                    &failed(req, format!("read {path:?}: {e}")),
                                    &[],
                                    &[],
                                );
                                break;
                            }
                        }
                    }
                }
                Err(message) => reply(&self.ctl, &failed(req, message), &[], &[]),
            },
            Request::ListFiles { req, max_entries } => {
                match files::list(&self.work, max_entries as usize) {
                    Ok(list) => {
                        let json = serde_json::to_vec(&list).expect("a listing serialises");
                        for c in json.chunks(CHUNK) {
                            let header = Response::Chunk { req, eof: false };
                            reply(&self.ctl, &header, c, &[]);
                        }
                        reply(&self.ctl, &Response::Chunk { req, eof: true }, &[], &[]);
                    }
                    Err(message) => reply(&self.ctl, &failed(req, message), &[], &[]),
                }
            }
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
                match self.exec(&argv, &env, &cwd, rlimits, stdio, fds) {
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

    /// Before a one-shot exec, with no exec of the host's running: kills and
    /// reaps every leftover process of the last one (orphans are init's
    /// children), so that what they held — open files on the scratch tmpfs,
    /// pipes — is released before it is freed. Bounded: a process that will
    /// not die within two seconds is left to the cgroup.
    fn settle(&mut self) {
        let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while self.reap() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }

    /// Before a one-shot exec: what the last program left in memory that no
    /// process holds goes away — a fresh tmpfs on `/tmp` and `/dev/shm` (the
    /// old ones are detached and freed with their last user, all killed by
    /// now), and every SysV IPC object of the box's namespace is removed.
    /// `/box` stays: it holds the submission's files.
    fn fresh_scratch(&self) {
        // Free first, allocate after: SysV objects and the old tmpfs mounts
        // go before the new mounts are made.
        remove_sysv_ipc();
        let scratch = [
            (
                "/tmp",
                self.tmp_bytes,
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            ),
            (
                "/dev/shm",
                self.shm_bytes,
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            ),
        ];
        // Only what holds something: an empty tmpfs holds no memory.
        let detached: Vec<bool> = scratch
            .iter()
            .map(|(dir, _, _)| {
                std::fs::read_dir(dir)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(true)
                    && umount2(*dir, MntFlags::MNT_DETACH).is_ok()
            })
            .collect();
        for ((dir, size, flags), detached) in scratch.iter().zip(detached) {
            if detached {
                let _ = mount(
                    Some("tmpfs"),
                    *dir,
                    Some("tmpfs"),
                    *flags,
                    Some(format!("size={size},mode=1777").as_str()),
                );
            }
        }
    }

    /// Reaps every exited child; reports the ones the host started.
    /// Returns whether children remain.
    fn reap(&mut self) -> bool {
        loop {
            let (pid, code, signal) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, Some(code), None),
                Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, None, Some(sig as i32)),
                Ok(WaitStatus::StillAlive) => return true,
                Err(Errno::EINTR) => continue,
                Err(_) => return false,
                Ok(_) => continue,
            };
            if let Some(r) = self.running.remove(&pid.as_raw()) {
                if r.kill_all_on_exit && self.running.is_empty() {
                    // The run is over: its leftovers die and what they left
                    // in memory is freed before the host hears of the exit
                    // (and sets the next run's limits).
                    self.settle();
                    self.fresh_scratch();
                    self.dirty = false;
                } else if r.kill_all_on_exit {
                    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
                }
                reply(
                    &self.ctl,
                    &Response::Exited {
                        pid: pid.as_raw(),
                        code,
                        signal,
                    },
                    &[],
                    &[],
                );
            }
        }
    }

    fn exec(
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
                let mut msg = Vec::new();
                let mut chunk = [0u8; 256];
                loop {
                    match nix::unistd::read(&err_r, &mut chunk) {
                        Ok(0) => break,
                        Ok(n) => msg.extend_from_slice(&chunk[..n]),
                        Err(Errno::EINTR) => continue,
                        Err(_) => break,
                    }
                }
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

/// Removes every SysV message queue, shared memory segment and semaphore
/// set of the box's IPC namespace. Walks the kernel's index with `*_INFO` and
/// `*_STAT` (no file to read, nothing allocated: the memory they hold may have
/// filled the box's cgroup, where any allocation of init's would be its last).
fn remove_sysv_ipc() {
    // Linux uapi numbers (x86_64 takes no IPC_64 flag).
    const IPC_RMID: libc::c_long = 0;
    const MSG_STAT: libc::c_long = 11;
    const MSG_INFO: libc::c_long = 12;
    const SHM_STAT: libc::c_long = 13;
    const SHM_INFO: libc::c_long = 14;
    const SEM_STAT: libc::c_long = 18;
    const SEM_INFO: libc::c_long = 19;
    let mut buf = [0u64; 64];
    let p = buf.as_mut_ptr() as libc::c_long;
    // SAFETY: raw *ctl calls with a 512-byte buffer, larger than every struct
    // they fill (msqid64_ds, shmid64_ds, semid64_ds, msginfo, shm_info,
    // seminfo); IPC_RMID takes no buffer.
    unsafe {
        let max = libc::syscall(libc::SYS_msgctl, 0, MSG_INFO, p);
        for i in 0..=max.max(-1) {
            let id = libc::syscall(libc::SYS_msgctl, i, MSG_STAT, p);
            if id >= 0 {
                libc::syscall(libc::SYS_msgctl, id, IPC_RMID, 0);
            }
        }
        let max = libc::syscall(libc::SYS_shmctl, 0, SHM_INFO, p);
        for i in 0..=max.max(-1) {
            let id = libc::syscall(libc::SYS_shmctl, i, SHM_STAT, p);
            if id >= 0 {
                libc::syscall(libc::SYS_shmctl, id, IPC_RMID, 0);
            }
        }
        let max = libc::syscall(libc::SYS_semctl, 0, 0, SEM_INFO, p);
        for i in 0..=max.max(-1) {
            let id = libc::syscall(libc::SYS_semctl, i, 0, SEM_STAT, p);
            if id >= 0 {
                libc::syscall(libc::SYS_semctl, id, 0, IPC_RMID, 0);
            }
        }
    }
}

/// What an exec runs, as the host asked for it.
struct Target<'a> {
    root: &'a OwnedFd,
    run_groups: &'a [OwnedFd],
    argv: &'a [String],
    env: &'a [String],
    env_c: &'a [CString],
    cwd: &'a str,
}

/// How paths of an exec are resolved: inside the box's root, never through
/// a magic link (`/proc/<pid>/{root,cwd,exe,fd/N}`).
fn open_in_box(
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
fn not_on_proc(fd: &OwnedFd, what: &str, path: &str) -> Result<(), String> {
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
fn find_program(
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
fn interpret(
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

/// The forked child: from init's copy to the untrusted program. Returns only
/// on failure, with what failed.
fn child(
    t: &Target,
    rl: Rlimits,
    fds: &[OwnedFd],
    slave: Option<&str>,
    uid: u32,
    gid: u32,
    filter: &[libc::sock_filter],
) -> Result<Infallible, String> {
    let st = |stage: &'static str| move |e: Errno| format!("{stage}: {e}");
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .map_err(st("sigprocmask"))?;
    // Into the limited group first (init and the helper stay out of it),
    // then a cgroup namespace rooted there.
    for g in t.run_groups {
        nix::unistd::write(g, b"0").map_err(st("join the box's run cgroup"))?;
    }
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
        .map_err(st("unshare the cgroup namespace"))?;
    nix::unistd::setsid().map_err(st("setsid"))?;
    match slave {
        Some(path) => {
            let s = nix::fcntl::open(path, OFlag::O_RDWR, Mode::empty())
                .map_err(st("open the terminal"))?;
            // init (root) created the slave: hand it to the box's user like a
            // login does (owner rw, group w), so programs can reopen it
            // (/dev/stdin, /dev/pts/N) after the privileges are dropped.
            nix::unistd::fchown(&s, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                .map_err(st("chown the terminal"))?;
            nix::sys::stat::fchmod(&s, Mode::from_bits_truncate(0o620))
                .map_err(st("chmod the terminal"))?;
            // SAFETY: TIOCSCTTY on a terminal we just opened, in a new session.
            if unsafe { libc::ioctl(s.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
                return Err(format!("make the terminal controlling: {}", Errno::last()));
            }
            for target in 0..3 {
                dup2_raw(s.as_raw_fd(), target).map_err(st("dup2"))?;
            }
        }
        None => {
            for (target, fd) in fds.iter().enumerate() {
                dup2_raw(fd.as_raw_fd(), target as RawFd).map_err(st("dup2"))?;
            }
        }
    }
    // SAFETY: marks every descriptor above stderr close-on-exec; no memory is touched.
    if unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    } != 0
    {
        return Err(format!("close_range: {}", Errno::last()));
    }
    // The program is the OOM killer's first choice, never init or the helper.
    std::fs::write(
        "/proc/self/oom_score_adj",
        crate::helper::OOM_SCORE_ADJ_PROGRAM,
    )
    .map_err(|e| format!("set oom_score_adj: {e}"))?;
    setrlimit(Resource::RLIMIT_CORE, 0, 0).map_err(st("rlimit core"))?;
    let limit = |r: Resource, v: Option<u64>, name: &'static str| -> Result<(), String> {
        match v {
            Some(v) => setrlimit(r, v, v).map_err(st(name)),
            None => Ok(()),
        }
    };
    limit(Resource::RLIMIT_FSIZE, rl.file_size_bytes, "rlimit fsize")?;
    limit(Resource::RLIMIT_NOFILE, rl.open_files, "rlimit nofile")?;
    limit(Resource::RLIMIT_STACK, rl.stack_bytes, "rlimit stack")?;
    limit(Resource::RLIMIT_AS, rl.address_space_bytes, "rlimit as")?;
    if let Some(cpu) = rl.cpu_seconds {
        // SIGXCPU at the soft limit, SIGKILL one second later.
        setrlimit(Resource::RLIMIT_CPU, cpu, cpu + 1).map_err(st("rlimit cpu"))?;
    }
    // SAFETY: these prctl calls take integer arguments and affect only this process.
    unsafe {
        let mut cap = 0;
        while libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) == 0 {
            cap += 1;
        }
        if cap == 0 {
            return Err(format!(
                "drop the capability bounding set: {}",
                Errno::last()
            ));
        }
    }
    nix::unistd::setgroups(&[Gid::from_raw(gid)]).map_err(st("setgroups"))?;
    nix::unistd::setresgid(Gid::from_raw(gid), Gid::from_raw(gid), Gid::from_raw(gid))
        .map_err(st("setresgid"))?;
    // Leaving uid 0 without SECBIT_KEEP_CAPS clears permitted, effective and
    // ambient capabilities.
    nix::unistd::setresuid(Uid::from_raw(uid), Uid::from_raw(uid), Uid::from_raw(uid))
        .map_err(st("setresuid"))?;
    // SAFETY: integer-only prctl on this process. After the uid change, which
    // clears the parent-death signal.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } != 0 {
        return Err(format!("pdeathsig: {}", Errno::last()));
    }
    // From here on as the box's user: the working directory and the program
    // are resolved inside the box, without magic links, never on procfs.
    files::check_exec_path("cwd", t.cwd, "/")?;
    let cwd = open_in_box(t.root, None, t.cwd, OFlag::O_PATH | OFlag::O_DIRECTORY).map_err(|e| format!("working directory {:?}: {e} (resolved inside the box as its user; magic links are not followed)", t.cwd))?;
    not_on_proc(&cwd, "working directory", t.cwd)?;
    nix::unistd::fchdir(&cwd).map_err(st("fchdir"))?;
    let (program, found) = find_program(t.root, &cwd, &t.argv[0], t.env)?;
    not_on_proc(&program, "program", &found)?;
    let (program, argv) = interpret(t.root, &cwd, program, found, t.argv.to_vec())?;
    let argv_c: Vec<CString> = argv.iter().map(|a| cstr(a)).collect();
    // SAFETY: integer-only prctl on this process.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!("no_new_privs: {}", Errno::last()));
    }
    seccomp::install(filter).map_err(|e| format!("seccomp: {e}"))?;
    nix::unistd::execveat(
        &program,
        c"",
        &argv_c,
        t.env_c,
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    )
    .map_err(st("execveat"))?;
    unreachable!("execveat returns only on failure")
}

fn dup2_raw(from: RawFd, to: RawFd) -> Result<(), Errno> {
    // SAFETY: dup2 on descriptor numbers; `to` (0..=2) is replaced atomically.
    if unsafe { libc::dup2(from, to) } < 0 {
        return Err(Errno::last());
    }
    Ok(())
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
