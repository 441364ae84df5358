//! `kill -9` of the real `kiln serve` with jobs queued and running: after a
//! restart on the same data directory every submission answered 202 ends with
//! exactly one final result. And SIGTERM drains and exits 0.

#[path = "serve_common.rs"]
mod common;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use common::Server;

fn sleeper(tag: usize) -> serde_json::Value {
    json!({ "language": "python", "source": "import time\ntime.sleep(1.5)\nprint(input())", "stdin": format!("job-{tag}") })
}

#[test]
fn kill_9_loses_nothing_and_finishes_each_job_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--workers", "2"]);
    let ids: Vec<String> = (0..6).map(|i| server.submit(&sleeper(i))).collect();
    // Wait until two jobs run (the others are queued), then kill -9.
    let start = std::time::Instant::now();
    loop {
        let (_, v) = server.request(
            "GET",
            &format!("/api/v1/submissions/batch?ids={}", ids.join(",")),
            None,
        );
        let running = v["submissions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["status"] == "running")
            .count();
        if running == 2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "jobs never started: {v}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill9();

    let server = Server::start(dir.path(), &["--workers", "2"]);
    let mut finished = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        let v = server.result(id, Duration::from_secs(90));
        assert_eq!(v["status"], "accepted", "{v}");
        assert_eq!(v["stdout"], format!("job-{i}\n"));
        finished.insert(id.clone(), v);
    }
    // A final result never changes afterwards (no second finish).
    std::thread::sleep(Duration::from_millis(500));
    for (id, v) in &finished {
        let (_, again) = server.request("GET", &format!("/api/v1/submissions/{id}"), None);
        assert_eq!(&again, v);
    }
    let (_, health) = server.request("GET", "/health", None);
    assert_eq!(health["queue"]["depth"], 0, "{health}");
}

#[test]
fn sigterm_drains_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        dir.path(),
        &["--workers", "1", "--shutdown-grace-secs", "20"],
    );
    let running = server.submit(&sleeper(0));
    let queued = server.submit(&sleeper(1));
    std::thread::sleep(Duration::from_millis(500));
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));

    let server = Server::start(dir.path(), &["--workers", "1"]);
    assert_eq!(
        server.result(&running, Duration::from_secs(60))["stdout"],
        "job-0\n"
    );
    assert_eq!(
        server.result(&queued, Duration::from_secs(60))["stdout"],
        "job-1\n"
    );
}
