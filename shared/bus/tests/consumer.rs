//! The consumer runner: exactly-once effects, batches, retries with growing delays,
//! and a graceful stop.

mod common;

use std::time::Duration;

use common::{
    Amqp, DEADLINE, SERVICE, TestHandler, commit, config, effects_of, migrated_database,
    start_consumer, start_relay, user_registered, wait_for_effect,
};
use std::sync::{Arc, Mutex};

use six_bus::{
    BusConfig, Handler, HandlerError, IncomingEvent, QueueType, parking, topology::Topology,
};
use six_events::DomainEvent;
use six_testkit::{TestDatabase, TestVhost};
use sqlx::PgConnection;
use uuid::Uuid;

#[tokio::test]
async fn the_same_event_delivered_twice_has_one_effect() {
    // Arrange: handlers one at a time, so messages are applied in queue order.
    let database = migrated_database().await;
    let pool = database.pool();
    let vhost = TestVhost::create().await;
    let mut config = config(&vhost.amqp_url());
    config.max_concurrent_handlers = 1;
    let amqp = Amqp::connect(&vhost.amqp_url()).await;
    let _consumer = start_consumer(pool.clone(), &config, TestHandler::recording());
    amqp.wait_until_consumed(SERVICE).await;
    let duplicated = DomainEvent::from(user_registered());
    let marker = DomainEvent::from(user_registered());

    // Act: the same bytes twice, as after a relay crash or a broker redelivery.
    amqp.publish_event(&config.exchange, &duplicated).await;
    amqp.publish_event(&config.exchange, &duplicated).await;
    amqp.publish_event(&config.exchange, &marker).await;

    // Assert
    wait_for_effect(&pool, marker.meta().id).await;
    assert_eq!(effects_of(&pool, duplicated.meta().id).await, 1);
}

#[tokio::test]
async fn a_handler_failing_twice_then_succeeding_is_retried_with_growing_delay() {
    // Arrange
    let first_delay = Duration::from_millis(100);
    let second_delay = Duration::from_millis(600);
    let database = migrated_database().await;
    let pool = database.pool();
    let vhost = TestVhost::create().await;
    let mut config = config(&vhost.amqp_url());
    config.retry_delays = vec![first_delay, second_delay];
    let amqp = Amqp::connect(&vhost.amqp_url()).await;
    let handler = TestHandler::failing_first(2);
    let _consumer = start_consumer(pool.clone(), &config, handler.clone());
    let _relay = start_relay(pool.clone(), &config);
    amqp.wait_until_consumed(SERVICE).await;
    let event = user_registered();
    let event_id = event.meta().id;

    // Act
    commit(&pool, event).await;

    // Assert
    wait_for_effect(&pool, event_id).await;
    let attempts = handler.attempts(event_id);
    assert_eq!(
        attempts.len(),
        3,
        "two failed attempts and a successful one"
    );
    let first_gap = attempts[1] - attempts[0];
    let second_gap = attempts[2] - attempts[1];
    assert!(
        first_gap >= first_delay,
        "the first retry came after {first_gap:?}, before its delay of {first_delay:?}"
    );
    assert!(
        second_gap >= second_delay,
        "the second retry came after {second_gap:?}, before its delay of {second_delay:?}"
    );
    assert!(
        second_gap > first_gap,
        "the second wait ({second_gap:?}) is not longer than the first ({first_gap:?})"
    );
    assert_eq!(effects_of(&pool, event_id).await, 1);
}

#[tokio::test]
async fn a_failure_to_make_effects_durable_rolls_the_event_back_and_retries_it() {
    // Arrange
    let database = migrated_database().await;
    let pool = database.pool();
    let vhost = TestVhost::create().await;
    let mut config = config(&vhost.amqp_url());
    config.retry_delays = vec![Duration::from_millis(50)];
    let amqp = Amqp::connect(&vhost.amqp_url()).await;
    let handler = TestHandler::failing_before_commit(1);
    let _consumer = start_consumer(pool.clone(), &config, handler.clone());
    let _relay = start_relay(pool.clone(), &config);
    amqp.wait_until_consumed(SERVICE).await;
    let event = user_registered();
    let event_id = event.meta().id;

    // Act
    commit(&pool, event).await;

    // Assert: the first attempt's effect was rolled back with its transaction, the
    // second committed after `before_commit` succeeded.
    wait_for_effect(&pool, event_id).await;
    assert_eq!(handler.attempts(event_id).len(), 2);
    assert_eq!(handler.before_commit_calls(), 2);
    assert_eq!(effects_of(&pool, event_id).await, 1);
}

#[tokio::test]
async fn a_graceful_stop_lets_the_handler_in_flight_finish_and_acknowledge() {
    // Arrange: a classic queue, because a quorum queue keeps counting a cancelled
    // consumer until its deliveries are settled, and the test must see the
    // cancellation while the handler still holds its delivery. The runner does the
    // same with either type.
    let database = migrated_database().await;
    let pool = database.pool();
    let vhost = TestVhost::create().await;
    let mut config = config(&vhost.amqp_url());
    config.queue_type = QueueType::Classic;
    let amqp = Amqp::connect(&vhost.amqp_url()).await;
    let handler = TestHandler::held();
    let consumer = start_consumer(pool.clone(), &config, handler.clone());
    amqp.wait_until_consumed(SERVICE).await;
    let event = DomainEvent::from(user_registered());
    amqp.publish_event(&config.exchange, &event).await;
    handler.entered().await;

    // Act: stop while the handler is in flight, and let it go only once the
    // consumer no longer takes deliveries.
    consumer.stop_token().cancel();
    six_testkit::wait_until(
        DEADLINE,
        "the consumer has cancelled its subscription",
        || async {
            amqp.counts(SERVICE)
                .await
                .is_some_and(|counts| counts.consumers == 0)
        },
    )
    .await;
    assert!(
        !consumer.is_finished(),
        "the consumer stopped before its handler finished"
    );
    handler.release();
    consumer.finished().await;

    // Assert: applied once, and acknowledged (an unacknowledged message would be
    // back in the queue now that the consumer's channel is closed).
    assert_eq!(effects_of(&pool, event.meta().id).await, 1);
    assert_eq!(
        amqp.ready(SERVICE).await,
        0,
        "the message was not acknowledged"
    );
}

