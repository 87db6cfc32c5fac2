//! Between the projection and the path queries: autovacuum catching up with
//! `knows`.
//!
//! Path queries are index-only scans of `knows`, which skip the heap only on pages
//! vacuumed since they were written, planned from statistics of its last analysis.
//! Right after 2,000,000 edges were written in a few minutes, the edges of about
//! the last minute are neither vacuumed nor analysed (autovacuum looks at a
//! database at most once per `autovacuum_naptime`, 60 s by default), and a query
//! costs about 1.5 × as much (`infra/bench/README.md`, "Where the time goes"). A
//! graph between imports is not in that state, so the queries are measured once
//! autovacuum would find nothing left to do on `knows`: for each of vacuum, vacuum
//! after inserts and analyse, the rows since the last one under the threshold that
//! starts it (the table's own settings, else the server's). How long that took is
//! printed; a run that reaches [`DEADLINE`] measures anyway and says so.

use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::PgPool;

/// Longest wait for autovacuum.
pub const DEADLINE: Duration = Duration::from_secs(300);

/// An idle backend reports its statistics up to 10 s after its last transaction
/// (`PGSTAT_IDLE_INTERVAL` in PostgreSQL), so the counters are trusted from then
/// on.
pub const STATISTICS_DELAY: Duration = Duration::from_secs(10);

/// How often the statistics are read.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// Whether autovacuum would find nothing to do on `knows`.
const STATE: &str = "\
WITH knows AS ( \
    SELECT c.reltuples::float8 AS tuples, s.n_ins_since_vacuum, s.n_dead_tup, s.n_mod_since_analyze, \
           coalesce(c.reloptions, '{}') AS options \
    FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid \
    WHERE c.oid = 'knows'::regclass \
), setting AS ( \
    SELECT name, coalesce( \
               (SELECT split_part(o, '=', 2) FROM knows, unnest(knows.options) o \
                WHERE split_part(o, '=', 1) = name), \
               current_setting(name))::float8 AS value \
    FROM unnest(ARRAY['autovacuum_vacuum_threshold', 'autovacuum_vacuum_scale_factor', \
                      'autovacuum_vacuum_insert_threshold', \
                      'autovacuum_vacuum_insert_scale_factor', \
                      'autovacuum_analyze_threshold', 'autovacuum_analyze_scale_factor']) name \
), threshold AS ( \
    SELECT max(value) FILTER (WHERE name = 'autovacuum_vacuum_threshold') \
             + max(value) FILTER (WHERE name = 'autovacuum_vacuum_scale_factor') * tuples \
             AS dead, \
           max(value) FILTER (WHERE name = 'autovacuum_vacuum_insert_threshold') \
             + max(value) FILTER (WHERE name = 'autovacuum_vacuum_insert_scale_factor') * tuples \
             AS inserted, \
           max(value) FILTER (WHERE name = 'autovacuum_analyze_threshold') \
             + max(value) FILTER (WHERE name = 'autovacuum_analyze_scale_factor') * tuples \
             AS changed \
    FROM setting, (SELECT greatest(tuples, 0) AS tuples FROM knows) t \
    GROUP BY tuples \
) \
SELECT knows.n_dead_tup <= threshold.dead \
       AND knows.n_ins_since_vacuum <= threshold.inserted \
       AND knows.n_mod_since_analyze <= threshold.changed \
FROM knows, threshold";

/// What the wait found.
#[derive(Debug, Clone, Copy)]
pub struct CatchUp {
    /// From the end of the projection.
    pub waited: Duration,
    /// Whether autovacuum had nothing left to do before [`DEADLINE`].
    pub caught_up: bool,
}

/// Waits until autovacuum would find nothing to do on the graph's `knows`, at
/// most [`DEADLINE`] after the projection ended.
pub async fn catch_up(pool: &PgPool) -> anyhow::Result<CatchUp> {
    let started = Instant::now();
    loop {
        let nothing_left: bool = sqlx::query_scalar(STATE)
            .fetch_one(pool)
            .await
            .context("read autovacuum's state of knows (pg_stat_user_tables)")?;
        let waited = started.elapsed();
        let caught_up = nothing_left && waited >= STATISTICS_DELAY;
        if caught_up || waited >= DEADLINE {
            return Ok(CatchUp { waited, caught_up });
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}
