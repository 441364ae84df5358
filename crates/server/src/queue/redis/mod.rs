//! [`Queue`] on a Redis stream shared by any number of API nodes and workers.
//!
//! - Jobs are entries of [`STREAM`] (`id`, `enqueued_at_ms`, `prior` = attempts
//!   used by earlier entries of the same job), read by the consumer group
//!   [`GROUP`] with `XREADGROUP … BLOCK` on connections of their own (a blocking
//!   read holds its connection, and the shared one times out after seconds).
//! - Enqueue is one Lua script: the capacity check (entries not yet delivered)
//!   and the `XADD`s happen atomically; a set [`IDS`] holds the submissions that
//!   have an entry, so a sweeper can re-enqueue the ones that lost theirs.
//! - A job is acknowledged (`XACK` + `XDEL` + `SREM`) only after its result is
//!   stored, and only by the delivery that holds it: a worker whose lease ran out
//!   cannot ack the entry another worker has reclaimed since.
//! - While a job runs, its worker renews the lease (heartbeat, [`RENEW_TAIL`]:
//!   the entry's idle time starts again), so the lease can be short whatever
//!   a job's limits. Entries idle longer than the lease (their worker died or
//!   stopped renewing) are taken over with `XAUTOCLAIM`; the attempt is
//!   `prior` + the entry's delivery count. Beyond the retry limit the worker records the job in [`DEAD_LETTER`] and fails it.
//! - Every node with workers announces itself every few seconds
//!   ([`fleet`]): API nodes report the fleet's live workers, and the consumers
//!   of dead workers leave the group once they hold no job.
//! - All keys take an optional prefix ([`Names`]), so deployments can share a Redis.
//! - Depth is the entries not yet delivered: `XLEN` − pending (acked entries are
//!   deleted, so the stream holds only waiting and running jobs).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingCountReply};
use redis::{AsyncConnectionConfig, Client, RedisError};
use tokio::sync::Mutex;

use super::{Lease, QueueError};

mod fleet;
mod jobs;
mod names;
mod scripts;

pub use fleet::{ANNOUNCE_EVERY, LIVE_WITHIN};
pub use names::{Names, DEAD_LETTER, GROUP, IDS, STREAM};
use scripts::{ENQUEUE, OWNS};

pub struct RedisQueue {
    client: Client,
    capacity: u64,
    /// Entries idle longer than this are reclaimed from their (dead) worker.
    lease: Duration,
    /// This process's consumer name in the group.
    consumer: String,
    /// This machine's host name (for the fleet listing).
    host: String,
    shared: Mutex<Option<ConnectionManager>>,
    /// Idle blocking connections, one per concurrent `dequeue`.
    blocking: Mutex<Vec<MultiplexedConnection>>,
    /// When this process last looked for expired leases (ms since the epoch).
    last_claim_ms: AtomicI64,
    /// The keys of this deployment (an optional prefix before each).
    names: Names,
}

impl RedisQueue {
    /// A queue on `url` (`redis://host:6379/0`). Connects lazily: a Redis that is
    /// down makes calls fail (and `/health` say so), not the start.
    pub fn new(url: &str, capacity: u64, lease: Duration) -> Result<RedisQueue, RedisError> {
        RedisQueue::with_names(url, capacity, lease, Names::default())
    }

