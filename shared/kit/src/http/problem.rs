//! Errors over HTTP as RFC 9457 problem details (`application/problem+json`), each
//! with a stable machine-readable `code` that maps to exactly one status.

use std::sync::Arc;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// Media type of a problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// JSON pointer or name of the field, e.g. `/email`.
    pub field: String,
    /// Stable code of the problem, e.g. `invalid_email`.
    pub code: String,
    /// What is wrong, for people.
    pub message: String,
}

impl FieldError {
    /// The problem `code` of `field`, explained by `message`.
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// A problem answer. Building one is pure; the request middleware logs it once.
///
/// Boxed, so that `Result<T, Problem>` stays one pointer wide on the error side.
#[derive(Debug, Clone)]
pub struct Problem(Box<ProblemParts>);

#[derive(Debug, Clone)]
struct ProblemParts {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: Option<String>,
    errors: Vec<FieldError>,
    retry_after_secs: Option<u64>,
    /// A `WWW-Authenticate` challenge (RFC 6750 §3), for 401 and 403.
    www_authenticate: Option<&'static str>,
    /// The underlying cause of a 5xx, logged but never sent.
    cause: Option<Arc<str>>,
}

/// What the middleware finds in a response's extensions to log an error once.
#[derive(Debug, Clone)]
pub struct ProblemLog {
    /// The stable code.
    pub code: &'static str,
    /// The detail sent to the client.
    pub detail: Option<String>,
    /// The cause that was not sent.
    pub cause: Option<Arc<str>>,
}

/// The error codes of RFC 6750 §3.1 sent in a `WWW-Authenticate: Bearer` challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// The token is malformed, expired, revoked or otherwise not acceptable (401).
    InvalidToken,
    /// The token is valid but does not allow this request (403).
    InsufficientScope,
}

impl BearerError {
    /// The whole challenge, e.g. `Bearer error="invalid_token"`.
    const fn challenge(self) -> &'static str {
        match self {
            BearerError::InvalidToken => r#"Bearer error="invalid_token""#,
            BearerError::InsufficientScope => r#"Bearer error="insufficient_scope""#,
        }
    }
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
}

impl Problem {
    /// A problem with a stable `code`, its `status` and a short `title`.
    pub fn new(status: StatusCode, code: &'static str, title: &'static str) -> Self {
        Self(Box::new(ProblemParts {
            status,
            code,
            title,
            detail: None,
            errors: Vec::new(),
            retry_after_secs: None,
            www_authenticate: None,
            cause: None,
        }))
    }

    /// Adds a human explanation of this occurrence.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.0.detail = Some(detail.into());
        self
    }

    /// Adds field errors.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.0.errors = errors;
        self
    }

    /// Adds a `Retry-After` header.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.0.retry_after_secs = Some(seconds);
        self
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.0.code
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// 400 `malformed_request`: the request cannot be read at all.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            "The request is malformed",
        )
        .with_detail(detail)
    }

    /// 401 with a `WWW-Authenticate` challenge (RFC 6750 §3): `bearer_error` is
    /// the RFC 6750 error code (`invalid_token`), or `None` when the request
    /// carried no bearer token at all (the challenge is then a bare `Bearer`).
    pub fn unauthorized(
        code: &'static str,
        title: &'static str,
        bearer_error: Option<BearerError>,
    ) -> Self {
        let mut problem = Self::new(StatusCode::UNAUTHORIZED, code, title);
        problem.0.www_authenticate = Some(bearer_error.map_or("Bearer", BearerError::challenge));
        problem
    }

    /// 403 for a valid token that may not do this, with the challenge
    /// `Bearer error="insufficient_scope"` (RFC 6750 §3.1).
    pub fn forbidden(code: &'static str, title: &'static str) -> Self {
        let mut problem = Self::new(StatusCode::FORBIDDEN, code, title);
        problem.0.www_authenticate = Some(BearerError::InsufficientScope.challenge());
        problem
    }

    /// 404 `not_found`.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found")
    }

    /// 405 `method_not_allowed`.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed",
        )
    }

    /// 413 `payload_too_large`, naming the limit.
    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The request body is too large",
        )
        .with_detail(format!("the body must not exceed {limit_bytes} bytes"))
    }

    /// 415 `unsupported_media_type`.
    pub fn unsupported_media_type(expected: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
        )
        .with_detail(format!("expected Content-Type: {expected}"))
    }

    /// 422 `validation_failed` with the invalid fields.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "The request has invalid fields",
        )
        .with_errors(errors)
    }

    /// 503 `request_timeout`: the service did not finish in time.
    pub fn timeout() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "request_timeout",
            "The request took too long",
        )
        .with_retry_after(1)
    }

    /// 500 `internal_error`; `cause` is logged, never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut problem = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal error",
        );
        problem.0.cause = Some(cause.to_string().into());
        problem
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let Self(parts) = self;
        let parts = *parts;
        let body = ProblemBody {
            kind: format!("/problems/{}", parts.code),
            title: parts.title,
            status: parts.status.as_u16(),
            code: parts.code,
            detail: parts.detail.as_deref(),
            errors: &parts.errors,
        };
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (parts.status, json).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = parts.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = parts.www_authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response.extensions_mut().insert(ProblemLog {
            code: parts.code,
            detail: parts.detail,
            cause: parts.cause,
        });
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    #[tokio::test]
    async fn a_problem_is_rfc9457_json_with_a_stable_code() {
        let response = Problem::validation(vec![FieldError {
            field: "/email".into(),
            code: "invalid_email".into(),
            message: "not an e-mail address".into(),
        }])
        .into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let body: serde_json::Value =
            serde_json::from_slice(&to_bytes(response.into_body(), 10_000).await.unwrap()).unwrap();
        assert_eq!(body["type"], "/problems/validation_failed");
        assert_eq!(body["status"], 422);
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(body["errors"][0]["field"], "/email");
    }

    #[tokio::test]
    async fn the_cause_of_an_internal_error_is_never_sent() {
        let response = Problem::internal("password=hunter2 connection refused").into_response();
        let body = to_bytes(response.into_body(), 10_000).await.unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("hunter2"));
    }

    #[test]
    fn an_unauthorized_problem_challenges_for_a_bearer_token() {
        let invalid = Problem::unauthorized(
            "invalid_token",
            "The token is not valid",
            Some(BearerError::InvalidToken),
        )
        .into_response();
        let missing =
            Problem::unauthorized("missing_token", "A token is required", None).into_response();

        assert_eq!(invalid.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            invalid.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer error="invalid_token""#
        );
        assert_eq!(missing.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }

    #[test]
    fn a_forbidden_problem_names_the_insufficient_scope() {
        let response =
            Problem::forbidden("user_token_required", "A user token is required").into_response();

        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer error="insufficient_scope""#
        );
    }

    #[test]
    fn retry_after_is_sent_as_a_header() {
        let response = Problem::timeout().into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }
}
