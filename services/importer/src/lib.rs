//! The importer service: contact exports in, contacts out, as import jobs.

mod consumers;
pub mod formats;
pub mod ingest;
pub mod jobs;
pub mod normalise;
pub mod records;
mod routes;
pub mod rows;
pub mod schedules;
mod settings;
pub mod spool;

use std::sync::{Arc, LazyLock};

use six_kit::{
    Parts, Resources, Service,
    auth::TokenVerifier,
    config::{ConfigError, Env},
    service::BuildError,
};
use sqlx::migrate::Migrator;

use schedules::scheduler::Wakers;
pub use settings::Settings;

/// The service's own migrations (the outbox and inbox come from `six-bus`).
static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| sqlx::migrate!("./migrations"));

/// The importer service.
pub struct App;

impl Service for App {
    const NAME: &'static str = "importer";
    type Settings = Settings;
    type Handler = consumers::Erasure;

    fn settings(env: &Env) -> Result<Self::Settings, ConfigError> {
        Settings::from_env(env)
    }

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    async fn build(
        resources: Resources,
        settings: Settings,
    ) -> Result<Parts<Self::Handler>, BuildError> {
        let settings = Arc::new(settings);
        std::fs::create_dir_all(&settings.spool_dir).map_err(|error| {
            format!(
                "cannot create the spool directory {} (IMPORTER_SPOOL_DIR): {error}",
                settings.spool_dir.display()
            )
        })?;
        let verifier = TokenVerifier::start(settings.auth.clone()).await?;
        let fetcher = Arc::new(jobs::fetch::Fetcher::new(
            &settings.schedules,
            settings.source_limits.max_upload_bytes,
        )?);
        let wakers = Wakers::default();
        jobs::runner::start(
            resources.pool.clone(),
            Arc::clone(&settings),
            Arc::clone(&fetcher),
            wakers.clone(),
            resources.stop.clone(),
        );
        schedules::scheduler::start(
            resources.pool.clone(),
            &settings.schedules,
            wakers.clone(),
            resources.stop.clone(),
        )?;
        let state = routes::AppState {
            pool: resources.pool,
            settings,
            wakers,
            fetcher,
            verifier,
        };
        let routes = routes::imports::router(state.clone())
            .merge(routes::contacts::router(state.clone()))
            .merge(routes::schedules::router(state));
        Ok(Parts {
            routes,
            handler: Some(consumers::Erasure),
        })
    }
}
