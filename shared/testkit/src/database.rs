//! A throwaway PostgreSQL database per test.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection, PgPool};
use uuid::Uuid;

use crate::cleanup::{finish_in_background, is_old_leftover};
use crate::servers::{database_admin_url, unreachable};

/// Prefix of every test database name; the rest is a UUIDv7 (its creation time).
const NAME_PREFIX: &str = "test_";

/// Connections of a test database's pool: enough for a relay, a consumer and the
/// test itself.
const POOL_CONNECTIONS: u32 = 10;

/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A fresh, empty PostgreSQL database that exists for one test.
///
/// Created on the server at [`database_admin_url`] with a unique name
/// (`test_<uuidv7>`). When this value is dropped (also when the test panics) the
/// database is dropped with any connection still open to it, in the background:
/// the test binary waits for that when it exits. Databases left by killed runs are
/// swept when they are more than an hour old.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
    pool: PgPool,
}

impl TestDatabase {
    /// Creates the database and a pool of connections to it. The database is empty:
    /// the test runs the migrations it needs on [`TestDatabase::pool`].
    ///
    /// # Panics
    /// When PostgreSQL is not reachable (the message says how to start it) or
    /// refuses to create the database.
    pub async fn create() -> Self {
        Self::create_from(None).await
    }

    /// Creates the database as a copy of the existing database `template` (which
    /// nothing may be connected to meanwhile): a fixture made once, used by many
    /// runs. Dropped like any other test database; `template` stays.
    ///
    /// # Panics
    /// As [`TestDatabase::create`]; also when `template` does not exist or is in use.
    pub async fn copy_of(template: &str) -> Self {
        Self::create_from(Some(template)).await
    }

    async fn create_from(template: Option<&str>) -> Self {
        let admin_url = database_admin_url();
        let mut admin = connect(&admin_url).await;
        static SWEPT: AtomicBool = AtomicBool::new(false);
        if !SWEPT.swap(true, Ordering::Relaxed) {
            sweep_leftovers(&mut admin).await;
        }

        let name = format!("{NAME_PREFIX}{}", Uuid::now_v7().simple());
        admin
            .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                r#"CREATE DATABASE "{name}"{}"#,
                template.map_or(String::new(), |template| format!(
                    r#" TEMPLATE "{}""#,
                    template.replace('"', "\"\"")
                ))
            ))))
            .await
            .unwrap_or_else(|error| match template {
                None => panic!("could not create test database {name}: {error}"),
                Some(template) => {
                    panic!("could not create test database {name} as a copy of {template}: {error}")
                }
            });
        let _ = admin.close().await;

        let options = connect_options(&admin_url).database(&name);
        let url = options.to_url_lossy().to_string();
        let pool = PgPoolOptions::new()
            .max_connections(POOL_CONNECTIONS)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .unwrap_or_else(|error| unreachable("PostgreSQL", &url, &error));
        Self {
            name,
            url,
            admin_url,
            pool,
        }
    }

    /// The database's name (`test_<uuidv7>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection URL to this database, with the admin credentials.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// A pool of connections to this database (a cheap handle: clone it freely).
    pub fn pool(&self) -> PgPool {
        self.pool.clone()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin_url = self.admin_url.clone();
        // WITH (FORCE) also ends the connections of this pool and of any task still
        // holding a clone of it. Not awaited here: see `finish_in_background`.
        finish_in_background(&name.clone(), async move {
            let mut admin = PgConnection::connect_with(&connect_options(&admin_url))
                .await
                .map_err(|error| error.to_string())?;
            let dropped = admin
                .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                ))))
                .await;
            let _ = admin.close().await;
            dropped.map(drop).map_err(|error| error.to_string())
        });
    }
}

async fn connect(url: &str) -> PgConnection {
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        PgConnection::connect_with(&connect_options(url)),
    )
    .await
    {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => unreachable("PostgreSQL", url, &error),
        Err(_) => unreachable(
            "PostgreSQL",
            url,
            &format!("no answer within {CONNECT_TIMEOUT:?}"),
        ),
    }
}

fn connect_options(url: &str) -> PgConnectOptions {
    url.parse::<PgConnectOptions>()
        .unwrap_or_else(|error| panic!("SIX_DATABASE_ADMIN_URL is not a PostgreSQL URL: {error}"))
        // Test databases come and go by the hundred: keep their statements out of the log.
        .disable_statement_logging()
}

/// Drops test databases of killed runs, best effort (another run may be doing the
/// same at the same time).
async fn sweep_leftovers(admin: &mut PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar(r"SELECT datname FROM pg_database WHERE datname LIKE 'test\_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for name in names
        .iter()
        .filter(|name| is_old_leftover(name, NAME_PREFIX))
    {
        if let Err(error) = admin
            .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
            ))))
            .await
        {
            eprintln!("six-testkit: could not drop leftover database {name}: {error}");
        }
    }
}
