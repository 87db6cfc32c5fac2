//! Transactional outbox: events are written in the same database transaction as the
//! state change they announce, and a relay publishes them after commit.
//!
//! Guarantees:
//! - a rolled-back transaction publishes nothing; a committed one is published at
//!   least once, even if the process dies (the row stays until the broker confirms);
//! - rows with the same `subject` reach the broker in commit order, also with several
//!   relays running (one per replica);
//! - a row is deleted once the broker confirmed it, so the outbox keeps no copy of
//!   personal data longer than it takes to publish.

use std::sync::Arc;

use lapin::{
    BasicProperties, Channel, Confirmation, Connection,
    options::BasicPublishOptions,
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use six_events::{Envelope, EventData, EventMeta, STRUCTURED_CONTENT_TYPE};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::{
    BusConfig, BusError, TraceContext,
    connection::{self, Backoff, BrokerLink},
    error::with_timeout,
    frames::join_in_order,
    topology::Topology,
    wakeup::CommitWakeups,
};

/// The notification channel a trigger on `bus_outbox` signals at every insert
/// (migration `outbox_inbox`), so the relay publishes as soon as events commit.
const OUTBOX_CHANNEL: &str = "bus_outbox";

/// Writes `event` to the outbox inside the caller's transaction; the relay publishes
/// it once the transaction commits.
///
/// Inside a [`TraceContext`] (an HTTP request or a consumed event), the event's
/// `traceparent` names the current span, and a missing correlation id is taken
/// from the context, so events follow the request or event that caused them.
/// Returns the attributes the event is published with.
#[tracing::instrument(skip_all, fields(event_id = %event.meta().id, event_type = T::TYPE))]
pub async fn publish<T: EventData>(
    transaction: &mut PgConnection,
    event: Envelope<T>,
) -> Result<EventMeta, BusError> {
    let mut published = publish_all(transaction, [event]).await?;
    Ok(published.remove(0))
}

/// Writes several events to the outbox with one statement, inside the caller's
/// transaction, as [`publish`] does for one: for work that announces many changes
/// at once (an import chunk). Events with the same subject are published in the
/// order given. Returns the attributes of each event, in that order.
#[tracing::instrument(skip_all, fields(event_type = T::TYPE))]
pub async fn publish_all<T: EventData>(
    transaction: &mut PgConnection,
    events: impl IntoIterator<Item = Envelope<T>>,
) -> Result<Vec<EventMeta>, BusError> {
    let context = TraceContext::current();
    let mut rows = OutboxRows::default();
    let mut published = Vec::new();
    for mut event in events {
        if let Some(context) = &context {
            event = event.with_traceparent(context.traceparent());
            if event.meta().correlation_id.is_none() {
                event = event.with_correlation_id(context.correlation_id.clone());
            }
        }
        let body = event.encode()?;
        let (meta, _) = event.into_parts();
        rows.event_ids.push(meta.id);
        rows.subjects.push(meta.subject.clone());
        rows.bodies.push(body);
        rows.traceparents.push(meta.traceparent.clone());
        published.push(meta);
    }
    if published.is_empty() {
        return Ok(published);
    }
    // `WITH ORDINALITY … ORDER BY`: sequence numbers follow the order given.
    sqlx::query(
        "INSERT INTO bus_outbox (event_id, routing_key, subject, body, traceparent) \
         SELECT event_id, $2, subject, body, traceparent \
         FROM unnest($1::uuid[], $3::text[], $4::bytea[], $5::text[]) \
              WITH ORDINALITY AS row (event_id, subject, body, traceparent, position) \
         ORDER BY position",
    )
    .bind(&rows.event_ids)
    .bind(T::TYPE)
    .bind(&rows.subjects)
    .bind(&rows.bodies)
    .bind(&rows.traceparents)
    .execute(transaction)
    .await
    .map_err(BusError::database("insert outbox rows"))?;
    Ok(published)
}

/// Columns of the outbox rows one statement inserts.
#[derive(Default)]
struct OutboxRows {
    event_ids: Vec<uuid::Uuid>,
    subjects: Vec<Option<String>>,
    bodies: Vec<Vec<u8>>,
    traceparents: Vec<Option<String>>,
}

/// Deletes the events about `subject` that are still waiting in the outbox, inside
/// the caller's transaction, and returns how many: for erasing a person, whose
/// data such events carry. Published events are no longer in the outbox (the relay
/// deletes them once confirmed); an event being published at that moment is
/// waited for, then gone.
pub async fn discard_unsent(
    transaction: &mut PgConnection,
    subject: &str,
) -> Result<u64, BusError> {
    let discarded = sqlx::query("DELETE FROM bus_outbox WHERE subject = $1")
        .bind(subject)
        .execute(transaction)
        .await
        .map_err(BusError::database("discard outbox rows"))?;
    Ok(discarded.rows_affected())
}

/// Number of events waiting in the outbox (exposed as a metric).
pub async fn backlog(pool: &PgPool) -> Result<i64, BusError> {
    sqlx::query_scalar("SELECT count(*) FROM bus_outbox")
        .fetch_one(pool)
        .await
        .map_err(BusError::database("count outbox rows"))
}

/// One outbox row as the relay reads it.
#[derive(sqlx::FromRow)]
struct PendingEvent {
    seq: i64,
    event_id: uuid::Uuid,
    routing_key: String,
    body: Vec<u8>,
    traceparent: Option<String>,
}

/// Takes the oldest unlocked rows, leaving out every row whose subject has an
/// earlier row that is not part of this batch (being published by another relay,
/// or committed late): that row must reach the broker first.
const NEXT_BATCH_SQL: &str = "
WITH batch AS (
    SELECT seq, event_id, routing_key, subject, body, traceparent
    FROM bus_outbox
    ORDER BY seq
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
SELECT b.seq, b.event_id, b.routing_key, b.body, b.traceparent
FROM batch b
WHERE b.subject IS NULL OR NOT EXISTS (
    SELECT 1 FROM bus_outbox earlier
    WHERE earlier.subject = b.subject
      AND earlier.seq < b.seq
      AND earlier.seq NOT IN (SELECT seq FROM batch)
)
ORDER BY b.seq";

/// Publishes committed outbox rows with publisher confirms.
pub struct Relay {
    pool: PgPool,
    config: Arc<BusConfig>,
    topology: Topology,
    publish_after: Option<BrokerLink>,
    link: BrokerLink,
}

impl Relay {
    /// A relay for the outbox in `pool`'s database.
    pub fn new(pool: PgPool, config: Arc<BusConfig>) -> Self {
        let topology = Topology::new(&config);
        Self {
            pool,
            config,
            topology,
            publish_after: None,
            link: BrokerLink::default(),
        }
    }

    /// Holds the first publish until `consumer` has connected once, and with it
    /// declared the service's queue: an event the service publishes for itself on
    /// its very first start is then never routed nowhere.
    pub fn publish_after(mut self, consumer: BrokerLink) -> Self {
        self.publish_after = Some(consumer);
        self
    }

    /// Reports whether this relay is connected to the broker.
    pub fn link(&self) -> BrokerLink {
        self.link.clone()
    }

    /// Publishes until `stop` is cancelled, then keeps going until the outbox is empty
    /// (the caller bounds that flush with its shutdown deadline; whatever is left is
    /// published by the next start). Survives broker and database outages.
    #[tracing::instrument(name = "outbox_relay", skip_all, fields(service = %self.config.service))]
    pub async fn run(self, stop: CancellationToken) {
        if let Some(consumer) = &self.publish_after {
            tokio::select! {
                () = consumer.connected_once() => {}
                () = stop.cancelled() => return,
            }
        }
        let never = CancellationToken::new();
        let mut wakeups = CommitWakeups::listen(
            self.pool.clone(),
            OUTBOX_CHANNEL,
            self.config.relay_poll_interval,
        )
        .await;
        let mut database_backoff = Backoff::new(
            self.config.reconnect_min_delay,
            self.config.reconnect_max_delay,
        );
        loop {
            if stop.is_cancelled() && matches!(backlog(&self.pool).await, Ok(0)) {
                return;
            }
            // While flushing after `stop`, keep trying to reach the broker: the
            // caller's deadline decides when to give up.
            let give_up = if stop.is_cancelled() { &never } else { &stop };
            let Some(connection) = connection::connect(&self.config, "relay", give_up).await else {
                continue;
            };
            let channel = match self.open_channel(&connection).await {
                Ok(channel) => {
                    self.link.set(true);
                    channel
                }
                Err(error) => {
                    tracing::warn!(%error, "relay channel could not be opened");
                    continue;
                }
            };
            loop {
                match self.publish_batch(&channel).await {
                    Ok(0) if stop.is_cancelled() => {
                        let _ = connection.close(200, "relay stopped".into()).await;
                        tracing::info!("outbox flushed");
                        return;
                    }
                    Ok(0) => wakeups.wait(&stop).await,
                    Ok(published) => {
                        database_backoff.reset();
                        metrics::counter!("bus_events_published_total").increment(published);
                    }
                    Err(error) if error.needs_reconnect() => {
                        self.link.set(false);
                        tracing::warn!(%error, "relay lost the broker; reconnecting");
                        break;
                    }
                    Err(error) => {
                        let delay = database_backoff.next_delay();
                        tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "relay batch failed");
                        tokio::time::sleep(delay).await;
                    }
                }
            }
        }
    }

    async fn open_channel(&self, connection: &Connection) -> Result<Channel, BusError> {
        let channel = connection::open_confirm_channel(&self.config, connection).await?;
        self.topology.declare_exchange(&channel).await?;
        Ok(channel)
    }

    /// Publishes one batch and deletes its rows once every message is confirmed.
    /// Returns how many events were published.
    async fn publish_batch(&self, channel: &Channel) -> Result<u64, BusError> {
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(BusError::database("begin relay transaction"))?;
        let batch: Vec<PendingEvent> = sqlx::query_as(NEXT_BATCH_SQL)
            .bind(self.config.relay_batch_size)
            .fetch_all(&mut *transaction)
            .await
            .map_err(BusError::database("select outbox batch"))?;
        if batch.is_empty() {
            return Ok(0);
        }
        // All of the batch is queued before the first frame is written (see
        // `frames`), in `seq` order; the confirms are then awaited together.
        let published = with_timeout(self.config.operation_timeout, "publish events", async {
            let publishes = batch.iter().map(|event| {
                channel.basic_publish(
                    self.topology.exchange.as_str().into(),
                    event.routing_key.as_str().into(),
                    BasicPublishOptions::default(),
                    &event.body,
                    message_properties(event),
                )
            });
            join_in_order(publishes)
                .await
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
        let confirmations = with_timeout(self.config.operation_timeout, "confirm events", async {
            join_in_order(published)
                .await
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
        if !confirmations.iter().all(Confirmation::is_ack) {
            return Err(BusError::Nacked { operation: "relay" });
        }
        let sequence_numbers: Vec<i64> = batch.iter().map(|event| event.seq).collect();
        sqlx::query("DELETE FROM bus_outbox WHERE seq = ANY($1)")
            .bind(&sequence_numbers)
            .execute(&mut *transaction)
            .await
            .map_err(BusError::database("delete published outbox rows"))?;
        transaction
            .commit()
            .await
            .map_err(BusError::database("commit relay transaction"))?;
        tracing::debug!(events = batch.len(), "outbox batch published");
        Ok(batch.len() as u64)
    }
}

fn message_properties(event: &PendingEvent) -> BasicProperties {
    let mut headers = FieldTable::default();
    if let Some(traceparent) = &event.traceparent {
        headers.insert(
            ShortString::from("traceparent"),
            AMQPValue::LongString(LongString::from(traceparent.as_str())),
        );
    }
    let timestamp = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default();
    BasicProperties::default()
        .with_content_type(STRUCTURED_CONTENT_TYPE.into())
        .with_delivery_mode(2)
        .with_message_id(event.event_id.to_string().into())
        .with_type(event.routing_key.as_str().into())
        .with_timestamp(timestamp)
        .with_headers(headers)
}
