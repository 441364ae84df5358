//! cgroup v2: the unified tree. Box groups live under `<own group>/kiln`,
//! with the memory, pids (and cpu, when available) controllers enabled and
//! handed down to each box's `init` and `run` children (a box's own group
//! holds no process, as v2 requires of a group that distributes resources).

use std::path::{Path, PathBuf};

use super::{
    below, kill_until_empty, mkdir, own_path, read_keyed, rmdir_tree, write, Usage, INIT_GROUP,
    RUN_GROUP,
};
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct Tree {
    parent: PathBuf,
    /// Controllers a box group hands to its children (`+memory +pids …`).
    enable: String,
}

/// The leaf a Kiln process moves into (with whatever else was in its group)
/// so that its own group may hand controllers down: v2 lets only a group
/// without processes of its own do that ("no internal processes").
const HOST_LEAF: &str = "kiln-host";

impl Tree {
    /// Finds the cgroup2 mount and this process's group in it, and makes
    /// `<group>/kiln` the parent of box groups with the memory and pids (and
    /// cpu, where offered) controllers enabled down to it. Works at the root
    /// of the tree and in a delegated subtree (systemd `Delegate=yes`, a
    /// container's namespaced cgroup): the group's processes are moved into
    /// a `kiln-host` leaf first, and a process already in such a leaf (moved
    /// there by an earlier Kiln process, its parent) uses the group above it.
    pub fn detect(mountinfo: &str, proc_cgroup: &str) -> Result<Tree, String> {
        let (mount, root) = mountinfo
            .lines()
            .find_map(|l| {
                let (pre, post) = l.split_once(" - ")?;
                let mut pre = pre.split_whitespace();
                let root = pre.nth(3)?;
                (post.split_whitespace().next()? == "cgroup2")
                    .then(|| Some((PathBuf::from(pre.next()?), root.to_string())))?
            })
            .ok_or("no cgroup2 mount")?;
        let own =
            own_path(proc_cgroup, |c| c.is_empty()).ok_or("/proc/self/cgroup has no 0:: line")?;
        // A container without its own cgroup namespace mounts its group as
        // the tree's root: the group's path counts from the mount's root.
        let rel = below(&root, base_group(&own)).ok_or(format!(
            "this process's group {own} is outside what {} shows (the mount's root is {root})",
            mount.display()
        ))?;
        let base = mount.join(rel);
        let available = std::fs::read_to_string(base.join("cgroup.controllers"))
            .map_err(|e| format!("reading {}: {e}", base.join("cgroup.controllers").display()))?;
        let has = |c: &str| available.split_whitespace().any(|x| x == c);
        if !has("memory") || !has("pids") {
            return Err(format!(
                "{} offers controllers [{}]; memory and pids are needed (delegate them: Delegate=yes, or enable them in the parent's cgroup.subtree_control)",
                base.display(),
                available.trim()
            ));
        }
        // Each controller on its own: cpu cannot be enabled while a
        // real-time thread lives in the subtree, and it is optional.
        let mut enabled: Vec<&str> = Vec::new();
        for c in ["memory", "pids", "cpu"].into_iter().filter(|c| has(c)) {
            match enable_in(&base, c) {
                Ok(()) => enabled.push(c),
                Err(e) if c == "cpu" => {
                    tracing::warn!(error = %e, "the cpu controller could not be enabled; CPU time is still counted")
                }
                Err(e) => return Err(e),
            }
        }
        let enable = enabled
            .iter()
            .map(|c| format!("+{c}"))
            .collect::<Vec<_>>()
            .join(" ");
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
        Ok(Group {
            dir,
            peak: std::sync::Mutex::new(Peak::default()),
        })
    }
}

/// The group Kiln's groups go in, from this process's own (`0::` line of
/// `/proc/self/cgroup`): the group above when the process sits in the
/// `kiln-host` leaf an earlier Kiln process (or this one) made.
fn base_group(own: &str) -> &str {
    match own.rsplit_once('/') {
        Some((up, HOST_LEAF)) => {
            if up.is_empty() {
                "/"
            } else {
                up
            }
        }
        _ => own,
    }
}

