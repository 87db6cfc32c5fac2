//! Reindexing, for operators and our services (service tokens only; a user's
//! token is refused with 403 `service_token_required`):
//!
//! - `POST /internal/reindex`: 202 with the new version's status and its
//!   `Location`; 409 `reindex_running` while one runs; 503 `reindex_off` without
//!   `SEARCH_IMPORTER_URL`.
//! - `GET /internal/reindex/{version}`: that version's status (`building`,
//!   `live`, `retired`, `failed` with its `error`) and what it copied so far.

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use six_kit::{
    auth::ServiceCaller,
    http::{Json, Problem},
};

use super::AppState;
use crate::reindex::{self, StartError};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/internal/reindex", post(start))
        .route("/internal/reindex/{version}", get(status))
        .with_state(state)
}

async fn start(State(state): State<AppState>, caller: ServiceCaller) -> Response {
    match state.reindexer.start().await {
        Ok(status) => {
            tracing::info!(client_id = %caller.client_id, version = status.version, "reindex asked for");
            let location = format!("/internal/reindex/{}", status.version);
            let mut response = (StatusCode::ACCEPTED, Json(status)).into_response();
            if let Ok(location) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        Err(StartError::Running(running)) => {
            let detail = match running {
                Some(running) => format!(
                    "version {} is being built; follow it at /internal/reindex/{}",
                    running.version, running.version
                ),
                None => "the previous reindex is finishing; ask again in a moment".to_owned(),
            };
            Problem::new(
                StatusCode::CONFLICT,
                "reindex_running",
                "A reindex is already running",
            )
            .with_detail(detail)
            .into_response()
        }
        Err(StartError::Off) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "reindex_off",
            "Reindexing is not configured",
        )
        .with_detail(
            "set SEARCH_IMPORTER_URL and this service's AUTH_TOKEN_URL, AUTH_CLIENT_ID and \
             AUTH_CLIENT_SECRET",
        )
        .into_response(),
        Err(error) => Problem::internal(error).into_response(),
    }
}

async fn status(
    State(state): State<AppState>,
    _caller: ServiceCaller,
    Path(version): Path<String>,
) -> Result<Json<reindex::VersionStatus>, Problem> {
    let Ok(version) = version.parse::<i64>() else {
        return Err(Problem::not_found());
    };
    reindex::status(state.reindexer.pool(), version)
        .await
        .map_err(Problem::internal)?
        .map(Json)
        .ok_or_else(Problem::not_found)
}
