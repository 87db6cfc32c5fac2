//! HTTP routes, one module per capability, sharing [`AppState`].

use std::sync::Arc;

use axum::extract::FromRef;
use six_kit::auth::TokenVerifier;

use crate::{index::Indexes, reindex::Reindexer};

pub mod reindex;
pub mod search;

/// What every route shares.
#[derive(Clone)]
pub struct AppState {
    /// The versions of the index; searches read the live one.
    pub indexes: Arc<Indexes>,
    /// Starts and reports reindexes.
    pub reindexer: Arc<Reindexer>,
    /// Verifies access tokens.
    pub verifier: TokenVerifier,
}

impl FromRef<AppState> for TokenVerifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}
