//! Helpers shared by v1 and v2: control files read and written, group
//! directories made and removed, the tasks of a group killed, and this
//! process's own group found.

use std::fs;
use std::path::Path;

use crate::error::{Result, SandboxError};

pub(crate) fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value).map_err(|source| SandboxError::Cgroup {
        path: path.to_path_buf(),
        source,
    })
}

pub(crate) fn read_u64(path: &Path) -> Result<u64> {
    let s = fs::read_to_string(path).map_err(|source| SandboxError::Cgroup {
        path: path.to_path_buf(),
        source,
    })?;
    s.trim().parse().map_err(|_| SandboxError::Cgroup {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not a number: {s:?}"),
        ),
    })
}

/// Reads `key value` lines (memory.events, cpu.stat, memory.oom_control).
pub(crate) fn read_keyed(path: &Path, key: &str) -> Result<u64> {
    let s = fs::read_to_string(path).map_err(|source| SandboxError::Cgroup {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse_keyed(&s, key).unwrap_or(0))
}

pub(crate) fn parse_keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(key))
            .then(|| it.next()?.parse().ok())
            .flatten()
    })
}

pub(crate) fn mkdir(path: &Path) -> Result<()> {
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(SandboxError::Cgroup {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// How long a group's removal waits for its killed tasks to leave it. A
/// killed process leaves its group only once its memory is torn down, which
/// took over a second for a compiler on a loaded machine under emulation
/// (the cgroup v2 VM run left such a group behind with a one-second bound).
const RMDIR_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// Removes a group directory, waiting (up to [`RMDIR_DEADLINE`]) for exiting
/// tasks to leave it.
pub(crate) fn rmdir(path: &Path) -> Result<()> {
    let deadline = std::time::Instant::now() + RMDIR_DEADLINE;
    let mut attempt: u64 = 0;
    loop {
        match fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if std::time::Instant::now() >= deadline => {
                return Err(SandboxError::Cgroup {
                    path: path.to_path_buf(),
                    source: e,
                })
            }
            Err(_) => {}
        }
        attempt += 1;
        std::thread::sleep(std::time::Duration::from_micros(200 * attempt.min(25)));
    }
}

/// SIGKILLs every pid listed in a `cgroup.procs` file; returns how many.
pub(crate) fn kill_listed(procs: &Path) -> usize {
    let Ok(s) = fs::read_to_string(procs) else {
        return 0;
    };
    let mut n = 0;
    for pid in s.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        n += 1;
    }
    n
}

/// SIGKILLs the tasks of a `cgroup.procs` file pass after pass (what was
/// forked meanwhile gets the next pass) until it is empty, for about a second
/// at most; returns whether it emptied. Nothing is frozen on the way, so a
/// host that dies in the middle leaves no frozen process behind; escape is
/// not possible either: a box's programs live in its PID namespace, which the
/// kernel empties once its init (listed too) is killed.
pub(crate) fn kill_until_empty(procs: &Path) -> bool {
    for attempt in 0..600u64 {
        if kill_listed(procs) == 0 {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_micros(
            (100 * (attempt + 1)).min(2000),
        ));
    }
    false
}

/// The path of this process's group in hierarchy `hier` ("" for v2) from
/// `/proc/self/cgroup` text.
pub(crate) fn own_path(proc_cgroup: &str, matches: impl Fn(&str) -> bool) -> Option<String> {
    proc_cgroup.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let _id = parts.next()?;
        let ctrls = parts.next()?;
        let path = parts.next()?;
        matches(ctrls).then(|| path.to_string())
    })
}

/// `own` relative to `root` (both absolute paths in one hierarchy); `None`
/// when `own` is not under `root`.
pub(crate) fn below<'a>(root: &str, own: &'a str) -> Option<&'a str> {
    if root == "/" {
        return Some(own.trim_start_matches('/'));
    }
    let rest = own.strip_prefix(root.trim_end_matches('/'))?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix('/')
    }
}

/// Whether this process looks like it runs in a container (for error
/// messages that say what to do there): `/.dockerenv`, a Kubernetes
/// service variable, or pid 1 outside the root group of its hierarchies.
pub(crate) fn in_container() -> bool {
    Path::new("/.dockerenv").exists()
        || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
        || fs::read_to_string("/proc/1/cgroup").is_ok_and(|t| pid1_is_confined(&t))
}

/// Whether `/proc/1/cgroup` text puts pid 1 below the root of a hierarchy
/// (systemd's own `/init.scope` on v2 counts as the root).
fn pid1_is_confined(proc_1_cgroup: &str) -> bool {
    proc_1_cgroup
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .any(|p| p != "/" && p != "/init.scope")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_files_parse() {
        let t = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(parse_keyed(t, "oom_kill"), Some(3));
        assert_eq!(parse_keyed(t, "missing"), None);
        assert_eq!(
            parse_keyed("usage_usec 1500\nuser_usec 1000\n", "usage_usec"),
            Some(1500)
        );
    }

    #[test]
    fn own_path_reads_proc_self_cgroup() {
        let t = "9:name=systemd:/\n4:memory:/process_api/abc\n2:cpuacct:/\n0::/user.slice\n";
        assert_eq!(
            own_path(t, |c| c.split(',').any(|x| x == "memory")).as_deref(),
            Some("/process_api/abc")
        );
        assert_eq!(
            own_path(t, |c| c.is_empty()).as_deref(),
            Some("/user.slice")
        );
        assert_eq!(own_path(t, |c| c == "pids"), None);
    }

    #[test]
    fn pid_1_outside_the_root_group_means_a_container() {
        assert!(!pid1_is_confined(
            "12:memory:/\n1:name=systemd:/init.scope\n0::/init.scope\n"
        ));
        assert!(!pid1_is_confined("0::/\n"));
        assert!(pid1_is_confined(
            "4:memory:/kubepods/burstable/pod1/abc\n0::/\n"
        ));
        assert!(pid1_is_confined("0::/system.slice/docker-abc.scope\n"));
    }
}
