//! Which store, queue and notifier a server runs on. [`Backends::embedded`]
//! is the default: SQLite in the data directory (one process per directory,
//! held by a lock file) and in-process notifications. [`Backends::scaleout`]
//! shares a Redis Streams queue, a PostgreSQL store and Redis pub/sub between
//! any number of API nodes and workers, with a sweeper that re-enqueues
//! accepted submissions that lost their job. Other deployments build a
//! [`Backends`] of their own and pass it to [`App::start_with`](crate::App::start_with).

use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::config::Config;
use crate::notify::{LocalNotifier, Notifier, RedisNotifier};
use crate::queue::redis::Names;
use crate::queue::{redis::RedisQueue, sqlite::SqliteQueue, Queue};
use crate::store::{postgres::PgStore, sqlite::SqliteStore, Store};

/// A submission still unfinished this long after it was accepted is checked
/// for a job by the sweeper.
pub const SWEEP_AFTER: Duration = Duration::from_secs(60);
/// How often the sweeper looks.
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);

pub struct Backends {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub notifier: Arc<dyn Notifier>,
    /// Held while the server runs (the data-directory lock of the embedded mode).
    pub guard: Option<File>,
    /// Background tasks of these backends, stopped with the server.
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Backends {
    /// SQLite store and queue in `config.api.data_dir`, in-process notifications.
    /// The directory's lock makes this process the only one using it, so every
    /// job left `running` belongs to a dead process: it goes back to the queue,
    /// as does every unfinished submission that lost its job.
    pub async fn embedded(config: &Config) -> anyhow::Result<Backends> {
        let guard = lock_data_dir(config)?;
        let pool = crate::sqlite::open(&config.api.data_dir, config.api.sqlite_synchronous)
            .await
            .with_context(|| {
                format!("opening the database in {}", config.api.data_dir.display())
            })?;
        let lazy = crate::sqlite::open_lazy(&config.api.data_dir).await?;
        let store = SqliteStore::new(pool.clone()).with_lazy(lazy.clone());
        let queue = SqliteQueue::new(pool, config.api.queue_capacity).with_lazy(lazy);
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
            tasks: Vec::new(),
        })
    }

    /// The backends `config` names: shared ones when it has a queue and a
    /// store URL, embedded ones otherwise.
    pub async fn from_config(config: &Config) -> anyhow::Result<Backends> {
        match (&config.backend.queue, &config.backend.store) {
            (Some(queue), Some(store)) => Backends::scaleout(queue, store, config).await,
            _ => Backends::embedded(config).await,
        }
    }

    /// Redis Streams queue at `queue_url`, PostgreSQL store at `store_url`
    /// (migrated; waits for it to answer), Redis pub/sub notifications, and the
    /// sweeper. Redis may be down at start: calls fail until it is up.
    pub async fn scaleout(
        queue_url: &str,
        store_url: &str,
        config: &Config,
    ) -> anyhow::Result<Backends> {
        let queue = Arc::new(
            RedisQueue::with_names(
                queue_url,
                config.api.queue_capacity,
                config.lease,
                Names::with_prefix(config.backend.queue_prefix.as_deref().unwrap_or("")),
            )
            .context("the --queue URL is not a valid Redis URL")?,
        );
        let store: Arc<dyn Store> = Arc::new(connect_store(store_url).await?);
        let notifier = Arc::new(RedisNotifier::start(queue.clone()));
        let sweeper = tokio::spawn(sweep(store.clone(), queue.clone()));
        Ok(Backends {
            store,
            queue,
            notifier,
            guard: None,
            tasks: vec![sweeper],
        })
    }
}

/// Connects and migrates, retrying with backoff while PostgreSQL is down
/// (a node started before its database waits for it instead of exiting). An
/// error that waiting cannot cure (no such database, bad password, a bad URL,
/// a migration the database refuses) fails at once with what to fix.
async fn connect_store(url: &str) -> anyhow::Result<PgStore> {
    let mut backoff = Duration::from_millis(200);
    loop {
        match PgStore::connect(url).await {
            Ok(store) => return Ok(store),
            Err(e) if is_permanent(&e) => {
                return Err(anyhow::anyhow!(
                    "the PostgreSQL store refused Kiln: {e}; fix --store (KILN_STORE) or the database, then start again"
                ))
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "PostgreSQL store not ready");
                eprintln!("kiln: waiting for the PostgreSQL store: {e}");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Whether a store error at start is one that retrying cannot fix.
fn is_permanent(e: &crate::store::StoreError) -> bool {
    use crate::store::StoreError;
    match e {
        StoreError::Db(sqlx::Error::Configuration(_)) => true,
        StoreError::Db(sqlx::Error::Database(db)) => {
            // invalid_catalog_name, invalid_password, invalid_authorization_specification,
            // insufficient_privilege
            matches!(
                db.code().as_deref(),
                Some("3D000" | "28P01" | "28000" | "42501")
            )
        }
        StoreError::Migrate(m) => !matches!(
            m,
            sqlx::migrate::MigrateError::Execute(sqlx::Error::Io(_))
                | sqlx::migrate::MigrateError::Execute(sqlx::Error::PoolTimedOut)
        ),
        _ => false,
    }
}

/// The safety net of "a 202 is never lost": every [`SWEEP_EVERY`], unfinished
/// submissions older than [`SWEEP_AFTER`] that have no job in the stream (their
/// API node died between store and enqueue, or could not remove them after a
/// failed enqueue, or Redis lost data) get one. A job that exists is left alone.
/// It also removes from the group the consumers of workers gone for an hour.
pub async fn sweep(store: Arc<dyn Store>, queue: Arc<RedisQueue>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        let cutoff = crate::now_ms() - SWEEP_AFTER.as_millis() as i64;
        let ids = match store.unfinished_before(cutoff, 1000).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::debug!(error = %e, "sweeper: store unavailable");
                continue;
            }
        };
        match queue.enqueue_missing(&ids, crate::now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                jobs = n,
                "sweeper: re-enqueued accepted submissions that had lost their job"
            ),
            Err(e) => tracing::debug!(error = %e, "sweeper: queue unavailable"),
        }
        if let Ok(n @ 1..) = queue.forget_dead_consumers(queue.lease()).await {
            tracing::info!(
                consumers = n,
                "sweeper: removed the consumers of exited workers"
            );
        }
    }
}

/// One process per data directory: a second one would lease the same jobs.
fn lock_data_dir(config: &Config) -> anyhow::Result<File> {
    std::fs::create_dir_all(&config.api.data_dir)
        .with_context(|| format!("creating data directory {}", config.api.data_dir.display()))?;
    let path = config.api.data_dir.join("kiln.lock");
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    file.try_lock().map_err(|_| {
        anyhow::anyhow!(
            "{} is in use by another kiln serve; give each server its own --data-dir",
            config.api.data_dir.display()
        )
    })?;
    Ok(file)
}
