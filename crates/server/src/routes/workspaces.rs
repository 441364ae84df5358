//! `/api/v1/templates` and `/api/v1/workspaces…`: the workspace API of
//! docs/workspaces.md (lifecycle, exec, files, the reconnecting terminal).
//! The owner of a workspace is the caller's API-key fingerprint, or
//! `anonymous` when keys are off; other owners' workspaces answer 404.
//!
//! Module map: this file, templates, lifecycle, exec and files; [`files`],
//! the file tree (list, remove, rename, mkdir, tar archives); [`pty`], the
//! reconnecting terminal's WebSocket.

pub mod files;
mod pty;

pub use pty::pty;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use kiln_workspace::transfer::{Parts, Sink};
use kiln_workspace::{CreateRequest, ExecRequest, Manager, Status, WorkspaceError};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Json, Path, Query};

fn owner(c: &Caller) -> String {
    c.key.clone().unwrap_or_else(|| "anonymous".into())
}

fn manager(app: &AppState) -> Result<&Arc<Manager>, ApiError> {
    app.workspaces.as_ref().map_err(|why| {
        ApiError::unavailable(
            "workspaces_unavailable",
            format!("workspaces are not available on this server: {why}"),
            60,
        )
    })
}

pub(crate) fn api_error(e: WorkspaceError) -> ApiError {
    let (status, code) = http_of(&e);
    if status.is_server_error() {
        tracing::error!(error = %e, "workspace operation failed");
    }
    let mut err = ApiError::new(status, code, e.to_string());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        err.retry_after = Some(5);
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        err.retry_after = Some(1);
    }
    err
}

/// The HTTP status and the stable snake_case code each workspace error
/// answers with (the workspace crate knows nothing of HTTP).
fn http_of(e: &WorkspaceError) -> (StatusCode, &'static str) {
    use WorkspaceError as W;
    match e {
        W::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid_field"),
        W::FileRefused(_) => (StatusCode::BAD_REQUEST, "file_refused"),
        W::Quota(_) => (StatusCode::FORBIDDEN, "quota_exceeded"),
        W::NotFound(_) | W::FileMissing(_) => (StatusCode::NOT_FOUND, "not_found"),
        W::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        W::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        W::Busy(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_transfers"),
        W::Capacity(_) => (StatusCode::SERVICE_UNAVAILABLE, "at_capacity"),
        W::Sandbox(_) | W::Io { .. } | W::Config(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
        }
    }
}

/// An id that is not a UUID names no workspace.
fn workspace_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found(format!("no workspace {id}")))
}

pub async fn templates(State(app): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let m = manager(&app)?;
    Ok(axum::Json(json!({ "templates": m.templates() })).into_response())
}

pub async fn create(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Json(req): Json<CreateRequest>,
) -> Result<Response, ApiError> {
    let w = manager(&app)?
        .create(&owner(&caller), req)
        .map_err(api_error)?;
    Ok((StatusCode::CREATED, axum::Json(w)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    name_prefix: Option<String>,
}

pub async fn list(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            let all: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::invalid_field("status", format!("{s:?} is not one of {}", all.join(", ")))
        })?),
    };
    let list = manager(&app)?.list(&owner(&caller), status, q.name_prefix.as_deref());
    Ok(axum::Json(json!({ "workspaces": list })).into_response())
}

pub async fn get_one(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let w = manager(&app)?
        .get(&owner(&caller), workspace_id(&id)?)
        .map_err(api_error)?;
    Ok(axum::Json(w).into_response())
}

pub async fn stop(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let w = manager(&app)?
        .stop(&owner(&caller), workspace_id(&id)?)
        .map_err(api_error)?;
    Ok((StatusCode::ACCEPTED, axum::Json(w)).into_response())
}

pub async fn start(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let w = manager(&app)?
        .start(&owner(&caller), workspace_id(&id)?)
        .map_err(api_error)?;
    Ok((StatusCode::ACCEPTED, axum::Json(w)).into_response())
}

pub async fn delete(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let w = manager(&app)?
        .delete(&owner(&caller), workspace_id(&id)?)
        .map_err(api_error)?;
    Ok((StatusCode::ACCEPTED, axum::Json(w)).into_response())
}

pub async fn exec(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(req): Json<ExecRequest>,
) -> Result<Response, ApiError> {
    let out = manager(&app)?
        .exec(&owner(&caller), workspace_id(&id)?, req)
        .await
        .map_err(api_error)?;
    Ok(axum::Json(out).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileQuery {
    path: String,
}

/// Streams a transfer: the next part is read from the box only when the
/// client took the last one (see `kiln_workspace::transfer`).
pub(crate) fn stream_parts<P: Parts>(parts: P, content_type: &'static str) -> Response {
    let parts = futures_util::stream::unfold(parts, |mut d| async move {
        match d.next_part().await {
            Ok(Some(part)) => Some((Ok(Bytes::from(part)), d)),
            Ok(None) => None,
            Err(e) => {
                // Headers are sent: all that is left is to cut the body short.
                tracing::warn!(error = %e, "a workspace download failed midway");
                Some((Err(std::io::Error::other(e.to_string())), d))
            }
        }
    });
    (
        [(header::CONTENT_TYPE, content_type)],
        axum::body::Body::from_stream(parts),
    )
        .into_response()
}

/// Hands the body to a transfer as it arrives (never the whole body in memory).
pub(crate) async fn pump<S: Sink>(body: axum::body::Body, sink: &mut S) -> Result<(), ApiError> {
    use futures_util::StreamExt;
    let mut data = body.into_data_stream();
    while let Some(chunk) = data.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::invalid_field("body", format!("the upload was cut short: {e}"))
        })?;
        sink.take(&chunk).await.map_err(api_error)?;
    }
    Ok(())
}

/// Streams the file.
pub async fn get_file(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Result<Response, ApiError> {
    let download = manager(&app)?
        .download(&owner(&caller), workspace_id(&id)?, &q.path)
        .await
        .map_err(api_error)?;
    Ok(stream_parts(download, "application/octet-stream"))
}

/// Writes the body into the file as it arrives.
pub async fn put_file(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<FileQuery>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let mut upload = manager(&app)?
        .upload(&owner(&caller), workspace_id(&id)?, &q.path)
        .await
        .map_err(api_error)?;
    pump(body, &mut upload).await?;
    upload.finish().await.map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
