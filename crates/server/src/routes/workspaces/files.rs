//! The file tree of a workspace: list a directory, remove, rename, make a
//! directory, and tar archives of a directory streamed both ways (see
//! `kiln_workspace::files` and `kiln_workspace::archive`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use serde_json::json;

use super::{api_error, manager, owner, pump, stream_parts, workspace_id};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Json, Path, Query};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirQuery {
    path: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveQuery {
    path: String,
    #[serde(default)]
    recursive: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MkdirQuery {
    path: String,
    #[serde(default)]
    parents: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameBody {
    from: String,
    to: String,
}

pub async fn list_dir(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<DirQuery>,
) -> Result<Response, ApiError> {
    let entries = manager(&app)?
        .list_dir(&owner(&caller), workspace_id(&id)?, &q.path)
        .await
        .map_err(api_error)?;
    Ok(axum::Json(json!({ "path": q.path, "entries": entries })).into_response())
}

pub async fn remove(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<RemoveQuery>,
) -> Result<Response, ApiError> {
    manager(&app)?
        .remove_path(&owner(&caller), workspace_id(&id)?, &q.path, q.recursive)
        .await
        .map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn rename(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(b): Json<RenameBody>,
) -> Result<Response, ApiError> {
    manager(&app)?
        .rename_path(&owner(&caller), workspace_id(&id)?, &b.from, &b.to)
        .await
        .map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn mkdir(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<MkdirQuery>,
) -> Result<Response, ApiError> {
    manager(&app)?
        .make_dir(&owner(&caller), workspace_id(&id)?, &q.path, q.parents)
        .await
        .map_err(api_error)?;
    Ok(StatusCode::CREATED.into_response())
}

/// Streams a tar of the directory.
pub async fn get_archive(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<DirQuery>,
) -> Result<Response, ApiError> {
    let download = manager(&app)?
        .download_archive(&owner(&caller), workspace_id(&id)?, &q.path)
        .await
        .map_err(api_error)?;
    Ok(stream_parts(download, "application/x-tar"))
}

/// Unpacks a tar body into the directory as it arrives.
pub async fn put_archive(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<DirQuery>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let mut upload = manager(&app)?
        .upload_archive(&owner(&caller), workspace_id(&id)?, &q.path)
        .await
        .map_err(api_error)?;
    pump(body, &mut upload).await?;
    let done = upload.finish().map_err(api_error)?;
    Ok(axum::Json(done).into_response())
}
