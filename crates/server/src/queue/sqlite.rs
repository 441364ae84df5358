//! [`Queue`] on the embedded SQLite database: a `jobs` table ordered by
//! insertion, a leased flag, and an in-process [`Notify`] that wakes idle
//! workers without polling. One process owns a data directory at a time (see
//! [`crate::app`]), so the leases of a previous process are all stale at start.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::SqlitePool;
use sqlx::Row;
use tokio::sync::Notify;

use super::{Lease, Queue, QueueError};
use crate::store::Durability;

pub struct SqliteQueue {
    pool: SqlitePool,
    capacity: u64,
    ready: Notify,
    /// Connections at `synchronous=NORMAL` for the writes a crash may lose;
    /// the same pool when none was given.
    lazy: SqlitePool,
}

impl SqliteQueue {
    /// A queue whose durable writes (the enqueue) are fsynced.
    pub fn new(pool: SqlitePool, capacity: u64) -> Self {
        SqliteQueue {
            lazy: pool.clone(),
            pool,
            capacity,
            ready: Notify::new(),
        }
    }

    /// Lazy writes go through `lazy` (`crate::sqlite::open_lazy`).
    pub fn with_lazy(self, lazy: SqlitePool) -> Self {
        SqliteQueue { lazy, ..self }
    }

    /// See [`crate::store::Durability`]: only the enqueue (the 202's promise)
    /// and the recovery at start are durable; a lost lease, ack or requeue is
    /// repaired at the next start (every lease is stale then, and a job whose
    /// submission is final is acked again).
    fn writer(&self, d: Durability) -> &SqlitePool {
        match d {
            Durability::Durable => &self.pool,
            Durability::Lazy => &self.lazy,
        }
    }

    async fn try_lease(&self) -> Result<Option<Lease>, QueueError> {
        let row = sqlx::query(
            "UPDATE jobs SET leased = 1, attempt = attempt + 1 \
             WHERE seq = (SELECT seq FROM jobs WHERE leased = 0 ORDER BY seq LIMIT 1) \
             RETURNING submission_id, attempt, enqueued_at_ms",
        )
        .fetch_optional(self.writer(Durability::Lazy))
        .await?;
        Ok(match row {
            None => None,
            Some(row) => Some(Lease {
                id: row.try_get("submission_id")?,
                attempt: row.try_get::<i64, _>("attempt")? as u32,
                enqueued_at_ms: row.try_get("enqueued_at_ms")?,
                token: String::new(),
            }),
        })
    }

    fn wake(&self, n: usize) {
        for _ in 0..n {
            self.ready.notify_one();
        }
    }
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn enqueue(&self, ids: &[String], now_ms: i64) -> Result<(), QueueError> {
        let Some((first, rest)) = ids.split_first() else {
            return Ok(());
        };
        let mut tx = self.writer(Durability::Durable).begin().await?;
        // The first statement writes, so the transaction holds the write lock
        // from its start and the capacity check cannot race another enqueue.
        let fits = sqlx::query(
            "INSERT INTO jobs (submission_id, enqueued_at_ms) SELECT ?, ? \
             WHERE (SELECT COUNT(*) FROM jobs WHERE leased = 0) + ? <= ?",
        )
        .bind(first)
        .bind(now_ms)
        .bind(ids.len() as i64)
        .bind(self.capacity as i64)
        .execute(&mut *tx)
        .await?;
        if fits.rows_affected() == 0 {
            return Err(QueueError::Full {
                capacity: self.capacity,
            });
        }
        for id in rest {
            sqlx::query("INSERT INTO jobs (submission_id, enqueued_at_ms) VALUES (?, ?)")
                .bind(id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.wake(ids.len());
        Ok(())
    }

    async fn dequeue(&self, wait: Duration) -> Result<Option<Lease>, QueueError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.ready.notified();
            if let Some(lease) = self.try_lease().await? {
                return Ok(Some(lease));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(None);
            }
        }
    }

    async fn ack(&self, lease: &Lease) -> Result<(), QueueError> {
        sqlx::query("DELETE FROM jobs WHERE submission_id = ? AND attempt = ?")
            .bind(&lease.id)
            .bind(i64::from(lease.attempt))
            .execute(self.writer(Durability::Lazy))
            .await?;
        Ok(())
    }

    async fn requeue(&self, lease: &Lease) -> Result<(), QueueError> {
        sqlx::query("UPDATE jobs SET leased = 0 WHERE submission_id = ? AND attempt = ?")
            .bind(&lease.id)
            .bind(i64::from(lease.attempt))
            .execute(self.writer(Durability::Lazy))
            .await?;
        self.wake(1);
        Ok(())
    }

    async fn recover(&self, ids: &[String], now_ms: i64) -> Result<(), QueueError> {
        let mut tx = self.writer(Durability::Durable).begin().await?;
        sqlx::query("UPDATE jobs SET leased = 0 WHERE leased = 1")
            .execute(&mut *tx)
            .await?;
        for id in ids {
            sqlx::query("INSERT OR IGNORE INTO jobs (submission_id, enqueued_at_ms) VALUES (?, ?)")
                .bind(id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.wake(ids.len());
        Ok(())
    }

    async fn depth(&self) -> Result<u64, QueueError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE leased = 0")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    fn capacity(&self) -> u64 {
        self.capacity
    }
}
