-- Housekeeping deletes expired refresh tokens and forgotten login failures; these
-- indexes keep each of its passes from scanning the whole table.
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
CREATE INDEX login_failures_last_failure_at ON login_failures (last_failure_at);
