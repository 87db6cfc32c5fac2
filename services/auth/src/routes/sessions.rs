//! Sessions: `POST /v1/login`, `POST /v1/refresh`, `POST /v1/logout`.
//!
//! A wrong password and an unknown e-mail get the same answer after the same
//! argon2id work. Failed logins are throttled per account and per client address.

use axum::{Router, extract::State, http::StatusCode, routing::post};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use six_kit::http::{Json, Problem};
use uuid::Uuid;

use crate::{
    email::Email,
    refresh::{RefreshError, Revocation},
    routes::credentials::{check_password, invalid_credentials},
    state::{AppState, ClientAddress},
    tokens::{AccessToken, TokenKind},
};

/// The session routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/login", post(login))
        .route("/v1/refresh", post(refresh))
        .route("/v1/logout", post(logout))
}

#[derive(Deserialize)]
struct LoginRequest {
    email: String,
    password: SecretString,
}

/// Tokens of a session.
#[derive(Serialize)]
struct Session {
    #[serde(flatten)]
    access: AccessToken,
    refresh_token: String,
    refresh_expires_in: u64,
}

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

#[tracing::instrument(skip_all, fields(client_address = %address.0))]
async fn login(
    State(state): State<AppState>,
    address: ClientAddress,
    Json(request): Json<LoginRequest>,
) -> Result<Json<Session>, Problem> {
    // An address that cannot be an account's is throttled and answered like any
    // wrong credentials.
    let normalized = request.email.trim().to_lowercase();
    let email = Email::parse(&normalized).ok();
    let account_key = state.throttle.account(&normalized);
    let keys = [account_key.clone(), state.throttle.address(address.0)];
    let account: Option<(Uuid, String)> = match &email {
        Some(email) => sqlx::query_as("SELECT user_id, password_hash FROM users WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&state.pool)
            .await
            .map_err(Problem::internal)?,
        None => None,
    };
    let (user_id, stored_hash) = account.unzip();
    if let Err(problem) = check_password(&state, &keys, request.password, stored_hash).await {
        tracing::info!(code = problem.code(), "login refused");
        return Err(problem);
    }
    // An unknown account never passes the check; this only keeps the types honest.
    let user_id = user_id.ok_or_else(invalid_credentials)?;
    state
        .throttle
        .clear(&state.pool, &account_key)
        .await
        .map_err(Problem::internal)?;
    let session = start_session(&state, user_id).await?;
    tracing::info!(%user_id, "logged in");
    Ok(Json(session))
}

#[tracing::instrument(skip_all)]
async fn refresh(
    State(state): State<AppState>,
    Json(request): Json<RefreshRequest>,
) -> Result<Json<Session>, Problem> {
    let (user_id, refresh_token) = state
        .refresh
        .rotate(&state.pool, &request.refresh_token)
        .await
        .map_err(|error| match error {
            RefreshError::Invalid => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid_refresh_token",
                "The refresh token is not valid",
            )
            .with_detail("it is unknown, expired or revoked: log in again"),
            RefreshError::Reused => Problem::new(
                StatusCode::UNAUTHORIZED,
                "refresh_token_reused",
                "The refresh token was already used",
            )
            .with_detail("every session of this login is revoked: log in again"),
            RefreshError::Database(error) => Problem::internal(error),
        })?;
    let access = state
        .tokens
        .issue(&user_id.to_string(), TokenKind::User)
        .map_err(Problem::internal)?;
    Ok(Json(Session {
        access,
        refresh_token,
        refresh_expires_in: state.refresh.lifetime_secs(),
    }))
}

/// Revokes the refresh token's family. Answers 204 whether or not the token was
/// known, so logging out twice is harmless.
#[tracing::instrument(skip_all)]
async fn logout(
    State(state): State<AppState>,
    Json(request): Json<RefreshRequest>,
) -> Result<StatusCode, Problem> {
    let revoked = state
        .refresh
        .revoke_family_of(&state.pool, &request.refresh_token, Revocation::Logout)
        .await
        .map_err(Problem::internal)?;
    tracing::info!(revoked, "logged out");
    Ok(StatusCode::NO_CONTENT)
}

async fn start_session(state: &AppState, user_id: Uuid) -> Result<Session, Problem> {
    let mut transaction = state.pool.begin().await.map_err(Problem::internal)?;
    let refresh_token = state
        .refresh
        .start_family(&mut transaction, user_id)
        .await
        .map_err(Problem::internal)?;
    transaction.commit().await.map_err(Problem::internal)?;
    let access = state
        .tokens
        .issue(&user_id.to_string(), TokenKind::User)
        .map_err(Problem::internal)?;
    Ok(Session {
        access,
        refresh_token,
        refresh_expires_in: state.refresh.lifetime_secs(),
    })
}
