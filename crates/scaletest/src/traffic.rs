//! `workspace-traffic`: Coder's `workspacetraffic` through the terminal
//! WebSocket. For each running scaletest workspace: open the PTY running the
//! sink `dd of=/dev/null bs=N status=none` (Coder's command, reading fd 0;
//! `echo: true` writes to the terminal instead), write `bytes_per_tick` random
//! printable bytes (the last a newline) every `tick_interval` as input frames
//! `{"data": …}`, and drain the output until `duration` is over.
//!
//! Measured per workspace: bytes written and read, write and read errors,
//! write latency (time to hand one tick's frame to the socket, like Coder's
//! per-`Write` latency) and read latency, echo-based: the time from writing a
//! tick until the output has caught up with every byte written so far. The
//! terminal echoes its input even when the sink discards it, so this is the
//! input round trip; a target that echoes nothing has no read latencies.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use kiln_measure::Percentiles;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::config::WorkspaceTraffic;
use crate::harness::{
    histogram, record, run_jobs, Limits, Logs, Results, RunInfo, RunResult, Stop,
};
use crate::platform::{ws_request, Platform, WorkspaceRef, NAME_PREFIX};

/// Coder's allowed characters: printable ASCII without most control characters.
const ALLOWED: &[u8] = b"\t !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}";

/// How many ticks `duration` holds at `tick_interval` (the first at 0).
pub fn expected_ticks(cfg: &WorkspaceTraffic) -> u64 {
    (cfg.duration.0.as_nanos() / cfg.tick_interval.0.as_nanos().max(1)) as u64
}

/// Keeps the last 256 bytes of terminal output (for the log when it closes).
fn keep_tail(tail: &mut VecDeque<u8>, b: &[u8]) {
    tail.extend(b);
    while tail.len() > 256 {
        tail.pop_front();
    }
}

/// `size` random allowed characters, the last one `\n`.
pub fn random_tick(rng: &mut impl Rng, size: usize) -> String {
    let mut s: String = (0..size.saturating_sub(1))
        .map(|_| ALLOWED[rng.gen_range(0..ALLOWED.len())] as char)
        .collect();
    s.push('\n');
    s
}

/// The sink command run in the terminal: Coder's `dd` sink, reading the
/// terminal from fd 0 instead of re-opening `/dev/stdin` (re-opening the
/// terminal device needs permission on it, which a sandboxed user may lack);
/// with `echo`, `dd` writes to fd 1 (the terminal) instead of `/dev/null`.
pub fn sink_command(bytes_per_tick: usize, echo: bool) -> String {
    let out = if echo { "" } else { " of=/dev/null" };
    format!("dd{out} bs={bytes_per_tick} status=none")
}

/// Write and read latencies of every workspace together.
#[derive(Debug)]
pub struct Overall {
    pub write: Mutex<Histogram<u64>>,
    pub read: Mutex<Histogram<u64>>,
}

impl Default for Overall {
    fn default() -> Self {
        Overall {
            write: Mutex::new(histogram()),
            read: Mutex::new(histogram()),
        }
    }
}

impl Overall {
    fn add(&self, w: &Histogram<u64>, r: &Histogram<u64>) {
        let _ = self.write.lock().unwrap_or_else(|e| e.into_inner()).add(w);
        let _ = self.read.lock().unwrap_or_else(|e| e.into_inner()).add(r);
    }
    fn percentiles(&self) -> (Percentiles, Percentiles) {
        (
            Percentiles::of_us(&self.write.lock().unwrap_or_else(|e| e.into_inner())),
            Percentiles::of_us(&self.read.lock().unwrap_or_else(|e| e.into_inner())),
        )
    }
}

