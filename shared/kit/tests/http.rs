//! The HTTP pipeline every service gets, tested through a minimal service.

use std::{sync::LazyLock, time::Duration};

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use serde::Deserialize;
use six_events::{Envelope, auth::UserRegistered};
use six_kit::{
    NoEvents, Parts, Resources, Service,
    config::{ConfigError, Env},
    http::{FieldError, Json, Problem},
    service::BuildError,
    testing::TestApp,
};
use sqlx::{PgPool, migrate::Migrator};

/// A service with one JSON route and no migrations of its own.
struct Echo;

static NO_MIGRATIONS: LazyLock<Migrator> = LazyLock::new(|| Migrator::with_migrations(Vec::new()));

#[derive(Deserialize)]
struct Greeting {
    name: String,
}

async fn greet(Json(greeting): Json<Greeting>) -> Result<Json<serde_json::Value>, Problem> {
    if greeting.name.trim().is_empty() {
        return Err(Problem::validation(vec![FieldError {
            field: "/name".into(),
            code: "empty".into(),
            message: "name must not be empty".into(),
        }]));
    }
    Ok(Json(
        serde_json::json!({ "greeting": format!("hello {}", greeting.name) }),
    ))
}

/// Publishes an event while handling the request and answers with its trace attributes.
async fn announce(State(pool): State<PgPool>) -> Result<Json<serde_json::Value>, Problem> {
    let mut transaction = pool.begin().await.map_err(Problem::internal)?;
    let event = Envelope::new(UserRegistered {
        user_id: uuid::Uuid::now_v7(),
        email: "ada@example.org".into(),
        display_name: "Ada".into(),
        registered_at: chrono::Utc::now(),
    });
    let published = six_bus::publish(&mut transaction, event)
        .await
        .map_err(Problem::internal)?;
    transaction.commit().await.map_err(Problem::internal)?;
    Ok(Json(serde_json::json!({
        "event_id": published.id,
        "traceparent": published.traceparent,
        "correlation_id": published.correlation_id,
    })))
}

/// The session setting every connection of the pool starts with.
async fn session(State(pool): State<PgPool>) -> Result<String, Problem> {
    sqlx::query_scalar("SELECT current_setting('statement_timeout')")
        .fetch_one(&pool)
        .await
        .map_err(Problem::internal)
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(5)).await;
    "too late"
}

impl Service for Echo {
    const NAME: &'static str = "echo";
    type Settings = ();
    type Handler = NoEvents;
    const DATABASE_SESSION: &'static [(&'static str, &'static str)] =
        &[("statement_timeout", "4321")];

    fn settings(_: &Env) -> Result<(), ConfigError> {
        Ok(())
    }

    fn migrator() -> &'static Migrator {
        &NO_MIGRATIONS
    }

    async fn build(resources: Resources, (): ()) -> Result<Parts<NoEvents>, BuildError> {
        let routes = Router::new()
            .route("/v1/greetings", post(greet))
            .route("/v1/slow", post(slow))
            .route(
                "/v1/announcements",
                post(announce).with_state(resources.pool.clone()),
            )
            .route("/v1/session", get(session).with_state(resources.pool));
        Ok(Parts {
            routes,
            handler: None,
        })
    }
}

