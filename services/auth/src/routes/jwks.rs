//! `GET /.well-known/jwks.json`: the public keys verifiers need.

use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};
use six_kit::http::Json;

use crate::state::AppState;

/// How long verifiers may cache the key set (they refetch on an unknown `kid`).
const CACHE_MAX_AGE_SECS: u32 = 300;

/// The JWKS route.
pub fn router() -> Router<AppState> {
    Router::new().route("/.well-known/jwks.json", get(jwks))
}

async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CACHE_CONTROL,
            format!("public, max-age={CACHE_MAX_AGE_SECS}"),
        )],
        Json(state.tokens.keys().jwks().clone()),
    )
}
