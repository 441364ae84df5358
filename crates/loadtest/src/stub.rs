//! A loopback stand-in for Kiln's submission API, for the honesty tests, the
//! bottleneck tests and the generator benchmark: it answers after a fixed
//! delay, stalls every N requests, gives a wrong verdict or a 503 every N
//! requests, and exposes `/health` and `/metrics`. It can be made to saturate
//! one layer: a bounded worker pool (`capacity`), an API that handles one
//! submit call at a time (`api_delay`), a store that does one slow write at a
//! time (`store_delay`); its results carry Kiln's `stages`. It never runs
//! code: an accepted submission's stdout is its `expected_output`.

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
    /// Every submission takes this long (its `run` stage).
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
    /// At most this many submissions run at once (0 = no limit); the others
    /// wait their turn in order, shown as `code_execution_queue_depth`.
    pub capacity: usize,
    /// The API takes this long per submit call, one call at a time (0 = no
    /// such limit): an API layer that saturates.
    pub api_delay: Duration,
    /// Every store write (the insert, the running mark, the result) takes
    /// this long, one at a time: a store that saturates.
    pub store_delay: Duration,
}

#[derive(Debug, Default)]
struct State {
    cfg: StubConfig,
    seq: AtomicU64,
    in_flight: AtomicU64,
    /// Submissions sent without `wait=true`: `None` while they run.
    pending: Mutex<HashMap<String, Option<Value>>>,
    frozen_until: Mutex<Option<Instant>>,
    /// The worker pool (with `capacity`), who waits for it and who holds it.
    pool: Option<tokio::sync::Semaphore>,
    waiting: AtomicU64,
    running: AtomicU64,
    api: tokio::sync::Mutex<()>,
    store: tokio::sync::Mutex<()>,
}

/// Binds `addr` and serves until the task is dropped/aborted.
pub async fn spawn(
    cfg: StubConfig,
    addr: &str,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let state = Arc::new(State {
        pool: (cfg.capacity > 0).then(|| tokio::sync::Semaphore::new(cfg.capacity)),
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
        (Method::POST, "/api/v1/submissions") => submit(state, req, wait).await,
        (Method::GET, p) if p.starts_with("/api/v1/submissions/") => {
            poll(&state, &p["/api/v1/submissions/".len()..])
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "not_found", "message": "no such route"}}),
        ),
    })
}

/// The queue gauges of `/metrics`: with a pool, who waits for it and who
/// holds it; without, what is in flight or pending, over the workers.
fn metrics(state: &State) -> Response<Full<Bytes>> {
    let w = state.cfg.workers;
    let (depth, active) = if state.pool.is_some() {
        (
            state.waiting.load(Ordering::Relaxed),
            state.running.load(Ordering::Relaxed),
        )
    } else {
        let pending = state.pending.lock().expect("stub");
        let n = state.in_flight.load(Ordering::Relaxed)
            + pending.values().filter(|v| v.is_none()).count() as u64;
        (n.saturating_sub(w), n.min(w))
    };
    let text = format!(
        "# TYPE code_execution_queue_depth gauge\ncode_execution_queue_depth {depth}\n# TYPE code_execution_active_jobs gauge\ncode_execution_active_jobs {active}\n# TYPE code_execution_workers gauge\ncode_execution_workers {w}\n",
    );
    Response::new(Full::new(Bytes::from(text)))
}

/// One store write: `store_delay`, one at a time; returns its time (ms).
async fn store_write(state: &State) -> u64 {
    if state.cfg.store_delay.is_zero() {
        return 0;
    }
    let t = Instant::now();
    let _one = state.store.lock().await;
    tokio::time::sleep(state.cfg.store_delay).await;
    t.elapsed().as_millis() as u64
}

/// A submission: refused, answered when its job is done (`wait=true`), or queued.
async fn submit(state: Arc<State>, req: Request<Incoming>, wait: bool) -> Response<Full<Bytes>> {
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if !state.cfg.api_delay.is_zero() {
        let _one = state.api.lock().await;
        tokio::time::sleep(state.cfg.api_delay).await;
    }
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
    if every(state.cfg.stall_every) {
        *state.frozen_until.lock().expect("stub") = Some(Instant::now() + state.cfg.stall_for);
    }
    let accept_ms = store_write(&state).await;
    let id = format!("stub-{n}");
    let status = if every(state.cfg.wrong_every) {
        "wrong_answer"
    } else {
        "accepted"
    };
    let result = json!({
        "id": id, "language": sub.get("language"), "status": status,
        "stdout": sub.get("expected_output").and_then(Value::as_str).unwrap_or(""),
        "stderr": "", "compile_output": "", "exit_code": 0, "signal": null,
        "memory_kb": 1024, "tests": [],
    });
    if wait {
        state.in_flight.fetch_add(1, Ordering::Relaxed);
        let done = job(&state, accept_ms, result).await;
        state.in_flight.fetch_sub(1, Ordering::Relaxed);
        reply(StatusCode::OK, done)
    } else {
        state.pending.lock().expect("stub").insert(id.clone(), None);
        let st = state.clone();
        let key = id.clone();
        tokio::spawn(async move {
            let done = job(&st, accept_ms, result).await;
            st.pending.lock().expect("stub").insert(key, Some(done));
        });
        reply(StatusCode::ACCEPTED, json!({"id": id, "status": "queued"}))
    }
}

/// A job: waits for a worker, marks it running, "runs" for the delay (or
/// until a freeze ends), writes the result; the result gets its stages.
async fn job(state: &State, accept_ms: u64, mut result: Value) -> Value {
    let queued = Instant::now();
    state.waiting.fetch_add(1, Ordering::Relaxed);
    let permit = match &state.pool {
        Some(pool) => pool.acquire().await.ok(),
        None => None,
    };
    state.waiting.fetch_sub(1, Ordering::Relaxed);
    state.running.fetch_add(1, Ordering::Relaxed);
    let queue_ms = queued.elapsed().as_millis() as u64;
    let start_write_ms = store_write(state).await;
    let run = Instant::now();
    let frozen = *state.frozen_until.lock().expect("stub");
    let ready = (run + state.cfg.delay).max(frozen.unwrap_or(run));
    if ready > run {
        tokio::time::sleep_until(ready.into()).await;
    }
    let run_ms = run.elapsed().as_millis() as u64;
    let result_write_ms = store_write(state).await;
    state.running.fetch_sub(1, Ordering::Relaxed);
    drop(permit);
    result["time_ms"] = json!(run_ms);
    result["wall_time_ms"] = json!(run_ms);
    result["stages"] = json!({
        "accept_ms": accept_ms, "queue_ms": queue_ms, "start_write_ms": start_write_ms,
        "compile_ms": 0, "run_ms": run_ms, "result_write_ms": result_write_ms, "notify_ms": 0,
    });
    result
}

/// A queued submission's state: running until its job is done, then its result (once).
fn poll(state: &State, id: &str) -> Response<Full<Bytes>> {
    let mut pending = state.pending.lock().expect("stub");
    match pending.get(id) {
        Some(None) => reply(StatusCode::OK, json!({"id": id, "status": "running"})),
        Some(Some(_)) => reply(
            StatusCode::OK,
            pending.remove(id).flatten().unwrap_or(Value::Null),
        ),
        None => reply(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "not_found", "message": "no such submission"}}),
        ),
    }
}
