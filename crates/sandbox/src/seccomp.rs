//! The seccomp filter installed in every sandboxed process just before
//! `execve`: an allowlist over the native x86_64 ABI.
//!
//! - Foreign architectures and every x32 syscall (`nr | 0x4000_0000`) kill the
//!   process.
//! - [`ALLOWED`] (what the twelve toolchains, their compilers and the
//!   workspace tools call; see docs/seccomp.md and scripts/trace-syscalls.sh)
//!   is allowed.
//! - [`ARG_CHECKED`] calls are allowed unless an argument asks for something a
//!   box must not do: `clone` with namespace flags gets `EPERM`;
//!   `socket`/`socketpair` outside `AF_UNIX`/`AF_INET`/`AF_INET6` get
//!   `EAFNOSUPPORT`; `ioctl(TIOCSTI | TIOCLINUX)` gets `EPERM`.
//! - [`DENIED`] (kernel, namespace and exploitation surfaces) gets `EPERM`, even
//!   where a trace saw a toolchain call it (so runtimes that probe, like libuv
//!   with io_uring, fall back).
//! - Everything else, `clone3` and every syscall a newer kernel adds included,
//!   gets `ENOSYS`: the answer libc and runtimes already handle by falling back
//!   (glibc's `clone3` → `clone`, `faccessat2` → `faccessat`, …).
//!
//! The numbers are looked up with a binary search over sorted ranges of equal
//! decisions, so a syscall costs about log2(ranges) ≈ 7 comparisons, and the
//! tree loads only the syscall number and architecture: the kernel's seccomp
//! action cache then recognises every allowed number without an argument
//! check as always allowed and skips the filter for it altogether.
//!
//! Written as raw BPF rather than with `seccompiler`: its filters check the
//! architecture but not the x32 bit, take one match and one mismatch action
//! for the whole filter (so not `EPERM` here, `ENOSYS` there and
//! `EAFNOSUPPORT` on a socket family), and compare the number against each
//! listed syscall in turn. The program is pure and unit-tested with a small
//! BPF interpreter and in the kernel (a forked child).

use libc::sock_filter;

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ALLOW: u32 = 0x7FFF_0000;
const RET_ERRNO: u32 = 0x0005_0000;

const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JA: u16 = 0x05; // BPF_JMP | BPF_JA
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const fn off_arg(i: u32) -> u32 {
    16 + 8 * i // low 32 bits of args[i] on little-endian
}

/// The kernel's limit on a classic BPF program (BPF_MAXINSNS).
const MAX_INSNS: usize = 4096;

/// `SECCOMP_RET_ERRNO` with `errno`.
const fn errno(e: i32) -> u32 {
    RET_ERRNO | e as u32
}

/// Namespace-creating flags refused in `clone`.
const CLONE_NS_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32;

/// Socket families a box may open (the first argument of `socket` and
/// `socketpair`); the rest get `EAFNOSUPPORT`.
pub const SOCKET_FAMILIES: &[i32] = &[libc::AF_UNIX, libc::AF_INET, libc::AF_INET6];

/// `(number, "SYS_name")` pairs from `libc`'s constants, so a name can never
/// drift from its number.
macro_rules! sys {
    ($($name:ident),* $(,)?) => { &[$((libc::$name, stringify!($name))),*] };
}

