//! Workspace file transfers through the real `kiln serve` binary: slow
//! clients cannot make the server hold files in memory, and transfers are
//! capped per workspace.

#[path = "serve_common.rs"]
mod common;
#[path = "helpers/workspace.rs"]
mod helpers;
#[path = "helpers/raw.rs"]
mod raw;

use std::time::{Duration, Instant};

use common::Server;
use helpers::{create, get, put, sh, start, wait_status};
use raw::rss_kb;

/// Opens a download and reads only its head and first bytes, then leaves the
/// connection open without reading: a slow client.
fn stalled_download(s: &Server, id: &str, path: &str) -> (u16, std::net::TcpStream) {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        c,
        "GET /api/v1/workspaces/{id}/files?path={path} HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    let mut head = vec![0u8; 16 * 1024];
    let n = c.read(&mut head).unwrap();
    let text = String::from_utf8_lossy(&head[..n]);
    let code = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, c)
}

#[test]
fn slow_file_transfers_keep_the_server_small_and_are_capped_per_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), 111_000, "", &[]);
    let id = create(&s, "big-files");
    wait_status(&s, &id, "running");
    // A 60 MiB sparse file: cheap for the box, 60 MiB for a server that
    // would read it whole.
    sh(&s, &id, "truncate -s 60M /home/kiln/big && echo ok");
    let before = rss_kb(&s);
    let mut slow = Vec::new();
    for _ in 0..4 {
        let (code, c) = stalled_download(&s, &id, "/home/kiln/big");
        assert_eq!(code, 200);
        slow.push(c);
    }
    // A fifth transfer at once on this workspace is refused, not queued in memory.
    let (code, body) = get(&s, &id, "/home/kiln/big");
    assert_eq!(code, 429, "{}", String::from_utf8_lossy(&body));
    let (code, _) = put(&s, &id, "/home/kiln/x", b"x");
    assert_eq!(code, 429);
    let mut peak = 0;
    for _ in 0..20 {
        peak = peak.max(rss_kb(&s));
        std::thread::sleep(Duration::from_millis(100));
    }
    let grew_mb = peak.saturating_sub(before) / 1024;
    eprintln!("server RSS {before} KiB before, {peak} KiB peak with 4 stalled 60 MiB downloads");
    assert!(
        grew_mb < 24,
        "4 stalled downloads grew the server by {grew_mb} MiB (before {before} KiB, peak {peak} KiB)"
    );
    drop(slow);
    // Slots come back when clients leave; a whole download is the whole file.
    let start_wait = Instant::now();
    let data = loop {
        let (code, data) = get(&s, &id, "/home/kiln/big");
        if code == 200 {
            break data;
        }
        assert_eq!(code, 429);
        assert!(
            start_wait.elapsed() < Duration::from_secs(20),
            "slots never freed"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(data.len(), 60 << 20);
    assert!(data.iter().all(|&b| b == 0));
    // A streamed upload lands whole.
    let blob: Vec<u8> = (0..(5u32 << 20)).map(|i| (i % 251) as u8).collect();
    let (code, body) = put(&s, &id, "/home/kiln/up.bin", &blob);
    assert_eq!(code, 204, "{}", String::from_utf8_lossy(&body));
    let (code, back) = get(&s, &id, "/home/kiln/up.bin");
    assert_eq!((code, back == blob), (200, true));
    let v = sh(&s, &id, "stat -c %s /home/kiln/up.bin");
    assert_eq!(
        v["stdout"].as_str().unwrap().trim(),
        (5u32 << 20).to_string()
    );
}
