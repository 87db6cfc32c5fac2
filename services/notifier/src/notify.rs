//! Raising a notification: record it for the inbox and queue its e-mail and
//! webhook calls, as the recipient's preferences say, in the transaction of the
//! event that caused it.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    delivery::NewDelivery,
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
    let mut deliveries = Vec::with_capacity(endpoints.len() + 1);
    if email {
        deliveries.push(if digest_mode {
            NewDelivery::HeldEmail
        } else {
            NewDelivery::Email
        });
    }
    deliveries.extend(endpoints.into_iter().map(NewDelivery::Webhook));
    if record(connection, user_id, cause_id, notice, in_app, &deliveries)
        .await?
        .is_none()
    {
        return Ok(());
    }
    metrics::counter!("notifier_notifications_total", "kind" => notice.kind().as_str(), "outcome" => "raised").increment(1);
    Ok(())
}

/// Writes the notification of `notice` for `user_id`, shown in the inbox or not,
/// with its `deliveries`, in one statement; its id, or `None` when `cause_id`
/// already raised one for the user (then nothing is written). A pending delivery
/// wakes the dispatchers at commit (a trigger on `deliveries`).
pub async fn record(
    connection: &mut PgConnection,
    user_id: Uuid,
    cause_id: Uuid,
    notice: &Notice,
    in_inbox: bool,
    deliveries: &[NewDelivery],
) -> Result<Option<Uuid>, sqlx::Error> {
    let data = serde_json::to_value(notice).map_err(|error| sqlx::Error::Encode(error.into()))?;
    let delivery_ids: Vec<Uuid> = deliveries.iter().map(|_| Uuid::now_v7()).collect();
    let channels: Vec<&str> = deliveries
        .iter()
        .map(|delivery| delivery.channel().as_str())
        .collect();
    let endpoint_ids: Vec<Option<Uuid>> = deliveries.iter().map(NewDelivery::endpoint_id).collect();
    let states: Vec<&str> = deliveries.iter().map(NewDelivery::state).collect();
    sqlx::query_scalar(
        "WITH notification AS ( \
             INSERT INTO notifications (notification_id, user_id, kind, cause_id, data, in_inbox) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (cause_id, user_id) DO NOTHING RETURNING notification_id \
         ), queued AS ( \
             INSERT INTO deliveries (delivery_id, notification_id, channel, endpoint_id, state) \
             SELECT delivery.id, notification.notification_id, delivery.channel, \
                    delivery.endpoint_id, delivery.state \
             FROM notification, \
                  unnest($7::uuid[], $8::text[], $9::uuid[], $10::text[]) \
                      AS delivery (id, channel, endpoint_id, state) \
         ) \
         SELECT notification_id FROM notification",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(notice.kind().as_str())
    .bind(cause_id)
    .bind(&data)
    .bind(in_inbox)
    .bind(&delivery_ids)
    .bind(&channels)
    .bind(&endpoint_ids)
    .bind(&states)
    .fetch_optional(&mut *connection)
    .await
}
