-- Callbacks live in the store, not in memory: a pending delivery or retry
-- survives a restart, several nodes share the work (a delivery is claimed by
-- moving callback_next_at_ms forward), and the outcome is on the submission.
ALTER TABLE submissions ADD COLUMN callback_kind TEXT;
ALTER TABLE submissions ADD COLUMN callback_state TEXT;
ALTER TABLE submissions ADD COLUMN callback_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE submissions ADD COLUMN callback_next_at_ms BIGINT;
ALTER TABLE submissions ADD COLUMN callback_error TEXT;
ALTER TABLE submissions ADD COLUMN callback_at_ms BIGINT;
CREATE INDEX submissions_callbacks_due ON submissions(callback_next_at_ms) WHERE callback_state = 'pending';
