//! Consumer runner: takes events from the service queue and hands them to a typed
//! handler inside a database transaction.
//!
//! Guarantees:
//! - a message is acknowledged only after the handler's transaction committed, so a
//!   crash at any point leads to redelivery, never to a lost effect;
//! - the event id is recorded in the inbox table in that same transaction, so a
//!   redelivered event (or a duplicate publish) has no second effect;
//! - a failing handler is retried after each configured delay, then the message is
//!   parked with its error; messages that can never succeed (not JSON, unknown type
//!   or version, too large, or a permanent handler error) are parked at once; no
//!   message ever blocks the queue or stops the consumer;
//! - at most `prefetch` deliveries are held and `max_concurrent_handlers` batches run
//!   at once; batches run concurrently, so order between events is not guaranteed.
//!
//! Batching: deliveries that are already waiting when a handler slot frees up (up to
//! `handler_batch_size`) are applied in one transaction, one inbox insert for all,
//! one [`Handler::handle_all`] call for the events the inbox let through (by default
//! [`Handler::handle`] once per event), one commit, then one ack each, sent together. If
//! anything in the batch fails, the transaction is rolled back and each event is
//! applied again on its own, so a failure settles (retries or parks) only the
//! event that caused it.
//! Under light load a batch is one delivery: batching never waits for more.

use std::{sync::Arc, time::Instant};

use futures_util::{FutureExt, StreamExt};
use lapin::{
    BasicProperties, Channel, Connection,
    message::Delivery,
    options::{
        BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions,
        BasicQosOptions,
    },
    types::FieldTable,
};
use six_events::DomainEvent;
use sqlx::{PgConnection, PgPool};
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::Instrument;

use crate::{
    BusConfig, BusError, TraceContext,
    connection::{self, BrokerLink},
    error::with_timeout,
    frames::join_in_order,
    headers,
    topology::Topology,
};

/// Why a handler could not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Might succeed later (database busy, a dependency down): retried with backoff,
    /// parked after the last attempt.
    #[error("{0}")]
    Transient(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Can never succeed (the event contradicts what the service knows): parked at once.
    #[error("{0}")]
    Permanent(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        HandlerError::Transient(Box::new(error))
    }
}

impl From<BusError> for HandlerError {
    fn from(error: BusError) -> Self {
        HandlerError::Transient(Box::new(error))
    }
}

/// What a service does with the events it subscribes to.
pub trait Handler: Send + Sync + 'static {
    /// The event types (routing keys) the service queue is bound to.
    fn event_types(&self) -> Vec<&'static str>;

    /// Applies one event inside `transaction`, which the runner commits when this
    /// returns `Ok` and rolls back otherwise. Events published with
    /// [`crate::outbox::publish`] on the same transaction leave only if it commits.
    ///
    /// The transaction may also carry other events of the same batch, and when one of
    /// them fails the batch is rolled back and this event applied again on its own:
    /// keep every effect inside the transaction (anything outside it, such as a call
    /// to another system, may happen twice).
    fn handle(
        &self,
        event: &DomainEvent,
        transaction: &mut PgConnection,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// Runs after every event of a transaction was handled, just before the commit:
    /// where a handler that writes outside the database (a search index) makes
    /// those writes durable, so that no message is acknowledged before its effects
    /// are. An error rolls the transaction back like an error of `handle`; the
    /// events are then applied again, so the writes must be idempotent.
    fn before_commit(
        &self,
        transaction: &mut PgConnection,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        let _ = transaction;
        std::future::ready(Ok(()))
    }

    /// Applies the events of one transaction, in the order they were delivered:
    /// those the inbox let through, one or more. The default hands each to
    /// [`Handler::handle`] within the event's trace context and span. A handler
    /// whose effects cost fewer statements written together overrides this: it
    /// applies every event or fails as a whole (the events are then applied again
    /// one by one), and runs what belongs to one event (a log line, a publish)
    /// inside [`IncomingEvent::within`].
    fn handle_all(
        &self,
        events: &[IncomingEvent<'_>],
        transaction: &mut PgConnection,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        async move {
            for event in events {
                event
                    .within(self.handle(event.event, &mut *transaction))
                    .await?;
            }
            Ok(())
        }
    }
}

/// An event handed to [`Handler::handle_all`], with the trace it continues and the
/// span its handling is logged in.
pub struct IncomingEvent<'a> {
    event: &'a DomainEvent,
    context: TraceContext,
    span: tracing::Span,
}

