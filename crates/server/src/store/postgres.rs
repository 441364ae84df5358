//! [`Store`] on PostgreSQL, shared by every API node and worker of a scale-out
//! deployment. The schema is brought up to date at start by numbered
//! [`MIGRATIONS`] recorded in `kiln_migrations`, under an advisory lock so that
//! nodes starting together do not race. The pool reconnects by itself: while
//! the database is down, calls fail within the acquire timeout (the API answers
//! 503) and succeed again once it is back.

use std::time::Duration;

use async_trait::async_trait;
use kiln_engine::Report;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::Row;

use super::{NewSubmission, Store, StoreError, SubmissionRecord};

/// Versioned schema steps; step `i` is version `i + 1`. Append, never edit.
pub const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE submissions (
    id             TEXT PRIMARY KEY,
    language       TEXT NOT NULL,
    request        TEXT NOT NULL,
    callback_url   TEXT,
    owner          TEXT,
    status         TEXT NOT NULL,
    attempt        INTEGER NOT NULL DEFAULT 0,
    report         TEXT,
    created_at_ms  BIGINT NOT NULL,
    started_at_ms  BIGINT,
    finished_at_ms BIGINT
);
CREATE INDEX submissions_unfinished ON submissions(created_at_ms) WHERE status IN ('queued', 'running');
CREATE INDEX submissions_owner ON submissions(owner, status) WHERE owner IS NOT NULL;
CREATE INDEX submissions_finished ON submissions(finished_at_ms) WHERE finished_at_ms IS NOT NULL;
"#];

/// Arbitrary key of the advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x6b69_6c6e; // "kiln"

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host/db`) and migrates.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(3))
            .connect(url)
            .await?;
        migrate(&pool).await?;
        Ok(PgStore { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Runs the migrations not yet recorded, in one transaction.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS kiln_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&mut *tx)
    .await?;
    let version: Option<i32> = sqlx::query_scalar("SELECT max(version) FROM kiln_migrations")
        .fetch_one(&mut *tx)
        .await?;
    for (i, step) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(version.unwrap_or(0).max(0) as usize)
    {
        sqlx::raw_sql(step).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO kiln_migrations (version) VALUES ($1)")
            .bind((i + 1) as i32)
            .execute(&mut *tx)
            .await?;
        tracing::info!(version = i + 1, "postgres: applied migration");
    }
    tx.commit().await
}

const COLUMNS: &str = "id, request, callback_url, owner, status, attempt, report, created_at_ms, started_at_ms, finished_at_ms";

fn record(row: &PgRow) -> Result<SubmissionRecord, StoreError> {
    let status: String = row.try_get("status")?;
    let report: Option<String> = row.try_get("report")?;
    Ok(SubmissionRecord {
        id: row.try_get("id")?,
        submission: serde_json::from_str(row.try_get::<&str, _>("request")?)?,
        callback_url: row.try_get("callback_url")?,
        owner: row.try_get("owner")?,
        status: status.parse().map_err(StoreError::Status)?,
        attempt: row.try_get::<i32, _>("attempt")? as u32,
        report: report
            .map(|r| kiln_engine::stored::from_json(&r))
            .transpose()?,
        created_at_ms: row.try_get("created_at_ms")?,
        started_at_ms: row.try_get("started_at_ms")?,
        finished_at_ms: row.try_get("finished_at_ms")?,
    })
}

#[async_trait]
impl Store for PgStore {
    async fn insert(&self, subs: &[NewSubmission]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for s in subs {
            sqlx::query(
                "INSERT INTO submissions (id, language, request, callback_url, owner, status, created_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, 'queued', $6)",
            )
            .bind(&s.id)
            .bind(&s.submission.language)
            .bind(serde_json::to_string(&s.submission)?)
            .bind(&s.callback_url)
            .bind(&s.owner)
            .bind(s.created_at_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn delete(&self, ids: &[String]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM submissions WHERE id = ANY($1)")
            .bind(ids)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<SubmissionRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM submissions WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record).transpose()
    }

    async fn get_many(&self, ids: &[String]) -> Result<Vec<SubmissionRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM submissions WHERE id = ANY($1)"
        ))
        .bind(ids)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(record)
        .collect()
    }

    async fn mark_running(&self, id: &str, attempt: u32, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE submissions SET status = 'running', attempt = $1, started_at_ms = $2 \
             WHERE id = $3 AND status IN ('queued', 'running')",
        )
        .bind(attempt as i32)
        .bind(now_ms)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish(
        &self,
        id: &str,
        attempt: u32,
        report: &Report,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE submissions SET status = $1, report = $2, finished_at_ms = $3 \
             WHERE id = $4 AND attempt = $5 AND status IN ('queued', 'running')",
        )
        .bind(report.status.as_str())
        .bind(kiln_engine::stored::to_json(report)?)
        .bind(now_ms)
        .bind(id)
        .bind(attempt as i32)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release(&self, id: &str, attempt: u32) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE submissions SET status = 'queued' WHERE id = $1 AND attempt = $2 AND status = 'running'",
        )
        .bind(id)
        .bind(attempt as i32)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn requeue_interrupted(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query("UPDATE submissions SET status = 'queued' WHERE status = 'running'")
            .execute(&self.pool)
            .await?;
        let ids = sqlx::query_scalar(
            "SELECT id FROM submissions WHERE status = 'queued' ORDER BY created_at_ms, id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }

    async fn count_unfinished(&self, owner: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM submissions WHERE owner = $1 AND status IN ('queued', 'running')",
        )
        .bind(owner)
        .fetch_one(&self.pool)
        .await?;
        Ok(n as u64)
    }

    async fn unfinished_before(
        &self,
        cutoff_ms: i64,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let ids = sqlx::query_scalar(
            "SELECT id FROM submissions WHERE status IN ('queued', 'running') AND created_at_ms < $1 \
             ORDER BY created_at_ms LIMIT $2",
        )
        .bind(cutoff_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }

    async fn purge_finished_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM submissions WHERE finished_at_ms IS NOT NULL AND finished_at_ms < $1",
        )
        .bind(cutoff_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
