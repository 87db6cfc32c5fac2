//! The operator commands of the binary: `migrate` and `parked list|replay|purge`.

mod common;

use std::time::Duration;

use common::{registered, run, serve};
use six_events::{Envelope, auth::UserRegistered};
use six_testkit::{TestDatabase, TestVhost, wait_for, wait_until};
use uuid::Uuid;

/// Publishes `event` through the service's outbox.
async fn publish(database: &TestDatabase, event: Envelope<UserRegistered>) {
    let mut transaction = database.pool().begin().await.unwrap();
    six_bus::publish(&mut transaction, event).await.unwrap();
    transaction.commit().await.unwrap();
}

/// Waits until `parked list` shows exactly `expected` messages, and returns them.
async fn parked(
    database: &TestDatabase,
    vhost: &TestVhost,
    expected: usize,
) -> Vec<serde_json::Value> {
    wait_for(
        Duration::from_secs(20),
        "the parking queue to settle",
        || async {
            let listed: Vec<serde_json::Value> = run(database, vhost, &["parked", "list"])
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect();
            (listed.len() == expected).then_some(listed)
        },
    )
    .await
}

#[tokio::test]
async fn a_parked_message_can_be_listed_replayed_and_purged_from_the_command_line() {
    let database = TestDatabase::create().await;
    let vhost = TestVhost::create().await;
    run(&database, &vhost, &["migrate"]);
    let serving = serve(&database, &vhost);
    // Two registrations of the same user: the second contradicts the first and is
    // parked. The second is published only once the first took effect, since the
    // consumer does not promise to handle events in publish order.
    let user_id = Uuid::now_v7();
    publish(&database, registered(user_id, "Once")).await;
    wait_until(
        Duration::from_secs(20),
        "the first registration to take effect",
        || async {
            let known: i64 =
                sqlx::query_scalar("SELECT count(*) FROM known_users WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_one(&database.pool())
                    .await
                    .unwrap();
            known == 1
        },
    )
    .await;
    let duplicate = registered(user_id, "Twice");
    let duplicate_id = duplicate.meta().id.to_string();
    publish(&database, duplicate).await;

    let listed = parked(&database, &vhost, 1).await;
    assert_eq!(listed[0]["message_id"], duplicate_id);
    assert_eq!(listed[0]["event_type"], "auth.user.registered.v1");
    assert!(
        listed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("already registered"),
        "{}",
        listed[0]
    );

    let replayed = run(
        &database,
        &vhost,
        &["parked", "replay", "--id", &duplicate_id],
    );
    assert_eq!(replayed.trim(), "replayed 1 message(s)");
    // Handled again, it is parked again: still a contradiction.
    let listed = parked(&database, &vhost, 1).await;
    assert_eq!(listed[0]["message_id"], duplicate_id);

    let purged = run(&database, &vhost, &["parked", "purge"]);
    assert_eq!(purged.trim(), "purged 1 message(s)");
    parked(&database, &vhost, 0).await;

    let status = serving.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status after SIGTERM: {status}");
}