    /// As [`RedisQueue::new`], with the keys of a deployment that shares its
    /// Redis with others ([`Names::with_prefix`]).
    pub fn with_names(
        url: &str,
        capacity: u64,
        lease: Duration,
        names: Names,
    ) -> Result<RedisQueue, RedisError> {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "host".into());
        let tag = uuid::Uuid::new_v4().simple().to_string();
        Ok(RedisQueue {
            client: Client::open(url)?,
            capacity,
            lease,
            consumer: format!("{host}-{}-{}", std::process::id(), &tag[..8]),
            host,
            shared: Mutex::new(None),
            blocking: Mutex::new(Vec::new()),
            last_claim_ms: AtomicI64::new(0),
            names,
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// How long a job's holder may go without renewing it.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    pub fn names(&self) -> &Names {
        &self.names
    }

    /// The connection for short commands (reconnects by itself once made).
    pub async fn conn(&self) -> Result<ConnectionManager, RedisError> {
        let mut slot = self.shared.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let mut c = self
            .client
            .get_connection_manager_with_config(config)
            .await?;
        ensure_group(&mut c, &self.names).await?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Runs `f` on the shared connection; a missing group (Redis lost its data)
    /// is created again and `f` retried once.
    async fn with_conn<T, F, Fut>(&self, f: F) -> Result<T, QueueError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = Result<T, RedisError>>,
    {
        let mut c = self.conn().await?;
        match f(c.clone()).await {
            Err(e) if is_nogroup(&e) => {
                ensure_group(&mut c, &self.names).await?;
                Ok(f(c).await?)
            }
            other => Ok(other?),
        }
    }

    async fn blocking_conn(&self, wait: Duration) -> Result<MultiplexedConnection, RedisError> {
        if let Some(mut c) = self.blocking.lock().await.pop() {
            c.set_response_timeout(wait + Duration::from_secs(5));
            return Ok(c);
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(wait + Duration::from_secs(5)));
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }

    /// A job whose lease ran out, taken over by this process (at most one
    /// look per second while there are none).
    async fn claim_expired(&self) -> Result<Option<Lease>, QueueError> {
        let now = crate::now_ms();
        let last = self.last_claim_ms.load(Ordering::Relaxed);
        if now - last < 1000 {
            return Ok(None);
        }
        let lease_ms = self.lease.as_millis() as u64;
        let consumer = self.consumer.clone();
        let reply: StreamAutoClaimReply = self
            .with_conn(|mut c| {
                let consumer = consumer.clone();
                async move {
                    redis::cmd("XAUTOCLAIM")
                        .arg(&self.names.stream)
                        .arg(&self.names.group)
                        .arg(&consumer)
                        .arg(lease_ms)
                        .arg("0-0")
                        .arg("COUNT")
                        .arg(1)
                        .query_async(&mut c)
                        .await
                }
            })
            .await?;
        let Some(entry) = reply.claimed.into_iter().next() else {
            self.last_claim_ms.store(now, Ordering::Relaxed);
            return Ok(None);
        };
        let entry_id = entry.id.clone();
        let pending: StreamPendingCountReply = self
            .with_conn(|mut c| {
                let entry_id = entry_id.clone();
                async move {
                    redis::cmd("XPENDING")
                        .arg(&self.names.stream)
                        .arg(&self.names.group)
                        .arg(&entry_id)
                        .arg(&entry_id)
                        .arg(1)
                        .query_async(&mut c)
                        .await
                }
            })
            .await?;
        let deliveries = pending
            .ids
            .first()
            .map(|p| p.times_delivered as u32)
            .unwrap_or(2);
        tracing::warn!(entry = %entry.id, deliveries, "reclaimed a job whose lease ran out (its worker died or stalled)");
        Ok(lease_of(&entry, deliveries))
    }

    /// Adds jobs for those of `ids` that have none (capacity not checked);
    /// returns how many were added. The sweeper's repair.
    pub async fn enqueue_missing(&self, ids: &[String], now_ms: i64) -> Result<u64, QueueError> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.run_enqueue(ids, 0, now_ms)
            .await
            .map(|n| n.max(0) as u64)
    }

    async fn run_enqueue(
        &self,
        ids: &[String],
        capacity: u64,
        now_ms: i64,
    ) -> Result<i64, QueueError> {
        self.with_conn(|mut c| async move {
            redis::cmd("EVAL")
                .arg(ENQUEUE)
                .arg(2)
                .arg(&self.names.stream)
                .arg(&self.names.ids)
                .arg(&self.names.group)
                .arg(capacity)
                .arg(now_ms)
                .arg(ids)
                .query_async(&mut c)
                .await
        })
        .await
    }

    /// Runs [`OWNS`] + `tail` for the delivery `lease`; true when it held the entry.
    async fn as_owner(
        &self,
        lease: &Lease,
        tail: &str,
        extra: &[String],
    ) -> Result<bool, QueueError> {
        let (entry, deliveries) = split_token(&lease.token);
        let script = format!("{OWNS}{tail}");
        let done: i64 = self
            .with_conn(|mut c| {
                let script = script.clone();
                async move {
                    redis::cmd("EVAL")
                        .arg(script)
                        .arg(2)
                        .arg(&self.names.stream)
                        .arg(&self.names.ids)
                        .arg(&self.names.group)
                        .arg(entry)
                        .arg(&self.consumer)
                        .arg(deliveries)
                        .arg(&lease.id)
                        .arg(extra)
                        .query_async(&mut c)
                        .await
                }
            })
            .await?;
        Ok(done == 1)
    }
}

async fn ensure_group(c: &mut ConnectionManager, names: &Names) -> Result<(), RedisError> {
    let created: Result<(), RedisError> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&names.stream)
        .arg(&names.group)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(c)
        .await;
    match created {
        Err(e) if e.code() != Some("BUSYGROUP") => Err(e),
        _ => Ok(()),
    }
}

fn is_nogroup(e: &RedisError) -> bool {
    e.code() == Some("NOGROUP") || e.to_string().contains("NOGROUP")
}

/// `entry/deliveries`, the lease token.
fn split_token(token: &str) -> (&str, u32) {
    let (entry, n) = token.rsplit_once('/').unwrap_or((token, "1"));
    (entry, n.parse().unwrap_or(1))
}

fn lease_of(entry: &StreamId, deliveries: u32) -> Option<Lease> {
    let id: String = entry.get("id")?;
    let prior: u32 = entry
        .get::<String>("prior")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let enqueued_at_ms = entry
        .get::<String>("enqueued_at_ms")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(crate::now_ms);
    Some(Lease {
        id,
        attempt: prior + deliveries,
        enqueued_at_ms,
        token: format!("{}/{deliveries}", entry.id),
    })
}
