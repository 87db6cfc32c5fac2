//! Names and declaration of the exchange and queues. Declaring is idempotent, so
//! every (re)connection declares everything again.

use std::time::Duration;

use lapin::{
    Channel, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString, ShortString},
};

use crate::{BusConfig, BusError, QueueType};

/// The broker objects of one service.
///
/// ```text
/// six.events (topic) --type--> <service> --fail--> <service>.retry.<delay>ms --ttl--> <service>
///                                    \--fail N times--> <service>.parked
/// ```
#[derive(Debug, Clone)]
pub struct Topology {
    /// The topic exchange every event is published to.
    pub exchange: String,
    /// The service's queue, bound to the types it subscribes to.
    pub queue: String,
    /// Where messages go after their last attempt, for an operator to inspect.
    pub parking_queue: String,
    queue_type: QueueType,
    retry_delays: Vec<Duration>,
}

impl Topology {
    /// The topology described by `config`.
    pub fn new(config: &BusConfig) -> Self {
        Self {
            exchange: config.exchange.clone(),
            queue: config.service.clone(),
            parking_queue: format!("{}.parked", config.service),
            queue_type: config.queue_type,
            retry_delays: config.retry_delays.clone(),
        }
    }

    /// The retry queue that holds a message for the delay before attempt `attempt + 1`.
    ///
    /// Each delay has its own queue with a queue-wide TTL: a per-message TTL would let
    /// a long delay at the head of the queue hold back shorter ones behind it. The
    /// delay is part of the name, so changing the configured delays declares new
    /// queues instead of clashing with the arguments of existing ones.
    pub fn retry_queue(&self, failed_attempts: u32) -> Option<String> {
        let index = usize::try_from(failed_attempts).ok()?.checked_sub(1)?;
        let delay = self.retry_delays.get(index)?;
        Some(format!("{}.retry.{}ms", self.queue, delay.as_millis()))
    }

    /// Declares the exchange only: all a publisher needs.
    pub async fn declare_exchange(&self, channel: &Channel) -> Result<(), BusError> {
        channel
            .exchange_declare(
                self.exchange.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(BusError::broker("declare exchange"))
    }

    /// Declares the exchange, the service queue bound to `event_types`, the retry
    /// queues and the parking queue.
    pub async fn declare_consumer(
        &self,
        channel: &Channel,
        event_types: &[&str],
    ) -> Result<(), BusError> {
        self.declare_exchange(channel).await?;
        self.declare_queue(channel, &self.queue, self.queue_arguments())
            .await?;
        for event_type in event_types {
            channel
                .queue_bind(
                    self.queue.as_str().into(),
                    self.exchange.as_str().into(),
                    (*event_type).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(BusError::broker("bind queue"))?;
        }
        for (index, delay) in self.retry_delays.iter().enumerate() {
            let attempt = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let Some(name) = self.retry_queue(attempt) else {
                continue;
            };
            self.declare_queue(channel, &name, self.retry_arguments(*delay))
                .await?;
        }
        self.declare_parking_queue(channel).await
    }

    /// Declares the parking queue alone (operator commands may run before the
    /// service ever did).
    ///
    /// It is always a classic queue: inspecting it requeues messages, which quorum
    /// queues count towards their delivery limit.
    pub async fn declare_parking_queue(&self, channel: &Channel) -> Result<(), BusError> {
        let mut parking = FieldTable::default();
        parking.insert(
            ShortString::from("x-queue-type"),
            AMQPValue::LongString(LongString::from("classic")),
        );
        self.declare_queue(channel, &self.parking_queue, parking)
            .await
    }

    async fn declare_queue(
        &self,
        channel: &Channel,
        name: &str,
        arguments: FieldTable,
    ) -> Result<(), BusError> {
        channel
            .queue_declare(
                name.into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                arguments,
            )
            .await
            .map(drop)
            .map_err(BusError::broker("declare queue"))
    }

    fn queue_arguments(&self) -> FieldTable {
        let mut arguments = FieldTable::default();
        arguments.insert(
            ShortString::from("x-queue-type"),
            AMQPValue::LongString(LongString::from(self.queue_type.as_str())),
        );
        arguments
    }

    fn retry_arguments(&self, delay: Duration) -> FieldTable {
        let mut arguments = self.queue_arguments();
        let ttl_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        arguments.insert(
            ShortString::from("x-message-ttl"),
            AMQPValue::LongLongInt(ttl_ms),
        );
        // Expired messages go back to the service queue through the default exchange.
        arguments.insert(
            ShortString::from("x-dead-letter-exchange"),
            AMQPValue::LongString(LongString::from("")),
        );
        arguments.insert(
            ShortString::from("x-dead-letter-routing-key"),
            AMQPValue::LongString(LongString::from(self.queue.as_str())),
        );
        arguments
    }
}
