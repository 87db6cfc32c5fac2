//! The events the benchmark sends: real `auth.user.registered.v1` envelopes with a
//! trace context and a correlation id, as a service inside a request publishes them
//! (about 500 bytes each).

use std::{
    ops::Range,
    sync::atomic::{AtomicU64, Ordering},
};

use chrono::Utc;
use lapin::{
    BasicProperties,
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use six_events::{Envelope, EventData, STRUCTURED_CONTENT_TYPE, auth::UserRegistered};
use sqlx::PgPool;
use uuid::Uuid;

/// The routing key (event type) of every benchmark event.
pub const EVENT_TYPE: &str = UserRegistered::TYPE;

/// The `index`-th benchmark event, with a fresh id.
pub fn user_registered(index: u64) -> Envelope<UserRegistered> {
    let trace_id = Uuid::now_v7().simple().to_string();
    let span_id = Uuid::now_v7().simple().to_string();
    Envelope::new(UserRegistered {
        user_id: Uuid::now_v7(),
        email: format!("bench.user.{index}@example.org"),
        display_name: format!("Bench User {index}"),
        registered_at: Utc::now(),
    })
    .with_traceparent(format!("00-{trace_id}-{}-01", &span_id[16..]))
    .with_correlation_id(Uuid::now_v7().to_string())
}

/// One message as the relay would publish it, encoded ahead of the measurement.
#[derive(Debug, Clone)]
pub struct RawMessage {
    /// The event id (the AMQP `message-id`).
    pub event_id: Uuid,
    /// The encoded envelope.
    pub body: Vec<u8>,
    /// The W3C trace context header.
    pub traceparent: String,
}

impl RawMessage {
    /// The `index`-th benchmark event, encoded.
    ///
    /// # Errors
    /// When the envelope cannot be serialised (never for these events).
    pub fn new(index: u64) -> Result<Self, serde_json::Error> {
        let event = user_registered(index);
        Ok(Self {
            event_id: event.meta().id,
            body: event.encode()?,
            traceparent: event.meta().traceparent.clone().unwrap_or_default(),
        })
    }

    /// The same properties the outbox relay sets: persistent, CloudEvents content
    /// type, message id, type, timestamp and the trace context header.
    pub fn properties(&self) -> BasicProperties {
        let mut headers = FieldTable::default();
        headers.insert(
            ShortString::from("traceparent"),
            AMQPValue::LongString(LongString::from(self.traceparent.as_str())),
        );
        let timestamp = u64::try_from(Utc::now().timestamp()).unwrap_or_default();
        BasicProperties::default()
            .with_content_type(STRUCTURED_CONTENT_TYPE.into())
            .with_delivery_mode(2)
            .with_message_id(self.event_id.to_string().into())
            .with_type(EVENT_TYPE.into())
            .with_timestamp(timestamp)
            .with_headers(headers)
    }
}

/// Writes the events numbered `indexes` into the outbox of `pool`'s database,
/// `per_transaction` events per transaction, with one `six_bus::publish_all` per
/// transaction or (`publish_all` false) one `six_bus::publish` per event; on one
/// connection; counts them in `written` as each transaction commits.
pub async fn write_to_outbox(
    pool: &PgPool,
    indexes: Range<u64>,
    per_transaction: u64,
    publish_all: bool,
    written: &AtomicU64,
) -> anyhow::Result<()> {
    let mut next = indexes.start;
    while next < indexes.end {
        let end = indexes.end.min(next + per_transaction);
        let mut transaction = pool.begin().await?;
        if publish_all {
            six_bus::publish_all(&mut transaction, (next..end).map(user_registered)).await?;
        } else {
            for index in next..end {
                six_bus::publish(&mut transaction, user_registered(index)).await?;
            }
        }
        transaction.commit().await?;
        written.fetch_add(end - next, Ordering::Relaxed);
        next = end;
    }
    Ok(())
}
