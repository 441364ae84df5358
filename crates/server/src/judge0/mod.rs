//! The Judge0 CE 1.13.1 dialect: Judge0's routes at the root (they do not
//! collide with `/api/v1`), so that Judge0 clients (the official `judge0`
//! SDK from PyPI, RapidAPI-style code) work against Kiln by changing the URL.
//! docs/judge0.md lists every endpoint and field and what Kiln does with it.
//!
//! Module map:
//! - this file: [`Judge0Error`] (Judge0's error shapes), [`router`], and the
//!   `X-Auth-Token` check onto Kiln's API keys ([`crate::auth`]).
//! - [`languages`]: Judge0 language ids (CE 1.13.1 and the hosted ids the SDK
//!   uses) onto Kiln's catalogue.
//! - [`model`]: a Judge0 request translated into Kiln's `SubmissionRequest`;
//!   a stored record shown as Judge0's attributes (statuses, units, base64
//!   with Ruby's line wrapping, `fields`).
//! - [`zip`]: `additional_files`, a base64 `.zip` read into files (stored
//!   or deflated entries, bounded).
//! - [`routes`]: the handlers. Submissions go through the native routes' one
//!   path ([`crate::routes::submissions`]: Kiln's validator, store, queue,
//!   notifier); Kiln's field names in its errors are named back in Judge0's.

pub mod languages;
pub mod model;
pub mod routes;
pub mod zip;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::ApiError;
use crate::ratelimit::Admission;

/// A Judge0 error answer: `{"error": "…"}`, `{"field": ["message"]}` (422),
/// or an empty body (401, 403, 400 for malformed JSON), as Judge0 gives them.
#[derive(Debug, Clone)]
pub struct Judge0Error {
    pub status: StatusCode,
    /// `Value::Null` for an empty body.
    pub body: Value,
    /// Seconds, sent as `Retry-After` (Kiln's 503 and 429).
    pub retry_after: Option<u64>,
}

impl Judge0Error {
    pub fn bad(message: impl Into<String>) -> Self {
        Judge0Error {
            status: StatusCode::BAD_REQUEST,
            body: json!({ "error": message.into() }),
            retry_after: None,
        }
    }
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::fields([(field, message.into())])
    }
    pub fn fields<'a, M: Into<String>>(list: impl IntoIterator<Item = (&'a str, M)>) -> Self {
        let mut m = serde_json::Map::new();
        for (f, msg) in list {
            m.insert(f.to_string(), json!([msg.into()]));
        }
        Judge0Error {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: Value::Object(m),
            retry_after: None,
        }
    }
    pub fn empty(status: StatusCode) -> Self {
        Judge0Error {
            status,
            body: Value::Null,
            retry_after: None,
        }
    }
}

/// Kiln's errors in Judge0's shape: a field Kiln's validator refused becomes
/// `{"<judge0 field>": ["…"]}` (422); a full queue `{"error": "queue is full"}`
/// (503); anything else `{"error": "<Kiln's message>"}` with Kiln's status.
impl From<ApiError> for Judge0Error {
    fn from(e: ApiError) -> Self {
        if e.code == "invalid_field" {
            let (field, msg) = e
                .message
                .split_once(": ")
                .unwrap_or(("base", e.message.as_str()));
            let judge0 = model::kiln_field(field);
            let msg = if judge0 == field {
                msg.to_string()
            } else {
                format!("{msg} (Kiln's `{field}`)")
            };
            return Judge0Error::field(judge0, msg);
        }
        if e.code == "queue_full" {
            return Judge0Error {
                status: StatusCode::SERVICE_UNAVAILABLE,
                body: json!({ "error": "queue is full" }),
                retry_after: e.retry_after,
            };
        }
        Judge0Error {
            status: e.status,
            body: json!({ "error": e.message }),
            retry_after: e.retry_after,
        }
    }
}

