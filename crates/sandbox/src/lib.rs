//! kiln-sandbox: Kiln's Linux sandbox, the only crate of Kiln with `unsafe`.
//!
//! A *box* is a set of fresh namespaces (user, mount, PID, network, IPC,
//! UTS, cgroup) with its own root built from read-only binds, a cgroup, and an
//! unprivileged uid. The host never forks its multi-threaded self into setup
//! code: it re-executes its binary as a single-threaded helper that builds the
//! box and forks the box's init; the host talks to init over a socket.
//!
//! Module map:
//! - [`sandbox`]  — host side: checks the host, allocates uids and cgroups, starts boxes.
//! - [`boxed`]    — one live box: files in and out, destroy.
//! - [`exec`]     — running a program in a box: limits, output cap, measurements
//!   (the watcher, the output pump and the verdict in submodules).
//! - [`pty`]      — interactive programs on a pseudo-terminal.
//! - `conn`       — the host's end of the control socket (request routing); every
//!   wait on a box has a deadline, a box that misses it is killed.
//! - [`protocol`] — the messages between host and box; packet size limits
//!   ([`protocol::MAX_PACKET`], [`protocol::MAX_EXEC_STRINGS_BYTES`]); its
//!   `wire` submodule sends and receives packets.
//! - [`helper`]   — the re-executed helper: closes inherited descriptors, joins
//!   cgroups, unshares, forks init.
//! - `init`       — the box's PID 1: builds the root, serves requests, execs programs
//!   (paths resolved as the box user inside the box; scratch memory freed between runs);
//!   submodules `spawn`, `child` and `resolve` start a program, `cleanup` ends a run.
//! - `rootfs`     — mounts and `pivot_root` of a box's root: recursive read-only
//!   binds (`mounts`), a masked `/proc` and a minimal `/dev` (`procdev`), overlays
//!   that keep host paths out of `mountinfo` (`stage`).
//! - [`files`]    — `openat2`-based file access that never follows symlinks, and
//!   [`files::check_exec_path`], the one rule for an exec's cwd and program.
//! - [`seccomp`]  — the syscall allowlist (x86_64 BPF; x32 and foreign arches killed):
//!   the tables, and the program built from them.
//! - [`cgroup`]   — cgroup v1 and v2 behind one interface; a box's group holds an
//!   `init` child (helper, init) and the limited `run` child (programs); v1 and
//!   v2 share the helpers of `cgroup::files`.
//! - `uid`        — per-box uids, distinct across processes.
//! - [`userns`]     — each box's own user namespace (init root inside, an
//!   unprivileged uid outside): the probe, the maps, the switch.
//! - [`hostfds`]  — inherited descriptors marked close-on-exec before Kiln starts host tools.
//! - [`error`]    — the error type.

pub mod boxed;
pub mod cgroup;
mod conn;
pub mod error;
pub mod exec;
pub mod files;
pub mod helper;
pub mod hostfds;
mod init;
pub mod protocol;
pub mod pty;
mod rootfs;
pub mod sandbox;
pub mod seccomp;
mod uid;
pub mod userns;

pub use boxed::SandboxBox;
pub use cgroup::Version as CgroupVersion;
pub use error::SandboxError;
pub use exec::{ExecLimits, ExecOutcome, ExecSpec, Input, LimitHit, Output};
pub use protocol::{BindSpec, FileInfo, FileKind, FileOp, WORK_DIR};
pub use pty::PtyProcess;
pub use sandbox::{BoxOptions, HelperCommand, Sandbox, SandboxConfig, SandboxInfo, SYSTEM_BINDS};
pub use userns::{Model as UserModel, UserNamespaces};
