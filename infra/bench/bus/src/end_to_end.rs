//! End to end: writers insert events into the outbox with `six_bus::publish_all`, the
//! `six_bus::Relay` publishes them (persistent, confirmed) to a quorum queue, and a
//! `six_bus::Consumer` handles each in a transaction that records it in the inbox
//! and inserts one row into an effects table.
//!
//! Rate = events / (first insert → the moment the effects table holds them all).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use secrecy::SecretString;
use six_bench_support::cpu::{CpuUsage, Snapshot};
use six_bus::{BusConfig, Consumer, Handler, HandlerError, QueueType, Relay};
use six_events::DomainEvent;
use six_testkit::{TestDatabase, TestVhost};
use sqlx::{PgConnection, PgPool, postgres::PgPoolOptions};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    meter::{self, BusMeter},
    sample::{self, EVENT_TYPE},
    settings::Settings,
};

/// The handler's side effect: one row per event.
pub(crate) const EFFECTS_TABLE: &str = "
CREATE TABLE bench_effects (
    event_id     UUID        PRIMARY KEY,
    user_id      UUID        NOT NULL,
    display_name TEXT        NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT now()
)";

/// A run fails when no event was handled for this long.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the handled count is looked at while events flow.
const PROGRESS_POLL: Duration = Duration::from_millis(2);

/// Time between two entries of the timeline.
const TIMELINE_STEP: Duration = Duration::from_millis(500);

/// What the end-to-end run measured.
#[derive(Debug, Clone)]
pub struct EndToEnd {
    /// Events written.
    pub events: u64,
    /// First insert to the last effect committed.
    pub elapsed: Duration,
    /// First insert to the writers' last commit.
    pub write_elapsed: Duration,
    /// First insert to the relay's last confirmed batch (when the meter is installed).
    pub publish_elapsed: Option<Duration>,
    /// Mean time of one handler, database transaction included (when metered).
    pub handler_mean: Option<Duration>,
    /// Mean deliveries per consumer batch (when metered).
    pub batch_mean: Option<f64>,
    /// Progress over time.
    pub timeline: Vec<Progress>,
    /// Rows in the effects table at the end.
    pub effects: i64,
    /// Rows in the inbox at the end.
    pub inbox: i64,
    /// Rows left in the outbox at the end.
    pub outbox: i64,
    /// Deliveries that were not handled the first time (duplicates, retries, parked).
    pub not_handled: u64,
    /// Where the CPU went meanwhile.
    pub cpu: CpuUsage,
}

/// How far each stage got at one moment of the run.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Time since the first insert.
    pub at: Duration,
    /// Events committed to the outbox.
    pub written: u64,
    /// Events the relay published and saw confirmed.
    pub published: u64,
    /// Events whose handler finished.
    pub handled: u64,
}

impl EndToEnd {
    /// Events per second, first insert to last effect.
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }

    /// Whether every event had exactly one effect and nothing is left behind.
    pub fn consistent(&self) -> bool {
        let events = i64::try_from(self.events).unwrap_or(i64::MAX);
        self.effects == events && self.inbox == events && self.outbox == 0 && self.not_handled == 0
    }
}

/// Records each event in `bench_effects`, in the consumer's transaction.
struct RecordEffects {
    /// Handlers that finished (their commit may still be on its way).
    handled: Arc<AtomicU64>,
}

