-- The schema as Kiln created it before migrations were files (PRAGMA
-- user_version 1): IF NOT EXISTS, so a database made then adopts this history.
CREATE TABLE IF NOT EXISTS submissions (
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
CREATE INDEX IF NOT EXISTS submissions_unfinished ON submissions(status) WHERE status IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS submissions_owner ON submissions(owner, status) WHERE owner IS NOT NULL;
CREATE INDEX IF NOT EXISTS submissions_finished ON submissions(finished_at_ms) WHERE finished_at_ms IS NOT NULL;
-- The embedded queue (crates/server/src/queue/sqlite.rs).
CREATE TABLE IF NOT EXISTS jobs (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id  TEXT NOT NULL UNIQUE,
    enqueued_at_ms INTEGER NOT NULL,
    attempt        INTEGER NOT NULL DEFAULT 0,
    leased         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs(leased, seq);
