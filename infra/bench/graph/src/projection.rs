//! The projection phase: every event of the network, already in the producers'
//! outbox, published by their relay to the graph's vhost; the graph consumes and
//! projects them. The clock starts when the relay starts (the first publish) and
//! stops when the graph's `knows` table holds every edge.
//!
//! Progress is read from the graph's inbox (one row per handled event, committed
//! with its effect), which is cheap to count, every [`POLL_EVERY`]; the `knows`
//! table is counted once the inbox holds every event. The run fails when nothing
//! moves for [`STALL`], when the graph exits, or when the disk runs low.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use anyhow::Context;
use six_bench_support::{
    cpu::{CpuUsage, ServiceProcess, Tracker},
    memory::Memory,
    producers::Producers,
};
use six_events::{
    EventData, api::ProfileUpdated, auth::UserRegistered, importer::ContactsImported,
};
use sqlx::PgPool;

use crate::{
    disk::DiskGuard,
    events::{Accounts, EventCounts},
    network::Network,
    publisher,
    service::GraphProcess,
};

/// How often progress is read.
pub const POLL_EVERY: Duration = Duration::from_millis(250);

/// How often the CPU counters are read.
const CPU_READ_EVERY: Duration = Duration::from_millis(100);

/// The run fails when neither publishing nor handling moved for this long (longer
/// than the bus's first retry delays, so that a retried event is not a stall).
const STALL: Duration = Duration::from_secs(120);

/// Longest wait for `knows` to hold every edge once the inbox holds every event
/// (they commit together, so it should already).
const KNOWS_DEADLINE: Duration = Duration::from_secs(30);

/// Time between two entries of the timeline.
const TIMELINE_STEP: Duration = Duration::from_secs(1);

/// How far the run got at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Time since the relay started.
    pub at: Duration,
    /// Events the relay published and saw confirmed (gone from the outbox).
    pub published: usize,
    /// Registrations the graph handled.
    pub registrations: usize,
    /// Profiles the graph handled.
    pub profiles: usize,
    /// Contact batches the graph handled.
    pub batches: usize,
}

impl Progress {
    /// Whether `other` got exactly as far (at whatever time).
    fn same_counts(&self, other: &Progress) -> bool {
        Progress {
            at: other.at,
            ..*self
        } == *other
    }

    /// Events handled.
    pub fn handled(&self) -> usize {
        self.registrations + self.profiles + self.batches
    }
}

/// What the projection phase measured.
#[derive(Debug, Clone)]
pub struct ProjectionFigures {
    /// The events published.
    pub events: EventCounts,
    /// KNOWS edges the events carry.
    pub edges: usize,
    /// Time to fill the outbox, before the clock started.
    pub fill: Duration,
    /// Size of the filled outbox.
    pub outbox_bytes: i64,
    /// First publish → `knows` holds every edge: the figure.
    pub elapsed: Duration,
    /// First publish → the outbox is empty (every event confirmed by the broker).
    pub published_after: Option<Duration>,
    /// First publish → the first batch seen handled.
    pub first_batch_after: Option<Duration>,
    /// First publish → every registration and profile seen handled.
    pub small_events_after: Option<Duration>,
    /// Progress, about every [`TIMELINE_STEP`].
    pub timeline: Vec<Progress>,
    /// Rows of `knows` at the end.
    pub knows_rows: i64,
    /// Rows of `persons` at the end.
    pub persons_rows: i64,
    /// Persons the network has (users and every non-user someone knows).
    pub expected_persons: usize,
    /// The graph's database.
    pub database_name: String,
    /// Size of the graph's database at the end.
    pub database_bytes: i64,
    /// Size of `knows` with its indexes at the end.
    pub knows_bytes: i64,
    /// Where the CPU went, first publish to the end.
    pub cpu: CpuUsage,
    /// The graph once ready, before the first publish.
    pub memory_before: Memory,
    /// The graph at the end of the phase.
    pub memory_after: Memory,
}

impl ProjectionFigures {
    /// KNOWS edges per second, first publish → all in `knows`.
    pub fn edges_per_second(&self) -> f64 {
        self.edges as f64 / self.elapsed.as_secs_f64()
    }

    /// Events per second, first publish → all handled.
    pub fn events_per_second(&self) -> f64 {
        self.events.total() as f64 / self.elapsed.as_secs_f64()
    }

    /// KNOWS edges per second from the first batch seen handled to the end: the
    /// rate of the batches alone, without the registrations and profiles before.
    pub fn batch_edges_per_second(&self) -> Option<f64> {
        let first = self.first_batch_after?;
        let span = self.elapsed.checked_sub(first)?;
        (span > Duration::ZERO).then(|| self.edges as f64 / span.as_secs_f64())
    }
}

