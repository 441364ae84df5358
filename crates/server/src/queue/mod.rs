//! The job queue between the API and the workers. [`Queue`] is bounded (a full
//! queue refuses with [`QueueError::Full`], which the API answers with 503) and
//! leases jobs: a dequeued job stays in the queue until it is acknowledged, so
//! a job whose worker died runs again. [`sqlite::SqliteQueue`] is the embedded
//! default; [`redis::RedisQueue`] (Redis Streams, shared by many processes)
//! is the scale-out one. [`seen::FleetSeen`] keeps the fleet as `/health`
//! last read it.

pub mod redis;
pub mod seen;
pub mod sqlite;

use std::time::Duration;

use async_trait::async_trait;

/// A job handed to one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: String,
    /// 1 for the first run of the job, 2 after one interrupted run, …
    pub attempt: u32,
    pub enqueued_at_ms: i64,
    /// The queue's own handle of this delivery (the stream entry id in Redis;
    /// empty in SQLite).
    pub token: String,
}

/// One live worker process of a shared queue, as its last heartbeat said.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FleetWorker {
    /// Its consumer name in the group (`host-pid-tag`).
    pub consumer: String,
    pub host: String,
    pub pid: u32,
    /// Workers (job slots) it runs.
    pub workers: u64,
    /// Its last heartbeat (ms since the epoch).
    pub at_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the queue is full ({capacity} jobs waiting)")]
    Full { capacity: u64 },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
}

#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Adds jobs, all or none; `Full` when they do not all fit.
    async fn enqueue(&self, ids: &[String], now_ms: i64) -> Result<(), QueueError>;
    /// The oldest waiting job, leased to the caller; waits up to `wait` for one.
    async fn dequeue(&self, wait: Duration) -> Result<Option<Lease>, QueueError>;
    /// Heartbeat of the worker running `lease`: its lease starts again. False
    /// when the delivery no longer holds the job (it was reclaimed). A queue
    /// used by one process alone (embedded) has nothing to renew.
    async fn renew(&self, _lease: &Lease) -> Result<bool, QueueError> {
        Ok(true)
    }
    /// The job is done (its result is stored): remove it.
    async fn ack(&self, lease: &Lease) -> Result<(), QueueError>;
    /// The job was not done: make it available again.
    async fn requeue(&self, lease: &Lease) -> Result<(), QueueError>;
    /// At start, when this process alone uses the queue (embedded mode): leases
    /// of a previous process are given back, and every unfinished submission in
    /// `ids` gets a job if it lost its own.
    async fn recover(&self, ids: &[String], now_ms: i64) -> Result<(), QueueError>;
    /// The live workers of the whole fleet (their heartbeats); `None` when
    /// this queue has no fleet (embedded: the process's own workers are all).
    async fn fleet(&self) -> Result<Option<Vec<FleetWorker>>, QueueError> {
        Ok(None)
    }
    /// Heartbeat of this process, which runs `workers` workers.
    async fn announce(&self, _workers: usize) -> Result<(), QueueError> {
        Ok(())
    }
    /// A sentence when the queue cannot keep an accepted job through its own
    /// crash (for the start-up log and `/health`).
    async fn durability_warning(&self) -> Result<Option<String>, QueueError> {
        Ok(None)
    }
    /// Jobs waiting (not leased).
    async fn depth(&self) -> Result<u64, QueueError>;
    fn capacity(&self) -> u64;
    /// The job ran out of attempts: record it where operators look for such
    /// jobs, before its `internal_error` result is stored. Returns a sentence
    /// saying where it went (for that result's message), or `None` when this
    /// queue keeps no such record.
    async fn dead_letter(
        &self,
        _lease: &Lease,
        _reason: &str,
    ) -> Result<Option<String>, QueueError> {
        Ok(None)
    }
}
