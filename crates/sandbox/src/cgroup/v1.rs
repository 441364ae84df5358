//! cgroup v1: one hierarchy per controller (memory, pids, cpuacct, freezer);
//! each box's group has `init` and `run` children in every hierarchy. The
//! `cpu` hierarchy (CFS quota) is optional: a box gets a group there only
//! when a CPU quota is set (a workspace's), and all its processes move in.

use std::path::{Path, PathBuf};

use super::v1_mounts::{check_writable, find_mount};
use super::{
    below, kill_until_empty, mkdir, own_path, read_keyed, read_u64, rmdir_tree, write, Usage,
    INIT_GROUP, RUN_GROUP,
};
use crate::error::{Result, SandboxError};

const CONTROLLERS: [&str; 4] = ["memory", "pids", "cpuacct", "freezer"];

/// The `kiln` parent group in each controller's hierarchy.
#[derive(Debug, Clone)]
pub struct Hierarchies {
    parents: [PathBuf; 4],
    /// The `kiln` parent in the `cpu` hierarchy, where one is mounted and writable.
    cpu: Option<PathBuf>,
}

impl Hierarchies {
    pub fn detect(mountinfo: &str, proc_cgroup: &str) -> Result<Hierarchies, String> {
        let parents = locate(mountinfo, proc_cgroup)?;
        for parent in &parents {
            mkdir(parent).map_err(|e| {
                let hint = if super::in_container() {
                    " (in a container the v1 hierarchies are usually mounted read-only: run the pod privileged, or on a cgroup v2 node)"
                } else {
                    ""
                };
                format!("{e}{hint}")
            })?;
        }
        let cpu = locate_one(mountinfo, proc_cgroup, "cpu")
            .ok()
            .filter(|p| mkdir(p).is_ok());
        Ok(Hierarchies { parents, cpu })
    }

    pub fn parents(&self) -> Vec<PathBuf> {
        let mut out = self.parents.to_vec();
        out.extend(self.cpu.clone());
        out
    }

    /// Creates the box's group with its `init` and `run` children in every hierarchy.
    pub fn create(&self, name: &str) -> Result<Group> {
        let dirs: Vec<PathBuf> = self.parents.iter().map(|p| p.join(name)).collect();
        for (i, d) in dirs.iter().enumerate() {
            let made = mkdir(d)
                .and_then(|()| mkdir(&d.join(INIT_GROUP)))
                .and_then(|()| mkdir(&d.join(RUN_GROUP)));
            if let Err(e) = made {
                for d in &dirs[..=i] {
                    let _ = rmdir_tree(d);
                }
                return Err(e);
            }
        }
        let g = Group {
            dirs: dirs.try_into().expect("four controllers"),
            cpu: self.cpu.as_ref().map(|p| p.join(name)),
            cpu_at_start: false,
        };
        // Never swap a box's memory out: its limit is a limit on RAM.
        let _ = write(&g.memory().join("memory.swappiness"), "0");
        let _ = write(&g.memory().join(RUN_GROUP).join("memory.swappiness"), "0");
        Ok(g)
    }
}

/// The `kiln` parent group in each controller's hierarchy, where this
/// process's group is seen through the mounts of this mount namespace.
///
/// `/proc/self/cgroup` names a group by its path from the hierarchy's root,
/// while a mount may show only a subtree: a container's
/// `/sys/fs/cgroup/memory` is its own group, mounted with that group as its
/// root (mountinfo's fourth field). So the group's directory is the mount
/// point joined with its path *below the mount's root*, not the host path.
pub(super) fn locate(mountinfo: &str, proc_cgroup: &str) -> Result<[PathBuf; 4], String> {
    let parents = CONTROLLERS
        .iter()
        .map(|ctrl| locate_one(mountinfo, proc_cgroup, ctrl))
        .collect::<Result<Vec<PathBuf>, String>>()?;
    Ok(parents.try_into().expect("four controllers"))
}

/// The `kiln` parent group in the hierarchy of `ctrl` (see [`locate`]).
fn locate_one(mountinfo: &str, proc_cgroup: &str, ctrl: &str) -> Result<PathBuf, String> {
    let m = find_mount(mountinfo, ctrl).ok_or(format!("controller {ctrl} is not mounted"))?;
    check_writable(&m, ctrl)?;
    let (mount, root) = (m.point, m.root);
    let own = own_path(proc_cgroup, |c| c.split(',').any(|x| x == ctrl))
        .ok_or(format!("/proc/self/cgroup has no {ctrl} line"))?;
    let rel = below(&root, &own).ok_or(format!(
        "this process's {ctrl} group {own} is outside what {} shows (the mount's root is {root}); mount the hierarchy at its root or give Kiln a cgroup namespace",
        mount.display()
    ))?;
    Ok(mount.join(rel).join("kiln"))
}

