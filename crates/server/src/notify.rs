//! "Submission X finished" inside this process, for `?wait=true`: a broadcast
//! channel that the worker that stored the result sends on. A waiter subscribes
//! before it reads the store, so it cannot miss the finish between the two.

use std::sync::Arc;

use tokio::sync::broadcast;

#[derive(Clone)]
pub struct Finished {
    tx: broadcast::Sender<Arc<str>>,
}

impl Default for Finished {
    fn default() -> Self {
        Finished { tx: broadcast::channel(4096).0 }
    }
}

impl Finished {
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.tx.subscribe()
    }

    pub fn send(&self, id: &str) {
        // No receiver is not an error: nobody is waiting for this one.
        let _ = self.tx.send(Arc::from(id));
    }
}
