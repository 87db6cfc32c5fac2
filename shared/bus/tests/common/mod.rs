//! What the black-box tests of the bus share: a migrated database, a bus
//! configuration with short delays, a relay and a consumer running in the
//! background, a handler that records its effects, and a plain AMQP client to put
//! messages on the broker and count them the way an independent client would.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use secrecy::SecretString;
use six_bus::{BusConfig, Consumer, Handler, HandlerError, QueueType, Relay};
use six_events::auth::{UserDeleted, UserRegistered};
use six_events::{DomainEvent, Envelope, EventData, STRUCTURED_CONTENT_TYPE};
use six_testkit::{TestDatabase, wait_until};
use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long a test waits for anything that happens in the background. Generous:
/// waits end as soon as the condition holds, so only a failing test pays it.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The service the tests play; its queue has the same name.
pub const SERVICE: &str = "bustest";

/// The effects table of the test handler: one row per event applied, written in
/// the handler's transaction. "Exactly once" means one row per event id.
const EFFECTS_TABLE: &str = "CREATE TABLE effects (
    event_id   UUID        NOT NULL,
    event_type TEXT        NOT NULL,
    email      TEXT,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
)";

/// A fresh database with the bus's tables and the test handler's `effects` table.
pub async fn migrated_database() -> TestDatabase {
    let database = TestDatabase::create().await;
    six_bus::migrator()
        .run(&database.pool())
        .await
        .expect("bus migrations run on an empty database");
    sqlx::query(EFFECTS_TABLE)
        .execute(&database.pool())
        .await
        .expect("effects table is created");
    database
}

/// A configuration for tests on `amqp_url`: quorum queues as in production, but
/// delays short enough for a test.
pub fn config(amqp_url: &str) -> BusConfig {
    let mut config = BusConfig::new(SecretString::from(amqp_url.to_owned()), SERVICE);
    config.queue_type = QueueType::Quorum;
    config.retry_delays = vec![Duration::from_millis(100), Duration::from_millis(200)];
    config.max_message_bytes = 64 * 1024;
    config.relay_poll_interval = Duration::from_millis(100);
    config.reconnect_min_delay = Duration::from_millis(50);
    config.reconnect_max_delay = Duration::from_millis(500);
    config.operation_timeout = Duration::from_secs(5);
    config
}

/// A new `auth.user.registered.v1` event about a new user.
pub fn user_registered() -> Envelope<UserRegistered> {
    let user_id = Uuid::now_v7();
    Envelope::new(UserRegistered {
        user_id,
        email: format!("{}@example.org", user_id.simple()),
        display_name: "Ada Lovelace".to_owned(),
        registered_at: Utc::now(),
    })
}

/// Writes `event` to the outbox in a transaction of its own and commits it.
pub async fn commit<T: EventData>(pool: &PgPool, event: Envelope<T>) {
    let mut transaction = pool.begin().await.expect("transaction begins");
    six_bus::publish(&mut transaction, event)
        .await
        .expect("event is written to the outbox");
    transaction.commit().await.expect("transaction commits");
}

/// How many times the test handler applied the event `event_id`.
pub async fn effects_of(pool: &PgPool, event_id: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM effects WHERE event_id = $1")
        .bind(event_id)
        .fetch_one(pool)
        .await
        .expect("effects can be counted")
}

/// Waits until the test handler applied the event `event_id`.
pub async fn wait_for_effect(pool: &PgPool, event_id: Uuid) {
    wait_until(
        DEADLINE,
        &format!("event {event_id} has an effect"),
        || async move { effects_of(pool, event_id).await > 0 },
    )
    .await;
}

/// A relay or consumer running in the background until stopped, killed or dropped.
pub struct Running {
    what: &'static str,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Running {
    /// Cancels its stop token and waits until it has finished on its own.
    pub async fn stop(mut self) {
        self.stop.cancel();
        let finished = tokio::time::timeout(DEADLINE, &mut self.task).await;
        let outcome = finished
            .unwrap_or_else(|_| panic!("the {} did not stop within {DEADLINE:?}", self.what));
        outcome.unwrap_or_else(|error| panic!("the {} failed: {error}", self.what));
    }

    /// The stop token, to cancel without waiting.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Whether it has finished.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits until it has finished (after its stop token was cancelled).
    pub async fn finished(mut self) {
        let finished = tokio::time::timeout(DEADLINE, &mut self.task).await;
        let outcome = finished
            .unwrap_or_else(|_| panic!("the {} did not finish within {DEADLINE:?}", self.what));
        outcome.unwrap_or_else(|error| panic!("the {} failed: {error}", self.what));
    }