/// One box's group: a directory in each hierarchy.
#[derive(Debug)]
pub struct Group {
    dirs: [PathBuf; 4],
    /// Where the box's group in the `cpu` hierarchy goes (made by
    /// [`Group::make_cpu_group`] or [`Group::set_cpu_quota`]).
    cpu: Option<PathBuf>,
    /// Whether it was made before the box started (the helper joins it).
    cpu_at_start: bool,
}

impl Group {
    fn memory(&self) -> &Path {
        &self.dirs[0]
    }
    /// The programs' memory group: limits and counters.
    fn run_memory(&self) -> PathBuf {
        self.dirs[0].join(RUN_GROUP)
    }
    fn run_pids(&self) -> PathBuf {
        self.dirs[1].join(RUN_GROUP)
    }
    fn run_cpuacct(&self) -> PathBuf {
        self.dirs[2].join(RUN_GROUP)
    }
    fn freezer(&self) -> &Path {
        &self.dirs[3]
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    pub fn set_limits(&self, memory_bytes: u64, pids: u32) -> Result<()> {
        let limit = self.run_memory().join("memory.limit_in_bytes");
        let memsw = self.run_memory().join("memory.memsw.limit_in_bytes");
        let v = memory_bytes.to_string();
        // memsw must stay >= the RAM limit: order the writes by direction.
        if write(&limit, &v).is_err() && memsw.exists() {
            write(&memsw, &v)?;
            write(&limit, &v)?;
        } else if memsw.exists() {
            write(&memsw, &v)?;
        }
        write(&self.run_pids().join("pids.max"), &pids.to_string())
    }

    /// Makes the box's `cpu` group with a quota of `cpus` CPUs before the
    /// box starts; its helper joins it ([`Group::cpu_procs`]).
    pub fn make_cpu_group(&mut self, cpus: f64) -> Result<()> {
        let dir = self.cpu_dir()?.to_path_buf();
        make_quota_group(&dir, cpus)?;
        self.cpu_at_start = true;
        Ok(())
    }

    /// The `cgroup.procs` of the cpu group the helper joins, if made before start.
    pub fn cpu_procs(&self) -> Option<PathBuf> {
        self.cpu
            .as_ref()
            .filter(|_| self.cpu_at_start)
            .map(|d| d.join("cgroup.procs"))
    }

    fn cpu_dir(&self) -> Result<&Path> {
        self.cpu.as_deref().ok_or_else(|| {
            SandboxError::layer(
                "cgroup",
                "the cpu controller is not mounted (cgroup v1): a CPU quota cannot be set; mount it at /sys/fs/cgroup/cpu",
            )
        })
    }

    /// A CFS quota of `cpus` CPUs for the whole box: its group in the `cpu`
    /// hierarchy gets `cpu.cfs_quota_us`, and the box's processes (helper,
    /// init, programs) move into it; what init starts later is born there.
    pub fn set_cpu_quota(&self, cpus: f64) -> Result<()> {
        let dir = self.cpu_dir()?;
        make_quota_group(dir, cpus)?;
        let procs = dir.join("cgroup.procs");
        for g in [INIT_GROUP, RUN_GROUP] {
            let listed = self.freezer().join(g).join("cgroup.procs");
            for pid in std::fs::read_to_string(&listed).unwrap_or_default().lines() {
                // A process that exited meanwhile cannot move: nothing to do.
                let _ = write(&procs, pid.trim());
            }
        }
        Ok(())
    }

    pub fn reset_peak(&self) {
        let _ = write(&self.run_memory().join("memory.max_usage_in_bytes"), "0");
        let _ = write(&self.run_memory().join("memory.failcnt"), "0");
    }

    pub fn usage(&self) -> Result<Usage> {
        let mem = self.run_memory();
        Ok(Usage {
            cpu_ns: read_u64(&self.run_cpuacct().join("cpuacct.usage"))?,
            memory_peak_bytes: read_u64(&mem.join("memory.max_usage_in_bytes"))?,
            oom_kills: read_keyed(&mem.join("memory.oom_control"), "oom_kill")?,
            limit_hits: read_u64(&mem.join("memory.failcnt"))?,
        })
    }

    pub fn kill_all(&self) {
        // No freezer: a host killed between FROZEN and THAWED would leave the
        // box frozen and unkillable (see `kill_until_empty`). Programs first,
        // then the helper and init.
        kill_until_empty(&self.freezer().join(RUN_GROUP).join("cgroup.procs"));
        kill_until_empty(&self.freezer().join(INIT_GROUP).join("cgroup.procs"));
        kill_until_empty(&self.freezer().join("cgroup.procs"));
    }

    pub fn remove(&self) -> Result<()> {
        let mut first_err: Option<SandboxError> = None;
        // The cpu group may never have been made: removing it then is a no-op.
        for d in self.dirs.iter().chain(self.cpu.iter()) {
            if let Err(e) = rmdir_tree(d) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// Makes `dir` in the `cpu` hierarchy with a CFS quota of `cpus` CPUs.
fn make_quota_group(dir: &Path, cpus: f64) -> Result<()> {
    mkdir(dir)?;
    write(
        &dir.join("cpu.cfs_period_us"),
        &super::CFS_PERIOD_US.to_string(),
    )?;
    write(
        &dir.join("cpu.cfs_quota_us"),
        &super::cfs_quota_us(cpus).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_controller_mounts() {
        let mi =
            "35 25 0:30 / /sys/fs/cgroup/memory rw,relatime shared:14 - cgroup cgroup rw,memory\n\
                  36 25 0:31 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                  37 25 0:32 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        let at = |p: &str| {
            Some(super::super::v1_mounts::V1Mount {
                point: PathBuf::from(p),
                root: "/".to_string(),
                read_only: false,
            })
        };
        assert_eq!(find_mount(mi, "memory"), at("/sys/fs/cgroup/memory"));
        assert_eq!(find_mount(mi, "cpuacct"), at("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(find_mount(mi, "pids"), None);
    }

    /// A bare host: mounts show whole hierarchies, groups by their full path.
    #[test]
    fn on_a_host_groups_are_found_by_their_path() {
        let mi = "35 25 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                  36 25 0:31 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n\
                  37 25 0:32 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                  38 25 0:33 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n";
        let pc = "9:freezer:/\n8:pids:/system.slice/kiln.service\n4:memory:/system.slice/kiln.service\n2:cpu,cpuacct:/system.slice/kiln.service\n";
        let p = locate(mi, pc).unwrap();
        assert_eq!(
            p[0],
            PathBuf::from("/sys/fs/cgroup/memory/system.slice/kiln.service/kiln")
        );
        assert_eq!(p[3], PathBuf::from("/sys/fs/cgroup/freezer/kiln"));
    }

    /// A Kubernetes pod on a cgroup v1 node (no cgroup namespace): the
    /// runtime mounts the pod's own group as `/sys/fs/cgroup/<ctrl>` while
    /// `/proc/self/cgroup` gives the host path. The old code joined the two
    /// (`/sys/fs/cgroup/memory/kubepods/…/kubepods/…`), a path that does not
    /// exist in the container.
    #[test]
    fn in_a_container_groups_are_found_below_the_mounts_root() {
        let pod = "/kubepods/burstable/pod1234/abcdef";
        let mi = format!(
            "1035 1030 0:30 {pod} /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n\
             1036 1030 0:31 {pod} /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids\n\
             1037 1030 0:32 {pod} /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n\
             1038 1030 0:33 {pod} /sys/fs/cgroup/freezer rw,nosuid - cgroup cgroup rw,freezer\n"
        );
        let pc =
            format!("9:freezer:{pod}\n8:pids:{pod}\n4:memory:{pod}/sub\n2:cpu,cpuacct:{pod}\n");
        let p = locate(&mi, &pc).unwrap();
        assert_eq!(p[0], PathBuf::from("/sys/fs/cgroup/memory/sub/kiln"));
        assert_eq!(p[1], PathBuf::from("/sys/fs/cgroup/pids/kiln"));
        assert_eq!(p[2], PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/kiln"));
        // A group outside what the mount shows is an error that says so.
        let err = locate(
            &mi,
            "9:freezer:/other\n8:pids:/other\n4:memory:/other\n2:cpu,cpuacct:/other\n",
        )
        .unwrap_err();
        assert!(
            err.contains("outside what /sys/fs/cgroup/memory shows"),
            "{err}"
        );
        assert_eq!(below("/kubepods/a", "/kubepods/ab"), None);
        assert_eq!(below("/kubepods/a", "/kubepods/a"), Some(""));
    }
}
