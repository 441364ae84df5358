//! `kiln bench hostile`: the worst cases of issue 11's items 3 to 5 at once
//! against a real `kiln serve` (this binary, started as a child), and what
//! they cost the server.
//!
//! At the same time:
//! - `--submissions` queued submissions, each with `--tests` tests that
//!   write control bytes and invalid UTF-8 (six JSON bytes per output byte
//!   in the text form) up to the whole `--output-bytes` budget; every other
//!   submission's first test writes past the budget (the rest not run);
//! - interactive WebSocket clients that flood stdin and never read,
//!   clients that stop reading while their program prints forever, and
//!   clients that disconnect mid-run (`--interactive` of each kind);
//! - a poller that GETs every submission (text form) until it is final.
//!
//! Reported: the server's peak RSS (VmHWM of /proc/<pid>/status, sampled
//! every 50 ms, and its value at the end), its RSS at the start, how many
//! submissions ended (none may stay queued/running), how long the hostile
//! interactive runs held a slot, and that no box process is left.

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

pub struct Options {
    pub workers: usize,
    pub submissions: usize,
    pub tests: usize,
    pub output_bytes: u64,
    pub interactive: usize,
    pub timeout: Duration,
    pub json: Option<std::path::PathBuf>,
}

fn status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Processes under `root` running as a non-root uid (box programs).
fn box_processes(root: u32) -> usize {
    let mut parent = std::collections::HashMap::new();
    let mut nonroot = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
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
        if let (Some(pp), Some(uid)) = (field("PPid:"), field("Uid:")) {
            parent.insert(pid, pp);
            if uid != 0 {
                nonroot.push(pid);
            }
        }
    }
    nonroot
        .into_iter()
        .filter(|p| {
            let mut p = *p;
            for _ in 0..64 {
                match parent.get(&p) {
                    Some(&pp) if pp == root => return true,
                    Some(&pp) if pp > 1 => p = pp,
                    _ => return false,
                }
            }
            false
        })
        .count()
}

/// The program of the queued submissions: each test writes `n` bytes of
/// NUL, ESC and 0xFF (as stdin says), half to stdout and half to stderr.
const WRITER: &str = "import sys\nn = int(input())\nchunk = bytes([0, 27, 255]) * 21845\nfor out in (sys.stdout.buffer, sys.stderr.buffer):\n    left = n // 2\n    while left > 0:\n        k = min(left, len(chunk))\n        out.write(chunk[:k])\n        left -= k\n    out.flush()\n";

