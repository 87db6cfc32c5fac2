//! Events in through the bus; e-mails out to a real SMTP server (aiosmtpd) and
//! entries in the in-app inbox.

mod common;

use common::{
    Notifier, PUBLIC_URL, address_of, contact_joined, deleted, import_completed, import_failed,
    registered,
};
use notifier::Triggers;
use reqwest::StatusCode;
use serde_json::json;
use six_bus::{Handler, IncomingEvent};
use six_events::DomainEvent;
use uuid::Uuid;

#[tokio::test]
async fn a_registration_redelivered_sends_one_welcome_email_and_one_inbox_entry() {
    let notifier = Notifier::start().await;
    let user_id = Uuid::now_v7();
    let registration = registered(user_id, "Ada Lovelace");

    notifier.publish(registration.clone()).await;
    notifier.publish_again(registration).await;
    notifier.wait_until_settled(2).await;

    let mails = notifier.smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let welcome = &mails[0];
    assert_eq!(welcome.rcpt_tos, vec![address_of(user_id)]);
    assert!(welcome.to.contains("Ada Lovelace"), "{}", welcome.to);
    assert_eq!(welcome.subject, "Welcome to Six Degrees");
    assert_eq!(welcome.content_type, "multipart/alternative");
    assert!(
        welcome
            .text
            .as_deref()
            .unwrap()
            .contains("Hello Ada Lovelace")
    );
    assert!(
        welcome
            .html
            .as_deref()
            .unwrap()
            .contains("Hello Ada Lovelace")
    );
    let inbox = notifier.inbox(user_id).await;
    assert_eq!(inbox.len(), 1, "{inbox:#?}");
    assert_eq!(inbox[0]["kind"], "welcome");
    assert_eq!(inbox[0]["read"], false);
}

#[tokio::test]
async fn every_email_has_a_stable_message_id_a_date_and_a_one_click_unsubscribe_link() {
    let notifier = Notifier::start().await;
    let user_id = Uuid::now_v7();

    notifier.register(user_id, "Ada").await;
    let mails = notifier.smtp.wait_for_messages(1).await;

    let mail = &mails[0];
    let delivery_id: Uuid = sqlx::query_scalar("SELECT delivery_id FROM deliveries")
        .fetch_one(&notifier.app.pool())
        .await
        .unwrap();
    assert_eq!(mail.message_id, format!("<{delivery_id}@six-degrees.test>"));
    assert!(
        !mail.date.is_empty() && mail.date != "None",
        "{}",
        mail.date
    );
    assert_eq!(mail.list_unsubscribe_post, "List-Unsubscribe=One-Click");
    let link = mail
        .list_unsubscribe
        .strip_prefix('<')
        .and_then(|link| link.strip_suffix('>'))
        .expect("the header is <URL>");
    assert!(
        link.starts_with(&format!("{PUBLIC_URL}/v1/unsubscribe?token=")),
        "{link}"
    );
    assert!(mail.text.as_deref().unwrap().contains(link));
}

