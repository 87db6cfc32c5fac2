//! The operators' view of the delivery log: failed and pending deliveries, and a
//! failed one sent again.

mod common;

use common::{Notifier, WithWebhook, contact_joined};
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

async fn as_operator(
    notifier: &Notifier,
    method: reqwest::Method,
    path: &str,
) -> (StatusCode, Value) {
    let response = notifier
        .app
        .client()
        .request(method, notifier.app.url(path))
        .bearer_auth(notifier.issuer.service_token("operations"))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_failed_delivery_is_listed_and_an_operator_sends_it_again() {
    let WithWebhook {
        notifier,
        receiver,
        user_id,
        ..
    } = WithWebhook::start(
        &[("NOTIFIER_MAX_ATTEMPTS", "2")],
        &[StatusCode::INTERNAL_SERVER_ERROR; 2],
    )
    .await;
    notifier.publish(contact_joined(user_id, "Bob")).await;
    let failed = six_testkit::wait_for(
        std::time::Duration::from_secs(20),
        "the delivery to fail for good",
        || async {
            let (_, page) = as_operator(
                &notifier,
                reqwest::Method::GET,
                "/internal/deliveries?state=failed",
            )
            .await;
            page["deliveries"]
                .as_array()
                .filter(|list| !list.is_empty())
                .map(|list| list[0].clone())
        },
    )
    .await;
    assert_eq!(failed["channel"], "webhook");
    assert_eq!(failed["kind"], "contact_joined");
    assert_eq!(failed["user_id"], user_id.to_string());
    assert_eq!(failed["attempts"], 2);
    assert!(
        failed["last_error"].as_str().unwrap().contains("500"),
        "{failed}"
    );
    assert!(failed.get("email").is_none() && !failed.to_string().contains("@example.org"));

    let delivery_id = failed["delivery_id"].as_str().unwrap();
    let (status, retried) = as_operator(
        &notifier,
        reqwest::Method::POST,
        &format!("/internal/deliveries/{delivery_id}/retry"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(retried["state"], "pending");
    let calls = receiver.wait_for_calls(3).await;
    assert_eq!(calls[2].header("webhook-id"), delivery_id);
    notifier.wait_until_settled(2).await;
    let (_, still_failed) = as_operator(
        &notifier,
        reqwest::Method::GET,
        "/internal/deliveries?state=failed",
    )
    .await;
    assert_eq!(still_failed["deliveries"], Value::Array(Vec::new()));

    let (status, problem) = as_operator(
        &notifier,
        reqwest::Method::POST,
        &format!("/internal/deliveries/{delivery_id}/retry"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "delivery_not_failed");
}

#[tokio::test]
async fn the_operator_routes_take_service_tokens_only_and_refuse_bad_parameters() {
    let notifier = Notifier::start().await;
    let user_id = Uuid::now_v7();

    let (status, problem) = notifier.get(user_id, "/internal/deliveries").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["code"], "service_token_required");
    let (status, problem) = as_operator(
        &notifier,
        reqwest::Method::GET,
        "/internal/deliveries?state=sent&limit=0",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields = common::error_list(&problem, "field");
    assert_eq!(fields, ["state", "limit"]);
    let (status, _) = as_operator(
        &notifier,
        reqwest::Method::POST,
        &format!("/internal/deliveries/{}/retry", Uuid::now_v7()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
