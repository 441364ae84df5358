//! The Piston API v2 dialect (`engineer-man/piston`, api 3.x), so that
//! Piston's clients work against `kiln serve` unchanged (docs/piston.md has
//! the field-by-field table).
//!
//! Module map:
//! - this file: [`router`] (everything under `/api/v2`, behind Kiln's API
//!   keys when they are configured), `GET /runtimes`, `POST /execute`,
//!   `GET|POST|DELETE /packages`, Piston's 404, and [`prepare`]: a Piston
//!   request through Kiln's one validator into a `Submission`.
//! - [`model`]: Piston's bodies (the request read with Piston's messages,
//!   stages, runtimes, packages) and its error shape `{"message"}`.
//! - [`mapping`]: runtimes (aliases, semver versions and selectors), limits,
//!   Kiln's validation errors in Piston's field names, a Kiln report as
//!   Piston's `compile`/`run` stages.
//! - [`connect`]: `GET /api/v2/connect`, Piston's interactive WebSocket, on
//!   Kiln's interactive run path (bounded buffers, limits that hold).
//!
//! Runs: a Piston execute is synchronous. It runs on the executor directly,
//! in one of the interactive slots (the ones `/api/v1/run/ws` uses, one per
//! worker), waiting for a free one at most `api.max_wait_secs`; it does not
//! go through the durable queue (a Piston client keeps no id to come back
//! for, so storing the result would serve nobody).
//!
//! Bodies: Piston answers 415 to a non-GET request whose `Content-Type` is
//! not JSON, but npm `piston-client` posts its JSON as `text/plain`. Kiln
//! reads the body as JSON whatever the type claims; only a body that does
//! not parse gets 415 (with a non-JSON type) or 400 (with a JSON type).

pub mod connect;
pub mod mapping;
pub mod model;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use kiln_engine::{SourceFile, Submission};
use serde_json::Value;

use crate::app::AppState;
use crate::executor::LanguageInfo;
use crate::model::{SubmissionRequest, Validator};
use model::{ExecuteRequest, ExecuteResponse, Package, PistonError, Runtime};

/// The routes of the dialect (under `/api/v2`), for the docs and tests;
/// they are not in `/openapi.json`, which describes Kiln's own API.
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/api/v2/runtimes", &["get"]),
    ("/api/v2/execute", &["post"]),
    ("/api/v2/connect", &["get"]),
    ("/api/v2/packages", &["get", "post", "delete"]),
];

/// Everything under `/api/v2`; merged into Kiln's router.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let v2 = Router::new()
        .route("/runtimes", get(runtimes))
        .route("/execute", axum::routing::post(execute))
        .route("/connect", get(connect::upgrade))
        .route("/packages", get(packages).post(install).delete(uninstall))
        .route_layer(from_fn_with_state(state, crate::auth::require_key))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found);
    Router::new().nest("/api/v2", v2)
}

/// Piston's 404 `{"message":"Not Found"}`, with Kiln's `error` beside it
/// (every unknown path of `kiln serve` has Kiln's error shape too).
async fn not_found() -> Response {
    let body = serde_json::json!({
        "message": "Not Found",
        "error": {
            "code": "not_found",
            "message": "no such Piston route; Kiln serves Piston's /api/v2/runtimes, /execute, /connect and /packages (docs/piston.md)",
        },
    });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

fn runtime_list(languages: &[LanguageInfo]) -> Vec<Runtime> {
    languages
        .iter()
        .map(|l| Runtime {
            language: l.id.clone(),
            version: mapping::version_string(mapping::semver(l.version.as_deref())),
            aliases: mapping::aliases(&l.id),
            runtime: mapping::runtime_of(&l.id).map(String::from),
        })
        .collect()
}

async fn runtimes(State(app): State<Arc<AppState>>) -> Json<Vec<Runtime>> {
    Json(runtime_list(&app.executor.languages()))
}

/// A request body as JSON, whatever its `Content-Type` claims (see the module doc).
pub fn json_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, PistonError> {
    serde_json::from_slice(body).map_err(|e| {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| {
                t.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            });
        if is_json {
            PistonError::bad_request(format!("SyntaxError: the body is not valid JSON: {e}"))
        } else {
            PistonError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                message: "requests must be of type application/json".into(),
            }
        }
    })
}

/// A request ready to run: the submission (checked by Kiln's validator) and
/// the runtime it resolved to.
pub struct Prepared {
    pub submission: Submission,
    pub language: String,
    pub version: String,
    pub compiled: bool,
}