/// Allowed without looking at the arguments: what the twelve toolchains
/// (compile and run) and a workspace's shell, coreutils, git, pip and REPLs
/// call, traced by scripts/trace-syscalls.sh, plus the rest of the ordinary
/// POSIX surface of each group that a user program may call directly.
/// docs/seccomp.md explains each group and how to extend the list.
pub const ALLOWED: &[(i64, &str)] = sys![
    // Descriptors and I/O.
    SYS_read,
    SYS_write,
    SYS_readv,
    SYS_writev,
    SYS_pread64,
    SYS_pwrite64,
    SYS_preadv,
    SYS_pwritev,
    SYS_preadv2,
    SYS_pwritev2,
    SYS_open,
    SYS_openat,
    SYS_openat2,
    SYS_creat,
    SYS_close,
    SYS_close_range,
    SYS_lseek,
    SYS_dup,
    SYS_dup2,
    SYS_dup3,
    SYS_pipe,
    SYS_pipe2,
    SYS_fcntl,
    SYS_flock,
    SYS_fsync,
    SYS_fdatasync,
    SYS_ftruncate,
    SYS_truncate,
    SYS_fallocate,
    SYS_fadvise64,
    SYS_sendfile,
    SYS_copy_file_range,
    // Files, directories and their metadata.
    SYS_stat,
    SYS_fstat,
    SYS_lstat,
    SYS_newfstatat,
    SYS_statx,
    SYS_statfs,
    SYS_fstatfs,
    SYS_access,
    SYS_faccessat,
    SYS_faccessat2,
    SYS_getdents,
    SYS_getdents64,
    SYS_getcwd,
    SYS_chdir,
    SYS_fchdir,
    SYS_mkdir,
    SYS_mkdirat,
    SYS_rmdir,
    SYS_rename,
    SYS_renameat,
    SYS_renameat2,
    SYS_link,
    SYS_linkat,
    SYS_unlink,
    SYS_unlinkat,
    SYS_symlink,
    SYS_symlinkat,
    SYS_readlink,
    SYS_readlinkat,
    SYS_chmod,
    SYS_fchmod,
    SYS_fchmodat,
    SYS_chown,
    SYS_fchown,
    SYS_lchown,
    SYS_fchownat,
    SYS_umask,
    SYS_utime,
    SYS_utimes,
    SYS_utimensat,
    SYS_futimesat,
    SYS_mknod,
    SYS_mknodat,
    SYS_getxattr,
    SYS_lgetxattr,
    SYS_fgetxattr,
    SYS_listxattr,
    SYS_llistxattr,
    SYS_flistxattr,
    SYS_setxattr,
    SYS_lsetxattr,
    SYS_fsetxattr,
    SYS_removexattr,
    SYS_lremovexattr,
    SYS_fremovexattr,
    SYS_inotify_init,
    SYS_inotify_init1,
    SYS_inotify_add_watch,
    SYS_inotify_rm_watch,
    // Waiting for events.
    SYS_select,
    SYS_pselect6,
    SYS_poll,
    SYS_ppoll,
    SYS_epoll_create,
    SYS_epoll_create1,
    SYS_epoll_ctl,
    SYS_epoll_wait,
    SYS_epoll_pwait,
    SYS_epoll_pwait2,
    SYS_eventfd,
    SYS_eventfd2,
    SYS_signalfd,
    SYS_signalfd4,
    SYS_timerfd_create,
    SYS_timerfd_settime,
    SYS_timerfd_gettime,
    // Memory.
    SYS_brk,
    SYS_mmap,
    SYS_munmap,
    SYS_mprotect,
    SYS_mremap,
    SYS_madvise,
    SYS_msync,
    SYS_mincore,
    SYS_mlock,
    SYS_mlock2,
    SYS_munlock,
    SYS_mlockall,
    SYS_munlockall,
    SYS_membarrier,
    SYS_memfd_create,
    SYS_pkey_alloc,
    SYS_pkey_free,
    SYS_pkey_mprotect,
    SYS_get_mempolicy,
    SYS_set_mempolicy,
    SYS_mbind,
    // Processes and threads.
    SYS_execve,
    SYS_execveat,
    SYS_fork,
    SYS_vfork,
    SYS_exit,
    SYS_exit_group,
    SYS_wait4,
    SYS_waitid,
    SYS_kill,
    SYS_tkill,
    SYS_tgkill,
    SYS_getpid,
    SYS_getppid,
    SYS_gettid,
    SYS_getpgid,
    SYS_getpgrp,
    SYS_setpgid,
    SYS_getsid,
    SYS_setsid,
    SYS_set_tid_address,
    SYS_set_robust_list,
    SYS_futex,
    SYS_rseq,
    SYS_arch_prctl,
    SYS_prctl,
    SYS_sched_yield,
    SYS_sched_getaffinity,
    SYS_sched_setaffinity,
    SYS_sched_getparam,
    SYS_sched_setparam,
    SYS_sched_getscheduler,
    SYS_sched_setscheduler,
    SYS_sched_getattr,
    SYS_sched_setattr,
    SYS_sched_get_priority_max,
    SYS_sched_get_priority_min,
    SYS_sched_rr_get_interval,
    SYS_getpriority,
    SYS_setpriority,
    SYS_getrlimit,
    SYS_setrlimit,
    SYS_prlimit64,
    SYS_getrusage,
    SYS_pidfd_open,
    SYS_pidfd_send_signal,
    SYS_capget,
    SYS_getuid,
    SYS_geteuid,
    SYS_getgid,
    SYS_getegid,
    SYS_getgroups,
    SYS_getresuid,
    SYS_getresgid,
    // Signals.
    SYS_rt_sigaction,
    SYS_rt_sigprocmask,
    SYS_rt_sigreturn,
    SYS_rt_sigsuspend,
    SYS_rt_sigpending,
    SYS_rt_sigtimedwait,
    SYS_rt_sigqueueinfo,
    SYS_rt_tgsigqueueinfo,
    SYS_sigaltstack,
    SYS_pause,
    SYS_alarm,
    SYS_restart_syscall,
    // Time.
    SYS_clock_gettime,
    SYS_clock_getres,
    SYS_clock_nanosleep,
    SYS_nanosleep,
    SYS_gettimeofday,
    SYS_time,
    SYS_times,
    SYS_getitimer,
    SYS_setitimer,
    SYS_timer_create,
    SYS_timer_settime,
    SYS_timer_gettime,
    SYS_timer_getoverrun,
    SYS_timer_delete,
    // Sockets (`socket` and `socketpair` are in ARG_CHECKED).
    SYS_bind,
    SYS_listen,
    SYS_accept,
    SYS_accept4,
    SYS_connect,
    SYS_getsockname,
    SYS_getpeername,
    SYS_sendto,
    SYS_recvfrom,
    SYS_sendmsg,
    SYS_recvmsg,
    SYS_sendmmsg,
    SYS_recvmmsg,
    SYS_shutdown,
    SYS_setsockopt,
    SYS_getsockopt,
    // SysV and POSIX IPC (the box's own IPC namespace).
    SYS_shmget,
    SYS_shmat,
    SYS_shmdt,
    SYS_shmctl,
    SYS_semget,
    SYS_semop,
    SYS_semtimedop,
    SYS_semctl,
    SYS_msgget,
    SYS_msgsnd,
    SYS_msgrcv,
    SYS_msgctl,
    SYS_mq_open,
    SYS_mq_unlink,
    SYS_mq_timedsend,
    SYS_mq_timedreceive,
    SYS_mq_notify,
    SYS_mq_getsetattr,
    // The system, read-only.
    SYS_uname,
    SYS_sysinfo,
    SYS_getrandom,
    SYS_getcpu,
];