impl Handler for RecordEffects {
    fn event_types(&self) -> Vec<&'static str> {
        vec![EVENT_TYPE]
    }

    async fn handle(
        &self,
        event: &DomainEvent,
        transaction: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let DomainEvent::UserRegistered(registered) = event else {
            return Err(HandlerError::Permanent(format!(
                "unexpected event `{}`",
                event.routing_key()
            )));
        };
        sqlx::query(
            "INSERT INTO bench_effects (event_id, user_id, display_name) VALUES ($1, $2, $3)",
        )
        .bind(registered.meta().id)
        .bind(registered.data().user_id)
        .bind(&registered.data().display_name)
        .execute(&mut *transaction)
        .await?;
        self.handled.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// A pool on `database` with the bus tables and the effects table; the options
/// of `six_kit::db::connect`, with the pool size and ping to try.
pub(crate) async fn prepared_pool(
    settings: &Settings,
    database: &TestDatabase,
) -> anyhow::Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(settings.pool_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(settings.pool_ping)
        .connect(&database.url())
        .await
        .context("connect to the benchmark database")?;
    six_bus::migrator()
        .run(&pool)
        .await
        .context("bus migrations")?;
    sqlx::raw_sql(EFFECTS_TABLE)
        .execute(&pool)
        .await
        .context("create the effects table")?;
    Ok(pool)
}

/// Runs the end-to-end benchmark on a fresh database and vhost.
pub async fn run(settings: &Settings) -> anyhow::Result<EndToEnd> {
    let database = TestDatabase::create().await;
    let vhost = TestVhost::create().await;
    let pool = prepared_pool(settings, &database).await?;

    let config = Arc::new(bus_config(settings.amqp_url(&vhost), settings));
    let handled = Arc::new(AtomicU64::new(0));
    let consumer = Consumer::new(
        pool.clone(),
        config.clone(),
        RecordEffects {
            handled: handled.clone(),
        },
    );
    let consumer_link = consumer.link();
    let relay = Relay::new(pool.clone(), config).publish_after(consumer_link.clone());
    let relay_link = relay.link();
    let stop = CancellationToken::new();
    let consuming = tokio::spawn(consumer.run(stop.clone()));
    let relaying = tokio::spawn(relay.run(stop.clone()));
    six_testkit::poll_for(
        Duration::from_secs(30),
        "the relay and the consumer are connected",
        || async { (consumer_link.is_up() && relay_link.is_up()).then_some(()) },
    )
    .await?;

    let result = measure(settings, &pool, &handled).await;

    stop.cancel();
    for (task, name) in [(consuming, "consumer"), (relaying, "relay")] {
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .with_context(|| format!("the {name} did not stop"))?
            .with_context(|| format!("the {name} task"))?;
    }
    pool.close().await;
    result
}

/// Writes the events and follows them until every effect is committed; the relay
/// and the consumer are running.
async fn measure(
    settings: &Settings,
    pool: &PgPool,
    handled: &AtomicU64,
) -> anyhow::Result<EndToEnd> {
    let meter = meter::bus_meter();
    let read_meter = || meter.map(BusMeter::read).unwrap_or_default();
    let meter_before = read_meter();
    let cpu = Snapshot::take();
    let started = Instant::now();
    let written = Arc::new(AtomicU64::new(0));
    let writing = spawn_writers(pool, settings, written.clone());

    let mut timeline: Vec<Progress> = Vec::new();
    let mut all_published = None;
    let mut progress = || {
        let published = read_meter().since(meter_before).published;
        if published >= settings.events && all_published.is_none() {
            all_published = Some(started.elapsed());
        }
        Progress {
            at: started.elapsed(),
            written: written.load(Ordering::Relaxed),
            published,
            handled: handled.load(Ordering::Relaxed),
        }
    };
    let written_at = wait_for_handlers(settings.events, writing, || {
        let now = progress();
        if timeline
            .last()
            .is_none_or(|last| now.at - last.at >= TIMELINE_STEP)
        {
            timeline.push(now);
        }
        now.handled
    })
    .await?;
    // The handlers are done; their commits may be a moment behind.
    let events = i64::try_from(settings.events).unwrap_or(i64::MAX);
    wait_for_count(pool, "bench_effects", events).await?;
    let elapsed = started.elapsed();
    let cpu = cpu.usage_since();
    timeline.push(progress());
    let metered = read_meter().since(meter_before);

    // The relay deletes a batch after its confirms, possibly after the consumer
    // already handled it: give it a moment. A non-empty outbox is reported below.
    let _ = six_testkit::poll_for(Duration::from_secs(10), "the outbox is empty", || async {
        count(pool, "bus_outbox")
            .await
            .ok()
            .filter(|left| *left == 0)
    })
    .await;
    Ok(EndToEnd {
        events: settings.events,
        elapsed,
        write_elapsed: written_at.duration_since(started),
        publish_elapsed: meter.and(all_published),
        handler_mean: metered.handler_mean(),
        batch_mean: metered.batch_mean(),
        timeline,
        effects: count(pool, "bench_effects").await?,
        inbox: count(pool, "bus_inbox").await?,
        outbox: count(pool, "bus_outbox").await?,
        not_handled: metered.not_handled,
        cpu,
    })
}

fn bus_config(amqp_url: String, settings: &Settings) -> BusConfig {
    let mut config = BusConfig::new(SecretString::from(amqp_url), "bench");
    config.queue_type = QueueType::Quorum;
    config.prefetch = settings.prefetch;
    config.max_concurrent_handlers = settings.handler_concurrency;
    config.handler_batch_size = settings.handler_batch;
    config.relay_batch_size = settings.relay_batch;
    config
}

/// Starts the writers, each inserting its share of the events on its own
/// connection; the task ends when the last one committed.
fn spawn_writers(
    pool: &PgPool,
    settings: &Settings,
    written: Arc<AtomicU64>,
) -> JoinHandle<anyhow::Result<Instant>> {
    let share = settings.events.div_ceil(settings.writers);
    let writers: Vec<_> = (0..settings.writers)
        .map(|writer| {
            let indexes =
                (writer * share).min(settings.events)..((writer + 1) * share).min(settings.events);
            let (pool, written, per_transaction, publish_all) = (
                pool.clone(),
                written.clone(),
                settings.writer_batch,
                settings.publish_all,
            );
            tokio::spawn(async move {
                sample::write_to_outbox(&pool, indexes, per_transaction, publish_all, &written)
                    .await
            })
        })
        .collect();
    tokio::spawn(async move {
        for writer in writers {
            writer.await.context("writer task")??;
        }
        anyhow::Ok(Instant::now())
    })
}

/// Polls `handled` (which reads the handled count and records progress) until it
/// reaches `events`, failing when progress stops or a writer fails; returns when
/// the writers committed their last transaction.
async fn wait_for_handlers(
    events: u64,
    mut writing: JoinHandle<anyhow::Result<Instant>>,
    mut handled: impl FnMut() -> u64,
) -> anyhow::Result<Instant> {
    let mut written = None;
    let mut last_count = 0;
    let mut last_progress = Instant::now();
    loop {
        if written.is_none() && writing.is_finished() {
            written = Some((&mut writing).await.context("writers")??);
        }
        let count = handled();
        if count >= events {
            break;
        }
        if count != last_count {
            last_count = count;
            last_progress = Instant::now();
        } else if last_progress.elapsed() > STALL_TIMEOUT {
            writing.abort();
            anyhow::bail!("the consumer stalled at {count} of {events} events handled");
        }
        tokio::time::sleep(PROGRESS_POLL).await;
    }
    match written {
        Some(written) => Ok(written),
        None => writing.await.context("writers")?,
    }
}

/// Waits until `table` holds at least `rows` rows.
async fn wait_for_count(pool: &PgPool, table: &str, rows: i64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(pool, table).await? < rows {
        anyhow::ensure!(
            Instant::now() < deadline,
            "{table} never reached {rows} rows"
        );
        tokio::time::sleep(PROGRESS_POLL).await;
    }
    Ok(())
}

async fn count(pool: &PgPool, table: &str) -> anyhow::Result<i64> {
    let sql = format!("SELECT count(*) FROM {table}");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await
        .with_context(|| format!("count {table}"))
}
