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

/// Which API's callback a submission asked for: how it is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CallbackKind {
    /// `POST` of Kiln's result JSON.
    #[default]
    Kiln,
    /// `PUT` of Judge0's submission JSON (default fields, base64), as Judge0 does.
    Judge0,
}

impl CallbackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackKind::Kiln => "kiln",
            CallbackKind::Judge0 => "judge0",
        }
    }

    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("judge0") => CallbackKind::Judge0,
            _ => CallbackKind::Kiln,
        }
    }
}

/// Where a submission's callback stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallbackStatus {
    /// `pending` (to be sent, or between retries), `delivered` or `failed`.
    pub state: String,
    /// Deliveries tried so far.
    pub attempts: u32,
    /// The last failure, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was delivered, or given up (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
}

/// A callback due now, claimed by this node for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackJob {
    pub id: String,
    pub url: String,
    pub kind: CallbackKind,
    /// Deliveries tried before this one.
    pub attempts: u32,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    Delivered,
    /// Failed; try again at `next_at_ms`.
    Retry {
        error: String,
        next_at_ms: i64,
    },
    /// Failed for the last time.
    Failed {
        error: String,
    },
}

/// A submission about to be stored (status `queued`).
#[derive(Debug, Clone)]
pub struct NewSubmission {
    pub id: String,
    pub submission: Submission,
    pub callback_url: Option<String>,
    pub callback_kind: CallbackKind,
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
    pub callback_kind: CallbackKind,
    /// `None` without a callback, or before the result is final.
    pub callback: Option<CallbackStatus>,
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

/// How durable one write's commit must be. The promises: a `202` survives a
/// crash (the enqueue that precedes it is durable and, in the embedded
/// database, its commit also flushes the submission's row written just before
/// it), and a result is durable before anyone can read it. Everything else a
/// crash may lose, because a restart or a lease repairs it (a lost lease or
/// `running` mark is requeued, a lost ack makes a finished job be acked
/// again, a lost callback outcome is retried). The embedded SQLite database
/// in WAL mode commits `Lazy` writes without an fsync (`synchronous=NORMAL`);
/// the next durable commit's fsync covers them: two fsyncs per submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Fsynced before the commit returns (the configured level).
    Durable,
    /// May be lost in a crash of the machine.
    Lazy,
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
    /// Callbacks due at `now_ms`, oldest first, at most `limit`, each claimed
    /// for `hold_ms` (another node skips it meanwhile; a node that dies
    /// holding one only delays it by `hold_ms`).
    async fn claim_callbacks(
        &self,
        now_ms: i64,
        hold_ms: i64,
        limit: u32,
    ) -> Result<Vec<CallbackJob>, StoreError>;
    /// Records the outcome of one delivery attempt of `id`'s callback.
    async fn callback_done(
        &self,
        id: &str,
        outcome: &CallbackOutcome,
        now_ms: i64,
    ) -> Result<(), StoreError>;
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