/// A Piston request as a Kiln submission: the runtime from `language` and
/// `version`, files named (an unnamed first file gets the language's usual
/// name, e.g. `Main.java`; others Piston's `file<i>.code`), stdin with
/// Piston's trailing newline (`stdin: false` for the WebSocket, whose
/// input comes later), the run limits; then Kiln's one validator, its
/// errors in Piston's words.
pub fn prepare(app: &AppState, req: ExecuteRequest, stdin: bool) -> Result<Prepared, PistonError> {
    let languages = app.executor.languages();
    let Some((lang, version)) = mapping::resolve(&languages, &req.language, &req.version) else {
        return Err(PistonError::bad_request(format!(
            "{}-{} runtime is unknown",
            req.language, req.version
        )));
    };
    let files = req
        .files
        .into_iter()
        .enumerate()
        .map(|(i, f)| SourceFile {
            name: f
                .name
                .unwrap_or_else(|| match app.executor.source_file_name(&lang.id) {
                    Some(n) if i == 0 => n,
                    _ => format!("file{i}.code"),
                }),
            content: f.content,
        })
        .collect();
    let request = SubmissionRequest {
        language: lang.id.clone(),
        source: None,
        files: Some(files),
        stdin: stdin.then(|| model::piston_stdin(req.stdin)),
        args: Some(req.args),
        expected_output: None,
        limits: Some(mapping::run_limits(&req.limits)),
        tests: None,
        callback_url: None,
        compiler_options: None,
        merge_stderr: None,
        compile_limits: Some(mapping::compile_limits(&req.limits)),
    };
    let valid = Validator {
        config: &app.config,
        executor: app.executor.as_ref(),
    }
    .check(request, "")
    .map_err(|e| PistonError {
        status: e.status,
        message: mapping::piston_error(&e.message, &app.config.max_limits),
    })?;
    Ok(Prepared {
        submission: valid.submission,
        language: lang.id.clone(),
        version: mapping::version_string(version),
        compiled: lang.compiled,
    })
}

/// Waits for an interactive slot, at most `api.max_wait_secs`.
pub async fn slot(app: &AppState) -> Result<tokio::sync::SemaphorePermit<'_>, PistonError> {
    let busy = || PistonError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: "every run slot of this Kiln server is busy; retry shortly".into(),
    };
    if app.is_draining() {
        return Err(PistonError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "the server is shutting down; retry on another instance or later".into(),
        });
    }
    match tokio::time::timeout(app.config.api.max_wait(), app.interactive.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(busy()),
    }
}

/// An interactive slot taken with `forget()`, given back when dropped
/// (also when the run's task panics).
struct HeldSlot(Arc<AppState>);

impl Drop for HeldSlot {
    fn drop(&mut self) {
        self.0.interactive.add_permits(1);
    }
}

async fn execute(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PistonError> {
    let req = ExecuteRequest::parse(&json_body(&headers, &body)?)?;
    drop(body);
    let p = prepare(&app, req, true)?;
    // The slot goes with the run's task: a client that leaves does not cut
    // the run short (its limits bound it) nor free its slot before it ends;
    // a failing executor is an answer, not a dropped connection.
    slot(&app).await?.forget();
    let held = HeldSlot(app.clone());
    let executor = app.executor.clone();
    let sub = p.submission;
    let report = tokio::spawn(async move {
        let _held = held;
        executor.execute(sub).await
    })
    .await;
    let report = report.map_err(|e| PistonError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("the run failed inside Kiln: {e}"),
    })?;
    if report.status == kiln_engine::Status::InternalError {
        tracing::warn!(language = %p.language, message = ?report.message, "a Piston execute ended in an internal error");
    }
    let (compile, run) = mapping::stages(report, p.compiled);
    Ok(Json(ExecuteResponse {
        language: p.language,
        version: p.version,
        compile,
        run,
    })
    .into_response())
}

async fn packages(State(app): State<Arc<AppState>>) -> Json<Vec<Package>> {
    Json(
        runtime_list(&app.executor.languages())
            .into_iter()
            .map(|r| Package {
                language: r.language,
                language_version: r.version,
                installed: true,
            })
            .collect(),
    )
}

/// `POST`/`DELETE /api/v2/packages`: Kiln installs toolchains on the host
/// (scripts/install-toolchains.sh), not per request.
async fn change_package(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    verb: &str,
) -> PistonError {
    let v = match json_body(headers, body) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let language = v.get("language").and_then(Value::as_str).unwrap_or("");
    let version = v.get("version").and_then(Value::as_str).unwrap_or("");
    let languages = app.executor.languages();
    match mapping::resolve(&languages, language, version) {
        None => PistonError {
            status: StatusCode::NOT_FOUND,
            message: format!("Requested package {language}-{version} does not exist"),
        },
        Some((l, ver)) => PistonError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!(
                "Kiln does not {verb} packages per request: toolchains are installed on the host with scripts/install-toolchains.sh ({}-{} is installed)",
                l.id,
                mapping::version_string(ver)
            ),
        },
    }
}

async fn install(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> PistonError {
    change_package(&app, &headers, &body, "install").await
}

async fn uninstall(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> PistonError {
    change_package(&app, &headers, &body, "uninstall").await
}
