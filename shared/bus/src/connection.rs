//! Connecting to the broker with backoff.
//!
//! Every long-running part of the bus (relay, consumer) owns its connection and
//! runs `connect → declare → work` in a loop: when the work fails because the
//! connection broke, it connects again. lapin's built-in recovery is not used;
//! rebuilding from scratch also re-declares the topology after a broker restart.

use std::time::Duration;

use lapin::{
    Channel, Connection, ConnectionProperties, options::ConfirmSelectOptions, uri::AMQPUri,
};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

use crate::{BusConfig, BusError, error::with_timeout};

/// Exponential backoff with full jitter between `min` and `max`.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            current: min,
        }
    }

    /// The next delay to wait; grows until `reset`.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let ceiling = self.current;
        self.current = (self.current * 2).min(self.max);
        let jittered_ms = fastrand::u64(self.min.as_millis() as u64..=ceiling.as_millis() as u64);
        Duration::from_millis(jittered_ms)
    }

    pub(crate) fn reset(&mut self) {
        self.current = self.min;
    }
}

/// Opens a connection named `role`, retrying with backoff until it succeeds.
///
/// Returns `None` only when `give_up` is cancelled first.
pub(crate) async fn connect(
    config: &BusConfig,
    role: &str,
    give_up: &CancellationToken,
) -> Option<Connection> {
    let mut backoff = Backoff::new(config.reconnect_min_delay, config.reconnect_max_delay);
    let name = format!("{}-{}", config.service, role);
    loop {
        match connect_once(config, &name).await {
            Ok(connection) => {
                tracing::info!(connection = %name, "broker connected");
                return Some(connection);
            }
            Err(error) => {
                let delay = backoff.next_delay();
                tracing::warn!(
                    connection = %name,
                    error = %error,
                    retry_in_ms = delay.as_millis() as u64,
                    "broker connection failed"
                );
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = give_up.cancelled() => return None,
                }
            }
        }
    }
}

/// Frame size asked of the broker when the URL does not set `frame_max`.
///
/// lapin sizes its I/O buffers from it (32 frames each way per connection): the
/// broker's default of 128 KiB costs 8 MiB per connection, 32 KiB costs 2 MiB,
/// with no throughput difference measured by `infra/bench/bus`.
pub const DEFAULT_FRAME_MAX_BYTES: u32 = 32 * 1024;

/// One connection attempt, bounded by the operation timeout.
pub(crate) async fn connect_once(config: &BusConfig, name: &str) -> Result<Connection, BusError> {
    let uri = connection_uri(config.amqp_url.expose_secret())?;
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    with_timeout(
        config.operation_timeout,
        "connect",
        Connection::connect_uri(uri, properties),
    )
    .await
}

/// Parses the AMQP URL and applies [`DEFAULT_FRAME_MAX_BYTES`] unless it sets its own.
fn connection_uri(url: &str) -> Result<AMQPUri, BusError> {
    let mut uri: AMQPUri = url
        .parse()
        .map_err(|reason| BusError::InvalidUrl { reason })?;
    uri.query.frame_max.get_or_insert(DEFAULT_FRAME_MAX_BYTES);
    Ok(uri)
}

/// Opens a channel in publisher-confirm mode: every publish on it is answered with
/// an ack or nack once the broker has taken responsibility for the message.
pub(crate) async fn open_confirm_channel(
    config: &BusConfig,
    connection: &Connection,
) -> Result<Channel, BusError> {
    let timeout = config.operation_timeout;
    let channel = with_timeout(timeout, "open channel", connection.create_channel()).await?;
    with_timeout(
        timeout,
        "enable publisher confirms",
        channel.confirm_select(ConfirmSelectOptions::default()),
    )
    .await?;
    Ok(channel)
}

/// Whether a bus component has a working broker connection; read by readiness
/// checks (which must not open connections of their own) and by the relay, which
/// waits for the consumer's first connection before it publishes.
#[derive(Debug, Clone)]
pub struct BrokerLink(std::sync::Arc<tokio::sync::watch::Sender<LinkState>>);

#[derive(Debug, Clone, Copy, Default)]
struct LinkState {
    up: bool,
    ever_up: bool,
}

impl Default for BrokerLink {
    fn default() -> Self {
        Self(std::sync::Arc::new(tokio::sync::watch::Sender::new(
            LinkState::default(),
        )))
    }
}

impl BrokerLink {
    /// True while the component is connected.
    pub fn is_up(&self) -> bool {
        self.0.borrow().up
    }

    /// Resolves once the component has been connected at least once.
    pub async fn connected_once(&self) {
        let mut state = self.0.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = state.wait_for(|state| state.ever_up).await;
    }

    pub(crate) fn set(&self, up: bool) {
        self.0.send_modify(|state| {
            state.up = up;
            state.ever_up |= up;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_ceiling_and_never_beyond() {
        let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(80));
        let delays: Vec<Duration> = (0..10).map(|_| backoff.next_delay()).collect();
        assert!(delays.iter().all(|d| *d >= Duration::from_millis(10)));
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(80)));
        assert_eq!(backoff.current, Duration::from_millis(80));
    }

    #[test]
    fn the_frame_size_defaults_to_32_kib_unless_the_url_sets_one() {
        let default = connection_uri("amqp://u:p@localhost:5672/%2f").unwrap();
        assert_eq!(default.query.frame_max, Some(DEFAULT_FRAME_MAX_BYTES));
        let explicit = connection_uri("amqp://u:p@localhost:5672/%2f?frame_max=131072").unwrap();
        assert_eq!(explicit.query.frame_max, Some(131_072));
    }

    #[test]
    fn an_unparsable_url_is_refused_without_echoing_the_password() {
        let error = connection_uri("amqp://u:hunter2@localhost:notaport/%2f").unwrap_err();
        let message = error.to_string();
        assert!(message.contains("AMQP_URL"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn backoff_starts_over_after_reset() {
        let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(80));
        for _ in 0..5 {
            backoff.next_delay();
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(10));
    }
}
