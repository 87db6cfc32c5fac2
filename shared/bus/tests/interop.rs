//! Interoperability with independent clients: the CloudEvents Python SDK reads what
//! we publish, and our runner consumes what it publishes (with pika).

mod common;

use std::path::PathBuf;
use std::process::Output;

use chrono::{DateTime, Utc};
use common::{
    Amqp, SERVICE, TestHandler, commit, config, effects_of, migrated_database, start_consumer,
    start_relay, user_registered, wait_for_effect,
};
use serde::Deserialize;
use six_events::EventData;
use six_events::auth::UserRegistered;
use six_testkit::TestVhost;

/// The event as the Python SDK understood it (printed by `read_event.py`).
#[derive(Debug, Deserialize)]
struct ReadBySdk {
    content_type: Option<String>,
    specversion: String,
    id: String,
    source: String,
    #[serde(rename = "type")]
    event_type: String,
    subject: Option<String>,
    time: Option<DateTime<Utc>>,
    datacontenttype: Option<String>,
    traceparent: Option<String>,
    correlationid: Option<String>,
    data: serde_json::Value,
}

/// What `publish_event.py` published.
#[derive(Debug, Deserialize)]
struct PublishedBySdk {
    id: uuid::Uuid,
    email: String,
}

fn script(name: &str) -> PathBuf {
    six_testkit::crate_dir().join("tests/interop").join(name)
}

/// Runs a script of `tests/interop` with Python, after checking that the clients
/// it needs are installed.
async fn run_python(name: &str, args: &[&str]) -> Output {
    let python = six_testkit::python_with(
        &["cloudevents.core.bindings.rabbitmq", "pika"],
        "shared/bus/tests/interop/requirements.txt",
    )
    .await;
    let output = tokio::process::Command::new(&python)
        .arg(script(name))
        .args(args)
        .output()
        .await
        .expect("the script runs");
    assert!(
        output.status.success(),
        "{name} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test]
async fn an_event_we_publish_is_read_by_the_cloudevents_python_sdk() {
    // Arrange: a queue of the test's own receives what the relay publishes.
    let database = migrated_database().await;
    let pool = database.pool();
    let vhost = TestVhost::create().await;
    let config = config(&vhost.amqp_url());
    let amqp = Amqp::connect(&vhost.amqp_url()).await;
    amqp.channel()
        .exchange_declare(
            config.exchange.as_str().into(),
            lapin::ExchangeKind::Topic,
            lapin::options::ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap();
    amqp.declare_queue("python-reader").await;
    amqp.bind("python-reader", &config.exchange, UserRegistered::TYPE)
        .await;
    let event = user_registered()
        .with_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .with_correlation_id("interop-42");
    let sent = event.clone();
    let _relay = start_relay(pool.clone(), &config);

    // Act
    commit(&pool, event).await;
    amqp.wait_until_ready("python-reader", 1).await;
    let output = run_python("read_event.py", &[&vhost.amqp_url(), "python-reader"]).await;

    // Assert
    let read: ReadBySdk =
        serde_json::from_slice(&output.stdout).expect("read_event.py prints the event as JSON");
    let meta = sent.meta();
    assert!(
        read.content_type
            .is_some_and(|content_type| content_type.starts_with("application/cloudevents+json"))
    );
    assert_eq!(read.specversion, "1.0");
    assert_eq!(read.id, meta.id.to_string());
    assert_eq!(read.source, meta.source);
    assert_eq!(read.event_type, UserRegistered::TYPE);
    assert_eq!(read.subject, meta.subject);
    assert_eq!(read.time, Some(meta.time));
    assert_eq!(read.datacontenttype.as_deref(), Some("application/json"));
    assert_eq!(read.traceparent, meta.traceparent);
    assert_eq!(read.correlationid, meta.correlation_id);
    assert_eq!(read.data, serde_json::to_value(sent.data()).unwrap());
}

#[tokio::test]
async fn an_event_the_cloudevents_python_sdk_publishes_is_consumed_by_our_runner() {
    // Arrange
    let database = migrated_database().await;
    let pool = database.pool();
    let vhost = TestVhost::create().await;
    let config = config(&vhost.amqp_url());
    let amqp = Amqp::connect(&vhost.amqp_url()).await;
    let _consumer = start_consumer(pool.clone(), &config, TestHandler::recording());
    amqp.wait_until_consumed(SERVICE).await;

    // Act
    let output = run_python("publish_event.py", &[&vhost.amqp_url(), &config.exchange]).await;

    // Assert
    let published: PublishedBySdk =
        serde_json::from_slice(&output.stdout).expect("publish_event.py prints what it published");
    wait_for_effect(&pool, published.id).await;
    assert_eq!(effects_of(&pool, published.id).await, 1);
    let email: Option<String> = sqlx::query_scalar("SELECT email FROM effects WHERE event_id = $1")
        .bind(published.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        email.as_deref(),
        Some(published.email.as_str()),
        "the payload was read as the SDK wrote it"
    );
}
