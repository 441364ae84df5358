//! "Submission X finished", for `?wait=true`. [`Notifier`] is the interface:
//! the worker that stored a result publishes its id, and waiters receive ids
//! on a broadcast channel. [`LocalNotifier`] does it inside this process; a
//! scale-out deployment can publish through Redis pub/sub or PostgreSQL
//! NOTIFY and feed the same kind of channel. A waiter subscribes before it
//! reads the store, so it cannot miss a finish between the two.

use std::sync::Arc;

use tokio::sync::broadcast;

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
