//! Where submissions and their results live. [`Store`] is the interface the
//! API and the workers use; [`sqlite::SqliteStore`] is the embedded default and
//! [`postgres::PgStore`] the shared one of a scale-out deployment.
//!
//! The rule that makes results exactly-once: [`Store::finish`] is a conditional
//! update that only succeeds from `queued`/`running` with the attempt number of
//! the lease that ran the job; a second finish of the same submission is a no-op.

pub mod postgres;
mod sql;
pub mod sqlite;

use async_trait::async_trait;
use kiln_engine::{Report, Status, Submission};

/// A submission about to be stored (status `queued`).
#[derive(Debug, Clone)]
pub struct NewSubmission {
    pub id: String,
    pub submission: Submission,
    pub callback_url: Option<String>,
    /// Fingerprint of the API key that submitted it, if keys are on.
    pub owner: Option<String>,
    pub created_at_ms: i64,
}

/// A stored submission with its state.
#[derive(Debug, Clone)]
pub struct SubmissionRecord {
    pub id: String,
    pub submission: Submission,
    pub callback_url: Option<String>,
    pub owner: Option<String>,
    pub status: Status,
    /// The attempt that last started running it (0 = never started).
    pub attempt: u32,
    pub report: Option<Report>,
    pub created_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
}

/// The fields of a finished result a listing shows: everything but outputs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResultSummary {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub time_ms: u64,
    pub wall_time_ms: u64,
    pub memory_kb: u64,
    #[serde(default)]
    pub compile_time_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Tests run and tests accepted (both 0 without tests).
    pub tests: u32,
    pub tests_passed: u32,
}

impl ResultSummary {
    pub fn of(r: &Report) -> Self {
        let passed = r.tests.iter().filter(|t| t.status == Status::Accepted);
        ResultSummary {
            exit_code: r.exit_code,
            signal: r.signal,
            time_ms: r.time_ms,
            wall_time_ms: r.wall_time_ms,
            memory_kb: r.memory_kb,
            compile_time_ms: r.compile_time_ms,
            message: r.message.clone(),
            tests: u32::try_from(r.tests.len()).unwrap_or(u32::MAX),
            tests_passed: u32::try_from(passed.count()).unwrap_or(u32::MAX),
        }
    }
}

/// One row of [`Store::list`]: no source, input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmissionSummary {
    pub id: String,
    pub language: String,
    pub status: Status,
    /// `None` until finished (and for results stored before summaries existed).
    pub result: Option<ResultSummary>,
    pub created_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
}

/// Which submissions [`Store::list`] returns, newest first.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this owner's; `None`: everyone's (keys off, or an admin key).
    pub owner: Option<String>,
    pub status: Option<Status>,
    pub language: Option<String>,
    /// Created at or after (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Created before (ms since the epoch).
    pub until_ms: Option<i64>,
    /// Strictly older than this `(created_at_ms, id)`: the page cursor.
    pub before: Option<(i64, String)>,
    pub limit: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database schema migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("stored status: {0}")]
    Status(String),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores new `queued` submissions, all or none.
    async fn insert(&self, subs: &[NewSubmission]) -> Result<(), StoreError>;
    /// Removes submissions that were never queued (the queue refused them).
    async fn delete(&self, ids: &[String]) -> Result<(), StoreError>;
    async fn get(&self, id: &str) -> Result<Option<SubmissionRecord>, StoreError>;
    /// The submissions found among `ids`, in no particular order.
    async fn get_many(&self, ids: &[String]) -> Result<Vec<SubmissionRecord>, StoreError>;
    /// The submissions that match `filter`, newest first, at most `filter.limit`.
    async fn list(&self, filter: &ListFilter) -> Result<Vec<SubmissionSummary>, StoreError>;
    /// `queued`/`running` → `running` under `attempt`; false when already final.
    async fn mark_running(&self, id: &str, attempt: u32, now_ms: i64) -> Result<bool, StoreError>;
    /// Stores the final report if the submission is unfinished and `attempt`
    /// is the current one; true exactly once per submission.
    async fn finish(
        &self,
        id: &str,
        attempt: u32,
        report: &Report,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// `running` under `attempt` → `queued` again (drain: the job was not finished).
    async fn release(&self, id: &str, attempt: u32) -> Result<(), StoreError>;
    /// At start, when this process alone uses the store (embedded mode): every
    /// `running` submission of a dead process goes back to `queued`; returns the
    /// ids of all unfinished submissions, oldest first. (Shared deployments
    /// reclaim expired leases instead.)
    async fn requeue_interrupted(&self) -> Result<Vec<String>, StoreError>;
    /// Unfinished submissions of one API key.
    async fn count_unfinished(&self, owner: &str) -> Result<u64, StoreError>;
    /// Unfinished (`queued`/`running`) submissions created before `cutoff_ms`,
    /// oldest first, at most `limit` (the scale-out sweeper checks they have a job).
    async fn unfinished_before(
        &self,
        cutoff_ms: i64,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;
    /// Deletes finished submissions older than `cutoff_ms`; returns how many.
    async fn purge_finished_before(&self, cutoff_ms: i64) -> Result<u64, StoreError>;
    /// Checks the store answers.
    async fn ping(&self) -> Result<(), StoreError>;
}
