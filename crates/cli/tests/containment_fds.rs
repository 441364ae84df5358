//! No host descriptor reaches a box (issue 11, item 1), end to end: `kiln
//! serve` starts with an extra directory descriptor inherited (as a careless
//! parent or library would leave one), then a submission and a workspace exec
//! look for it from inside, and the host checks every process: none but the
//! server itself (and this test) may hold it. Also: a workspace exec whose
//! working directory or program is a `/proc` path is a 4xx naming the field,
//! and a submission too big for the box's control channel (issue 11, item 4)
//! is refused or ends, never stays `running`.

#[path = "serve_common.rs"]
mod common;
#[path = "helpers/workspace.rs"]
mod helpers;

use std::time::{Duration, Instant};

use common::Server;
use serde_json::{json, Value};

/// Pids of every host process with a descriptor on `name`.
fn holders(name: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        if fds
            .flatten()
            .filter_map(|f| std::fs::read_link(f.path()).ok())
            .any(|t| t.to_string_lossy().contains(name))
        {
            out.push(pid);
        }
    }
    out
}

/// The process's parent pid.
fn ppid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Whether `pid` descends from `ancestor`.
fn descends(mut pid: i32, ancestor: i32) -> bool {
    while let Some(p) = ppid(pid) {
        if p == ancestor {
            return true;
        }
        if p <= 1 {
            return false;
        }
        pid = p;
    }
    false
}

/// Asserts that of the server's descendants (helpers, inits, programs), none
/// holds the leaked directory, and that at least `min_boxed` descendants
/// exist (so the check saw live boxes).
fn assert_no_box_holds(name: &str, server: i32, min_boxed: usize) {
    let boxed: Vec<i32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|p| descends(*p, server))
        .collect();
    assert!(
        boxed.len() >= min_boxed,
        "expected live box processes under the server, found {boxed:?}"
    );
    let leaked: Vec<i32> = holders(name)
        .into_iter()
        .filter(|p| boxed.contains(p))
        .collect();
    assert!(
        leaked.is_empty(),
        "box processes {leaked:?} hold the server's inherited directory"
    );
}

const PROBE: &str = r#"
import os, time
seen = []
for pid in ['self'] + [p for p in os.listdir('/proc') if p.isdigit()]:
    try:
        for fd in os.listdir('/proc/%s/fd' % pid):
            try:
                seen.append(os.readlink('/proc/%s/fd/%s' % (pid, fd)))
            except OSError:
                pass
    except OSError:
        pass
print('\n'.join(seen))
time.sleep(3)
"#;

