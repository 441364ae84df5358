//! The helper process: the host re-executes its own binary as
//! `<exe> __box` (never forking a multi-threaded process into setup code).
//! First of all it closes every descriptor it inherited but its control
//! socket (on stdin): nothing the host left open without `O_CLOEXEC` reaches
//! a box. It makes itself (and so init) the OOM killer's last choice, reads
//! the box's setup from the control socket, joins the box's `init` cgroups
//! (programs go to the limited `run` ones, see `cgroup`), unshares the
//! namespaces and forks the box's init (PID 1 of the new PID namespace).
//! Where the box gets its own user namespace, it writes that namespace's
//! maps when init asks, then drops to the box's unprivileged root uid (see
//! `userns`); then it only waits for init to exit.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};

use crate::protocol::{self, BoxSetup, Recv, Response, MAX_PACKET};
use crate::userns;

/// The hidden subcommand that marks a helper.
pub const HELPER_ARG: &str = "__box";

/// Call first thing in `main()`, before any thread starts: if this process is
/// a sandbox helper, it becomes one and never returns.
pub fn run_if_helper() {
    if std::env::args_os().nth(1).is_some_and(|a| a == HELPER_ARG) {
        helper_main()
    }
}

fn setup_failed(ctl: &OwnedFd, layer: &str, message: impl std::fmt::Display) -> ! {
    let _ = protocol::send(
        ctl.as_fd(),
        &Response::SetupFailed {
            layer: layer.into(),
            message: message.to_string(),
        },
        &[],
        &[],
    );
    std::process::exit(1)
}

fn helper_main() -> ! {
    let ctl = take_control_socket();
    // Best effort: lowering needs CAP_SYS_RESOURCE (see init::OOM_SCORE_ADJ_PROGRAM).
    let _ = std::fs::write("/proc/self/oom_score_adj", crate::init::OOM_SCORE_ADJ_KILN);
    let mut buf = vec![0u8; MAX_PACKET];
    let setup: BoxSetup = match protocol::recv(ctl.as_fd(), &mut buf) {
        Ok(Recv::Packet(p)) => p.header,
        Ok(Recv::Closed) => std::process::exit(0),
        Err(e) => setup_failed(&ctl, "helper", e),
    };
    let run_groups = join_cgroups(&ctl, &setup);
    if setup.root_uid.is_some() {
        raise_open_files_ceiling();
    }
    // Unprivileged: the user namespace first, which grants the rest.
    if setup.rootless {
        if let Err(e) = userns::enter_rootless(setup.uid, setup.gid) {
            setup_failed(&ctl, "user namespace", e);
        }
    }
    // No cgroup namespace for init: a program joins the `run` group first,
    // which must be visible from where it stands, then unshares its own.
    let ns = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS;
    if let Err(e) = unshare(ns) {
        setup_failed(
            &ctl,
            "namespaces",
            format!("unshare(mount, pid, net, ipc, uts): {e}"),
        );
    }
    // The channel on which init asks for its user namespace's maps.
    let handshake = match setup.root_uid.map(|_| userns::Handshake::new()) {
        None => None,
        Some(Ok(h)) => Some(h),
        Some(Err(e)) => setup_failed(&ctl, "user namespace", e),
    };
    // SAFETY: the helper is single-threaded (it was just exec'd and started no
    // threads), so the child may run arbitrary code.
    match unsafe { fork() } {
        Err(e) => setup_failed(
            &ctl,
            "namespaces",
            format!("fork into the pid namespace: {e}"),
        ),
        Ok(ForkResult::Child) => {
            let sync = handshake.map(|h| h.init);
            crate::init::run(ctl, setup, run_groups, sync)
        }
        Ok(ForkResult::Parent { child }) => {
            drop(ctl);
            drop(run_groups);
            if let (Some(h), Some(root_uid)) = (handshake, setup.root_uid) {
                // Init reports a failure here to the host itself.
                let _ = userns::write_maps(h, child, root_uid, setup.uid, setup.gid);
            }
            let _ = waitpid(child, None);
            std::process::exit(0)
        }
    }
}

/// Raises the hard limit on open files to the kernel's ceiling
/// (`fs.nr_open`), soft limit unchanged, where this process may (host root
/// with `CAP_SYS_RESOURCE`). In its own user namespace a box can no longer
/// raise a hard limit (that takes `CAP_SYS_RESOURCE` in the host's), so an
/// exec asking for more open files than Kiln's own hard limit (4096 on a
/// plain kernel) would fail with `EPERM`; each exec sets its own limit below
/// this ceiling. Best effort: without the capability nothing changes.
fn raise_open_files_ceiling() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Some(ceiling) = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
    else {
        return;
    };
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if hard < ceiling {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, soft, ceiling);
        }
    }
}

/// Closes every inherited descriptor, moves the control socket (stdin) above
/// stdio, points stdio at `/dev/null`, and returns the socket.
fn take_control_socket() -> OwnedFd {
    // Before anything else: close every inherited descriptor but the control
    // socket (fd 0). The host spawns helpers from a multi-threaded process, so
    // any descriptor it (or a library, or whoever started it) holds without
    // O_CLOEXEC is here; none of it may reach a box.
    // SAFETY: close_range takes integers and only closes descriptors; nothing
    // in this process uses descriptors above 0 yet (Rust's runtime opens none).
    if unsafe { libc::syscall(libc::SYS_close_range, 1u32, u32::MAX, 0u32) } != 0 {
        std::process::exit(2);
    }
    // The control socket arrives as stdin; move it out of the way of stdio.
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) on fd 0, which the host set to the socket.
    let raw = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3) };
    if raw < 0 {
        std::process::exit(2);
    }
    // SAFETY: `raw` is a fresh descriptor from fcntl that nothing else owns.
    let ctl = unsafe { OwnedFd::from_raw_fd(raw) };
    // stdin, stdout and stderr become /dev/null (they were just closed or are the socket).
    if let Ok(null) = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_RDWR,
        nix::sys::stat::Mode::empty(),
    ) {
        for target in 0..3 {
            if null.as_raw_fd() != target {
                // SAFETY: dup2 onto 0..=2 replaces the socket copy (or a closed slot) with /dev/null.
                unsafe { libc::dup2(null.as_raw_fd(), target) };
            }
        }
        if null.as_raw_fd() < 3 {
            std::mem::forget(null);
        }
    }
    ctl
}

/// Joins the box's `init` groups and opens its `run` groups' `cgroup.procs`.
fn join_cgroups(ctl: &OwnedFd, setup: &BoxSetup) -> Vec<OwnedFd> {
    let me = std::process::id().to_string();
    for f in &setup.cgroup_procs {
        if let Err(e) = std::fs::write(f, &me) {
            setup_failed(ctl, "cgroups", format!("join {f}: {e}"));
        }
    }
    // Opened here, in the host's mount namespace; each program writes "0"
    // into them (joins the limited group) before it drops its privileges.
    let mut run_groups = Vec::new();
    for f in &setup.run_procs {
        match nix::fcntl::open(
            f.as_str(),
            nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        ) {
            Ok(fd) => run_groups.push(fd),
            Err(e) => setup_failed(ctl, "cgroups", format!("open {f}: {e}")),
        }
    }
    run_groups
}