/// Allowed after an argument check (see [`program`]); `clone3` is listed so
/// a trace that sees it is not mistaken for a missing entry: it always gets
/// `ENOSYS` (its flags live in memory a filter cannot read), and libc falls
/// back to `clone`.
pub const ARG_CHECKED: &[(i64, &str)] =
    sys![SYS_clone, SYS_clone3, SYS_socket, SYS_socketpair, SYS_ioctl];

/// Refused with `EPERM` even if a toolchain is seen calling them: they touch
/// the kernel, other namespaces or other processes, or are classic escape and
/// exploitation vectors.
pub const DENIED: &[(i64, &str)] = sys![
    SYS_mount,
    SYS_umount2,
    SYS_pivot_root,
    SYS_chroot,
    SYS_fsopen,
    SYS_fsconfig,
    SYS_fsmount,
    SYS_fspick,
    SYS_move_mount,
    SYS_open_tree,
    SYS_mount_setattr,
    SYS_ptrace,
    SYS_process_vm_readv,
    SYS_process_vm_writev,
    SYS_kexec_load,
    SYS_kexec_file_load,
    SYS_reboot,
    SYS_init_module,
    SYS_finit_module,
    SYS_delete_module,
    SYS_bpf,
    SYS_perf_event_open,
    SYS_keyctl,
    SYS_add_key,
    SYS_request_key,
    SYS_unshare,
    SYS_setns,
    SYS_io_uring_setup,
    SYS_io_uring_enter,
    SYS_io_uring_register,
    SYS_userfaultfd,
    SYS_swapon,
    SYS_swapoff,
    SYS_acct,
    SYS_quotactl,
    SYS_settimeofday,
    SYS_clock_settime,
    SYS_clock_adjtime,
    SYS_adjtimex,
    SYS_syslog,
    SYS_open_by_handle_at,
    SYS_name_to_handle_at,
    SYS_lookup_dcookie,
    SYS_fanotify_init,
    SYS_vhangup,
    SYS_iopl,
    SYS_ioperm,
    SYS_uselib,
    SYS_sethostname,
    SYS_setdomainname,
    SYS_kcmp,
    SYS_pidfd_getfd,
];