impl<'a> IncomingEvent<'a> {
    /// An event handed over by something other than a consumer (a replay, a
    /// test): its handling continues the producer's trace, as a first attempt.
    pub fn new(event: &'a DomainEvent) -> Self {
        Self::attempted(event, 1)
    }

    /// A delivered event: its span also says how many times it was tried.
    fn delivered(delivery: &Delivery, event: &'a DomainEvent) -> Self {
        Self::attempted(
            event,
            headers::attempts(&delivery.properties).saturating_add(1),
        )
    }

    fn attempted(event: &'a DomainEvent, attempt: u32) -> Self {
        let meta = event.meta();
        let correlation_id = meta
            .correlation_id
            .clone()
            .unwrap_or_else(|| meta.id.to_string());
        let context = TraceContext::continue_from(meta.traceparent.as_deref(), correlation_id);
        let span = tracing::info_span!(
            "handle_event",
            event_id = %meta.id,
            event_type = %meta.event_type,
            trace_id = %context.trace_id(),
            correlation_id = %context.correlation_id,
            attempt,
        );
        Self {
            event,
            context,
            span,
        }
    }

    pub fn event(&self) -> &'a DomainEvent {
        self.event
    }

    /// Runs `work` as part of this event: in its trace context (events published
    /// continue the trace) and its span.
    pub async fn within<F: Future>(&self, work: F) -> F::Output {
        self.context
            .clone()
            .scope(work.instrument(self.span.clone()))
            .await
    }
}

/// The fate of one delivery.
#[derive(Debug)]
enum Outcome {
    Handled,
    Duplicate,
    Failed(String),
    Rejected(String),
}

/// Runs a [`Handler`] on the service queue, reconnecting after broker failures.
pub struct Consumer<H> {
    shared: Arc<Shared<H>>,
    link: BrokerLink,
}

struct Shared<H> {
    pool: PgPool,
    config: Arc<BusConfig>,
    topology: Topology,
    handler: H,
    event_types: Vec<&'static str>,
}

impl<H: Handler> Consumer<H> {
    /// A consumer for `config.service`'s queue that applies events with `handler`.
    pub fn new(pool: PgPool, config: Arc<BusConfig>, handler: H) -> Self {
        let topology = Topology::new(&config);
        let event_types = handler.event_types();
        let shared = Arc::new(Shared {
            pool,
            config,
            topology,
            handler,
            event_types,
        });
        Self {
            shared,
            link: BrokerLink::default(),
        }
    }

    /// Reports whether this consumer is connected to the broker.
    pub fn link(&self) -> BrokerLink {
        self.link.clone()
    }

    /// Consumes until `stop` is cancelled; then stops taking deliveries, lets the
    /// handlers in flight finish and acknowledge, and closes the connection.
    #[tracing::instrument(name = "consumer", skip_all, fields(queue = %self.shared.topology.queue))]
    pub async fn run(self, stop: CancellationToken) {
        let permits = Arc::new(Semaphore::new(self.shared.config.max_concurrent_handlers));
        let pruning = tokio::spawn(prune_inbox(self.shared.clone(), stop.clone()));
        while let Some(connection) =
            connection::connect(&self.shared.config, "consumer", &stop).await
        {
            let result = self.consume(&connection, &permits, &stop).await;
            self.link.set(false);
            let _ = connection.close(200, "consumer stopped".into()).await;
            match result {
                Ok(()) => break,
                Err(error) => tracing::warn!(%error, "consumer lost the broker; reconnecting"),
            }
        }
        pruning.abort();
        tracing::info!("consumer stopped");
    }

