//! Hostile clients of workspaces through the real `kiln serve`: a terminal
//! client that stops reading, and an exec whose client leaves (the run
//! endpoint's hostile clients are in `hostile_clients.rs`).

#[path = "serve_common.rs"]
mod common;
#[path = "helpers/workspace.rs"]
mod helpers;
#[path = "helpers/raw.rs"]
mod raw;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Server, WebSocket};
use raw::{connect, peak_rss_kb};
use serde_json::json;

fn workspace_server(dir: &Path, first_uid: u32) -> Server {
    helpers::start(dir, first_uid, "pty_grace_secs = 1\n", &[])
}

fn running_workspace(s: &Server, name: &str) -> String {
    let (code, v) = s.request(
        "POST",
        "/api/v1/workspaces",
        Some(&json!({"name": name, "template": "pod-swdev", "parameters": {}})),
    );
    assert_eq!(code, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let start = Instant::now();
    loop {
        let (_, v) = s.request("GET", &format!("/api/v1/workspaces/{id}"), None);
        if v["status"] == "running" {
            return id;
        }
        assert_ne!(v["status"], "failed", "{v}");
        assert!(start.elapsed() < Duration::from_secs(60), "{v}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A terminal client that stops reading while its shell prints forever: the
/// workspace and the server go on (an exec answers, another terminal works),
/// the server's memory stays bounded, and the slow client is closed (code
/// 4000, "too slow") instead of being fed forever.
#[test]
fn a_terminal_client_that_stops_reading_does_not_wedge_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let s = workspace_server(dir.path(), 111_200);
    let id = running_workspace(&s, "stall");
    let before = peak_rss_kb(&s);
    let mut c = connect(&s.addr, &format!("/api/v1/workspaces/{id}/pty?reconnect=stalled&command=yes%20a-long-line-of-terminal-output"));
    // Not read for a while: the shell writes on.
    std::thread::sleep(Duration::from_secs(3));
    let started = Instant::now();
    let (code, v) = s.request(
        "POST",
        &format!("/api/v1/workspaces/{id}/exec"),
        Some(&json!({"command": "echo fine"})),
    );
    assert_eq!((code, v["stdout"].as_str()), (200, Some("fine\n")), "{v}");
    let mut other = WebSocket::connect(
        &s.addr,
        &format!("/api/v1/workspaces/{id}/pty?command=echo%20other-terminal"),
    );
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("other-terminal") {
        let (_, p) = other.recv_frame().expect("the other terminal's output");
        seen.extend_from_slice(&p);
    }
    eprintln!(
        "exec and another terminal answered within {:?} while a client stalled",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_secs(2));
    // Now read: what was buffered, then the close.
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut total = 0usize;
    let close = loop {
        let mut h = [0u8; 2];
        if c.read_exact(&mut h).is_err() {
            break None;
        }
        let len = match h[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                c.read_exact(&mut b).unwrap();
                u16::from_be_bytes(b) as usize
            }
            127 => {
                let mut b = [0u8; 8];
                c.read_exact(&mut b).unwrap();
                u64::from_be_bytes(b) as usize
            }
            n => n as usize,
        };
        let mut p = vec![0u8; len];
        c.read_exact(&mut p).unwrap();
        total += len;
        if h[0] & 0x0f == 0x8 {
            break Some(p);
        }
        assert!(
            total < 256 << 20,
            "the stalled client was fed {total} bytes and never closed"
        );
    };
    let close = close.expect("a close frame (the server kept the stalled client instead)");
    assert_eq!(
        u16::from_be_bytes([close[0], close[1]]),
        4000,
        "{}",
        String::from_utf8_lossy(&close[2..])
    );
    let after = peak_rss_kb(&s);
    eprintln!("the stalled terminal client got {total} bytes, then close 4000; server peak RSS {before} -> {after} KiB");
    assert!(
        after < before + 64 * 1024,
        "the server grew from {before} KiB to {after} KiB"
    );
}

/// A workspace exec whose HTTP client hangs up: the command is killed, not
/// left running to its timeout.
#[test]
fn a_workspace_exec_whose_client_leaves_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let s = workspace_server(dir.path(), 111_300);
    let id = running_workspace(&s, "hangup");
    let body = json!({"command": "sleep 300 && echo never", "timeout_ms": 600_000}).to_string();
    let mut c = TcpStream::connect(&s.addr).unwrap();
    write!(c, "POST /api/v1/workspaces/{id}/exec HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", s.addr, body.len()).unwrap();
    let pgrep = || {
        s.request(
            "POST",
            &format!("/api/v1/workspaces/{id}/exec"),
            Some(&json!({"command": "pgrep -x sleep || true"})),
        )
        .1["stdout"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let start = Instant::now();
    while pgrep().trim().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the exec never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = c.shutdown(Shutdown::Both);
    drop(c);
    let left = Instant::now();
    while !pgrep().trim().is_empty() {
        assert!(
            left.elapsed() < Duration::from_secs(10),
            "the exec's command outlived its client by 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "the exec's command was gone {:?} after its client left",
        left.elapsed()
    );
}