#[tokio::test]
async fn import_summaries_carry_the_counts_and_a_link_to_the_rejected_rows() {
    let notifier = Notifier::start().await;
    let user_id = Uuid::now_v7();
    notifier.register(user_id, "Ada").await;
    let completed = import_completed(user_id, 40, 2);
    let import_id = completed.data().import_id;

    notifier.publish(completed).await;
    notifier
        .publish(import_failed(user_id, "the file is not a CSV file"))
        .await;
    let mails = notifier.smtp.wait_for_messages(3).await;

    let summary = mails
        .iter()
        .find(|mail| mail.subject == "Your import finished: 40 contacts")
        .expect("the summary of the completed import");
    let text = summary.text.as_deref().unwrap();
    assert!(text.contains("40 contacts imported from 42 rows"), "{text}");
    assert!(
        text.contains(&format!("{PUBLIC_URL}/v1/imports/{import_id}/rejects.csv")),
        "{text}"
    );
    let failure = mails
        .iter()
        .find(|mail| mail.subject == "Your import failed")
        .expect("the summary of the failed import");
    assert!(
        failure
            .text
            .as_deref()
            .unwrap()
            .contains("the file is not a CSV file")
    );
    let mut kinds: Vec<String> = notifier
        .inbox(user_id)
        .await
        .iter()
        .map(|entry| entry["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["import_completed", "import_failed", "welcome"]);
}

#[tokio::test]
async fn a_contact_who_joined_is_announced_with_the_name_escaped_in_the_html() {
    let notifier = Notifier::start().await;
    let owner_id = Uuid::now_v7();
    notifier.register(owner_id, "Ada").await;
    let hostile = "<img src=x onerror=alert(1)> & Bob";

    notifier.publish(contact_joined(owner_id, hostile)).await;
    let mails = notifier.smtp.wait_for_messages(2).await;

    let joined = mails
        .iter()
        .find(|mail| mail.subject.ends_with("joined Six Degrees"))
        .expect("the announcement");
    let html = joined.html.as_deref().unwrap();
    assert!(!html.contains("<img"), "{html}");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt; &amp; Bob"),
        "{html}"
    );
    assert!(joined.text.as_deref().unwrap().contains(hostile));
}

#[tokio::test]
async fn an_oversized_name_is_cut_and_the_email_still_goes_out() {
    let notifier = Notifier::start().await;
    let owner_id = Uuid::now_v7();
    notifier.register(owner_id, "Ada").await;

    notifier
        .publish(contact_joined(owner_id, &"X".repeat(100_000)))
        .await;
    let mails = notifier.smtp.wait_for_messages(2).await;

    let joined = mails
        .iter()
        .find(|mail| mail.subject.ends_with("joined Six Degrees"))
        .expect("the announcement");
    assert!(joined.subject.chars().count() < 150, "{}", joined.subject);
    assert!(joined.text.as_deref().unwrap().len() < 2_000);
    let inbox = notifier.inbox(owner_id).await;
    assert!(
        inbox[0]["title"]
            .as_str()
            .unwrap()
            .ends_with("\u{2026} joined Six Degrees")
    );
}

#[tokio::test]
async fn events_for_users_the_notifier_never_saw_raise_nothing() {
    let notifier = Notifier::start().await;
    let stranger = Uuid::now_v7();

    notifier.publish(contact_joined(stranger, "Bob")).await;
    notifier.wait_until_settled(1).await;

    assert_eq!(
        notifier.count("SELECT count(*) FROM notifications").await,
        0
    );
    assert!(notifier.smtp.messages().is_empty());
}

#[tokio::test]
async fn preferences_choose_the_channels_of_each_kind() {
    let notifier = Notifier::start().await;
    let user_id = Uuid::now_v7();
    notifier.register(user_id, "Ada").await;
    notifier.smtp.wait_for_messages(1).await;

    let (status, preferences) = notifier
        .put_preferences(
            user_id,
            json!({ "kinds": { "contact_joined": ["in_app"], "import_completed": [] } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preferences}");
    assert_eq!(preferences["kinds"]["contact_joined"], json!(["in_app"]));
    assert_eq!(preferences["kinds"]["import_completed"], json!([]));
    assert_eq!(
        preferences["kinds"]["import_failed"],
        json!(["email", "in_app", "webhook"])
    );

    notifier.publish(contact_joined(user_id, "Bob")).await;
    notifier.publish(import_completed(user_id, 5, 0)).await;
    notifier.publish(import_failed(user_id, "broken")).await;
    notifier.wait_until_settled(4).await;

    let subjects: Vec<String> = notifier
        .smtp
        .messages()
        .into_iter()
        .map(|mail| mail.subject)
        .collect();
    assert_eq!(subjects, ["Welcome to Six Degrees", "Your import failed"]);
    let kinds: Vec<String> = notifier
        .inbox(user_id)
        .await
        .iter()
        .map(|entry| entry["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert!(!kinds.contains(&"import_completed".to_owned()), "{kinds:?}");
}

#[tokio::test]
async fn preferences_refuse_unknown_kinds_and_channels_by_field() {
    let notifier = Notifier::start().await;
    let user_id = Uuid::now_v7();
    notifier.register(user_id, "Ada").await;

    let (status, problem) = notifier
        .put_preferences(
            user_id,
            json!({ "kinds": { "birthday": ["email"], "welcome": ["sms"] } }),
        )
        .await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields = common::error_list(&problem, "field");
    assert_eq!(fields, ["/kinds/birthday", "/kinds/welcome/0"]);
    let (status, _) = notifier
        .put_preferences(Uuid::now_v7(), json!({ "kinds": {} }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_unsubscribe_link_turns_that_kind_of_email_off_and_a_changed_link_does_nothing() {
    let notifier = Notifier::start().await;
    let user_id = Uuid::now_v7();
    notifier.register(user_id, "Ada").await;
    let welcome = notifier.smtp.wait_for_messages(1).await.remove(0);
    let link = welcome
        .list_unsubscribe
        .trim_matches(|c| c == '<' || c == '>');
    let local = link.replacen(PUBLIC_URL, &notifier.app.url(""), 1);
    let forged = format!("{}x", local.trim_end_matches(|c: char| c != '.'));

    let shown = notifier.app.client().get(&local).send().await.unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    let refused = notifier.app.client().post(&forged).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let (_, before) = notifier.get(user_id, "/v1/notification-preferences").await;
    assert_eq!(
        before["kinds"]["welcome"],
        json!(["email", "in_app", "webhook"]),
        "GET and a forged link change nothing"
    );

    let one_click = notifier
        .app
        .client()
        .post(&local)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(one_click.status(), StatusCode::OK);
    let (_, after) = notifier.get(user_id, "/v1/notification-preferences").await;
    assert_eq!(after["kinds"]["welcome"], json!(["in_app", "webhook"]));
    assert_eq!(
        after["kinds"]["contact_joined"],
        json!(["email", "in_app", "webhook"])
    );
}

#[tokio::test]
async fn an_outage_of_the_mail_server_delays_every_email_and_sends_each_once() {
    let mut notifier = Notifier::start().await;
    notifier.smtp.stop().await;
    let users: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();

    for user_id in &users {
        notifier.publish(registered(*user_id, "Ada")).await;
    }
    common::wait_for_failed_attempts(&notifier, users.len()).await;
    notifier.smtp.start_again().await;
    notifier.wait_until_settled(users.len() as u64).await;

    let mut recipients: Vec<String> = notifier
        .smtp
        .messages()
        .into_iter()
        .flat_map(|mail| mail.rcpt_tos)
        .collect();
    recipients.sort();
    let mut expected: Vec<String> = users.iter().map(|user_id| address_of(*user_id)).collect();
    expected.sort();
    assert_eq!(recipients, expected);
    assert_eq!(
        notifier
            .count("SELECT count(*) FROM deliveries WHERE state = 'sent' AND attempts > 1")
            .await,
        users.len() as i64,
        "every e-mail was tried during the outage"
    );
}

#[tokio::test]
async fn a_deleted_account_leaves_no_row_about_the_user_and_gets_nothing_more() {
    let notifier = Notifier::start().await;
    let user_id = Uuid::now_v7();
    let other_id = Uuid::now_v7();
    notifier.register(user_id, "Ada").await;
    notifier.register(other_id, "Bob").await;
    notifier
        .put_preferences(user_id, json!({ "kinds": { "welcome": ["in_app"] } }))
        .await;
    notifier.publish(import_completed(user_id, 3, 0)).await;
    notifier.smtp.wait_for_messages(3).await;

    notifier.publish(deleted(user_id)).await;
    notifier.publish(contact_joined(user_id, "Carol")).await;
    notifier.wait_until_settled(5).await;

    let about_user: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM recipients WHERE user_id = $1) \
              + (SELECT count(*) FROM channel_preferences WHERE user_id = $1) \
              + (SELECT count(*) FROM notifications WHERE user_id = $1) \
              + (SELECT count(*) FROM deliveries d JOIN notifications n USING (notification_id) WHERE n.user_id = $1) \
              + (SELECT count(*) FROM deliveries WHERE notification_id NOT IN (SELECT notification_id FROM notifications))",
    )
    .bind(user_id)
    .fetch_one(&notifier.app.pool())
    .await
    .unwrap();
    assert_eq!(about_user, 0);
    let mentions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT to_jsonb(r)::text AS row FROM recipients r \
          UNION ALL SELECT to_jsonb(n)::text FROM notifications n \
          UNION ALL SELECT to_jsonb(d)::text FROM deliveries d) rows \
         WHERE row LIKE '%' || $1 || '%' OR row LIKE '%' || $2 || '%'",
    )
    .bind(user_id.to_string())
    .bind(address_of(user_id))
    .fetch_one(&notifier.app.pool())
    .await
    .unwrap();
    assert_eq!(mentions, 0);
    assert_eq!(
        notifier.count("SELECT count(*) FROM recipients").await,
        1,
        "Bob stays"
    );
    let to_user = notifier
        .smtp
        .messages()
        .iter()
        .filter(|mail| mail.rcpt_tos == vec![address_of(user_id)])
        .count();
    assert_eq!(
        to_user, 2,
        "the welcome and the import summary, nothing after the deletion"
    );
}

#[tokio::test]
async fn events_handled_together_raise_what_they_would_one_by_one() {
    // Arrange: Ann is known; Bob registers in the batch, after a contact of his
    // joined (one by one, that notice finds no recipient and is dropped); Cy
    // registers and is deleted in it.
    let notifier = Notifier::start().await;
    let (ann, bob, cy) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    notifier.register(ann, "Ann").await;
    let events: Vec<DomainEvent> = vec![
        contact_joined(bob, "before Bob").into(),
        contact_joined(ann, "for Ann").into(),
        registered(bob, "Bob").into(),
        registered(cy, "Cy").into(),
        import_completed(bob, 3, 0).into(),
        import_completed(cy, 1, 0).into(),
        deleted(cy).into(),
        contact_joined(ann, "for Ann again").into(),
    ];
    let incoming: Vec<IncomingEvent> = events.iter().map(IncomingEvent::new).collect();

    // Act: the whole batch in one transaction, as the consumer hands it over.
    let pool = notifier.app.pool();
    let mut transaction = pool.begin().await.unwrap();
    Triggers
        .handle_all(&incoming, &mut transaction)
        .await
        .unwrap();
    transaction.commit().await.unwrap();

    // Assert
    let kinds_of = |user: Uuid| {
        let pool = pool.clone();
        async move {
            let kinds: Vec<String> = sqlx::query_scalar(
                "SELECT kind FROM notifications WHERE user_id = $1 ORDER BY notification_id",
            )
            .bind(user)
            .fetch_all(&pool)
            .await
            .unwrap();
            kinds
        }
    };
    assert_eq!(
        kinds_of(ann).await,
        ["welcome", "contact_joined", "contact_joined"]
    );
    assert_eq!(kinds_of(bob).await, ["welcome", "import_completed"]);
    assert!(kinds_of(cy).await.is_empty());
    let recipients: Vec<Uuid> =
        sqlx::query_scalar("SELECT user_id FROM recipients ORDER BY user_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(recipients, [ann, bob]);
    let email_deliveries: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM deliveries JOIN notifications USING (notification_id) \
         WHERE channel = 'email' AND notifications.user_id = ANY($1)",
    )
    .bind([ann, bob])
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(email_deliveries, 5, "an e-mail for each notification");
}
