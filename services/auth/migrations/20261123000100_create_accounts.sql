-- Accounts. The e-mail is stored normalised (trimmed, lowercase), so the unique
-- index makes registration idempotent per address.
CREATE TABLE users (
    user_id             UUID        PRIMARY KEY,
    email               TEXT        NOT NULL UNIQUE,
    display_name        TEXT        NOT NULL,
    -- PHC string: algorithm, parameters, salt and hash (argon2id).
    password_hash       TEXT        NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    password_changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A login starts a family of refresh tokens; each refresh replaces the family's
-- current token. Presenting a replaced token again revokes the whole family.
CREATE TABLE refresh_families (
    family_id   UUID        PRIMARY KEY,
    user_id     UUID        NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at  TIMESTAMPTZ,
    -- `logout`, `reuse`, `password_changed`.
    revoked_why TEXT
);

CREATE INDEX refresh_families_user ON refresh_families (user_id);

-- Refresh tokens are stored as SHA-256 digests only: the database never holds a
-- usable token.
CREATE TABLE refresh_tokens (
    token_digest BYTEA       PRIMARY KEY,
    family_id    UUID        NOT NULL REFERENCES refresh_families ON DELETE CASCADE,
    issued_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    -- Set when the token was exchanged for the next one.
    replaced_at  TIMESTAMPTZ
);

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Failed logins per key: `account:<SHA-256 of the normalised e-mail>` (whether or
-- not the account exists, so throttling reveals nothing) and `address:<client IP>`.
CREATE TABLE login_failures (
    throttle_key    TEXT        PRIMARY KEY,
    failures        INTEGER     NOT NULL,
    last_failure_at TIMESTAMPTZ NOT NULL,
    locked_until    TIMESTAMPTZ
);
