-- GET /api/v1/submissions: newest first, per owner (keys on) or for all (keys off).
CREATE INDEX submissions_owner_created ON submissions(owner, created_at_ms, id);
CREATE INDEX submissions_created ON submissions(created_at_ms, id);
-- A listing's fields of a finished result (a small JSON object, see
-- store::ResultSummary), so that a page of the list never loads outputs or sources.
ALTER TABLE submissions ADD COLUMN summary TEXT;
