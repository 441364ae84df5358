//! Prometheus metrics with the load-test plan's names, histograms with explicit
//! buckets (without them the exporter renders summaries), and the HTTP timing
//! middleware labelled by route template and status.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const QUEUE_DEPTH: &str = "code_execution_queue_depth";
pub const QUEUE_WAIT: &str = "code_execution_queue_wait_seconds";
pub const ACTIVE_JOBS: &str = "code_execution_active_jobs";
pub const WORKERS: &str = "code_execution_workers";
pub const JOB_DURATION: &str = "code_execution_job_duration_seconds";
pub const HTTP_DURATION: &str = "http_request_duration_seconds";
pub const SUBMISSIONS: &str = "code_execution_submissions_total";
pub const CALLBACKS: &str = "code_execution_callbacks_total";
/// Where submissions' time went, by `stage` (crate::stages).
pub const STAGE_SECONDS: &str = "code_execution_stage_seconds";

const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = [QUEUE_WAIT, JOB_DURATION, HTTP_DURATION, STAGE_SECONDS]
                .into_iter()
                .fold(PrometheusBuilder::new(), |b, name| {
                    b.set_buckets_for_metric(Matcher::Full(name.to_string()), SECONDS_BUCKETS)
                        .expect("non-empty buckets")
                });
            let builder = builder
                .set_buckets_for_metric(
                    Matcher::Full(kiln_workspace::metrics::BUILD_SECONDS.to_string()),
                    kiln_workspace::metrics::BUILD_BUCKETS,
                )
                .expect("non-empty buckets");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
            describe();
            kiln_workspace::metrics::describe();
            kiln_engine::cache::describe_metrics();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_gauge!(QUEUE_DEPTH, "Jobs waiting in the queue");
    metrics::describe_histogram!(
        QUEUE_WAIT,
        metrics::Unit::Seconds,
        "Time from enqueue to a worker starting the job"
    );
    metrics::describe_gauge!(ACTIVE_JOBS, "Jobs being executed now");
    metrics::describe_gauge!(WORKERS, "Workers of this process");
    metrics::describe_histogram!(
        JOB_DURATION,
        metrics::Unit::Seconds,
        "Execution time of a job, by language and status"
    );
    metrics::describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "HTTP request duration, by route and status"
    );
    metrics::describe_histogram!(
        STAGE_SECONDS,
        metrics::Unit::Seconds,
        "Time of each stage of a submission (accept, queue, start_write, compile, run, result_write, notify)"
    );
    metrics::describe_counter!(SUBMISSIONS, "Submissions accepted into the queue");
    metrics::describe_counter!(CALLBACKS, "Callback deliveries, by outcome");
}

/// Records `http_request_duration_seconds{method,route,status}`; `route` is the
/// matched template (`/api/v1/submissions/{id}`), never the raw path.
pub async fn track_http(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().to_string();
    let id = request_id(req.headers());
    let mut res = next.run(req).await;
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    // The access log: one line per request. The key is never logged, only
    // the fingerprint the auth middleware passed on.
    let key = res
        .extensions()
        .get::<crate::auth::Caller>()
        .and_then(|c| c.key.clone());
    tracing::info!(
        target: "kiln::access",
        request_id = %id,
        method = %method,
        route = %route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        key = key.as_deref().unwrap_or("-"),
        "request"
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route, "status" => status.to_string())
        .record(elapsed.as_secs_f64());
    res
}

/// The header that carries a request's id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// The client's `X-Request-Id` when it is a sane token (1-64 of
/// `[A-Za-z0-9._-]`, so it cannot forge log lines), else a new one.
fn request_id(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), String::from)
}
