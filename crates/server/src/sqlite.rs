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

/// Versioned schema steps; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE submissions (
    id             TEXT PRIMARY KEY,
    language       TEXT NOT NULL,
    request        TEXT NOT NULL,
    callback_url   TEXT,
    owner          TEXT,
    status         TEXT NOT NULL,
    attempt        INTEGER NOT NULL DEFAULT 0,
    report         TEXT,
    created_at_ms  INTEGER NOT NULL,
    started_at_ms  INTEGER,
    finished_at_ms INTEGER
);
CREATE INDEX submissions_unfinished ON submissions(status) WHERE status IN ('queued', 'running');
CREATE INDEX submissions_owner ON submissions(owner, status) WHERE owner IS NOT NULL;
CREATE INDEX submissions_finished ON submissions(finished_at_ms) WHERE finished_at_ms IS NOT NULL;
CREATE TABLE jobs (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id  TEXT NOT NULL UNIQUE,
    enqueued_at_ms INTEGER NOT NULL,
    attempt        INTEGER NOT NULL DEFAULT 0,
    leased         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_ready ON jobs(leased, seq);
"#];

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
    let mut tx = pool.begin().await?;
    let version: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(&mut *tx)
        .await?;
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        sqlx::raw_sql(step).execute(&mut *tx).await?;
        sqlx::raw_sql(&format!("PRAGMA user_version = {}", i + 1))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}
