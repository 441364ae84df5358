//! "Submission X finished", for `?wait=true`. [`Notifier`] is the interface:
//! the worker that stored a result publishes its id, and waiters receive ids
//! on a broadcast channel. [`LocalNotifier`] does it inside this process;
//! [`RedisNotifier`] publishes on the Redis channel `kiln:finished` (with the
//! deployment's prefix, see `queue::redis::Names`) and feeds what it hears
//! there into the same kind of channel, for every API node. A waiter
//! subscribes before it reads the store, so it cannot miss a finish between the
//! two; when the Redis subscription was lost and is made again, [`RECHECK`] is
//! sent so that every waiter reads the store once more.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::broadcast;

use crate::queue::redis::RedisQueue;

/// Not an id: "notifications may have been missed; read the store again".
pub const RECHECK: &str = "*";

pub trait Notifier: Send + Sync + 'static {
    /// Announces that `id` has its final result stored.
    fn publish(&self, id: &str);
    /// Ids finished from now on (a lagging receiver re-reads the store).
    fn subscribe(&self) -> broadcast::Receiver<Arc<str>>;
}

/// Notifications within one process.
pub struct LocalNotifier {
    tx: broadcast::Sender<Arc<str>>,
}

impl Default for LocalNotifier {
    fn default() -> Self {
        LocalNotifier {
            tx: broadcast::channel(4096).0,
        }
    }
}

impl Notifier for LocalNotifier {
    fn publish(&self, id: &str) {
        // No receiver is not an error: nobody is waiting for this one.
        let _ = self.tx.send(Arc::from(id));
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.tx.subscribe()
    }
}

/// Notifications between processes through Redis pub/sub. Publishing is fire
/// and forget (a lost message costs a waiter its wait, never a result: the
/// result is in the store); the subscription reconnects with backoff.
pub struct RedisNotifier {
    tx: broadcast::Sender<Arc<str>>,
    /// Publishes through the queue's connection (same Redis).
    queue: Arc<RedisQueue>,
    listener: tokio::task::JoinHandle<()>,
}

impl RedisNotifier {
    /// Starts listening on the channel `kiln:finished` (with the deployment's prefix, see `Names`) of the queue's Redis.
    pub fn start(queue: Arc<RedisQueue>) -> RedisNotifier {
        let tx = broadcast::channel(4096).0;
        let channel = queue.names().finished.clone();
        let listener = tokio::spawn(listen(queue.client().clone(), channel, tx.clone()));
        RedisNotifier {
            tx,
            queue,
            listener,
        }
    }
}

impl Drop for RedisNotifier {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

async fn listen(client: redis::Client, channel: String, tx: broadcast::Sender<Arc<str>>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    backoff = Duration::from_millis(100);
                    let _ = tx.send(Arc::from(RECHECK));
                    let mut messages = pubsub.on_message();
                    while let Some(msg) = messages.next().await {
                        if let Ok(id) = msg.get_payload::<String>() {
                            let _ = tx.send(Arc::from(id));
                        }
                    }
                    tracing::warn!("redis pub/sub connection lost; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "redis SUBSCRIBE failed; retrying"),
            },
            Err(e) => tracing::debug!(error = %e, "redis pub/sub: cannot connect; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

impl Notifier for RedisNotifier {
    fn publish(&self, id: &str) {
        let queue = self.queue.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            let sent: Result<i64, redis::RedisError> = match queue.conn().await {
                Ok(mut conn) => {
                    redis::cmd("PUBLISH")
                        .arg(&queue.names().finished)
                        .arg(&id)
                        .query_async(&mut conn)
                        .await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                tracing::warn!(%id, error = %e, "could not publish the finish; waiters get it at their next store read");
            }
        });
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.tx.subscribe()
    }
}