    async fn consume(
        &self,
        connection: &Connection,
        permits: &Arc<Semaphore>,
        stop: &CancellationToken,
    ) -> Result<(), BusError> {
        let config = &self.shared.config;
        let timeout = config.operation_timeout;
        let channel = with_timeout(
            timeout,
            "open consumer channel",
            connection.create_channel(),
        )
        .await?;
        with_timeout(
            timeout,
            "set prefetch",
            channel.basic_qos(config.prefetch, BasicQosOptions::default()),
        )
        .await?;
        self.shared
            .topology
            .declare_consumer(&channel, &self.shared.event_types)
            .await?;
        // Retries and parked messages are published on their own channel, with confirms,
        // before the original delivery is acknowledged.
        let publisher = connection::open_confirm_channel(config, connection).await?;
        let consumer_tag = format!("{}-{}", config.service, uuid::Uuid::now_v7());
        let mut deliveries = with_timeout(
            timeout,
            "start consuming",
            channel.basic_consume(
                self.shared.topology.queue.as_str().into(),
                consumer_tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            ),
        )
        .await?;
        self.link.set(true);
        tracing::info!(event_types = ?self.shared.event_types, "consuming");

        let in_flight = TaskTracker::new();
        let batch_size = config.handler_batch_size.max(1);
        let result = loop {
            let permit = tokio::select! {
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break Ok(()),
                },
                () = stop.cancelled() => break Ok(()),
            };
            let first = tokio::select! {
                next = deliveries.next() => next,
                () = stop.cancelled() => break Ok(()),
            };
            let mut batch = match delivered(first) {
                Ok(delivery) => vec![delivery],
                Err(error) => break Err(error),
            };
            // Take what is already waiting, without waiting for more.
            let mut broken = None;
            while batch.len() < batch_size {
                match deliveries.next().now_or_never().map(delivered) {
                    Some(Ok(delivery)) => batch.push(delivery),
                    Some(Err(error)) => {
                        broken = Some(error);
                        break;
                    }
                    None => break,
                }
            }
            let shared = self.shared.clone();
            let publisher = publisher.clone();
            in_flight.spawn(async move {
                shared.process_batch(&publisher, batch).await;
                drop(permit);
            });
            if let Some(error) = broken {
                break Err(error);
            }
        };
        if result.is_ok() {
            // Stop the flow first; deliveries not yet started go back to the queue when
            // the channel closes.
            let _ = with_timeout(
                timeout,
                "cancel consumer",
                channel.basic_cancel(consumer_tag.as_str().into(), BasicCancelOptions::default()),
            )
            .await;
        }
        in_flight.close();
        in_flight.wait().await;
        // Close both channels before the connection: a channel whose last handle is
        // dropped is closed by lapin in the background, which races the connection
        // close and makes lapin log a spurious connection error.
        let _ = channel.close(200, "consumer stopped".into()).await;
        let _ = publisher.close(200, "consumer stopped".into()).await;
        result
    }
}

