//! HTTP routes, one module per capability, sharing [`AppState`].

use std::sync::Arc;

use axum::extract::FromRef;
use six_kit::auth::TokenVerifier;

use crate::{network::Limits, store::Backend};

pub mod network;

/// What every route shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Backend>,
    pub limits: Limits,
    /// Verifies access tokens.
    pub verifier: TokenVerifier,
}

impl FromRef<AppState> for TokenVerifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}