    /// Kills it where it stands, as if its process died: its task is dropped at
    /// its current await point, without any chance to finish.
    pub async fn kill(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts an outbox relay on `pool`.
pub fn start_relay(pool: PgPool, config: &BusConfig) -> Running {
    let stop = CancellationToken::new();
    let relay = Relay::new(pool, Arc::new(config.clone()));
    Running {
        what: "relay",
        stop: stop.clone(),
        task: tokio::spawn(relay.run(stop)),
    }
}

/// Starts a consumer of the service queue that applies events with `handler`.
pub fn start_consumer(pool: PgPool, config: &BusConfig, handler: impl Handler) -> Running {
    let stop = CancellationToken::new();
    let consumer = Consumer::new(pool, Arc::new(config.clone()), handler);
    Running {
        what: "consumer",
        stop: stop.clone(),
        task: tokio::spawn(consumer.run(stop)),
    }
}

/// A handler that records one row in `effects` per event it applies, and can be
/// told to fail or to wait before applying.
#[derive(Clone, Default)]
pub struct TestHandler {
    state: Arc<HandlerState>,
}

#[derive(Default)]
struct HandlerState {
    failures_before_success: u32,
    failing: AtomicBool,
    rejected: Option<Uuid>,
    gate: Option<Gate>,
    attempts: Mutex<HashMap<Uuid, Vec<Instant>>>,
    /// `before_commit` calls that fail before the first that succeeds.
    commits_failing: AtomicU32,
    /// Every `before_commit` call, failed or not.
    commits: AtomicU32,
}

/// Holds every handler call until the test lets it go.
struct Gate {
    entered: Notify,
    released: Notify,
}

impl TestHandler {
    /// Applies every event at the first attempt.
    pub fn recording() -> Self {
        Self::default()
    }

    /// Fails the first `failures` attempts at each event with a transient error.
    pub fn failing_first(failures: u32) -> Self {
        Self {
            state: Arc::new(HandlerState {
                failures_before_success: failures,
                ..HandlerState::default()
            }),
        }
    }

    /// Fails every attempt with a transient error until [`TestHandler::stop_failing`].
    pub fn failing_always() -> Self {
        let handler = Self::default();
        handler.state.failing.store(true, Ordering::SeqCst);
        handler
    }

    /// Applies every event except `event_id`, which it rejects with a permanent error.
    pub fn rejecting(event_id: Uuid) -> Self {
        Self {
            state: Arc::new(HandlerState {
                rejected: Some(event_id),
                ..HandlerState::default()
            }),
        }
    }

    /// Handles every event, but fails the first `failures` calls of `before_commit`
    /// with a transient error.
    pub fn failing_before_commit(failures: u32) -> Self {
        let handler = Self::default();
        handler
            .state
            .commits_failing
            .store(failures, Ordering::SeqCst);
        handler
    }

    /// How many times `before_commit` was called.
    pub fn before_commit_calls(&self) -> u32 {
        self.state.commits.load(Ordering::SeqCst)
    }

    /// Waits at the start of each call until [`TestHandler::release`].
    pub fn held() -> Self {
        let gate = Gate {
            entered: Notify::new(),
            released: Notify::new(),
        };
        Self {
            state: Arc::new(HandlerState {
                gate: Some(gate),
                ..HandlerState::default()
            }),
        }
    }

    /// Makes the following attempts succeed.
    pub fn stop_failing(&self) {
        self.state.failing.store(false, Ordering::SeqCst);
    }

    /// Waits until a held call has started.
    pub async fn entered(&self) {
        let gate = self
            .state
            .gate
            .as_ref()
            .expect("only a held handler has a gate");
        tokio::time::timeout(DEADLINE, gate.entered.notified())
            .await
            .expect("the handler is called within the deadline");
    }

    /// Lets one held call go on.
    pub fn release(&self) {
        self.state
            .gate
            .as_ref()
            .expect("only a held handler has a gate")
            .released
            .notify_one();
    }

    /// When each attempt at the event `event_id` started, in order.
    pub fn attempts(&self, event_id: Uuid) -> Vec<Instant> {
        self.state
            .attempts
            .lock()
            .expect("attempts lock")
            .get(&event_id)
            .cloned()
            .unwrap_or_default()
    }

    fn record_attempt(&self, event_id: Uuid) -> u32 {
        let mut attempts = self.state.attempts.lock().expect("attempts lock");
        let of_event = attempts.entry(event_id).or_default();
        of_event.push(Instant::now());
        u32::try_from(of_event.len()).unwrap_or(u32::MAX)
    }
}

impl Handler for TestHandler {
    fn event_types(&self) -> Vec<&'static str> {
        vec![UserRegistered::TYPE, UserDeleted::TYPE]
    }

    async fn handle(
        &self,
        event: &DomainEvent,
        transaction: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let meta = event.meta();
        let attempt = self.record_attempt(meta.id);
        if let Some(gate) = &self.state.gate {
            gate.entered.notify_one();
            gate.released.notified().await;
        }
        if self.state.rejected == Some(meta.id) {
            return Err(HandlerError::Permanent(format!(
                "simulated contradiction at attempt {attempt}"
            )));
        }
        if self.state.failing.load(Ordering::SeqCst)
            || attempt <= self.state.failures_before_success
        {
            return Err(HandlerError::Transient(
                format!("simulated outage at attempt {attempt}").into(),
            ));
        }
        let email = match event {
            DomainEvent::UserRegistered(registered) => Some(registered.data().email.clone()),
            _ => None,
        };
        sqlx::query("INSERT INTO effects (event_id, event_type, email) VALUES ($1, $2, $3)")
            .bind(meta.id)
            .bind(&meta.event_type)
            .bind(email)
            .execute(transaction)
            .await?;
        Ok(())
    }

    async fn before_commit(&self, _transaction: &mut PgConnection) -> Result<(), HandlerError> {
        self.state.commits.fetch_add(1, Ordering::SeqCst);
        let failing =
            self.state
                .commits_failing
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                });
        match failing {
            Ok(_) => Err(HandlerError::Transient(
                "simulated failure to make the effects durable".into(),
            )),
            Err(_) => Ok(()),
        }
    }
}

