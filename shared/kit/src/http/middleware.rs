//! The request pipeline shared by every service: request id, trace context, one log
//! line per request (with the problem, if any), metrics by route, and a deadline.

use std::time::{Duration, Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};
use six_bus::TraceContext;
use tracing::Instrument;

use super::problem::{Problem, ProblemLog};

/// Header carrying the request id, accepted from the caller and always returned.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Paths probed so often that logging them would drown everything else.
const UNLOGGED_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// Longest request id accepted from a caller; longer or odd ones are replaced.
const MAX_REQUEST_ID_CHARS: usize = 128;

/// Wraps each request: see the module documentation.
pub async fn request_context(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= MAX_REQUEST_ID_CHARS
                && id.bytes().all(|b| b.is_ascii_graphic())
        })
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    let traceparent = request
        .headers()
        .get(&TRACEPARENT)
        .and_then(|value| value.to_str().ok());
    let context = TraceContext::continue_from(traceparent, request_id.clone());
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let logged = !UNLOGGED_PATHS.contains(&request.uri().path());
    let span = tracing::info_span!(
        "http_request",
        %method,
        route,
        request_id,
        trace_id = %context.trace_id(),
    );

    let work = async move {
        let mut response = match tokio::time::timeout(timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => Problem::timeout()
                .with_detail(format!("no answer within {} ms", timeout.as_millis()))
                .into_response(),
        };
        let status = response.status();
        let elapsed = started.elapsed();
        if logged {
            let latency_ms = elapsed.as_secs_f64() * 1000.0;
            match response.extensions().get::<ProblemLog>() {
                Some(problem) if status.is_server_error() => tracing::error!(
                    status = status.as_u16(),
                    latency_ms,
                    code = problem.code,
                    cause = problem.cause.as_deref().unwrap_or(""),
                    "request failed"
                ),
                Some(problem) => tracing::info!(
                    status = status.as_u16(),
                    latency_ms,
                    code = problem.code,
                    detail = problem.detail.as_deref().unwrap_or(""),
                    "request rejected"
                ),
                None => tracing::info!(status = status.as_u16(), latency_ms, "request completed"),
            }
        }
        let labels = [
            ("method", method.to_string()),
            ("route", route),
            ("status", status.as_u16().to_string()),
        ];
        metrics::counter!("http_requests_total", &labels).increment(1);
        metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        response
    };
    context.scope(work.instrument(span)).await
}
