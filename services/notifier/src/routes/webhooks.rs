//! The signed-in user's webhook endpoints: register (the secret is shown once),
//! list, delete, rotate the secret, turn a disabled endpoint on again.

use std::net::IpAddr;

use axum::{
    Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{delete, get, post},
};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use six_kit::{
    auth::CurrentUser,
    egress::{self, EgressPolicy},
    http::{FieldError, Json, Problem},
};
use uuid::Uuid;

use super::AppState;
use crate::{notices::Kind, webhooks};

/// Longest endpoint URL.
pub const MAX_URL_BYTES: usize = 2048;

/// The webhook routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/webhooks", get(list).post(register))
        .route("/v1/webhooks/{endpoint_id}", delete(remove))
        .route("/v1/webhooks/{endpoint_id}/rotate-secret", post(rotate))
        .route("/v1/webhooks/{endpoint_id}/enable", post(enable))
        .with_state(state)
}

#[derive(Debug, Deserialize)]
struct Registration {
    url: String,
    kinds: Vec<String>,
}

/// An endpoint as its owner sees it.
#[derive(Debug, Serialize, sqlx::FromRow)]
struct Endpoint {
    endpoint_id: Uuid,
    url: String,
    kinds: Vec<String>,
    enabled: bool,
    consecutive_failures: i32,
    disabled_reason: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// An endpoint with its new secret: the only time the secret is shown.
#[derive(Debug, Serialize)]
struct EndpointWithSecret {
    #[serde(flatten)]
    endpoint: Endpoint,
    secret: String,
}

/// The columns of [`Endpoint`], for `concat!` into its queries.
macro_rules! endpoint_columns {
    () => {
        "endpoint_id, url, kinds, enabled, consecutive_failures, disabled_reason, created_at"
    };
}

#[tracing::instrument(skip(state, registration))]
async fn register(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(registration): Json<Registration>,
) -> Result<(StatusCode, Json<EndpointWithSecret>), Problem> {
    let mut errors = Vec::new();
    let url = match checked_url(&registration.url, &state).await {
        Ok(url) => Some(url),
        Err((code, message)) => {
            errors.push(FieldError::new("/url", code, message));
            None
        }
    };
    let mut kinds = Vec::new();
    if registration.kinds.is_empty() {
        errors.push(FieldError::new(
            "/kinds",
            "no_kinds",
            "name at least one kind of notification to send".to_owned(),
        ));
    }
    for (index, name) in registration.kinds.iter().enumerate() {
        match Kind::parse(name) {
            Some(kind) if !kinds.contains(&kind.as_str()) => kinds.push(kind.as_str()),
            Some(_) => {}
            None => errors.push(super::unknown_kind(format!("/kinds/{index}"), name)),
        }
    }
    let Some(url) = url.filter(|_| errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };

    let mut transaction = state.pool.begin().await.map_err(Problem::internal)?;
    // Locks the user's row: two registrations at once cannot both pass the count.
    super::known_recipient(&mut transaction, user.user_id).await?;
    let registered: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_endpoints WHERE user_id = $1")
            .bind(user.user_id)
            .fetch_one(&mut *transaction)
            .await
            .map_err(Problem::internal)?;
    if registered >= state.webhooks.max_endpoints_per_user {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "too_many_webhooks",
            "Too many webhook endpoints",
        )
        .with_detail(format!(
            "an account may register {} endpoints; delete one first",
            state.webhooks.max_endpoints_per_user
        )));
    }
    let endpoint = sqlx::query_as::<_, Endpoint>(concat!(
        "INSERT INTO webhook_endpoints (endpoint_id, user_id, url, kinds) VALUES ($1, $2, $3, $4) \
         RETURNING ",
        endpoint_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(user.user_id)
    .bind(url.as_str())
    .bind(&kinds)
    .fetch_one(&mut *transaction)
    .await
    .map_err(Problem::internal)?;
    let secret = webhooks::add_secret(&mut transaction, endpoint.endpoint_id)
        .await
        .map_err(Problem::internal)?;
    transaction.commit().await.map_err(Problem::internal)?;
    tracing::info!(endpoint_id = %endpoint.endpoint_id, "webhook endpoint registered");
    Ok((
        StatusCode::CREATED,
        Json(EndpointWithSecret {
            endpoint,
            secret: secret.to_text(),
        }),
    ))
}

/// The URL if it may be registered, else the field error's code and message.
async fn checked_url(text: &str, state: &AppState) -> Result<Url, (&'static str, String)> {
    if text.len() > MAX_URL_BYTES {
        return Err(("url_too_long", format!("at most {MAX_URL_BYTES} bytes")));
    }
    let url = Url::parse(text).map_err(|error| ("invalid_url", format!("not a URL: {error}")))?;
    if state.webhooks.require_https && url.scheme() != "https" {
        return Err((
            "https_required",
            "endpoints must be https:// URLs".to_owned(),
        ));
    }
    egress::check_url(&url, state.webhooks.policy)
        .map_err(|refused| ("url_refused", refused.to_string()))?;
    if state.webhooks.policy == EgressPolicy::PublicOnly {
        let host = url.host_str().unwrap_or_default().to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses: Vec<IpAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|error| {
                (
                    "unresolvable_host",
                    format!("{host} does not resolve: {error}"),
                )
            })?
            .map(|address| address.ip())
            .collect();
        if !addresses.iter().any(|address| egress::is_public(*address)) {
            return Err((
                "private_address",
                format!("{host} resolves only to addresses that are not public"),
            ));
        }
    }
    Ok(url)
}

