//! Operator commands on a service's parking queue: look at what was parked and why,
//! send it back to the service queue, or throw it away.

use lapin::{
    BasicProperties, Channel, Connection,
    options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions, QueuePurgeOptions},
};
use serde::Serialize;

use crate::{
    BusConfig, BusError,
    connection::{connect_once, open_confirm_channel},
    error::with_timeout,
    headers,
    topology::Topology,
};

/// A parked message as an operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ParkedMessage {
    /// The event id (AMQP `message-id`), when the publisher set one.
    pub message_id: Option<String>,
    /// The routing key the message was first published with.
    pub event_type: String,
    /// Why it was parked.
    pub reason: String,
    /// Failed attempts before it was parked.
    pub attempts: u32,
    /// When it was parked (RFC 3339).
    pub parked_at: Option<String>,
    /// Size of the body.
    pub body_bytes: usize,
    /// Start of the body as text, for a first look.
    pub body_preview: String,
}

/// Longest body preview shown by [`list`].
const PREVIEW_CHARS: usize = 200;

/// Shows up to `limit` parked messages without removing them.
pub async fn list(config: &BusConfig, limit: usize) -> Result<Vec<ParkedMessage>, BusError> {
    let (connection, channel, topology) = open(config).await?;
    let mut parked = Vec::new();
    while parked.len() < limit {
        let Some(message) = get(config, &channel, &topology).await? else {
            break;
        };
        let properties = &message.delivery.properties;
        parked.push(ParkedMessage {
            message_id: properties.message_id().as_ref().map(ToString::to_string),
            event_type: headers::text(properties, headers::ORIGINAL_ROUTING_KEY)
                .unwrap_or_else(|| message.delivery.routing_key.to_string()),
            reason: headers::text(properties, headers::PARK_REASON).unwrap_or_default(),
            attempts: headers::attempts(properties),
            parked_at: headers::text(properties, headers::PARKED_AT),
            body_bytes: message.delivery.data.len(),
            body_preview: String::from_utf8_lossy(&message.delivery.data)
                .chars()
                .take(PREVIEW_CHARS)
                .collect(),
        });
    }
    // Closing the channel returns every unacknowledged message to the queue, in order.
    close(connection, channel).await;
    Ok(parked)
}

/// Sends parked messages back to the service queue with a fresh attempt count:
/// all of them, or only the one whose message id is `only_id`. Returns how many.
///
/// Each message is acknowledged on the parking queue only after the broker
/// confirmed its copy, so a failure midway loses nothing.
pub async fn replay(config: &BusConfig, only_id: Option<&str>) -> Result<usize, BusError> {
    let (connection, channel, topology) = open(config).await?;
    let initially_parked = with_timeout(
        config.operation_timeout,
        "inspect parking queue",
        channel.queue_declare(
            topology.parking_queue.as_str().into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            Default::default(),
        ),
    )
    .await?
    .message_count();
    let mut replayed = 0;
    for _ in 0..initially_parked {
        let Some(message) = get(config, &channel, &topology).await? else {
            break;
        };
        let delivery = message.delivery;
        let matches = only_id.is_none_or(|id| {
            delivery
                .properties
                .message_id()
                .as_ref()
                .is_some_and(|m| m.as_str() == id)
        });
        if !matches {
            continue; // left unacknowledged: back to the queue when the channel closes
        }
        let properties: BasicProperties =
            headers::with_headers(&delivery.properties, headers::clear_bus_headers);
        let confirm = with_timeout(
            config.operation_timeout,
            "replay message",
            channel.basic_publish(
                "".into(),
                topology.queue.as_str().into(),
                BasicPublishOptions::default(),
                &delivery.data,
                properties,
            ),
        )
        .await?;
        let confirmation = with_timeout(
            config.operation_timeout,
            "confirm replayed message",
            confirm,
        )
        .await?;
        if !confirmation.is_ack() {
            return Err(BusError::Nacked {
                operation: "replay",
            });
        }
        with_timeout(
            config.operation_timeout,
            "ack parked message",
            delivery.ack(BasicAckOptions::default()),
        )
        .await?;
        replayed += 1;
    }
    close(connection, channel).await;
    tracing::info!(replayed, queue = %topology.queue, "parked messages replayed");
    Ok(replayed)
}

/// Deletes every parked message. Returns how many were deleted.
pub async fn purge(config: &BusConfig) -> Result<u32, BusError> {
    let (connection, channel, topology) = open(config).await?;
    let purged = with_timeout(
        config.operation_timeout,
        "purge parking queue",
        channel.queue_purge(
            topology.parking_queue.as_str().into(),
            QueuePurgeOptions::default(),
        ),
    )
    .await?;
    close(connection, channel).await;
    tracing::info!(purged, queue = %topology.parking_queue, "parking queue purged");
    Ok(purged)
}

async fn open(config: &BusConfig) -> Result<(Connection, Channel, Topology), BusError> {
    let connection = connect_once(config, &format!("{}-parking", config.service)).await?;
    // Confirm mode, so that `replay` knows each copy is safe before acknowledging.
    let channel = open_confirm_channel(config, &connection).await?;
    let topology = Topology::new(config);
    topology.declare_parking_queue(&channel).await?;
    Ok((connection, channel, topology))
}

async fn get(
    config: &BusConfig,
    channel: &Channel,
    topology: &Topology,
) -> Result<Option<lapin::message::BasicGetMessage>, BusError> {
    with_timeout(
        config.operation_timeout,
        "get parked message",
        channel.basic_get(
            topology.parking_queue.as_str().into(),
            BasicGetOptions::default(),
        ),
    )
    .await
}

async fn close(connection: Connection, channel: Channel) {
    let _ = channel.close(200, "done".into()).await;
    let _ = connection.close(200, "done".into()).await;
}