async fn problem_of(response: reqwest::Response) -> (StatusCode, serde_json::Value) {
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json", "status {status}");
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_valid_request_is_answered_with_json() {
    let app = TestApp::spawn::<Echo>().await;
    let response = app
        .client()
        .post(app.url("/v1/greetings"))
        .json(&serde_json::json!({"name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["greeting"], "hello Ada");
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = TestApp::spawn::<Echo>().await;
    let response = app
        .client()
        .post(app.url("/v1/greetings"))
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    let (status, problem) = problem_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["code"], "malformed_request");
}

#[tokio::test]
async fn a_missing_field_is_a_422_problem() {
    let app = TestApp::spawn::<Echo>().await;
    let response = app
        .client()
        .post(app.url("/v1/greetings"))
        .json(&serde_json::json!({"nom": "Ada"}))
        .send()
        .await
        .unwrap();
    let (status, problem) = problem_of(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["code"], "validation_failed");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("name"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_wrong_content_type_is_a_415_problem() {
    let app = TestApp::spawn::<Echo>().await;
    let response = app
        .client()
        .post(app.url("/v1/greetings"))
        .body("name=Ada")
        .send()
        .await
        .unwrap();
    let (status, problem) = problem_of(response).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(problem["code"], "unsupported_media_type");
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_problem() {
    let app = TestApp::spawn_with::<Echo>(&[("HTTP_MAX_BODY_BYTES", "64")]).await;
    let name = "x".repeat(100);
    let response = app
        .client()
        .post(app.url("/v1/greetings"))
        .json(&serde_json::json!({ "name": name }))
        .send()
        .await
        .unwrap();
    let (status, problem) = problem_of(response).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problem["code"], "payload_too_large");
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let app = TestApp::spawn::<Echo>().await;
    let (status, problem) = problem_of(
        app.client()
            .get(app.url("/v1/nothing-here"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, problem) = problem_of(
        app.client()
            .get(app.url("/v1/greetings"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
}

#[tokio::test]
async fn a_request_over_its_deadline_is_a_503_problem_with_retry_after() {
    let app = TestApp::spawn_with::<Echo>(&[("HTTP_REQUEST_TIMEOUT_MS", "100")]).await;
    let response = app.client().post(app.url("/v1/slow")).send().await.unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, problem) = problem_of(response).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(problem["code"], "request_timeout");
}

#[tokio::test]
async fn the_request_id_is_kept_when_given_and_made_up_otherwise() {
    let app = TestApp::spawn::<Echo>().await;
    let given = app
        .client()
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "abc-123");
    let made_up = app.client().get(app.url("/healthz")).send().await.unwrap();
    let id = made_up.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[tokio::test]
async fn connections_start_with_the_service_s_database_session_settings() {
    let app = TestApp::spawn::<Echo>().await;

    let response = app
        .client()
        .get(app.url("/v1/session"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "4321ms");
}

#[tokio::test]
async fn probes_report_liveness_readiness_and_metrics() {
    let app = TestApp::spawn::<Echo>().await;
    let live = app.client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let ready = app.client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let report: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(report["status"], "ready");
    assert_eq!(report["database"], "up");
    app.client()
        .post(app.url("/v1/greetings"))
        .json(&serde_json::json!({"name": "Ada"}))
        .send()
        .await
        .unwrap();
    let metrics = app.client().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains(
            "http_requests_total{method=\"POST\",route=\"/v1/greetings\",status=\"200\"}"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("bus_outbox_backlog"), "{metrics}");
}

#[tokio::test]
async fn readiness_fails_while_draining_before_the_listener_closes() {
    let mut app = TestApp::spawn_with::<Echo>(&[("SHUTDOWN_PRESTOP_DELAY_MS", "3000")]).await;
    let probe = reqwest::Client::new();
    let url = app.url("/readyz");

    tokio::join!(app.stop(), async {
        six_testkit::wait_until(
            Duration::from_secs(5),
            "readiness to report draining",
            || async {
                probe
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 503)
            },
        )
        .await;
    });

    assert!(
        probe.get(&url).send().await.is_err(),
        "the listener is closed after the shutdown"
    );
}

#[tokio::test]
async fn events_published_while_handling_a_request_carry_its_trace_and_request_id() {
    let app = TestApp::spawn::<Echo>().await;
    let incoming_traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    let response = app
        .client()
        .post(app.url("/v1/announcements"))
        .header("traceparent", incoming_traceparent)
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let published: serde_json::Value = response.json().await.unwrap();
    let traceparent = published["traceparent"].as_str().unwrap();
    assert!(
        traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "same trace: {traceparent}"
    );
    assert_ne!(traceparent, incoming_traceparent, "a span of its own");
    assert_eq!(published["correlation_id"], "req-42");
}

#[tokio::test]
async fn an_event_tap_gets_each_event_the_service_published_once() {
    let app = TestApp::spawn::<Echo>().await;
    let tap = app.tap_events(&["auth.user.registered.v1"]).await;
    let mut announced = Vec::new();
    for _ in 0..3 {
        let response = app
            .client()
            .post(app.url("/v1/announcements"))
            .send()
            .await
            .unwrap();
        let published: serde_json::Value = response.json().await.unwrap();
        announced.push(
            published["event_id"]
                .as_str()
                .unwrap()
                .parse::<uuid::Uuid>()
                .unwrap(),
        );
    }

    let received = tap.published_by(&app.pool(), Duration::from_secs(10)).await;

    let mut received: Vec<uuid::Uuid> = received.iter().map(|event| event.meta().id).collect();
    received.sort();
    announced.sort();
    assert_eq!(received, announced);
}
