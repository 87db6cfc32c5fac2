//! The operators' view of the delivery log (service tokens only: an operator's
//! client on auth): failed and pending deliveries, and sending a failed one again.

use axum::{
    Router,
    extract::{Path, Query, State},
    http::StatusCode,
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use six_kit::{
    auth::ServiceCaller,
    http::{FieldError, Json, Problem},
};
use uuid::Uuid;

use super::AppState;

/// Deliveries per page unless the operator asks for another number.
pub const DEFAULT_LIMIT: i64 = 50;
/// Most deliveries per page.
pub const MAX_LIMIT: i64 = 500;

/// The operator routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/internal/deliveries", get(list))
        .route("/internal/deliveries/{delivery_id}/retry", post(retry))
        .with_state(state)
}

/// The columns of [`DeliveryView`], for `concat!` into its queries.
macro_rules! delivery_columns {
    () => {
        "d.delivery_id, d.notification_id, n.user_id, n.kind, d.channel, d.endpoint_id, \
         d.state, d.attempts, d.last_error, d.next_attempt_at, d.created_at, d.sent_at"
    };
}

/// A delivery as operators see it: what, to whom (by id), how it went. No
/// address and no message content.
#[derive(Debug, Serialize, sqlx::FromRow)]
struct DeliveryView {
    delivery_id: Uuid,
    notification_id: Uuid,
    user_id: Uuid,
    kind: String,
    channel: String,
    endpoint_id: Option<Uuid>,
    state: String,
    attempts: i32,
    last_error: Option<String>,
    next_attempt_at: chrono::DateTime<chrono::Utc>,
    created_at: chrono::DateTime<chrono::Utc>,
    sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Deserialize)]
struct ListParams {
    state: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
struct DeliveryPage {
    deliveries: Vec<DeliveryView>,
    /// Pass as `cursor` for the next (older) page; `null` on the last.
    next_cursor: Option<String>,
}

/// `GET /internal/deliveries?state=failed|pending&limit=&cursor=`: newest first.
#[tracing::instrument(skip(state))]
async fn list(
    State(state): State<AppState>,
    _caller: ServiceCaller,
    Query(params): Query<ListParams>,
) -> Result<Json<DeliveryPage>, Problem> {
    let mut errors = Vec::new();
    let wanted = params.state.as_deref().unwrap_or("failed");
    if !matches!(wanted, "failed" | "pending") {
        errors.push(FieldError::new(
            "state",
            "invalid_state",
            "state is `failed` or `pending`",
        ));
    }
    let (limit, before) = match super::page(
        params.limit.as_deref(),
        params.cursor.as_deref(),
        DEFAULT_LIMIT,
        MAX_LIMIT,
    ) {
        Ok(page) => page,
        Err(page_errors) => {
            errors.extend(page_errors);
            (DEFAULT_LIMIT, None)
        }
    };
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let mut deliveries = sqlx::query_as::<_, DeliveryView>(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM deliveries d JOIN notifications n USING (notification_id) \
         WHERE d.state = $1 AND ($2::uuid IS NULL OR d.delivery_id < $2) \
         ORDER BY d.delivery_id DESC LIMIT $3"
    ))
    .bind(wanted)
    .bind(before)
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await
    .map_err(Problem::internal)?;
    let more = deliveries.len() as i64 > limit;
    deliveries.truncate(limit as usize);
    let next_cursor = more
        .then(|| {
            deliveries
                .last()
                .map(|delivery| delivery.delivery_id.to_string())
        })
        .flatten();
    Ok(Json(DeliveryPage {
        deliveries,
        next_cursor,
    }))
}

/// `POST /internal/deliveries/{id}/retry`: a failed delivery goes back to the
/// queue with a fresh count of attempts and is sent at once. 409 unless it
/// failed, or when its webhook endpoint is disabled (enable it first).
#[tracing::instrument(skip(state))]
async fn retry(
    State(state): State<AppState>,
    caller: ServiceCaller,
    Path(delivery_id): Path<String>,
) -> Result<Json<DeliveryView>, Problem> {
    let delivery_id = Uuid::parse_str(&delivery_id).map_err(|_| Problem::not_found())?;
    let mut transaction = state.pool.begin().await.map_err(Problem::internal)?;
    let current: Option<(String, Option<bool>)> = sqlx::query_as(
        "SELECT d.state, e.enabled FROM deliveries d \
         LEFT JOIN webhook_endpoints e USING (endpoint_id) \
         WHERE d.delivery_id = $1 FOR UPDATE OF d",
    )
    .bind(delivery_id)
    .fetch_optional(&mut *transaction)
    .await
    .map_err(Problem::internal)?;
    match current {
        None => return Err(Problem::not_found()),
        Some((state, _)) if state != "failed" => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "delivery_not_failed",
                "Only failed deliveries are retried",
            )
            .with_detail(format!("the delivery is {state}")));
        }
        Some((_, Some(false))) => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "endpoint_disabled",
                "The webhook endpoint is disabled",
            )
            .with_detail("its owner turns it on again with POST /v1/webhooks/{id}/enable"));
        }
        Some(_) => {}
    }
    sqlx::query(
        "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = now(), \
                claimed_until = NULL WHERE delivery_id = $1",
    )
    .bind(delivery_id)
    .execute(&mut *transaction)
    .await
    .map_err(Problem::internal)?;
    let view = sqlx::query_as::<_, DeliveryView>(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM deliveries d JOIN notifications n USING (notification_id) WHERE d.delivery_id = $1"
    ))
    .bind(delivery_id)
    .fetch_one(&mut *transaction)
    .await
    .map_err(Problem::internal)?;
    transaction.commit().await.map_err(Problem::internal)?;
    tracing::info!(%delivery_id, client_id = %caller.client_id, "failed delivery queued again by an operator");
    Ok(Json(view))
}
