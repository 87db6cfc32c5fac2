//! [`ServiceTokenSource`]: access tokens for calling other services, from auth's
//! client credentials grant (RFC 6749 §4.4).

use std::{sync::Arc, time::Duration};

use axum::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::{sync::Mutex, time::Instant};

use super::{config::http_url, verifier::HttpClientError};
use crate::config::{ConfigError, Env};

/// After a failed refresh, how long the still-valid cached token is used before
/// auth is asked again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Where and as whom a service gets its tokens.
#[derive(Debug, Clone)]
pub struct ServiceTokenConfig {
    /// Auth's token endpoint (`AUTH_TOKEN_URL`).
    pub token_url: String,
    /// This service's client id (`AUTH_CLIENT_ID`).
    pub client_id: String,
    /// This service's client secret (`AUTH_CLIENT_SECRET`), never printed.
    pub client_secret: SecretString,
    /// Deadline of each call to auth (`AUTH_HTTP_TIMEOUT_MS`).
    pub http_timeout: Duration,
}

impl ServiceTokenConfig {
    /// Reads the settings; an error names the variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let config = Self {
            token_url: http_url(
                env,
                "AUTH_TOKEN_URL",
                "auth's token endpoint, e.g. http://auth:8080/v1/token",
            )?,
            client_id: env.required(
                "AUTH_CLIENT_ID",
                "this service's client id, as configured in AUTH_SERVICE_CLIENTS on auth",
            )?,
            client_secret: env.secret("AUTH_CLIENT_SECRET", "this service's client secret")?,
            http_timeout: env.millis("AUTH_HTTP_TIMEOUT_MS", Duration::from_secs(5))?,
        };
        if config.http_timeout.is_zero() {
            return Err(ConfigError::Invalid {
                name: "AUTH_HTTP_TIMEOUT_MS".to_owned(),
                reason: "must be greater than zero".to_owned(),
            });
        }
        Ok(config)
    }
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum ServiceTokenError {
    /// Auth could not be reached in time, or the answer could not be read.
    #[error("token request failed: {0}")]
    Request(#[from] reqwest::Error),
    /// Auth refused (RFC 6749 §5.2), e.g. `invalid_client` for a wrong secret.
    #[error("auth refused the token request with {status}: {error}")]
    Refused {
        /// The HTTP status.
        status: StatusCode,
        /// The OAuth `error` code, or empty when the body had none.
        error: String,
    },
    /// Auth answered 200 with something that is not a usable bearer token.
    #[error("auth's token response is invalid: {0}")]
    InvalidResponse(&'static str),
}

/// A cached access token for calling other services. Cheap to clone: clones share
/// the cache. [`ServiceTokenSource::token`] fetches on first use and again once
/// half the token's lifetime has passed; callers meanwhile share one fetch. While
/// auth is unreachable, the cached token is used until it expires.
#[derive(Clone)]
pub struct ServiceTokenSource {
    inner: Arc<SourceInner>,
}

struct SourceInner {
    config: ServiceTokenConfig,
    http: reqwest::Client,
    /// Held during a fetch, so concurrent callers wait for it instead of fetching.
    cached: Mutex<Option<CachedToken>>,
}

struct CachedToken {
    access_token: SecretString,
    refresh_at: Instant,
    expires_at: Instant,
}

impl CachedToken {
    /// A token fetched at `fetched_at`, to refresh at half its lifetime.
    fn new(access_token: SecretString, fetched_at: Instant, expires_in: Duration) -> Self {
        Self {
            access_token,
            refresh_at: fetched_at + expires_in / 2,
            expires_at: fetched_at + expires_in,
        }
    }
}

/// RFC 6749 §5.1; extra fields are ignored.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    expires_in: u64,
}

/// RFC 6749 §5.2.
#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
}

/// Tokens longer than a day are treated as lasting a day (and refreshed after 12 h).
const MAX_EXPIRES_IN: Duration = Duration::from_secs(24 * 60 * 60);

