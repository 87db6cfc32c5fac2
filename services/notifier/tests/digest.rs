//! The daily digest: e-mails held until the user's local hour, then sent once as
//! one message; released one by one when the digest is turned off.

mod common;

use chrono::Timelike;
use common::{Notifier, PUBLIC_URL, contact_joined, import_completed};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// Digests are looked for every 100 ms in these tests.
const FAST_DIGESTS: [(&str, &str); 1] = [("NOTIFIER_DIGEST_INTERVAL_MS", "100")];

/// A time zone whose local hour is `hour` now (`Etc/GMT-N` is UTC+N; the zones
/// run from UTC-12 to UTC+14, so every hour is somewhere).
fn zone_where_it_is(hour: i32) -> String {
    let utc_hour = chrono::Utc::now().hour() as i32;
    let mut offset = hour - utc_hour;
    if offset > 14 {
        offset -= 24;
    } else if offset < -12 {
        offset += 24;
    }
    match offset {
        0 => "Etc/UTC".to_owned(),
        east if east > 0 => format!("Etc/GMT-{east}"),
        west => format!("Etc/GMT+{}", -west),
    }
}

async fn set_digest(notifier: &Notifier, user_id: Uuid, digest: Value) -> Value {
    let (status, preferences) = notifier
        .put_preferences(user_id, json!({ "email_digest": digest }))
        .await;
    assert_eq!(status, StatusCode::OK, "{preferences}");
    preferences
}

#[tokio::test]
async fn a_digest_holds_the_days_emails_until_the_local_hour_and_sends_each_once() {
    let notifier = Notifier::start_with(&FAST_DIGESTS).await;
    let user_id = Uuid::now_v7();
    notifier.register(user_id, "Ada").await;
    notifier.smtp.wait_for_messages(1).await;
    // It is noon there; the digest is at 23:00.
    let zone = zone_where_it_is(12);
    let preferences =
        set_digest(&notifier, user_id, json!({ "hour": 23, "time_zone": zone })).await;
    assert_eq!(
        preferences["email_digest"],
        json!({ "hour": 23, "time_zone": zone })
    );

    notifier.publish(contact_joined(user_id, "Bob")).await;
    notifier.publish(contact_joined(user_id, "Carol")).await;
    notifier.publish(import_completed(user_id, 7, 0)).await;
    notifier.wait_until_settled(4).await;
    assert_eq!(
        notifier.smtp.messages().len(),
        1,
        "only the welcome, sent before"
    );
    assert_eq!(
        notifier.inbox(user_id).await.len(),
        4,
        "the inbox does not wait"
    );
    assert_eq!(
        notifier
            .count("SELECT count(*) FROM deliveries WHERE state = 'held'")
            .await,
        3
    );

    // Now the digest hour is this one: due at once.
    set_digest(&notifier, user_id, json!({ "hour": 12, "time_zone": zone })).await;
    let mails = notifier.smtp.wait_for_messages(2).await;

    let digest = &mails[1];
    assert_eq!(digest.subject, "Your day on Six Degrees: 3 notifications");
    let text = digest.text.as_deref().unwrap();
    for item in [
        "Bob joined Six Degrees",
        "Carol joined Six Degrees",
        "Your import finished: 7 contacts",
    ] {
        assert_eq!(text.matches(item).count(), 1, "{item} once in:\n{text}");
    }
    assert!(
        digest.list_unsubscribe.contains(".all."),
        "{}",
        digest.list_unsubscribe
    );
    assert_eq!(
        notifier
            .count("SELECT count(*) FROM deliveries WHERE state = 'digested'")
            .await,
        3
    );

    // The day's digest is out: what comes now waits for tomorrow's.
    notifier.publish(contact_joined(user_id, "Dave")).await;
    notifier.wait_until_settled(5).await;
    assert_eq!(
        notifier
            .count("SELECT count(*) FROM deliveries WHERE state = 'held'")
            .await,
        1
    );
    assert_eq!(notifier.count("SELECT count(*) FROM digests").await, 1);

    // The digest's link stops every e-mail, and what was held with it.
    let link = digest
        .list_unsubscribe
        .trim_matches(|c| c == '<' || c == '>');
    let local = link.replacen(PUBLIC_URL, &notifier.app.url(""), 1);
    let stopped = notifier.app.client().post(&local).send().await.unwrap();
    assert_eq!(stopped.status(), StatusCode::OK);
    let (_, preferences) = notifier.get(user_id, "/v1/notification-preferences").await;
    for (kind, channels) in preferences["kinds"].as_object().unwrap() {
        assert!(
            !channels.as_array().unwrap().contains(&json!("email")),
            "{kind}: {channels}"
        );
    }
    assert_eq!(
        notifier
            .count("SELECT count(*) FROM deliveries WHERE state = 'held'")
            .await,
        0
    );
    assert_eq!(notifier.smtp.messages().len(), 2);
}

#[tokio::test]
async fn turning_the_digest_off_sends_what_it_held_one_by_one() {
    let notifier = Notifier::start_with(&FAST_DIGESTS).await;
    let user_id = Uuid::now_v7();
    notifier.register(user_id, "Ada").await;
    notifier.smtp.wait_for_messages(1).await;
    set_digest(
        &notifier,
        user_id,
        json!({ "hour": 23, "time_zone": zone_where_it_is(12) }),
    )
    .await;
    notifier.publish(contact_joined(user_id, "Bob")).await;
    notifier.publish(contact_joined(user_id, "Carol")).await;
    notifier.wait_until_settled(3).await;
    assert_eq!(notifier.smtp.messages().len(), 1);

    let preferences = set_digest(&notifier, user_id, Value::Null).await;
    assert_eq!(preferences["email_digest"], Value::Null);
    let mails = notifier.smtp.wait_for_messages(3).await;

    let mut subjects: Vec<&str> = mails[1..]
        .iter()
        .map(|mail| mail.subject.as_str())
        .collect();
    subjects.sort_unstable();
    assert_eq!(
        subjects,
        ["Bob joined Six Degrees", "Carol joined Six Degrees"]
    );
    assert_eq!(notifier.count("SELECT count(*) FROM digests").await, 0);
}

#[tokio::test]
async fn a_digest_hour_or_time_zone_that_does_not_exist_is_refused_by_field() {
    let notifier = Notifier::start().await;
    let user_id = Uuid::now_v7();
    notifier.register(user_id, "Ada").await;

    let (status, problem) = notifier
        .put_preferences(
            user_id,
            json!({ "email_digest": { "hour": 24, "time_zone": "Mars/Olympus_Mons" } }),
        )
        .await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let codes = common::error_list(&problem, "code");
    assert_eq!(codes, ["invalid_hour", "unknown_time_zone"]);
    let (_, preferences) = notifier.get(user_id, "/v1/notification-preferences").await;
    assert_eq!(preferences["email_digest"], Value::Null);
}
