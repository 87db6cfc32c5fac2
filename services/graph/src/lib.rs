//! The graph service: who knows whom, and how the people a user asks about are
//! connected to them.

mod consumers;
pub mod identity;
pub mod network;
mod routes;
mod settings;
pub mod store;

use std::sync::{Arc, LazyLock};

use six_bus::BusConfig;
use six_kit::{
    Parts, Resources, Service,
    auth::TokenVerifier,
    config::{ConfigError, Env},
    service::BuildError,
};
use sqlx::migrate::Migrator;

pub use settings::{Settings, StoreSettings};
use store::{Backend, Neo4jGraph, PostgresGraph};

/// The service's own migrations (the outbox and inbox come from `six-bus`).
static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| sqlx::migrate!("./migrations"));

/// The graph service.
pub struct App;

impl Service for App {
    const NAME: &'static str = "graph";
    type Settings = Settings;
    type Handler = consumers::Projection<Backend>;

    fn settings(env: &Env) -> Result<Self::Settings, ConfigError> {
        Settings::from_env(env)
    }

    /// No parallel plans: path queries read a few thousand index entries, which
    /// PostgreSQL otherwise splits across two extra worker processes once the
    /// frontier is large enough, and starting them costs more CPU than the read,
    /// with many queries running at once anyway.
    const DATABASE_SESSION: &'static [(&'static str, &'static str)] =
        &[("max_parallel_workers_per_gather", "0")];

    /// Every projection write takes one lock (`store/postgres.rs`), so batches of
    /// events are applied one after another whatever the concurrency, and each
    /// batch waiting for the lock holds a pooled connection that questions over
    /// HTTP then wait for. Two at a time: one is read while the other holds the
    /// lock.
    fn bus_defaults(kit_defaults: BusConfig) -> BusConfig {
        BusConfig {
            max_concurrent_handlers: 2,
            ..kit_defaults
        }
    }

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    async fn build(
        resources: Resources,
        settings: Settings,
    ) -> Result<Parts<Self::Handler>, BuildError> {
        let verifier = TokenVerifier::start(settings.auth.clone()).await?;
        let store = Arc::new(match &settings.store {
            StoreSettings::Postgres => Backend::Postgres(PostgresGraph::new(resources.pool)),
            StoreSettings::Neo4j(config) => Backend::Neo4j(
                Neo4jGraph::connect(config)
                    .await
                    .map_err(|error| format!("neo4j at {}: {error}", config.uri))?,
            ),
        });
        let routes = routes::network::router(routes::AppState {
            store: Arc::clone(&store),
            limits: settings.limits,
            verifier,
        });
        Ok(Parts {
            routes,
            handler: Some(consumers::Projection::new(store)),
        })
    }
}
