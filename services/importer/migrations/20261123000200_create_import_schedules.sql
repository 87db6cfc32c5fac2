-- Scheduled imports: a cron expression (UTC) and where to fetch the file, either
-- a URL fetched directly or a provider path fetched through auth's token proxy.
CREATE TABLE import_schedules (
    schedule_id       UUID        PRIMARY KEY,
    owner_id          UUID        NOT NULL,
    name              TEXT,
    cron              TEXT        NOT NULL,
    source_url        TEXT,
    source_provider   TEXT,
    source_path       TEXT,
    -- How to read the file, as for an upload.
    requested_format  TEXT,
    column_mapping    JSONB,
    default_region    TEXT,
    -- Called (GET) after each run that completes, e.g. an UptimeRobot heartbeat.
    heartbeat_url     TEXT,
    next_run_at       TIMESTAMPTZ NOT NULL,
    last_run_at       TIMESTAMPTZ,
    last_import_id    UUID,
    -- Runs not started because the previous one was still going.
    runs_skipped      BIGINT      NOT NULL DEFAULT 0,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((source_url IS NOT NULL AND source_provider IS NULL AND source_path IS NULL)
        OR (source_url IS NULL AND source_provider IS NOT NULL AND source_path IS NOT NULL))
);

CREATE INDEX import_schedules_due ON import_schedules (next_run_at);
CREATE INDEX import_schedules_owner ON import_schedules (owner_id, created_at, schedule_id);

-- A scheduled run is a job like an upload, with its source copied from the
-- schedule (so deleting the schedule leaves its running job whole). Its file is
-- fetched onto the spool volume by the runner before reading.
ALTER TABLE import_jobs
    ADD COLUMN source_url         TEXT,
    ADD COLUMN source_provider    TEXT,
    ADD COLUMN source_path        TEXT,
    ADD COLUMN heartbeat_url      TEXT,
    -- `due` when the job completed and its heartbeat is still to be sent; then
    -- `sent`, or `failed` after the attempts ran out. NULL: no heartbeat.
    ADD COLUMN heartbeat          TEXT,
    ADD COLUMN heartbeat_attempts INTEGER NOT NULL DEFAULT 0,
    -- When a due heartbeat is (next) tried.
    ADD COLUMN heartbeat_at       TIMESTAMPTZ,
    ADD COLUMN heartbeat_error    TEXT;

CREATE INDEX import_jobs_heartbeat_due ON import_jobs (heartbeat_at) WHERE heartbeat = 'due';
CREATE INDEX import_jobs_schedule_unfinished ON import_jobs (schedule_id)
    WHERE state IN ('queued', 'running');
