-- Identity is derived from the evidence the graph holds now (docs/graph.md,
-- "Identity resolution"): person_keys is the one record of which person a key
-- names, and the reads that settle it get their indexes.
ALTER TABLE persons DROP COLUMN keys;

-- Which keys are accounts' e-mails.
CREATE INDEX persons_account_key ON persons (account_key) WHERE account_key IS NOT NULL;

-- An entry is placed on the person of its first key; a key stays known while it is
-- some entry's first key.
CREATE INDEX knows_first_key ON knows ((keys[1]));

-- Linking entries: a discoverable owner's entries with two keys or more, found by
-- any of their keys.
CREATE INDEX knows_linking ON knows USING gin (keys)
    WHERE owner_discoverable AND cardinality(keys) > 1;
