-- Settling identity searches `knows_linking` in every projection transaction,
-- while batches insert into it: with GIN's pending list (fastupdate) each search
-- also scans every insertion not yet merged, which made a search cost ~190 ms
-- under load instead of ~10 ms. Insertions now go into the index directly.
ALTER INDEX knows_linking SET (fastupdate = off);
