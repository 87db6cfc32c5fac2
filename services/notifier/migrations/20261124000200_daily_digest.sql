-- The daily digest: a user may have their e-mails held and sent as one message a
-- day, at a local hour of their time zone.

ALTER TABLE recipients
    -- IANA zone name (as PostgreSQL's pg_timezone_names knows them).
    ADD COLUMN time_zone   text NOT NULL DEFAULT 'UTC',
    -- Local hour of the digest; NULL: e-mails go out as they happen.
    ADD COLUMN digest_hour smallint CHECK (digest_hour BETWEEN 0 AND 23);

-- One digest per user and local day.
CREATE TABLE digests (
    digest_id  uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES recipients ON DELETE CASCADE,
    local_date date NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, local_date)
);

-- `held`: an e-mail waiting for the user's next digest; `digested`: sent as part
-- of digest `digest_id`.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
    CHECK (state IN ('pending', 'sent', 'failed', 'held', 'digested'));
ALTER TABLE deliveries ADD COLUMN digest_id uuid REFERENCES digests ON DELETE CASCADE;
CREATE INDEX deliveries_held ON deliveries (notification_id) WHERE state = 'held';
