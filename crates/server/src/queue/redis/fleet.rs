//! The fleet as Redis sees it. Every node with workers announces itself every
//! [`ANNOUNCE_EVERY`] (a sorted set of consumer names by last heartbeat, and a
//! hash of what each said); a worker is live while its last heartbeat is
//! younger than [`LIVE_WITHIN`]. API nodes read the fleet for `/health` and
//! `code_execution_workers`, and the sweeper removes from the consumer group
//! the consumers of workers that stopped announcing once they hold no job
//! (deleting a consumer that holds entries would lose them).

use std::time::Duration;

use redis::streams::StreamInfoConsumersReply;

use super::RedisQueue;
use crate::queue::{FleetWorker, QueueError};

/// How often a node with workers announces itself.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(5);
/// A worker is live while its last heartbeat is younger than this (three beats).
pub const LIVE_WITHIN: Duration = Duration::from_secs(15);
/// Heartbeats older than this are dropped from the set.
const FORGET_AFTER: Duration = Duration::from_secs(3600);

impl RedisQueue {
    /// This process's heartbeat: it runs `workers` workers.
    pub(crate) async fn announce_workers(&self, workers: usize) -> Result<(), QueueError> {
        let now = crate::now_ms();
        let info = serde_json::json!({
            "host": self.host,
            "pid": std::process::id(),
            "workers": workers,
            "at_ms": now,
        })
        .to_string();
        let stale = now - FORGET_AFTER.as_millis() as i64;
        self.with_conn(|mut c| {
            let info = info.clone();
            async move {
                redis::pipe()
                    .cmd("ZADD")
                    .arg(&self.names.workers)
                    .arg(now)
                    .arg(&self.consumer)
                    .ignore()
                    .cmd("HSET")
                    .arg(&self.names.worker_info)
                    .arg(&self.consumer)
                    .arg(&info)
                    .ignore()
                    .cmd("ZREMRANGEBYSCORE")
                    .arg(&self.names.workers)
                    .arg("-inf")
                    .arg(stale)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            }
        })
        .await
    }

    /// The live workers of the whole fleet, by their heartbeats.
    pub(crate) async fn live_workers(&self) -> Result<Vec<FleetWorker>, QueueError> {
        let since = crate::now_ms() - LIVE_WITHIN.as_millis() as i64;
        let names: Vec<String> = self
            .with_conn(|mut c| async move {
                redis::cmd("ZRANGEBYSCORE")
                    .arg(&self.names.workers)
                    .arg(since)
                    .arg("+inf")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let infos: Vec<Option<String>> = self
            .with_conn(|mut c| {
                let names = names.clone();
                async move {
                    redis::cmd("HMGET")
                        .arg(&self.names.worker_info)
                        .arg(names)
                        .query_async(&mut c)
                        .await
                }
            })
            .await?;
        Ok(names
            .into_iter()
            .zip(infos)
            .map(|(consumer, info)| {
                let v: serde_json::Value = info
                    .and_then(|i| serde_json::from_str(&i).ok())
                    .unwrap_or_default();
                FleetWorker {
                    consumer,
                    host: v["host"].as_str().unwrap_or("").to_string(),
                    pid: v["pid"].as_u64().unwrap_or(0) as u32,
                    workers: v["workers"].as_u64().unwrap_or(0),
                    at_ms: v["at_ms"].as_i64().unwrap_or(0),
                }
            })
            .collect())
    }

    /// Removes from the group the consumers whose worker stopped announcing
    /// (not live), that hold no job and were idle longer than `idle`; never
    /// this process's. Returns how many.
    pub async fn forget_dead_consumers(&self, idle: Duration) -> Result<u64, QueueError> {
        let live: Vec<String> = self
            .live_workers()
            .await?
            .into_iter()
            .map(|w| w.consumer)
            .collect();
        let info: StreamInfoConsumersReply = self
            .with_conn(|mut c| async move {
                redis::cmd("XINFO")
                    .arg("CONSUMERS")
                    .arg(&self.names.stream)
                    .arg(&self.names.group)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let mut forgotten = 0;
        for consumer in info.consumers {
            if consumer.pending > 0
                || (consumer.idle as u128) < idle.as_millis()
                || consumer.name == self.consumer
                || live.contains(&consumer.name)
            {
                continue;
            }
            let _: i64 = self
                .with_conn(|mut c| {
                    let name = consumer.name.clone();
                    async move {
                        redis::pipe()
                            .cmd("XGROUP")
                            .arg("DELCONSUMER")
                            .arg(&self.names.stream)
                            .arg(&self.names.group)
                            .arg(&name)
                            .cmd("HDEL")
                            .arg(&self.names.worker_info)
                            .arg(&name)
                            .ignore()
                            .cmd("ZREM")
                            .arg(&self.names.workers)
                            .arg(&name)
                            .ignore()
                            .query_async::<(i64,)>(&mut c)
                            .await
                            .map(|(n,)| n)
                    }
                })
                .await?;
            tracing::info!(consumer = %consumer.name, "removed the consumer of a dead worker from the group");
            forgotten += 1;
        }
        Ok(forgotten)
    }

    /// A sentence when Redis does not keep an accepted job through its own
    /// crash (append-only file off); `None` when it does.
    pub(crate) async fn persistence_warning(&self) -> Result<Option<String>, QueueError> {
        let info: String = self
            .with_conn(|mut c| async move {
                redis::cmd("INFO")
                    .arg("persistence")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(aof_warning(&info))
    }
}

/// The warning for an `INFO persistence` answer with `aof_enabled:0`.
fn aof_warning(info: &str) -> Option<String> {
    let aof = info
        .lines()
        .find_map(|l| l.trim().strip_prefix("aof_enabled:"))
        .map(str::trim);
    (aof == Some("0")).then(|| {
        "Redis runs without its append-only file (appendonly no): jobs accepted with 202 \
         since its last snapshot are lost if Redis crashes; set `appendonly yes` \
         (the submissions stay in the store, and the sweeper re-enqueues them after 60 s)"
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::aof_warning;

    #[test]
    fn aof_off_is_reported_and_on_is_not() {
        assert!(aof_warning("# Persistence\r\nloading:0\r\naof_enabled:0\r\n").is_some());
        assert!(aof_warning("# Persistence\r\naof_enabled:1\r\n").is_none());
        assert!(aof_warning("").is_none(), "unknown is not a warning");
    }
}
