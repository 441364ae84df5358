//! Judge0's informational handlers: languages, statuses, `/about`,
//! `/version`, `/config_info`, `/system_info`, `/statistics`, `/workers`,
//! `/isolate`, `/license`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::not_found;
use crate::app::AppState;
use crate::config::MAX_BATCH;
use crate::judge0::languages::{self, Language};
use crate::judge0::model;
use crate::judge0::Judge0Error;

/// The version of Judge0 CE whose API this is (`/about`, `/version`): the
/// official SDK picks its language-id table by it.
pub const JUDGE0_VERSION: &str = "1.13.1";

fn text(body: impl Into<String>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

fn sorted(mut list: Vec<Language>) -> Vec<Language> {
    list.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    list
}

/// `GET /languages`: the ids this server can run, by name.
pub async fn languages(State(app): State<Arc<AppState>>) -> Response {
    let list: Vec<Value> = sorted(languages::all(&app.executor.languages()))
        .into_iter()
        .filter(|l| l.installed && !l.archived)
        .map(|l| json!({ "id": l.id, "name": l.name }))
        .collect();
    axum::Json(list).into_response()
}

/// `GET /languages/all`: every id Kiln knows, archived ones included.
pub async fn languages_all(State(app): State<Arc<AppState>>) -> Response {
    let list: Vec<Value> = sorted(languages::all(&app.executor.languages()))
        .into_iter()
        .map(|l| json!({ "id": l.id, "name": l.name, "is_archived": l.archived }))
        .collect();
    axum::Json(list).into_response()
}

/// `GET /languages/{id}`.
pub async fn language(
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, Judge0Error> {
    let id: u32 = id.trim().parse().map_err(|_| not_found())?;
    let l = languages::by_id(&app.executor.languages(), id).ok_or_else(not_found)?;
    let source_file = app.executor.source_file_name(&l.kiln);
    let compile_cmd = (l.compiled && l.installed)
        .then(|| format!("(Kiln's compile step of language `{}`)", l.kiln));
    let run_cmd = l
        .installed
        .then(|| format!("(Kiln's run step of language `{}`)", l.kiln));
    Ok(axum::Json(json!({
        "id": l.id,
        "name": l.name,
        "is_archived": l.archived,
        "source_file": source_file,
        "compile_cmd": compile_cmd,
        "run_cmd": run_cmd,
    }))
    .into_response())
}

/// `GET /statuses`.
pub async fn statuses() -> Response {
    let list: Vec<Value> = (1..=14).map(model::status_json).collect();
    axum::Json(list).into_response()
}

/// `GET /about`: `version` is the Judge0 API version this server speaks.
pub async fn about() -> Response {
    axum::Json(json!({
        "version": JUDGE0_VERSION,
        "homepage": "https://judge0.com",
        "source_code": "https://github.com/judge0/judge0",
        "maintainer": "this Kiln server's operators",
        "implementation": format!("Kiln {} (the Judge0 CE {JUDGE0_VERSION} API; see docs/judge0.md)", env!("CARGO_PKG_VERSION")),
    }))
    .into_response()
}

/// `GET /version` (text/plain).
pub async fn version() -> Response {
    text(JUDGE0_VERSION)
}

/// `GET /config_info`: every key of Judge0's `Config.config_info`, with
/// this server's values (Kiln's limits in Judge0's units).
pub async fn config_info(State(app): State<Arc<AppState>>) -> Response {
    let c = &app.config;
    let (d, m) = (c.default_limits, c.max_limits);
    let secs = |ms: u64| ms as f64 / 1000.0;
    axum::Json(json!({
        "maintenance_mode": false,
        "enable_wait_result": true,
        "enable_compiler_options": true,
        "allowed_languages_for_compile_options": [],
        "enable_command_line_arguments": true,
        "enable_submission_delete": false,
        "enable_callbacks": true,
        "callbacks_max_tries": app.callbacks.retries + 1,
        "callbacks_timeout": app.callbacks.timeout.as_secs_f64(),
        "enable_additional_files": true,
        "max_queue_size": c.api.queue_capacity,
        "cpu_time_limit": secs(d.cpu_time_ms),
        "max_cpu_time_limit": secs(m.cpu_time_ms),
        "cpu_extra_time": 0.0,
        "max_cpu_extra_time": model::MAX_CPU_EXTRA_TIME,
        "wall_time_limit": secs(d.wall_time_ms),
        "max_wall_time_limit": secs(m.wall_time_ms),
        "memory_limit": d.memory_kb,
        "max_memory_limit": m.memory_kb,
        "stack_limit": model::STACK_LIMIT_KB,
        "max_stack_limit": model::MAX_STACK_LIMIT_KB,
        "max_processes_and_or_threads": d.processes,
        "max_max_processes_and_or_threads": m.processes,
        "enable_per_process_and_thread_time_limit": false,
        "allow_enable_per_process_and_thread_time_limit": false,
        "enable_per_process_and_thread_memory_limit": false,
        "allow_enable_per_process_and_thread_memory_limit": false,
        "max_file_size": d.output_bytes / 1024,
        "max_max_file_size": m.output_bytes / 1024,
        "number_of_runs": 1,
        "max_number_of_runs": model::MAX_NUMBER_OF_RUNS.min(c.limits.max_tests as u64),
        "redirect_stderr_to_stdout": false,
        "max_extract_size": c.limits.max_source_bytes / 1024,
        "enable_batched_submissions": true,
        "max_submission_batch_size": MAX_BATCH,
        "submission_cache_duration": 0.0,
        "use_docs_as_homepage": false,
        "allow_enable_network": false,
        "enable_network": false,
    }))
    .into_response()
}

/// `GET /system_info`: a few of `lscpu`'s and `free`'s lines.
pub async fn system_info() -> Response {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem_kb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
    });
    let mut m = serde_json::Map::new();
    m.insert("Architecture".into(), json!(std::env::consts::ARCH));
    m.insert("CPU(s)".into(), json!(cpus.to_string()));
    if let Some(kb) = mem_kb {
        m.insert("Mem".into(), json!(format!("{}Mi", kb / 1024)));
    }
    axum::Json(Value::Object(m)).into_response()
}

