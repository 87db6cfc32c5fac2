//! Settings of the bus, with the defaults a service gets when it sets nothing.

use std::time::Duration;

use secrecy::SecretString;

/// Kind of RabbitMQ queue used for a service's queue and its retry queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueType {
    /// Replicated, durable queue (the production choice).
    Quorum,
    /// Single-node durable queue (for brokers without quorum queues).
    Classic,
}

impl QueueType {
    /// The value of the `x-queue-type` argument.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueType::Quorum => "quorum",
            QueueType::Classic => "classic",
        }
    }
}

impl std::str::FromStr for QueueType {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "quorum" => Ok(QueueType::Quorum),
            "classic" => Ok(QueueType::Classic),
            other => Err(format!("expected `quorum` or `classic`, got `{other}`")),
        }
    }
}

/// Everything the bus needs to know; built by the service's configuration loader.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// AMQP URL including credentials and vhost, e.g. `amqp://user:pass@host:5672/%2f`.
    pub amqp_url: SecretString,
    /// The durable topic exchange every event is published to.
    pub exchange: String,
    /// Name of this service; its queue is named after it.
    pub service: String,
    /// Type of the service queue and its retry queues.
    pub queue_type: QueueType,
    /// Unacknowledged deliveries the broker may push to this consumer (AMQP prefetch).
    pub prefetch: u16,
    /// Batches of deliveries being applied at the same time.
    pub max_concurrent_handlers: usize,
    /// Most deliveries applied in one database transaction; only deliveries already
    /// waiting are batched, so 1 disables batching and never adds latency otherwise.
    pub handler_batch_size: usize,
    /// Delay before each retry; a message that failed `retry_delays.len() + 1` times is parked.
    pub retry_delays: Vec<Duration>,
    /// Messages larger than this are parked without being parsed.
    pub max_message_bytes: usize,
    /// Outbox rows published per confirm round trip.
    pub relay_batch_size: i64,
    /// How often the relay looks at the outbox when no commit woke it up.
    pub relay_poll_interval: Duration,
    /// First delay between reconnection attempts; doubles up to `reconnect_max_delay`.
    pub reconnect_min_delay: Duration,
    /// Longest delay between reconnection attempts.
    pub reconnect_max_delay: Duration,
    /// How long handled event ids stay in the inbox; must exceed the longest time a
    /// message can spend in retry queues, or a late redelivery would apply twice.
    pub inbox_retention: Duration,
    /// Deadline for a single broker operation (connect, declare, confirm).
    pub operation_timeout: Duration,
}

/// The exchange events are published to unless `BUS_EXCHANGE` says otherwise.
pub const DEFAULT_EXCHANGE: &str = "six.events";

impl BusConfig {
    /// A configuration with production defaults for `service` on `amqp_url`.
    pub fn new(amqp_url: SecretString, service: impl Into<String>) -> Self {
        Self {
            amqp_url,
            exchange: DEFAULT_EXCHANGE.to_owned(),
            service: service.into(),
            queue_type: QueueType::Quorum,
            prefetch: 64,
            max_concurrent_handlers: 16,
            handler_batch_size: 32,
            retry_delays: vec![
                Duration::from_secs(1),
                Duration::from_secs(10),
                Duration::from_secs(60),
                Duration::from_secs(600),
            ],
            max_message_bytes: 1024 * 1024,
            relay_batch_size: 500,
            relay_poll_interval: Duration::from_secs(1),
            reconnect_min_delay: Duration::from_millis(100),
            reconnect_max_delay: Duration::from_secs(10),
            inbox_retention: Duration::from_secs(14 * 24 * 3600),
            operation_timeout: Duration::from_secs(10),
        }
    }

    /// Attempts a message gets before it is parked.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.retry_delays.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }
}
