//! Containment, round two (issue 11): no host descriptor reaches a box;
//! an exec's paths are resolved as the box user inside the box; every
//! request to a box is bounded and answered; memory held by no process
//! makes a program, never Kiln's helper or init, the OOM killer's choice;
//! `/proc` shows the box, not the host. Each test checks the host side.
//!
//! One module per property: `descriptors`, `paths`, `requests`, `memory`,
//! `proc_view`; the start-up sweep's test is here.

#[path = "../common/mod.rs"]
mod common;
mod descriptors;
mod memory;
mod paths;
mod proc_view;
mod requests;

use common::*;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use kiln_sandbox::protocol::{self, BoxSetup, Recv, Request, Response, MAX_PACKET};
use kiln_sandbox::{ExecLimits, ExecSpec, LimitHit, SandboxBox, SandboxError};

/// Limits for trivial shells, scaled for slow machines (see
/// `common::time_scale`: under emulation six fork-execs of `ln` can take
/// more than five seconds of wall time).
fn small() -> ExecLimits {
    let k = time_scale();
    ExecLimits {
        cpu_ms: 2000 * k,
        wall_ms: 5000 * k,
        memory_bytes: 64 << 20,
        processes: 32,
        output_bytes: 64 << 10,
        ..ExecLimits::default()
    }
}

/// Every descriptor target of a host process (`readlink /proc/<pid>/fd/*`).
fn fd_targets(pid: i32) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|p| p.display().to_string())
        .collect()
}

/// The host pid of a box's init (pid 1 in its own namespace).
fn init_pid(b: &SandboxBox) -> i32 {
    for pid in b.host_pids() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let nspid: Vec<&str> = status
            .lines()
            .find_map(|l| l.strip_prefix("NSpid:"))
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if nspid.len() == 2 && nspid[1] == "1" {
            return pid;
        }
    }
    panic!("no init among the box's processes {:?}", b.host_pids());
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn the_startup_sweep_clears_a_dead_kiln_processs_init_and_run_groups() {
    let dead = {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    let name = format!("kiln-{dead}-0");
    let parents = kiln_sandbox::cgroup::Cgroups::detect().unwrap().parents();
    let mut sleepers = Vec::new();
    for group in ["init", "run"] {
        let s = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap();
        for p in &parents {
            let d = p.join(&name).join(group);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("cgroup.procs"), s.id().to_string()).unwrap();
        }
        sleepers.push(s);
    }
    let _sb = sandbox();
    for s in &mut sleepers {
        let mut status = None;
        for _ in 0..500 {
            status = s.try_wait().unwrap();
            if status.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if status.is_none() {
            let _ = s.kill();
            panic!("a process of the dead box's {name} survived the sweep");
        }
    }
    for p in &parents {
        assert!(
            !p.join(&name).exists(),
            "{} should be removed",
            p.join(&name).display()
        );
    }
}