/// `GET /statistics`: Judge0's shape; Kiln counts submissions in `/metrics`.
pub async fn statistics() -> Response {
    let now = model::timestamp(crate::now_ms());
    axum::Json(json!({
        "created_at": now,
        "cached_until": now,
        "submissions": null,
        "languages": [],
        "statuses": [],
        "database": null,
        "message": "Kiln keeps no per-day statistics here: read the counters at /metrics",
    }))
    .into_response()
}

/// `GET /workers`: one queue, as Judge0's Resque answer.
pub async fn workers(State(app): State<Arc<AppState>>) -> Response {
    let alive = app.workers_alive.load(Ordering::SeqCst);
    let size = app.queue.depth().await.unwrap_or(0);
    axum::Json(json!([{
        "queue": JUDGE0_VERSION,
        "size": size,
        "available": alive,
        "idle": if size == 0 { alive } else { 0 },
        "working": if size == 0 { 0 } else { alive },
        "paused": 0,
        "failed": 0,
    }]))
    .into_response()
}

/// `GET /isolate` (text/plain): what sandbox runs the programs.
pub async fn isolate() -> Response {
    text(format!(
        "Kiln {} sandbox (kiln-sandbox: namespaces, cgroups, seccomp); not isolate\n",
        env!("CARGO_PKG_VERSION")
    ))
}

/// `GET /license` (text/plain).
pub async fn license() -> Response {
    text(format!(
        "Kiln is licensed under {}.\n",
        env!("CARGO_PKG_LICENSE")
    ))
}
