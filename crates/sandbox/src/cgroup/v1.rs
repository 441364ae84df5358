//! cgroup v1: one hierarchy per controller (memory, pids, cpuacct, freezer);
//! each box's group has `init` and `run` children in every hierarchy.

use std::path::{Path, PathBuf};

use super::{kill_until_empty, mkdir, own_path, read_keyed, read_u64, rmdir_tree, write, Usage, INIT_GROUP, RUN_GROUP};
use crate::error::{Result, SandboxError};

const CONTROLLERS: [&str; 4] = ["memory", "pids", "cpuacct", "freezer"];

/// The `kiln` parent group in each controller's hierarchy.
#[derive(Debug, Clone)]
pub struct Hierarchies {
    parents: [PathBuf; 4],
}

impl Hierarchies {
    pub fn detect(mountinfo: &str, proc_cgroup: &str) -> Result<Hierarchies, String> {
        let mut parents: Vec<PathBuf> = Vec::new();
        for ctrl in CONTROLLERS {
            let mount = find_mount(mountinfo, ctrl).ok_or(format!("controller {ctrl} is not mounted"))?;
            let own = own_path(proc_cgroup, |c| c.split(',').any(|x| x == ctrl))
                .ok_or(format!("/proc/self/cgroup has no {ctrl} line"))?;
            let parent = mount.join(own.trim_start_matches('/')).join("kiln");
            mkdir(&parent).map_err(|e| e.to_string())?;
            parents.push(parent);
        }
        let parents: [PathBuf; 4] = parents.try_into().expect("four controllers");
        Ok(Hierarchies { parents })
    }

    pub fn parents(&self) -> Vec<PathBuf> {
        self.parents.to_vec()
    }

    /// Creates the box's group with its `init` and `run` children in every hierarchy.
    pub fn create(&self, name: &str) -> Result<Group> {
        let dirs: Vec<PathBuf> = self.parents.iter().map(|p| p.join(name)).collect();
        for (i, d) in dirs.iter().enumerate() {
            let made = mkdir(d).and_then(|()| mkdir(&d.join(INIT_GROUP))).and_then(|()| mkdir(&d.join(RUN_GROUP)));
            if let Err(e) = made {
                for d in &dirs[..=i] {
                    let _ = rmdir_tree(d);
                }
                return Err(e);
            }
        }
        let g = Group { dirs: dirs.try_into().expect("four controllers") };
        // Never swap a box's memory out: its limit is a limit on RAM.
        let _ = write(&g.memory().join("memory.swappiness"), "0");
        let _ = write(&g.memory().join(RUN_GROUP).join("memory.swappiness"), "0");
        Ok(g)
    }
}

/// Mount point of the v1 hierarchy that carries `ctrl`.
fn find_mount(mountinfo: &str, ctrl: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        let mut post = post.split_whitespace();
        if post.next()? != "cgroup" {
            return None;
        }
        let _source = post.next()?;
        let opts = post.next()?;
        let mount_point = pre.split_whitespace().nth(4)?;
        opts.split(',').any(|o| o == ctrl).then(|| PathBuf::from(mount_point))
    })
}

/// One box's group: a directory in each hierarchy.
#[derive(Debug)]
pub struct Group {
    dirs: [PathBuf; 4],
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
        for d in &self.dirs {
            if let Err(e) = rmdir_tree(d) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_controller_mounts() {
        let mi = "35 25 0:30 / /sys/fs/cgroup/memory rw,relatime shared:14 - cgroup cgroup rw,memory\n\
                  36 25 0:31 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                  37 25 0:32 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        assert_eq!(find_mount(mi, "memory"), Some(PathBuf::from("/sys/fs/cgroup/memory")));
        assert_eq!(find_mount(mi, "cpuacct"), Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")));
        assert_eq!(find_mount(mi, "pids"), None);
    }
}
