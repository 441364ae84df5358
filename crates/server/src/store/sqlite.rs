//! [`Store`] on the embedded SQLite database.

use async_trait::async_trait;
use kiln_engine::Report;
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{NewSubmission, Store, StoreError, SubmissionRecord};

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub fn new(pool: SqlitePool) -> Self {
        SqliteStore { pool }
    }
}

const COLUMNS: &str = "id, request, callback_url, owner, status, attempt, report, created_at_ms, started_at_ms, finished_at_ms";

fn record(row: &SqliteRow) -> Result<SubmissionRecord, StoreError> {
    let status: String = row.try_get("status")?;
    let report: Option<String> = row.try_get("report")?;
    Ok(SubmissionRecord {
        id: row.try_get("id")?,
        submission: serde_json::from_str(row.try_get::<&str, _>("request")?)?,
        callback_url: row.try_get("callback_url")?,
        owner: row.try_get("owner")?,
        status: status.parse().map_err(StoreError::Status)?,
        attempt: row.try_get::<i64, _>("attempt")? as u32,
        report: report
            .map(|r| kiln_engine::stored::from_json(&r))
            .transpose()?,
        created_at_ms: row.try_get("created_at_ms")?,
        started_at_ms: row.try_get("started_at_ms")?,
        finished_at_ms: row.try_get("finished_at_ms")?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert(&self, subs: &[NewSubmission]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for s in subs {
            sqlx::query(
                "INSERT INTO submissions (id, language, request, callback_url, owner, status, created_at_ms) \
                 VALUES (?, ?, ?, ?, ?, 'queued', ?)",
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
        if ids.is_empty() {
            return Ok(());
        }
        let mut q = QueryBuilder::<Sqlite>::new("DELETE FROM submissions WHERE id IN (");
        let mut sep = q.separated(", ");
        for id in ids {
            sep.push_bind(id);
        }
        q.push(")").build().execute(&self.pool).await?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<SubmissionRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM submissions WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record).transpose()
    }

    async fn get_many(&self, ids: &[String]) -> Result<Vec<SubmissionRecord>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q =
            QueryBuilder::<Sqlite>::new(format!("SELECT {COLUMNS} FROM submissions WHERE id IN ("));
        let mut sep = q.separated(", ");
        for id in ids {
            sep.push_bind(id);
        }
        q.push(")");
        q.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record)
            .collect()
    }

    async fn mark_running(&self, id: &str, attempt: u32, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE submissions SET status = 'running', attempt = ?, started_at_ms = ? \
             WHERE id = ? AND status IN ('queued', 'running')",
        )
        .bind(i64::from(attempt))
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
            "UPDATE submissions SET status = ?, report = ?, finished_at_ms = ? \
             WHERE id = ? AND attempt = ? AND status IN ('queued', 'running')",
        )
        .bind(report.status.as_str())
        .bind(kiln_engine::stored::to_json(report)?)
        .bind(now_ms)
        .bind(id)
        .bind(i64::from(attempt))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release(&self, id: &str, attempt: u32) -> Result<(), StoreError> {
        sqlx::query("UPDATE submissions SET status = 'queued' WHERE id = ? AND attempt = ? AND status = 'running'")
            .bind(id)
            .bind(i64::from(attempt))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn requeue_interrupted(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query("UPDATE submissions SET status = 'queued' WHERE status = 'running'")
            .execute(&self.pool)
            .await?;
        let ids = sqlx::query_scalar(
            "SELECT id FROM submissions WHERE status = 'queued' ORDER BY created_at_ms, rowid",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }

    async fn count_unfinished(&self, owner: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM submissions WHERE owner = ? AND status IN ('queued', 'running')",
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
            "SELECT id FROM submissions WHERE status IN ('queued', 'running') AND created_at_ms < ? \
             ORDER BY created_at_ms LIMIT ?",
        )
        .bind(cutoff_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }

    async fn purge_finished_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM submissions WHERE finished_at_ms IS NOT NULL AND finished_at_ms < ?",
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
