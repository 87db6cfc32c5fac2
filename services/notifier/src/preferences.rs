//! Which channels each kind of notification goes out on, per user, and whether
//! their e-mails come one by one or as a daily digest. A kind the user never set
//! goes out on every channel; an empty list turns it off.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    delivery,
    notices::{Channel, Kind},
};

/// E-mails held and sent once a day, at `hour` o'clock in `time_zone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct DailyDigest {
    /// 0–23, local time.
    pub hour: i16,
    /// An IANA time zone name, e.g. `Europe/Berlin`.
    pub time_zone: String,
}

/// `user_id`'s daily digest, if they chose one.
pub async fn digest_of(
    connection: &mut PgConnection,
    user_id: Uuid,
) -> Result<Option<DailyDigest>, sqlx::Error> {
    sqlx::query_as(
        "SELECT digest_hour AS hour, time_zone FROM recipients \
         WHERE user_id = $1 AND digest_hour IS NOT NULL",
    )
    .bind(user_id)
    .fetch_optional(&mut *connection)
    .await
}

/// Turns `user_id`'s daily digest on (or moves it), or off; turned off, the
/// e-mails it held go out one by one.
pub async fn set_digest(
    connection: &mut PgConnection,
    user_id: Uuid,
    digest: Option<&DailyDigest>,
) -> Result<(), sqlx::Error> {
    match digest {
        Some(digest) => {
            sqlx::query(
                "UPDATE recipients SET digest_hour = $2, time_zone = $3, updated_at = now() \
                 WHERE user_id = $1",
            )
            .bind(user_id)
            .bind(digest.hour)
            .bind(&digest.time_zone)
            .execute(&mut *connection)
            .await?;
        }
        None => {
            sqlx::query(
                "UPDATE recipients SET digest_hour = NULL, updated_at = now() WHERE user_id = $1",
            )
            .bind(user_id)
            .execute(&mut *connection)
            .await?;
            delivery::release_held(connection, user_id).await?;
        }
    }
    Ok(())
}

/// Whether PostgreSQL, which computes the digests' local hours, knows `name`.
pub async fn is_time_zone(connection: &mut PgConnection, name: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)")
        .bind(name)
        .fetch_one(&mut *connection)
        .await
}

/// The channels `user_id` chose for `kind`, or every channel if they chose none.
pub async fn channels_for(
    connection: &mut PgConnection,
    user_id: Uuid,
    kind: Kind,
) -> Result<Vec<Channel>, sqlx::Error> {
    let chosen: Option<Vec<String>> = sqlx::query_scalar(
        "SELECT channels FROM channel_preferences WHERE user_id = $1 AND kind = $2",
    )
    .bind(user_id)
    .bind(kind.as_str())
    .fetch_optional(&mut *connection)
    .await?;
    Ok(channels_from(chosen))
}

/// The channels of a `channel_preferences.channels` value, or every channel when
/// the user never chose (`None`).
pub fn channels_from(chosen: Option<Vec<String>>) -> Vec<Channel> {
    match chosen {
        None => Channel::ALL.to_vec(),
        Some(names) => names
            .iter()
            .filter_map(|name| Channel::parse(name))
            .collect(),
    }
}

/// Every kind with its channels, for `user_id`.
pub async fn all_for(
    connection: &mut PgConnection,
    user_id: Uuid,
) -> Result<BTreeMap<&'static str, Vec<Channel>>, sqlx::Error> {
    let mut preferences = BTreeMap::new();
    for kind in Kind::ALL {
        preferences.insert(
            kind.as_str(),
            channels_for(connection, user_id, kind).await?,
        );
    }
    Ok(preferences)
}

/// Sets `kind`'s channels for `user_id` (duplicates are dropped).
pub async fn set(
    connection: &mut PgConnection,
    user_id: Uuid,
    kind: Kind,
    channels: &[Channel],
) -> Result<(), sqlx::Error> {
    let mut names: Vec<&str> = channels.iter().map(|channel| channel.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    sqlx::query(
        "INSERT INTO channel_preferences (user_id, kind, channels) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, kind) DO UPDATE SET channels = EXCLUDED.channels",
    )
    .bind(user_id)
    .bind(kind.as_str())
    .bind(&names)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Takes `channel` out of `kind`'s channels for `user_id` (an unsubscribe link).
pub async fn remove_channel(
    connection: &mut PgConnection,
    user_id: Uuid,
    kind: Kind,
    channel: Channel,
) -> Result<(), sqlx::Error> {
    let remaining: Vec<Channel> = channels_for(connection, user_id, kind)
        .await?
        .into_iter()
        .filter(|kept| *kept != channel)
        .collect();
    set(connection, user_id, kind, &remaining).await
}