impl<H: Handler> Shared<H> {
    /// Applies a batch of deliveries and settles each: retry later or park where it
    /// failed, then acknowledge all that were settled, together.
    async fn process_batch(&self, publisher: &Channel, deliveries: Vec<Delivery>) {
        metrics::histogram!("bus_consumer_batch_size").record(deliveries.len() as f64);
        let mut settled = Vec::with_capacity(deliveries.len());
        let mut accepted = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            match self.screen(&delivery) {
                Ok(event) => accepted.push((delivery, event)),
                Err(reason) => {
                    if self
                        .settle(publisher, &delivery, Outcome::Rejected(reason))
                        .await
                    {
                        settled.push(delivery);
                    }
                }
            }
        }
        let outcomes = self.apply_all(&accepted).await;
        for ((delivery, _), outcome) in accepted.into_iter().zip(outcomes) {
            if self.settle(publisher, &delivery, outcome).await {
                settled.push(delivery);
            }
        }
        acknowledge(settled).await;
    }

    /// Applies the accepted events in one transaction, or, when that is rolled back
    /// (or there is only one), each in its own: each event's outcome.
    async fn apply_all(&self, accepted: &[(Delivery, DomainEvent)]) -> Vec<Outcome> {
        if accepted.len() > 1 {
            let started = Instant::now();
            let applied = self.apply_batch(accepted).await;
            metrics::histogram!("bus_handler_duration_seconds")
                .record(started.elapsed().as_secs_f64());
            match applied {
                Ok(outcomes) => return outcomes,
                Err(error) => {
                    tracing::debug!(%error, events = accepted.len(), "batch rolled back; applying its events one by one");
                }
            }
        }
        let mut outcomes = Vec::with_capacity(accepted.len());
        for (delivery, event) in accepted {
            let started = Instant::now();
            outcomes.push(self.apply(delivery, event).await);
            metrics::histogram!("bus_handler_duration_seconds")
                .record(started.elapsed().as_secs_f64());
        }
        outcomes
    }

    /// Decodes a delivery, or says why it can never be handled.
    fn screen(&self, delivery: &Delivery) -> Result<DomainEvent, String> {
        let limit = self.config.max_message_bytes;
        if delivery.data.len() > limit {
            return Err(format!(
                "message of {} bytes exceeds the limit of {limit} bytes",
                delivery.data.len()
            ));
        }
        let event = DomainEvent::decode(&delivery.data).map_err(|error| error.to_string())?;
        let event_type = &event.meta().event_type;
        if !self.event_types.contains(&event_type.as_str()) {
            return Err(format!("this service does not subscribe to `{event_type}`"));
        }
        Ok(event)
    }

    /// Applies one event in its own transaction.
    async fn apply(&self, delivery: &Delivery, event: &DomainEvent) -> Outcome {
        let mut transaction = match self.pool.begin().await {
            Ok(transaction) => transaction,
            Err(error) => return Outcome::Failed(format!("database unavailable: {error}")),
        };
        let meta = event.meta();
        let first_time = sqlx::query(
            "INSERT INTO bus_inbox (event_id, event_type) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(meta.id)
        .bind(&meta.event_type)
        .execute(&mut *transaction)
        .await;
        match first_time {
            Ok(result) if result.rows_affected() == 0 => {
                tracing::debug!(event_id = %meta.id, "event already handled");
                return Outcome::Duplicate;
            }
            Ok(_) => {}
            Err(error) => return Outcome::Failed(format!("inbox insert failed: {error}")),
        }
        let incoming = [IncomingEvent::delivered(delivery, event)];
        let handled = match self.handler.handle_all(&incoming, &mut transaction).await {
            Ok(()) => self.handler.before_commit(&mut transaction).await,
            failed => failed,
        };
        match handled {
            Ok(()) => match transaction.commit().await {
                Ok(()) => Outcome::Handled,
                Err(error) => Outcome::Failed(format!("commit failed: {error}")),
            },
            Err(HandlerError::Transient(error)) => Outcome::Failed(error.to_string()),
            Err(HandlerError::Permanent(reason)) => Outcome::Rejected(reason),
        }
    }

    /// Applies several events in one transaction: each event's outcome, or why the
    /// batch was rolled back.
    async fn apply_batch(&self, batch: &[(Delivery, DomainEvent)]) -> Result<Vec<Outcome>, String> {
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(|error| format!("database unavailable: {error}"))?;
        let (ids, types): (Vec<uuid::Uuid>, Vec<&str>) = batch
            .iter()
            .map(|(_, event)| (event.meta().id, event.meta().event_type.as_str()))
            .unzip();
        let mut first_time: std::collections::HashSet<uuid::Uuid> = sqlx::query_scalar(
            "INSERT INTO bus_inbox (event_id, event_type) \
             SELECT * FROM unnest($1::uuid[], $2::text[]) \
             ON CONFLICT DO NOTHING RETURNING event_id",
        )
        .bind(&ids)
        .bind(&types)
        .fetch_all(&mut *transaction)
        .await
        .map_err(|error| format!("inbox insert failed: {error}"))?
        .into_iter()
        .collect();
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut incoming = Vec::with_capacity(first_time.len());
        for (delivery, event) in batch {
            // `remove`: an event delivered twice in one batch is applied once.
            if first_time.remove(&event.meta().id) {
                incoming.push(IncomingEvent::delivered(delivery, event));
                outcomes.push(Outcome::Handled);
            } else {
                tracing::debug!(event_id = %event.meta().id, "event already handled");
                outcomes.push(Outcome::Duplicate);
            }
        }
        if !incoming.is_empty() {
            self.handler
                .handle_all(&incoming, &mut transaction)
                .await
                .map_err(|error| format!("handler: {error}"))?;
        }
        self.handler
            .before_commit(&mut transaction)
            .await
            .map_err(|error| format!("before commit: {error}"))?;
        transaction
            .commit()
            .await
            .map_err(|error| format!("commit failed: {error}"))?;
        Ok(outcomes)
    }

    /// Acts on a delivery's outcome: nothing more when handled, otherwise a copy to a
    /// retry queue or the parking queue. Returns whether the delivery may now be
    /// acknowledged; if not, it stays unacknowledged and comes back after
    /// reconnection, where the inbox makes the repeat harmless.
    async fn settle(&self, publisher: &Channel, delivery: &Delivery, outcome: Outcome) -> bool {
        let failed_attempts = headers::attempts(&delivery.properties);
        let (label, settled) = match outcome {
            Outcome::Handled => ("handled", Ok(())),
            Outcome::Duplicate => ("duplicate", Ok(())),
            Outcome::Failed(error) => {
                let attempt = failed_attempts.saturating_add(1);
                match self.topology.retry_queue(attempt) {
                    Some(retry_queue) => {
                        tracing::warn!(%error, attempt, retry_queue, "handler failed; will retry");
                        metrics::counter!("bus_messages_retried_total").increment(1);
                        (
                            "retried",
                            self.forward(publisher, delivery, &retry_queue, |h| {
                                headers::set_attempts(h, attempt);
                                headers::set_text(h, headers::LAST_ERROR, &error);
                            })
                            .await,
                        )
                    }
                    None => {
                        let reason = format!("handler failed {attempt} times, last error: {error}");
                        (
                            "parked",
                            self.park(publisher, delivery, attempt, &reason).await,
                        )
                    }
                }
            }
            Outcome::Rejected(reason) => (
                "parked",
                self.park(
                    publisher,
                    delivery,
                    failed_attempts.saturating_add(1),
                    &reason,
                )
                .await,
            ),
        };
        metrics::counter!("bus_messages_consumed_total", "outcome" => label).increment(1);
        match settled {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, delivery_tag = delivery.delivery_tag, "delivery not settled; it will be redelivered");
                false
            }
        }
    }

    /// Moves a message to the parking queue with the reason.
    async fn park(
        &self,
        publisher: &Channel,
        delivery: &Delivery,
        attempts: u32,
        reason: &str,
    ) -> Result<(), BusError> {
        tracing::error!(reason, attempts, routing_key = %delivery.routing_key, "message parked");
        metrics::counter!("bus_messages_parked_total").increment(1);
        let parked_at = chrono::Utc::now().to_rfc3339();
        self.forward(publisher, delivery, &self.topology.parking_queue, |h| {
            headers::set_attempts(h, attempts);
            headers::set_text(h, headers::PARK_REASON, reason);
            headers::set_text(h, headers::PARKED_AT, &parked_at);
        })
        .await
    }

    /// Publishes a copy of `delivery` straight to `queue` (through the default
    /// exchange, so no other service receives it again) and waits for the confirm.
    async fn forward(
        &self,
        publisher: &Channel,
        delivery: &Delivery,
        queue: &str,
        edit_headers: impl FnOnce(&mut FieldTable),
    ) -> Result<(), BusError> {
        // Copies reach their queue through the default exchange, with the queue name
        // as routing key: the event type is kept in a header for the parking queue.
        let original_routing_key =
            headers::text(&delivery.properties, headers::ORIGINAL_ROUTING_KEY)
                .unwrap_or_else(|| delivery.routing_key.to_string());
        let properties: BasicProperties = headers::with_headers(&delivery.properties, |h| {
            headers::set_text(h, headers::ORIGINAL_ROUTING_KEY, &original_routing_key);
            edit_headers(h);
        });
        let timeout = self.config.operation_timeout;
        let confirm = with_timeout(
            timeout,
            "forward message",
            publisher.basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                &delivery.data,
                properties,
            ),
        )
        .await?;
        let confirmation = with_timeout(timeout, "confirm forwarded message", confirm).await?;
        if confirmation.is_ack() {
            Ok(())
        } else {
            Err(BusError::Nacked {
                operation: "forward message",
            })
        }
    }
}

