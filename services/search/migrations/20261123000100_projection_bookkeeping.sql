-- What the projection remembers so that events arriving late or out of order
-- cannot bring back what was removed (docs/search.md, "Projection"). The
-- documents themselves live in the search index.

-- Contacts their owner deleted: a batch that arrives after the deletion does not
-- index them again.
CREATE TABLE removed_contacts (
    owner_id   uuid NOT NULL,
    contact_id uuid NOT NULL,
    removed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_id, contact_id)
);

-- Erased accounts: their later events index nothing.
CREATE TABLE erased_users (
    user_id   uuid PRIMARY KEY,
    erased_at timestamptz NOT NULL DEFAULT now()
);

-- The newest profile state applied per user; an older update is ignored.
CREATE TABLE profile_versions (
    user_id    uuid PRIMARY KEY,
    updated_at timestamptz NOT NULL
);
