//! The transactional outbox: an event leaves if and only if the transaction that
//! wrote it commits.

mod common;

use common::{
    Amqp, DEADLINE, SERVICE, TestHandler, commit, config, effects_of, migrated_database,
    start_consumer, start_relay, user_registered, wait_for_effect,
};
use six_events::{EventData, auth::UserRegistered};
use six_testkit::{TestVhost, wait_until};
use sqlx::Row;

#[tokio::test]
async fn state_change_and_event_commit_together() {
    // Arrange
    let database = migrated_database().await;
    let pool = database.pool();
    sqlx::query("CREATE TABLE users (user_id UUID PRIMARY KEY, email TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let vhost = TestVhost::create().await;
    let config = config(&vhost.amqp_url());
    let amqp = Amqp::connect(&vhost.amqp_url()).await;
    let _consumer = start_consumer(pool.clone(), &config, TestHandler::recording());
    let _relay = start_relay(pool.clone(), &config);
    amqp.wait_until_consumed(SERVICE).await;
    let event = user_registered();
    let event_id = event.meta().id;
    let registered = event.data().clone();

    // Act: the state change and the event in one transaction, observed from outside
    // before and after the commit.
    let mut transaction = pool.begin().await.unwrap();
    sqlx::query("INSERT INTO users (user_id, email) VALUES ($1, $2)")
        .bind(registered.user_id)
        .bind(&registered.email)
        .execute(&mut *transaction)
        .await
        .unwrap();
    six_bus::publish(&mut transaction, event).await.unwrap();
    let before_commit = sqlx::query(
        "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM bus_outbox) AS events",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    transaction.commit().await.unwrap();

    // Assert
    assert_eq!(
        before_commit.get::<i64, _>("users"),
        0,
        "the state change is invisible before the commit"
    );
    assert_eq!(
        before_commit.get::<i64, _>("events"),
        0,
        "the event is invisible before the commit"
    );
    wait_for_effect(&pool, event_id).await;
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE user_id = $1")
        .bind(registered.user_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 1, "the state change is committed with the event");
    wait_until(
        DEADLINE,
        "the published event has left the outbox",
        || async { six_bus::outbox::backlog(&pool).await.unwrap() == 0 },
    )
    .await;
}

#[tokio::test]
async fn a_rolled_back_transaction_publishes_nothing() {
    // Arrange: handlers one at a time, so events are applied in queue order.
    let database = migrated_database().await;
    let pool = database.pool();
    let vhost = TestVhost::create().await;
    let mut config = config(&vhost.amqp_url());
    config.max_concurrent_handlers = 1;
    let amqp = Amqp::connect(&vhost.amqp_url()).await;
    let _consumer = start_consumer(pool.clone(), &config, TestHandler::recording());
    let _relay = start_relay(pool.clone(), &config);
    amqp.wait_until_consumed(SERVICE).await;
    let rolled_back = user_registered();
    let rolled_back_id = rolled_back.meta().id;
    let marker = user_registered();
    let marker_id = marker.meta().id;

    // Act: the rolled back event is written first, so it would be published and
    // applied before the marker.
    let mut transaction = pool.begin().await.unwrap();
    six_bus::publish(&mut transaction, rolled_back)
        .await
        .unwrap();
    transaction.rollback().await.unwrap();
    commit(&pool, marker).await;

    // Assert
    wait_for_effect(&pool, marker_id).await;
    assert_eq!(
        effects_of(&pool, rolled_back_id).await,
        0,
        "the rolled back event was applied"
    );
    let inbox: i64 = sqlx::query_scalar("SELECT count(*) FROM bus_inbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(inbox, 1, "only the marker reached the consumer");
}

#[tokio::test]
async fn events_published_together_are_queued_in_the_order_given_and_all_delivered() {
    // Arrange: five events about one user, so their order matters.
    let database = migrated_database().await;
    let pool = database.pool();
    let vhost = TestVhost::create().await;
    let config = config(&vhost.amqp_url());
    let amqp = Amqp::connect(&vhost.amqp_url()).await;
    let _consumer = start_consumer(pool.clone(), &config, TestHandler::recording());
    amqp.wait_until_consumed(SERVICE).await;
    let first = user_registered();
    let user = first.data().clone();
    let events: Vec<_> = std::iter::once(first)
        .chain((1..5).map(|_| six_events::Envelope::new(user.clone())))
        .collect();
    let given: Vec<_> = events.iter().map(|event| event.meta().id).collect();

    // Act
    let mut transaction = pool.begin().await.unwrap();
    let published = six_bus::publish_all(&mut transaction, events)
        .await
        .unwrap();
    let queued: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT event_id FROM bus_outbox ORDER BY seq")
            .fetch_all(&mut *transaction)
            .await
            .unwrap();
    transaction.commit().await.unwrap();
    let _relay = start_relay(pool.clone(), &config);

    // Assert
    assert_eq!(
        published.iter().map(|meta| meta.id).collect::<Vec<_>>(),
        given
    );
    assert_eq!(queued, given, "outbox order differs from the order given");
    for event_id in given {
        wait_for_effect(&pool, event_id).await;
        assert_eq!(effects_of(&pool, event_id).await, 1);
    }
}

#[tokio::test]
async fn a_relay_batch_reaches_the_broker_in_outbox_order() {
    // Arrange: a queue of the test's own, read without a consumer, so it holds the
    // messages in the order the broker received them; 300 events fit one batch.
    let database = migrated_database().await;
    let pool = database.pool();
    let vhost = TestVhost::create().await;
    let config = config(&vhost.amqp_url());
    let amqp = Amqp::connect(&vhost.amqp_url()).await;
    let topology = six_bus::topology::Topology::new(&config);
    topology
        .declare_exchange(amqp.channel())
        .await
        .expect("exchange is declared");
    amqp.declare_queue("relay-order").await;
    amqp.bind("relay-order", &config.exchange, UserRegistered::TYPE)
        .await;
    let events: Vec<_> = (0..300).map(|_| user_registered()).collect();
    let given: Vec<String> = events
        .iter()
        .map(|event| event.meta().id.to_string())
        .collect();
    let mut transaction = pool.begin().await.unwrap();
    six_bus::publish_all(&mut transaction, events)
        .await
        .unwrap();
    transaction.commit().await.unwrap();

    // Act
    let _relay = start_relay(pool.clone(), &config);
    amqp.wait_until_ready("relay-order", 300).await;

    // Assert
    assert_eq!(amqp.take_message_ids("relay-order").await, given);
}

#[tokio::test]
async fn discarding_unsent_events_about_a_subject_leaves_other_subjects_queued() {
    // Arrange: no relay runs, so every event stays in the outbox.
    let database = migrated_database().await;
    let pool = database.pool();
    let erased = user_registered();
    let erased_subject = erased
        .meta()
        .subject
        .clone()
        .expect("a user event has a subject");
    let kept = user_registered();
    let kept_id = kept.meta().id;
    commit(&pool, erased).await;
    commit(&pool, kept).await;

    // Act
    let mut transaction = pool.begin().await.unwrap();
    let discarded = six_bus::discard_unsent(&mut transaction, &erased_subject)
        .await
        .unwrap();
    transaction.commit().await.unwrap();

    // Assert
    assert_eq!(discarded, 1);
    let queued: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT event_id FROM bus_outbox")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(queued, vec![kept_id]);
}