impl IntoResponse for Judge0Error {
    fn into_response(self) -> Response {
        let mut res = if self.body.is_null() {
            self.status.into_response()
        } else {
            (self.status, axum::Json(self.body)).into_response()
        };
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

/// Every Judge0 route with its methods (documented in docs/judge0.md, not in
/// Kiln's own `/openapi.json`).
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/submissions", &["post"]),
    ("/submissions/batch", &["get", "post"]),
    ("/submissions/{token}", &["get", "delete"]),
    ("/languages", &["get"]),
    ("/languages/all", &["get"]),
    ("/languages/{id}", &["get"]),
    ("/statuses", &["get"]),
    ("/about", &["get"]),
    ("/version", &["get"]),
    ("/config_info", &["get"]),
    ("/system_info", &["get"]),
    ("/statistics", &["get"]),
    ("/workers", &["get"]),
    ("/isolate", &["get"]),
    ("/license", &["get"]),
    ("/authenticate", &["post"]),
];

/// Judge0's routes, behind [`require_token`].
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    use axum::routing::post;
    Router::new()
        .route("/submissions", post(routes::create))
        .route(
            "/submissions/batch",
            post(routes::create_batch).get(routes::get_batch),
        )
        .route(
            "/submissions/{token}",
            get(routes::get_one).delete(routes::delete),
        )
        .route("/languages", get(routes::languages))
        .route("/languages/all", get(routes::languages_all))
        .route("/languages/{id}", get(routes::language))
        .route("/statuses", get(routes::statuses))
        .route("/about", get(routes::about))
        .route("/version", get(routes::version))
        .route("/config_info", get(routes::config_info))
        .route("/system_info", get(routes::system_info))
        .route("/statistics", get(routes::statistics))
        .route("/workers", get(routes::workers))
        .route("/isolate", get(routes::isolate))
        .route("/license", get(routes::license))
        .route("/authenticate", post(routes::authenticate))
        .route_layer(from_fn_with_state(state, require_token))
}

/// Judge0's authentication onto Kiln's API keys: the key comes as
/// `X-Auth-Token` (header or query parameter, as Judge0 takes it), or as
/// Kiln's own `Authorization: Bearer` / `X-Api-Key`. A missing or wrong key
/// is Judge0's `401` with an empty body; Kiln's per-key rate limit applies.
pub async fn require_token(
    State(app): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Result<Response, Judge0Error> {
    let mut headers = HeaderMap::new();
    for name in ["authorization", "x-api-key"] {
        if let Some(v) = req.headers().get(name) {
            headers.insert(name, v.clone());
        }
    }
    let token = req
        .headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| query_param(req.uri().query(), "X-Auth-Token"));
    if let Some(t) = token.and_then(|t| HeaderValue::from_str(t.trim()).ok()) {
        headers.insert("x-api-key", t);
    }
    let caller = app
        .auth
        .identify(&headers)
        .map_err(|_| Judge0Error::empty(StatusCode::UNAUTHORIZED))?;
    let quota = match app.limits.admit(&caller, crate::auth::peer(&req)) {
        Admission::Free => None,
        Admission::Admitted(q) => Some(q),
        Admission::Refused(q, secs) => {
            let mut res = Judge0Error {
                status: StatusCode::TOO_MANY_REQUESTS,
                body: json!({ "error": "too many requests; retry after the Retry-After seconds" }),
                retry_after: Some(secs),
            }
            .into_response();
            q.write(res.headers_mut());
            return Ok(res);
        }
    };
    req.extensions_mut().insert(caller.clone());
    let mut res = next.run(req).await;
    if let Some(q) = quota {
        q.write(res.headers_mut());
    }
    res.extensions_mut().insert(caller);
    Ok(res)
}

/// One query parameter, percent-decoded.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The body of a Judge0 callback: the default fields, base64-encoded, as
/// Judge0 sends it (`null` fields for output that cannot be shown).
pub fn callback_body(
    rec: &crate::store::SubmissionRecord,
    installed: &[crate::executor::LanguageInfo],
) -> Value {
    match model::view(rec, model::DEFAULT_FIELDS, true, installed) {
        Ok(m) => Value::Object(m),
        Err(_) => json!({ "token": rec.id }),
    }
}

#[cfg(test)]
mod tests {
    /// docs/judge0.md documents every route this dialect serves.
    #[test]
    fn every_route_is_documented() {
        let doc = include_str!("../../../../docs/judge0.md");
        for (route, methods) in super::ROUTES {
            for m in *methods {
                let line = format!("{} {route}", m.to_uppercase());
                assert!(doc.contains(&line), "docs/judge0.md lacks `{line}`");
            }
        }
    }
}
