//! The ceiling: raw lapin, no database. Persistent messages are published with
//! publisher confirms to a durable topic exchange routed to a quorum queue, while a
//! consumer with the same prefetch as the bus acknowledges each delivery.
//!
//! The publisher queues `confirm_window` messages at once, then waits for all their
//! confirms, as the relay does with a batch (both with `six_bus::frames`); the consumer acknowledges one delivery at a time,
//! as the bus does. Rate = events / (first publish → last ack).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use futures_util::StreamExt;
use lapin::{
    Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
        ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use six_bench_support::cpu::{CpuUsage, Snapshot};
use six_bus::frames::join_in_order;
use six_testkit::TestVhost;

use crate::{
    sample::{EVENT_TYPE, RawMessage},
    settings::Settings,
};

const EXCHANGE: &str = "bench.ceiling";
const QUEUE: &str = "bench.ceiling";

/// A run fails when no delivery was acknowledged for this long.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What the ceiling run measured.
#[derive(Debug, Clone)]
pub struct Ceiling {
    /// Messages published and acknowledged.
    pub events: u64,
    /// First publish to last ack.
    pub elapsed: Duration,
    /// First publish to last confirm.
    pub publish_elapsed: Duration,
    /// Messages left in the queue afterwards (0 when all went through).
    pub left_in_queue: u32,
    /// Where the CPU went meanwhile.
    pub cpu: CpuUsage,
}

impl Ceiling {
    /// Events per second, publish to ack.
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs the ceiling on a fresh vhost with `messages`, encoded beforehand.
pub async fn run(settings: &Settings, messages: Arc<Vec<RawMessage>>) -> anyhow::Result<Ceiling> {
    let vhost = TestVhost::create().await;
    let url = settings.amqp_url(&vhost);
    let publisher = connect(&url, "bench-ceiling-publisher").await?;
    let consumer = connect(&url, "bench-ceiling-consumer").await?;
    let publish_channel = publisher.create_channel().await?;
    publish_channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    declare(&publish_channel).await?;
    let consume_channel = consumer.create_channel().await?;
    consume_channel
        .basic_qos(settings.prefetch, BasicQosOptions::default())
        .await?;
    let deliveries = consume_channel
        .basic_consume(
            QUEUE.into(),
            "bench-ceiling".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;

    let events = messages.len() as u64;
    let acknowledged = Arc::new(AtomicU64::new(0));
    let consuming = tokio::spawn(consume(deliveries, events, acknowledged.clone()));
    let cpu = Snapshot::take();
    let started = Instant::now();
    let publishing = tokio::spawn(publish(
        publish_channel.clone(),
        messages,
        settings.confirm_window,
    ));

    let last_ack = watch(consuming, &acknowledged).await?;
    let cpu = cpu.usage_since();
    let last_confirm = publishing.await.context("publisher task")??;

    let left_in_queue = publish_channel
        .queue_declare(
            QUEUE.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?
        .message_count();
    let _ = consume_channel.close(200, "done".into()).await;
    let _ = publish_channel.close(200, "done".into()).await;
    let _ = consumer.close(200, "done".into()).await;
    let _ = publisher.close(200, "done".into()).await;
    Ok(Ceiling {
        events,
        elapsed: last_ack.duration_since(started),
        publish_elapsed: last_confirm.duration_since(started),
        left_in_queue,
        cpu,
    })
}

async fn connect(url: &str, name: &str) -> anyhow::Result<Connection> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect(url, properties)
        .await
        .with_context(|| format!("connect {name}"))
}

/// The same shape as the bus topology: a durable topic exchange, a durable quorum
/// queue bound to the event type.
async fn declare(channel: &Channel) -> anyhow::Result<()> {
    channel
        .exchange_declare(
            EXCHANGE.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        ShortString::from("x-queue-type"),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    channel
        .queue_declare(
            QUEUE.into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            arguments,
        )
        .await?;
    channel
        .queue_bind(
            QUEUE.into(),
            EXCHANGE.into(),
            EVENT_TYPE.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// Publishes every message, `window` at a time, each window fully confirmed before
/// the next; returns when the last confirm arrived.
async fn publish(
    channel: Channel,
    messages: Arc<Vec<RawMessage>>,
    window: usize,
) -> anyhow::Result<Instant> {
    for chunk in messages.chunks(window) {
        let publishes = chunk.iter().map(|message| {
            channel.basic_publish(
                EXCHANGE.into(),
                EVENT_TYPE.into(),
                BasicPublishOptions::default(),
                &message.body,
                message.properties(),
            )
        });
        let confirms = join_in_order(publishes)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        for confirmation in join_in_order(confirms).await {
            anyhow::ensure!(confirmation?.is_ack(), "the broker refused a message");
        }
    }
    Ok(Instant::now())
}

/// Acknowledges deliveries one by one until `events` were; returns when the last
/// ack was sent.
async fn consume(
    mut deliveries: lapin::Consumer,
    events: u64,
    acknowledged: Arc<AtomicU64>,
) -> anyhow::Result<Instant> {
    while acknowledged.load(Ordering::Relaxed) < events {
        let delivery = deliveries
            .next()
            .await
            .context("the broker cancelled the consumer")??;
        delivery.ack(BasicAckOptions::default()).await?;
        acknowledged.fetch_add(1, Ordering::Relaxed);
    }
    Ok(Instant::now())
}

/// Waits for the consumer, failing if it makes no progress for [`STALL_TIMEOUT`].
async fn watch(
    mut consuming: tokio::task::JoinHandle<anyhow::Result<Instant>>,
    acknowledged: &AtomicU64,
) -> anyhow::Result<Instant> {
    let mut last_count = 0;
    let mut last_progress = Instant::now();
    loop {
        tokio::select! {
            finished = &mut consuming => return finished.context("consumer task")?,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let count = acknowledged.load(Ordering::Relaxed);
        if count != last_count {
            last_count = count;
            last_progress = Instant::now();
        } else if last_progress.elapsed() > STALL_TIMEOUT {
            consuming.abort();
            anyhow::bail!("the raw consumer stalled at {count} acknowledged messages");
        }
    }
}
