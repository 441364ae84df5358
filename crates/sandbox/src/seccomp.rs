//! The seccomp filter installed in every sandboxed process just before
//! `execve`. A denylist over the native x86_64 ABI: foreign architectures and
//! every x32 syscall (`nr | 0x4000_0000`) kill the process; the calls below get
//! `EPERM` (so runtimes that probe, like libuv with io_uring, fall back);
//! `clone3` gets `ENOSYS` so libc falls back to `clone`, whose flags are checked.
//!
//! Written as raw BPF rather than with `seccompiler` because the x32 range
//! check and the argument checks need `JGE`/`JSET` jumps it cannot express.

use libc::sock_filter;

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ALLOW: u32 = 0x7FFF_0000;
const RET_ERRNO: u32 = 0x0005_0000;

const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const fn off_arg(i: u32) -> u32 {
    16 + 8 * i // low 32 bits of args[i] on little-endian
}

/// Namespace-creating flags refused in `clone`.
const CLONE_NS_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32;

/// Syscalls a sandboxed program never needs: they touch the kernel, other
/// namespaces, or are classic escape and exploitation vectors.
pub const DENIED: &[(i64, &str)] = &[
    (libc::SYS_mount, "mount"),
    (libc::SYS_umount2, "umount2"),
    (libc::SYS_pivot_root, "pivot_root"),
    (libc::SYS_chroot, "chroot"),
    (libc::SYS_fsopen, "fsopen"),
    (libc::SYS_fsconfig, "fsconfig"),
    (libc::SYS_fsmount, "fsmount"),
    (libc::SYS_fspick, "fspick"),
    (libc::SYS_move_mount, "move_mount"),
    (libc::SYS_open_tree, "open_tree"),
    (libc::SYS_mount_setattr, "mount_setattr"),
    (libc::SYS_ptrace, "ptrace"),
    (libc::SYS_process_vm_readv, "process_vm_readv"),
    (libc::SYS_process_vm_writev, "process_vm_writev"),
    (libc::SYS_kexec_load, "kexec_load"),
    (libc::SYS_kexec_file_load, "kexec_file_load"),
    (libc::SYS_reboot, "reboot"),
    (libc::SYS_init_module, "init_module"),
    (libc::SYS_finit_module, "finit_module"),
    (libc::SYS_delete_module, "delete_module"),
    (libc::SYS_bpf, "bpf"),
    (libc::SYS_perf_event_open, "perf_event_open"),
    (libc::SYS_keyctl, "keyctl"),
    (libc::SYS_add_key, "add_key"),
    (libc::SYS_request_key, "request_key"),
    (libc::SYS_unshare, "unshare"),
    (libc::SYS_setns, "setns"),
    (libc::SYS_io_uring_setup, "io_uring_setup"),
    (libc::SYS_io_uring_enter, "io_uring_enter"),
    (libc::SYS_io_uring_register, "io_uring_register"),
    (libc::SYS_userfaultfd, "userfaultfd"),
    (libc::SYS_swapon, "swapon"),
    (libc::SYS_swapoff, "swapoff"),
    (libc::SYS_acct, "acct"),
    (libc::SYS_quotactl, "quotactl"),
    (libc::SYS_settimeofday, "settimeofday"),
    (libc::SYS_clock_settime, "clock_settime"),
    (libc::SYS_clock_adjtime, "clock_adjtime"),
    (libc::SYS_adjtimex, "adjtimex"),
    (libc::SYS_syslog, "syslog"),
    (libc::SYS_open_by_handle_at, "open_by_handle_at"),
    (libc::SYS_name_to_handle_at, "name_to_handle_at"),
    (libc::SYS_lookup_dcookie, "lookup_dcookie"),
    (libc::SYS_fanotify_init, "fanotify_init"),
    (libc::SYS_vhangup, "vhangup"),
    (libc::SYS_iopl, "iopl"),
    (libc::SYS_ioperm, "ioperm"),
    (libc::SYS_uselib, "uselib"),
    (libc::SYS_sethostname, "sethostname"),
    (libc::SYS_setdomainname, "setdomainname"),
    (libc::SYS_kcmp, "kcmp"),
    (libc::SYS_pidfd_getfd, "pidfd_getfd"),
];

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Builds the filter program. Pure: unit-tested without installing it.
pub fn program() -> Vec<sock_filter> {
    let eperm = RET_ERRNO | libc::EPERM as u32;
    let mut p = vec![
        stmt(LD_W_ABS, OFF_ARCH),
        jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, RET_KILL_PROCESS),
        stmt(LD_W_ABS, OFF_NR),
        jump(JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(RET_K, RET_KILL_PROCESS),
    ];
    for &(nr, _) in DENIED {
        p.push(jump(JEQ_K, nr as u32, 0, 1));
        p.push(stmt(RET_K, eperm));
    }
    p.push(jump(JEQ_K, libc::SYS_clone3 as u32, 0, 1));
    p.push(stmt(RET_K, RET_ERRNO | libc::ENOSYS as u32));
    // socket(domain, …): no vsock, no netlink.
    p.extend([
        jump(JEQ_K, libc::SYS_socket as u32, 0, 4),
        stmt(LD_W_ABS, off_arg(0)),
        jump(JEQ_K, libc::AF_VSOCK as u32, 1, 0),
        jump(JEQ_K, libc::AF_NETLINK as u32, 0, 1),
        stmt(RET_K, RET_ERRNO | libc::EAFNOSUPPORT as u32),
        stmt(LD_W_ABS, OFF_NR),
    ]);
    // clone(flags, …): no new namespaces.
    p.extend([
        jump(JEQ_K, libc::SYS_clone as u32, 0, 3),
        stmt(LD_W_ABS, off_arg(0)),
        jump(JSET_K, CLONE_NS_FLAGS, 0, 1),
        stmt(RET_K, eperm),
        stmt(LD_W_ABS, OFF_NR),
    ]);
    // ioctl(fd, TIOCSTI | TIOCLINUX, …): no typing into another terminal.
    p.extend([
        jump(JEQ_K, libc::SYS_ioctl as u32, 0, 4),
        stmt(LD_W_ABS, off_arg(1)),
        jump(JEQ_K, libc::TIOCSTI as u32, 1, 0),
        jump(JEQ_K, libc::TIOCLINUX as u32, 0, 1),
        stmt(RET_K, eperm),
    ]);
    p.push(stmt(RET_K, RET_ALLOW));
    p
}

