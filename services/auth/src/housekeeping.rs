//! Deletes what no request can use any more, so the tables stay the size of the
//! live sessions: refresh families whose every token expired (revoked ones
//! included), expired tokens of live families, and login failures that are both
//! forgotten (older than the failure window) and not locking anything.
//!
//! Every replica runs it; the deletes are idempotent, so replicas running it at
//! once only repeat each other's work. Each statement deletes at most
//! [`BATCH_ROWS`] rows and is repeated until less remain, so no pass holds locks
//! on a large part of a table.

use std::time::Duration;

use sqlx::{PgPool, postgres::PgQueryResult};
use tokio_util::sync::CancellationToken;

/// Most rows one statement deletes.
const BATCH_ROWS: i64 = 5_000;

/// Families without a token still valid (their cascade takes the tokens).
const DEAD_FAMILIES: &str = "DELETE FROM refresh_families WHERE family_id IN ( \
         SELECT f.family_id FROM refresh_families f \
         WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens t \
                           WHERE t.family_id = f.family_id AND t.expires_at > now()) \
         LIMIT $1)";

/// Expired (hence replaced) tokens of families that go on.
const EXPIRED_TOKENS: &str = "DELETE FROM refresh_tokens WHERE token_digest IN ( \
         SELECT token_digest FROM refresh_tokens WHERE expires_at <= now() LIMIT $1)";

/// Failures the throttle no longer counts, once no lockout is running.
const FORGOTTEN_FAILURES: &str = "DELETE FROM login_failures WHERE throttle_key IN ( \
         SELECT throttle_key FROM login_failures \
         WHERE last_failure_at < now() - make_interval(secs => $2) \
           AND (locked_until IS NULL OR locked_until <= now()) \
         LIMIT $1)";

/// Runs a pass every `interval` until `stop` is cancelled; a failed pass is logged
/// and tried again at the next interval.
pub async fn run(
    pool: PgPool,
    interval: Duration,
    failure_window: Duration,
    stop: CancellationToken,
) {
    loop {
        match purge(&pool, failure_window).await {
            Ok(deleted) if deleted > 0 => tracing::info!(deleted, "housekeeping pass"),
            Ok(_) => tracing::debug!("housekeeping pass, nothing to delete"),
            Err(error) => {
                tracing::warn!(%error, "housekeeping pass failed; retrying at the next interval")
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// One pass; returns how many rows it deleted.
async fn purge(pool: &PgPool, failure_window: Duration) -> Result<u64, sqlx::Error> {
    let window_secs = failure_window.as_secs_f64();
    let families = in_batches(|| sqlx::query(DEAD_FAMILIES).bind(BATCH_ROWS).execute(pool)).await?;
    let tokens = in_batches(|| sqlx::query(EXPIRED_TOKENS).bind(BATCH_ROWS).execute(pool)).await?;
    let failures = in_batches(|| {
        sqlx::query(FORGOTTEN_FAILURES)
            .bind(BATCH_ROWS)
            .bind(window_secs)
            .execute(pool)
    })
    .await?;
    Ok(families + tokens + failures)
}

/// Runs a delete of at most [`BATCH_ROWS`] rows until it deletes fewer.
async fn in_batches<F, Fut>(mut delete: F) -> Result<u64, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<PgQueryResult, sqlx::Error>>,
{
    let mut deleted = 0;
    loop {
        let rows = delete().await?.rows_affected();
        deleted += rows;
        if rows < BATCH_ROWS.unsigned_abs() {
            return Ok(deleted);
        }
    }
}
