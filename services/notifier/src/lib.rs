//! The notifier: tells people what happened (welcome, import summaries, contacts
//! who joined) by e-mail, in an in-app inbox and by signed webhooks, as each user
//! prefers.

mod consumers;
mod delivery;
mod messages;
mod notices;
mod notify;
mod preferences;
mod routes;
mod settings;
mod unsubscribe;
mod webhooks;

use std::sync::LazyLock;

use six_bus::BusConfig;
use six_kit::{
    Parts, Resources, Service,
    auth::TokenVerifier,
    config::{ConfigError, Env},
    service::BuildError,
};
use sqlx::migrate::Migrator;

pub use consumers::Triggers;
pub use settings::Settings;

/// The service's own migrations (the outbox and inbox come from `six-bus`).
static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| sqlx::migrate!("./migrations"));

/// The notifier service.
pub struct App;

impl Service for App {
    const NAME: &'static str = "notifier";
    type Settings = Settings;
    type Handler = consumers::Triggers;

    fn settings(env: &Env) -> Result<Self::Settings, ConfigError> {
        Settings::from_env(env)
    }

    /// Four consumer batches at once instead of the kit's sixteen: they share the
    /// pool and the two cores with the dispatcher, which otherwise starves while
    /// the consumer works through a backlog (`infra/bench/notifier`).
    fn bus_defaults(kit_defaults: BusConfig) -> BusConfig {
        BusConfig {
            max_concurrent_handlers: 4,
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
        let mailer =
            delivery::Mailer::new(&settings.smtp).map_err(|error| format!("SMTP_URL: {error}"))?;
        let links = messages::Links {
            public_url: settings.public_url.clone(),
        };
        let unsubscribe = unsubscribe::UnsubscribeKeys::new(settings.unsubscribe_secret.clone());
        let webhook_sender =
            webhooks::WebhookSender::new(settings.webhooks.policy, settings.webhooks.timeout)?;
        let dispatcher = delivery::Dispatcher {
            pool: resources.pool.clone(),
            mailer,
            webhooks: webhook_sender,
            links: links.clone(),
            unsubscribe: unsubscribe.clone(),
            settings: settings.dispatch.clone(),
        };
        resources
            .tasks
            .spawn(dispatcher.run(resources.stop.clone()));
        let digester = delivery::Digester {
            pool: resources.pool.clone(),
            interval: settings.dispatch.digest_interval,
        };
        resources.tasks.spawn(digester.run(resources.stop.clone()));
        let state = routes::AppState {
            pool: resources.pool.clone(),
            verifier,
            unsubscribe,
            links,
            webhooks: settings.webhooks.clone(),
        };
        Ok(Parts {
            routes: routes::inbox::router(state.clone())
                .merge(routes::admin::router(state.clone()))
                .merge(routes::preferences::router(state.clone()))
                .merge(routes::unsubscribe::router(state.clone()))
                .merge(routes::webhooks::router(state)),
            handler: Some(consumers::Triggers),
        })
    }
}
