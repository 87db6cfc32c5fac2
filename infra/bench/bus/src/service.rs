//! `bench-service`: the smallest real service on `six-kit`, whose resident memory
//! at rest the benchmark measures. Like `skeleton/`, it has one route and consumes
//! one event type into its own table; everything else (HTTP pipeline, probes,
//! metrics, outbox relay, consumer with inbox, shutdown) is the kit's.

use std::sync::LazyLock;

use axum::{
    Router,
    extract::{Path, State},
    routing::get,
};
use serde::Serialize;
use six_bus::{Handler, HandlerError};
use six_events::{DomainEvent, EventData, auth::UserRegistered};
use six_kit::{
    Parts, Resources, Service,
    config::{ConfigError, Env},
    http::{Json, Problem},
    service::BuildError,
};
use sqlx::{PgConnection, PgPool, migrate::Migrator};
use uuid::Uuid;

static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| sqlx::migrate!("./migrations"));

/// The benchmark service.
pub struct BenchService;

impl Service for BenchService {
    const NAME: &'static str = "bench-service";
    type Settings = ();
    type Handler = KnownUsers;

    fn settings(_env: &Env) -> Result<Self::Settings, ConfigError> {
        Ok(())
    }

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    async fn build(resources: Resources, (): ()) -> Result<Parts<Self::Handler>, BuildError> {
        let routes = Router::new()
            .route("/v1/known-users/{user_id}", get(known_user))
            .with_state(resources.pool);
        Ok(Parts {
            routes,
            handler: Some(KnownUsers),
        })
    }
}

/// A user as the service knows them.
#[derive(Debug, Serialize, sqlx::FromRow)]
struct KnownUser {
    user_id: Uuid,
    display_name: String,
    registered_at: chrono::DateTime<chrono::Utc>,
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

/// Records `auth.user.registered.v1` in `known_users`.
pub struct KnownUsers;

impl Handler for KnownUsers {
    fn event_types(&self) -> Vec<&'static str> {
        vec![UserRegistered::TYPE]
    }

    async fn handle(
        &self,
        event: &DomainEvent,
        transaction: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let DomainEvent::UserRegistered(registered) = event else {
            return Err(HandlerError::Permanent(format!(
                "unexpected event `{}`",
                event.routing_key()
            )));
        };
        let user = registered.data();
        sqlx::query(
            "INSERT INTO known_users (user_id, display_name, registered_at) VALUES ($1, $2, $3)",
        )
        .bind(user.user_id)
        .bind(&user.display_name)
        .bind(user.registered_at)
        .execute(transaction)
        .await?;
        Ok(())
    }
}
