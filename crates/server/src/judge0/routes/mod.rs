//! Judge0's handlers. Query parameters are read leniently (Judge0 ignores
//! the ones it does not know); a body that is not JSON is Judge0's `400`
//! with an empty body.
//!
//! Module map: this file, the submission handlers (create, batch, get,
//! delete, authenticate); [`info`], the informational ones (languages,
//! statuses, about, configuration, workers).

pub mod info;

pub use info::{
    about, config_info, isolate, language, languages, languages_all, license, statistics, statuses,
    system_info, version, workers, JUDGE0_VERSION,
};

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::auth::Caller;
use crate::config::MAX_BATCH;
use crate::judge0::model::{self, Parsed};
use crate::judge0::{query_param, Judge0Error};
use crate::model::ValidSubmission;
use crate::routes::submissions::{accept, validate, wait_finished};
use crate::store::SubmissionRecord;

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
