//! The service database: pool and migrations.

use secrecy::ExposeSecret;
use std::str::FromStr;

use sqlx::{
    PgPool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::config::DatabaseConfig;

/// The database could not be reached or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// No connection could be made.
    #[error("cannot connect to the database (check DATABASE_URL and that the server is up): {0}")]
    Connect(#[source] sqlx::Error),
    /// A migration failed; the database is left at the last good migration.
    #[error("migration of {set} failed: {source}")]
    Migrate {
        /// Which migration set: `bus` or `service`.
        set: &'static str,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
}

/// Connects a pool whose connections start with the `session` settings
/// ([`Service::DATABASE_SESSION`](crate::Service::DATABASE_SESSION)); fails at once
/// if the database cannot be reached.
#[tracing::instrument(skip_all)]
pub async fn connect(
    config: &DatabaseConfig,
    session: &[(&str, &str)],
) -> Result<PgPool, DatabaseError> {
    let options = PgConnectOptions::from_str(config.url.expose_secret())
        .map_err(DatabaseError::Connect)?
        .options(session.iter().copied());
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(config.acquire_timeout)
        .connect_with(options)
        .await
        .map_err(DatabaseError::Connect)
}

/// Applies the bus's migrations (outbox, inbox), then the service's own. Safe to run
/// from several replicas at once: the migrator holds an advisory lock.
#[tracing::instrument(skip_all)]
pub async fn migrate(pool: &PgPool, service_migrations: &Migrator) -> Result<(), DatabaseError> {
    six_bus::migrator()
        .run(pool)
        .await
        .map_err(|source| DatabaseError::Migrate { set: "bus", source })?;
    service_migrations
        .run(pool)
        .await
        .map_err(|source| DatabaseError::Migrate {
            set: "service",
            source,
        })?;
    tracing::info!("migrations applied");
    Ok(())
}
