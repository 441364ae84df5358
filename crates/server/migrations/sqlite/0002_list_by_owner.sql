-- GET /api/v1/submissions: newest first, per owner (keys on) or for all (keys off).
CREATE INDEX submissions_owner_created ON submissions(owner, created_at_ms, id);
CREATE INDEX submissions_created ON submissions(created_at_ms, id);