/// Enables controller `c` for `base`'s children. When `base` holds
/// processes (a delegated unit's group with its main process in it), they
/// are all moved into the `kiln-host` leaf first, as v2 requires.
fn enable_in(base: &Path, c: &str) -> Result<(), String> {
    let subtree = base.join("cgroup.subtree_control");
    let on = |t: &str| t.split_whitespace().any(|x| x == c);
    if std::fs::read_to_string(&subtree).is_ok_and(|t| on(&t)) {
        return Ok(());
    }
    let first = match std::fs::write(&subtree, format!("+{c}")) {
        Ok(()) => return Ok(()),
        // EBUSY: the group holds processes; anything else is final.
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => e,
        Err(e) => return Err(format!("enabling {c} in {}: {e}", subtree.display())),
    };
    let leaf = base.join(HOST_LEAF);
    mkdir(&leaf).map_err(|e| e.to_string())?;
    // Processes may fork meanwhile: pass after pass, bounded.
    for _ in 0..50 {
        let procs = std::fs::read_to_string(base.join("cgroup.procs"))
            .map_err(|e| format!("reading {}: {e}", base.join("cgroup.procs").display()))?;
        let pids: Vec<&str> = procs.split_whitespace().collect();
        if pids.is_empty() {
            break;
        }
        for pid in pids {
            // A process that exited meanwhile is not an error.
            let _ = std::fs::write(leaf.join("cgroup.procs"), pid);
        }
    }
    write(&subtree, &format!("+{c}")).map_err(|e| {
        format!("enabling {c} in {} failed ({first}), and again after moving its processes into {}: {e}", subtree.display(), leaf.display())
    })
}

#[derive(Debug)]
pub struct Group {
    pub(super) dir: PathBuf,
    peak: std::sync::Mutex<Peak>,
}

/// How the memory peak of one exec is told apart from earlier ones'.
/// `memory.peak` (Linux 5.19) is the group's high-water mark since its
/// creation; only from Linux 6.12 does writing to it reset it, and then for
/// reads through the same descriptor (kept here). Where it cannot be reset
/// (Debian 12's 6.1), an exec's peak is `memory.peak` when the exec raised
/// it above the mark it found (then the new mark is its own), else the
/// highest `memory.current` seen while it ran (the exec watchdog reads the
/// counters every 20 ms).
#[derive(Debug, Default)]
struct Peak {
    /// `memory.peak`, opened once (read-write where the kernel allows).
    file: Option<std::fs::File>,
    /// Writing to `file` reset the mark (Linux 6.12 and later).
    resettable: bool,
    /// The mark when the exec started.
    base: u64,
    /// The highest `memory.current` seen since the exec started.
    sampled: u64,
}

