//! Helpers of the workspace end-to-end tests (included with `#[path]` beside
//! `serve_common.rs`): a `kiln serve` with its own workspace uid range, and
//! the workspace API calls the tests make.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use super::common::{request_raw, Server, WebSocket};
use serde_json::{json, Value};

pub fn start(dir: &Path, first_uid: u32, extra_toml: &str, flags: &[&str]) -> Server {
    let cfg = dir.join("kiln.toml");
    std::fs::write(
        &cfg,
        format!("[workspaces]\nfirst_uid = {first_uid}\nuid_count = 100\n{extra_toml}"),
    )
    .unwrap();
    let mut args = vec![
        "--workers",
        "1",
        "--warm-boxes",
        "0",
        "--config",
        cfg.to_str().unwrap(),
    ];
    args.extend_from_slice(flags);
    Server::start(&dir.join("data"), &args)
}

pub fn create(s: &Server, name: &str) -> String {
    create_from(s, name, "pod-swdev")
}

pub fn create_from(s: &Server, name: &str, template: &str) -> String {
    let (code, v) = s.request(
        "POST",
        "/api/v1/workspaces",
        Some(&json!({"name": name, "template": template, "parameters": {}})),
    );
    assert_eq!(code, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

/// Polls until the workspace has `status` (bounded: fails after a minute).
pub fn wait_status(s: &Server, id: &str, status: &str) -> Value {
    let start = Instant::now();
    loop {
        let (code, v) = s.request("GET", &format!("/api/v1/workspaces/{id}"), None);
        assert_eq!(code, 200, "{v}");
        if v["status"] == status {
            return v;
        }
        assert_ne!(v["status"], "failed", "{v}");
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{id} never became {status}: {v}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn exec(s: &Server, id: &str, body: Value) -> (u16, Value) {
    s.request(
        "POST",
        &format!("/api/v1/workspaces/{id}/exec"),
        Some(&body),
    )
}

pub fn sh(s: &Server, id: &str, script: &str) -> Value {
    let (code, v) = exec(s, id, json!({"command": script}));
    assert_eq!(code, 200, "{v}");
    v
}

pub fn put(s: &Server, id: &str, path: &str, data: &[u8]) -> (u16, Vec<u8>) {
    request_raw(
        &s.addr,
        "PUT",
        &format!("/api/v1/workspaces/{id}/files?path={path}"),
        data,
    )
}

pub fn get(s: &Server, id: &str, path: &str) -> (u16, Vec<u8>) {
    request_raw(
        &s.addr,
        "GET",
        &format!("/api/v1/workspaces/{id}/files?path={path}"),
        b"",
    )
}

/// Reads terminal output until it holds `needle`; all of it.
pub fn read_until(ws: &mut WebSocket, needle: &str) -> String {
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains(needle) {
        let (op, payload) = ws.recv_frame().unwrap_or_else(|| {
            panic!(
                "closed before {needle:?}: {:?}",
                String::from_utf8_lossy(&seen)
            )
        });
        assert_eq!(op, 0x2, "terminal output comes as binary frames");
        seen.extend_from_slice(&payload);
    }
    String::from_utf8_lossy(&seen).into_owned()
}