/// What the number tree decides for one syscall number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaf {
    Ret(u32),
    Clone,
    Socket,
    Ioctl,
}

/// Code of the number tree before the argument checks' addresses are known.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// `JGE k`: on to the next op (the "below" subtree, `below` ops long)
    /// when the number is under `k`, past that subtree when it is at least `k`.
    Jge {
        k: u32,
        below: usize,
    },
    Ret(u32),
    /// A jump to the argument check of a [`Leaf`].
    To(Leaf),
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The decision for each syscall number as sorted, merged ranges
/// `(first number, leaf)`, each running up to the next one's start; numbers
/// above the last table entry get `ENOSYS`.
fn ranges() -> Vec<(u32, Leaf)> {
    let max = ALLOWED
        .iter()
        .chain(ARG_CHECKED)
        .chain(DENIED)
        .map(|&(nr, _)| nr)
        .max()
        .unwrap_or(0) as u32;
    let mut leaves = vec![Leaf::Ret(errno(libc::ENOSYS)); max as usize + 2];
    for &(nr, _) in ALLOWED {
        leaves[nr as usize] = Leaf::Ret(RET_ALLOW);
    }
    for &(nr, _) in DENIED {
        leaves[nr as usize] = Leaf::Ret(errno(libc::EPERM));
    }
    leaves[libc::SYS_clone as usize] = Leaf::Clone;
    leaves[libc::SYS_clone3 as usize] = Leaf::Ret(errno(libc::ENOSYS));
    leaves[libc::SYS_socket as usize] = Leaf::Socket;
    leaves[libc::SYS_socketpair as usize] = Leaf::Socket;
    leaves[libc::SYS_ioctl as usize] = Leaf::Ioctl;
    let mut out: Vec<(u32, Leaf)> = Vec::new();
    for (nr, leaf) in leaves.into_iter().enumerate() {
        if out.last().map(|&(_, l)| l) != Some(leaf) {
            out.push((nr as u32, leaf));
        }
    }
    out
}

