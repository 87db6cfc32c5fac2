//! The graph service as its own process, so that its memory and CPU are its own:
//! the release binary of `services/graph` on a fresh database and vhost, port 0,
//! verifying the tokens of a [`TestIssuer`] in this process. Everything else is
//! its production default (pool of 10, prefetch 64, 16 handler batches of up to
//! 32 events, `GRAPH_MAX_VISITED` 200,000). Running the process is
//! [`six_bench_support::service`]'s.

use std::{
    path::{Path, PathBuf},
    process::ExitStatus,
};

use anyhow::Context;
use six_bench_support::service::{RunningService, service_binary, service_command};
use six_kit::testing::TestIssuer;
use six_testkit::{TestDatabase, TestVhost};
use sqlx::PgConnection;

use crate::kept;

/// The service binary's name, and its directory under `services/`.
const BINARY: &str = "graph";

/// Finds the graph's binary: `explicit` if given; else, under `cargo run`, builds
/// `services/graph` (release unless this is a debug build) into this binary's
/// target directory and uses it; else expects it there already.
pub async fn binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    service_binary(BINARY, explicit).await
}

/// A running graph process.
pub struct GraphProcess {
    /// The process.
    pub service: RunningService,
    /// Its database (dropped, with the data, after the process stops).
    pub database: TestDatabase,
    /// Its vhost, where the events are published.
    pub vhost: TestVhost,
}

/// Starts the graph from `binary` with tokens from `issuer`, on a fresh database or
/// a copy of the kept projection `copy_of`, set up
/// with `database_settings` (PostgreSQL settings, `ALTER DATABASE ... SET`, for
/// every connection the graph opens); returns once it is ready (`/readyz`:
/// database up, relay and consumer connected, so its queue is declared and bound).
pub async fn start(
    binary: &Path,
    issuer: &TestIssuer,
    database_settings: &[(&str, String)],
    copy_of: Option<&str>,
) -> anyhow::Result<GraphProcess> {
    let database = match copy_of {
        Some(kept) => TestDatabase::copy_of(kept).await,
        None => TestDatabase::create().await,
    };
    for (name, value) in database_settings {
        let statement = format!(
            r#"ALTER DATABASE "{}" SET {name} = '{}'"#,
            database.name(),
            value.replace('\'', "''")
        );
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&database.pool())
            .await
            .with_context(|| format!("set {name} on the graph's database"))?;
    }
    let vhost = TestVhost::create().await;
    let mut command = service_command(binary, &database.url(), &vhost.amqp_url());
    command.arg("serve").envs(issuer.env_vars());
    let service = RunningService::start(BINARY, command).await?;
    Ok(GraphProcess {
        service,
        database,
        vhost,
    })
}

impl GraphProcess {
    /// Sends SIGTERM and waits for the exit; then, with `keep` (a name and a label),
    /// copies its database to that name; then drops its database and vhost.
    pub async fn stop(
        self,
        admin: &mut PgConnection,
        keep: Option<(&str, &str)>,
    ) -> anyhow::Result<ExitStatus> {
        let exit = self.service.stop().await?;
        if let Some((name, label)) = keep {
            kept::keep(admin, &self.database, name, label).await?;
        }
        Ok(exit)
    }
}
