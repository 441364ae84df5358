//! `POST /api/v1/submissions` (with `?wait=true`), `GET …/{id}`, and the batch
//! forms; the result routes take `?encoding=base64` for the exact output bytes. A submission is stored, then enqueued; a full queue removes it again
//! and answers 503, so a 202 always means "stored and queued".

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use kiln_engine::Status;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::app::AppState;
use crate::auth::Caller;
use crate::config::MAX_BATCH;
use crate::error::{ApiError, Json, Path, Query};
use crate::model::{
    Accepted, BatchRequest, Encoding, SubmissionRequest, SubmissionView, ValidSubmission, Validator,
};
use crate::store::{NewSubmission, SubmissionRecord};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateQuery {
    #[serde(default)]
    wait: bool,
    /// How the output fields of a result are written (with `wait=true`).
    #[serde(default)]
    encoding: Encoding,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetQuery {
    #[serde(default)]
    encoding: Encoding,
    /// `input`: the result echoes what was submitted (source files, stdin,
    /// args, tests and the limits applied).
    #[serde(default)]
    include: Include,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchQuery {
    ids: String,
    #[serde(default)]
    encoding: Encoding,
    #[serde(default)]
    include: Include,
}

/// `?include=`: optional parts of a result.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Include {
    #[default]
    Result,
    /// The result and the submission's input.
    Input,
}

impl Include {
    fn view(
        self,
        tails: &crate::stages::Tails,
        rec: SubmissionRecord,
        enc: Encoding,
    ) -> SubmissionView {
        let input = (self == Include::Input).then(|| rec.submission.clone());
        let mut view = SubmissionView {
            input,
            ..SubmissionView::from_record(rec, enc)
        };
        tails.fill(&view.id, &mut view.stages);
        view
    }
}

pub async fn create(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<CreateQuery>,
    Json(req): Json<SubmissionRequest>,
) -> Result<Response, ApiError> {
    let valid = validate(&app, req, "").await?;
    let ids = accept(&app, &caller, vec![valid]).await?;
    let id = ids.into_iter().next().expect("one id per submission");
    if q.wait {
        if let Some(rec) = wait_finished(&app, &id).await? {
            let mut view = SubmissionView::from_record(rec, q.encoding);
            app.stage_tails.fill(&view.id, &mut view.stages);
            return Ok(view.into_response(StatusCode::OK));
        }
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(Accepted {
            id,
            status: Status::Queued,
        }),
    )
        .into_response())
}

pub async fn create_batch(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Json(req): Json<BatchRequest>,
) -> Result<Response, ApiError> {
    let n = req.submissions.len();
    if n == 0 || n > MAX_BATCH {
        return Err(ApiError::invalid_field(
            "submissions",
            format!("has {n} items; give 1 to {MAX_BATCH}"),
        ));
    }
    let mut valid = Vec::with_capacity(n);
    for (i, sub) in req.submissions.into_iter().enumerate() {
        valid.push(validate(&app, sub, &format!("submissions[{i}].")).await?);
    }
    let ids = accept(&app, &caller, valid).await?;
    let list: Vec<Accepted> = ids
        .into_iter()
        .map(|id| Accepted {
            id,
            status: Status::Queued,
        })
        .collect();
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "submissions": list })),
    )
        .into_response())
}

pub async fn get_one(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<GetQuery>,
) -> Result<Response, ApiError> {
    match readable(&app, &caller, &id).await? {
        Some(rec) => Ok(q.include.view(&app.stage_tails, rec, q.encoding).into_response(StatusCode::OK)),
        None => Err(ApiError::not_found(format!(
            "no submission with id {id:?} for this API key (results are kept for the retention period)"
        ))),
    }
}