/// Traffic through one workspace's terminal; returns its metrics and adds
/// its latencies to `overall`.
pub async fn one(
    platform: &dyn Platform,
    ws: &WorkspaceRef,
    cfg: &WorkspaceTraffic,
    seed: u64,
    logs: &Logs,
    overall: &Overall,
) -> Result<serde_json::Value, String> {
    let reconnect = uuid::Uuid::new_v4().to_string();
    let url = platform
        .pty_url(ws, &reconnect, &sink_command(cfg.bytes_per_tick, cfg.echo))
        .await
        .map_err(|e| format!("PTY URL: {e}"))?;
    logs.log(format!("connect {url}"));
    let rq = ws_request(platform.http(), &url).map_err(|e| e.to_string())?;
    let (socket, _) = tokio_tungstenite::connect_async(rq)
        .await
        .map_err(|e| format!("connect PTY WebSocket {url}: {e}"))?;
    let (mut tx, rx) = socket.split();
    let pending: Arc<Mutex<VecDeque<(u64, Instant)>>> = Arc::default();
    // Once we close, a reset instead of a closing handshake is not an error
    // (Coder's drain ignores errors after close, too).
    let closing = Arc::new(AtomicBool::new(false));
    let (p2, echo_logs, closing2) = (pending.clone(), logs.clone(), closing.clone());
    let reader = tokio::spawn(read_echoes(rx, p2, echo_logs, closing2));
    let w = write_ticks(&mut tx, cfg, seed, &pending, logs).await;
    let (written, write_errors, wlat, ticks) = (w.written, w.errors, w.latency, w.ticks);
    let write_error = w.error;
    closing.store(true, Ordering::SeqCst);
    let _ = tx.send(Message::Close(None)).await;
    let (read, read_errors, rlat) = match tokio::time::timeout(Duration::from_secs(5), reader).await
    {
        Ok(Ok(x)) => x,
        _ => {
            logs.log("reader did not finish within 5 s of closing");
            (0, 1, histogram())
        }
    };
    overall.add(&wlat, &rlat);
    logs.log(format!("{ticks} ticks, {written} bytes written, {read} bytes read, {write_errors} write / {read_errors} read errors"));
    let m = json!({
        "ticks": ticks,
        // Ticks the schedule asked for; fewer means the generator (or the
        // socket) could not keep up, and the offered load was lower.
        "expected_ticks": expected_ticks(cfg),
        "bytes_written": written,
        "bytes_read": read,
        "write_errors": write_errors,
        "read_errors": read_errors,
        "write_latency": Percentiles::of_us(&wlat),
        "read_latency": Percentiles::of_us(&rlat),
    });
    match write_error {
        Some(e) => Err(e),
        None => Ok(m),
    }
}

/// Drains the terminal's output, counting bytes and errors; each time it has
/// caught up with a tick in `pending`, records that tick's read latency.
async fn read_echoes<S>(
    mut rx: S,
    pending: Arc<Mutex<VecDeque<(u64, Instant)>>>,
    logs: Logs,
    closing: Arc<AtomicBool>,
) -> (u64, u64, Histogram<u64>)
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let (mut read, mut errors, mut lat) = (0u64, 0u64, histogram());
    let mut tail: VecDeque<u8> = VecDeque::new();
    while let Some(m) = rx.next().await {
        let n = match m {
            Ok(Message::Binary(b)) => {
                keep_tail(&mut tail, &b);
                b.len()
            }
            Ok(Message::Text(t)) => {
                keep_tail(&mut tail, t.as_bytes());
                t.len()
            }
            Ok(Message::Close(f)) => {
                let reason = f
                    .map(|f| format!("{} {}", f.code, f.reason))
                    .unwrap_or_default();
                logs.log(format!(
                    "terminal closed ({reason}); last output: {:?}",
                    String::from_utf8_lossy(tail.make_contiguous())
                ));
                break;
            }
            Ok(_) => 0,
            Err(_) if closing.load(Ordering::SeqCst) => break,
            Err(e) => {
                errors += 1;
                logs.log(format!("read: {e}"));
                break;
            }
        } as u64;
        read += n;
        let now = Instant::now();
        let mut q = pending.lock().unwrap_or_else(|e| e.into_inner());
        while q.front().is_some_and(|(upto, _)| *upto <= read) {
            let (_, at) = q.pop_front().expect("front exists");
            record(&mut lat, now - at);
        }
    }
    (read, errors, lat)
}

/// What the writer of one workspace's traffic did.
struct Writes {
    written: u64,
    errors: u64,
    latency: Histogram<u64>,
    ticks: u64,
    /// The write error that ended it early.
    error: Option<String>,
}

