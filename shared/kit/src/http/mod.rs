//! HTTP building blocks: problem+json errors, the JSON extractor, the request
//! middleware and the probe routes.

pub mod health;
pub mod json;
pub mod middleware;
pub mod problem;

use axum::{Router, extract::DefaultBodyLimit, response::IntoResponse};
use tower_http::catch_panic::CatchPanicLayer;

pub use json::Json;
pub use problem::{FieldError, Problem};

use crate::config::HttpConfig;

/// Wraps a service's routes with the probes and the shared pipeline: problem+json
/// for unknown routes, wrong methods, oversized bodies and panics; request ids,
/// trace context, logs, metrics and the request deadline.
pub fn app_router(routes: Router, probes: health::Probes, config: &HttpConfig) -> Router {
    routes
        .merge(health::router(probes))
        .fallback(|| async { Problem::not_found() })
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed() })
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(CatchPanicLayer::custom(
            |_panic: Box<dyn std::any::Any + Send>| {
                Problem::internal("handler panicked").into_response()
            },
        ))
        .layer(axum::middleware::from_fn_with_state(
            config.request_timeout,
            middleware::request_context,
        ))
}
