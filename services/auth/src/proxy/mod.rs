//! Internal proxy to third-party APIs that want OAuth2 client-credentials tokens.
//!
//! Our services call `/internal/proxy/{provider}/{path}?query` (any method), with
//! a service token of theirs (see [`require_service_token`]), and
//! the proxy forwards to `<API_BASE_URL>/{path}?query` with `Authorization:
//! Bearer <provider token>`; callers never see, hold or refresh the token. Request
//! and response bodies are streamed both ways, never buffered whole. Hop-by-hop
//! headers and the caller's own `Authorization` stop here; every other header
//! passes through, both ways. Redirects are returned to the caller, not followed.
//!
//! Tokens (see [`token_cache`], [`refresher`], [`token_endpoint`]):
//! - obtained with the client-credentials grant (RFC 6749 §4.4), the client
//!   authenticating with HTTP Basic (`client_secret_basic`);
//! - obtained lazily by the first request to a provider; all requests arriving
//!   while a token request is in flight share it, so there is never more than
//!   one token request per provider at a time;
//! - refreshed in the background once half their lifetime (plus up to a tenth,
//!   at random) has passed, so callers do not wait; a failed refresh is logged
//!   as a warning and retried with exponential backoff (0.5 s doubling to 30 s,
//!   with jitter) while the cached token keeps being used until shortly before it
//!   expires (a tenth of its lifetime, at most 30 s, before);
//! - a token answer without `expires_in` is assumed to live 5 minutes.
//!
//! A 401 from the API rejects the token that was used. A request without body is
//! then retried once with a new token (obtained as above, so concurrent 401s share
//! one token request); a request with a body gets the 401, since replaying it
//! would mean buffering every body, and the next request uses a new token.
//!
//! Failures are problem+json (see [`error`]): unknown provider 404
//! `unknown_provider`; token endpoint or API unreachable or failing 502
//! `upstream_unavailable` (`upstream_auth_failed` when the token endpoint
//! refuses our credentials); no answer within the provider's timeout 504
//! `upstream_timeout`. The secret and tokens appear in no log line, error or
//! `Debug` output: they are held in `SecretString` or sensitive header values.
//!
//! The router reads the provider and the path from the request's path, raw (the
//! path reaches the API encoded exactly as the caller sent it): merge it into the
//! app, or nest it (nesting strips the prefix), so that path starts with
//! `/internal/proxy/`. Bodies are read as streams, so the JSON body limit
//! (`HTTP_MAX_BODY_BYTES`) does not apply to them.

mod error;
mod forward;
mod headers;
mod refresher;
mod settings;
mod target;
mod token_cache;
mod token_endpoint;

use std::sync::Arc;

use axum::{Router, extract::Request, middleware::Next, response::Response, routing::any};
use six_kit::auth::ServiceCaller;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use settings::{ProviderName, ProviderSettings, ProxySettings};

use self::{forward::Provider, token_cache::TokenCache, token_endpoint::TokenEndpoint};

/// Routes `/internal/proxy/{provider}/{*path}` (any method); spawns the token refreshers.
///
/// One refresher task per provider runs until `stop` is cancelled. Must be called
/// within a Tokio runtime.
pub fn router(settings: ProxySettings, stop: CancellationToken) -> Router {
    let mut providers = forward::Providers::new();
    for provider in settings.providers {
        let tokens = Arc::new(TokenCache::new(TokenEndpoint::new(&provider)));
        tokio::spawn(
            refresher::run(Arc::clone(&tokens), stop.clone())
                .instrument(tracing::info_span!("token_refresher", provider = %provider.name)),
        );
        providers.insert(
            provider.name.as_str().to_owned(),
            Provider::new(&provider, tokens),
        );
    }
    Router::new()
        .route(
            &format!("{}{{provider}}/{{*path}}", target::PREFIX),
            any(forward::forward),
        )
        .route(
            &format!("{}{{provider}}/", target::PREFIX),
            any(forward::forward),
        )
        .with_state(Arc::new(providers))
}

/// Route layer of the proxy: only our services, with a service token, may spend
/// the providers' credentials. A missing or invalid token is refused with 401, a
/// user's token with 403 `service_token_required` (see `six_kit::auth`).
pub async fn require_service_token(
    caller: ServiceCaller,
    request: Request,
    next: Next,
) -> Response {
    tracing::debug!(client_id = %caller.client_id, "proxy call");
    next.run(request).await
}
