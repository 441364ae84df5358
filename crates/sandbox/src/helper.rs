//! The helper process: the host re-executes its own binary as
//! `<exe> __box` (never forking a multi-threaded process into setup code).
//! The helper reads the box's setup from the control socket on its stdin,
//! joins the box's cgroups, unshares the namespaces and forks the box's init
//! (PID 1 of the new PID namespace); then it only waits for init to exit.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};

use crate::protocol::{self, BoxSetup, Recv, Response, MAX_PACKET};

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
    let _ = protocol::send(ctl.as_fd(), &Response::SetupFailed { layer: layer.into(), message: message.to_string() }, &[], &[]);
    std::process::exit(1)
}

fn helper_main() -> ! {
    // The control socket arrives as stdin; move it out of the way of stdio.
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) on fd 0, which the host set to the socket.
    let raw = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 10) };
    if raw < 0 {
        std::process::exit(2);
    }
    // SAFETY: `raw` is a fresh descriptor from fcntl that nothing else owns.
    let ctl = unsafe { OwnedFd::from_raw_fd(raw) };
    if let Ok(null) = nix::fcntl::open("/dev/null", nix::fcntl::OFlag::O_RDWR, nix::sys::stat::Mode::empty()) {
        // SAFETY: dup2 onto fd 0 replaces the socket copy with /dev/null.
        unsafe { libc::dup2(null.as_raw_fd(), 0) };
    }
    let mut buf = vec![0u8; MAX_PACKET];
    let setup: BoxSetup = match protocol::recv(ctl.as_fd(), &mut buf) {
        Ok(Recv::Packet(p)) => p.header,
        Ok(Recv::Closed) => std::process::exit(0),
        Err(e) => setup_failed(&ctl, "helper", e),
    };
    let me = std::process::id().to_string();
    for f in &setup.cgroup_procs {
        if let Err(e) = std::fs::write(f, &me) {
            setup_failed(&ctl, "cgroups", format!("join {f}: {e}"));
        }
    }
    let ns = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWCGROUP;
    if let Err(e) = unshare(ns) {
        setup_failed(&ctl, "namespaces", format!("unshare(mount, pid, net, ipc, uts, cgroup): {e}"));
    }
    // SAFETY: the helper is single-threaded (it was just exec'd and started no
    // threads), so the child may run arbitrary code.
    match unsafe { fork() } {
        Err(e) => setup_failed(&ctl, "namespaces", format!("fork into the pid namespace: {e}")),
        Ok(ForkResult::Child) => crate::init::run(ctl, setup),
        Ok(ForkResult::Parent { child }) => {
            drop(ctl);
            let _ = waitpid(child, None);
            std::process::exit(0)
        }
    }
}
