-- The graph on PostgreSQL (GRAPH_STORE=postgres): persons, the identity keys that
-- recognise them, and KNOWS edges, one per contact entry of a user's address book.
-- See docs/graph.md for the rules these tables keep.

-- One real-world person. A person is a user when `user_id` is set.
CREATE TABLE persons (
    person_id          uuid PRIMARY KEY,
    user_id            uuid,
    -- the user's name as they chose it (registration, then profile); NULL for a
    -- person who is only someone's contact
    display_name       text,
    -- whether other users' paths may cross this user's edges; false for non-users
    discoverable       boolean NOT NULL DEFAULT false,
    profile_updated_at timestamptz,
    -- the key of the account's own e-mail address, while the person is a user
    account_key        text,
    -- every identity key that points here (person_keys), kept for merges and erasure
    keys               text[] NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX persons_user ON persons (user_id) WHERE user_id IS NOT NULL;

-- Identity keys ('email:ann@example.org', 'phone:+447700900123',
-- 'profile:linkedin.com/in/ann'): each names at most one person.
CREATE TABLE person_keys (
    key       text PRIMARY KEY,
    person_id uuid NOT NULL
);

-- Persons merged into another: an id a client kept still finds the person.
CREATE TABLE person_merges (
    merged_id uuid PRIMARY KEY,
    into_id   uuid NOT NULL
);

-- owner KNOWS person: one row per contact entry. Paths treat edges as undirected;
-- who may cross an edge depends on its owner (docs/graph.md, "Privacy").
CREATE TABLE knows (
    owner_person_id     uuid NOT NULL,
    contact_id          uuid NOT NULL,
    person_id           uuid NOT NULL,
    -- the owner's name for the contact, as imported
    full_name           text NOT NULL,
    -- the identity keys of this entry
    keys                text[] NOT NULL,
    -- copies of persons.discoverable of the owner and of the contact's person, kept
    -- in step by the projection, so traversals never read the persons table
    owner_discoverable  boolean NOT NULL,
    person_discoverable boolean NOT NULL,
    PRIMARY KEY (owner_person_id, contact_id)
);
-- Reverse traversal reads only the discoverable owners' entries of a person: the
-- second column keeps them in one contiguous range of the index.
CREATE INDEX knows_person ON knows (person_id, owner_discoverable) INCLUDE (owner_person_id);

-- Contacts deleted by their owner: a batch redelivered or reordered after the
-- deletion does not bring them back.
CREATE TABLE removed_contacts (
    owner_id   uuid NOT NULL,
    contact_id uuid NOT NULL,
    PRIMARY KEY (owner_id, contact_id)
);

-- Users whose account was deleted: late events about them change nothing.
CREATE TABLE erased_users (
    user_id   uuid PRIMARY KEY,
    erased_at timestamptz NOT NULL DEFAULT now()
);
