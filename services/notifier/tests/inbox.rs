//! The in-app inbox over HTTP: pages, unread count, marking read, and what it
//! refuses.

mod common;

use common::{Notifier, contact_joined};
use reqwest::{Method, StatusCode};
use uuid::Uuid;

#[tokio::test]
async fn the_inbox_pages_newest_first_without_gaps_or_repeats() {
    let notifier = Notifier::start().await;
    let user_id = Uuid::now_v7();
    notifier.register(user_id, "Ada").await;
    for index in 0..4 {
        notifier
            .publish(contact_joined(user_id, &format!("Friend {index}")))
            .await;
    }
    notifier.wait_for_inbox(user_id, 5).await;

    let mut titles = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/v1/notifications?limit=2".to_owned(),
            Some(cursor) => format!("/v1/notifications?limit=2&cursor={cursor}"),
        };
        let (status, page) = notifier.get(user_id, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for entry in page["notifications"].as_array().unwrap() {
            titles.push(entry["title"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }

    assert_eq!(titles.len(), 5, "{titles:?}");
    assert_eq!(titles.last().unwrap(), "Welcome to Six Degrees");
    let mut unique = titles.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "{titles:?}");
}

#[tokio::test]
async fn entries_are_marked_read_one_by_one_or_all_at_once() {
    let notifier = Notifier::start().await;
    let user_id = Uuid::now_v7();
    notifier.register(user_id, "Ada").await;
    notifier.publish(contact_joined(user_id, "Bob")).await;
    notifier.publish(contact_joined(user_id, "Carol")).await;
    let entries = notifier.wait_for_inbox(user_id, 3).await;
    let (_, unread) = notifier
        .get(user_id, "/v1/notifications/unread-count")
        .await;
    assert_eq!(unread["unread"], 3);

    let first = entries[0]["notification_id"].as_str().unwrap();
    let (status, _) = notifier
        .send(
            Method::POST,
            user_id,
            &format!("/v1/notifications/{first}/read"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, unread) = notifier
        .get(user_id, "/v1/notifications/unread-count")
        .await;
    assert_eq!(unread["unread"], 2);
    assert_eq!(notifier.inbox(user_id).await[0]["read"], true);

    let (status, marked) = notifier
        .send(Method::POST, user_id, "/v1/notifications/read-all", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(marked["marked"], 2);
    let (_, unread) = notifier
        .get(user_id, "/v1/notifications/unread-count")
        .await;
    assert_eq!(unread["unread"], 0);
}

#[tokio::test]
async fn another_users_entry_is_not_found_and_stays_unread() {
    let notifier = Notifier::start().await;
    let owner_id = Uuid::now_v7();
    let intruder_id = Uuid::now_v7();
    notifier.register(owner_id, "Ada").await;
    notifier.register(intruder_id, "Eve").await;
    let entries = notifier.wait_for_inbox(owner_id, 1).await;
    let owners = entries[0]["notification_id"].as_str().unwrap();

    let (status, problem) = notifier
        .send(
            Method::POST,
            intruder_id,
            &format!("/v1/notifications/{owners}/read"),
            None,
        )
        .await;

    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert_eq!(notifier.inbox(owner_id).await[0]["read"], false);
    assert_eq!(
        notifier.inbox(intruder_id).await.len(),
        1,
        "only Eve's own welcome"
    );
}

#[tokio::test]
async fn bad_page_parameters_and_missing_tokens_get_clear_errors() {
    let notifier = Notifier::start().await;
    let user_id = Uuid::now_v7();
    notifier.register(user_id, "Ada").await;

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-a-cursor", "cursor"),
    ] {
        let (status, problem) = notifier
            .get(user_id, &format!("/v1/notifications?{query}"))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {problem}"
        );
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    let anonymous = notifier
        .app
        .client()
        .get(notifier.app.url("/v1/notifications"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
