//! HTTP routes, one module per capability, sharing [`AppState`].

use std::sync::Arc;

use axum::extract::FromRef;
use six_kit::{
    auth::TokenVerifier,
    http::{FieldError, Problem},
};
use sqlx::PgPool;
use tokio::sync::Notify;
use uuid::Uuid;

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

/// The page size asked for (`limit`), or `default`; 422 outside 1 to `max`.
fn page_limit(limit: Option<i64>, default: i64, max: i64) -> Result<i64, Problem> {
    let limit = limit.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(Problem::validation(vec![FieldError {
            field: "limit".to_owned(),
            code: "invalid_limit".to_owned(),
            message: format!("must be between 1 and {max}"),
        }]))
    }
}

/// The id in a path: what is not a UUID cannot be one of the caller's, so 404.
fn path_id(raw: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(raw).map_err(|_| Problem::not_found())
}
