//! Control groups for boxes, behind one interface for cgroup v1 (one
//! hierarchy per controller) and v2 (the unified tree), detected at run time.
//!
//! Every box gets its own group named `kiln-<host pid>-<n>` under a `kiln`
//! parent nested in the cgroup of the Kiln process itself, so Kiln works the
//! same on a bare host and inside a container with a delegated subtree. The
//! group's path counts from the root of the cgroup mount (mountinfo's fourth
//! field), so a container whose mounts start at its own group finds it. On
//! v2 a group with processes cannot hand controllers down: Kiln moves the
//! processes of its group (a systemd `Delegate=yes` unit's) into a
//! `kiln-host` leaf first. The v2 path runs in a VM with Debian's kernel:
//! scripts/vm-cgroup-v2.sh, docs/cgroup-v2.md.
//!
//! A box's group has two children: `init` holds the helper and the box's
//! init, `run` holds every program, and the limits (memory, pids) and the
//! counters (CPU, memory peak, OOM kills) are those of `run`. So memory the
//! programs leave charged (tmpfs files, SysV messages) can only ever make a
//! program the OOM killer's choice, never Kiln's own processes, on any host
//! (no `CAP_SYS_RESOURCE` needed), and a verdict counts the programs alone.

mod v1;
mod v2;

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Result, SandboxError};

/// Which cgroup version the host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    V1,
    V2,
}

/// The cgroup hierarchies Kiln creates box groups in.
#[derive(Debug, Clone)]
pub enum Cgroups {
    V1(v1::Hierarchies),
    V2(v2::Tree),
}

/// Counters of one box's group, read before and after each exec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub cpu_ns: u64,
    pub memory_peak_bytes: u64,
    pub oom_kills: u64,
    /// Times memory usage hit the limit (v1 `failcnt`, v2 `max` events).
    pub limit_hits: u64,
}

impl Cgroups {
    /// Finds usable hierarchies: v2 when the unified tree has the memory and
    /// pids controllers, else v1 with memory, pids, cpuacct and freezer.
    pub fn detect() -> Result<Cgroups> {
        let mounts = fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| SandboxError::io("reading /proc/self/mountinfo", e))?;
        let own = fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| SandboxError::io("reading /proc/self/cgroup", e))?;
        let v2_err = match v2::Tree::detect(&mounts, &own) {
            Ok(t) => return Ok(Cgroups::V2(t)),
            Err(e) => e,
        };
        match v1::Hierarchies::detect(&mounts, &own) {
            Ok(h) => Ok(Cgroups::V1(h)),
            Err(v1_err) => Err(SandboxError::NoCgroups(format!(
                "v2: {v2_err}; v1: {v1_err}"
            ))),
        }
    }

    pub fn version(&self) -> Version {
        match self {
            Cgroups::V1(_) => Version::V1,
            Cgroups::V2(_) => Version::V2,
        }
    }

    /// Creates the group of one box.
    pub fn create(&self, name: &str) -> Result<BoxCgroup> {
        match self {
            Cgroups::V1(h) => h.create(name).map(BoxCgroup::V1),
            Cgroups::V2(t) => t.create(name).map(BoxCgroup::V2),
        }
    }

    /// The `kiln` parent group(s) box groups are created in (one per v1
    /// hierarchy, one for v2).
    pub fn parents(&self) -> Vec<PathBuf> {
        match self {
            Cgroups::V1(h) => h.parents(),
            Cgroups::V2(t) => vec![t.parent().to_path_buf()],
        }
    }

    /// Clears the groups of Kiln processes that no longer exist (killed
    /// before they could remove them): thaws them, SIGKILLs their tasks (a
    /// box's helper, init and programs, possibly left frozen) and removes
    /// them. Groups whose owner (`kiln-<pid>-<n>`) is alive are never touched.
    /// Returns the names of the groups cleared.
    pub fn sweep_stale(&self) -> Vec<String> {
        let parents = self.parents();
        let mut stale: Vec<String> = Vec::new();
        for parent in &parents {
            let Ok(entries) = fs::read_dir(parent) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(pid) = owner_pid(&name) else {
                    continue;
                };
                if !Path::new("/proc").join(pid.to_string()).exists() && !stale.contains(&name) {
                    stale.push(name);
                }
            }
        }
        for name in &stale {
            let dirs: Vec<PathBuf> = parents
                .iter()
                .map(|p| p.join(name))
                .filter(|d| d.is_dir())
                .collect();
            clear_group(&dirs);
            for d in &dirs {
                if let Err(e) = rmdir_tree(d) {
                    tracing::warn!(error = %e, "removing a dead Kiln process's cgroup failed");
                }
            }
        }
        stale
    }
}

/// The host pid in a box group's name `kiln-<pid>-<n>`; `None` for any other name.
pub(crate) fn owner_pid(name: &str) -> Option<u32> {
    let (pid, n) = name.strip_prefix("kiln-")?.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(pid) && digits(n))
        .then(|| pid.parse().ok())
        .flatten()
}

/// The child group of a box that holds its helper and init.
pub(crate) const INIT_GROUP: &str = "init";
/// The child group of a box that holds its programs, with the limits.
pub(crate) const RUN_GROUP: &str = "run";

