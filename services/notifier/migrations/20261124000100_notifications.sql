-- What the notifier keeps: its own copy of each user's address and name (from
-- auth's and api's events), their preferences, the notifications it raised and the
-- log of every e-mail it sends. Everything about a user hangs off `recipients`, so
-- erasing the user is one DELETE that cascades.

CREATE TABLE recipients (
    user_id      uuid PRIMARY KEY,
    email        text NOT NULL,
    display_name text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The channels a user chose for a kind of notification; a kind without a row uses
-- the defaults (every channel). An empty array turns the kind off.
CREATE TABLE channel_preferences (
    user_id  uuid NOT NULL REFERENCES recipients ON DELETE CASCADE,
    kind     text NOT NULL,
    channels text[] NOT NULL,
    PRIMARY KEY (user_id, kind)
);

CREATE TABLE notifications (
    -- UUIDv7: the inbox's order and its cursor.
    notification_id uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES recipients ON DELETE CASCADE,
    kind            text NOT NULL,
    -- What raised it: the event, or for a notice the notifier raises itself
    -- (an endpoint disabled), the delivery that caused it. One notification per
    -- cause and recipient.
    cause_id        uuid NOT NULL,
    -- What the wording needs (counts, names, links), as the kind defines it.
    data            jsonb NOT NULL,
    -- Shown in the in-app inbox (the in-app channel was chosen).
    in_inbox        boolean NOT NULL,
    read_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (cause_id, user_id)
);
CREATE INDEX notifications_inbox ON notifications (user_id, notification_id DESC) WHERE in_inbox;
CREATE INDEX notifications_unread ON notifications (user_id) WHERE in_inbox AND read_at IS NULL;

-- Webhooks: HTTPS endpoints users register for chosen kinds.
CREATE TABLE webhook_endpoints (
    endpoint_id          uuid PRIMARY KEY,
    user_id              uuid NOT NULL REFERENCES recipients ON DELETE CASCADE,
    url                  text NOT NULL,
    -- The kinds of notification sent to it.
    kinds                text[] NOT NULL,
    enabled              boolean NOT NULL DEFAULT true,
    -- Failed attempts since the last success; at NOTIFIER_WEBHOOK_DISABLE_AFTER
    -- the endpoint is disabled.
    consecutive_failures integer NOT NULL DEFAULT 0,
    disabled_reason      text,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_of_user ON webhook_endpoints (user_id);

-- Every secret a message is signed with: the current one (no `expires_at`) and,
-- after a rotation, the previous one until it expires.
CREATE TABLE webhook_secrets (
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
    -- `whsec_<base64>`: the key itself, as HMAC signing needs it.
    secret      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at  timestamptz,
    PRIMARY KEY (endpoint_id, created_at)
);

-- The delivery log: one row per notification and outward channel (and endpoint),
-- kept after sending. `pending` rows are the work queue of the dispatcher, which claims a
-- row for `claimed_until` while it sends, so a crashed sender's rows come back.
CREATE TABLE deliveries (
    delivery_id     uuid PRIMARY KEY,
    notification_id uuid NOT NULL REFERENCES notifications ON DELETE CASCADE,
    channel         text NOT NULL CHECK (channel IN ('email', 'webhook')),
    -- The endpoint of a webhook delivery; NULL for e-mail.
    endpoint_id     uuid REFERENCES webhook_endpoints ON DELETE CASCADE,
    state           text NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_until   timestamptz,
    last_error      text,
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((channel = 'webhook') = (endpoint_id IS NOT NULL)),
    UNIQUE NULLS NOT DISTINCT (notification_id, channel, endpoint_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_failed ON deliveries (delivery_id) WHERE state = 'failed';
