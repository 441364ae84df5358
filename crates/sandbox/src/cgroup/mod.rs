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
//!
//! Layout: this module holds the interface (detection, a box's group, the
//! start-up sweep); `v1` and `v2` the two implementations (`v1_mounts`
//! finds the v1 mounts and refuses, with what to do, what a container
//! cannot use: read-only hierarchies, another group's); `files` the
//! helpers both share (control files, group directories, killing a group's
//! tasks, finding Kiln's own group).

mod files;
mod v1;
mod v1_mounts;
mod v2;

pub(crate) use files::{
    below, in_container, kill_listed, kill_until_empty, mkdir, own_path, read_keyed, read_u64,
    rmdir, write,
};

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

/// The CFS period of a CPU quota, in microseconds (the kernel's default).
pub(crate) const CFS_PERIOD_US: u64 = 100_000;

/// The CFS quota per period for `cpus` CPUs (at least 1 ms, the kernel's minimum).
pub(crate) fn cfs_quota_us(cpus: f64) -> u64 {
    ((cpus * CFS_PERIOD_US as f64).round() as u64).max(1000)
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
        let mut out: Vec<PathBuf> = self
            .tops()
            .iter()
            .map(|d| d.join(INIT_GROUP).join("cgroup.procs"))
            .collect();
        if let BoxCgroup::V1(g) = self {
            // The v1 cpu group (made before start for a quota) has no children.
            out.extend(g.cpu_procs());
        }
        out
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

    /// Caps the box at `cpus` CPUs before it starts, so that its helper is
    /// born into the quota (no process moves between groups later: on v1 a
    /// move waits for an RCU grace period under a global lock).
    pub fn set_cpu_quota_before_start(&mut self, cpus: f64) -> Result<()> {
        match self {
            BoxCgroup::V1(g) => g.make_cpu_group(cpus),
            BoxCgroup::V2(g) => g.set_cpu_quota(cpus),
        }
    }

    /// Caps the whole box (init and programs) at `cpus` CPUs with a CFS
    /// quota (v1 `cpu.cfs_quota_us`, v2 `cpu.max`) over a 100 ms period.
    pub fn set_cpu_quota(&self, cpus: f64) -> Result<()> {
        match self {
            BoxCgroup::V1(g) => g.set_cpu_quota(cpus),
            BoxCgroup::V2(g) => g.set_cpu_quota(cpus),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_quotas_are_per_100ms_period() {
        assert_eq!(cfs_quota_us(0.5), 50_000);
        assert_eq!(cfs_quota_us(2.0), 200_000);
        assert_eq!(cfs_quota_us(0.001), 1000);
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
}
