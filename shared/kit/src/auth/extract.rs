//! Axum extractors for the bearer of a request: [`CurrentUser`] for routes of
//! people, [`ServiceCaller`] for service-to-service routes, [`VerifiedToken`] for
//! routes that take either.
//!
//! Rejections are problem documents: 401 `missing_token` (no bearer token; the
//! challenge is a bare `Bearer`), 401 `invalid_token` (see [`TokenError`]), 403
//! `user_token_required` / `service_token_required` (a valid token of the other
//! kind: it is who the caller is, not whether the token is good, so retrying with
//! a fresh token of the same kind cannot help).

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{HeaderMap, header, request::Parts},
    response::{IntoResponse, Response},
};
use uuid::Uuid;

use super::{
    error::TokenError,
    token::{Principal, VerifiedToken},
    verifier::TokenVerifier,
};
use crate::http::Problem;

/// Stable code of the 401 for a request without a bearer token.
pub const MISSING_TOKEN: &str = "missing_token";
/// Stable code of the 403 for a service token on a route for people.
pub const USER_TOKEN_REQUIRED: &str = "user_token_required";
/// Stable code of the 403 for a user token on a service-to-service route.
pub const SERVICE_TOKEN_REQUIRED: &str = "service_token_required";

/// The person a request is made for (a token of `kind` = `user`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentUser {
    /// The user id (`sub`).
    pub user_id: Uuid,
    /// The token's id (`jti`).
    pub token_id: Uuid,
}

/// The service a request comes from (a token of `kind` = `service`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCaller {
    /// The client id configured on auth (`sub`).
    pub client_id: String,
}

/// Why an extractor refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthRejection {
    /// No `Authorization: Bearer` header.
    #[error("the request has no bearer token")]
    MissingToken,
    /// A bearer token that does not verify.
    #[error(transparent)]
    InvalidToken(#[from] TokenError),
    /// A valid service token where a user token is required.
    #[error("this route is for users; a service token was sent")]
    UserTokenRequired,
    /// A valid user token where a service token is required.
    #[error("this route is for services; a user token was sent")]
    ServiceTokenRequired,
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let problem = match &self {
            AuthRejection::MissingToken => {
                Problem::unauthorized(MISSING_TOKEN, "A bearer token is required", None)
                    .with_detail("send Authorization: Bearer <access token>")
            }
            AuthRejection::InvalidToken(error) => error.to_problem(),
            AuthRejection::UserTokenRequired => {
                Problem::forbidden(USER_TOKEN_REQUIRED, "A user token is required")
                    .with_detail(self.to_string())
            }
            AuthRejection::ServiceTokenRequired => {
                Problem::forbidden(SERVICE_TOKEN_REQUIRED, "A service token is required")
                    .with_detail(self.to_string())
            }
        };
        problem.into_response()
    }
}

impl<S> FromRequestParts<S> for VerifiedToken
where
    TokenVerifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    /// Verifies the bearer token once per request: the result is kept in the
    /// request's extensions for the next extractor.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(verified) = parts.extensions.get::<VerifiedToken>() {
            return Ok(verified.clone());
        }
        let token = bearer_token(&parts.headers)?;
        let verified = TokenVerifier::from_ref(state).verify(token).await?;
        parts.extensions.insert(verified.clone());
        Ok(verified)
    }
}

impl<S> FromRequestParts<S> for CurrentUser
where
    TokenVerifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verified = VerifiedToken::from_request_parts(parts, state).await?;
        match verified.principal {
            Principal::User { user_id } => Ok(CurrentUser {
                user_id,
                token_id: verified.token_id,
            }),
            Principal::Service { .. } => Err(AuthRejection::UserTokenRequired),
        }
    }
}

impl<S> FromRequestParts<S> for ServiceCaller
where
    TokenVerifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match VerifiedToken::from_request_parts(parts, state)
            .await?
            .principal
        {
            Principal::Service { client_id } => Ok(ServiceCaller { client_id }),
            Principal::User { .. } => Err(AuthRejection::ServiceTokenRequired),
        }
    }
}

/// The token of the `Authorization: Bearer` header (RFC 6750 §2.1). Another
/// scheme counts as no token; a broken bearer header as an invalid token.
fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthRejection> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthRejection::MissingToken);
    };
    let malformed = |reason| Err(AuthRejection::InvalidToken(TokenError::Malformed(reason)));
    if values.next().is_some() {
        return malformed("several Authorization headers");
    }
    let Ok(value) = value.to_str() else {
        return malformed("the Authorization header is not ASCII");
    };
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthRejection::MissingToken);
    }
    match token.trim() {
        "" => malformed("the bearer token is empty"),
        token => Ok(token),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::AUTHORIZATION, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token(&headers(&["bearer abc"])), Ok("abc"));
        assert_eq!(bearer_token(&headers(&["Bearer  abc "])), Ok("abc"));
    }

    #[test]
    fn another_scheme_counts_as_no_token() {
        assert_eq!(
            bearer_token(&headers(&["Basic dXNlcjpwYXNz"])),
            Err(AuthRejection::MissingToken)
        );
        assert_eq!(
            bearer_token(&headers(&[])),
            Err(AuthRejection::MissingToken)
        );
    }

    #[test]
    fn an_empty_or_repeated_bearer_header_is_an_invalid_token() {
        assert!(matches!(
            bearer_token(&headers(&["Bearer"])),
            Err(AuthRejection::InvalidToken(TokenError::Malformed(_)))
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer a", "Bearer b"])),
            Err(AuthRejection::InvalidToken(TokenError::Malformed(_)))
        ));
    }
}
