//! Which store, queue and notifier a server runs on. [`Backends::embedded`]
//! is the default: SQLite in the data directory (one process per directory,
//! held by a lock file) and in-process notifications. Other deployments build
//! a [`Backends`] of their own implementations and pass it to
//! [`App::start_with`](crate::App::start_with).

use std::fs::File;
use std::sync::Arc;

use anyhow::Context;

use crate::config::Config;
use crate::notify::{LocalNotifier, Notifier};
use crate::queue::{sqlite::SqliteQueue, Queue};
use crate::store::{sqlite::SqliteStore, Store};

pub struct Backends {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub notifier: Arc<dyn Notifier>,
    /// Held while the server runs (the data-directory lock of the embedded mode).
    pub guard: Option<File>,
}

impl Backends {
    /// SQLite store and queue in `config.data_dir`, in-process notifications.
    /// The directory's lock makes this process the only one using it, so every
    /// job left `running` belongs to a dead process: it goes back to the queue,
    /// as does every unfinished submission that lost its job.
    pub async fn embedded(config: &Config) -> anyhow::Result<Backends> {
        let guard = lock_data_dir(config)?;
        let pool = crate::sqlite::open(&config.data_dir, config.sqlite_synchronous)
            .await
            .with_context(|| format!("opening the database in {}", config.data_dir.display()))?;
        let store = SqliteStore::new(pool.clone());
        let queue = SqliteQueue::new(pool, config.queue_capacity);
        let unfinished = store.requeue_interrupted().await?;
        queue.recover(&unfinished, crate::now_ms()).await?;
        if !unfinished.is_empty() {
            tracing::info!(
                jobs = unfinished.len(),
                "requeued unfinished submissions of a previous run"
            );
        }
        Ok(Backends {
            store: Arc::new(store),
            queue: Arc::new(queue),
            notifier: Arc::new(LocalNotifier::default()),
            guard: Some(guard),
        })
    }
}

/// One process per data directory: a second one would lease the same jobs.
fn lock_data_dir(config: &Config) -> anyhow::Result<File> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let path = config.data_dir.join("kiln.lock");
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    file.try_lock().map_err(|_| {
        anyhow::anyhow!(
            "{} is in use by another kiln serve; give each server its own --data-dir",
            config.data_dir.display()
        )
    })?;
    Ok(file)
}
