//! The search service: finds people among a user's contacts and the discoverable
//! profiles, as they type, typos included.

mod commands;
mod consumers;
pub mod cursor;
pub mod document;
pub mod index;
pub mod reindex;
mod routes;
mod settings;
pub mod text;

use std::sync::{Arc, LazyLock};

use six_bus::BusConfig;
use six_kit::{
    Parts, Resources, Service,
    auth::TokenVerifier,
    config::{ConfigError, Env},
    service::BuildError,
};
use sqlx::migrate::Migrator;

use index::Indexes;
use reindex::Reindexer;
pub use settings::{IndexSettings, ReindexSettings, Settings, TantivyConfig};

/// The service's own migrations (the outbox and inbox come from `six-bus`).
static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| sqlx::migrate!("./migrations"));

/// The search service.
pub struct App;

impl Service for App {
    const NAME: &'static str = "search";
    type Settings = Settings;
    type Handler = consumers::Projection;

    fn settings(env: &Env) -> Result<Self::Settings, ConfigError> {
        Settings::from_env(env)
    }

    /// Every batch of events ends in an index commit under the projection's lock,
    /// so batches are applied one after another whatever the concurrency: few,
    /// large batches (up to 64 events, two at a time, so one is decoded while the
    /// other commits) make few commits. Measured in `infra/bench/search`: 2.7–3.1 ×
    /// the documents per second of the kit's defaults (16 batches of ~4 events
    /// each). The prefetch is just what two full batches hold: 256 (events
    /// waiting besides those) put the peak memory while indexing at 283–300 MB,
    /// 128 at 210–231 MB, at the same rate.
    fn bus_defaults(kit_defaults: BusConfig) -> BusConfig {
        BusConfig {
            prefetch: 128,
            max_concurrent_handlers: 2,
            handler_batch_size: 64,
            ..kit_defaults
        }
    }

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    fn commands() -> Vec<six_kit::cli::OwnCommand<Settings>> {
        commands::commands()
    }

    async fn build(
        resources: Resources,
        settings: Settings,
    ) -> Result<Parts<Self::Handler>, BuildError> {
        let verifier = TokenVerifier::start(settings.auth.clone()).await?;
        let live_version = reindex::live_version(&resources.pool).await?;
        let indexes = Arc::new(
            Indexes::open(settings.index.clone(), live_version)
                .await
                .map_err(|error| match &settings.index {
                    IndexSettings::Tantivy(config) => format!(
                        "search index at {}: {error} (SEARCH_INDEX_DIR must be a writable \
                         directory that no other instance has open)",
                        config.dir.display()
                    ),
                    IndexSettings::Elasticsearch(config) => {
                        format!("elasticsearch at {}: {error}", config.url)
                    }
                })?,
        );
        let reindexer = Arc::new(Reindexer::new(
            resources.pool.clone(),
            Arc::clone(&indexes),
            settings.reindex.as_ref(),
            resources.stop.clone(),
        )?);
        let state = routes::AppState {
            indexes: Arc::clone(&indexes),
            reindexer,
            verifier,
        };
        Ok(Parts {
            routes: routes::search::router(state.clone()).merge(routes::reindex::router(state)),
            handler: Some(consumers::Projection::new(indexes)),
        })
    }
}
