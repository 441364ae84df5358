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
//!
//! Layout: [`ALLOWED`], [`ARG_CHECKED`], [`DENIED`] and [`SOCKET_FAMILIES`]
//! live in `tables`; `program` turns them into the BPF program
//! ([`program()`]); this module installs it ([`install`]).

use libc::sock_filter;

mod program;
mod tables;
#[cfg(test)]
mod tests;

pub use program::program;
pub use tables::{ALLOWED, ARG_CHECKED, DENIED, SOCKET_FAMILIES};

/// The kernel's limit on a classic BPF program (BPF_MAXINSNS).
const MAX_INSNS: usize = 4096;

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