/// A balanced binary search over `ranges` (the first starts at or below
/// every number that reaches it). Preorder: a node's "below" subtree follows
/// it, its "at or above" subtree follows that.
fn tree(ranges: &[(u32, Leaf)], code: &mut Vec<Op>) {
    if let [(_, leaf)] = ranges {
        code.push(match *leaf {
            Leaf::Ret(r) => Op::Ret(r),
            l => Op::To(l),
        });
        return;
    }
    let mid = ranges.len() / 2;
    let node = code.len();
    code.push(Op::Jge {
        k: ranges[mid].0,
        below: 0,
    });
    tree(&ranges[..mid], code);
    let below = code.len() - node - 1;
    code[node] = Op::Jge {
        k: ranges[mid].0,
        below,
    };
    tree(&ranges[mid..], code);
}

/// Builds the filter program. Pure: unit-tested without installing it.
pub fn program() -> Vec<sock_filter> {
    assemble(&ranges())
}

/// The prologue (architecture and x32 checks), the number tree over `ranges`
/// and the argument checks.
fn assemble(ranges: &[(u32, Leaf)]) -> Vec<sock_filter> {
    let mut p = vec![
        stmt(LD_W_ABS, OFF_ARCH),
        jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, RET_KILL_PROCESS),
        stmt(LD_W_ABS, OFF_NR),
        jump(JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(RET_K, RET_KILL_PROCESS),
    ];
    let mut ops = Vec::new();
    tree(ranges, &mut ops);
    // Instructions per op: a JGE whose "below" subtree is longer than a jump
    // offset (255) takes a JA after it. A subtree lies after its node, so the
    // sizes are settled from the last op backwards.
    let mut size = vec![1usize; ops.len()];
    for i in (0..ops.len()).rev() {
        if let Op::Jge { below, .. } = ops[i] {
            let len: usize = size[i + 1..=i + below].iter().sum();
            size[i] = if len > 255 { 2 } else { 1 };
        }
    }
    let checks_at = p.len() + size.iter().sum::<usize>();
    let checks = arg_checks();
    for (i, op) in ops.iter().enumerate() {
        match *op {
            Op::Jge { k, below } => {
                let len: usize = size[i + 1..=i + below].iter().sum();
                if size[i] == 1 {
                    p.push(jump(JGE_K, k, len as u8, 0));
                } else {
                    // JGE true → the JA over the "below" subtree; false → past the JA.
                    p.push(jump(JGE_K, k, 0, 1));
                    p.push(stmt(JA, len as u32));
                }
            }
            Op::Ret(r) => p.push(stmt(RET_K, r)),
            Op::To(leaf) => {
                let off = checks
                    .iter()
                    .find(|(l, _)| *l == leaf)
                    .map(|(_, off)| *off)
                    .expect("a check per leaf");
                let here = p.len();
                p.push(stmt(JA, (checks_at + off - here - 1) as u32));
            }
        }
    }
    debug_assert_eq!(p.len(), checks_at);
    p.extend(checks.iter().flat_map(|(leaf, _)| arg_check(*leaf)));
    p
}

/// Each argument check's offset within the checks' block, in order.
fn arg_checks() -> Vec<(Leaf, usize)> {
    let mut off = 0;
    [Leaf::Clone, Leaf::Socket, Leaf::Ioctl]
        .into_iter()
        .map(|l| {
            let here = off;
            off += arg_check(l).len();
            (l, here)
        })
        .collect()
}

