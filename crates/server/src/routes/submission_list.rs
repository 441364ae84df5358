//! `GET /api/v1/submissions`: the caller's submissions, newest first, with
//! filters and a cursor. A page holds summaries (no source, no output): a
//! result's outputs and input are read one at a time from `…/{id}`, so a page
//! costs at most [`MAX_PAGE`] small rows whatever the results weigh.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::extract::State;
use axum::Extension;
use kiln_engine::Status;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Json, Query};
use crate::model::rfc3339;
use crate::store::{ListFilter, ResultSummary, SubmissionSummary};

/// Rows per page unless `limit` says otherwise.
pub const DEFAULT_PAGE: u32 = 50;
/// Most rows per page.
pub const MAX_PAGE: u32 = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<Status>,
    language: Option<String>,
    /// Created at or after this RFC 3339 time.
    since: Option<String>,
    /// Created before this RFC 3339 time.
    until: Option<String>,
    limit: Option<u32>,
    /// `next_cursor` of the page before.
    cursor: Option<String>,
}

/// One row of a page.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct ListItem {
    pub id: String,
    pub language: String,
    pub status: Status,
    /// The result without its outputs; `null` until finished.
    pub result: Option<ResultSummary>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Page {
    pub submissions: Vec<ListItem>,
    /// Pass as `cursor` for the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
}

pub async fn list(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("is {limit}; give 1 to {MAX_PAGE}"),
        ));
    }
    let filter = ListFilter {
        owner: caller.scope(),
        status: q.status,
        language: q.language.filter(|l| !l.is_empty()),
        since_ms: q
            .since
            .as_deref()
            .map(|t| time_ms("since", t))
            .transpose()?,
        until_ms: q
            .until
            .as_deref()
            .map(|t| time_ms("until", t))
            .transpose()?,
        before: q.cursor.as_deref().map(parse_cursor).transpose()?,
        limit,
    };
    let rows = app.store.list(&filter).await?;
    let next_cursor = (rows.len() == limit as usize)
        .then(|| rows.last().map(cursor))
        .flatten();
    Ok(Json(Page {
        submissions: rows.into_iter().map(item).collect(),
        next_cursor,
    }))
}

fn item(s: SubmissionSummary) -> ListItem {
    ListItem {
        id: s.id,
        language: s.language,
        status: s.status,
        result: s.result,
        created_at: rfc3339(s.created_at_ms),
        started_at: s.started_at_ms.map(rfc3339),
        finished_at: s.finished_at_ms.map(rfc3339),
    }
}

/// A cursor names the last row of a page: `<created_at_ms>_<id>`.
fn cursor(s: &SubmissionSummary) -> String {
    format!("{}_{}", s.created_at_ms, s.id)
}

fn parse_cursor(c: &str) -> Result<(i64, String), ApiError> {
    c.split_once('_')
        .and_then(|(ms, id)| Some((ms.parse().ok()?, id.to_string())))
        .filter(|(_, id)| !id.is_empty())
        .ok_or_else(|| {
            ApiError::invalid_field(
                "cursor",
                format!("{c:?} is not a cursor; pass `next_cursor` of the page before as it is"),
            )
        })
}

fn time_ms(field: &str, t: &str) -> Result<i64, ApiError> {
    let at = humantime::parse_rfc3339_weak(t).map_err(|e| {
        ApiError::invalid_field(
            field,
            format!("{t:?} is not an RFC 3339 time ({e}); write e.g. 2026-11-29T18:00:00Z"),
        )
    })?;
    let ms = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    Ok(i64::try_from(ms).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let s = SubmissionSummary {
            id: "5b2c-ab".into(),
            language: "c".into(),
            status: Status::Queued,
            result: None,
            created_at_ms: 1_700,
            started_at_ms: None,
            finished_at_ms: None,
        };
        assert_eq!(
            parse_cursor(&cursor(&s)).unwrap(),
            (1_700, "5b2c-ab".into())
        );
        for bad in ["", "x_y", "12", "12_", "_id"] {
            assert!(parse_cursor(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(time_ms("since", "1970-01-01T00:00:01Z").unwrap(), 1_000);
        assert_eq!(time_ms("since", "1970-01-01T00:00:01.5Z").unwrap(), 1_500);
        let e = time_ms("until", "yesterday").unwrap_err();
        assert!(
            e.message.contains("until") || e.message.contains("RFC 3339"),
            "{e:?}"
        );
    }
}
