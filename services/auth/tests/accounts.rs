//! Registration, the account itself, password changes and deletion.

mod common;

use std::time::Duration;

use common::{Auth, PASSWORD, problem_code, unique_email};
use reqwest::StatusCode;
use serde_json::{Value, json};
use six_events::DomainEvent;

/// Deadline for the outbox relay to publish what a request committed.
const PUBLISH_DEADLINE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn registering_normalises_the_email_returns_the_account_and_announces_it_once() {
    let auth = Auth::start().await;
    let tap = auth.app.tap_events(&["auth.user.registered.v1"]).await;
    let email = unique_email();

    let response = auth
        .post(
            "/v1/register",
            json!({"email": format!("  {}  ", email.to_uppercase()), "password": PASSWORD, "display_name": " Ada "}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let account: Value = response.json().await.unwrap();
    assert_eq!(account["email"], email.as_str());
    assert_eq!(account["display_name"], "Ada");
    assert!(account.get("password_hash").is_none());
    let user_id: uuid::Uuid = account["user_id"].as_str().unwrap().parse().unwrap();
    let published = tap.published_by(&auth.app.pool(), PUBLISH_DEADLINE).await;
    let [DomainEvent::UserRegistered(event)] = published.as_slice() else {
        panic!("expected one registration event, got {published:?}");
    };
    assert_eq!(event.data().user_id, user_id);
    assert_eq!(event.data().email, email);
    assert_eq!(event.data().display_name, "Ada");
    assert_eq!(
        event.meta().subject.as_deref(),
        Some(user_id.to_string().as_str())
    );
}

#[tokio::test]
async fn registering_an_email_twice_is_a_conflict_whatever_its_case() {
    let auth = Auth::start().await;
    let email = unique_email();
    assert_eq!(auth.register(&email).await.status(), StatusCode::CREATED);

    let again = auth.register(&email.to_uppercase()).await;

    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(problem_code(again).await, "email_taken");
}

#[tokio::test]
async fn invalid_fields_are_each_reported() {
    let auth = Auth::start().await;

    let response = auth
        .post(
            "/v1/register",
            json!({"email": "not-an-address", "password": "short", "display_name": ""}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["/email", "/password", "/display_name"]);
}

#[tokio::test]
async fn passwords_of_more_than_1024_characters_are_refused() {
    let auth = Auth::start().await;

    let response = auth
        .post(
            "/v1/register",
            json!({"email": unique_email(), "password": "x".repeat(1025), "display_name": "Ada"}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn every_json_endpoint_answers_malformed_incomplete_and_oversized_bodies_with_problems() {
    let auth = Auth::start_with(&[("HTTP_MAX_BODY_BYTES", "2048")]).await;
    let session = auth.session(&unique_email()).await;
    let access_token = session["access_token"].as_str().unwrap();
    let client = auth.app.client();
    let endpoints = [
        (reqwest::Method::POST, "/v1/register"),
        (reqwest::Method::POST, "/v1/login"),
        (reqwest::Method::POST, "/v1/refresh"),
        (reqwest::Method::POST, "/v1/logout"),
        (reqwest::Method::PUT, "/v1/me/password"),
        (reqwest::Method::DELETE, "/v1/me"),
    ];
    let send = |method: &reqwest::Method, path: &str, body: String| {
        client
            .request(method.clone(), auth.url(path))
            .bearer_auth(access_token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    for (method, path) in &endpoints {
        let malformed = send(method, path, "{\"email\": ".to_owned()).await.unwrap();
        let incomplete = send(method, path, "{}".to_owned()).await.unwrap();
        let oversized = send(
            method,
            path,
            json!({"padding": "x".repeat(4096)}).to_string(),
        )
        .await
        .unwrap();

        assert_eq!(
            malformed.status(),
            StatusCode::BAD_REQUEST,
            "{method} {path}"
        );
        assert_eq!(
            problem_code(malformed).await,
            "malformed_request",
            "{method} {path}"
        );
        assert_eq!(
            incomplete.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {path}"
        );
        assert_eq!(
            problem_code(incomplete).await,
            "validation_failed",
            "{method} {path}"
        );
        assert_eq!(
            oversized.status(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "{method} {path}"
        );
        assert_eq!(
            problem_code(oversized).await,
            "payload_too_large",
            "{method} {path}"
        );
    }
    // The session survived every bad request.
    assert_eq!(auth.get_me(access_token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_account_is_shown_to_its_owner_with_an_access_token() {
    let auth = Auth::start().await;
    let email = unique_email();
    let session = auth.session(&email).await;

    let response = auth.get_me(session["access_token"].as_str().unwrap()).await;

    assert_eq!(response.status(), StatusCode::OK);
    let account: Value = response.json().await.unwrap();
    assert_eq!(account["email"], email.as_str());
}

#[tokio::test]
async fn changing_the_password_ends_every_session_and_the_new_password_logs_in() {
    let auth = Auth::start().await;
    let email = unique_email();
    let session = auth.session(&email).await;
    let access_token = session["access_token"].as_str().unwrap();

    let changed = auth
        .app
        .client()
        .put(auth.url("/v1/me/password"))
        .bearer_auth(access_token)
        .json(&json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}))
        .send()
        .await
        .unwrap();

    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let refreshed = auth
        .refresh(session["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(refreshed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        auth.login(&email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        auth.login(&email, "a brand new passphrase").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one() {
    let auth = Auth::start().await;
    let session = auth.session(&unique_email()).await;

    let refused = auth
        .app
        .client()
        .put(auth.url("/v1/me/password"))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .json(&json!({"current_password": "not the password", "new_password": "a brand new passphrase"}))
        .send()
        .await
        .unwrap();

    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem_code(refused).await, "invalid_credentials");
}

#[tokio::test]
async fn deleting_the_account_leaves_no_row_of_the_user_and_announces_it_once() {
    let auth = Auth::start().await;
    let tap = auth.app.tap_events(&["auth.user.deleted.v1"]).await;
    let email = unique_email();
    let session = auth.session(&email).await;
    let user_id: uuid::Uuid = {
        let me: Value = auth
            .get_me(session["access_token"].as_str().unwrap())
            .await
            .json()
            .await
            .unwrap();
        me["user_id"].as_str().unwrap().parse().unwrap()
    };
    // A failed login leaves a throttling row for the address.
    auth.login(&email, "not the password").await;

    let deleted = auth
        .app
        .client()
        .delete(auth.url("/v1/me"))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();

    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let pool = auth.app.pool();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' \
           AND table_name NOT IN ('_sqlx_migrations', '_six_bus_migrations')",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for table in tables {
        // Every row as text: neither the id nor the e-mail (or its throttle digest)
        // may appear anywhere, except the deletion event itself.
        let sql = format!(
            "SELECT count(*) FROM {table} t WHERE (t::text ILIKE $1 OR t::text ILIKE $2 OR t::text ILIKE $3) \
             AND NOT (t::text ILIKE '%auth.user.deleted.v1%')"
        );
        let digest = six_auth_digest(&email);
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(format!("%{user_id}%"))
            .bind(format!("%{email}%"))
            .bind(format!("%{digest}%"))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(rows, 0, "{table} still holds the user");
    }
    let published = tap.published_by(&pool, PUBLISH_DEADLINE).await;
    let [DomainEvent::UserDeleted(event)] = published.as_slice() else {
        panic!("expected one deletion event, got {published:?}");
    };
    assert_eq!(event.data().user_id, user_id);
    assert_eq!(
        auth.login(&email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// The throttle key digest auth keeps for an e-mail (SHA-256, hex).
fn six_auth_digest(email: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(email.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
