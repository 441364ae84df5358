//! Workspaces come back after a restart of `kiln serve`: the ones that were
//! running start again when their template says `autostart` (the others
//! come back stopped), and a terminal reopened with its reconnect id shows
//! its scrollback from before, above a new shell.

#[path = "serve_common.rs"]
mod common;
#[path = "helpers/workspace.rs"]
mod helpers;

use std::time::{Duration, Instant};

use common::WebSocket;
use helpers::{create, create_from, read_until, sh, start, wait_status};
use serde_json::json;

const MANUAL: &str = "[[template]]\nname = \"manual\"\ncpu = 1\nmemory_mb = 256\ndisk_mb = 16\nlanguages = [\"bash\"]\nautostart = false\n";

#[test]
fn running_workspaces_and_their_scrollback_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("templates.toml");
    std::fs::write(&t, MANUAL).unwrap();
    let extra = format!("templates_file = {:?}\n", t.display().to_string());
    let s = start(dir.path(), 115_000, &extra, &[]);
    let auto = create(&s, "auto");
    let manual = create_from(&s, "manual", "manual");
    wait_status(&s, &auto, "running");
    wait_status(&s, &manual, "running");
    let (_, v) = s.request("GET", "/api/v1/templates", None);
    let flags: Vec<(String, bool)> = v["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().into(),
                t["autostart"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        flags.contains(&("pod-swdev".into(), true)) && flags.contains(&("manual".into(), false)),
        "{flags:?}"
    );

    let key = "5b1f6a3e-0c1d-4e2f-9a8b-7c6d5e4f3a21";
    let pty = format!("/api/v1/workspaces/{auto}/pty?width=80&height=24&reconnect={key}");
    let mut ws = WebSocket::connect(&s.addr, &pty);
    ws.send(&json!({"data": "echo before-$((6*7))\r"}));
    read_until(&mut ws, "before-42");
    // The scrollback reaches the disk within a second or so.
    let saved = dir
        .path()
        .join("data/workspaces")
        .join(&auto)
        .join("pty")
        .join(key);
    let t0 = Instant::now();
    while !std::fs::read(&saved).is_ok_and(|b| String::from_utf8_lossy(&b).contains("before-42")) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "scrollback never saved to {saved:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(ws);
    sh(&s, &auto, "echo kept > /home/kiln/note");

    s.kill9();
    let s = start(dir.path(), 115_000, &extra, &[]);
    let w = wait_status(&s, &auto, "running");
    assert_eq!(w["agent"]["status"], "connected");
    let w = wait_status(&s, &manual, "stopped");
    assert_eq!(w["agent"]["status"], "disconnected");
    assert_eq!(sh(&s, &auto, "cat /home/kiln/note")["stdout"], "kept\n");

    let mut ws = WebSocket::connect(&s.addr, &pty);
    let replay = read_until(&mut ws, "shell was restarted");
    assert!(replay.contains("before-42"), "{replay}");
    ws.send(&json!({"data": "echo after-$((6*7))\r"}));
    read_until(&mut ws, "after-42");
}
