//! Helpers of the `kiln serve` end-to-end tests (included by the serve_*.rs
//! tests with `#[path]`): start the real binary, talk HTTP/1.1 to it with
//! std sockets (the cli crate has no HTTP client), wait for results.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Server {
    pub child: Child,
    pub addr: String,
    /// Its `--data-dir`: workspace homes mounted below it are unmounted on drop.
    pub data_dir: Option<std::path::PathBuf>,
}

impl Server {
    /// Starts `kiln serve` on a free port with `data_dir`, plus `extra` flags,
    /// and waits for the line that gives its address.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir"];
        args.push(data_dir.to_str().unwrap());
        args.extend_from_slice(extra);
        Server::spawn(&args)
    }

    /// Starts `kiln ARGS…` (a `serve` or a `worker`) and waits for the line that
    /// gives its address.
    pub fn spawn(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start kiln");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let what = format!("kiln {}", args[0]);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                }
                eprintln!("[{what}] {line}");
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("kiln did not say where it listens");
        let data_dir = args
            .iter()
            .position(|a| *a == "--data-dir")
            .and_then(|i| args.get(i + 1))
            .map(std::path::PathBuf::from);
        Server {
            child,
            addr,
            data_dir,
        }
    }

    pub fn request(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        request(&self.addr, method, path, body)
    }

    pub fn submit(&self, body: &Value) -> String {
        let (code, v) = self.request("POST", "/api/v1/submissions", Some(body));
        assert_eq!(code, 202, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    /// Polls until the submission is final.
    pub fn result(&self, id: &str, timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            let (code, v) = self.request("GET", &format!("/api/v1/submissions/{id}"), None);
            assert_eq!(code, 200, "{v}");
            if !matches!(v["status"].as_str(), Some("queued" | "running")) {
                return v;
            }
            assert!(
                start.elapsed() < timeout,
                "{id} not finished after {timeout:?}: {v}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(d) = &self.data_dir {
            unmount_below(d);
        }
    }
}

/// Detaches every mount below `dir` (workspace homes a killed server left).
pub fn unmount_below(dir: &Path) {
    let Ok(dir) = dir.canonicalize() else { return };
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for point in mounts.lines().filter_map(|l| l.split_whitespace().nth(4)) {
        if Path::new(point).starts_with(&dir) {
            let _ = Command::new("umount").args(["-l", point]).status();
        }
    }
}

/// One HTTP/1.1 exchange with `Connection: close`; the body parsed as JSON
/// (or a JSON string when it is not JSON).
pub fn request(addr: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let (code, raw) = request_raw(addr, method, path, body.as_bytes());
    let body = String::from_utf8_lossy(&raw).into_owned();
    (
        code,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

/// One HTTP/1.1 exchange with a raw body; the status and the raw answer body.
pub fn request_raw(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP response");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let rest = &raw[split + 4..];
    let code: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    (code, body)
}

fn dechunk(mut s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = s.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&s[..i]).trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&s[i + 2..i + 2 + n]);
        s = &s[i + 2 + n + 2..];
    }
    out
}

/// A minimal WebSocket client (RFC 6455 text frames) for the interactive run.
pub struct WebSocket {
    stream: TcpStream,
}

impl WebSocket {
    pub fn connect(addr: &str, path: &str) -> WebSocket {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "no upgrade: {head}");
        WebSocket { stream }
    }

    /// Sends one masked text frame.
    pub fn send(&mut self, v: &Value) {
        self.send_frame(0x1, &v.to_string().into_bytes());
    }

    /// Sends one masked frame with `opcode` (0x1 text, 0x2 binary).
    pub fn send_frame(&mut self, opcode: u8, payload: &[u8]) {
        let mut frame = vec![0x80u8 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).unwrap();
    }

    /// The next text message as JSON; `None` when the server closes.
    pub fn recv(&mut self) -> Option<Value> {
        loop {
            if let (0x1, payload) = self.recv_frame()? {
                return Some(serde_json::from_slice(&payload).unwrap());
            }
        }
    }

    /// The next data frame (opcode, payload); `None` when the server closes.
    pub fn recv_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            let mut h = [0u8; 2];
            self.stream.read_exact(&mut h).ok()?;
            let len = match h[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.stream.read_exact(&mut b).unwrap();
                    u16::from_be_bytes(b) as usize
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.stream.read_exact(&mut b).unwrap();
                    u64::from_be_bytes(b) as usize
                }
                n => n as usize,
            };
            let mut payload = vec![0u8; len];
            self.stream.read_exact(&mut payload).unwrap();
            match h[0] & 0x0f {
                0x8 => return None,
                op @ (0x1 | 0x2) => return Some((op, payload)),
                _ => {}
            }
        }
    }
}
