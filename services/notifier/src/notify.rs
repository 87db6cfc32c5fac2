//! Raising a notification: record it for the inbox and queue its e-mail and
//! webhook calls, as the recipient's preferences say, in the transaction of the
//! event that caused it.

use std::collections::{HashMap, HashSet};

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    delivery::NewDelivery,
    notices::{Channel, Notice},
    preferences,
};

/// A notification to raise: `notice` for `user_id`, caused by `cause_id` (an
/// event, or for a notice the notifier raises itself, the delivery that caused
/// it).
#[derive(Debug, Clone, PartialEq)]
pub struct Raise {
    pub user_id: Uuid,
    pub cause_id: Uuid,
    pub notice: Notice,
}

/// A notification about to be written with its deliveries.
#[derive(Debug)]
pub struct NewNotification<'a> {
    pub user_id: Uuid,
    pub cause_id: Uuid,
    pub notice: &'a Notice,
    /// Shown in the in-app inbox.
    pub in_inbox: bool,
    pub deliveries: Vec<NewDelivery>,
}

/// What the recipient of the raise at `position` (from 1) chose.
#[derive(Debug, sqlx::FromRow)]
struct Choices {
    position: i64,
    /// Their e-mails wait for a daily digest.
    digest_mode: bool,
    /// Their channels for the kind; `None`: never chosen.
    channels: Option<Vec<String>>,
    /// Their enabled endpoints for the kind.
    endpoints: Vec<Uuid>,
}

/// Raises each notice, as its recipient's preferences say, in two statements
/// however many there are: one reads what the recipients chose, one writes the
/// notifications with their deliveries. At most one notification per cause and
/// recipient: raising the same pair again changes nothing (the consumer's inbox
/// already prevents it; this is the table's own guarantee). A raise for a user
/// the notifier does not know is dropped.
pub async fn raise_all(connection: &mut PgConnection, raises: &[Raise]) -> Result<(), sqlx::Error> {
    if raises.is_empty() {
        return Ok(());
    }
    let (user_ids, kinds): (Vec<Uuid>, Vec<&str>) = raises
        .iter()
        .map(|raise| (raise.user_id, raise.notice.kind().as_str()))
        .unzip();
    let rows: Vec<Choices> = sqlx::query_as(
        "SELECT wanted.position, recipients.digest_hour IS NOT NULL AS digest_mode, \
                channel_preferences.channels, \
                ARRAY(SELECT endpoint_id FROM webhook_endpoints \
                      WHERE webhook_endpoints.user_id = recipients.user_id AND enabled \
                        AND wanted.kind = ANY (kinds) ORDER BY endpoint_id) AS endpoints \
         FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS wanted (user_id, kind, position) \
         JOIN recipients ON recipients.user_id = wanted.user_id \
         LEFT JOIN channel_preferences \
           ON channel_preferences.user_id = wanted.user_id AND channel_preferences.kind = wanted.kind",
    )
    .bind(&user_ids)
    .bind(&kinds)
    .fetch_all(&mut *connection)
    .await?;
    let mut choices: HashMap<usize, Choices> = rows
        .into_iter()
        .map(|choices| {
            let index = usize::try_from(choices.position - 1).unwrap_or(usize::MAX);
            (index, choices)
        })
        .collect();
    let mut notifications = Vec::with_capacity(raises.len());
    for (index, raise) in raises.iter().enumerate() {
        let kind = raise.notice.kind().as_str();
        let Some(choices) = choices.remove(&index) else {
            tracing::info!(user_id = %raise.user_id, cause_id = %raise.cause_id, kind, "no recipient; notification dropped");
            metrics::counter!("notifier_notifications_total", "kind" => kind, "outcome" => "unknown_recipient").increment(1);
            continue;
        };
        match notification_of(raise, choices) {
            Some(notification) => notifications.push(notification),
            None => {
                metrics::counter!("notifier_notifications_total", "kind" => kind, "outcome" => "off").increment(1);
            }
        }
    }
    let written = record_all(connection, &notifications).await?;
    for (notification, id) in notifications.iter().zip(written) {
        if id.is_some() {
            metrics::counter!("notifier_notifications_total", "kind" => notification.notice.kind().as_str(), "outcome" => "raised").increment(1);
        }
    }
    Ok(())
}