#[derive(Debug, Serialize)]
struct Endpoints {
    endpoints: Vec<Endpoint>,
}

#[tracing::instrument(skip(state))]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Endpoints>, Problem> {
    let endpoints = sqlx::query_as::<_, Endpoint>(concat!(
        "SELECT ",
        endpoint_columns!(),
        " FROM webhook_endpoints WHERE user_id = $1 ORDER BY endpoint_id"
    ))
    .bind(user.user_id)
    .fetch_all(&state.pool)
    .await
    .map_err(Problem::internal)?;
    Ok(Json(Endpoints { endpoints }))
}

/// `DELETE /v1/webhooks/{id}`: the endpoint, its secrets and its deliveries.
#[tracing::instrument(skip(state))]
async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(endpoint_id): Path<String>,
) -> Result<StatusCode, Problem> {
    let endpoint_id = parse_id(&endpoint_id)?;
    let deleted =
        sqlx::query("DELETE FROM webhook_endpoints WHERE endpoint_id = $1 AND user_id = $2")
            .bind(endpoint_id)
            .bind(user.user_id)
            .execute(&state.pool)
            .await
            .map_err(Problem::internal)?;
    if deleted.rows_affected() == 0 {
        return Err(Problem::not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
struct Rotated {
    secret: String,
    /// Until then messages are also signed with the previous secret.
    previous_secret_expires_at: chrono::DateTime<chrono::Utc>,
}

/// `POST /v1/webhooks/{id}/rotate-secret`: a new secret; the previous one keeps
/// signing for `NOTIFIER_WEBHOOK_SECRET_OVERLAP_MS`.
#[tracing::instrument(skip(state))]
async fn rotate(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(endpoint_id): Path<String>,
) -> Result<Json<Rotated>, Problem> {
    let endpoint_id = parse_id(&endpoint_id)?;
    let mut transaction = state.pool.begin().await.map_err(Problem::internal)?;
    owned_endpoint(&mut transaction, endpoint_id, user.user_id).await?;
    let secret =
        webhooks::rotate_secret(&mut transaction, endpoint_id, state.webhooks.secret_overlap)
            .await
            .map_err(Problem::internal)?;
    transaction.commit().await.map_err(Problem::internal)?;
    let overlap = chrono::Duration::from_std(state.webhooks.secret_overlap).unwrap_or_default();
    Ok(Json(Rotated {
        secret: secret.to_text(),
        previous_secret_expires_at: chrono::Utc::now() + overlap,
    }))
}

/// `POST /v1/webhooks/{id}/enable`: turns a disabled endpoint on again, with its
/// run of failures reset. Deliveries failed while it was off are not resent.
#[tracing::instrument(skip(state))]
async fn enable(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(endpoint_id): Path<String>,
) -> Result<Json<Endpoint>, Problem> {
    let endpoint_id = parse_id(&endpoint_id)?;
    let endpoint = sqlx::query_as::<_, Endpoint>(concat!(
        "UPDATE webhook_endpoints SET enabled = true, consecutive_failures = 0, disabled_reason = NULL \
         WHERE endpoint_id = $1 AND user_id = $2 RETURNING ",
        endpoint_columns!()
    ))
    .bind(endpoint_id)
    .bind(user.user_id)
    .fetch_optional(&state.pool)
    .await
    .map_err(Problem::internal)?;
    endpoint.map(Json).ok_or_else(Problem::not_found)
}

async fn owned_endpoint(
    connection: &mut sqlx::PgConnection,
    endpoint_id: Uuid,
    user_id: Uuid,
) -> Result<(), Problem> {
    let owned: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM webhook_endpoints WHERE endpoint_id = $1 AND user_id = $2 FOR UPDATE",
    )
    .bind(endpoint_id)
    .bind(user_id)
    .fetch_optional(&mut *connection)
    .await
    .map_err(Problem::internal)?;
    owned.map(drop).ok_or_else(Problem::not_found)
}

fn parse_id(text: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(text).map_err(|_| Problem::not_found())
}