/// The code that decides one argument-checked call; every path returns.
fn arg_check(leaf: Leaf) -> Vec<sock_filter> {
    let eperm = errno(libc::EPERM);
    match leaf {
        // clone(flags, …): no new namespaces.
        Leaf::Clone => vec![
            stmt(LD_W_ABS, off_arg(0)),
            jump(JSET_K, CLONE_NS_FLAGS, 0, 1),
            stmt(RET_K, eperm),
            stmt(RET_K, RET_ALLOW),
        ],
        // socket(domain, …) and socketpair(domain, …): SOCKET_FAMILIES only.
        Leaf::Socket => {
            let n = SOCKET_FAMILIES.len();
            let mut c = vec![stmt(LD_W_ABS, off_arg(0))];
            for (i, &f) in SOCKET_FAMILIES.iter().enumerate() {
                c.push(jump(JEQ_K, f as u32, (n - i) as u8, 0));
            }
            c.push(stmt(RET_K, errno(libc::EAFNOSUPPORT)));
            c.push(stmt(RET_K, RET_ALLOW));
            c
        }
        // ioctl(fd, TIOCSTI | TIOCLINUX, …): no typing into a terminal.
        Leaf::Ioctl => vec![
            stmt(LD_W_ABS, off_arg(1)),
            jump(JEQ_K, libc::TIOCSTI as u32, 1, 0),
            jump(JEQ_K, libc::TIOCLINUX as u32, 0, 1),
            stmt(RET_K, eperm),
            stmt(RET_K, RET_ALLOW),
        ],
        Leaf::Ret(r) => vec![stmt(RET_K, r)],
    }
}

