//! Accounts: `POST /v1/register`, `GET /v1/me`, `PUT /v1/me/password`,
//! `DELETE /v1/me`.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, post, put},
};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use six_events::{
    Envelope,
    auth::{UserDeleted, UserRegistered},
};
use six_kit::{
    auth::CurrentUser,
    http::{FieldError, Json, Problem},
};
use uuid::Uuid;

use crate::{
    email::Email, password, refresh::Revocation, routes::credentials::check_password,
    state::AppState, throttle::account_key,
};

/// Longest display name, in characters.
const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// The account routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/register", post(register))
        .route("/v1/me", get(me).delete(delete_account))
        .route("/v1/me/password", put(change_password))
}

#[derive(Deserialize)]
struct Registration {
    email: String,
    password: SecretString,
    display_name: String,
}

/// An account as its owner sees it.
#[derive(Serialize, sqlx::FromRow)]
struct Account {
    user_id: Uuid,
    email: String,
    display_name: String,
    created_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct PasswordChange {
    current_password: SecretString,
    new_password: SecretString,
}

#[derive(Deserialize)]
struct Deletion {
    password: SecretString,
}

/// A registration whose fields all hold.
struct ValidRegistration {
    email: Email,
    password: SecretString,
    display_name: String,
}

fn validate(registration: Registration) -> Result<ValidRegistration, Problem> {
    let mut errors = Vec::new();
    let email = Email::parse(&registration.email)
        .map_err(|reason| errors.push(FieldError::new("/email", "invalid_email", reason)))
        .ok();
    if let Err(reason) = password::check_policy(registration.password.expose_secret()) {
        errors.push(FieldError::new("/password", "invalid_password", &reason));
    }
    let display_name = registration.display_name.trim().to_owned();
    let name_chars = display_name.chars().count();
    if name_chars == 0 || name_chars > MAX_DISPLAY_NAME_CHARS {
        errors.push(FieldError::new(
            "/display_name",
            "invalid_display_name",
            "must have 1 to 100 characters",
        ));
    } else if display_name.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "/display_name",
            "invalid_display_name",
            "must not contain control characters",
        ));
    }
    match email {
        Some(email) if errors.is_empty() => Ok(ValidRegistration {
            email,
            password: registration.password,
            display_name,
        }),
        _ => Err(Problem::validation(errors)),
    }
}

#[tracing::instrument(skip_all)]
async fn register(
    State(state): State<AppState>,
    Json(registration): Json<Registration>,
) -> Result<(StatusCode, Json<Account>), Problem> {
    let registration = validate(registration)?;
    let password_hash = state
        .passwords
        .hash(registration.password)
        .await
        .map_err(Problem::internal)?;
    let user_id = Uuid::now_v7();
    let mut transaction = state.pool.begin().await.map_err(Problem::internal)?;
    let inserted = sqlx::query_as::<_, Account>(
        "INSERT INTO users (user_id, email, display_name, password_hash) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (email) DO NOTHING \
         RETURNING user_id, email, display_name, created_at",
    )
    .bind(user_id)
    .bind(registration.email.as_str())
    .bind(&registration.display_name)
    .bind(&password_hash)
    .fetch_optional(&mut *transaction)
    .await
    .map_err(Problem::internal)?;
    let Some(account) = inserted else {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "email_taken",
            "An account with this e-mail exists",
        ));
    };
    six_bus::publish(
        &mut transaction,
        Envelope::new(UserRegistered {
            user_id: account.user_id,
            email: account.email.clone(),
            display_name: account.display_name.clone(),
            registered_at: account.created_at,
        }),
    )
    .await
    .map_err(Problem::internal)?;
    transaction.commit().await.map_err(Problem::internal)?;
    tracing::info!(user_id = %account.user_id, "account registered");
    Ok((StatusCode::CREATED, Json(account)))
}

#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
async fn me(State(state): State<AppState>, user: CurrentUser) -> Result<Json<Account>, Problem> {
    sqlx::query_as::<_, Account>(
        "SELECT user_id, email, display_name, created_at FROM users WHERE user_id = $1",
    )
    .bind(user.user_id)
    .fetch_optional(&state.pool)
    .await
    .map_err(Problem::internal)?
    .map(Json)
    .ok_or_else(account_gone)
}

/// Checks `password` against the account of `user_id`, throttled like a login;
/// returns the account's e-mail.
async fn reauthenticate(
    state: &AppState,
    user_id: Uuid,
    password: SecretString,
) -> Result<String, Problem> {
    let account: Option<(String, String)> =
        sqlx::query_as("SELECT email, password_hash FROM users WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&state.pool)
            .await
            .map_err(Problem::internal)?;
    let Some((email, stored_hash)) = account else {
        return Err(account_gone());
    };
    check_password(
        state,
        &[state.throttle.account(&email)],
        password,
        Some(stored_hash),
    )
    .await?;
    Ok(email)
}

/// Changes the password and ends every session (refresh families) of the account.
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(change): Json<PasswordChange>,
) -> Result<StatusCode, Problem> {
    if let Err(reason) = password::check_policy(change.new_password.expose_secret()) {
        return Err(Problem::validation(vec![FieldError::new(
            "/new_password",
            "invalid_password",
            &reason,
        )]));
    }
    reauthenticate(&state, user.user_id, change.current_password).await?;
    let password_hash = state
        .passwords
        .hash(change.new_password)
        .await
        .map_err(Problem::internal)?;
    let mut transaction = state.pool.begin().await.map_err(Problem::internal)?;
    sqlx::query(
        "UPDATE users SET password_hash = $2, password_changed_at = now() WHERE user_id = $1",
    )
    .bind(user.user_id)
    .bind(&password_hash)
    .execute(&mut *transaction)
    .await
    .map_err(Problem::internal)?;
    state
        .refresh
        .revoke_all(&mut transaction, user.user_id, Revocation::PasswordChanged)
        .await
        .map_err(Problem::internal)?;
    transaction.commit().await.map_err(Problem::internal)?;
    tracing::info!("password changed; sessions revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Erases the account: its row, its sessions (by cascade), its login failures and
/// any event about it not yet published; then announces the deletion.
#[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
async fn delete_account(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(deletion): Json<Deletion>,
) -> Result<StatusCode, Problem> {
    let email = reauthenticate(&state, user.user_id, deletion.password).await?;
    let mut transaction = state.pool.begin().await.map_err(Problem::internal)?;
    let deleted = sqlx::query("DELETE FROM users WHERE user_id = $1")
        .bind(user.user_id)
        .execute(&mut *transaction)
        .await
        .map_err(Problem::internal)?;
    if deleted.rows_affected() == 0 {
        return Err(account_gone());
    }
    sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1")
        .bind(account_key(&email))
        .execute(&mut *transaction)
        .await
        .map_err(Problem::internal)?;
    // A registration event still in the outbox carries what the user typed.
    six_bus::discard_unsent(&mut transaction, &user.user_id.to_string())
        .await
        .map_err(Problem::internal)?;
    six_bus::publish(
        &mut transaction,
        Envelope::new(UserDeleted {
            user_id: user.user_id,
            deleted_at: Utc::now(),
        }),
    )
    .await
    .map_err(Problem::internal)?;
    transaction.commit().await.map_err(Problem::internal)?;
    tracing::info!("account deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// 404 `account_not_found`: the token's account no longer exists.
fn account_gone() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "account_not_found",
        "The account no longer exists",
    )
}
