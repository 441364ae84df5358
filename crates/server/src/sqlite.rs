//! The embedded database: one SQLite file in the data directory, in WAL mode
//! (by default with `synchronous=FULL`: an answered 202 is on disk), holding
//! both the store's `submissions` and the queue's `jobs`.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use crate::config::SqliteSync;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// The schema's history, `migrations/sqlite/*.sql`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Opens (creating when needed) `kiln.db` in `dir` and brings its schema up to date.
pub async fn open(dir: &Path, sync: SqliteSync) -> Result<SqlitePool, sqlx::Error> {
    std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
    let url = format!("sqlite://{}", dir.join("kiln.db").display());
    let options = SqliteConnectOptions::from_str(&url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match sync {
            SqliteSync::Full => SqliteSynchronous::Full,
            SqliteSync::Normal => SqliteSynchronous::Normal,
        })
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    migrate(&pool).await?;
    Ok(pool)
}

async fn migrate(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    MIGRATOR.run(pool).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::Execute(e) => e,
        other => sqlx::Error::Migrate(Box::new(other)),
    })
}

/// A second pool on the same database whose commits do not fsync
/// (`synchronous=NORMAL`): in WAL mode such a commit is written to the WAL and
/// made durable by the next commit that fsyncs (see `store::Durability`).
pub async fn open_lazy(dir: &Path) -> Result<SqlitePool, sqlx::Error> {
    let url = format!("sqlite://{}", dir.join("kiln.db").display());
    let options = SqliteConnectOptions::from_str(&url)?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10));
    SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
}
