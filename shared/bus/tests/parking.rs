//! The parking queue: what cannot be handled is set aside with its reason, never
//! blocks the queue, and can be replayed or purged by an operator.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{
    Amqp, SERVICE, TestHandler, config, effects_of, migrated_database, start_consumer,
    user_registered, wait_for_effect,
};
use serde_json::json;
use six_bus::parking::{self, ParkedMessage};
use six_bus::topology::Topology;
use six_events::DomainEvent;
use six_testkit::TestVhost;

/// A structured-mode CloudEvent of `event_type` with an empty payload.
fn cloud_event(event_type: &str) -> Vec<u8> {
    json!({
        "specversion": "1.0",
        "id": uuid::Uuid::now_v7().to_string(),
        "source": "/somewhere/else",
        "type": event_type,
        "time": "2026-11-23T09:15:02Z",
        "data": {},
    })
    .to_string()
    .into_bytes()
}

/// Waits until the parking queue holds `count` messages, then lists them.
async fn parked(amqp: &Amqp, config: &six_bus::BusConfig, count: u32) -> Vec<ParkedMessage> {
    let parking_queue = Topology::new(config).parking_queue;
    amqp.wait_until_ready(&parking_queue, count).await;
    parking::list(config, 100)
        .await
        .expect("parked messages can be listed")
}

#[tokio::test]
async fn a_handler_that_always_fails_is_parked_after_n_attempts_with_its_error_and_replay_delivers_it_again()
 {
    // Arrange
    let database = migrated_database().await;
    let pool = database.pool();
    let vhost = TestVhost::create().await;
    let mut config = config(&vhost.amqp_url());
    config.retry_delays = vec![Duration::from_millis(50), Duration::from_millis(100)];
    let amqp = Amqp::connect(&vhost.amqp_url()).await;
    let handler = TestHandler::failing_always();
    let _consumer = start_consumer(pool.clone(), &config, handler.clone());
    amqp.wait_until_consumed(SERVICE).await;
    let event = DomainEvent::from(user_registered());
    let event_id = event.meta().id;

    // Act
    amqp.publish_event(&config.exchange, &event).await;
    let parked = parked(&amqp, &config, 1).await;

    // Assert: parked after the first attempt and one per retry delay, with the
    // last error.
    assert_eq!(parked.len(), 1);
    let message = &parked[0];
    assert_eq!(
        message.message_id.as_deref(),
        Some(event_id.to_string().as_str())
    );
    assert_eq!(message.event_type, "auth.user.registered.v1");
    assert_eq!(message.attempts, config.max_attempts());
    assert!(
        message.reason.contains("simulated outage at attempt 3"),
        "reason: {}",
        message.reason
    );
    assert_eq!(handler.attempts(event_id).len(), 3);
    assert_eq!(effects_of(&pool, event_id).await, 0);

    // Act: the outage is over, the operator replays the message.
    handler.stop_failing();
    let replayed = parking::replay(&config, Some(&event_id.to_string()))
        .await
        .expect("parked messages can be replayed");

    // Assert
    assert_eq!(replayed, 1);
    wait_for_effect(&pool, event_id).await;
    assert_eq!(effects_of(&pool, event_id).await, 1);
    assert!(
        parking::list(&config, 100).await.unwrap().is_empty(),
        "the replayed message is still parked"
    );
}

#[tokio::test]
async fn garbage_on_the_queue_is_parked_and_the_next_good_message_is_processed() {
    // Arrange
    let database = migrated_database().await;
    let pool = database.pool();
    let vhost = TestVhost::create().await;
    let config = config(&vhost.amqp_url());
    let amqp = Amqp::connect(&vhost.amqp_url()).await;
    let _consumer = start_consumer(pool.clone(), &config, TestHandler::recording());
    amqp.wait_until_consumed(SERVICE).await;
    // A newer producer publishes a version this build does not know, to a binding
    // the service has.
    amqp.bind(SERVICE, &config.exchange, "auth.user.registered.v9")
        .await;
    let too_large = vec![b' '; config.max_message_bytes + 1];
    let garbage: [(&str, Vec<u8>, &str); 5] = [
        ("not-json", b"{ this is not json".to_vec(), "not JSON"),
        (
            "not-a-cloud-event",
            br#"{"hello": "world"}"#.to_vec(),
            "not a CloudEvents 1.0 event",
        ),
        (
            "unknown-type",
            cloud_event("billing.invoice.paid.v1"),
            "unknown event type `billing.invoice.paid.v1`",
        ),
        (
            "unknown-version",
            cloud_event("auth.user.registered.v9"),
            "unknown version of event type `auth.user.registered.v9`",
        ),
        ("too-large", too_large, "exceeds the limit"),
    ];
    let good = DomainEvent::from(user_registered());

    // Act
    for (label, body, _) in &garbage {
        let (exchange, routing_key) = match *label {
            "unknown-version" => (config.exchange.as_str(), "auth.user.registered.v9"),
            // Straight to the queue, as a misbehaving client could.
            _ => ("", SERVICE),
        };
        amqp.publish(exchange, routing_key, body, label).await;
    }
    amqp.publish_event(&config.exchange, &good).await;

    // Assert
    wait_for_effect(&pool, good.meta().id).await;
    let parked: HashMap<String, ParkedMessage> = parked(&amqp, &config, 5)
        .await
        .into_iter()
        .map(|message| (message.message_id.clone().unwrap_or_default(), message))
        .collect();
    for (label, body, expected_reason) in &garbage {
        let message = parked
            .get(*label)
            .unwrap_or_else(|| panic!("{label} was not parked: {parked:?}"));
        assert!(
            message.reason.contains(expected_reason),
            "{label} parked because: {}",
            message.reason
        );
        assert_eq!(
            message.body_bytes,
            body.len(),
            "{label} was parked with another body"
        );
    }
}

#[tokio::test]
async fn purging_the_parking_queue_empties_it() {
    // Arrange
    let database = migrated_database().await;
    let vhost = TestVhost::create().await;
    let config = config(&vhost.amqp_url());
    let amqp = Amqp::connect(&vhost.amqp_url()).await;
    let _consumer = start_consumer(database.pool(), &config, TestHandler::recording());
    amqp.wait_until_consumed(SERVICE).await;
    amqp.publish("", SERVICE, b"garbage", "first").await;
    amqp.publish("", SERVICE, b"more garbage", "second").await;
    parked(&amqp, &config, 2).await;

    // Act
    let purged = parking::purge(&config)
        .await
        .expect("the parking queue can be purged");

    // Assert
    assert_eq!(purged, 2);
    assert!(parking::list(&config, 100).await.unwrap().is_empty());
}
