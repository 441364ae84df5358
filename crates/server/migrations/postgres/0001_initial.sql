-- The schema as Kiln created it before migrations were files (version 1 in
-- the old kiln_migrations table): IF NOT EXISTS, so such a database adopts it.
CREATE TABLE IF NOT EXISTS submissions (
    id             TEXT PRIMARY KEY,
    language       TEXT NOT NULL,
    request        TEXT NOT NULL,
    callback_url   TEXT,
    owner          TEXT,
    status         TEXT NOT NULL,
    attempt        INTEGER NOT NULL DEFAULT 0,
    report         TEXT,
    created_at_ms  BIGINT NOT NULL,
    started_at_ms  BIGINT,
    finished_at_ms BIGINT
);
CREATE INDEX IF NOT EXISTS submissions_unfinished ON submissions(created_at_ms) WHERE status IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS submissions_owner ON submissions(owner, status) WHERE owner IS NOT NULL;
CREATE INDEX IF NOT EXISTS submissions_finished ON submissions(finished_at_ms) WHERE finished_at_ms IS NOT NULL;