impl ServiceTokenSource {
    /// A source that fetches nothing until the first [`ServiceTokenSource::token`].
    pub fn new(config: ServiceTokenConfig) -> Result<Self, HttpClientError> {
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .connect_timeout(config.http_timeout)
            .build()?;
        Ok(Self {
            inner: Arc::new(SourceInner {
                config,
                http,
                cached: Mutex::new(None),
            }),
        })
    }

    /// A token to send as `Authorization: Bearer <token>`.
    pub async fn token(&self) -> Result<SecretString, ServiceTokenError> {
        let mut cached = self.inner.cached.lock().await;
        let now = Instant::now();
        if let Some(token) = cached.as_ref().filter(|token| now < token.refresh_at) {
            return Ok(token.access_token.clone());
        }
        match self.inner.fetch().await {
            Ok(fresh) => Ok(cached.insert(fresh).access_token.clone()),
            Err(error) => match cached.as_mut().filter(|token| now < token.expires_at) {
                Some(stale) => {
                    tracing::warn!(
                        error = %error,
                        "service token refresh failed, using the cached token until it expires"
                    );
                    stale.refresh_at = (now + RETRY_AFTER_FAILURE).min(stale.expires_at);
                    Ok(stale.access_token.clone())
                }
                None => Err(error),
            },
        }
    }
}

impl std::fmt::Debug for ServiceTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTokenSource")
            .field("token_url", &self.inner.config.token_url)
            .field("client_id", &self.inner.config.client_id)
            .finish_non_exhaustive()
    }
}

impl SourceInner {
    #[tracing::instrument(
        name = "service_token_fetch",
        skip_all,
        fields(url = %self.config.token_url, client_id = %self.config.client_id)
    )]
    async fn fetch(&self) -> Result<CachedToken, ServiceTokenError> {
        let fetched_at = Instant::now();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.expose_secret()),
        ];
        let response = self
            .http
            .post(&self.config.token_url)
            .form(&form)
            .send()
            .await?;
        let status = response.status();
        if status != StatusCode::OK {
            let error = response
                .json::<ErrorResponse>()
                .await
                .map_or_else(|_| String::new(), |body| body.error);
            return Err(ServiceTokenError::Refused { status, error });
        }
        let body: TokenResponse = response
            .json()
            .await
            .map_err(|_| ServiceTokenError::InvalidResponse("not an OAuth token response"))?;
        if !body.token_type.eq_ignore_ascii_case("bearer") {
            return Err(ServiceTokenError::InvalidResponse(
                "token_type is not Bearer",
            ));
        }
        if body.access_token.is_empty() || body.expires_in == 0 {
            return Err(ServiceTokenError::InvalidResponse(
                "empty access_token or zero expires_in",
            ));
        }
        tracing::debug!(expires_in = body.expires_in, "service token fetched");
        let expires_in = Duration::from_secs(body.expires_in).min(MAX_EXPIRES_IN);
        Ok(CachedToken::new(
            SecretString::from(body.access_token),
            fetched_at,
            expires_in,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_due_for_refresh_at_half_its_lifetime() {
        let fetched_at = Instant::now();

        let token = CachedToken::new(
            SecretString::from("t"),
            fetched_at,
            Duration::from_secs(900),
        );

        assert_eq!(token.refresh_at - fetched_at, Duration::from_secs(450));
        assert_eq!(token.expires_at - fetched_at, Duration::from_secs(900));
    }

    #[test]
    fn the_client_secret_never_appears_in_debug_output() {
        let env = Env::from_pairs([
            ("AUTH_TOKEN_URL", "http://auth:8080/v1/token"),
            ("AUTH_CLIENT_ID", "contacts"),
            ("AUTH_CLIENT_SECRET", "hunter2-hunter2"),
        ]);

        let printed = format!("{:?}", ServiceTokenConfig::from_env(&env).unwrap());

        assert!(!printed.contains("hunter2"), "{printed}");
    }

    #[test]
    fn a_missing_client_secret_is_named() {
        let env = Env::from_pairs([
            ("AUTH_TOKEN_URL", "http://auth:8080/v1/token"),
            ("AUTH_CLIENT_ID", "contacts"),
        ]);

        let error = ServiceTokenConfig::from_env(&env).unwrap_err().to_string();

        assert!(error.contains("AUTH_CLIENT_SECRET"), "{error}");
    }
}
