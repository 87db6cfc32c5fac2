-- Import jobs: one per upload or scheduled run. Counters and `batches_committed`
-- advance in the same transaction as each chunk's contacts and event, so after a
-- crash they say exactly where the job stands.
CREATE TABLE import_jobs (
    import_id          UUID        PRIMARY KEY,
    owner_id           UUID        NOT NULL,
    -- `upload` or `schedule`.
    origin             TEXT        NOT NULL,
    schedule_id        UUID,
    -- The format asked for (NULL: detect from the header row) and the one used.
    requested_format   TEXT,
    format             TEXT,
    -- Generic CSV: column name → field, as given in the request.
    column_mapping     JSONB,
    -- ISO 3166 region for phone numbers without a country code.
    default_region     TEXT,
    file_name          TEXT,
    -- `queued`, `running`, `completed`, `failed`, `cancelled`.
    state              TEXT        NOT NULL,
    failure_code       TEXT,
    failure_reason     TEXT,
    rows_read          BIGINT      NOT NULL DEFAULT 0,
    contacts_accepted  BIGINT      NOT NULL DEFAULT 0,
    rows_rejected      BIGINT      NOT NULL DEFAULT 0,
    duplicates         BIGINT      NOT NULL DEFAULT 0,
    bytes_read         BIGINT      NOT NULL DEFAULT 0,
    -- Files of a zip upload that were not imported, as `name: reason`.
    skipped_files      TEXT[]      NOT NULL DEFAULT '{}',
    -- Chunks committed so far: the next `contacts.imported` batch_seq.
    batches_committed  INTEGER     NOT NULL DEFAULT 0,
    -- The received upload on the spool volume, while the job may still need it.
    spool_file         TEXT,
    -- The instance working on the job and until when it holds it; a job whose
    -- lease ran out is resumed or failed by whichever instance finds it.
    runner             TEXT,
    lease_until        TIMESTAMPTZ,
    cancel_requested   BOOLEAN     NOT NULL DEFAULT false,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at         TIMESTAMPTZ,
    finished_at        TIMESTAMPTZ
);

CREATE INDEX import_jobs_owner_created ON import_jobs (owner_id, created_at DESC, import_id DESC);
CREATE INDEX import_jobs_unfinished ON import_jobs (lease_until) WHERE state IN ('queued', 'running');

-- The contacts as imported: the system of record.
CREATE TABLE contacts (
    contact_id    UUID        PRIMARY KEY,
    owner_id      UUID        NOT NULL,
    -- The import that brought the contact in.
    import_id     UUID        NOT NULL,
    full_name     TEXT        NOT NULL,
    first_name    TEXT,
    last_name     TEXT,
    emails        TEXT[]      NOT NULL,
    phones        TEXT[]      NOT NULL,
    company       TEXT,
    title         TEXT,
    location      TEXT,
    profile_url   TEXT,
    connected_on  DATE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX contacts_owner ON contacts (owner_id, contact_id);

-- What makes two rows the same contact for one owner: `email:<address>`,
-- `url:<profile URL>`, or for rows with neither `row:<SHA-256 of the normalised
-- contact>`. A row any of whose identities is taken is a duplicate.
CREATE TABLE contact_identities (
    owner_id    UUID NOT NULL,
    identity    TEXT NOT NULL,
    contact_id  UUID NOT NULL REFERENCES contacts ON DELETE CASCADE,
    PRIMARY KEY (owner_id, identity)
);

CREATE INDEX contact_identities_contact ON contact_identities (contact_id);

-- Rows refused by validation, for the job's rejects report.
CREATE TABLE import_rejects (
    import_id    UUID   NOT NULL REFERENCES import_jobs ON DELETE CASCADE,
    -- Line of the file where the row starts (1 = first line).
    line         BIGINT NOT NULL,
    -- Order of the problems within the line.
    problem      INTEGER NOT NULL,
    column_name  TEXT,
    code         TEXT   NOT NULL,
    reason       TEXT   NOT NULL,
    -- The row as read, cells joined as CSV.
    source_row   TEXT   NOT NULL,
    PRIMARY KEY (import_id, line, problem)
);
