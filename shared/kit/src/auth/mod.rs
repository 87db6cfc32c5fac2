//! Access tokens: verifying the ones auth signs, and getting one to call another
//! service. The contract with auth is `docs/tokens.md`.
//!
//! - [`TokenVerifier`]: checks a token against auth's JWKS (cached, refreshed,
//!   fetched again on key rotation);
//! - [`CurrentUser`], [`ServiceCaller`], [`VerifiedToken`]: axum extractors,
//!   for any state `S` with `TokenVerifier: FromRef<S>`;
//! - [`ServiceTokenSource`]: a cached service token from the client credentials
//!   grant.
//!
//! ```no_run
//! use axum::{Router, extract::FromRef, routing::get};
//! use six_kit::{auth::{AuthConfig, CurrentUser, TokenVerifier}, config::Env};
//!
//! #[derive(Clone)]
//! struct AppState {
//!     verifier: TokenVerifier,
//! }
//!
//! impl FromRef<AppState> for TokenVerifier {
//!     fn from_ref(state: &AppState) -> Self {
//!         state.verifier.clone()
//!     }
//! }
//!
//! async fn me(user: CurrentUser) -> String {
//!     user.user_id.to_string()
//! }
//!
//! # async fn example(env: &Env) -> Result<Router, Box<dyn std::error::Error>> {
//! let verifier = TokenVerifier::start(AuthConfig::from_env(env)?).await?;
//! let routes = Router::new().route("/v1/me", get(me)).with_state(AppState { verifier });
//! # Ok(routes)
//! # }
//! ```

mod claims;
mod config;
mod error;
mod extract;
mod keys;
mod service_token;
mod token;
mod verified_cache;
mod verifier;

pub use config::{
    AuthConfig, DEFAULT_AUDIENCE, DEFAULT_ISSUER, DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES,
};
pub use error::{INVALID_TOKEN, TOKEN_KEYS_UNAVAILABLE, TokenError};
pub use extract::{
    AuthRejection, CurrentUser, MISSING_TOKEN, SERVICE_TOKEN_REQUIRED, ServiceCaller,
    USER_TOKEN_REQUIRED,
};
pub use keys::JwksError;
pub use service_token::{ServiceTokenConfig, ServiceTokenError, ServiceTokenSource};
pub use token::{Principal, VerifiedToken};
pub use verifier::{HttpClientError, TokenVerifier};
