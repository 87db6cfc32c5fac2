//! HTTP routes, one module per capability, sharing [`AppState`].

use axum::extract::FromRef;
use six_kit::{
    auth::TokenVerifier,
    http::{FieldError, Problem},
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    notices::{Channel, Kind},
    settings::WebhookSettings,
    unsubscribe::UnsubscribeKeys,
};

pub mod admin;
pub mod inbox;
pub mod preferences;
pub mod unsubscribe;
pub mod webhooks;

/// What every route shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// Verifies access tokens.
    pub verifier: TokenVerifier,
    /// Checks unsubscribe links.
    pub unsubscribe: UnsubscribeKeys,
    /// Words the inbox's entries.
    pub links: crate::messages::Links,
    /// What endpoints may be registered.
    pub webhooks: WebhookSettings,
}

impl FromRef<AppState> for TokenVerifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// A page's size and start, read from `limit` (1 to `max`, else `default`) and
/// `cursor` (the id after which the previous page ended); each bad one is a
/// field error.
fn page(
    limit: Option<&str>,
    cursor: Option<&str>,
    default: i64,
    max: i64,
) -> Result<(i64, Option<Uuid>), Vec<FieldError>> {
    let mut errors = Vec::new();
    let limit = match limit.map(str::parse::<i64>) {
        None => default,
        Some(Ok(limit)) if (1..=max).contains(&limit) => limit,
        Some(_) => {
            errors.push(FieldError::new(
                "limit",
                "invalid_limit",
                format!("limit must be a number from 1 to {max}"),
            ));
            default
        }
    };
    let after = match cursor.map(Uuid::parse_str) {
        None => None,
        Some(Ok(cursor)) => Some(cursor),
        Some(Err(_)) => {
            errors.push(FieldError::new(
                "cursor",
                "invalid_cursor",
                "cursor must be a next_cursor this route returned",
            ));
            None
        }
    };
    if errors.is_empty() {
        Ok((limit, after))
    } else {
        Err(errors)
    }
}

/// `name` at `field` is not a kind of notification.
fn unknown_kind(field: String, name: &str) -> FieldError {
    FieldError::new(
        field,
        "unknown_kind",
        format!(
            "`{name}` is not a kind of notification; the kinds are {}",
            Kind::ALL.map(Kind::as_str).join(", ")
        ),
    )
}

/// `name` at `field` is not a channel.
fn unknown_channel(field: String, name: &str) -> FieldError {
    FieldError::new(
        field,
        "unknown_channel",
        format!(
            "`{name}` is not a channel; the channels are {}",
            Channel::ALL.map(Channel::as_str).join(", ")
        ),
    )
}

/// Locks `user_id`'s row of `recipients` until the transaction ends, so that an
/// erasure cannot come in between; false when the notifier does not know the user
/// (it learns of them from their registration event).
async fn lock_recipient(
    connection: &mut sqlx::PgConnection,
    user_id: Uuid,
) -> Result<bool, Problem> {
    let known: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM recipients WHERE user_id = $1 FOR UPDATE")
            .bind(user_id)
            .fetch_optional(&mut *connection)
            .await
            .map_err(Problem::internal)?;
    Ok(known.is_some())
}

/// [`lock_recipient`], with 404 for a user the notifier does not know.
async fn known_recipient(
    connection: &mut sqlx::PgConnection,
    user_id: Uuid,
) -> Result<(), Problem> {
    if lock_recipient(connection, user_id).await? {
        Ok(())
    } else {
        Err(Problem::not_found())
    }
}
