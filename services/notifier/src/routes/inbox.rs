//! The in-app inbox of the signed-in user: a page of notifications (newest
//! first, cursor pagination), the unread count, marking read.

use axum::{
    Router,
    extract::{Path, Query, State},
    http::StatusCode,
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use six_kit::{
    auth::CurrentUser,
    http::{Json, Problem},
};
use uuid::Uuid;

use super::AppState;
use crate::{messages, notices::Notice};

/// Entries per page unless the client asks for another number.
pub const DEFAULT_LIMIT: i64 = 20;
/// Most entries per page.
pub const MAX_LIMIT: i64 = 100;

/// The inbox routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/notifications", get(list))
        .route("/v1/notifications/unread-count", get(unread_count))
        .route("/v1/notifications/read-all", post(read_all))
        .route("/v1/notifications/{notification_id}/read", post(read))
        .with_state(state)
}

#[derive(Debug, Deserialize)]
struct ListParams {
    limit: Option<String>,
    cursor: Option<String>,
}

/// A page of the inbox.
#[derive(Debug, Serialize)]
struct InboxPage {
    notifications: Vec<InboxEntry>,
    /// Pass as `cursor` for the next (older) page; `null` on the last.
    next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
struct InboxEntry {
    notification_id: Uuid,
    kind: &'static str,
    title: String,
    body: String,
    link: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    read: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    notification_id: Uuid,
    data: serde_json::Value,
    created_at: chrono::DateTime<chrono::Utc>,
    read_at: Option<chrono::DateTime<chrono::Utc>>,
    display_name: String,
}

#[tracing::instrument(skip(state))]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(params): Query<ListParams>,
) -> Result<Json<InboxPage>, Problem> {
    let (limit, before) = super::page(
        params.limit.as_deref(),
        params.cursor.as_deref(),
        DEFAULT_LIMIT,
        MAX_LIMIT,
    )
    .map_err(Problem::validation)?;
    let rows = sqlx::query_as::<_, Row>(
        "SELECT notification_id, data, created_at, read_at, recipients.display_name \
         FROM notifications JOIN recipients USING (user_id) \
         WHERE user_id = $1 AND in_inbox AND ($2::uuid IS NULL OR notification_id < $2) \
         ORDER BY notification_id DESC LIMIT $3",
    )
    .bind(user.user_id)
    .bind(before)
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await
    .map_err(Problem::internal)?;
    let more = rows.len() as i64 > limit;
    let mut notifications = Vec::with_capacity(rows.len());
    for row in rows.into_iter().take(limit as usize) {
        let notice: Notice = serde_json::from_value(row.data).map_err(Problem::internal)?;
        let wording = messages::wording(&notice, &row.display_name, &state.links);
        notifications.push(InboxEntry {
            notification_id: row.notification_id,
            kind: notice.kind().as_str(),
            title: wording.title,
            body: wording.text,
            link: wording.link.map(|(_, url)| url.to_string()),
            created_at: row.created_at,
            read: row.read_at.is_some(),
        });
    }
    let next_cursor = more
        .then(|| {
            notifications
                .last()
                .map(|entry| entry.notification_id.to_string())
        })
        .flatten();
    Ok(Json(InboxPage {
        notifications,
        next_cursor,
    }))
}

#[derive(Debug, Serialize)]
struct UnreadCount {
    unread: i64,
}

#[tracing::instrument(skip(state))]
async fn unread_count(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<UnreadCount>, Problem> {
    let unread = sqlx::query_scalar(
        "SELECT count(*) FROM notifications WHERE user_id = $1 AND in_inbox AND read_at IS NULL",
    )
    .bind(user.user_id)
    .fetch_one(&state.pool)
    .await
    .map_err(Problem::internal)?;
    Ok(Json(UnreadCount { unread }))
}

/// `POST /v1/notifications/{id}/read`: 204, also when it was read already; 404
/// when the user has no such entry.
#[tracing::instrument(skip(state))]
async fn read(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(notification_id): Path<String>,
) -> Result<StatusCode, Problem> {
    let Ok(notification_id) = Uuid::parse_str(&notification_id) else {
        return Err(Problem::not_found());
    };
    let marked = sqlx::query(
        "UPDATE notifications SET read_at = coalesce(read_at, now()) \
         WHERE notification_id = $1 AND user_id = $2 AND in_inbox",
    )
    .bind(notification_id)
    .bind(user.user_id)
    .execute(&state.pool)
    .await
    .map_err(Problem::internal)?;
    if marked.rows_affected() == 0 {
        return Err(Problem::not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
struct Marked {
    marked: u64,
}

/// `POST /v1/notifications/read-all`: how many entries were unread.
#[tracing::instrument(skip(state))]
async fn read_all(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Marked>, Problem> {
    let marked = sqlx::query(
        "UPDATE notifications SET read_at = now() \
         WHERE user_id = $1 AND in_inbox AND read_at IS NULL",
    )
    .bind(user.user_id)
    .execute(&state.pool)
    .await
    .map_err(Problem::internal)?;
    Ok(Json(Marked {
        marked: marked.rows_affected(),
    }))
}