/// Acknowledges settled deliveries, all queued before the first is written (see
/// `frames`). One that fails stays unacknowledged and comes back after
/// reconnection, where the inbox makes the repeat harmless.
async fn acknowledge(settled: Vec<Delivery>) {
    let acks = settled
        .iter()
        .map(|delivery| delivery.ack(BasicAckOptions::default()));
    for (delivery, acknowledged) in settled.iter().zip(join_in_order(acks).await) {
        if let Err(error) = acknowledged {
            let error = BusError::broker("ack")(error);
            tracing::warn!(%error, delivery_tag = delivery.delivery_tag, "delivery not acknowledged; it will be redelivered");
        }
    }
}

/// A delivery from the stream, or why consuming must start over.
fn delivered(next: Option<Result<Delivery, lapin::Error>>) -> Result<Delivery, BusError> {
    match next {
        Some(Ok(delivery)) => Ok(delivery),
        Some(Err(source)) => Err(BusError::Broker {
            operation: "consume",
            source,
        }),
        None => Err(BusError::ConsumerCancelled),
    }
}

/// Deletes inbox entries older than the retention: by then no redelivery can arrive.
async fn prune_inbox<H>(shared: Arc<Shared<H>>, stop: CancellationToken) {
    let retention_secs = shared.config.inbox_retention.as_secs_f64();
    loop {
        let pruned = sqlx::query(
            "DELETE FROM bus_inbox WHERE handled_at < now() - make_interval(secs => $1)",
        )
        .bind(retention_secs)
        .execute(&shared.pool)
        .await;
        match pruned {
            Ok(result) if result.rows_affected() > 0 => {
                tracing::info!(rows = result.rows_affected(), "inbox pruned")
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "inbox pruning failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
            () = stop.cancelled() => return,
        }
    }
}
