//! `GET` and `PUT /v1/notification-preferences`: the channels of each kind of
//! notification for the signed-in user, and their daily digest.

use std::collections::BTreeMap;

use axum::{Router, extract::State, routing::get};
use serde::{Deserialize, Serialize};
use six_kit::{
    auth::CurrentUser,
    http::{FieldError, Json, Problem},
};
use uuid::Uuid;

use super::AppState;
use crate::{
    notices::{Channel, Kind},
    preferences::{self, DailyDigest},
};

/// The preference routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/notification-preferences", get(show).put(update))
        .with_state(state)
}

/// Every kind with the channels it goes out on (`[]`: off), and the daily digest
/// (`null`: e-mails go out as they happen).
#[derive(Debug, Serialize)]
struct Preferences {
    kinds: BTreeMap<&'static str, Vec<Channel>>,
    email_digest: Option<DailyDigest>,
}

/// What to change: kinds left out keep their channels; `email_digest` left out
/// stays as it is, `null` turns it off.
#[derive(Debug, Deserialize)]
struct PreferencesUpdate {
    #[serde(default)]
    kinds: BTreeMap<String, Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    email_digest: Option<Option<DailyDigest>>,
}

/// A field that is present, `null` included (`Some(None)`), as opposed to absent.
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<DailyDigest>>, D::Error> {
    Option::<DailyDigest>::deserialize(deserializer).map(Some)
}

#[tracing::instrument(skip(state))]
async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Preferences>, Problem> {
    let mut connection = state.pool.acquire().await.map_err(Problem::internal)?;
    super::known_recipient(&mut connection, user.user_id).await?;
    Ok(Json(current(&mut connection, user.user_id).await?))
}

async fn current(
    connection: &mut sqlx::PgConnection,
    user_id: Uuid,
) -> Result<Preferences, Problem> {
    Ok(Preferences {
        kinds: preferences::all_for(connection, user_id)
            .await
            .map_err(Problem::internal)?,
        email_digest: preferences::digest_of(connection, user_id)
            .await
            .map_err(Problem::internal)?,
    })
}

#[tracing::instrument(skip(state, update))]
async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(update): Json<PreferencesUpdate>,
) -> Result<Json<Preferences>, Problem> {
    let mut errors = Vec::new();
    let mut changes = Vec::new();
    for (kind_name, channel_names) in &update.kinds {
        let Some(kind) = Kind::parse(kind_name) else {
            errors.push(super::unknown_kind(
                format!("/kinds/{kind_name}"),
                kind_name,
            ));
            continue;
        };
        let mut channels = Vec::new();
        for (index, channel_name) in channel_names.iter().enumerate() {
            match Channel::parse(channel_name) {
                Some(channel) => channels.push(channel),
                None => errors.push(super::unknown_channel(
                    format!("/kinds/{kind_name}/{index}"),
                    channel_name,
                )),
            }
        }
        changes.push((kind, channels));
    }
    let mut transaction = state.pool.begin().await.map_err(Problem::internal)?;
    if let Some(Some(digest)) = &update.email_digest {
        if !(0..=23).contains(&digest.hour) {
            errors.push(FieldError::new(
                "/email_digest/hour",
                "invalid_hour",
                "the hour is 0 to 23, in the given time zone",
            ));
        }
        let known_zone = preferences::is_time_zone(&mut transaction, &digest.time_zone)
            .await
            .map_err(Problem::internal)?;
        if !known_zone {
            errors.push(FieldError::new(
                "/email_digest/time_zone",
                "unknown_time_zone",
                format!(
                    "`{}` is not a time zone name, e.g. Europe/Berlin or America/New_York",
                    digest.time_zone
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    super::known_recipient(&mut transaction, user.user_id).await?;
    for (kind, channels) in &changes {
        preferences::set(&mut transaction, user.user_id, *kind, channels)
            .await
            .map_err(Problem::internal)?;
    }
    if let Some(digest) = &update.email_digest {
        preferences::set_digest(&mut transaction, user.user_id, digest.as_ref())
            .await
            .map_err(Problem::internal)?;
    }
    let preferences = current(&mut transaction, user.user_id).await?;
    transaction.commit().await.map_err(Problem::internal)?;
    Ok(Json(preferences))
}
