-- Path queries are index-only scans of knows, planned from its statistics. With
-- PostgreSQL's defaults the table is analysed after 10 % more rows and vacuumed
-- (which marks pages all-visible, so index-only scans skip the heap) after 20 %
-- more: while a large import grows it, the statistics lag by many times the
-- table's size at first (the benchmark once found 41,800 rows estimated for
-- 600,000), and path queries right after it cost several times as much. Analyse
-- and vacuum it after 2 % more rows instead.
ALTER TABLE knows SET (
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.02
);
