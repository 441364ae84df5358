//! Hostile clients of the real `kiln serve` (issue 11, item 3): limits hold
//! and resources come back whatever a client does with its socket. Each test
//! asserts on the host side: no process of a box is left (descendants of the
//! server running as a box uid), the interactive slot is free again (a new
//! run starts on a one-worker server), the server's memory stays bounded.
//! Times are liveness bounds, generous for a loaded CI machine; the measured
//! times are printed.

#[path = "serve_common.rs"]
mod common;
#[path = "helpers/raw.rs"]
mod raw;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Server, WebSocket};
use raw::{connect, peak_rss_kb};
use serde_json::{json, Value};

/// Processes under `root` (by parent links in /proc) that run as a non-root uid: box programs.
fn box_processes(root: u32) -> Vec<(u32, u32)> {
    let mut parent: HashMap<u32, u32> = HashMap::new();
    let mut uid: HashMap<u32, u32> = HashMap::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u32>().ok())
        };
        if let (Some(pp), Some(u)) = (field("PPid:"), field("Uid:")) {
            parent.insert(pid, pp);
            uid.insert(pid, u);
        }
    }
    let under = |mut p: u32| {
        for _ in 0..64 {
            match parent.get(&p) {
                Some(&pp) if pp == root => return true,
                Some(&pp) if pp > 1 => p = pp,
                _ => return false,
            }
        }
        false
    };
    uid.iter()
        .filter(|(p, u)| **u != 0 && under(**p))
        .map(|(p, u)| (*p, *u))
        .collect()
}

