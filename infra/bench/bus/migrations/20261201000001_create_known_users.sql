-- The users the benchmark service has heard of (the same table as skeleton/).
CREATE TABLE known_users (
    user_id       UUID        PRIMARY KEY,
    display_name  TEXT        NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL
);
