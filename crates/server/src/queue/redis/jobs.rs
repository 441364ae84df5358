//! [`Queue`] on the stream: enqueue, dequeue (a new entry, else an expired
//! lease taken over), renew, ack, requeue, depth and the dead-letter stream,
//! as the module header describes them.

use std::time::Duration;

use async_trait::async_trait;
use redis::streams::StreamReadReply;
use redis::RedisError;

use super::scripts::{ACK_TAIL, DEPTH, RENEW_TAIL, REQUEUE_TAIL};
use super::{ensure_group, is_nogroup, lease_of, RedisQueue};
use crate::queue::{Lease, Queue, QueueError};

#[async_trait]
impl Queue for RedisQueue {
    async fn enqueue(&self, ids: &[String], now_ms: i64) -> Result<(), QueueError> {
        if ids.is_empty() {
            return Ok(());
        }
        if self.run_enqueue(ids, self.capacity, now_ms).await? < 0 {
            return Err(QueueError::Full {
                capacity: self.capacity,
            });
        }
        Ok(())
    }

    async fn fleet(&self) -> Result<Option<Vec<crate::queue::FleetWorker>>, QueueError> {
        self.live_workers().await.map(Some)
    }

    async fn announce(&self, workers: usize) -> Result<(), QueueError> {
        self.announce_workers(workers).await
    }

    async fn durability_warning(&self) -> Result<Option<String>, QueueError> {
        self.persistence_warning().await
    }

    async fn renew(&self, lease: &Lease) -> Result<bool, QueueError> {
        self.as_owner(lease, RENEW_TAIL, &[]).await
    }

    async fn dequeue(&self, wait: Duration) -> Result<Option<Lease>, QueueError> {
        if let Some(lease) = self.claim_expired().await? {
            return Ok(Some(lease));
        }
        // Make sure the group exists before blocking on it.
        self.conn().await?;
        let mut c = self.blocking_conn(wait).await?;
        let read: Result<Option<StreamReadReply>, RedisError> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&self.names.group)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(wait.as_millis().max(1) as u64)
            .arg("STREAMS")
            .arg(&self.names.stream)
            .arg(">")
            .query_async(&mut c)
            .await;
        let reply = match read {
            Ok(reply) => {
                self.blocking.lock().await.push(c);
                reply
            }
            Err(e) => {
                if is_nogroup(&e) {
                    ensure_group(&mut self.conn().await?, &self.names).await?;
                }
                return Err(e.into());
            }
        };
        let entry = reply
            .and_then(|r| r.keys.into_iter().next())
            .and_then(|k| k.ids.into_iter().next());
        Ok(match entry {
            Some(entry) => match lease_of(&entry, 1) {
                Some(lease) => Some(lease),
                None => {
                    tracing::error!(entry = %entry.id, "stream entry without a submission id; dropping it");
                    let id = entry.id.clone();
                    self.with_conn(|mut c| {
                        let id = id.clone();
                        async move {
                            redis::pipe()
                                .atomic()
                                .cmd("XACK")
                                .arg(&self.names.stream)
                                .arg(&self.names.group)
                                .arg(&id)
                                .cmd("XDEL")
                                .arg(&self.names.stream)
                                .arg(&id)
                                .query_async::<()>(&mut c)
                                .await
                        }
                    })
                    .await?;
                    None
                }
            },
            None => None,
        })
    }

    async fn ack(&self, lease: &Lease) -> Result<(), QueueError> {
        if !self.as_owner(lease, ACK_TAIL, &[]).await? {
            tracing::warn!(id = %lease.id, attempt = lease.attempt, "ack of a job this worker no longer holds (its lease ran out); left to the new holder");
        }
        Ok(())
    }

    async fn requeue(&self, lease: &Lease) -> Result<(), QueueError> {
        // Not a failed attempt (a drain, or the store was down): the new entry's
        // first delivery gets this lease's attempt number again, so that an
        // outage cannot use up a job's attempts. Crashes count through XAUTOCLAIM.
        let prior = lease.attempt.saturating_sub(1);
        let extra = [lease.enqueued_at_ms.to_string(), prior.to_string()];
        self.as_owner(lease, REQUEUE_TAIL, &extra).await?;
        Ok(())
    }

    async fn recover(&self, ids: &[String], now_ms: i64) -> Result<(), QueueError> {
        self.enqueue_missing(ids, now_ms).await.map(|_| ())
    }

    async fn depth(&self) -> Result<u64, QueueError> {
        let n: i64 = self
            .with_conn(|mut c| async move {
                redis::cmd("EVAL")
                    .arg(DEPTH)
                    .arg(1)
                    .arg(&self.names.stream)
                    .arg(&self.names.group)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(n.max(0) as u64)
    }

    fn capacity(&self) -> u64 {
        self.capacity
    }

    async fn dead_letter(&self, lease: &Lease, reason: &str) -> Result<Option<String>, QueueError> {
        let entry: String = self
            .with_conn(|mut c| async move {
                redis::cmd("XADD")
                    .arg(&self.names.dead_letter)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(100_000)
                    .arg("*")
                    .arg("id")
                    .arg(&lease.id)
                    .arg("attempts")
                    .arg(lease.attempt - 1)
                    .arg("reason")
                    .arg(reason)
                    .arg("entry")
                    .arg(&lease.token)
                    .arg("at_ms")
                    .arg(crate::now_ms())
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(Some(format!(
            "the job was moved to the dead-letter stream {} (entry {entry})",
            self.names.dead_letter
        )))
    }
}