/// The notification `raise` makes under its recipient's choices, or `None` when
/// every channel is off for its kind.
fn notification_of(raise: &Raise, choices: Choices) -> Option<NewNotification<'_>> {
    let channels = preferences::channels_from(choices.channels);
    let in_inbox = channels.contains(&Channel::InApp);
    let email = channels.contains(&Channel::Email);
    let endpoints = if channels.contains(&Channel::Webhook) {
        choices.endpoints
    } else {
        Vec::new()
    };
    if !in_inbox && !email && endpoints.is_empty() {
        return None;
    }
    let mut deliveries = Vec::with_capacity(endpoints.len() + 1);
    if email {
        deliveries.push(if choices.digest_mode {
            NewDelivery::HeldEmail
        } else {
            NewDelivery::Email
        });
    }
    deliveries.extend(endpoints.into_iter().map(NewDelivery::Webhook));
    Some(NewNotification {
        user_id: raise.user_id,
        cause_id: raise.cause_id,
        notice: &raise.notice,
        in_inbox,
        deliveries,
    })
}

/// Writes the notifications, each with its `deliveries`, in one statement; for
/// each, in order, its id, or `None` when its cause already raised one for the
/// user (then nothing of it is written). A pending delivery wakes the
/// dispatchers at commit (a trigger on `deliveries`).
pub async fn record_all(
    connection: &mut PgConnection,
    notifications: &[NewNotification<'_>],
) -> Result<Vec<Option<Uuid>>, sqlx::Error> {
    if notifications.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = notifications.iter().map(|_| Uuid::now_v7()).collect();
    let mut data = Vec::with_capacity(notifications.len());
    for notification in notifications {
        data.push(
            serde_json::to_value(notification.notice)
                .map_err(|error| sqlx::Error::Encode(error.into()))?,
        );
    }
    let mut of_notification = Vec::new();
    let mut delivery_ids = Vec::new();
    let mut channels = Vec::new();
    let mut endpoint_ids = Vec::new();
    let mut states = Vec::new();
    for (notification, notification_id) in notifications.iter().zip(&ids) {
        for delivery in &notification.deliveries {
            of_notification.push(*notification_id);
            delivery_ids.push(Uuid::now_v7());
            channels.push(delivery.channel().as_str());
            endpoint_ids.push(delivery.endpoint_id());
            states.push(delivery.state());
        }
    }
    let written: HashSet<Uuid> = sqlx::query_scalar(
        "WITH notification AS ( \
             INSERT INTO notifications (notification_id, user_id, kind, cause_id, data, in_inbox) \
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::jsonb[], $6::bool[]) \
             ON CONFLICT (cause_id, user_id) DO NOTHING RETURNING notification_id \
         ), queued AS ( \
             INSERT INTO deliveries (delivery_id, notification_id, channel, endpoint_id, state) \
             SELECT delivery.id, delivery.notification_id, delivery.channel, \
                    delivery.endpoint_id, delivery.state \
             FROM unnest($7::uuid[], $8::uuid[], $9::text[], $10::uuid[], $11::text[]) \
                      AS delivery (id, notification_id, channel, endpoint_id, state) \
             JOIN notification USING (notification_id) \
         ) \
         SELECT notification_id FROM notification",
    )
    .bind(&ids)
    .bind(notifications.iter().map(|n| n.user_id).collect::<Vec<_>>())
    .bind(notifications.iter().map(|n| n.notice.kind().as_str()).collect::<Vec<_>>())
    .bind(notifications.iter().map(|n| n.cause_id).collect::<Vec<_>>())
    .bind(&data)
    .bind(notifications.iter().map(|n| n.in_inbox).collect::<Vec<_>>())
    .bind(&delivery_ids)
    .bind(&of_notification)
    .bind(&channels)
    .bind(&endpoint_ids)
    .bind(&states)
    .fetch_all(&mut *connection)
    .await?
    .into_iter()
    .collect();
    Ok(ids
        .into_iter()
        .map(|id| written.contains(&id).then_some(id))
        .collect())
}
