//! Raising a notification: record it for the inbox and queue its e-mail and
//! webhook calls, as the recipient's preferences say, in the transaction of the
//! event that caused it.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    delivery,
    notices::{Channel, Notice},
    preferences,
};

/// Raises `notice` for `user_id`, caused by event `cause_id`. At most one
/// notification per event and recipient: a second call for the same pair changes
/// nothing (the consumer's inbox already prevents it; this is the table's own
/// guarantee).
pub async fn raise(
    connection: &mut PgConnection,
    user_id: Uuid,
    cause_id: Uuid,
    notice: &Notice,
) -> Result<(), sqlx::Error> {
    // One statement: whether the user is known (and in digest mode), their
    // channels for the kind, and their enabled endpoints for it.
    let recipient: Option<(bool, Option<Vec<String>>, Vec<Uuid>)> = sqlx::query_as(
        "SELECT recipients.digest_hour IS NOT NULL, channel_preferences.channels, \
                ARRAY(SELECT endpoint_id FROM webhook_endpoints \
                      WHERE webhook_endpoints.user_id = recipients.user_id AND enabled \
                        AND $2 = ANY (kinds) ORDER BY endpoint_id) \
         FROM recipients \
         LEFT JOIN channel_preferences \
           ON channel_preferences.user_id = recipients.user_id AND channel_preferences.kind = $2 \
         WHERE recipients.user_id = $1",
    )
    .bind(user_id)
    .bind(notice.kind().as_str())
    .fetch_optional(&mut *connection)
    .await?;
    let Some((digest_mode, chosen, endpoints)) = recipient else {
        tracing::info!(%user_id, kind = notice.kind().as_str(), "no recipient; notification dropped");
        metrics::counter!("notifier_notifications_total", "kind" => notice.kind().as_str(), "outcome" => "unknown_recipient").increment(1);
        return Ok(());
    };
    let channels = preferences::channels_from(chosen);
    let in_app = channels.contains(&Channel::InApp);
    let email = channels.contains(&Channel::Email);
    let endpoints = if channels.contains(&Channel::Webhook) {
        endpoints
    } else {
        Vec::new()
    };
    if !in_app && !email && endpoints.is_empty() {
        metrics::counter!("notifier_notifications_total", "kind" => notice.kind().as_str(), "outcome" => "off").increment(1);
        return Ok(());
    }
    let notification_id = record(connection, user_id, cause_id, notice, in_app).await?;
    let Some(notification_id) = notification_id else {
        return Ok(());
    };
    if email && digest_mode {
        delivery::hold_for_digest(connection, notification_id).await?;
    } else if email {
        delivery::queue(connection, notification_id, Channel::Email, None).await?;
    }
    for endpoint_id in &endpoints {
        delivery::queue(
            connection,
            notification_id,
            Channel::Webhook,
            Some(*endpoint_id),
        )
        .await?;
    }
    metrics::counter!("notifier_notifications_total", "kind" => notice.kind().as_str(), "outcome" => "raised").increment(1);
    Ok(())
}

/// Writes the notification of `notice` for `user_id`, shown in the inbox or not;
/// its id, or `None` when `cause_id` already raised one for the user.
pub async fn record(
    connection: &mut PgConnection,
    user_id: Uuid,
    cause_id: Uuid,
    notice: &Notice,
    in_inbox: bool,
) -> Result<Option<Uuid>, sqlx::Error> {
    let data = serde_json::to_value(notice).map_err(|error| sqlx::Error::Encode(error.into()))?;
    sqlx::query_scalar(
        "INSERT INTO notifications (notification_id, user_id, kind, cause_id, data, in_inbox) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (cause_id, user_id) DO NOTHING RETURNING notification_id",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(notice.kind().as_str())
    .bind(cause_id)
    .bind(&data)
    .bind(in_inbox)
    .fetch_optional(&mut *connection)
    .await
}
