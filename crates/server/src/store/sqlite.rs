//! [`Store`](super::Store) on the embedded SQLite database (`crate::sqlite`
//! opens and migrates it); the statements are [`super::sql`]'s.

use sqlx::sqlite::SqlitePool;

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Connections at `synchronous=NORMAL` for the writes a crash may lose
    /// (see [`super::Durability`]); the same pool when none was given.
    lazy: SqlitePool,
}

impl SqliteStore {
    pub fn new(pool: SqlitePool) -> Self {
        SqliteStore {
            lazy: pool.clone(),
            pool,
        }
    }

    /// Lazy writes go through `lazy` (`crate::sqlite::open_lazy`).
    pub fn with_lazy(self, lazy: SqlitePool) -> Self {
        SqliteStore { lazy, ..self }
    }

    fn writer(&self, d: super::Durability) -> &SqlitePool {
        match d {
            super::Durability::Durable => &self.pool,
            super::Durability::Lazy => &self.lazy,
        }
    }
}

// `rowid` keeps a batch inserted in one millisecond in its order.
super::sql::sql_store!(SqliteStore, sqlx::Sqlite, tiebreak = "rowid");
