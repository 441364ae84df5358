//! The startup sweep: creating a `Sandbox` clears the box cgroups of Kiln
//! processes that died (thaws, kills, removes), and leaves live ones alone.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command};

use kiln_sandbox::cgroup::Cgroups;

/// A pid that was alive a moment ago and is not any more.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

/// Creates group `name` in every hierarchy with a sleeping process in it;
/// returns the group's directories and the process.
fn group_with_sleeper(name: &str) -> (Vec<PathBuf>, Child) {
    let parents = Cgroups::detect().unwrap().parents();
    let dirs: Vec<PathBuf> = parents.iter().map(|p| p.join(name)).collect();
    let sleeper = Command::new("sleep").arg("1000").spawn().unwrap();
    for d in &dirs {
        std::fs::create_dir(d).unwrap();
        std::fs::write(d.join("cgroup.procs"), sleeper.id().to_string()).unwrap();
    }
    (dirs, sleeper)
}

/// Freezes the group (v1 freezer, v2 cgroup.freeze) and waits until it is;
/// false when the group vanished meanwhile (another test process's
/// `Sandbox` swept it: its owner is dead, so that is the sweep's job too).
fn freeze(dirs: &[PathBuf]) -> bool {
    for d in dirs {
        let (file, on, done) = if d.join("freezer.state").exists() {
            ("freezer.state", "FROZEN", "FROZEN")
        } else if d.join("cgroup.freeze").exists() {
            ("cgroup.freeze", "1", "frozen 1")
        } else {
            continue;
        };
        if std::fs::write(d.join(file), on).is_err() {
            return false;
        }
        let state = if file == "cgroup.freeze" {
            d.join("cgroup.events")
        } else {
            d.join(file)
        };
        loop {
            match std::fs::read_to_string(&state) {
                Ok(t) if t.contains(done) => break,
                Ok(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                Err(_) => return false,
            }
        }
    }
    true
}

/// The tests of this file one at a time within one process: a `Sandbox`
/// made by one sweeps the dead owner's group the other is still freezing
/// (across processes, under nextest, `freeze` copes).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_dead_processs_frozen_group_is_killed_and_removed() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let name = format!("kiln-{}-0", dead_pid());
    let (dirs, mut sleeper) = group_with_sleeper(&name);
    if freeze(&dirs) {
        assert!(
            sleeper.try_wait().unwrap().is_none(),
            "frozen, not dead yet"
        );
    }
    let _sb = common::sandbox();
    // The sweep returns once the group is empty and removed; the exit status
    // follows at once (bounded so a regression fails instead of hanging).
    let mut status = None;
    for _ in 0..1000 {
        status = sleeper.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let status = status.unwrap_or_else(|| {
        for d in &dirs {
            let _ = std::fs::write(d.join("freezer.state"), "THAWED");
        }
        let _ = sleeper.kill();
        panic!("the frozen process in {name} is still alive after the sweep")
    });
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    for d in &dirs {
        assert!(!d.exists(), "{} should be removed", d.display());
    }
}

#[test]
fn a_live_processs_group_is_left_alone() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // This test process is alive: its groups belong to it.
    let name = format!("kiln-{}-987654", std::process::id());
    let (dirs, mut sleeper) = group_with_sleeper(&name);
    let _sb = common::sandbox();
    assert!(
        sleeper.try_wait().unwrap().is_none(),
        "the live owner's process must keep running"
    );
    for d in &dirs {
        assert!(d.exists(), "{} must stay", d.display());
    }
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    for d in &dirs {
        while std::fs::remove_dir(d).is_err() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}
