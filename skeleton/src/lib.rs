//! The {{project-name}} service: what it serves and what it consumes.

mod consumers;
mod routes;

use std::sync::LazyLock;

use axum::Router;
use six_kit::{
    Parts, Resources, Service,
    config::{ConfigError, Env},
    service::BuildError,
};
use sqlx::migrate::Migrator;

/// The service's own migrations (the outbox and inbox come from `six-bus`).
static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| sqlx::migrate!("./migrations"));

/// The {{project-name}} service.
pub struct App;

impl Service for App {
    const NAME: &'static str = "{{project-name}}";
    type Settings = ();
    type Handler = consumers::Users;

    fn settings(_env: &Env) -> Result<Self::Settings, ConfigError> {
        Ok(())
    }

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    async fn build(resources: Resources, (): ()) -> Result<Parts<Self::Handler>, BuildError> {
        let routes = Router::new().merge(routes::known_users::router(resources.pool.clone()));
        Ok(Parts {
            routes,
            handler: Some(consumers::Users),
        })
    }
}
