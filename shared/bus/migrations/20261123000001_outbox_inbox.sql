-- Transactional outbox: rows are written in the same transaction as the state
-- change they announce, and deleted by the relay once the broker confirmed them.
CREATE TABLE bus_outbox (
    seq          BIGSERIAL   PRIMARY KEY,
    event_id     UUID        NOT NULL UNIQUE,
    routing_key  TEXT        NOT NULL,
    -- The entity the event is about; rows with the same subject are published in `seq` order.
    subject      TEXT,
    -- The complete CloudEvents envelope, exactly as it is published.
    body         BYTEA       NOT NULL,
    traceparent  TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX bus_outbox_subject_seq ON bus_outbox (subject, seq) WHERE subject IS NOT NULL;

-- Wake the relay as soon as a transaction that wrote outbox rows commits
-- (notifications are delivered at commit, and never for a rolled-back transaction).
CREATE FUNCTION bus_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bus_outbox', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER bus_outbox_notify
    AFTER INSERT ON bus_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION bus_outbox_notify();

-- Inbox: ids of events whose handler committed. Inserted in the handler's own
-- transaction, so a redelivered event is recognised and has no second effect.
CREATE TABLE bus_inbox (
    event_id     UUID        PRIMARY KEY,
    event_type   TEXT        NOT NULL,
    handled_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX bus_inbox_handled_at ON bus_inbox (handled_at);
