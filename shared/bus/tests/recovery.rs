//! Crashes and outages: a relay dying at the worst moment, a broker restarting
//! under a running service.

mod common;

use common::{
    Amqp, DEADLINE, SERVICE, TestHandler, commit, config, effects_of, migrated_database,
    start_consumer, start_relay, user_registered, wait_for_effect,
};
use six_bus::topology::Topology;
use six_events::EventData;
use six_events::auth::UserRegistered;
use six_testkit::{DedicatedBroker, TestVhost, wait_until};
use sqlx::PgPool;

/// Advisory lock the test holds to stop the relay between the broker's confirm and
/// the deletion of the published row.
const HOLD_DELETES_LOCK: i64 = 42;

/// Makes every deletion from the outbox wait for the advisory lock
/// [`HOLD_DELETES_LOCK`].
fn hold_outbox_deletes() -> String {
    format!(
        "CREATE FUNCTION hold_outbox_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             PERFORM pg_advisory_xact_lock({HOLD_DELETES_LOCK});
             RETURN OLD;
         END;
         $$;
         CREATE TRIGGER hold_outbox_deletes BEFORE DELETE ON bus_outbox
             FOR EACH ROW EXECUTE FUNCTION hold_outbox_deletes();"
    )
}

/// Whether a session of this database waits for the advisory lock.
async fn someone_waits_for_the_lock(pool: &PgPool) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database
         WHERE l.locktype = 'advisory' AND l.objid = $1 AND NOT l.granted AND d.datname = current_database())",
    )
    .bind(HOLD_DELETES_LOCK)
    .fetch_one(pool)
    .await
    .expect("locks can be read")
}

#[tokio::test]
async fn a_relay_killed_after_publishing_but_before_marking_sent_delivers_again_with_one_effect() {
    // Arrange: the service queue exists (nobody consumes yet, so its messages can be
    // counted), and deletions from the outbox wait for a lock the test holds.
    let database = migrated_database().await;
    let pool = database.pool();
    let vhost = TestVhost::create().await;
    let mut config = config(&vhost.amqp_url());
    config.max_concurrent_handlers = 1;
    let amqp = Amqp::connect(&vhost.amqp_url()).await;
    Topology::new(&config)
        .declare_consumer(amqp.channel(), &[UserRegistered::TYPE])
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(hold_outbox_deletes()))
        .execute(&pool)
        .await
        .unwrap();
    let mut lock_holder = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(HOLD_DELETES_LOCK)
        .execute(&mut *lock_holder)
        .await
        .unwrap();
    let event = user_registered();
    let event_id = event.meta().id;
    commit(&pool, event).await;

    // Act: the relay publishes, the broker confirms, the relay blocks deleting the
    // row... and dies there.
    let relay = start_relay(pool.clone(), &config);
    wait_until(
        DEADLINE,
        "the relay waits to delete the row it published",
        || someone_waits_for_the_lock(&pool),
    )
    .await;
    assert_eq!(
        amqp.ready(SERVICE).await,
        1,
        "the broker has the event before the relay marks it sent"
    );
    relay.kill().await;
    lock_holder.rollback().await.unwrap();
    sqlx::raw_sql("DROP TRIGGER hold_outbox_deletes ON bus_outbox")
        .execute(&pool)
        .await
        .unwrap();
    let _relay = start_relay(pool.clone(), &config);

    // Assert: the row survived the crash and is published again...
    amqp.wait_until_ready(SERVICE, 2).await;
    wait_until(DEADLINE, "the outbox is empty", || async {
        six_bus::outbox::backlog(&pool).await.unwrap() == 0
    })
    .await;
    // ...and the consumer applies it once: a marker committed after it is applied
    // after both copies, handlers running one at a time in queue order.
    let marker = user_registered();
    let marker_id = marker.meta().id;
    commit(&pool, marker).await;
    let _consumer = start_consumer(pool.clone(), &config, TestHandler::recording());
    wait_for_effect(&pool, marker_id).await;
    assert_eq!(effects_of(&pool, event_id).await, 1);
}

#[tokio::test]
async fn consumers_and_relay_recover_after_the_broker_restarts_without_a_service_restart() {
    // Arrange: a relay and a consumer on a broker of the test's own, working.
    let broker = DedicatedBroker::start().await;
    let database = migrated_database().await;
    let pool = database.pool();
    let config = config(&broker.amqp_url());
    let _consumer = start_consumer(pool.clone(), &config, TestHandler::recording());
    let _relay = start_relay(pool.clone(), &config);
    {
        let amqp = Amqp::connect(&broker.amqp_url()).await;
        amqp.wait_until_consumed(SERVICE).await;
    }
    let before = user_registered();
    let before_id = before.meta().id;
    commit(&pool, before).await;
    wait_for_effect(&pool, before_id).await;

    // Act: the broker goes away; the service keeps writing events; the broker comes
    // back.
    broker.stop().await;
    let mut event_ids = vec![before_id];
    for _ in 0..5 {
        let during = user_registered();
        event_ids.push(during.meta().id);
        commit(&pool, during).await;
    }
    broker.start_again().await;
    let after = user_registered();
    event_ids.push(after.meta().id);
    commit(&pool, after).await;

    // Assert
    for event_id in &event_ids {
        wait_for_effect(&pool, *event_id).await;
    }
    for event_id in &event_ids {
        assert_eq!(effects_of(&pool, *event_id).await, 1, "event {event_id}");
    }
    let effects: i64 = sqlx::query_scalar("SELECT count(*) FROM effects")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(effects, 7);
}
