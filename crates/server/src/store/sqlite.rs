//! [`Store`](super::Store) on the embedded SQLite database (`crate::sqlite`
//! opens and migrates it); the statements are [`super::sql`]'s.

use sqlx::sqlite::SqlitePool;

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub fn new(pool: SqlitePool) -> Self {
        SqliteStore { pool }
    }
}

// `rowid` keeps a batch inserted in one millisecond in its order.
super::sql::sql_store!(SqliteStore, sqlx::Sqlite, tiebreak = "rowid");
