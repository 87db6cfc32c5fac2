//! `GET /v1/known-users/{user_id}`: what this service knows about a user.

use axum::{
    Router,
    extract::{Path, State},
    routing::get,
};
use serde::Serialize;
use six_kit::http::{Json, Problem};
use sqlx::PgPool;
use uuid::Uuid;

/// A user as this service knows them.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct KnownUser {
    user_id: Uuid,
    display_name: String,
    registered_at: chrono::DateTime<chrono::Utc>,
}

/// The routes of this capability.
pub fn router(pool: PgPool) -> Router {
    Router::new()
        .route("/v1/known-users/{user_id}", get(known_user))
        .with_state(pool)
}

#[tracing::instrument(skip(pool))]
async fn known_user(
    State(pool): State<PgPool>,
    Path(user_id): Path<String>,
) -> Result<Json<KnownUser>, Problem> {
    let Ok(user_id) = Uuid::parse_str(&user_id) else {
        return Err(Problem::malformed("user_id must be a UUID"));
    };
    let user = sqlx::query_as::<_, KnownUser>(
        "SELECT user_id, display_name, registered_at FROM known_users WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&pool)
    .await
    .map_err(Problem::internal)?;
    user.map(Json).ok_or_else(Problem::not_found)
}
