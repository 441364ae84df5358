//! Judge0's handlers. Query parameters are read leniently (Judge0 ignores
//! the ones it does not know); a body that is not JSON is Judge0's `400`
//! with an empty body.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Value};

use super::languages::{self, Language};
use super::model::{self, Parsed};
use super::{query_param, Judge0Error};
use crate::app::AppState;
use crate::auth::Caller;
use crate::config::MAX_BATCH;
use crate::model::ValidSubmission;
use crate::routes::submissions::{accept, validate, wait_finished};
use crate::store::SubmissionRecord;

/// The version of Judge0 CE whose API this is (`/about`, `/version`): the
/// official SDK picks its language-id table by it.
pub const JUDGE0_VERSION: &str = "1.13.1";

const NOT_UTF8_ONE: &str =
    "some attributes for this submission cannot be converted to UTF-8, use base64_encoded=true query parameter";
const NOT_UTF8_MANY: &str =
    "some attributes for one or more submissions cannot be converted to UTF-8, use base64_encoded=true query parameter";

fn flag(q: &Option<String>, name: &str) -> bool {
    query_param(q.as_deref(), name).is_some_and(|v| v == "true")
}

fn json_body(body: &Bytes) -> Result<Value, Judge0Error> {
    serde_json::from_slice(body).map_err(|_| Judge0Error::empty(StatusCode::BAD_REQUEST))
}

fn not_found() -> Judge0Error {
    Judge0Error {
        status: StatusCode::NOT_FOUND,
        body: json!({ "status": 404, "error": "Not Found" }),
        retry_after: None,
    }
}