/// Runs the projection of `network` (its users with `accounts`) into `graph`; the
/// network has `expected_persons` persons.
pub async fn run(
    graph: &mut GraphProcess,
    network: &Network,
    accounts: &Accounts,
    expected_persons: usize,
    batch_contacts: usize,
    disk: &DiskGuard,
) -> anyhow::Result<ProjectionFigures> {
    let events = EventCounts::of(network, batch_contacts);
    let edges = network.edges();

    let producers = Producers::create().await?;
    let filling = Instant::now();
    publisher::write_all(&producers, network, accounts, batch_contacts)
        .await
        .context("fill the producers' outbox")?;
    let fill = filling.elapsed();
    let outbox_bytes = producers.outbox_bytes().await?;
    disk.check()?;

    let pool = graph.database.pool();
    let memory_before = Memory::read(graph.service.pid())?;
    let cpu = Tracker::start_with_process(
        CPU_READ_EVERY,
        ServiceProcess {
            pid: graph.service.pid(),
            service: "graph",
        },
    );
    let started = Instant::now();
    let publishing = producers.start_relay(graph.vhost.amqp_url(), "graph-bench-producers");

    let mut timeline: Vec<Progress> = Vec::new();
    let mut published_after = None;
    let mut first_batch_after = None;
    let mut small_events_after = None;
    let mut last_change = (Progress::default(), Instant::now());
    let mut producers = Some(producers);
    let mut publishing = Some(publishing);
    loop {
        tokio::time::sleep(POLL_EVERY).await;
        graph.service.check_alive()?;
        disk.check()
            .with_context(|| format!("last graph log lines:\n{}", graph.service.log().tail()))?;
        let waiting = match &producers {
            Some(producers) => usize::try_from(producers.waiting().await?).unwrap_or(0),
            None => 0,
        };
        let mut now = handled(&pool).await?;
        now.at = started.elapsed();
        now.published = events.total().saturating_sub(waiting);
        if published_after.is_none() && waiting == 0 {
            published_after = Some(now.at);
            // Everything is on the broker: the producers' database can go, which
            // gives its disk space back while the graph keeps writing.
            if let Some(relay) = publishing.take() {
                relay.stop().await?;
            }
            if let Some(producers) = producers.take() {
                producers.remove().await;
            }
        }
        if first_batch_after.is_none() && now.batches > 0 {
            first_batch_after = Some(now.at);
        }
        if small_events_after.is_none()
            && now.registrations == events.registrations
            && now.profiles == events.profiles
        {
            small_events_after = Some(now.at);
        }
        if timeline
            .last()
            .is_none_or(|last| now.at - last.at >= TIMELINE_STEP)
        {
            timeline.push(now);
        }
        if now.handled() >= events.total() {
            break;
        }
        if !now.same_counts(&last_change.0) {
            last_change = (now, Instant::now());
        } else if last_change.1.elapsed() > STALL {
            anyhow::bail!(
                "the projection stalled: {} of {} events published, {} handled, nothing moved \
                 for {} s; the graph's warnings:\n{}\nlast graph log lines:\n{}",
                now.published,
                events.total(),
                now.handled(),
                STALL.as_secs(),
                graph.service.log().problems().join("\n"),
                graph.service.log().tail()
            );
        }
    }
    let expected = i64::try_from(edges).unwrap_or(i64::MAX);
    let deadline = Instant::now() + KNOWS_DEADLINE;
    let knows_rows = loop {
        let rows = count(&pool, "SELECT count(*) FROM knows").await?;
        if rows >= expected {
            break rows;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "every event was handled but `knows` holds {rows} of {expected} edges after {} s",
            KNOWS_DEADLINE.as_secs()
        );
        tokio::time::sleep(POLL_EVERY).await;
    };
    let elapsed = started.elapsed();
    let cpu = cpu.finish();
    let memory_after = Memory::read(graph.service.pid())?;
    let mut end = handled(&pool).await?;
    end.at = elapsed;
    end.published = events.total();
    timeline.push(end);
    if let Some(relay) = publishing.take() {
        relay.stop().await?;
    }
    if let Some(producers) = producers.take() {
        producers.remove().await;
    }

    Ok(ProjectionFigures {
        events,
        edges,
        fill,
        outbox_bytes,
        elapsed,
        published_after,
        first_batch_after,
        small_events_after,
        timeline,
        knows_rows,
        persons_rows: count(&pool, "SELECT count(*) FROM persons").await?,
        expected_persons,
        database_name: graph.database.name().to_owned(),
        database_bytes: count(&pool, "SELECT pg_database_size(current_database())").await?,
        knows_bytes: count(&pool, "SELECT pg_total_relation_size('knows')").await?,
        cpu,
        memory_before,
        memory_after,
    })
}

/// Events the graph handled so far, by type (from its inbox).
async fn handled(pool: &PgPool) -> anyhow::Result<Progress> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT event_type, count(*) FROM bus_inbox GROUP BY event_type")
            .fetch_all(pool)
            .await
            .context("count the graph's inbox")?;
    let by_type: HashMap<String, usize> = rows
        .into_iter()
        .map(|(event_type, handled)| (event_type, usize::try_from(handled).unwrap_or(0)))
        .collect();
    let of = |event_type: &str| by_type.get(event_type).copied().unwrap_or(0);
    Ok(Progress {
        registrations: of(UserRegistered::TYPE),
        profiles: of(ProfileUpdated::TYPE),
        batches: of(ContactsImported::TYPE),
        ..Progress::default()
    })
}

async fn count(pool: &PgPool, query: &'static str) -> anyhow::Result<i64> {
    sqlx::query_scalar(query)
        .fetch_one(pool)
        .await
        .with_context(|| format!("query `{query}`"))
}
