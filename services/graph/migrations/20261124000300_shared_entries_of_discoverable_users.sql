-- Path queries read, of each discoverable owner they widen, only the entries of
-- discoverable users (store/postgres.rs, shared_neighbours with
-- Contacts::OfDiscoverableUsers): an index of just those, so the read does not
-- pass over the others (~5 in 6 entries in the benchmark's network, ~150 ns each).
CREATE INDEX knows_between_discoverable_users ON knows (owner_person_id) INCLUDE (person_id)
    WHERE owner_discoverable AND person_discoverable;