/// Waits until no box process of the server is left; returns how long that took.
fn boxes_gone(server: &Server, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let left = box_processes(server.child.id());
        if left.is_empty() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "box processes still alive after {within:?}: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until at least one box process runs (the run has started); on
/// failure says what the server sent `c`.
fn box_running(server: &Server, c: &mut TcpStream) {
    let start = Instant::now();
    while box_processes(server.child.id()).is_empty() {
        if start.elapsed() > Duration::from_secs(60) {
            c.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
            let mut got = vec![0u8; 4096];
            let n = c.read(&mut got).unwrap_or(0);
            panic!(
                "the run never started; the server sent {:?}",
                String::from_utf8_lossy(&got[..n])
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A well-behaved interactive run; retries while the one slot is busy.
/// Returns how long it took to get in (the slot was still held until then).
fn slot_is_free(server: &Server, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let mut ws = WebSocket::connect(&server.addr, "/api/v1/run/ws");
        ws.send(&json!({"language": "python", "source": "print('ok')"}));
        ws.send(&json!({"eof": true}));
        let waited = start.elapsed();
        let mut busy = false;
        while let Some(m) = ws.recv() {
            match m["type"].as_str() {
                Some("error") if m["error"]["code"] == "busy" => {
                    busy = true;
                    break;
                }
                Some("result") => {
                    assert_eq!(m["status"], "accepted", "{m}");
                    return waited;
                }
                Some("stdout") => {}
                _ => panic!("unexpected message {m}"),
            }
        }
        assert!(busy, "the run closed without a result");
        assert!(
            start.elapsed() < within,
            "the interactive slot was still busy after {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80u8 | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n < 65536 => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

fn send_json(s: &mut TcpStream, v: &Value) -> std::io::Result<()> {
    s.write_all(&frame(0x1, v.to_string().as_bytes()))
}

/// Sends stdin messages until the server stops taking them (its buffers and
/// the socket's are full) for a second; returns the bytes sent.
fn flood_stdin(s: &mut TcpStream) -> usize {
    s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    let msg = frame(
        0x1,
        json!({"stdin": "x".repeat(60_000)}).to_string().as_bytes(),
    );
    let mut sent = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if s.write_all(&msg).is_err() {
            break;
        }
        sent += msg.len();
    }
    sent
}

fn limits(cpu: u64, wall: u64) -> Value {
    json!({"cpu_time_ms": cpu, "wall_time_ms": wall})
}

fn one_worker(dir: &Path) -> Server {
    Server::start(dir, &["--workers", "1", "--warm-boxes", "0"])
}

/// (a) The client floods stdin the program never reads and reads nothing
/// itself, while the program has output waiting: the run still ends at its
/// wall-clock limit, its processes go, the slot frees. Before, the server
/// waited on the full stdin channel while the program waited on its output:
/// no limit applied and the run never ended.
#[test]
fn a_client_flooding_stdin_and_reading_nothing_does_not_suspend_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let server = one_worker(dir.path());
    let mut c = connect(&server.addr, "/api/v1/run/ws");
    // Output in many small writes: far more chunks than any buffer on the way holds.
    let source =
        "import time\nfor i in range(1000000):\n    print(i, flush=True)\ntime.sleep(100)\n";
    let mut l = limits(2_000, 3_000);
    l["output_bytes"] = json!(16 << 20);
    send_json(
        &mut c,
        &json!({"language": "python", "source": source, "limits": l}),
    )
    .unwrap();
    box_running(&server, &mut c);
    let started = Instant::now();
    let sent = flood_stdin(&mut c);
    assert!(sent > 1 << 20, "the flood stopped early: {sent} bytes");
    let gone = boxes_gone(&server, Duration::from_secs(30));
    let slot = slot_is_free(&server, Duration::from_secs(30));
    eprintln!("flooded {sent} bytes; box gone {:?} after the start of the flood ({gone:?} after it stopped); slot free after {slot:?}", started.elapsed());
    drop(c);
}

/// (b) The client sends the submission and stops reading while the program
/// prints forever: CPU and wall limits hold, the processes go, the server's
/// memory stays bounded (the output waits in the program's pipe, not in the
/// server).
#[test]
fn a_client_that_stops_reading_does_not_suspend_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let server = one_worker(dir.path());
    let before = peak_rss_kb(&server);
    let mut clients = Vec::new();
    for source in [
        "while True: print('x' * 100, flush=True)\n",
        "import sys\nwhile True: sys.stdout.write('\\x1b[2J\\x00' * 100); sys.stdout.flush()\n",
    ] {
        let mut c = connect(&server.addr, "/api/v1/run/ws");
        let mut l = limits(2_000, 4_000);
        l["output_bytes"] = json!(16 << 20);
        send_json(
            &mut c,
            &json!({"language": "python", "source": source, "limits": l}),
        )
        .unwrap();
        box_running(&server, &mut c);
        let gone = boxes_gone(&server, Duration::from_secs(30));
        let slot = slot_is_free(&server, Duration::from_secs(30));
        eprintln!("run ended {gone:?} after it was seen running; slot free {slot:?} later");
        clients.push(c);
    }
    let after = peak_rss_kb(&server);
    eprintln!("server peak RSS {before} KiB before, {after} KiB after");
    assert!(
        after < before + 64 * 1024,
        "the server grew from {before} KiB to {after} KiB"
    );
}

/// (c) The client disconnects mid-run, also while its stdin waits for a
/// program that does not read it: the box is killed and the slot freed
/// within about a second. Before, a client whose input was waiting was not
/// noticed leaving and its run went on to its wall-clock limit.
#[test]
fn a_client_that_disconnects_stops_its_run_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = one_worker(dir.path());
    let source = "import time\nprint('started', flush=True)\ntime.sleep(100)\n";
    for flood in [false, true] {
        let mut c = connect(&server.addr, "/api/v1/run/ws");
        send_json(
            &mut c,
            &json!({"language": "python", "source": source, "limits": limits(20_000, 40_000)}),
        )
        .unwrap();
        box_running(&server, &mut c);
        if flood {
            flood_stdin(&mut c);
        }
        let _ = c.shutdown(Shutdown::Both);
        drop(c);
        let left = Instant::now();
        let gone = boxes_gone(&server, Duration::from_secs(5));
        let slot = slot_is_free(&server, Duration::from_secs(5));
        eprintln!("flood={flood}: box processes gone {gone:?} after the client left; slot free {slot:?} after that (both measured from {:?} ago)", left.elapsed());
    }
}
