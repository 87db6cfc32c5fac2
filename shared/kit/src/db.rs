//! The service database: pool and migrations.

use secrecy::ExposeSecret;
use sqlx::{PgPool, migrate::Migrator, postgres::PgPoolOptions};

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

/// Connects a pool; fails at once if the database cannot be reached.
#[tracing::instrument(skip_all)]
pub async fn connect(config: &DatabaseConfig) -> Result<PgPool, DatabaseError> {
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(config.acquire_timeout)
        .connect(config.url.expose_secret())
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
