//! The forked child of an exec: from init's copy to the untrusted program
//! (see the module header of [`init`](super)).

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};

use super::resolve::{find_program, interpret, not_on_proc, open_in_box};
use crate::files;
use crate::protocol::Rlimits;
use crate::rootfs::cstr;
use crate::seccomp;

/// What an exec runs, as the host asked for it.
pub(super) struct Target<'a> {
    pub(super) root: &'a OwnedFd,
    pub(super) run_groups: &'a [OwnedFd],
    pub(super) argv: &'a [String],
    pub(super) env: &'a [String],
    pub(super) env_c: &'a [CString],
    pub(super) cwd: &'a str,
    /// `setgroups` is allowed (not in a rootless box's user namespace,
    /// where it is denied and the groups stay Kiln's own).
    pub(super) setgroups: bool,
}

/// What failed at `stage`, for the error message.
fn st(stage: &'static str) -> impl Fn(Errno) -> String {
    move |e: Errno| format!("{stage}: {e}")
}

/// The forked child: from init's copy to the untrusted program. Returns only
/// on failure, with what failed.
pub(super) fn child(
    t: &Target,
    rl: Rlimits,
    fds: &[OwnedFd],
    slave: Option<&str>,
    uid: u32,
    gid: u32,
    filter: &[libc::sock_filter],
) -> Result<Infallible, String> {
    enter_run_group(t.run_groups)?;
    connect_stdio(slave, fds, uid, gid)?;
    set_rlimits(rl)?;
    drop_privileges(uid, gid, t.setgroups)?;
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

/// Unblocks signals, joins the box's `run` group and a new session.
fn enter_run_group(run_groups: &[OwnedFd]) -> Result<(), String> {
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .map_err(st("sigprocmask"))?;
    // Into the limited group first (init and the helper stay out of it),
    // then a cgroup namespace rooted there.
    for g in run_groups {
        nix::unistd::write(g, b"0").map_err(st("join the box's run cgroup"))?;
    }
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
        .map_err(st("unshare the cgroup namespace"))?;
    nix::unistd::setsid().map_err(st("setsid"))?;
    Ok(())
}

/// Connects stdin, stdout and stderr to the terminal `slave` or to `fds`;
/// every other descriptor is closed on exec.
fn connect_stdio(slave: Option<&str>, fds: &[OwnedFd], uid: u32, gid: u32) -> Result<(), String> {
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
    Ok(())
}

/// The OOM score and the rlimits of the program.
fn set_rlimits(rl: Rlimits) -> Result<(), String> {
    // The program is the OOM killer's first choice, never init or the helper.
    // Init's copy is not dumpable, so its /proc files belong to the host's
    // root, which a box with its own user namespace is not: dumpable again
    // (the exec decides the program's own flag).
    // SAFETY: integer-only prctl on this process.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) };
    std::fs::write("/proc/self/oom_score_adj", super::OOM_SCORE_ADJ_PROGRAM)
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
    Ok(())
}

/// Drops every capability and becomes the box's user for good.
fn drop_privileges(uid: u32, gid: u32, setgroups: bool) -> Result<(), String> {
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
    if setgroups {
        nix::unistd::setgroups(&[Gid::from_raw(gid)]).map_err(st("setgroups"))?;
    }
    nix::unistd::setresgid(Gid::from_raw(gid), Gid::from_raw(gid), Gid::from_raw(gid))
        .map_err(st("setresgid"))?;
    // Leaving uid 0 without SECBIT_KEEP_CAPS clears permitted, effective and
    // ambient capabilities.
    nix::unistd::setresuid(Uid::from_raw(uid), Uid::from_raw(uid), Uid::from_raw(uid))
        .map_err(st("setresuid"))?;
    // A rootless box's init is already the box uid (no uid 0 to leave), with
    // its namespace's capabilities: clear them all explicitly.
    clear_capabilities()?;
    // SAFETY: integer-only prctl on this process. After the uid change, which
    // clears the parent-death signal.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } != 0 {
        return Err(format!("pdeathsig: {}", Errno::last()));
    }
    Ok(())
}

/// Empties the effective, permitted and inheritable sets (`capset`) and the
/// ambient set.
fn clear_capabilities() -> Result<(), String> {
    // struct __user_cap_header_struct and two __user_cap_data_struct (version 3).
    let mut header: [u32; 2] = [0x2008_0522, 0];
    let data = [0u32; 6];
    // SAFETY: capset reads a header and two data structs that live across the
    // call, with the sizes the kernel expects for _LINUX_CAPABILITY_VERSION_3.
    if unsafe { libc::syscall(libc::SYS_capset, header.as_mut_ptr(), data.as_ptr()) } != 0 {
        return Err(format!("capset: {}", Errno::last()));
    }
    // SAFETY: integer-only prctl on this process.
    if unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    } != 0
    {
        return Err(format!("clear ambient capabilities: {}", Errno::last()));
    }
    Ok(())
}

fn dup2_raw(from: RawFd, to: RawFd) -> Result<(), Errno> {
    // SAFETY: dup2 on descriptor numbers; `to` (0..=2) is replaced atomically.
    if unsafe { libc::dup2(from, to) } < 0 {
        return Err(Errno::last());
    }
    Ok(())
}
