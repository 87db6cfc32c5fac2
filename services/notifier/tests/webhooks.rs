//! Webhooks: registration and what it refuses, signed calls verified by the
//! Standard Webhooks reference library, retries, disabling, secret rotation.

mod common;

use std::time::Duration;

use common::{
    LOCAL_WEBHOOKS, Notifier, WithWebhook, contact_joined,
    receiver::{Receiver, verify_with_reference_library},
};
use reqwest::{Method, StatusCode};
use serde_json::json;
use six_testkit::wait_until;
use uuid::Uuid;

#[tokio::test]
async fn a_redelivered_event_is_posted_once_with_a_signature_the_reference_library_verifies() {
    let WithWebhook {
        notifier,
        receiver,
        user_id,
        secret,
        ..
    } = WithWebhook::start(&[], &[]).await;
    let joined = contact_joined(user_id, "Bob");

    notifier.publish(joined.clone()).await;
    notifier.publish_again(joined).await;
    notifier.wait_until_settled(3).await;

    let calls = receiver.calls();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    let call = &calls[0];
    let payload = verify_with_reference_library(call, &secret)
        .await
        .expect("the signature verifies");
    assert_eq!(payload["type"], "contact_joined");
    assert_eq!(payload["data"]["title"], "Bob joined Six Degrees");
    assert_eq!(payload["data"]["details"]["display_name"], "Bob");
    let delivery_id: Uuid =
        sqlx::query_scalar("SELECT delivery_id FROM deliveries WHERE channel = 'webhook'")
            .fetch_one(&notifier.app.pool())
            .await
            .unwrap();
    assert_eq!(call.header("webhook-id"), delivery_id.to_string());
    let other_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert!(
        verify_with_reference_library(call, other_secret)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn an_endpoint_failing_then_recovering_gets_the_message_once_with_one_id() {
    let failing = [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::BAD_GATEWAY,
    ];
    let WithWebhook {
        notifier,
        receiver,
        user_id,
        secret,
        ..
    } = WithWebhook::start(&[], &failing).await;

    notifier.publish(contact_joined(user_id, "Bob")).await;
    let calls = receiver.wait_for_calls(4).await;
    notifier.wait_until_settled(2).await;

    assert_eq!(
        receiver.calls().len(),
        4,
        "three failures, then one success"
    );
    assert!(
        calls
            .iter()
            .all(|call| call.header("webhook-id") == calls[0].header("webhook-id"))
    );
    verify_with_reference_library(&calls[3], &secret)
        .await
        .expect("the delivered call verifies");
    let (state, attempts): (String, i32) =
        sqlx::query_as("SELECT state, attempts FROM deliveries WHERE channel = 'webhook'")
            .fetch_one(&notifier.app.pool())
            .await
            .unwrap();
    assert_eq!((state.as_str(), attempts), ("sent", 4));
    let (_, endpoints) = notifier.get(user_id, "/v1/webhooks").await;
    assert_eq!(endpoints["endpoints"][0]["consecutive_failures"], 0);
}

#[tokio::test]
async fn an_endpoint_failing_too_often_is_disabled_with_an_inbox_notice() {
    let WithWebhook {
        notifier,
        receiver,
        user_id,
        ..
    } = WithWebhook::start(
        &[("NOTIFIER_WEBHOOK_DISABLE_AFTER", "3")],
        &[StatusCode::INTERNAL_SERVER_ERROR; 10],
    )
    .await;

    notifier.publish(contact_joined(user_id, "Bob")).await;
    let inbox = wait_for_kind(&notifier, user_id, "webhook_disabled").await;

    assert!(
        inbox["body"]
            .as_str()
            .unwrap()
            .contains("failed 3 times in a row"),
        "{inbox}"
    );
    assert_eq!(receiver.calls().len(), 3);
    let (_, endpoints) = notifier.get(user_id, "/v1/webhooks").await;
    assert_eq!(endpoints["endpoints"][0]["enabled"], false);
    assert!(
        endpoints["endpoints"][0]["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("500")
    );
    let failed = notifier
        .count("SELECT count(*) FROM deliveries WHERE channel = 'webhook' AND state = 'failed'")
        .await;
    assert_eq!(failed, 1);

    notifier.publish(contact_joined(user_id, "Carol")).await;
    wait_for_inbox_title(&notifier, user_id, "Carol joined Six Degrees").await;
    assert_eq!(
        receiver.calls().len(),
        3,
        "nothing is sent to a disabled endpoint"
    );
}

#[tokio::test]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let WithWebhook {
        notifier,
        receiver,
        user_id,
        ..
    } = WithWebhook::start(&[], &[StatusCode::FOUND]).await;

    notifier.publish(contact_joined(user_id, "Bob")).await;
    let calls = receiver.wait_for_calls(2).await;

    assert_eq!(calls[0].path, "/hooks");
    assert_eq!(
        calls[1].path, "/hooks",
        "the retry goes to the registered URL, not to /moved"
    );
    assert!(receiver.calls().iter().all(|call| call.path != "/moved"));
}

#[tokio::test]
async fn after_a_rotation_calls_are_signed_with_both_secrets_until_the_old_one_expires() {
    let WithWebhook {
        notifier,
        receiver,
        user_id,
        endpoint_id,
        secret: old_secret,
        ..
    } = WithWebhook::start(&[], &[]).await;

    let (status, rotated) = notifier
        .send(
            Method::POST,
            user_id,
            &format!("/v1/webhooks/{endpoint_id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap();
    assert_ne!(new_secret, old_secret);
    notifier.publish(contact_joined(user_id, "Bob")).await;
    let calls = receiver.wait_for_calls(1).await;

    assert_eq!(calls[0].header("webhook-signature").split(' ').count(), 2);
    verify_with_reference_library(&calls[0], &old_secret)
        .await
        .expect("verifies with the old secret");
    verify_with_reference_library(&calls[0], new_secret)
        .await
        .expect("verifies with the new secret");

    sqlx::query("UPDATE webhook_secrets SET expires_at = now() WHERE expires_at IS NOT NULL")
        .execute(&notifier.app.pool())
        .await
        .unwrap();
    notifier.publish(contact_joined(user_id, "Carol")).await;
    let calls = receiver.wait_for_calls(2).await;
    assert_eq!(calls[1].header("webhook-signature").split(' ').count(), 1);
    assert!(
        verify_with_reference_library(&calls[1], &old_secret)
            .await
            .is_err()
    );
    verify_with_reference_library(&calls[1], new_secret)
        .await
        .expect("verifies with the new secret");
}

#[tokio::test]
async fn registration_refuses_urls_that_are_malformed_plain_http_or_private() {
    let notifier = Notifier::start().await;
    let user_id = Uuid::now_v7();
    notifier.register(user_id, "Ada").await;
    let too_long = format!("https://example.org/{}", "a".repeat(2048));

    for (url, code) in [
        ("not a url", "invalid_url"),
        ("http://hooks.example.org/in", "https_required"),
        ("ftp://hooks.example.org/in", "https_required"),
        ("https://127.0.0.1/in", "url_refused"),
        ("https://10.1.2.3/in", "url_refused"),
        ("https://169.254.169.254/latest/meta-data", "url_refused"),
        ("https://[::1]/in", "url_refused"),
        ("https://user:secret@hooks.example.org/in", "url_refused"),
        ("https://localhost/in", "private_address"),
        (too_long.as_str(), "url_too_long"),
    ] {
        let (status, problem) = notifier
            .send(
                Method::POST,
                user_id,
                "/v1/webhooks",
                Some(json!({ "url": url, "kinds": ["welcome"] })),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {problem}");
        assert_eq!(problem["errors"][0]["code"], code, "{url}: {problem}");
    }
    let (status, problem) = notifier
        .send(
            Method::POST,
            user_id,
            "/v1/webhooks",
            Some(json!({ "url": "https://127.0.0.1/", "kinds": ["birthday"] })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let codes = common::error_list(&problem, "code");
    assert_eq!(codes, ["url_refused", "unknown_kind"]);
    assert_eq!(
        notifier
            .count("SELECT count(*) FROM webhook_endpoints")
            .await,
        0
    );
}

#[tokio::test]
async fn a_user_may_register_only_so_many_endpoints_and_only_their_own_are_listed() {
    let mut vars = LOCAL_WEBHOOKS.to_vec();
    vars.push(("NOTIFIER_WEBHOOKS_PER_USER", "1"));
    let notifier = Notifier::start_with(&vars).await;
    let receiver = Receiver::start().await;
    let user_id = Uuid::now_v7();
    let other_id = Uuid::now_v7();
    notifier.register(user_id, "Ada").await;
    notifier.register(other_id, "Eve").await;
    let (endpoint_id, _) = notifier
        .register_webhook(user_id, &receiver.url("/one"), &["welcome"])
        .await;

    let (status, problem) = notifier
        .send(
            Method::POST,
            user_id,
            "/v1/webhooks",
            Some(json!({ "url": receiver.url("/two"), "kinds": ["welcome"] })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "too_many_webhooks");
    let (_, listed) = notifier.get(other_id, "/v1/webhooks").await;
    assert_eq!(listed["endpoints"], json!([]));
    assert!(listed.to_string().find("secret").is_none());
    let (status, _) = notifier
        .send(
            Method::DELETE,
            other_id,
            &format!("/v1/webhooks/{endpoint_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another user's endpoint");
    let (status, _) = notifier
        .send(
            Method::DELETE,
            user_id,
            &format!("/v1/webhooks/{endpoint_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        notifier.count("SELECT count(*) FROM webhook_secrets").await,
        0
    );
}

async fn wait_for_kind(notifier: &Notifier, user_id: Uuid, kind: &str) -> serde_json::Value {
    six_testkit::wait_for(
        Duration::from_secs(30),
        &format!("a `{kind}` entry in the inbox"),
        || async {
            notifier
                .inbox(user_id)
                .await
                .into_iter()
                .find(|entry| entry["kind"] == kind)
        },
    )
    .await
}

async fn wait_for_inbox_title(notifier: &Notifier, user_id: Uuid, title: &str) {
    wait_until(
        Duration::from_secs(30),
        &format!("`{title}` in the inbox"),
        || async {
            notifier
                .inbox(user_id)
                .await
                .iter()
                .any(|entry| entry["title"] == title)
        },
    )
    .await;
}
