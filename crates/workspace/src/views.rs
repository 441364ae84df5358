//! What a workspace sees of its machine (LXCFS-style views): its template's
//! CPUs and memory rather than the host's. `/proc/meminfo` and
//! `/proc/cpuinfo` are files generated per workspace (`<ws dir>/views/`)
//! and bound read-only over the box's own; the box's processes are pinned to
//! `ceil(cpu)` of the host's CPUs (so `nproc` and `sched_getaffinity` agree),
//! spread over the host by uid. `df` shows the home's own filesystem (see
//! [`crate::disk`]). The quota itself is the cgroup's CFS quota; the views
//! only report it.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use kiln_sandbox::BindSpec;
use nix::sched::CpuSet;
use nix::unistd::Pid;

use crate::error::{Result, WorkspaceError};
use crate::template::Template;

/// The host CPUs a workspace with `uid` and `cpu` CPUs is pinned to:
/// `ceil(cpu)` of `online`, starting at a place that depends on the uid.
pub fn pick_cpus(online: &[usize], cpu: f64, uid: u32) -> Vec<usize> {
    if online.is_empty() {
        return vec![];
    }
    let n = (cpu.ceil() as usize).clamp(1, online.len());
    let start = uid as usize % online.len();
    let mut out: Vec<usize> = (0..n).map(|i| online[(start + i) % online.len()]).collect();
    out.sort_unstable();
    out
}

/// The CPUs this process may run on (the host's, or its container's).
pub fn online_cpus() -> Vec<usize> {
    match nix::sched::sched_getaffinity(Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count())
            .filter(|c| set.is_set(*c).unwrap_or(false))
            .collect(),
        Err(_) => vec![],
    }
}

/// `/proc/meminfo` of a box with `memory_mb`: total, free and available
/// are the limit; no swap.
pub fn meminfo(memory_mb: u64) -> String {
    let kb = memory_mb * 1024;
    let mut s = String::new();
    for (k, v) in [
        ("MemTotal", kb),
        ("MemFree", kb),
        ("MemAvailable", kb),
        ("Buffers", 0),
        ("Cached", 0),
        ("SwapCached", 0),
        ("Active", 0),
        ("Inactive", 0),
        ("SwapTotal", 0),
        ("SwapFree", 0),
        ("Shmem", 0),
        ("SReclaimable", 0),
    ] {
        s.push_str(&format!("{:<16}{v:>8} kB\n", format!("{k}:")));
    }
    s
}

/// `/proc/cpuinfo` with the host's entries of `cpus` only, renumbered from 0.
pub fn cpuinfo(host: &str, cpus: &[usize]) -> String {
    let blocks: Vec<&str> = host
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .collect();
    let mut out = String::new();
    for (i, c) in cpus.iter().enumerate() {
        let Some(block) = blocks.get(*c).or(blocks.first()) else {
            break;
        };
        for line in block.lines() {
            let key = line.split(':').next().unwrap_or("").trim();
            match key {
                "processor" => out.push_str(&format!("processor\t: {i}\n")),
                "siblings" | "cpu cores" => out.push_str(&format!("{key}\t: {}\n", cpus.len())),
                "core id" | "apicid" | "initial apicid" => out.push_str(&format!("{key}\t: {i}\n")),
                _ => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out.push('\n');
    }
    out
}

/// Writes the views of one workspace into `<ws dir>/views` and returns the
/// binds that put them over the box's `/proc`.
pub fn write(ws_dir: &Path, t: &Template, cpus: &[usize]) -> Result<Vec<BindSpec>> {
    let dir = ws_dir.join("views");
    match fs::DirBuilder::new().mode(0o755).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(WorkspaceError::io(format!("create {}", dir.display()), e)),
    }
    let host = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let files = [
        ("meminfo", meminfo(t.memory_mb)),
        ("cpuinfo", cpuinfo(&host, cpus)),
    ];
    let mut binds = Vec::new();
    for (name, text) in files {
        let p = dir.join(name);
        fs::write(&p, text).map_err(|e| WorkspaceError::io(format!("write {}", p.display()), e))?;
        binds.push(BindSpec {
            host: p.display().to_string(),
            inside: format!("/proc/{name}"),
        });
    }
    Ok(binds)
}

/// Pins each of `pids` (a box's helper and init: what they start inherits
/// it) to `cpus`.
pub fn pin(pids: &[i32], cpus: &[usize]) -> Result<()> {
    if cpus.is_empty() {
        return Ok(());
    }
    let mut set = CpuSet::new();
    for c in cpus {
        set.set(*c)
            .map_err(|e| WorkspaceError::Config(format!("CPU {c}: {e}")))?;
    }
    for pid in pids {
        match nix::sched::sched_setaffinity(Pid::from_raw(*pid), &set) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => {
                return Err(WorkspaceError::Config(format!(
                    "pin process {pid} to CPUs {cpus:?}: {e}"
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_are_the_ceiling_spread_by_uid() {
        let all = [0, 1, 2, 3];
        assert_eq!(pick_cpus(&all, 0.5, 100_000), vec![0]);
        assert_eq!(pick_cpus(&all, 0.5, 100_001), vec![1]);
        assert_eq!(pick_cpus(&all, 2.0, 100_003), vec![0, 3]);
        assert_eq!(pick_cpus(&all, 16.0, 7), vec![0, 1, 2, 3]);
        assert!(pick_cpus(&[], 1.0, 1).is_empty());
    }

    #[test]
    fn meminfo_shows_the_limit() {
        let m = meminfo(256);
        assert!(m.starts_with("MemTotal:         262144 kB\n"), "{m}");
        assert!(m.contains("SwapTotal:             0 kB"), "{m}");
    }

    #[test]
    fn cpuinfo_keeps_the_chosen_cpus_renumbered() {
        let host =
            "processor\t: 0\nmodel name\t: A\nsiblings\t: 4\n\nprocessor\t: 1\nmodel name\t: B\n\n\
                    processor\t: 2\nmodel name\t: C\n\n";
        let v = cpuinfo(host, &[1, 2]);
        assert_eq!(
            v,
            "processor\t: 0\nmodel name\t: B\n\nprocessor\t: 1\nmodel name\t: C\n\n"
        );
        assert_eq!(v.matches("processor").count(), 2);
    }
}