/// Events waiting in the service queue for a consumer with one handler slot, so
/// that deliveries wait for it and are applied in batches of up to 16.
struct Queued {
    database: TestDatabase,
    _vhost: TestVhost,
    config: BusConfig,
    amqp: Amqp,
}

impl Queued {
    /// Declares the queue with a first consumer run, then publishes `events` in
    /// order and waits until the queue holds them all.
    async fn before_a_batching_consumer(events: &[DomainEvent]) -> Self {
        let database = migrated_database().await;
        let vhost = TestVhost::create().await;
        let mut config = config(&vhost.amqp_url());
        config.max_concurrent_handlers = 1;
        config.handler_batch_size = 16;
        config.prefetch = 64;
        let amqp = Amqp::connect(&vhost.amqp_url()).await;
        start_consumer(database.pool(), &config, TestHandler::recording())
            .stop()
            .await;
        for event in events {
            amqp.publish_event(&config.exchange, event).await;
        }
        let count = u32::try_from(events.len()).expect("a test's events fit a u32");
        amqp.wait_until_ready(SERVICE, count).await;
        Self {
            database,
            _vhost: vhost,
            config,
            amqp,
        }
    }
}

#[tokio::test]
async fn a_failure_in_a_batch_parks_only_its_event_and_every_other_event_applies_once() {
    // Arrange
    let events: Vec<DomainEvent> = (0..40).map(|_| user_registered().into()).collect();
    let rejected = events[20].meta().id;
    let queued = Queued::before_a_batching_consumer(&events).await;
    let (pool, config, amqp) = (queued.database.pool(), &queued.config, &queued.amqp);

    // Act
    let _consumer = start_consumer(pool.clone(), config, TestHandler::rejecting(rejected));

    // Assert: the rejected event is parked with its reason, without an effect, and
    // the events that shared its batch were applied once.
    amqp.wait_until_ready(&Topology::new(config).parking_queue, 1)
        .await;
    let parked = parking::list(config, 10)
        .await
        .expect("parked messages can be listed");
    assert_eq!(parked.len(), 1);
    assert_eq!(
        parked[0].message_id.as_deref(),
        Some(rejected.to_string().as_str())
    );
    assert!(
        parked[0].reason.contains("simulated contradiction"),
        "parked because: {}",
        parked[0].reason
    );
    for event in &events {
        let event_id = event.meta().id;
        if event_id == rejected {
            assert_eq!(effects_of(&pool, event_id).await, 0);
        } else {
            wait_for_effect(&pool, event_id).await;
            assert_eq!(effects_of(&pool, event_id).await, 1, "event {event_id}");
        }
    }
}

/// Applies events as [`TestHandler`] does, and keeps the ids of the events of
/// each `handle_all` call.
#[derive(Clone, Default)]
struct BatchRecorder {
    inner: TestHandler,
    calls: Arc<Mutex<Vec<Vec<Uuid>>>>,
}

impl Handler for BatchRecorder {
    fn event_types(&self) -> Vec<&'static str> {
        self.inner.event_types()
    }

    async fn handle(
        &self,
        event: &DomainEvent,
        transaction: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        self.inner.handle(event, transaction).await
    }

    async fn handle_all(
        &self,
        events: &[IncomingEvent<'_>],
        transaction: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        self.calls
            .lock()
            .expect("calls lock")
            .push(events.iter().map(|event| event.event().meta().id).collect());
        for event in events {
            self.inner.handle(event.event(), &mut *transaction).await?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_batch_reaches_handle_all_in_one_call_in_queue_order_without_its_duplicates() {
    // Arrange: the first event twice, as a redelivery would bring it; the one slot
    // handles the copy before any later event.
    let events: Vec<DomainEvent> = (0..40).map(|_| user_registered().into()).collect();
    let queued: Vec<DomainEvent> = std::iter::once(events[0].clone())
        .chain(events.iter().cloned())
        .collect();
    let queued = Queued::before_a_batching_consumer(&queued).await;
    let pool = queued.database.pool();
    let recorder = BatchRecorder::default();

    // Act
    let _consumer = start_consumer(pool.clone(), &queued.config, recorder.clone());

    // Assert: every event once, in calls of several events, each in queue order.
    for event in &events {
        wait_for_effect(&pool, event.meta().id).await;
    }
    let calls = recorder.calls.lock().expect("calls lock").clone();
    let handed: Vec<Uuid> = calls.iter().flatten().copied().collect();
    let published: Vec<Uuid> = events.iter().map(|event| event.meta().id).collect();
    assert_eq!(
        handed, published,
        "each event once, in queue order: {calls:?}"
    );
    assert!(
        calls.iter().any(|call| call.len() > 1),
        "some call had several events: {calls:?}"
    );
    for event in &events {
        assert_eq!(effects_of(&pool, event.meta().id).await, 1);
    }
}
