//! The init of a box: PID 1 of its PID namespace, single-threaded, root in the
//! host's user namespace but inside the box's mount, network, IPC, UTS and
//! cgroup namespaces. It builds the root, then serves the host's requests:
//! files (written and read without following symlinks), and execs — each exec
//! forks a child that sets rlimits, drops every privilege, installs seccomp
//! and calls `execve`. Because init has one thread, the child may allocate.

use std::collections::HashMap;
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Gid, Pid, Uid};

use crate::protocol::{self, BoxSetup, Recv, Request, Response, Rlimits, Stdio, CHUNK, MAX_PACKET};
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
    filter: Vec<libc::sock_filter>,
    running: HashMap<i32, Running>,
}

fn reply(ctl: &OwnedFd, r: &Response, payload: &[u8], fds: &[RawFd]) {
    // If the host is gone, the next recv sees it and init exits.
    let _ = protocol::send(ctl.as_fd(), r, payload, fds);
}

/// Runs the box. Never returns: exits when the host closes the channel.
pub fn run(ctl: OwnedFd, setup: BoxSetup) -> ! {
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes this process's flag; it
    // keeps box processes from reading init's memory or /proc/1/exe.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    if let Err(e) = rootfs::build(&setup).and_then(|()| rootfs::set_hostname(&setup.hostname)) {
        reply(&ctl, &Response::SetupFailed { layer: e.layer.into(), message: e.message }, &[], &[]);
        std::process::exit(1);
    }
    let work = match nix::fcntl::open(setup.work_dir.as_str(), OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            reply(&ctl, &Response::SetupFailed { layer: "root filesystem".into(), message: format!("open {}: {e}", setup.work_dir) }, &[], &[]);
            std::process::exit(1);
        }
    };
    let mut init = Init { ctl, uid: setup.uid, gid: setup.gid, work, filter: seccomp::program(), running: HashMap::new() };
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    let sigfd = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)
        .and_then(|()| SignalFd::with_flags(&mask, nix::sys::signalfd::SfdFlags::SFD_CLOEXEC | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK));
    let sigfd = match sigfd {
        Ok(s) => s,
        Err(e) => {
            reply(&init.ctl, &Response::SetupFailed { layer: "init".into(), message: format!("signalfd: {e}") }, &[], &[]);
            std::process::exit(1);
        }
    };
    reply(&init.ctl, &Response::Ready, &[], &[]);
    let mut buf = vec![0u8; MAX_PACKET];
    loop {
        let (ctl_ready, sig_ready) = {
            let mut fds = [PollFd::new(init.ctl.as_fd(), PollFlags::POLLIN), PollFd::new(sigfd.as_fd(), PollFlags::POLLIN)];
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
            init.reap();
        }
        if ctl_ready {
            match protocol::recv::<Request>(init.ctl.as_fd(), &mut buf) {
                Ok(Recv::Packet(p)) => init.handle(p.header, &p.payload, p.fds),
                Ok(Recv::Closed) | Err(protocol::RecvError::Sys(_)) => shutdown(),
                Err(e) => reply(&init.ctl, &Response::Failed { req: 0, message: e.to_string() }, &[], &[]),
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
            Request::WriteFile { req, path, mode, append } => {
                let r = files::write(&self.work, &path, payload, mode, append, (self.uid, self.gid));
                self.done(req, r);
            }
            Request::ReadFile { req, path, max_bytes } => match files::read(&self.work, &path, max_bytes) {
                Ok((data, _)) => {
                    let mut chunks = data.chunks(CHUNK).peekable();
                    if chunks.peek().is_none() {
                        reply(&self.ctl, &Response::Chunk { req, eof: true }, &[], &[]);
                    }
                    while let Some(c) = chunks.next() {
                        reply(&self.ctl, &Response::Chunk { req, eof: chunks.peek().is_none() }, c, &[]);
                    }
                }
                Err(message) => reply(&self.ctl, &Response::Failed { req, message }, &[], &[]),
            },
            Request::Exec { req, argv, env, cwd, rlimits, stdio, kill_all_on_exit } => {
                match self.exec(&argv, &env, &cwd, rlimits, stdio, fds) {
                    Ok((pid, master)) => {
                        let sent: Vec<RawFd> = master.iter().map(|m| m.as_raw_fd()).collect();
                        reply(&self.ctl, &Response::Started { req, pid: pid.as_raw() }, &[], &sent);
                        self.running.insert(pid.as_raw(), Running { kill_all_on_exit, pty_master: master });
                    }
                    Err(message) => reply(&self.ctl, &Response::Failed { req, message }, &[], &[]),
                }
            }
            Request::Kill { pid, all } => {
                let target = if all { Pid::from_raw(-1) } else { Pid::from_raw(-pid.abs()) };
                let _ = kill(target, Signal::SIGKILL);
            }
            Request::Resize { pid, rows, cols } => {
                if let Some(Running { pty_master: Some(m), .. }) = self.running.get(&pid) {
                    set_winsize(m, rows, cols);
                }
            }
        }
    }

    fn done(&self, req: u64, r: Result<(), String>) {
        let resp = match r {
            Ok(()) => Response::Done { req },
            Err(message) => Response::Failed { req, message },
        };
        reply(&self.ctl, &resp, &[], &[]);
    }

    /// Reaps every exited child; reports the ones the host started.
    fn reap(&mut self) {
        loop {
            let (pid, code, signal) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, Some(code), None),
                Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, None, Some(sig as i32)),
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => continue,
            };
            if let Some(r) = self.running.remove(&pid.as_raw()) {
                if r.kill_all_on_exit {
                    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
                }
                reply(&self.ctl, &Response::Exited { pid: pid.as_raw(), code, signal }, &[], &[]);
            }
        }
    }

    fn exec(&self, argv: &[String], env: &[String], cwd: &str, rl: Rlimits, stdio: Stdio, fds: Vec<OwnedFd>) -> Result<(Pid, Option<OwnedFd>), String> {
        if argv.is_empty() {
            return Err("empty command".into());
        }
        let program = resolve(&argv[0], env, cwd)?;
        let (master, slave_path) = match stdio {
            Stdio::Pipes if fds.len() == 3 => (None, None),
            Stdio::Pipes => return Err(format!("exec with pipes needs 3 descriptors, got {}", fds.len())),
            Stdio::Pty { rows, cols } => {
                let (m, s) = open_pty().map_err(|e| format!("open a pseudo-terminal: {e}"))?;
                set_winsize(&m, rows, cols);
                (Some(m), Some(s))
            }
        };
        let argv_c: Vec<CString> = argv.iter().map(|a| cstr(a)).collect();
        let env_c: Vec<CString> = env.iter().map(|e| cstr(e)).collect();
        let (err_r, err_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
        // SAFETY: init is single-threaded, so the child is a full copy of a
        // consistent process and may allocate; it ends in execve or _exit.
        match unsafe { fork() } {
            Err(e) => Err(format!("fork: {e}")),
            Ok(ForkResult::Child) => {
                drop(err_r);
                let Err((stage, errno)) = child(&program, &argv_c, &env_c, cwd, rl, &fds, slave_path.as_deref(), self.uid, self.gid, &self.filter);
                let msg = format!("{stage}: {errno}");
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
                    Err(format!("could not start {:?}: {}", argv[0], String::from_utf8_lossy(&msg)))
                }
            }
        }
    }
}

