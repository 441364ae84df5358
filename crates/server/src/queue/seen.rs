//! The fleet and the queue's durability as `/health` shows them: read from a
//! shared queue at most once per [`ANNOUNCE_EVERY`] whatever the rate of
//! health checks (a flood of `/health` costs Redis nothing more), and by one
//! caller at a time (the others wait for its answer).

use std::time::Instant;

use tokio::sync::Mutex;

use super::redis::ANNOUNCE_EVERY;
use super::{FleetWorker, Queue};

/// What the queue said about its fleet and durability, and when.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The live workers of the fleet; `None` when the queue has no fleet.
    pub fleet: Result<Option<Vec<FleetWorker>>, String>,
    /// A sentence when the queue would lose accepted jobs in its own crash.
    pub durability: Result<Option<String>, String>,
    at: Instant,
}

#[derive(Debug, Default)]
pub struct FleetSeen {
    last: Mutex<Option<Seen>>,
}

impl FleetSeen {
    /// The last answer when younger than [`ANNOUNCE_EVERY`], else a fresh one.
    pub async fn get(&self, queue: &dyn Queue) -> Seen {
        let mut last = self.last.lock().await;
        if let Some(seen) = last.as_ref().filter(|s| s.at.elapsed() < ANNOUNCE_EVERY) {
            return seen.clone();
        }
        let seen = Seen {
            fleet: queue.fleet().await.map_err(|e| e.to_string()),
            durability: queue.durability_warning().await.map_err(|e| e.to_string()),
            at: Instant::now(),
        };
        *last = Some(seen.clone());
        seen
    }
}
