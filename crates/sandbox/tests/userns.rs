//! Each box's own user namespace (issue 19): read from the host, no process
//! of a box (helper, init, program) holds a capability in the host's user
//! namespace or a host root uid; the box uid keeps its host value, so what a
//! box writes belongs to it on the host too. The older model still works
//! where the setting turns user namespaces off.

#[path = "common/mod.rs"]
mod common;

use common::*;

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use kiln_sandbox::{BoxOptions, ExecLimits, SandboxBox, UserNamespaces};

/// The whitespace-separated values of a `/proc/<pid>/status` line.
fn status(pid: i32, key: &str) -> Vec<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn caps(pid: i32, key: &str) -> u64 {
    u64::from_str_radix(&status(pid, key)[0], 16).unwrap()
}

fn ids(pid: i32, key: &str) -> Vec<u32> {
    status(pid, key)
        .iter()
        .map(|v| v.parse().unwrap())
        .collect()
}

fn user_ns(pid: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/user"))
        .unwrap()
        .display()
        .to_string()
}

/// The box's host pids once `n` processes are in it (bounded wait for a
/// program that was just started; not a timing assertion).
async fn pids_when(b: &SandboxBox, n: usize) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(10 * time_scale());
    loop {
        let pids = b.host_pids();
        if pids.len() >= n || Instant::now() > deadline {
            return pids;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn no_process_of_a_box_holds_a_capability_on_the_host() {
    let sb = sandbox();
    assert!(
        sb.info().user_namespaces,
        "this host should allow user namespaces (user.max_user_namespaces > 0)"
    );
    let b = sb.create_box(&[]).await.unwrap();
    let (uid, root) = (
        b.uid(),
        b.root_uid().expect("a box with its own user namespace"),
    );
    assert_ne!(root, uid);
    let prog = b
        .spawn_pty(
            vec!["/bin/sleep".into(), "60".into()],
            vec![PATH.into()],
            "/box",
            24,
            80,
        )
        .await
        .unwrap();
    let pids = pids_when(&b, 3).await;
    assert_eq!(pids.len(), 3, "helper, init and the program: {pids:?}");
    let host = user_ns("self");
    let mut kinds: Vec<&str> = pids
        .iter()
        .map(|&pid| check_process(pid, &host, (root, uid), prog.pid))
        .collect();
    kinds.sort();
    assert_eq!(kinds, vec!["helper", "init", "program"]);
    b.destroy().await;
}

/// Checks one process of a box from the host; says which it is.
fn check_process(pid: i32, host: &str, (root, uid): (u32, u32), prog: i32) -> &'static str {
    let nspid = status(pid, "NSpid");
    let (u, g) = (ids(pid, "Uid"), ids(pid, "Gid"));
    let groups = ids(pid, "Groups");
    assert!(
        !u.contains(&0) && !g.contains(&0),
        "process {pid} has a host root id: uid {u:?} gid {g:?}"
    );
    assert!(
        !groups.contains(&0),
        "process {pid} is in the host's root group: {groups:?}"
    );
    if user_ns(&pid.to_string()) == host {
        // The helper: outside the box's PID namespace, unprivileged.
        assert_eq!(
            nspid.len(),
            1,
            "only the helper stays in the host's user namespace"
        );
        assert_eq!(
            (u[0], caps(pid, "CapEff"), caps(pid, "CapPrm")),
            (root, 0, 0)
        );
        return "helper";
    }
    // In the box's user namespace: whatever it holds, it holds there.
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    let lines: Vec<Vec<&str>> = map
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let (r, u_s) = (root.to_string(), uid.to_string());
    assert_eq!(
        lines,
        vec![vec!["0", &r, "1"], vec![&u_s, &u_s, "1"]],
        "uid_map of {pid}"
    );
    if nspid.last().map(String::as_str) == Some("1") {
        assert_eq!(u, vec![root; 4], "init is the box's root uid on the host");
        return "init";
    }
    assert_eq!(nspid.last().unwrap(), &prog.to_string());
    assert_eq!(u, vec![uid; 4], "the program runs as the box uid");
    assert_eq!(
        caps(pid, "CapEff"),
        0,
        "the program holds no capability at all"
    );
    assert_eq!(
        caps(pid, "CapBnd"),
        0,
        "the program's bounding set is empty"
    );
    "program"
}

#[tokio::test]
async fn the_box_uid_owns_what_the_box_writes_on_the_host() {
    let sb = sandbox();
    let parent = tempfile::tempdir().unwrap();
    let home = parent.path().join("home");
    std::fs::create_dir(&home).unwrap();
    // As a workspace's: a uid of its own, the home chowned to it first.
    let uid = (99_700..99_800).find(|u| sb.uid_is_free(*u)).unwrap();
    std::os::unix::fs::chown(&home, Some(uid), Some(uid)).unwrap();
    let b = sb
        .create_box_with(&BoxOptions {
            uid: Some(uid),
            home: Some(home.clone()),
            ..BoxOptions::default()
        })
        .await
        .unwrap();
    b.write_file("src/main.c", b"int main(){}", 0o644)
        .await
        .unwrap();
    let o = sh(
        &b,
        "echo out > made.txt && id -u && stat -c '%u %g' /box/src/main.c && stat -c %u /usr/bin",
        ExecLimits::default(),
    )
    .await;
    // Inside: the box uid is itself, host root's files show as nobody.
    assert_eq!(
        text(&o.stdout),
        format!("{uid}\n{uid} {uid}\n65534\n"),
        "{o:?}"
    );
    for f in ["src", "src/main.c", "made.txt"] {
        let m = std::fs::metadata(home.join(f)).unwrap();
        assert_eq!((m.uid(), m.gid()), (uid, uid), "owner of {f} on the host");
    }
    assert_eq!(b.read_file("made.txt", 100).await.unwrap(), b"out\n");
    b.destroy().await;
}

#[tokio::test]
async fn with_user_namespaces_off_init_is_root_on_the_host_as_before() {
    let sb = sandbox_with(|c| c.user_namespaces = UserNamespaces::Off);
    assert!(!sb.info().user_namespaces);
    let b = sb.create_box(&[]).await.unwrap();
    assert_eq!(b.root_uid(), None);
    let o = sh(&b, "id -u; stat -c %u /usr/bin", ExecLimits::default()).await;
    assert_eq!(text(&o.stdout), format!("{}\n0\n", b.uid()), "{o:?}");
    let host = user_ns("self");
    for pid in b.host_pids() {
        assert_eq!(user_ns(&pid.to_string()), host);
        assert_eq!(ids(pid, "Uid")[0], 0);
    }
    still_works(&b).await;
    b.destroy().await;
}
