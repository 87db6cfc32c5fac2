//! The search service: finds people among a user's contacts and the discoverable
//! profiles, as they type, typos included.

mod consumers;
pub mod cursor;
pub mod document;
pub mod index;
mod routes;
mod settings;
pub mod text;

use std::sync::{Arc, LazyLock};

use six_kit::{
    Parts, Resources, Service,
    auth::TokenVerifier,
    config::{ConfigError, Env},
    service::BuildError,
};
use sqlx::migrate::Migrator;

use index::{Backend, ElasticsearchIndex, TantivyIndex};
pub use settings::{IndexSettings, Settings, TantivyConfig};

/// The service's own migrations (the outbox and inbox come from `six-bus`).
static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| sqlx::migrate!("./migrations"));

/// The search service.
pub struct App;

impl Service for App {
    const NAME: &'static str = "search";
    type Settings = Settings;
    type Handler = consumers::Projection<Backend>;

    fn settings(env: &Env) -> Result<Self::Settings, ConfigError> {
        Settings::from_env(env)
    }

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    async fn build(
        _resources: Resources,
        settings: Settings,
    ) -> Result<Parts<Self::Handler>, BuildError> {
        let verifier = TokenVerifier::start(settings.auth.clone()).await?;
        let index = Arc::new(match &settings.index {
            IndexSettings::Tantivy(config) => Backend::Tantivy(
                TantivyIndex::open(&config.dir, config.writer_memory_bytes).map_err(|error| {
                    format!(
                        "search index at {}: {error} (SEARCH_INDEX_DIR must be a writable \
                         directory that no other instance has open)",
                        config.dir.display()
                    )
                })?,
            ),
            IndexSettings::Elasticsearch(config) => Backend::Elasticsearch(
                ElasticsearchIndex::connect(config)
                    .await
                    .map_err(|error| format!("elasticsearch at {}: {error}", config.url))?,
            ),
        });
        let routes = routes::search::router(routes::AppState {
            index: Arc::clone(&index),
            verifier,
        });
        Ok(Parts {
            routes,
            handler: Some(consumers::Projection::new(index)),
        })
    }
}
