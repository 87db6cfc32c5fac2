//! HTTP routes, one module per capability, sharing [`AppState`].

use std::sync::Arc;

use axum::extract::FromRef;
use six_kit::auth::TokenVerifier;

pub mod search;

/// What every route shares.
pub struct AppState<I> {
    pub index: Arc<I>,
    /// Verifies access tokens.
    pub verifier: TokenVerifier,
}

// By hand: the index itself need not be `Clone`, only the `Arc`.
impl<I> Clone for AppState<I> {
    fn clone(&self) -> Self {
        Self {
            index: Arc::clone(&self.index),
            verifier: self.verifier.clone(),
        }
    }
}

impl<I> FromRef<AppState<I>> for TokenVerifier {
    fn from_ref(state: &AppState<I>) -> Self {
        state.verifier.clone()
    }
}
