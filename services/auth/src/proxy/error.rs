//! Why a request could not be proxied, and the problem+json answer for each case.
//!
//! | code | status | when |
//! | --- | --- | --- |
//! | `unknown_provider` | 404 | no provider of that name is configured |
//! | `malformed_request` | 400 | the path leaves the provider's API base path |
//! | `upstream_auth_failed` | 502 | the token endpoint refuses our client credentials |
//! | `upstream_unavailable` | 502 | the token endpoint or the API is unreachable or broken |
//! | `upstream_timeout` | 504 | the token endpoint or the API did not answer in time |
//!
//! Messages never hold a token, a secret or an upstream body.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use six_kit::http::Problem;

use super::{settings::ProviderName, token_endpoint::TokenError};

/// Longest caller-supplied provider name repeated in an answer.
const MAX_ECHOED_NAME_CHARS: usize = 64;

/// A request the proxy could not forward, or whose upstream failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum ProxyError {
    /// No provider of that name.
    #[error("no provider named `{0}` is configured")]
    UnknownProvider(String),
    /// The path resolves outside the provider's API base path.
    #[error("the path leaves the provider's API base path")]
    PathOutsideApi,
    /// No token could be obtained.
    #[error("provider `{provider}`: {source}")]
    Token {
        /// The provider.
        provider: ProviderName,
        /// Why.
        source: TokenError,
    },
    /// The API did not answer in time.
    #[error("provider `{provider}`: the API did not answer within {timeout_ms} ms")]
    ApiTimeout {
        /// The provider.
        provider: ProviderName,
        /// Its timeout.
        timeout_ms: u128,
    },
    /// The API could not be reached, or the connection broke before it answered.
    #[error("provider `{provider}`: the API is unreachable: {cause}")]
    ApiUnreachable {
        /// The provider.
        provider: ProviderName,
        /// The transport error, without URL.
        cause: String,
    },
}

impl ProxyError {
    /// No provider named `raw` (caller input: shortened before it is repeated).
    pub(super) fn unknown_provider(raw: &str) -> Self {
        Self::UnknownProvider(raw.chars().take(MAX_ECHOED_NAME_CHARS).collect())
    }

    /// The stable code of the answer.
    pub(super) fn code(&self) -> &'static str {
        self.problem().code()
    }

    fn problem(&self) -> Problem {
        match self {
            Self::UnknownProvider(_) => Problem::new(
                StatusCode::NOT_FOUND,
                "unknown_provider",
                "Unknown provider",
            ),
            Self::PathOutsideApi => Problem::malformed(""),
            Self::Token {
                source: TokenError::Timeout(_),
                ..
            }
            | Self::ApiTimeout { .. } => Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                "The upstream provider did not answer in time",
            ),
            Self::Token {
                source: TokenError::Refused { .. },
                ..
            } => Problem::new(
                StatusCode::BAD_GATEWAY,
                "upstream_auth_failed",
                "The upstream provider refuses our client credentials",
            ),
            Self::Token { .. } | Self::ApiUnreachable { .. } => Problem::new(
                StatusCode::BAD_GATEWAY,
                "upstream_unavailable",
                "The upstream provider is unavailable",
            ),
        }
    }
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        self.problem().with_detail(self.to_string()).into_response()
    }
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    fn provider() -> ProviderName {
        ProviderName::parse("acme").unwrap()
    }

    async fn answer(error: ProxyError) -> (StatusCode, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let body = to_bytes(response.into_body(), 10_000).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn a_token_endpoint_timeout_is_a_gateway_timeout() {
        let (status, body) = answer(ProxyError::Token {
            provider: provider(),
            source: TokenError::Timeout(300),
        })
        .await;

        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(body["code"], "upstream_timeout");
    }

    #[tokio::test]
    async fn refused_credentials_have_their_own_code() {
        let (status, body) = answer(ProxyError::Token {
            provider: provider(),
            source: TokenError::Refused {
                status: 401,
                error: "invalid_client".to_owned(),
            },
        })
        .await;

        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert_eq!(body["code"], "upstream_auth_failed");
    }

    #[tokio::test]
    async fn a_path_outside_the_api_is_a_malformed_request() {
        let (status, body) = answer(ProxyError::PathOutsideApi).await;

        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["detail"],
            "the path leaves the provider's API base path"
        );
    }

    #[test]
    fn a_long_unknown_name_is_shortened_before_it_is_repeated() {
        let error = ProxyError::unknown_provider(&"x".repeat(1000));

        assert!(error.to_string().len() < 120, "{error}");
    }
}
