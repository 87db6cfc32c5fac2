-- Reindexing without downtime (docs/search.md, "Reindex").

-- Profiles as their last applied update left them, so a rebuild can index the
-- discoverable ones again (the api service, their source, is not asked).
ALTER TABLE profile_versions RENAME TO profiles;
ALTER TABLE profiles
    ADD COLUMN display_name text NOT NULL DEFAULT '',
    ADD COLUMN headline     text,
    ADD COLUMN discoverable boolean NOT NULL DEFAULT false;

-- The versions of the index: searches read the live one; the projection writes
-- to the live one and to the one a reindex is building. A retired or failed
-- version's data is deleted when the next reindex starts (`data_deleted_at`).
CREATE TABLE index_versions (
    version         bigint      PRIMARY KEY,
    state           text        NOT NULL CHECK (state IN ('building', 'live', 'retired', 'failed')),
    profiles_copied bigint      NOT NULL DEFAULT 0,
    contacts_copied bigint      NOT NULL DEFAULT 0,
    -- Why a failed version failed.
    error           text,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    data_deleted_at timestamptz
);
CREATE UNIQUE INDEX index_versions_one_live ON index_versions ((true)) WHERE state = 'live';
CREATE UNIQUE INDEX index_versions_one_building ON index_versions ((true)) WHERE state = 'building';

INSERT INTO index_versions (version, state, finished_at) VALUES (1, 'live', now());
