//! [`Store`] on PostgreSQL, shared by every API node and worker of a scale-out
//! deployment. The schema is brought up to date at start by [`MIGRATOR`]
//! (`migrations/postgres/*.sql`); the statements are [`super::sql`]'s. The
//! pool reconnects by itself: while the database is down, calls fail within
//! the acquire timeout (the API answers 503) and succeed again once it is back.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::StoreError;

/// The schema's history, `migrations/postgres/*.sql`, embedded at build time.
/// sqlx holds an advisory lock while it migrates, so nodes starting together
/// do not race, and refuses a database whose applied files were edited.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host/db`) and migrates.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(3))
            .connect(url)
            .await?;
        migrate(&pool).await?;
        Ok(PgStore { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Every PostgreSQL commit is durable (`synchronous_commit` on), lazy or not.
    fn writer(&self, _d: super::Durability) -> &PgPool {
        &self.pool
    }
}

/// Runs the migrations not yet applied.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

super::sql::sql_store!(PgStore, sqlx::Postgres, tiebreak = "id");
