//! [`EventTap`]: what a service under test published, read from the broker.

use std::time::Duration;

use lapin::{
    Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{BasicGetOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
};
use six_events::DomainEvent;
use sqlx::PgPool;

/// Events of chosen types published on a test vhost since the tap was made, held
/// in an exclusive queue of its own (deleted with the connection).
///
/// ```ignore
/// let tap = app.tap_events(&["auth.user.deleted.v1"]).await;
/// // ... act ...
/// let events = tap.published_by(&app.pool(), Duration::from_secs(10)).await;
/// assert_eq!(events.len(), 1);
/// ```
pub struct EventTap {
    queue: String,
    channel: Channel,
    _connection: Connection,
}

impl EventTap {
    /// Binds a new queue to `exchange` on the vhost of `amqp_url` for each of
    /// `event_types` (routing key = type). Declares the exchange as the bus does,
    /// so the tap may exist before the service first publishes.
    pub async fn bind(amqp_url: &str, exchange: &str, event_types: &[&str]) -> Self {
        let connection = Connection::connect(
            amqp_url,
            ConnectionProperties::default().with_connection_name("event-tap".into()),
        )
        .await
        .expect("the event tap connects to the test vhost");
        let channel = connection
            .create_channel()
            .await
            .expect("the event tap opens a channel");
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("the event exchange is declared");
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("the tap queue is declared")
            .name()
            .to_string();
        for event_type in event_types {
            channel
                .queue_bind(
                    queue.as_str().into(),
                    exchange.into(),
                    (*event_type).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .expect("the tap queue is bound");
        }
        Self {
            queue,
            channel,
            _connection: connection,
        }
    }

    /// Every tapped event the service has published, once its outbox (in `pool`)
    /// is empty: the relay deletes rows only after the broker confirmed them, and
    /// the broker confirms only once the message is in every bound queue, so
    /// nothing published before this call is still on its way. Panics after
    /// `deadline` if the outbox does not empty.
    pub async fn published_by(&self, pool: &PgPool, deadline: Duration) -> Vec<DomainEvent> {
        six_testkit::wait_until(deadline, "the outbox is empty", || async {
            six_bus::outbox::backlog(pool)
                .await
                .is_ok_and(|rows| rows == 0)
        })
        .await;
        let mut events = Vec::new();
        while let Some(message) = self
            .channel
            .basic_get(self.queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("the tap queue is read")
        {
            events.push(
                DomainEvent::decode(&message.delivery.data)
                    .expect("a published event decodes as a catalog event"),
            );
        }
        events
    }
}
