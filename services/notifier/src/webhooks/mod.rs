//! Webhooks: the endpoints users register, their secrets, and the signed calls.

mod sender;
mod signature;

use std::time::Duration;

use sqlx::PgConnection;
use uuid::Uuid;

pub use sender::{WebhookCall, WebhookOutcome, WebhookSender};
pub use signature::WebhookSecret;

/// Gives `endpoint_id` a new secret and keeps the current one signing for
/// `overlap`, so receivers can switch without missing a message. Returns the new
/// secret.
pub async fn rotate_secret(
    connection: &mut PgConnection,
    endpoint_id: Uuid,
    overlap: Duration,
) -> Result<WebhookSecret, sqlx::Error> {
    sqlx::query(
        "UPDATE webhook_secrets SET expires_at = now() + make_interval(secs => $2) \
         WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > now() + make_interval(secs => $2))",
    )
    .bind(endpoint_id)
    .bind(overlap.as_secs_f64())
    .execute(&mut *connection)
    .await?;
    add_secret(connection, endpoint_id).await
}

/// Adds a new current secret to `endpoint_id` and returns it.
pub async fn add_secret(
    connection: &mut PgConnection,
    endpoint_id: Uuid,
) -> Result<WebhookSecret, sqlx::Error> {
    let secret = WebhookSecret::generate();
    sqlx::query("INSERT INTO webhook_secrets (endpoint_id, secret) VALUES ($1, $2)")
        .bind(endpoint_id)
        .bind(secret.to_text())
        .execute(&mut *connection)
        .await?;
    Ok(secret)
}