/// Installs `prog` on the calling thread. `no_new_privs` must already be set.
/// Runs in the forked child of the box's single-threaded init.
pub fn install(prog: &[sock_filter]) -> std::io::Result<()> {
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

    /// A tiny BPF interpreter for the instructions `program` uses, so the
    /// filter's decisions are tested without installing it.
    fn run(prog: &[sock_filter], arch: u32, nr: u32, args: [u32; 6]) -> u32 {
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            match i.code {
                LD_W_ABS => {
                    acc = match i.k {
                        OFF_NR => nr,
                        OFF_ARCH => arch,
                        k => args[((k - 16) / 8) as usize],
                    };
                    pc += 1;
                }
                RET_K => return i.k,
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

    fn decide(nr: i64, args: [u32; 6]) -> u32 {
        run(&program(), AUDIT_ARCH_X86_64, nr as u32, args)
    }

    #[test]
    fn ordinary_syscalls_are_allowed() {
        for nr in [libc::SYS_read, libc::SYS_write, libc::SYS_mmap, libc::SYS_execve, libc::SYS_exit_group] {
            assert_eq!(decide(nr, [0; 6]), RET_ALLOW, "syscall {nr}");
        }
        assert_eq!(decide(libc::SYS_socket, [libc::AF_UNIX as u32, 1, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(decide(libc::SYS_clone, [libc::SIGCHLD as u32, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(decide(libc::SYS_ioctl, [1, libc::TCGETS as u32, 0, 0, 0, 0]), RET_ALLOW);
    }

    #[test]
    fn denied_syscalls_get_eperm() {
        for &(nr, name) in DENIED {
            assert_eq!(decide(nr, [0; 6]), RET_ERRNO | libc::EPERM as u32, "{name}");
        }
        assert_eq!(decide(libc::SYS_clone3, [0; 6]), RET_ERRNO | libc::ENOSYS as u32);
    }

    #[test]
    fn argument_checks() {
        let vsock = decide(libc::SYS_socket, [libc::AF_VSOCK as u32, 1, 0, 0, 0, 0]);
        let netlink = decide(libc::SYS_socket, [libc::AF_NETLINK as u32, 3, 0, 0, 0, 0]);
        assert_eq!(vsock, RET_ERRNO | libc::EAFNOSUPPORT as u32);
        assert_eq!(netlink, RET_ERRNO | libc::EAFNOSUPPORT as u32);
        let newuser = decide(libc::SYS_clone, [libc::CLONE_NEWUSER as u32, 0, 0, 0, 0, 0]);
        assert_eq!(newuser, RET_ERRNO | libc::EPERM as u32);
        let sti = decide(libc::SYS_ioctl, [0, libc::TIOCSTI as u32, 0, 0, 0, 0]);
        assert_eq!(sti, RET_ERRNO | libc::EPERM as u32);
    }

    #[test]
    fn x32_and_foreign_arches_are_killed() {
        let x32_getpid = (libc::SYS_getpid as u32) | X32_SYSCALL_BIT;
        assert_eq!(run(&program(), AUDIT_ARCH_X86_64, x32_getpid, [0; 6]), RET_KILL_PROCESS);
        let i386 = 0x4000_0003;
        assert_eq!(run(&program(), i386, 20, [0; 6]), RET_KILL_PROCESS);
    }

    #[test]
    fn program_fits_the_kernel_limit() {
        assert!(program().len() < 4096);
    }
}