/// Writes a tick of random input every `tick_interval` until `duration` is
/// over (or a write fails), noting each in `pending` for the reader.
async fn write_ticks<S>(
    tx: &mut S,
    cfg: &WorkspaceTraffic,
    seed: u64,
    pending: &Mutex<VecDeque<(u64, Instant)>>,
    logs: &Logs,
) -> Writes
where
    S: futures_util::Sink<Message> + Unpin,
    S::Error: std::fmt::Display,
{
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let (mut written, mut write_errors, mut wlat, mut ticks) = (0u64, 0u64, histogram(), 0u64);
    let mut tick = tokio::time::interval(cfg.tick_interval.0);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let end = tokio::time::Instant::now() + cfg.duration.0;
    let mut write_error = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(end) => break,
            _ = tick.tick() => {}
        }
        let data = random_tick(&mut rng, cfg.bytes_per_tick);
        let frame = Message::Binary(
            serde_json::to_vec(&json!({ "data": data }))
                .expect("json")
                .into(),
        );
        let t0 = Instant::now();
        let r = tx.send(frame).await;
        record(&mut wlat, t0.elapsed());
        match r {
            Ok(()) => {
                written += data.len() as u64;
                ticks += 1;
                pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_back((written, t0));
            }
            Err(e) => {
                write_errors += 1;
                logs.log(format!("write: {e}"));
                write_error = Some(format!("write to PTY: {e}"));
                break;
            }
        }
    }
    Writes {
        written,
        errors: write_errors,
        latency: wlat,
        ticks,
        error: write_error,
    }
}

/// The sums over every workspace, with the overall latencies.
fn totals(runs: &[RunResult], overall: &Overall) -> serde_json::Value {
    let (write_latency, read_latency) = overall.percentiles();
    let sum = |k: &str| {
        runs.iter()
            .filter_map(|r| r.metrics.as_ref())
            .map(|m| m[k].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    json!({
        "ticks": sum("ticks"),
        "expected_ticks": sum("expected_ticks"),
        "bytes_written": sum("bytes_written"),
        "bytes_read": sum("bytes_read"),
        "write_errors": sum("write_errors"),
        "read_errors": sum("read_errors"),
        "write_latency": write_latency,
        "read_latency": read_latency,
    })
}

/// Runs the traffic test on every running scaletest workspace.
pub async fn run(
    platform: Arc<dyn Platform>,
    cfg: &WorkspaceTraffic,
    info: &RunInfo,
    stop: Stop,
    verbose: bool,
) -> Result<Results, crate::error::PlatformError> {
    let started_at = kiln_measure::time::rfc3339(SystemTime::now());
    let targets = Arc::new(platform.list(NAME_PREFIX, true).await?);
    let ids: Vec<String> = targets.iter().map(|w| w.name.clone()).collect();
    let limits = Limits {
        concurrency: cfg.concurrency,
        job_timeout: cfg.duration.0 + Duration::from_secs(60),
        run_timeout: (cfg.duration.0 + Duration::from_secs(60))
            .saturating_mul(1 + ids.len() as u32),
    };
    let (cfg2, overall) = (cfg.clone(), Arc::new(Overall::default()));
    let all = overall.clone();
    let (runs, elapsed) = run_jobs(
        "workspacetraffic",
        ids,
        limits,
        stop.clone(),
        verbose,
        move |i, _, logs| {
            let (platform, targets, cfg, all) =
                (platform.clone(), targets.clone(), cfg2.clone(), all.clone());
            async move {
                one(
                    platform.as_ref(),
                    &targets[i],
                    &cfg,
                    i as u64 + 1,
                    &logs,
                    &all,
                )
                .await
                .map(Some)
            }
        },
    )
    .await;
    let totals = totals(&runs, &overall);
    let interrupted = *stop.borrow();
    let mut r = Results::build(
        crate::manifest::WORKSPACE_TRAFFIC,
        info,
        started_at,
        runs,
        elapsed,
        interrupted,
    );
    r.extra
        .insert("bytes_per_tick".into(), json!(cfg.bytes_per_tick));
    r.extra.insert(
        "tick_interval".into(),
        json!(crate::config::fmt_dur(cfg.tick_interval.0)),
    );
    r.extra.insert(
        "duration_per_workspace".into(),
        json!(crate::config::fmt_dur(cfg.duration.0)),
    );
    r.extra.insert(
        "sink_command".into(),
        json!(sink_command(cfg.bytes_per_tick, cfg.echo)),
    );
    r.extra.insert("totals".into(), totals);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_printable_and_sized() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let t = random_tick(&mut rng, 1024);
        assert_eq!(t.len(), 1024);
        assert!(t.ends_with('\n'));
        assert!(t[..1023].bytes().all(|b| ALLOWED.contains(&b)));
        assert_eq!(
            sink_command(1024, false),
            "dd of=/dev/null bs=1024 status=none"
        );
        assert_eq!(sink_command(10, true), "dd bs=10 status=none");
        assert_eq!(expected_ticks(&WorkspaceTraffic::default()), 6000);
    }
}