/// Installs `prog` on the calling thread. `no_new_privs` must already be set.
/// Runs in the forked child of the box's single-threaded init.
pub fn install(prog: &[sock_filter]) -> std::io::Result<()> {
    if prog.len() > MAX_INSNS {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "seccomp program has {} instructions, the kernel takes at most {MAX_INSNS}",
                prog.len()
            ),
        ));
    }
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut sock_filter,
    };
    // SAFETY: `fprog` points at `prog`, which outlives the call; the kernel
    // copies the program and keeps no pointer to it.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &fprog as *const libc::sock_fprog as libc::c_ulong,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// A tiny BPF interpreter for the instructions `program` uses, so the
    /// filter's decisions are tested without installing it. Returns the
    /// decision and how many instructions ran.
    fn run_counted(prog: &[sock_filter], arch: u32, nr: u32, args: [u32; 6]) -> (u32, usize) {
        let mut acc = 0u32;
        let mut pc = 0usize;
        let mut steps = 0;
        loop {
            let i = *prog
                .get(pc)
                .unwrap_or_else(|| panic!("jumped to {pc}, past the end ({})", prog.len()));
            steps += 1;
            match i.code {
                LD_W_ABS => {
                    acc = match i.k {
                        OFF_NR => nr,
                        OFF_ARCH => arch,
                        k => args[((k - 16) / 8) as usize],
                    };
                    pc += 1;
                }
                RET_K => return (i.k, steps),
                JA => pc += 1 + i.k as usize,
                JEQ_K | JGE_K | JSET_K => {
                    let t = match i.code {
                        JEQ_K => acc == i.k,
                        JGE_K => acc >= i.k,
                        _ => acc & i.k != 0,
                    };
                    pc += 1 + if t { i.jt as usize } else { i.jf as usize };
                }
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    fn run(prog: &[sock_filter], arch: u32, nr: u32, args: [u32; 6]) -> u32 {
        run_counted(prog, arch, nr, args).0
    }

    fn decide(nr: i64, args: [u32; 6]) -> u32 {
        run(&program(), AUDIT_ARCH_X86_64, nr as u32, args)
    }

    const ENOSYS: u32 = RET_ERRNO | libc::ENOSYS as u32;
    const EPERM: u32 = RET_ERRNO | libc::EPERM as u32;

    #[test]
    fn every_allowed_syscall_is_allowed_and_nothing_else() {
        let prog = program();
        let allowed: HashSet<i64> = ALLOWED.iter().map(|&(nr, _)| nr).collect();
        let denied: HashSet<i64> = DENIED.iter().map(|&(nr, _)| nr).collect();
        let checked: HashSet<i64> = ARG_CHECKED.iter().map(|&(nr, _)| nr).collect();
        // Past every number a kernel has today, and a few far beyond.
        for nr in (0..2048).chain([4095, 100_000, 0x3FFF_FFFF]) {
            let got = run(&prog, AUDIT_ARCH_X86_64, nr as u32, [0; 6]);
            let want = if allowed.contains(&nr) {
                RET_ALLOW
            } else if denied.contains(&nr) {
                EPERM
            } else if checked.contains(&nr) {
                continue;
            } else {
                ENOSYS
            };
            assert_eq!(got, want, "syscall {nr}");
        }
    }

    #[test]
    fn tables_are_disjoint_and_free_of_duplicates() {
        let mut seen = HashSet::new();
        for e in ALLOWED.iter().chain(ARG_CHECKED).chain(DENIED) {
            assert!(seen.insert(e.0), "{} ({}) is listed twice", e.1, e.0);
            assert!(e.1.starts_with("SYS_"), "{}", e.1);
        }
    }

    #[test]
    fn new_and_dangerous_syscalls_are_refused() {
        // listmount, statmount, memfd_secret, personality, modify_ldt, a future number.
        for nr in [
            458,
            457,
            libc::SYS_memfd_secret,
            libc::SYS_personality,
            libc::SYS_modify_ldt,
            1000,
        ] {
            assert_eq!(decide(nr, [0; 6]), ENOSYS, "syscall {nr}");
        }
        for &(nr, n) in DENIED {
            assert_eq!(decide(nr, [0; 6]), EPERM, "{n}");
        }
        assert_eq!(decide(libc::SYS_clone3, [0; 6]), ENOSYS);
    }

    #[test]
    fn argument_checks() {
        let eaf = RET_ERRNO | libc::EAFNOSUPPORT as u32;
        for sys in [libc::SYS_socket, libc::SYS_socketpair] {
            for &f in SOCKET_FAMILIES {
                assert_eq!(
                    decide(sys, [f as u32, 1, 0, 0, 0, 0]),
                    RET_ALLOW,
                    "family {f}"
                );
            }
            for f in [
                libc::AF_VSOCK,
                libc::AF_NETLINK,
                libc::AF_PACKET,
                libc::AF_ALG,
                libc::AF_TIPC,
                libc::AF_KEY,
            ] {
                assert_eq!(decide(sys, [f as u32, 1, 0, 0, 0, 0]), eaf, "family {f}");
            }
        }
        assert_eq!(
            decide(libc::SYS_clone, [libc::SIGCHLD as u32, 0, 0, 0, 0, 0]),
            RET_ALLOW
        );
        let threads = (libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD) as u32;
        assert_eq!(decide(libc::SYS_clone, [threads, 0, 0, 0, 0, 0]), RET_ALLOW);
        for f in [
            libc::CLONE_NEWUSER,
            libc::CLONE_NEWNS,
            libc::CLONE_NEWNET,
            libc::CLONE_NEWPID,
        ] {
            assert_eq!(
                decide(
                    libc::SYS_clone,
                    [f as u32 | libc::SIGCHLD as u32, 0, 0, 0, 0, 0]
                ),
                EPERM
            );
        }
        assert_eq!(
            decide(libc::SYS_ioctl, [1, libc::TCGETS as u32, 0, 0, 0, 0]),
            RET_ALLOW
        );
        assert_eq!(
            decide(libc::SYS_ioctl, [0, libc::TIOCSTI as u32, 0, 0, 0, 0]),
            EPERM
        );
        assert_eq!(
            decide(libc::SYS_ioctl, [0, libc::TIOCLINUX as u32, 0, 0, 0, 0]),
            EPERM
        );
    }

    #[test]
    fn x32_and_foreign_arches_are_killed() {
        let x32_getpid = (libc::SYS_getpid as u32) | X32_SYSCALL_BIT;
        assert_eq!(
            run(&program(), AUDIT_ARCH_X86_64, x32_getpid, [0; 6]),
            RET_KILL_PROCESS
        );
        assert_eq!(
            run(&program(), AUDIT_ARCH_X86_64, u32::MAX, [0; 6]),
            RET_KILL_PROCESS
        );
        let i386 = 0x4000_0003;
        assert_eq!(run(&program(), i386, 20, [0; 6]), RET_KILL_PROCESS);
    }

    /// The lookup stays a shallow tree: a bound on the instructions any
    /// number runs (prologue 5, a balanced tree, the longest check 7).
    #[test]
    fn every_decision_takes_few_instructions() {
        let prog = program();
        assert!(prog.len() < MAX_INSNS, "{} instructions", prog.len());
        let depth = (usize::BITS - ranges().len().leading_zeros()) as usize;
        let max = (0..1024u32)
            .map(|nr| run_counted(&prog, AUDIT_ARCH_X86_64, nr, [0; 6]).1)
            .max()
            .unwrap();
        assert!(
            max <= 5 + 2 * depth + 1 + 7,
            "{max} instructions for {} ranges",
            ranges().len()
        );
    }

    /// Long jumps (more than 255 instructions) are split into JGE + JA; a
    /// synthetic table with one range per number forces them.
    #[test]
    fn long_jumps_are_encoded() {
        let many: Vec<(u32, Leaf)> = (0..700).map(|n| (n, Leaf::Ret(RET_ERRNO | n))).collect();
        let prog = assemble(&many);
        assert!(
            prog.iter().any(|i| i.code == JA),
            "no long jump in {} instructions",
            prog.len()
        );
        for nr in 0..800 {
            assert_eq!(
                run(&prog, AUDIT_ARCH_X86_64, nr, [0; 6]),
                RET_ERRNO | nr.min(699),
                "syscall {nr}"
            );
        }
    }

    /// The kernel accepts the program, and decides as the interpreter does:
    /// a forked child installs it and makes a few calls; the exit code says
    /// which check failed.
    #[test]
    fn the_kernel_runs_the_program_as_the_interpreter_does() {
        let prog = program();
        // SAFETY: the child only makes raw syscalls and _exits; it touches
        // no lock or allocator state the fork may have copied mid-use.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let code = unsafe {
                // SAFETY: integer-only prctl and raw syscalls on this process;
                // the pointers passed are null or to `fprog` on this stack.
                let fprog = libc::sock_fprog {
                    len: prog.len() as u16,
                    filter: prog.as_ptr() as *mut sock_filter,
                };
                let errno = || *libc::__errno_location();
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    10
                } else if libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                    &fprog as *const _ as libc::c_ulong,
                ) != 0
                {
                    11
                } else if libc::syscall(458, 0, 0, 0, 0) != -1 || errno() != libc::ENOSYS {
                    12 // listmount
                } else if libc::syscall(1000) != -1 || errno() != libc::ENOSYS {
                    13
                } else if libc::syscall(libc::SYS_personality, 0xffff_ffffu32) != -1
                    || errno() != libc::ENOSYS
                {
                    14
                } else if libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER) != -1
                    || errno() != libc::EPERM
                {
                    15
                } else if libc::syscall(libc::SYS_socket, libc::AF_NETLINK, libc::SOCK_RAW, 0) != -1
                    || errno() != libc::EAFNOSUPPORT
                {
                    16
                } else if libc::syscall(libc::SYS_getppid) <= 0 {
                    17
                } else {
                    0
                }
            };
            // SAFETY: ends the forked child without running the test harness's
            // atexit handlers.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            // SAFETY: polls the child forked above; `status` is a valid out-pointer.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                break;
            }
            assert_eq!(r, 0, "waitpid: {}", std::io::Error::last_os_error());
            if std::time::Instant::now() > deadline {
                // SAFETY: kills and reaps our own child, which is past its deadline.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
                panic!("the filtered child did not exit within 20 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(libc::WIFEXITED(status), "child died: status {status:#x}");
        assert_eq!(libc::WEXITSTATUS(status), 0, "see the numbered checks");
    }
}
