//! Logs an operator can use, from the real binary: `--log-format json` gives
//! one JSON object per line, the access log has a line per request (id,
//! route, status, latency, key fingerprint, never the key), `RUST_LOG`
//! filters, no colour codes into a pipe, and a store error that waiting cannot
//! cure stops a node at once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Logged {
    child: std::process::Child,
    addr: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &std::path::Path, env: &[(&str, &str)], extra: &[&str]) -> Logged {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(extra)
        .env_remove("RUST_LOG")
        .env_remove("KILN_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start kiln");
    let stderr = child.stderr.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let keep = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("listening on http://").nth(1) {
                let addr: String = addr
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '"')
                    .collect();
                let _ = tx.send(addr);
            }
            keep.lock().unwrap().push(line);
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("kiln did not say where it listens");
    Logged { child, addr, lines }
}

/// One GET with extra header lines; the status and the response head.
fn get(addr: &str, path: &str, headers: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let code = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, raw)
}

fn wait_for_line(l: &Logged, what: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        if let Some(found) = l.lines.lock().unwrap().iter().find(|x| what(x)) {
            return found.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no such log line: {:?}",
            l.lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn json_access_log_names_the_request_and_the_key_fingerprint_never_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(
        dir.path(),
        &[],
        &[
            "--log-format",
            "json",
            "--api-keys",
            "sekrit-key-123",
            "--workers",
            "1",
        ],
    );
    let (code, head) = get(
        &s.addr,
        "/api/v1/languages",
        "Authorization: Bearer sekrit-key-123\r\nX-Request-Id: trace-42\r\n",
    );
    assert_eq!(code, 200);
    assert!(
        head.to_ascii_lowercase().contains("x-request-id: trace-42"),
        "{head}"
    );
    let (code, head) = get(
        &s.addr,
        "/api/v1/submissions/nope",
        "X-Request-Id: bad id\nInjected: 1\r\n",
    );
    assert_eq!(code, 401);
    assert!(!head.contains("bad id"));
    let line = wait_for_line(&s, |l| l.contains("trace-42"));
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"));
    assert_eq!(v["target"], "kiln::access", "{v}");
    assert_eq!(v["route"], "/api/v1/languages");
    assert_eq!(v["status"], 200);
    assert_eq!(v["method"], "GET");
    assert!(v["latency_ms"].as_f64().is_some(), "{v}");
    assert!(v["key"].as_str().unwrap().starts_with("key-"), "{v}");
    let refused = wait_for_line(&s, |l| l.contains("\"status\":401"));
    let v: Value = serde_json::from_str(&refused).unwrap();
    assert_eq!(v["key"], "-");
    let all = s.lines.lock().unwrap().join("\n");
    assert!(!all.contains("sekrit-key-123"), "the key reached the log");
    assert!(!all.contains('\u{1b}'), "colour codes written into a pipe");
    for l in s
        .lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with('{'))
    {
        serde_json::from_str::<Value>(l)
            .unwrap_or_else(|e| panic!("not one JSON object: {l}: {e}"));
    }
}

#[test]
fn rust_log_filters_the_lines() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), &[("RUST_LOG", "warn")], &["--workers", "1"]);
    get(&s.addr, "/health", "");
    get(&s.addr, "/api/v1/languages", "X-Request-Id: quiet-1\r\n");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !s.lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("quiet-1")),
        "RUST_LOG=warn must silence the access log"
    );
    drop(s);
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), &[], &["--workers", "1"]);
    get(&s.addr, "/api/v1/languages", "X-Request-Id: loud-1\r\n");
    let line = wait_for_line(&s, |l| l.contains("loud-1"));
    assert!(
        line.contains("kiln::access") && line.contains("status=200"),
        "{line}"
    );
}

#[test]
fn a_worker_whose_database_does_not_exist_stops_at_once_saying_so() {
    let pg = kiln_testsupport::PgServer::start();
    let url = pg.url();
    let (base, _) = url.rsplit_once('/').unwrap();
    let missing = format!("{base}/no_such_database");
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args([
            "worker",
            "--metrics-listen",
            "127.0.0.1:0",
            "--queue",
            "redis://127.0.0.1:1/0",
            "--store",
            &missing,
            "--workers",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_with_deadline(out, Duration::from_secs(30));
    assert!(start.elapsed() < Duration::from_secs(30));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no_such_database") && err.contains("--store"),
        "{err}"
    );
}

fn wait_with_deadline(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn listening_beyond_loopback_without_keys_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args([
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--workers",
            "1",
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        let done = line.contains("listening on http://");
        seen.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let all = seen.join("\n");
    assert!(
        all.contains("no API keys") && all.contains("--api-keys"),
        "{all}"
    );
}