#[test]
fn an_inherited_descriptor_of_kiln_serve_reaches_no_box() {
    let dir = tempfile::tempdir().unwrap();
    let leaked = tempfile::Builder::new()
        .prefix("kiln-inherited-")
        .tempdir()
        .unwrap();
    let name = leaked
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    // Without O_CLOEXEC: `kiln serve` (spawned below) inherits it.
    let fd = nix::fcntl::open(
        leaked.path(),
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
        nix::sys::stat::Mode::empty(),
    )
    .unwrap();
    let s = helpers::start(dir.path(), 141_000, "", &[]);
    let server = s.child.id() as i32;
    assert!(
        holders(&name).contains(&server),
        "the test setup is wrong: kiln serve did not inherit the directory"
    );

    // A submission: it looks from inside while the host looks from outside.
    let id = s.submit(&json!({ "language": "python", "source": PROBE }));
    let start = Instant::now();
    loop {
        let (_, v) = s.request("GET", &format!("/api/v1/submissions/{id}"), None);
        if v["status"] == "running" {
            std::thread::sleep(Duration::from_millis(1000));
            assert_no_box_holds(&name, server, 3);
            break;
        }
        assert!(matches!(v["status"].as_str(), Some("queued")), "{v}");
        assert!(start.elapsed() < Duration::from_secs(60), "never ran: {v}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let v = s.result(&id, Duration::from_secs(60));
    assert_eq!(v["status"], "accepted", "{v}");
    let inside = v["stdout"].as_str().unwrap();
    assert!(
        !inside.contains(&name),
        "a box process holds the directory:\n{inside}"
    );

    // A workspace: a background program stays, and the host checks all of it.
    let (code, v) = s.request(
        "POST",
        "/api/v1/workspaces",
        Some(&json!({"name": "fds", "template": "pod-swdev", "parameters": {}})),
    );
    assert_eq!(code, 201, "{v}");
    let ws = v["id"].as_str().unwrap().to_string();
    let start = Instant::now();
    loop {
        let (_, v) = s.request("GET", &format!("/api/v1/workspaces/{ws}"), None);
        if v["status"] == "running" {
            break;
        }
        assert_ne!(v["status"], "failed", "{v}");
        assert!(start.elapsed() < Duration::from_secs(60), "{v}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let exec = |body: Value| {
        s.request(
            "POST",
            &format!("/api/v1/workspaces/{ws}/exec"),
            Some(&body),
        )
    };
    let (code, v) = exec(
        json!({"command": "sleep 60 >/dev/null 2>&1 & ls -l /proc/self/fd/ /proc/[0-9]*/fd/ 2>&1"}),
    );
    assert_eq!(code, 200, "{v}");
    assert!(!v["stdout"].as_str().unwrap().contains(&name), "{v}");
    assert_no_box_holds(&name, server, 3);

    // Paths are checked by the API too: a 4xx that names the field.
    for (body, field) in [
        (
            json!({"command": ["/bin/pwd"], "cwd": "/proc/self/fd/3"}),
            "cwd",
        ),
        (
            json!({"command": ["/bin/pwd"], "cwd": "/proc/1/root"}),
            "cwd",
        ),
        (json!({"command": ["/proc/self/exe", "serve"]}), "command"),
        (
            json!({"command": ["../../proc/self/exe"], "cwd": "/home/kiln"}),
            "command",
        ),
    ] {
        let (code, v) = exec(body.clone());
        assert!((400..500).contains(&code), "{body} answered {code}: {v}");
        assert!(
            v.to_string().contains(field),
            "{body}: the answer does not name {field}: {v}"
        );
    }
    // A link planted in the home that leads to /proc is refused by the box.
    let (code, v) = exec(json!({"command": "ln -s /proc/1/root r; ln -s /proc/self/exe x"}));
    assert_eq!(code, 200, "{v}");
    for body in [
        json!({"command": ["/bin/pwd"], "cwd": "/home/kiln/r"}),
        json!({"command": ["./x", "serve"]}),
    ] {
        let (code, v) = exec(body.clone());
        assert!((400..500).contains(&code), "{body} answered {code}: {v}");
    }
    drop(fd);
}

#[test]
fn a_submission_too_big_for_the_control_channel_never_stays_running() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &dir.path().join("data"),
        &["--workers", "1", "--warm-boxes", "0"],
    );
    // The issue's example: 40 arguments of 4000 bytes.
    let args: Vec<String> = (0..40).map(|_| "x".repeat(4000)).collect();
    let body =
        json!({ "language": "python", "source": "import sys; print(len(sys.argv))", "args": args });
    let (code, v) = s.request("POST", "/api/v1/submissions", Some(&body));
    if (400..500).contains(&code) {
        // Refused by validation: fine.
        eprintln!("refused: {code} {v}");
    } else {
        assert_eq!(code, 202, "{v}");
        let v = s.result(v["id"].as_str().unwrap(), Duration::from_secs(30));
        assert_ne!(v["status"], "running", "{v}");
    }
    // The worker is not lost: the next submission runs.
    let v = s.result(
        &s.submit(&json!({ "language": "python", "source": "print(42)" })),
        Duration::from_secs(60),
    );
    assert_eq!(v["stdout"], "42\n", "{v}");
}