/// A group's directory and its child groups' (children first, for removal).
fn with_children(d: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(d)
        .map(|r| {
            r.flatten()
                .map(|e| e.path())
                .filter(|p| p.join("cgroup.procs").exists())
                .collect()
        })
        .unwrap_or_default();
    out.push(d.to_path_buf());
    out
}

/// Kills everything in a group (and its child groups) given by its directory
/// in each hierarchy. SIGKILL goes first so that a frozen task dies the
/// moment it is thawed; then the group is thawed (v1 `freezer.state`, v2
/// `cgroup.freeze`) and killed again until empty.
fn clear_group(top: &[PathBuf]) {
    let dirs: Vec<PathBuf> = top.iter().flat_map(|d| with_children(d)).collect();
    for d in &dirs {
        kill_listed(&d.join("cgroup.procs"));
    }
    for d in &dirs {
        let v1 = d.join("freezer.state");
        if v1.exists() {
            let _ = write(&v1, "THAWED");
        }
        let v2 = d.join("cgroup.freeze");
        if v2.exists() {
            let _ = write(&v2, "0");
        }
        let kill = d.join("cgroup.kill");
        if kill.exists() {
            let _ = write(&kill, "1");
        }
    }
    for d in &dirs {
        kill_until_empty(&d.join("cgroup.procs"));
    }
}

/// Removes a group and its child groups.
pub(crate) fn rmdir_tree(d: &Path) -> Result<()> {
    let mut first_err = None;
    for g in with_children(d) {
        if let Err(e) = rmdir(&g) {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// The group of one box.
#[derive(Debug)]
pub enum BoxCgroup {
    V1(v1::Group),
    V2(v2::Group),
}

impl BoxCgroup {
    /// `cgroup.procs` files the box's helper writes its pid into (its
    /// `init` group in each hierarchy).
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.tops()
            .iter()
            .map(|d| d.join(INIT_GROUP).join("cgroup.procs"))
            .collect()
    }

    /// `cgroup.procs` files each program joins before it drops its
    /// privileges (its `run` group in each hierarchy).
    pub fn run_procs_files(&self) -> Vec<PathBuf> {
        self.tops()
            .iter()
            .map(|d| d.join(RUN_GROUP).join("cgroup.procs"))
            .collect()
    }

    /// The box's group in each hierarchy.
    fn tops(&self) -> Vec<PathBuf> {
        match self {
            BoxCgroup::V1(g) => g.dirs().to_vec(),
            BoxCgroup::V2(g) => vec![g.dir.clone()],
        }
    }

    /// Pids of every process of the box (helper, init, programs).
    pub fn pids(&self) -> Vec<i32> {
        let Some(top) = self.tops().into_iter().next() else {
            return Vec::new();
        };
        [INIT_GROUP, RUN_GROUP]
            .iter()
            .filter_map(|g| fs::read_to_string(top.join(g).join("cgroup.procs")).ok())
            .flat_map(|s| {
                s.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect()
    }

    /// Sets the memory limit (swap included, where the kernel accounts it) and
    /// the process limit for what runs next.
    pub fn set_limits(&self, memory_bytes: u64, pids: u32) -> Result<()> {
        match self {
            BoxCgroup::V1(g) => g.set_limits(memory_bytes, pids),
            BoxCgroup::V2(g) => g.set_limits(memory_bytes, pids),
        }
    }

    /// Resets the memory peak so the next exec's peak is its own.
    pub fn reset_peak(&self) {
        match self {
            BoxCgroup::V1(g) => g.reset_peak(),
            BoxCgroup::V2(g) => g.reset_peak(),
        }
    }

    pub fn usage(&self) -> Result<Usage> {
        match self {
            BoxCgroup::V1(g) => g.usage(),
            BoxCgroup::V2(g) => g.usage(),
        }
    }

    /// Kills every process in the group, including ones that double-forked
    /// away from their parent (v2 `cgroup.kill`, v1 SIGKILL of the task list
    /// until it is empty; never freezing, see [`kill_until_empty`]).
    pub fn kill_all(&self) {
        match self {
            BoxCgroup::V1(g) => g.kill_all(),
            BoxCgroup::V2(g) => g.kill_all(),
        }
    }

    /// A callable that kills every process of the group from any thread,
    /// independent of this value's life (for a box that stops answering).
    pub fn killer(&self) -> Box<dyn Fn() + Send + Sync> {
        let dirs = self.tops();
        Box::new(move || clear_group(&dirs))
    }

    /// Kills what is left and removes the group.
    pub fn destroy(&self) -> Result<()> {
        self.kill_all();
        match self {
            BoxCgroup::V1(g) => g.remove(),
            BoxCgroup::V2(g) => g.remove(),
        }
    }

    /// Number of processes currently in the group.
    pub fn process_count(&self) -> usize {
        self.pids().len()
    }
}

// ---- helpers shared by v1 and v2 -------------------------------------------

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
    fn owner_pid_reads_box_group_names_only() {
        assert_eq!(owner_pid("kiln-4242-7"), Some(4242));
        assert_eq!(owner_pid("kiln-host"), None);
        assert_eq!(owner_pid("kiln-12"), None);
        assert_eq!(owner_pid("kiln-12-x"), None);
        assert_eq!(owner_pid("kiln--3"), None);
        assert_eq!(owner_pid("other-12-3"), None);
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
