//! Each box's own user namespace, so that no process of a box is root in the
//! host's user namespace.
//!
//! The box's root is built as before, by a privileged init (binds, a masked
//! `/proc` of the box's PID namespace, the host's device nodes bound,
//! `pivot_root`). Then init
//! unshares a user namespace together with a mount and an IPC namespace
//! ([`enter`]): the mounts it built are copied into a mount namespace owned
//! by the new user namespace, where the kernel locks them (they cannot be
//! unmounted to reveal what is below, nor made writable, suid or exec).
//! The helper, still privileged in the host's user namespace, writes the
//! new namespace's maps ([`write_maps`]):
//!
//! | inside | host | who |
//! |---|---|---|
//! | 0 (root) | the box's *root uid*, a second lease from the uid pool | init, each program until it drops its privileges |
//! | the box uid | the same uid | programs, and every file they own |
//!
//! (and the same for gids; `setgroups` stays allowed, since a privileged
//! process wrote the maps). Then init becomes uid 0 *inside*, which is the
//! unprivileged root uid outside, and the helper drops to that uid too: no
//! process of the box holds a capability in the host's user namespace. The
//! box uid keeps its host value, so a workspace's home keeps its owner.
//!
//! What init still does as root inside needs only capabilities over its own
//! namespaces: mounting `/tmp`, `/dev/shm` and a fresh `/box` (after the
//! switch, so that they are its own and can be replaced between runs), removing SysV objects
//! (its own IPC namespace), joining the `run` cgroup (through descriptors
//! the helper opened as host root: the kernel checks the opener's
//! credentials), chowning files to the box uid (mapped), dropping the
//! capability bounding set, `setresuid` to the box uid. Host-owned files
//! (`/usr`, …) show as `nobody` inside.
//!
//! Where the host cannot create user namespaces (`user.max_user_namespaces`
//! 0, a seccomp profile or an LSM that refuses `CLONE_NEWUSER`), the
//! [`UserNamespaces::Auto`] setting keeps the older model (init root on the
//! host, programs as the box uid) and says so; [`UserNamespaces::Required`]
//! refuses to start.

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sched::{unshare, CloneFlags};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::unistd::{Gid, Pid, Uid};

use crate::error::SandboxError;

/// Whether boxes get their own user namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserNamespaces {
    /// When the host allows them (probed at start); otherwise the older
    /// model, with a warning and `user_namespaces: false` in the info.
    Auto,
    /// Always: the sandbox refuses to start where the host does not allow them.
    Required,
    /// Never: init is root in the host's user namespace.
    Off,
}

impl UserNamespaces {
    /// The setting from `KILN_USER_NAMESPACES` (`auto`, `required`, `off`);
    /// `auto` when unset or unknown.
    pub fn from_env() -> UserNamespaces {
        let word = std::env::var("KILN_USER_NAMESPACES").ok();
        let mode = Self::parse(word.as_deref());
        if mode == UserNamespaces::Auto && word.as_deref().is_some_and(|w| w != "auto") {
            tracing::warn!(value = ?word, "KILN_USER_NAMESPACES is not one of auto, required, off: using auto");
        }
        mode
    }

    fn parse(word: Option<&str>) -> UserNamespaces {
        match word {
            Some("required") | Some("on") => UserNamespaces::Required,
            Some("off") => UserNamespaces::Off,
            _ => UserNamespaces::Auto,
        }
    }
}

/// How boxes stand to the host's users, decided once when the sandbox starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Kiln runs as root and init is root on the host (the older model:
    /// user namespaces off or unavailable).
    HostRoot,
    /// Kiln runs as root; each box has its own user namespace.
    PerBox,
    /// Kiln runs as an unprivileged user (see [`enter_rootless`]).
    Rootless,
}

/// The model for `mode` when Kiln runs as `euid`; `Err` when there is none.
pub(crate) fn resolve(mode: UserNamespaces, euid: u32) -> Result<Model, SandboxError> {
    if euid != 0 {
        if mode == UserNamespaces::Off {
            return Err(SandboxError::NotRoot(euid));
        }
        return probe().map(|()| Model::Rootless).map_err(|why| {
            SandboxError::layer(
                "user namespace",
                format!("running as uid {euid}, Kiln needs unprivileged user namespaces, and {why}; run it as root, or allow them (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns)"),
            )
        });
    }
    if mode == UserNamespaces::Off {
        tracing::info!("user namespaces are off (KILN_USER_NAMESPACES=off): each box's init is root on the host");
        return Ok(Model::HostRoot);
    }
    match (probe(), mode) {
        (Ok(()), _) => Ok(Model::PerBox),
        (Err(why), UserNamespaces::Required) => Err(SandboxError::layer(
            "user namespace",
            format!("{why}; user namespaces are required (KILN_USER_NAMESPACES=required): allow them, or set auto or off"),
        )),
        (Err(why), _) => {
            tracing::warn!(reason = %why, "user namespaces are unavailable: each box's init runs as root on the host (the older model); allow them for boxes without host root");
            Ok(Model::HostRoot)
        }
    }
}