/// The submission `id` when it exists and `caller` may read it (see
/// [`Caller::may_read`]): every route that reads a submission by id asks here.
pub(crate) async fn readable(
    app: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Option<SubmissionRecord>, ApiError> {
    Ok(app
        .store
        .get(id)
        .await?
        .filter(|r| caller.may_read(r.owner.as_deref())))
}

/// The submissions among `ids` that exist and `caller` may read.
pub(crate) async fn readable_many(
    app: &AppState,
    caller: &Caller,
    ids: &[String],
) -> Result<Vec<SubmissionRecord>, ApiError> {
    let mut found = app.store.get_many(ids).await?;
    found.retain(|r| caller.may_read(r.owner.as_deref()));
    Ok(found)
}

pub async fn get_batch(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<BatchQuery>,
) -> Result<Response, ApiError> {
    let ids: Vec<String> = q
        .ids
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if ids.is_empty() || ids.len() > MAX_BATCH {
        return Err(ApiError::invalid_field(
            "ids",
            format!(
                "has {} ids; give 1 to {MAX_BATCH}, comma-separated",
                ids.len()
            ),
        ));
    }
    let mut found = readable_many(&app, &caller, &ids).await?;
    let list: Vec<Option<SubmissionView>> = ids
        .iter()
        .enumerate()
        .map(|(k, id)| {
            let i = found.iter().position(|r| &r.id == id)?;
            // A record is dropped once its (last) view is made.
            let rec = if ids[k + 1..].contains(id) {
                found[i].clone()
            } else {
                found.swap_remove(i)
            };
            Some(q.include.view(&app.stage_tails, rec, q.encoding))
        })
        .collect();
    #[derive(serde::Serialize)]
    struct Batch {
        submissions: Vec<Option<SubmissionView>>,
    }
    let hint = list
        .iter()
        .flatten()
        .map(SubmissionView::json_len_hint)
        .sum::<usize>()
        + 64;
    Ok(crate::model::json_response(
        StatusCode::OK,
        Batch { submissions: list },
        hint,
    ))
}

pub(crate) async fn validate(
    app: &AppState,
    req: SubmissionRequest,
    prefix: &str,
) -> Result<ValidSubmission, ApiError> {
    if app.is_draining() {
        return Err(ApiError::unavailable(
            "shutting_down",
            "the server is shutting down; retry on another instance or later",
            5,
        ));
    }
    let valid = Validator {
        config: &app.config,
        executor: app.executor.as_ref(),
    }
    .check(req, prefix)?;
    if let Some(url) = &valid.callback_url {
        crate::callback::resolve_allowed(url, app.callbacks.allow_private)
            .await
            .map_err(|m| ApiError::invalid_field(&format!("{prefix}callback_url"), m))?;
    }
    Ok(valid)
}

/// Stores and enqueues; returns the new ids.
pub(crate) async fn accept(
    app: &AppState,
    caller: &Caller,
    subs: Vec<ValidSubmission>,
) -> Result<Vec<String>, ApiError> {
    if let Some(owner) = &caller.key {
        let cap = app.config.api.max_queued_per_key;
        if cap > 0 && app.store.count_unfinished(owner).await? + subs.len() as u64 > cap {
            return Err(ApiError {
                retry_after: Some(1),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_queued",
                    format!("this API key already has up to {cap} unfinished submissions; wait for some to finish"),
                )
            });
        }
    }
    let now = crate::now_ms();
    let new: Vec<NewSubmission> = subs
        .into_iter()
        .map(|v| NewSubmission {
            id: uuid::Uuid::new_v4().to_string(),
            submission: v.submission,
            callback_url: v.callback_url.map(String::from),
            callback_kind: v.callback_kind,
            owner: caller.key.clone(),
            created_at_ms: now,
        })
        .collect();
    let ids: Vec<String> = new.iter().map(|s| s.id.clone()).collect();
    app.store.insert(&new).await?;
    // Enqueued when stored: the gap from `created_at_ms` is the `accept` stage.
    if let Err(e) = app.queue.enqueue(&ids, crate::now_ms()).await {
        if let Err(del) = app.store.delete(&ids).await {
            tracing::error!(error = %del, "could not remove refused submissions; they run at the next start");
        }
        return Err(e.into());
    }
    metrics::counter!(crate::metrics::SUBMISSIONS).increment(ids.len() as u64);
    Ok(ids)
}

/// Waits (at most `max_wait`, less if the server drains) for a result.
pub(crate) async fn wait_finished(
    app: &AppState,
    id: &str,
) -> Result<Option<SubmissionRecord>, ApiError> {
    let mut rx = app.finished.subscribe();
    let deadline = tokio::time::Instant::now() + app.config.api.max_wait();
    let mut abort = app.abort.subscribe();
    loop {
        if let Some(rec) = app.store.get(id).await? {
            if rec.status.is_final() {
                return Ok(Some(rec));
            }
        }
        loop {
            tokio::select! {
                got = rx.recv() => match got {
                    Ok(done) if &*done == id || &*done == crate::notify::RECHECK => break,
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return Ok(None),
                },
                _ = tokio::time::sleep_until(deadline) => return Ok(None),
                _ = abort.wait_for(|v| *v) => return Ok(None),
            }
        }
    }
}
