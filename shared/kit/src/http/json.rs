//! A JSON extractor whose rejections are problem documents like every other error.

use axum::{
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Serialize, de::DeserializeOwned};

use super::problem::{FieldError, Problem};

/// JSON request body or response; use instead of `axum::Json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(problem_for(rejection)),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn problem_for(rejection: JsonRejection) -> Problem {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            Problem::unsupported_media_type("application/json")
        }
        JsonRejection::JsonSyntaxError(error) => {
            Problem::malformed(format!("body is not valid JSON: {}", inner(&error)))
        }
        JsonRejection::JsonDataError(error) => Problem::validation(vec![FieldError {
            field: "/".to_owned(),
            code: "invalid_body".to_owned(),
            message: inner(&error),
        }]),
        JsonRejection::BytesRejection(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is too large",
            )
            .with_detail(error.body_text())
        }
        other => Problem::malformed(other.body_text()),
    }
}

/// The serde message without axum's generic prefix.
fn inner(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message = cause.to_string();
        source = cause.source();
    }
    message
}
