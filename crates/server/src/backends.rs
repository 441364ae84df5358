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
    pub async fn embedded(config: &Config) -> anyhow::Result<Backends> {
        let guard = lock_data_dir(config)?;
        let pool = crate::sqlite::open(&config.data_dir, config.sqlite_synchronous)
            .await
            .with_context(|| format!("opening the database in {}", config.data_dir.display()))?;
        Ok(Backends {
            store: Arc::new(SqliteStore::new(pool.clone())),
            queue: Arc::new(SqliteQueue::new(pool, config.queue_capacity)),
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
