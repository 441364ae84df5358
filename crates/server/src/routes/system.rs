//! `/health`, `/health/live`, `/metrics`, `/openapi.json` and `/api/v1/languages`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;

/// Readiness: 200 when the store answers, the queue answers and the configured
/// workers are running; 503 otherwise (and while draining), with the state of
/// each. On a node of a shared queue `workers.fleet` lists the live workers of
/// the whole fleet (their heartbeats); an API node whose fleet has none, or a
/// queue that would lose accepted jobs in a crash, is `degraded` (200: it still
/// accepts and stores submissions), with the reasons in `warnings`. The fleet
/// and durability are read at most once per heartbeat period
/// ([`crate::queue::seen`]).
pub async fn health(State(app): State<Arc<AppState>>) -> Response {
    let store = app.store.ping().await;
    let depth = app.queue.depth().await;
    let seen = app.fleet_seen.get(app.queue.as_ref()).await;
    let (fleet, durability) = (seen.fleet, seen.durability);
    let alive = app.workers_alive.load(Ordering::SeqCst);
    let draining = app.is_draining();
    let workers_ok = alive > 0 || app.config.workers == 0;
    let ok = store.is_ok() && depth.is_ok() && workers_ok && !draining;
    let mut warnings: Vec<String> = Vec::new();
    let fleet_view = match &fleet {
        Ok(Some(list)) => {
            let slots: u64 = list.iter().map(|w| w.workers).sum();
            if slots == 0 {
                warnings.push(format!(
                    "no live worker in the fleet (no heartbeat within {} s): submissions are queued but nothing runs them",
                    crate::queue::redis::LIVE_WITHIN.as_secs()
                ));
            }
            json!({ "processes": list.len(), "workers": slots, "live": list })
        }
        Ok(None) => serde_json::Value::Null,
        Err(e) => json!({ "error": e }),
    };
    if let Ok(Some(w)) = &durability {
        warnings.push(w.clone());
    }
    let status = match () {
        _ if draining => "draining",
        _ if !ok => "unavailable",
        _ if !warnings.is_empty() => "degraded",
        _ => "ok",
    };
    let body = json!({
        "status": status,
        "store": { "ok": store.is_ok(), "error": store.err().map(|e| e.to_string()) },
        "queue": {
            "ok": depth.is_ok(),
            "depth": depth.as_ref().ok(),
            "capacity": app.queue.capacity(),
            "persistent": durability.as_ref().ok().map(|w| w.is_none()),
            "error": depth.as_ref().err().map(|e| e.to_string()),
        },
        "workers": { "configured": app.config.workers, "alive": alive, "fleet": fleet_view },
        "sandbox": app.executor.sandbox(),
        "warnings": warnings,
    });
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

/// Liveness: 200 while the process serves HTTP, whatever its backends do.
pub async fn live() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

/// Prometheus text; the queue depth gauge is refreshed at each scrape.
pub async fn metrics(State(app): State<Arc<AppState>>) -> Response {
    if let Ok(depth) = app.queue.depth().await {
        metrics::gauge!(crate::metrics::QUEUE_DEPTH).set(depth as f64);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

pub async fn openapi(State(app): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        app.openapi.clone(),
    )
        .into_response()
}

pub async fn languages(State(app): State<Arc<AppState>>) -> Response {
    axum::Json(json!({ "languages": app.executor.languages() })).into_response()
}