/// A cgroup error, with what an unprivileged Kiln needs added.
pub(crate) fn cgroup_hint(e: SandboxError, model: Model) -> SandboxError {
    if model != Model::Rootless {
        return e;
    }
    let hint = "as an unprivileged user Kiln needs a cgroup subtree it may write: a delegated cgroup v2 subtree, e.g. `systemd-run --user --scope -p Delegate=yes kiln worker …`, with memory and pids delegated";
    match e {
        SandboxError::NoCgroups(m) => SandboxError::NoCgroups(format!("{m} ({hint})")),
        other => SandboxError::NoCgroups(format!("{other} ({hint})")),
    }
}

/// Rootless helper, before the other namespaces: a user namespace in which
/// the user Kiln runs as is the box's `uid`/`gid` and nothing else is mapped
/// (an unprivileged process may map only itself, and only after denying
/// `setgroups`). Init and programs are that uid inside, init with the
/// namespace's capabilities, programs with none. Without subordinate uid
/// ranges every box is the same host uid, Kiln's own: boxes are kept apart
/// by their PID, mount and IPC namespaces, the empty capability sets and
/// seccomp, not by uids.
pub(crate) fn enter_rootless(uid: u32, gid: u32) -> Result<(), String> {
    let (host_uid, host_gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| format!("unshare(user): {e}"))?;
    for (file, text) in [
        ("setgroups", "deny".to_string()),
        ("uid_map", format!("{uid} {host_uid} 1\n")),
        ("gid_map", format!("{gid} {host_gid} 1\n")),
    ] {
        std::fs::write(format!("/proc/self/{file}"), &text)
            .map_err(|e| format!("write /proc/self/{file} ({text:?}): {e}"))?;
    }
    Ok(())
}

/// Whether this process may create a user namespace: a child is cloned into
/// a new one and exits at once. `Err` says why not.
pub fn probe() -> Result<(), String> {
    let flags = libc::CLONE_NEWUSER as libc::c_long | libc::SIGCHLD as libc::c_long;
    // SAFETY: a raw clone without a new stack behaves like fork; the child
    // calls only _exit (async-signal-safe), so the parent's other threads and
    // locks do not matter to it.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    if pid == 0 {
        // SAFETY: ends the child at once, running nothing of the parent's.
        unsafe { libc::_exit(0) }
    }
    if pid < 0 {
        return Err(format!(
            "clone(CLONE_NEWUSER): {} (user.max_user_namespaces, a seccomp profile or an LSM refuses it)",
            Errno::last()
        ));
    }
    let _ = nix::sys::wait::waitpid(Pid::from_raw(pid as i32), None);
    Ok(())
}

/// The helper's and init's ends of the channel on which init asks for its
/// maps, and the host's `/proc`, opened before anything changes.
pub(crate) struct Handshake {
    pub(crate) helper: OwnedFd,
    pub(crate) init: OwnedFd,
    proc_dir: OwnedFd,
}

impl Handshake {
    pub(crate) fn new() -> Result<Handshake, String> {
        let (helper, init) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| format!("socketpair: {e}"))?;
        let proc_dir = nix::fcntl::open(
            "/proc",
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| format!("open /proc: {e}"))?;
        Ok(Handshake {
            helper,
            init,
            proc_dir,
        })
    }
}

/// The maps of a box whose root is `root_uid` on the host and whose user is
/// `uid` (the same inside and out), as written to `uid_map` (and `gid_map`).
pub(crate) fn map_text(root_id: u32, id: u32) -> String {
    format!("0 {root_id} 1\n{id} {id} 1\n")
}

/// Helper side: waits until init (host pid `init`) has unshared its user
/// namespace, writes the maps, tells init, and then drops every privilege
/// (to `root_uid`). Returns false when init went away first.
pub(crate) fn write_maps(hs: Handshake, init: Pid, root_uid: u32, uid: u32, gid: u32) -> bool {
    let Handshake {
        helper, proc_dir, ..
    } = hs;
    let mut b = [0u8; 1];
    match nix::unistd::read(&helper, &mut b) {
        Ok(1) => {}
        _ => return false,
    }
    let r = write_map(&proc_dir, init, "uid_map", &map_text(root_uid, uid))
        .and_then(|()| write_map(&proc_dir, init, "gid_map", &map_text(root_uid, gid)));
    let answer = match &r {
        Ok(()) => String::new(),
        Err(e) => e.clone(),
    };
    let _ = nix::unistd::write(
        &helper,
        if answer.is_empty() {
            b"."
        } else {
            answer.as_bytes()
        },
    );
    drop(helper);
    drop_to(root_uid);
    r.is_ok()
}