fn text(body: impl Into<String>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

/// One Judge0 submission through Kiln's one path: translated, then Kiln's
/// validator (and the callback's address check).
async fn check(app: &AppState, body: &Value, base64: bool) -> Result<ValidSubmission, Judge0Error> {
    let installed = app.executor.languages();
    let Parsed {
        mut request,
        callback_url,
        additional,
    } = model::parse(body, base64, &installed, &app.config)?;
    if !additional.is_empty() {
        let name = app
            .executor
            .source_file_name(&request.language)
            .unwrap_or_else(|| "main".into());
        let source = request.source.take().unwrap_or_default();
        let extra: Vec<_> = additional.into_iter().filter(|f| f.name != name).collect();
        let mut files = vec![kiln_engine::SourceFile {
            name,
            content: source,
        }];
        files.extend(extra);
        request.files = Some(files);
    }
    let mut valid = validate(app, request, "").await?;
    let callback = match callback_url {
        None => None,
        Some(u) => {
            let url = crate::callback::parse_url(&u)
                .map_err(|m| Judge0Error::field("callback_url", m))?;
            crate::callback::resolve_allowed(&url, app.callbacks.allow_private)
                .await
                .map_err(|m| Judge0Error::field("callback_url", m))?;
            Some(url)
        }
    };
    // Sent by the durable dispatcher (crate::callback) once the result is
    // final: `PUT` of the default fields, base64, as Judge0 does.
    valid.callback_url = callback;
    valid.callback_kind = crate::store::CallbackKind::Judge0;
    Ok(valid)
}

/// `POST /submissions?base64_encoded=&wait=&fields=`: `201 {"token"}`, or
/// with `wait=true` the requested fields once it finished (201 too).
pub async fn create(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, Judge0Error> {
    let base64 = flag(&q, "base64_encoded");
    let wait = flag(&q, "wait");
    let fields = if wait {
        model::parse_fields(query_param(q.as_deref(), "fields").as_deref())?
    } else {
        Vec::new()
    };
    let body = json_body(&body)?;
    let valid = check(&app, &body, base64).await?;
    let token = accept(&app, &caller, vec![valid]).await?.remove(0);
    if wait {
        let rec = match wait_finished(&app, &token).await? {
            Some(rec) => rec,
            None => app
                .store
                .get(&token)
                .await
                .map_err(crate::error::ApiError::from)?
                .ok_or_else(not_found)?,
        };
        let installed = app.executor.languages();
        return Ok(match model::view(&rec, &fields, base64, &installed) {
            Ok(m) => (StatusCode::CREATED, axum::Json(Value::Object(m))).into_response(),
            Err(model::NotUtf8) => (
                StatusCode::CREATED,
                axum::Json(json!({ "error": NOT_UTF8_ONE, "token": token })),
            )
                .into_response(),
        });
    }
    Ok((StatusCode::CREATED, axum::Json(json!({ "token": token }))).into_response())
}

/// `POST /submissions/batch?base64_encoded=`: one `{"token"}` or error
/// object per submission; 201 when at least one was accepted, else 422.
pub async fn create_batch(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, Judge0Error> {
    let base64 = flag(&q, "base64_encoded");
    let body = json_body(&body)?;
    let subs = body
        .get("submissions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    check_batch_size(subs.len())?;
    let mut answers: Vec<Option<Value>> = Vec::with_capacity(subs.len());
    let mut valid = Vec::new();
    for s in &subs {
        match check(&app, s, base64).await {
            Ok(v) => {
                answers.push(None);
                valid.push(v);
            }
            Err(e) => answers.push(Some(e.body)),
        }
    }
    if valid.is_empty() {
        let list: Vec<Value> = answers.into_iter().map(Option::unwrap_or_default).collect();
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, axum::Json(list)).into_response());
    }
    let mut tokens = accept(&app, &caller, valid).await?.into_iter();
    let list: Vec<Value> = answers
        .into_iter()
        .map(|a| match a {
            Some(err) => err,
            None => {
                let token = tokens.next().expect("one token per valid submission");
                json!({ "token": token })
            }
        })
        .collect();
    Ok((StatusCode::CREATED, axum::Json(list)).into_response())
}

fn check_batch_size(n: usize) -> Result<(), Judge0Error> {
    if n == 0 {
        return Err(Judge0Error::bad(
            "there should be at least one submission in a batch",
        ));
    }
    if n > MAX_BATCH {
        return Err(Judge0Error::bad(format!(
            "number of submissions in a batch should be less than or equal to {MAX_BATCH}"
        )));
    }
    Ok(())
}

/// `GET /submissions/{token}?base64_encoded=&fields=`.
pub async fn get_one(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(token): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, Judge0Error> {
    let base64 = flag(&q, "base64_encoded");
    let fields = model::parse_fields(query_param(q.as_deref(), "fields").as_deref())?;
    let rec = crate::routes::submissions::readable(&app, &caller, &token)
        .await?
        .ok_or_else(not_found)?;
    let installed = app.executor.languages();
    match model::view(&rec, &fields, base64, &installed) {
        Ok(m) => Ok(axum::Json(Value::Object(m)).into_response()),
        Err(model::NotUtf8) => Err(Judge0Error::bad(NOT_UTF8_ONE)),
    }
}

/// `GET /submissions/batch?tokens=a,b&base64_encoded=&fields=`: in the
/// order asked, `null` for unknown tokens.
pub async fn get_batch(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Judge0Error> {
    let base64 = flag(&q, "base64_encoded");
    let fields = model::parse_fields(query_param(q.as_deref(), "fields").as_deref())?;
    let raw = query_param(q.as_deref(), "tokens")
        .or_else(|| {
            headers
                .get("tokens")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let tokens: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    check_batch_size(tokens.len())?;
    let found: Vec<SubmissionRecord> =
        crate::routes::submissions::readable_many(&app, &caller, &tokens).await?;
    let installed = app.executor.languages();
    let mut list = Vec::with_capacity(tokens.len());
    for t in &tokens {
        list.push(match found.iter().find(|r| &r.id == t) {
            Some(rec) => Value::Object(
                model::view(rec, &fields, base64, &installed)
                    .map_err(|_| Judge0Error::bad(NOT_UTF8_MANY))?,
            ),
            None => Value::Null,
        });
    }
    Ok(axum::Json(json!({ "submissions": list })).into_response())
}

/// `DELETE /submissions/{token}`: Judge0's default (`ENABLE_SUBMISSION_DELETE=false`).
pub async fn delete(Path(_token): Path<String>) -> Judge0Error {
    Judge0Error::bad("delete not allowed")
}

/// `POST /authenticate`: 200 when the key was accepted (the middleware checked it).
pub async fn authenticate() -> StatusCode {
    StatusCode::OK
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