pub async fn run(o: Options) -> anyhow::Result<i32> {
    if o.tests == 0 || o.submissions == 0 {
        bail!("use at least one submission and one test");
    }
    let dir = tempfile::tempdir()?;
    let exe = std::env::current_exe().context("this binary's path")?;
    let max = json!({"output_bytes": o.output_bytes.max(16 << 20)});
    let mut child = tokio::process::Command::new(&exe)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args([
            "--workers",
            &o.workers.to_string(),
            "--max-tests",
            &o.tests.max(64).to_string(),
            "--max-limits",
            &max.to_string(),
            "--rate-limit-per-sec",
            "0",
            "--queue-capacity",
            "10000",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("start kiln serve")?;
    let pid = child.id().context("the server's pid")?;
    let stderr = child.stderr.take().context("the server's stderr")?;
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let mut addr_tx = Some(addr_tx);
        while let Ok(Some(line)) = lines.next_line().await {
            match line.split("listening on http://").nth(1) {
                Some(a) => {
                    if let Some(tx) = addr_tx.take() {
                        let _ = tx.send(a.trim().to_string());
                    }
                }
                None => eprintln!("[kiln serve] {line}"),
            }
        }
    });
    let addr = tokio::time::timeout(Duration::from_secs(60), addr_rx)
        .await
        .context("kiln serve did not say where it listens")?
        .context("kiln serve exited")?;
    let base = format!("http://{addr}");
    let start_rss = status_kb(pid, "VmRSS:");

    // Peak RSS, sampled (VmHWM is the kernel's own high-water mark).
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(status_kb(pid, "VmRSS:"), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let started = Instant::now();

    // Queued submissions.
    let per_test = o.output_bytes / o.tests as u64;
    let mut ids = Vec::new();
    for i in 0..o.submissions {
        let tests: Vec<Value> = (0..o.tests)
            .map(|t| {
                // Every other submission: the first test alone goes past the budget.
                let n = if i % 2 == 1 && t == 0 {
                    o.output_bytes * 2
                } else {
                    per_test
                };
                json!({"stdin": n.to_string()})
            })
            .collect();
        let body = json!({"language": "python", "source": WRITER, "tests": tests, "limits": {"output_bytes": o.output_bytes, "cpu_time_ms": 5000, "wall_time_ms": 20000}});
        let r = http
            .post(format!("{base}/api/v1/submissions"))
            .json(&body)
            .send()
            .await?;
        let v: Value = r.json().await?;
        ids.push(
            v["id"]
                .as_str()
                .with_context(|| format!("no id in {v}"))?
                .to_string(),
        );
    }

    // Hostile interactive clients, all at once.
    let mut hostile = Vec::new();
    for kind in ["flood", "stall", "disconnect"] {
        for _ in 0..o.interactive {
            hostile.push(tokio::spawn(hostile_client(addr.clone(), kind)));
        }
    }

    // Poll every submission until it is final (text form: the biggest answers).
    let mut finished = 0usize;
    let mut stuck = Vec::new();
    let mut largest = 0usize;
    for id in &ids {
        loop {
            let body = http
                .get(format!("{base}/api/v1/submissions/{id}"))
                .send()
                .await?
                .bytes()
                .await?;
            let v: Value = serde_json::from_slice(&body)?;
            if !matches!(v["status"].as_str(), Some("queued" | "running")) {
                largest = largest.max(body.len());
                finished += 1;
                break;
            }
            if started.elapsed() > o.timeout {
                stuck.push(format!("{id}: {}", v["status"]));
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let mut held = Vec::new();
    for h in hostile {
        match h.await {
            Ok(Ok(d)) => held.push(d),
            Ok(Err(e)) => eprintln!("a hostile client failed: {e:#}"),
            Err(e) => eprintln!("a hostile client panicked: {e}"),
        }
    }
    // Every box gone, every interactive slot free: a normal run gets in.
    let settle = Instant::now();
    while box_processes(pid) > 0 && settle.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let boxes_left = box_processes(pid);
    let slot_ok = polite_run(&addr, Duration::from_secs(30)).await.is_ok();
    let elapsed = started.elapsed();
    sampler.abort();
    let hwm = status_kb(pid, "VmHWM:");
    let sampled = peak.load(Ordering::Relaxed);
    let _ = child.kill().await;

    held.sort();
    let max_held = held.last().copied().unwrap_or_default();
    let hostile_total = 3 * o.interactive;
    println!("kiln bench hostile ({} build): {} workers, {} submissions x {} tests, output budget {} bytes; {} interactive clients of each kind (flood stdin, stop reading, disconnect)", if cfg!(debug_assertions) { "debug" } else { "release" }, o.workers, o.submissions, o.tests, o.output_bytes, o.interactive);
    println!(
        "  submissions ended: {finished}/{} (stuck: {})",
        ids.len(),
        if stuck.is_empty() {
            "none".to_string()
        } else {
            stuck.join(", ")
        }
    );
    println!(
        "  largest result (text JSON): {largest} bytes ({:.1} x the budget)",
        largest as f64 / o.output_bytes as f64
    );
    println!("  hostile interactive clients done: {}/{hostile_total} (the longest, waiting for a slot included, {max_held:?}); box processes left: {boxes_left}; a new interactive run got a slot: {slot_ok}", held.len());
    println!("  server RSS: {start_rss} KiB at start, peak {hwm} KiB (VmHWM; sampled peak {sampled} KiB), in {:.1} s", elapsed.as_secs_f64());
    let report = json!({
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "workers": o.workers, "submissions": o.submissions, "tests": o.tests, "output_bytes": o.output_bytes, "interactive_per_kind": o.interactive,
        "finished": finished, "stuck": stuck, "largest_result_bytes": largest,
        "hostile_clients_done": held.len(), "longest_hostile_client_ms": max_held.as_millis() as u64, "box_processes_left": boxes_left, "slot_free_after": slot_ok,
        "rss_start_kb": start_rss, "rss_peak_kb": hwm, "rss_sampled_peak_kb": sampled, "seconds": elapsed.as_secs_f64(),
    });
    if let Some(path) = &o.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(
        if stuck.is_empty()
            && finished == ids.len()
            && boxes_left == 0
            && slot_ok
            && held.len() == hostile_total
        {
            0
        } else {
            1
        },
    )
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens an interactive run, retrying while every slot is busy; returns the
/// socket once the run has started (its first message is not `busy`).
async fn open_run(
    addr: &str,
    program: &str,
    cpu_ms: u64,
    wall_ms: u64,
    deadline: Instant,
) -> anyhow::Result<(Ws, Option<Message>)> {
    loop {
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/run/ws")).await?;
        let sub = json!({"language": "python", "source": program, "limits": {"cpu_time_ms": cpu_ms, "wall_time_ms": wall_ms, "output_bytes": 16 << 20}});
        ws.send(Message::Text(sub.to_string().into())).await?;
        // A busy answer comes at once; a started run says nothing this fast or prints.
        match tokio::time::timeout(Duration::from_millis(300), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.contains("\"busy\"") => {
                if Instant::now() > deadline {
                    bail!("no interactive slot before the deadline");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(Some(Ok(m))) => return Ok((ws, Some(m))),
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(None) => bail!("closed at once"),
            Err(_) => return Ok((ws, None)),
        }
    }
}

/// One hostile client; returns how long it took, its wait for a slot included.
async fn hostile_client(addr: String, kind: &'static str) -> anyhow::Result<Duration> {
    let deadline = Instant::now() + Duration::from_secs(600);
    let printer = "import sys\nwhile True:\n    sys.stdout.buffer.write(bytes([0, 27, 255]) * 100)\n    sys.stdout.flush()\n";
    let sleeper = "import time\nprint('started', flush=True)\ntime.sleep(100)\n";
    let t0 = Instant::now();
    match kind {
        "flood" => {
            let (mut ws, _) = open_run(&addr, printer, 2_000, 4_000, deadline).await?;
            let msg = json!({"stdin": "x".repeat(60_000)}).to_string();
            // Flood until the server stops taking input, never reading.
            while let Ok(Ok(())) = tokio::time::timeout(
                Duration::from_secs(1),
                ws.send(Message::Text(msg.clone().into())),
            )
            .await
            {}
            // Keep the socket open (and unread) past the run's limits.
            tokio::time::sleep(Duration::from_secs(6)).await;
            drop(ws);
        }
        "stall" => {
            let (ws, _) = open_run(&addr, printer, 2_000, 4_000, deadline).await?;
            tokio::time::sleep(Duration::from_secs(6)).await;
            drop(ws);
        }
        _ => {
            let (ws, _) = open_run(&addr, sleeper, 20_000, 40_000, deadline).await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
            drop(ws);
        }
    }
    Ok(t0.elapsed())
}

/// A well-behaved interactive run, retrying while slots are busy.
async fn polite_run(addr: &str, within: Duration) -> anyhow::Result<()> {
    let (mut ws, first) =
        open_run(addr, "print('ok')", 2_000, 4_000, Instant::now() + within).await?;
    ws.send(Message::Text(json!({"eof": true}).to_string().into()))
        .await?;
    let mut msgs: Vec<Message> = first.into_iter().collect();
    while let Ok(Some(Ok(m))) = tokio::time::timeout(within, ws.next()).await {
        msgs.push(m);
    }
    if msgs.iter().any(
        |m| matches!(m, Message::Text(t) if t.contains("\"result\"") && t.contains("\"accepted\"")),
    ) {
        Ok(())
    } else {
        bail!("no accepted result: {msgs:?}")
    }
}