/// The peak of one exec (see [`Peak`]): `mark` is `memory.peak` now (`None`
/// on kernels before 5.19).
fn exec_peak(resettable: bool, mark: Option<u64>, base: u64, sampled: u64) -> u64 {
    match mark {
        Some(m) if resettable || m > base => m,
        _ => sampled,
    }
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

    /// A CFS quota of `cpus` CPUs for the whole box (`cpu.max` of its group).
    pub fn set_cpu_quota(&self, cpus: f64) -> Result<()> {
        let max = self.dir.join("cpu.max");
        if !max.exists() {
            return Err(crate::error::SandboxError::layer(
                "cgroup",
                "the cpu controller is not enabled for Kiln's groups (cgroup v2): a CPU quota cannot be set; delegate it (Delegate=yes) and keep real-time threads out of Kiln's group",
            ));
        }
        let v = format!("{} {}", super::cfs_quota_us(cpus), super::CFS_PERIOD_US);
        write(&max, &v)
    }

    /// Starts a new exec's memory peak (see [`Peak`]).
    pub fn reset_peak(&self) {
        use std::io::Write;
        let mut p = self.peak.lock().unwrap_or_else(|e| e.into_inner());
        if p.file.is_none() {
            let path = self.run().join("memory.peak");
            p.file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .or_else(|_| std::fs::File::open(&path))
                .ok();
        }
        p.resettable = p
            .file
            .as_mut()
            .is_some_and(|f| f.write_all(b"reset").is_ok());
        p.base = p.file.as_ref().and_then(read_at0).unwrap_or(0);
        p.sampled = super::read_u64(&self.run().join("memory.current")).unwrap_or(0);
    }

    pub fn usage(&self) -> Result<Usage> {
        let run = self.run();
        let current = super::read_u64(&run.join("memory.current"))?;
        let mut p = self.peak.lock().unwrap_or_else(|e| e.into_inner());
        if p.file.is_none() {
            p.file = std::fs::File::open(run.join("memory.peak")).ok();
        }
        p.sampled = p.sampled.max(current);
        let mark = p.file.as_ref().and_then(read_at0);
        Ok(Usage {
            cpu_ns: read_keyed(&run.join("cpu.stat"), "usage_usec")? * 1000,
            memory_peak_bytes: exec_peak(p.resettable, mark, p.base, p.sampled),
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
        // Close memory.peak first (an open file does not keep a group, but
        // there is no use for it any more).
        self.peak.lock().unwrap_or_else(|e| e.into_inner()).file = None;
        rmdir_tree(&self.dir)
    }
}

/// A counter file's number, read from its start (the same descriptor keeps
/// a reset `memory.peak`'s view).
fn read_at0(f: &std::fs::File) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 32];
    let n = f.read_at(&mut buf, 0).ok()?;
    std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
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
        let t = Tree {
            parent: d.path().to_path_buf(),
            enable: "+memory +pids".into(),
        };
        let g = t.create("kiln-1-0").unwrap();
        let top = d.path().join("kiln-1-0");
        assert_eq!(
            std::fs::read_to_string(top.join("cgroup.subtree_control")).unwrap(),
            "+memory +pids"
        );
        assert!(top.join(INIT_GROUP).is_dir() && top.join(RUN_GROUP).is_dir());
        g.set_limits(64 << 20, 10).unwrap();
        assert_eq!(
            std::fs::read_to_string(top.join(RUN_GROUP).join("memory.max")).unwrap(),
            (64u64 << 20).to_string()
        );
        assert_eq!(
            std::fs::read_to_string(top.join(RUN_GROUP).join("pids.max")).unwrap(),
            "10"
        );
        assert!(
            !top.join("memory.max").exists(),
            "the limit must not cover init"
        );
        let run = top.join(RUN_GROUP);
        std::fs::write(run.join("cpu.stat"), "usage_usec 1500\n").unwrap();
        std::fs::write(run.join("memory.peak"), "4096\n").unwrap();
        std::fs::write(run.join("memory.current"), "1024\n").unwrap();
        std::fs::write(
            run.join("memory.events"),
            "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
        )
        .unwrap();
        let u = g.usage().unwrap();
        assert_eq!(
            (u.cpu_ns, u.memory_peak_bytes, u.oom_kills, u.limit_hits),
            (1_500_000, 4096, 1, 3)
        );
        // A second exec below the first one's mark reports what it used,
        // not the mark (here the "reset" written to the plain file leaves
        // no number in it, so the sampled usage counts).
        g.reset_peak();
        std::fs::write(run.join("memory.current"), "2048\n").unwrap();
        assert_eq!(g.usage().unwrap().memory_peak_bytes, 2048);
        let b = super::super::BoxCgroup::V2(g);
        assert_eq!(
            b.procs_files(),
            vec![top.join(INIT_GROUP).join("cgroup.procs")]
        );
        assert_eq!(
            b.run_procs_files(),
            vec![top.join(RUN_GROUP).join("cgroup.procs")]
        );
    }

    /// An exec's peak where memory.peak cannot be reset: the mark when the
    /// exec raised it, else the highest current usage sampled.
    #[test]
    fn an_execs_peak_is_its_own() {
        // Raised the mark: the new mark is this exec's.
        assert_eq!(
            exec_peak(false, Some(100 << 20), 50 << 20, 90 << 20),
            100 << 20
        );
        // Below an earlier exec's mark: what was sampled.
        assert_eq!(
            exec_peak(false, Some(100 << 20), 100 << 20, 10 << 20),
            10 << 20
        );
        // Reset (Linux 6.12): the mark is this exec's.
        assert_eq!(
            exec_peak(true, Some(10 << 20), 100 << 20, 1 << 20),
            10 << 20
        );
        // No memory.peak (before Linux 5.19): sampled.
        assert_eq!(exec_peak(false, None, 0, 7), 7);
    }

    /// A Kiln process in the `kiln-host` leaf (moved there by itself or by
    /// the Kiln process that started it) puts its groups beside it.
    #[test]
    fn the_host_leaf_uses_the_group_above() {
        assert_eq!(base_group("/"), "/");
        assert_eq!(
            base_group("/kiln.slice/kiln.service"),
            "/kiln.slice/kiln.service"
        );
        assert_eq!(
            base_group("/kiln.slice/kiln.service/kiln-host"),
            "/kiln.slice/kiln.service"
        );
        assert_eq!(base_group("/kiln-host"), "/");
        assert_eq!(base_group("/a/kiln-hostile"), "/a/kiln-hostile");
    }
}
