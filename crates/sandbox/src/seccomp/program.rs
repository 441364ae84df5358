//! The BPF program: a binary search over ranges of syscall numbers with
//! equal decisions, then the argument checks (see the module header of
//! [`seccomp`](super)).

use libc::sock_filter;

use super::tables::{ALLOWED, ARG_CHECKED, CLONE_NS_FLAGS, DENIED, SOCKET_FAMILIES};

pub(super) const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
pub(super) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

pub(super) const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub(super) const RET_ALLOW: u32 = 0x7FFF_0000;
pub(super) const RET_ERRNO: u32 = 0x0005_0000;

pub(super) const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
pub(super) const JA: u16 = 0x05; // BPF_JMP | BPF_JA
pub(super) const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
pub(super) const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
pub(super) const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
pub(super) const RET_K: u16 = 0x06; // BPF_RET | BPF_K

pub(super) const OFF_NR: u32 = 0;
pub(super) const OFF_ARCH: u32 = 4;
const fn off_arg(i: u32) -> u32 {
    16 + 8 * i // low 32 bits of args[i] on little-endian
}

/// `SECCOMP_RET_ERRNO` with `errno`.
const fn errno(e: i32) -> u32 {
    RET_ERRNO | e as u32
}

/// What the number tree decides for one syscall number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Leaf {
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
pub(super) fn ranges() -> Vec<(u32, Leaf)> {
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
pub(super) fn assemble(ranges: &[(u32, Leaf)]) -> Vec<sock_filter> {
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
