//! Why a token was refused, and how that is answered over HTTP.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};

use crate::http::{Problem, problem::BearerError};

/// Stable code of every 401 for a token that was sent but is not acceptable.
pub const INVALID_TOKEN: &str = "invalid_token";
/// Stable code of the 503 answered while no key set could ever be fetched.
pub const TOKEN_KEYS_UNAVAILABLE: &str = "token_keys_unavailable";

/// A token that does not verify. Every variant but [`TokenError::KeysUnavailable`]
/// is the caller's fault and answers 401 `invalid_token`.
///
/// Messages never contain the token; header values from it (`alg`, `typ`, `kid`)
/// are shortened and escaped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a compact JWS: three base64url parts with a JSON header.
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    /// `alg` is anything but `EdDSA` (`none`, `HS256`...).
    #[error("the token's algorithm {alg:?} is not accepted (only EdDSA)")]
    UnsupportedAlgorithm {
        /// The `alg` of the header, shortened.
        alg: String,
    },
    /// `typ` is missing or is not `at+jwt` (RFC 9068): not an access token.
    #[error("the token's type {typ:?} is not at+jwt")]
    WrongType {
        /// The `typ` of the header, shortened (empty when missing).
        typ: String,
    },
    /// The header has `crit` extensions, none of which are understood.
    #[error("the token has critical header extensions")]
    CriticalHeader,
    /// The header names no key.
    #[error("the token has no key id (kid)")]
    MissingKeyId,
    /// The key id is not in auth's key set, even after fetching it again (or
    /// fetching again was rate limited).
    #[error("the token's key id {kid:?} is unknown")]
    UnknownKeyId {
        /// The `kid` of the header, shortened.
        kid: String,
    },
    /// The signature does not match the header and claims.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `exp` has passed (beyond the clock skew).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is still to come (beyond the clock skew).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future (beyond the clock skew).
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// `iss` is not the configured issuer.
    #[error("the token's issuer is not accepted")]
    WrongIssuer,
    /// `aud` is not the configured audience.
    #[error("the token's audience is not accepted")]
    WrongAudience,
    /// A claim of `docs/tokens.md` is absent.
    #[error("the token has no {0} claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type or an unexpected value (`kind` that is not
    /// `user`/`service`, a user `sub` or a `jti` that is not a UUID).
    #[error("the token's {0} claim is invalid")]
    InvalidClaim(&'static str),
    /// No key set was ever fetched from auth (it has been unreachable since start),
    /// so no token can be checked: the service's problem, not the caller's.
    #[error("auth's keys could not be fetched yet")]
    KeysUnavailable {
        /// When fetching may be tried again.
        retry_after_secs: u64,
    },
}

impl TokenError {
    /// The problem answered for this error.
    pub fn to_problem(&self) -> Problem {
        match self {
            TokenError::KeysUnavailable { retry_after_secs } => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                TOKEN_KEYS_UNAVAILABLE,
                "Tokens cannot be verified right now",
            )
            .with_detail(self.to_string())
            .with_retry_after(*retry_after_secs),
            _ => Problem::unauthorized(
                INVALID_TOKEN,
                "The bearer token is not valid",
                Some(BearerError::InvalidToken),
            )
            .with_detail(self.to_string()),
        }
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        self.to_problem().into_response()
    }
}

/// Longest header value repeated in an error (they come from the caller).
const MAX_ECHOED_CHARS: usize = 40;

/// A header value from the token, safe to put in an error message.
pub(crate) fn echoed(value: &str) -> String {
    value.chars().take(MAX_ECHOED_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use axum::http::header;

    use super::*;

    #[test]
    fn a_refused_token_is_a_401_with_an_invalid_token_challenge() {
        let response = TokenError::Expired.into_response();

        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer error="invalid_token""#
        );
    }

    #[test]
    fn unavailable_keys_are_a_503_to_retry() {
        let response = TokenError::KeysUnavailable {
            retry_after_secs: 10,
        }
        .into_response();

        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "10");
    }

    #[test]
    fn echoed_header_values_are_shortened() {
        let long = "x".repeat(1000);

        assert_eq!(echoed(&long).len(), MAX_ECHOED_CHARS);
    }
}
