//! cgroup v2: the unified tree. Box groups live under `<own group>/kiln`,
//! with the memory, pids (and cpu, when available) controllers enabled and
//! handed down to each box's `init` and `run` children (a box's own group
//! holds no process, as v2 requires of a group that distributes resources).

use std::path::{Path, PathBuf};

use super::{kill_until_empty, mkdir, own_path, read_keyed, rmdir_tree, write, Usage, INIT_GROUP, RUN_GROUP};
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct Tree {
    parent: PathBuf,
    /// Controllers a box group hands to its children (`+memory +pids …`).
    enable: String,
}

impl Tree {
    pub fn detect(mountinfo: &str, proc_cgroup: &str) -> Result<Tree, String> {
        let mount = mountinfo
            .lines()
            .find_map(|l| {
                let (pre, post) = l.split_once(" - ")?;
                (post.split_whitespace().next()? == "cgroup2").then(|| pre.split_whitespace().nth(4).map(PathBuf::from))?
            })
            .ok_or("no cgroup2 mount")?;
        let own = own_path(proc_cgroup, |c| c.is_empty()).ok_or("/proc/self/cgroup has no 0:: line")?;
        let base = mount.join(own.trim_start_matches('/'));
        let available = std::fs::read_to_string(base.join("cgroup.controllers")).map_err(|e| e.to_string())?;
        let has = |c: &str| available.split_whitespace().any(|x| x == c);
        if !has("memory") || !has("pids") {
            return Err(format!("{} offers controllers [{}]; memory and pids are needed", base.display(), available.trim()));
        }
        let wanted: Vec<&str> = ["memory", "pids", "cpu"].into_iter().filter(|c| has(c)).collect();
        let enable = wanted.iter().map(|c| format!("+{c}")).collect::<Vec<_>>().join(" ");
        let subtree = base.join("cgroup.subtree_control");
        if write(&subtree, &enable).is_err() {
            // "No internal processes": move this process into a leaf, then retry.
            let leaf = base.join("kiln-host");
            mkdir(&leaf).map_err(|e| e.to_string())?;
            write(&leaf.join("cgroup.procs"), &std::process::id().to_string()).map_err(|e| e.to_string())?;
            write(&subtree, &enable).map_err(|e| e.to_string())?;
        }
        let parent = base.join("kiln");
        mkdir(&parent).map_err(|e| e.to_string())?;
        write(&parent.join("cgroup.subtree_control"), &enable).map_err(|e| e.to_string())?;
        Ok(Tree { parent, enable })
    }

    pub fn parent(&self) -> &Path {
        &self.parent
    }

    /// Creates the box's group (no processes of its own: it hands its
    /// controllers down) with its `init` and `run` children.
    pub fn create(&self, name: &str) -> Result<Group> {
        let dir = self.parent.join(name);
        mkdir(&dir)?;
        let made = write(&dir.join("cgroup.subtree_control"), &self.enable)
            .and_then(|()| mkdir(&dir.join(INIT_GROUP)))
            .and_then(|()| mkdir(&dir.join(RUN_GROUP)));
        if let Err(e) = made {
            let _ = rmdir_tree(&dir);
            return Err(e);
        }
        let _ = write(&dir.join("memory.swap.max"), "0");
        let _ = write(&dir.join(RUN_GROUP).join("memory.swap.max"), "0");
        Ok(Group { dir })
    }
}

#[derive(Debug)]
pub struct Group {
    pub(super) dir: PathBuf,
}

impl Group {
    /// The programs' group: limits and counters.
    fn run(&self) -> PathBuf {
        self.dir.join(RUN_GROUP)
    }

    pub fn set_limits(&self, memory_bytes: u64, pids: u32) -> Result<()> {
        write(&self.run().join("memory.max"), &memory_bytes.to_string())?;
        write(&self.run().join("pids.max"), &pids.to_string())
    }

    /// `memory.peak` is only resettable per open file on recent kernels; the
    /// peak reported on v2 is therefore the box's since its creation, and the
    /// engine uses one box per submission.
    pub fn reset_peak(&self) {}

    pub fn usage(&self) -> Result<Usage> {
        let run = self.run();
        let peak = run.join("memory.peak");
        let peak = if peak.exists() { peak } else { run.join("memory.current") };
        Ok(Usage {
            cpu_ns: read_keyed(&run.join("cpu.stat"), "usage_usec")? * 1000,
            memory_peak_bytes: super::read_u64(&peak)?,
            oom_kills: read_keyed(&run.join("memory.events"), "oom_kill")?,
            limit_hits: read_keyed(&run.join("memory.events"), "max")?,
        })
    }

    pub fn kill_all(&self) {
        // cgroup.kill takes the child groups too.
        let kill = self.dir.join("cgroup.kill");
        if kill.exists() && write(&kill, "1").is_ok() {
            return;
        }
        // Kernels before 5.14 have no cgroup.kill.
        kill_until_empty(&self.run().join("cgroup.procs"));
        kill_until_empty(&self.dir.join(INIT_GROUP).join("cgroup.procs"));
    }

    pub fn remove(&self) -> Result<()> {
        rmdir_tree(&self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout on a plain directory (cgroupfs files are plain files here):
    /// controllers handed down, `init` and `run` children, limits and
    /// counters on `run`.
    #[test]
    fn a_box_group_has_init_and_run_children_and_limits_on_run() {
        let d = tempfile::tempdir().unwrap();
        let t = Tree { parent: d.path().to_path_buf(), enable: "+memory +pids".into() };
        let g = t.create("kiln-1-0").unwrap();
        let top = d.path().join("kiln-1-0");
        assert_eq!(std::fs::read_to_string(top.join("cgroup.subtree_control")).unwrap(), "+memory +pids");
        assert!(top.join(INIT_GROUP).is_dir() && top.join(RUN_GROUP).is_dir());
        g.set_limits(64 << 20, 10).unwrap();
        assert_eq!(std::fs::read_to_string(top.join(RUN_GROUP).join("memory.max")).unwrap(), (64u64 << 20).to_string());
        assert_eq!(std::fs::read_to_string(top.join(RUN_GROUP).join("pids.max")).unwrap(), "10");
        assert!(!top.join("memory.max").exists(), "the limit must not cover init");
        let run = top.join(RUN_GROUP);
        std::fs::write(run.join("cpu.stat"), "usage_usec 1500\n").unwrap();
        std::fs::write(run.join("memory.peak"), "4096\n").unwrap();
        std::fs::write(run.join("memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n").unwrap();
        let u = g.usage().unwrap();
        assert_eq!((u.cpu_ns, u.memory_peak_bytes, u.oom_kills, u.limit_hits), (1_500_000, 4096, 1, 3));
        let b = super::super::BoxCgroup::V2(g);
        assert_eq!(b.procs_files(), vec![top.join(INIT_GROUP).join("cgroup.procs")]);
        assert_eq!(b.run_procs_files(), vec![top.join(RUN_GROUP).join("cgroup.procs")]);
    }
}
