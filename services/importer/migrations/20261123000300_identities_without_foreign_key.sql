-- Identities are written in the same transaction as their contact, and deleted
-- with it by the code that deletes contacts (the contact route, erasure). The
-- foreign key's per-row check was half of the identities' insert time
-- (infra/bench/importer), so the writer keeps the invariant instead.
ALTER TABLE contact_identities DROP CONSTRAINT contact_identities_contact_id_fkey;
