//! The PostgreSQL server a benchmark writes to, seen from its superuser connection:
//! connecting to it, a quiet start for each phase, and the settings line of the
//! report's header.

use std::time::Duration;

use anyhow::Context;
use sqlx::{Connection, PgConnection};

/// Quiet time after the checkpoint that starts each phase.
pub const SETTLE: Duration = Duration::from_secs(2);

/// The settings that decide how much a write costs, in the order the header shows
/// them.
const WRITE_SETTINGS: &[&str] = &[
    "synchronous_commit",
    "fsync",
    "shared_buffers",
    "max_wal_size",
];

/// A superuser connection (`SIX_DATABASE_ADMIN_URL`, else the local stack's).
pub async fn connect_admin() -> anyhow::Result<PgConnection> {
    PgConnection::connect(&six_testkit::database_admin_url())
        .await
        .context("connect to PostgreSQL (is the local stack up? infra/local/stack up)")
}

/// A checkpoint, so that no phase pays for the previous one's dirty pages, then
/// [`SETTLE`] of quiet.
pub async fn settle(admin: &mut PgConnection) -> anyhow::Result<()> {
    sqlx::query("CHECKPOINT")
        .execute(&mut *admin)
        .await
        .context("CHECKPOINT")?;
    tokio::time::sleep(SETTLE).await;
    Ok(())
}

/// The server's version and the settings that decide how much a write costs:
/// `PostgreSQL 15.18, synchronous_commit on, fsync on, shared_buffers 128MB,
/// max_wal_size 1GB`.
pub async fn describe(admin: &mut PgConnection) -> anyhow::Result<String> {
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut *admin)
        .await
        .context("read the server's version")?;
    let mut parts = vec![format!("PostgreSQL {version}")];
    for setting in WRITE_SETTINGS {
        let value: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SHOW {setting}")))
            .fetch_one(&mut *admin)
            .await
            .with_context(|| format!("SHOW {setting}"))?;
        parts.push(format!("{setting} {value}"));
    }
    Ok(parts.join(", "))
}
