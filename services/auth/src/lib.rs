//! The auth service: accounts, access and refresh tokens, service tokens, the JWKS,
//! and the internal token proxy for third-party APIs.

mod clients;
mod email;
mod housekeeping;
mod keys;
mod password;
pub mod proxy;
mod refresh;
mod routes;
mod settings;
mod state;
mod throttle;
mod tokens;

use std::sync::{Arc, LazyLock};

use axum::{Router, middleware};
use six_kit::{
    NoEvents, Parts, Resources, Service,
    auth::TokenVerifier,
    config::{ConfigError, Env},
    service::BuildError,
};
use sqlx::migrate::Migrator;

use crate::{
    keys::SigningKeys, password::Passwords, refresh::RefreshTokens, settings::Settings,
    state::AppState, throttle::LoginThrottle, tokens::TokenIssuer,
};

/// The service's own migrations (the outbox and inbox come from `six-bus`).
static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| sqlx::migrate!("./migrations"));

/// The auth service.
pub struct App;

impl Service for App {
    const NAME: &'static str = "auth";
    type Settings = Settings;
    type Handler = NoEvents;

    fn settings(env: &Env) -> Result<Self::Settings, ConfigError> {
        Settings::from_env(env)
    }

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    async fn build(
        resources: Resources,
        settings: Settings,
    ) -> Result<Parts<NoEvents>, BuildError> {
        let keys = Arc::new(SigningKeys::load(&settings.signing_key_files)?);
        let tokens = TokenIssuer::new(
            Arc::clone(&keys),
            &settings.issuer,
            &settings.audience,
            settings.access_token_lifetime,
        );
        let verifier = TokenVerifier::with_key_set(
            &settings.issuer,
            &settings.audience,
            settings.clock_skew,
            &serde_json::to_vec(keys.jwks())?,
        )?;
        tokio::spawn(housekeeping::run(
            resources.pool.clone(),
            settings.housekeeping_interval,
            settings.throttle.failure_window,
            resources.stop.clone(),
        ));
        let state = AppState {
            pool: resources.pool,
            passwords: Passwords::new(settings.hash_cost, settings.max_concurrent_hashes)?,
            tokens,
            verifier: verifier.clone(),
            refresh: RefreshTokens::new(settings.refresh_token_lifetime),
            throttle: LoginThrottle::new(settings.throttle),
            clients: Arc::new(settings.service_clients),
            client_address_header: settings.client_address_header,
        };
        let routes = Router::new()
            .merge(routes::accounts::router())
            .merge(routes::sessions::router())
            .merge(routes::token::router())
            .merge(routes::jwks::router())
            .with_state(state)
            .merge(proxy::router(settings.proxy, resources.stop).route_layer(
                middleware::from_fn_with_state(verifier, proxy::require_service_token),
            ));
        Ok(Parts {
            routes,
            handler: None,
        })
    }
}
