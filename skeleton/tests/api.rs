//! Black-box tests: events in through the bus, answers out over HTTP.

use std::time::Duration;

use six_events::{
    Envelope,
    auth::{UserDeleted, UserRegistered},
};
use six_kit::testing::TestApp;
use six_testkit::wait_until;
use uuid::Uuid;

fn registered(user_id: Uuid, display_name: &str) -> Envelope<UserRegistered> {
    Envelope::new(UserRegistered {
        user_id,
        email: format!("{user_id}@example.org"),
        display_name: display_name.to_owned(),
        registered_at: chrono::Utc::now(),
    })
}

async fn status_of(app: &TestApp, user_id: Uuid) -> u16 {
    app.client()
        .get(app.url(&format!("/v1/known-users/{user_id}")))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_registered_user_becomes_known() {
    let app = TestApp::spawn::<{{crate_name}}::App>().await;
    let user_id = Uuid::now_v7();

    app.publish(registered(user_id, "Ada Lovelace")).await;

    wait_until(
        Duration::from_secs(10),
        "the user to become known",
        || async { status_of(&app, user_id).await == 200 },
    )
    .await;
    let user: serde_json::Value = app
        .client()
        .get(app.url(&format!("/v1/known-users/{user_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["display_name"], "Ada Lovelace");
}

#[tokio::test]
async fn a_deleted_user_is_forgotten() {
    let app = TestApp::spawn::<{{crate_name}}::App>().await;
    let user_id = Uuid::now_v7();
    app.publish(registered(user_id, "Grace Hopper")).await;
    wait_until(
        Duration::from_secs(10),
        "the user to become known",
        || async { status_of(&app, user_id).await == 200 },
    )
    .await;

    app.publish(Envelope::new(UserDeleted {
        user_id,
        deleted_at: chrono::Utc::now(),
    }))
    .await;

    wait_until(
        Duration::from_secs(10),
        "the user to be forgotten",
        || async { status_of(&app, user_id).await == 404 },
    )
    .await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM known_users WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&app.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn an_unknown_user_is_a_404_problem() {
    let app = TestApp::spawn::<{{crate_name}}::App>().await;
    let response = app
        .client()
        .get(app.url(&format!("/v1/known-users/{}", Uuid::now_v7())))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn a_malformed_user_id_is_a_400_problem() {
    let app = TestApp::spawn::<{{crate_name}}::App>().await;
    let response = app
        .client()
        .get(app.url("/v1/known-users/not-a-uuid"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "malformed_request");
}