/// A plain AMQP client, independent of the bus: puts messages on the broker
/// (including ones the bus would never publish) and counts them.
pub struct Amqp {
    connection: Connection,
    channel: Channel,
}

/// What the broker reports, exactly, about a queue when it is declared passively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCounts {
    /// Messages ready for delivery (not counting those delivered and unacknowledged).
    pub ready: u32,
    /// Consumers subscribed.
    pub consumers: u32,
}

impl Amqp {
    /// Connects to `amqp_url` with a channel in publisher-confirm mode.
    pub async fn connect(amqp_url: &str) -> Self {
        let connection = Connection::connect(amqp_url, ConnectionProperties::default())
            .await
            .expect("test client connects to the broker");
        let channel = connection
            .create_channel()
            .await
            .expect("test client opens a channel");
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("publisher confirms are enabled");
        Self {
            connection,
            channel,
        }
    }

    /// The client's channel.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Publishes `body` persistently as a CloudEvents message with `message_id` and
    /// waits until the broker confirmed it.
    pub async fn publish(&self, exchange: &str, routing_key: &str, body: &[u8], message_id: &str) {
        let properties = BasicProperties::default()
            .with_content_type(STRUCTURED_CONTENT_TYPE.into())
            .with_delivery_mode(2)
            .with_message_id(message_id.into());
        let confirm = self
            .channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                body,
                properties,
            )
            .await
            .expect("message is published");
        let confirmation = confirm.await.expect("broker answers the publish");
        assert!(confirmation.is_ack(), "broker refused message {message_id}");
        assert!(
            confirmation.take_message().is_none(),
            "message {message_id} reached no queue"
        );
    }

    /// Publishes a typed event the way the relay does.
    pub async fn publish_event(&self, exchange: &str, event: &DomainEvent) {
        let body = event.encode().expect("event encodes");
        self.publish(
            exchange,
            event.routing_key(),
            &body,
            &event.meta().id.to_string(),
        )
        .await;
    }

    /// Binds `queue` to `exchange` for `routing_key`.
    pub async fn bind(&self, queue: &str, exchange: &str, routing_key: &str) {
        self.channel
            .queue_bind(
                queue.into(),
                exchange.into(),
                routing_key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("queue is bound");
    }

    /// Declares a classic durable queue of the test's own.
    pub async fn declare_queue(&self, queue: &str) {
        self.channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("queue is declared");
    }

    /// Takes every message ready in `queue`, in queue order, and returns their
    /// message ids.
    pub async fn take_message_ids(&self, queue: &str) -> Vec<String> {
        let mut message_ids = Vec::new();
        while let Some(message) = self
            .channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("queue can be read")
        {
            let message_id = message
                .delivery
                .properties
                .message_id()
                .as_ref()
                .expect("the relay sets a message id");
            message_ids.push(message_id.to_string());
        }
        message_ids
    }

    /// The exact counts of `queue`, or `None` when it does not exist.
    pub async fn counts(&self, queue: &str) -> Option<QueueCounts> {
        // A passive declaration of a missing queue closes its channel: use a new one.
        let channel = self
            .connection
            .create_channel()
            .await
            .expect("test client opens a channel");
        let declared = channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await;
        let _ = channel.close(200, "counted".into()).await;
        declared.ok().map(|queue| QueueCounts {
            ready: queue.message_count(),
            consumers: queue.consumer_count(),
        })
    }

    /// Messages ready in `queue` (0 when it does not exist).
    pub async fn ready(&self, queue: &str) -> u32 {
        self.counts(queue).await.map_or(0, |counts| counts.ready)
    }

    /// Waits until a consumer is subscribed to `queue`: from then on, events
    /// published for its bindings reach it.
    pub async fn wait_until_consumed(&self, queue: &str) {
        wait_until(
            DEADLINE,
            &format!("a consumer is subscribed to {queue}"),
            || async {
                self.counts(queue)
                    .await
                    .is_some_and(|counts| counts.consumers > 0)
            },
        )
        .await;
    }

    /// Waits until `queue` holds exactly `ready` messages ready for delivery.
    pub async fn wait_until_ready(&self, queue: &str, ready: u32) {
        wait_until(
            DEADLINE,
            &format!("{queue} holds {ready} ready messages"),
            || async { self.ready(queue).await == ready },
        )
        .await;
    }
}