/// Finds the program like `execvp`, inside the box.
fn resolve(cmd: &str, env: &[String], cwd: &str) -> Result<CString, String> {
    let executable = |p: &Path| std::fs::metadata(p).map(|m| m.is_file()).unwrap_or(false);
    if cmd.contains('/') {
        let p = if cmd.starts_with('/') { Path::new(cmd).to_path_buf() } else { Path::new(cwd).join(cmd) };
        return Ok(cstr(&p.to_string_lossy()));
    }
    let path = env.iter().find_map(|e| e.strip_prefix("PATH=")).unwrap_or("/usr/bin:/bin");
    path.split(':')
        .map(|d| Path::new(d).join(cmd))
        .find(|p| executable(p))
        .map(|p| cstr(&p.to_string_lossy()))
        .ok_or_else(|| format!("command {cmd:?} not found in PATH {path:?} inside the box"))
}

type Stage = (&'static str, Errno);

/// The forked child: from init's copy to the untrusted program. Returns only
/// on failure, with the step that failed.
#[allow(clippy::too_many_arguments)]
fn child(program: &CString, argv: &[CString], env: &[CString], cwd: &str, rl: Rlimits, fds: &[OwnedFd], slave: Option<&str>, uid: u32, gid: u32, filter: &[libc::sock_filter]) -> Result<Infallible, Stage> {
    let st = |stage: &'static str| move |e: Errno| (stage, e);
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None).map_err(st("sigprocmask"))?;
    nix::unistd::setsid().map_err(st("setsid"))?;
    match slave {
        Some(path) => {
            let s = nix::fcntl::open(path, OFlag::O_RDWR, Mode::empty()).map_err(st("open the terminal"))?;
            // init (root) created the slave: hand it to the box's user like a
            // login does (owner rw, group w), so programs can reopen it
            // (/dev/stdin, /dev/pts/N) after the privileges are dropped.
            nix::unistd::fchown(&s, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid))).map_err(st("chown the terminal"))?;
            nix::sys::stat::fchmod(&s, Mode::from_bits_truncate(0o620)).map_err(st("chmod the terminal"))?;
            // SAFETY: TIOCSCTTY on a terminal we just opened, in a new session.
            if unsafe { libc::ioctl(s.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
                return Err(("make the terminal controlling", Errno::last()));
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
    if unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) } != 0 {
        return Err(("close_range", Errno::last()));
    }
    nix::unistd::chdir(cwd).map_err(st("chdir"))?;
    setrlimit(Resource::RLIMIT_CORE, 0, 0).map_err(st("rlimit core"))?;
    let limit = |r: Resource, v: Option<u64>, name: &'static str| -> Result<(), Stage> {
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
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
            return Err(("pdeathsig", Errno::last()));
        }
        let mut cap = 0;
        while libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) == 0 {
            cap += 1;
        }
        if cap == 0 {
            return Err(("drop the capability bounding set", Errno::last()));
        }
    }
    nix::unistd::setgroups(&[Gid::from_raw(gid)]).map_err(st("setgroups"))?;
    nix::unistd::setresgid(Gid::from_raw(gid), Gid::from_raw(gid), Gid::from_raw(gid)).map_err(st("setresgid"))?;
    // Leaving uid 0 without SECBIT_KEEP_CAPS clears permitted, effective and
    // ambient capabilities.
    nix::unistd::setresuid(Uid::from_raw(uid), Uid::from_raw(uid), Uid::from_raw(uid)).map_err(st("setresuid"))?;
    // SAFETY: integer-only prctl on this process.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(("no_new_privs", Errno::last()));
    }
    seccomp::install(filter).map_err(|e| ("seccomp", Errno::from_raw(e.raw_os_error().unwrap_or(0))))?;
    nix::unistd::execve(program, argv, env).map_err(st("execve"))
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
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives across the call.
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws as *const libc::winsize) };
}
