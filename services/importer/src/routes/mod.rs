//! HTTP routes, one module per capability, sharing [`AppState`].

use std::sync::Arc;

use axum::extract::FromRef;
use six_kit::auth::TokenVerifier;
use sqlx::PgPool;
use tokio::sync::Notify;

use crate::settings::Settings;

pub mod contacts;
pub mod imports;

/// What every route shares.
#[derive(Clone)]
pub struct AppState {
    /// The `importer` database.
    pub pool: PgPool,
    /// The service's settings.
    pub settings: Arc<Settings>,
    /// Wakes the runners when a job is queued.
    pub wake: Arc<Notify>,
    /// Verifies access tokens.
    pub verifier: TokenVerifier,
}

impl FromRef<AppState> for TokenVerifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}
