use super::program::*;
use super::*;
use libc::sock_filter;
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