fn write_map(proc_dir: &OwnedFd, pid: Pid, file: &str, text: &str) -> Result<(), String> {
    let path = format!("{pid}/{file}");
    let fd = nix::fcntl::openat(
        proc_dir,
        path.as_str(),
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| format!("open /proc/{path}: {e}"))?;
    // SAFETY: `fd` is a fresh descriptor from openat that nothing else owns.
    let mut f = unsafe { std::fs::File::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(fd)) };
    // The kernel takes a map in one write only.
    f.write(text.as_bytes())
        .map_err(|e| format!("write /proc/{path} ({text:?}): {e}"))
        .map(|_| ())
}

/// The helper after the maps: it only waits for init now, as the box's
/// unprivileged root uid, with no capability left (leaving uid 0 clears them).
fn drop_to(root_uid: u32) {
    let _ = nix::unistd::setgroups(&[]);
    let (u, g) = (Uid::from_raw(root_uid), Gid::from_raw(root_uid));
    let _ = nix::unistd::setresgid(g, g, g);
    let _ = nix::unistd::setresuid(u, u, u);
}

/// Init side, after `pivot_root`: unshares a user, mount and IPC namespace,
/// has the helper write the maps, and becomes root inside (the box's root
/// uid outside). `Err` says what failed.
pub(crate) fn enter(sync: &OwnedFd) -> Result<(), String> {
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWIPC)
        .map_err(|e| format!("unshare(user, mount, ipc): {e}"))?;
    nix::unistd::write(sync, b"m").map_err(|e| format!("ask for the maps: {e}"))?;
    let mut answer = [0u8; 1024];
    let n = nix::unistd::read(sync, &mut answer).map_err(|e| format!("wait for the maps: {e}"))?;
    match &answer[..n] {
        b"." => {}
        [] => return Err("the helper went away before writing the maps".into()),
        m => {
            return Err(format!(
                "the helper could not write the maps: {}",
                String::from_utf8_lossy(m)
            ))
        }
    }
    let root_g = Gid::from_raw(0);
    nix::unistd::setresgid(root_g, root_g, root_g)
        .map_err(|e| format!("setresgid(0) inside: {e}"))?;
    nix::unistd::setgroups(&[root_g]).map_err(|e| format!("setgroups([0]) inside: {e}"))?;
    let root_u = Uid::from_raw(0);
    nix::unistd::setresuid(root_u, root_u, root_u)
        .map_err(|e| format!("setresuid(0) inside: {e}"))?;
    // SAFETY: integer-only prctl on this process (the credential change may
    // have reset the flag): box processes may not read init's memory.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_put_root_on_the_root_uid_and_keep_the_box_uid() {
        assert_eq!(map_text(60010, 60011), "0 60010 1\n60011 60011 1\n");
    }

    #[test]
    fn a_rootless_cgroup_error_says_what_a_user_needs_once() {
        let e = || SandboxError::NoCgroups("v2: no cgroup2 mount".into());
        let rootless = cgroup_hint(e(), Model::Rootless).to_string();
        assert!(
            rootless.contains("delegated cgroup v2 subtree"),
            "{rootless}"
        );
        assert_eq!(
            rootless.matches("no usable cgroup").count(),
            1,
            "{rootless}"
        );
        let root = cgroup_hint(e(), Model::PerBox).to_string();
        assert!(!root.contains("delegated cgroup v2 subtree"), "{root}");
    }

    #[test]
    fn the_setting_reads_the_environment_words() {
        assert_eq!(
            UserNamespaces::parse(Some("required")),
            UserNamespaces::Required
        );
        assert_eq!(UserNamespaces::parse(Some("on")), UserNamespaces::Required);
        assert_eq!(UserNamespaces::parse(Some("off")), UserNamespaces::Off);
        assert_eq!(UserNamespaces::parse(Some("auto")), UserNamespaces::Auto);
        assert_eq!(
            UserNamespaces::parse(Some("nonsense")),
            UserNamespaces::Auto
        );
        assert_eq!(UserNamespaces::parse(None), UserNamespaces::Auto);
    }
}
