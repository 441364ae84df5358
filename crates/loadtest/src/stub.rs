//! A loopback stand-in for Kiln's submission API, for the honesty tests and
//! the generator benchmark: it answers after a fixed delay, stalls every N
//! requests, gives a wrong verdict or a 503 every N requests, and exposes
//! `/health` and `/metrics`. It never runs code: an accepted submission's
//! stdout is its `expected_output`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// How the stub behaves.
#[derive(Debug, Clone, Default)]
pub struct StubConfig {
    /// Every submission takes this long.
    pub delay: Duration,
    /// Every `stall_every`-th submission (1-based; 0 = never) freezes the whole
    /// server for `stall_for` (like a GC pause): no submission is answered
    /// before the freeze ends.
    pub stall_every: u64,
    pub stall_for: Duration,
    /// Every `wrong_every`-th submission gets `wrong_answer`.
    pub wrong_every: u64,
    /// Every `reject_every`-th submission gets 503 + Retry-After.
    pub reject_every: u64,
    /// Value of the `code_execution_workers` gauge.
    pub workers: u64,
}

#[derive(Debug, Default)]
struct State {
    cfg: StubConfig,
    seq: AtomicU64,
    in_flight: AtomicU64,
    pending: Mutex<HashMap<String, (Instant, Value)>>,
    frozen_until: Mutex<Option<Instant>>,
}

/// Binds `addr` and serves until the task is dropped/aborted.
pub async fn spawn(
    cfg: StubConfig,
    addr: &str,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let state = Arc::new(State {
        cfg,
        ..Default::default()
    });
    let handle = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let state = state.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(state.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok((local, handle))
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", "application/json".parse().expect("header"));
    r
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let wait = req.uri().query().is_some_and(|q| q.contains("wait=true"));
    Ok(match (req.method().clone(), path.as_str()) {
        (Method::GET, "/health") => reply(StatusCode::OK, json!({"status": "ok"})),
        (Method::GET, "/metrics") => metrics(&state),
        (Method::POST, "/api/v1/submissions") => submit(&state, req, wait).await,
        (Method::GET, p) if p.starts_with("/api/v1/submissions/") => {
            poll(&state, &p["/api/v1/submissions/".len()..])
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "not_found", "message": "no such route"}}),
        ),
    })
}

/// The queue gauges of `/metrics`: what is in flight or pending, over the
/// workers.
fn metrics(state: &State) -> Response<Full<Bytes>> {
    let n =
        state.in_flight.load(Ordering::Relaxed) + state.pending.lock().expect("stub").len() as u64;
    let w = state.cfg.workers;
    let text = format!(
        "# TYPE code_execution_queue_depth gauge\ncode_execution_queue_depth {}\n# TYPE code_execution_active_jobs gauge\ncode_execution_active_jobs {}\n# TYPE code_execution_workers gauge\ncode_execution_workers {w}\n",
        n.saturating_sub(w),
        n.min(w)
    );
    Response::new(Full::new(Bytes::from(text)))
}

/// A submission: refused, answered after the delay (`wait=true`), or queued.
async fn submit(state: &State, req: Request<Incoming>, wait: bool) -> Response<Full<Bytes>> {
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let sub: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let n = state.seq.fetch_add(1, Ordering::Relaxed) + 1;
    let every = |k: u64| k > 0 && n.is_multiple_of(k);
    if every(state.cfg.reject_every) {
        let mut r = reply(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": {"code": "queue_full", "message": "queue full"}}),
        );
        r.headers_mut()
            .insert("retry-after", "1".parse().expect("header"));
        return r;
    }
    let ready = {
        let mut frozen = state.frozen_until.lock().expect("stub");
        if every(state.cfg.stall_every) {
            *frozen = Some(Instant::now() + state.cfg.stall_for);
        }
        (Instant::now() + state.cfg.delay).max(frozen.unwrap_or_else(Instant::now))
    };
    let delay = ready.saturating_duration_since(Instant::now());
    let id = format!("stub-{n}");
    let expected = sub
        .get("expected_output")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let status = if every(state.cfg.wrong_every) {
        "wrong_answer"
    } else {
        "accepted"
    };
    let result = json!({
        "id": id, "language": sub.get("language"), "status": status, "stdout": expected,
        "stderr": "", "compile_output": "", "exit_code": 0, "signal": null,
        "time_ms": delay.as_millis() as u64, "wall_time_ms": delay.as_millis() as u64, "memory_kb": 1024, "tests": [],
    });
    if wait {
        state.in_flight.fetch_add(1, Ordering::Relaxed);
        if !delay.is_zero() {
            tokio::time::sleep_until(ready.into()).await;
        }
        state.in_flight.fetch_sub(1, Ordering::Relaxed);
        reply(StatusCode::OK, result)
    } else {
        state
            .pending
            .lock()
            .expect("stub")
            .insert(id.clone(), (ready, result));
        reply(StatusCode::ACCEPTED, json!({"id": id, "status": "queued"}))
    }
}

/// A queued submission's state: running until its time, then its result (once).
fn poll(state: &State, id: &str) -> Response<Full<Bytes>> {
    let mut pending = state.pending.lock().expect("stub");
    match pending.get(id) {
        Some((ready, _)) if Instant::now() < *ready => {
            reply(StatusCode::OK, json!({"id": id, "status": "running"}))
        }
        Some(_) => reply(
            StatusCode::OK,
            pending.remove(id).map(|(_, v)| v).unwrap_or(Value::Null),
        ),
        None => reply(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "not_found", "message": "no such submission"}}),
        ),
    }
}
