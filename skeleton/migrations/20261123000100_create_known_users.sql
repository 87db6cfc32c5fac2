-- The users this service has heard of, from auth's events (its own copy: services
-- never read each other's databases). Rows are erased when the user is deleted.
CREATE TABLE known_users (
    user_id       UUID        PRIMARY KEY,
    display_name  TEXT        NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL
);
