//! The indexing phase: every event, already in the producers' outbox, published by
//! their relay to the service's vhost; the service consumes them and indexes their
//! documents. The clock starts when the relay starts (the first publish) and stops
//! when the service's inbox (`bus_inbox`, one row per handled event) holds every
//! event.
//!
//! Why the inbox says "indexed and committed": the service commits the index
//! (tantivy writes the segments, syncs them and reloads its reader, so searches see
//! them) in `Handler::before_commit`, before the database transaction that records
//! the batch's events in the inbox commits (`services/search/src/consumers/
//! projection.rs`, `docs/search.md`, "Projection"). An event is in the inbox only
//! once its documents are durable and searchable. The inbox is read every
//! [`POLL_EVERY`], so the clock stops at most that late; afterwards
//! [`crate::queries::check_owners`] confirms over HTTP that every owner's documents
//! are found. The run fails when nothing moves for [`STALL`] or the service exits.

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
use six_events::{EventData, api::ProfileUpdated, importer::ContactsImported};
use sqlx::PgPool;

use crate::{
    events::{EventCounts, Ids},
    metrics::{Consumer, Scrape},
    people::AddressBooks,
    publisher,
    service::{DirUsage, IndexDir, SearchProcess},
};

/// How often progress is read.
pub const POLL_EVERY: Duration = Duration::from_millis(100);

/// How often the CPU counters are read.
const CPU_READ_EVERY: Duration = Duration::from_millis(100);

/// The run fails when neither publishing nor handling moved for this long (longer
/// than the bus's first retry delays, so that a retried event is not a stall).
const STALL: Duration = Duration::from_secs(120);

/// Time between two entries of the timeline.
const TIMELINE_STEP: Duration = Duration::from_secs(1);

/// How far the run got at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Time since the relay started.
    pub at: Duration,
    /// Events the relay published and saw confirmed (gone from the outbox).
    pub published: usize,
    /// Profiles the service handled.
    pub profiles: usize,
    /// Contact batches the service handled.
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
        self.profiles + self.batches
    }
}

/// What the indexing phase measured.
#[derive(Debug, Clone)]
pub struct IndexingFigures {
    /// The events published.
    pub events: EventCounts,
    /// Contacts per batch, at most.
    pub batch_contacts: usize,
    /// Time to fill the outbox, before the clock started.
    pub fill: Duration,
    /// Size of the filled outbox.
    pub outbox_bytes: i64,
    /// First publish → the inbox holds every event: the figure.
    pub elapsed: Duration,
    /// First publish → the outbox is empty (every event confirmed by the broker).
    pub published_after: Option<Duration>,
    /// First publish → the first batch seen handled.
    pub first_batch_after: Option<Duration>,
    /// Progress, about every [`TIMELINE_STEP`].
    pub timeline: Vec<Progress>,
    /// Where the CPU went, first publish to the end.
    pub cpu: CpuUsage,
    /// The consumer's transactions, by the service's metrics.
    pub consumer: Consumer,
    /// The service once ready, before the first publish.
    pub memory_before: Memory,
    /// The service at the end of the phase.
    pub memory_after: Memory,
    /// The index directory at the end of the phase.
    pub index: DirUsage,
    /// Size of the service's database (inbox and bookkeeping) at the end.
    pub database_bytes: i64,
}

impl IndexingFigures {
    /// Documents indexed per second, first publish → all committed.
    pub fn documents_per_second(&self) -> f64 {
        self.events.documents() as f64 / self.elapsed.as_secs_f64()
    }

    /// Events handled per second over the same time.
    pub fn events_per_second(&self) -> f64 {
        self.events.total() as f64 / self.elapsed.as_secs_f64()
    }

    /// Documents per second from the first batch seen handled to the end: the
    /// rate once the consumer has work, without the relay's start.
    pub fn batch_documents_per_second(&self) -> Option<f64> {
        let first = self.first_batch_after?;
        let span = self.elapsed.checked_sub(first)?;
        (span > Duration::ZERO).then(|| self.events.contacts as f64 / span.as_secs_f64())
    }
}

/// The producers' outbox, filled with every event and not yet published.
pub struct Filled {
    producers: Producers,
    events: EventCounts,
    batch_contacts: usize,
    fill: Duration,
    outbox_bytes: i64,
}

/// Writes every event of `books` (with `ids`) to a new producers' outbox, untimed.
pub async fn fill(
    books: &AddressBooks,
    ids: &Ids,
    batch_contacts: usize,
) -> anyhow::Result<Filled> {
    let producers = Producers::create().await?;
    let filling = Instant::now();
    publisher::write_all(&producers, books, ids, batch_contacts)
        .await
        .context("fill the producers' outbox")?;
    let fill = filling.elapsed();
    let outbox_bytes = producers.outbox_bytes().await?;
    Ok(Filled {
        producers,
        events: EventCounts::of(books, batch_contacts),
        batch_contacts,
        fill,
        outbox_bytes,
    })
}

/// Publishes the `filled` outbox to `search` and times it until every event is
/// handled.
pub async fn run(
    search: &mut SearchProcess,
    filled: Filled,
    index_dir: &IndexDir,
) -> anyhow::Result<IndexingFigures> {
    let Filled {
        producers,
        events,
        batch_contacts,
        fill,
        outbox_bytes,
    } = filled;
    let pool = search.database.pool();
    let client = reqwest::Client::new();
    let metrics_url = search.service.url("/metrics");
    let metrics_before = Scrape::read(&client, &metrics_url).await?;
    let memory_before = Memory::read(search.service.pid())?;
    let cpu = Tracker::start_with_process(
        CPU_READ_EVERY,
        ServiceProcess {
            pid: search.service.pid(),
            service: "search",
        },
    );
    let started = Instant::now();
    let publishing = producers.start_relay(search.vhost.amqp_url(), "search-bench-producers");

    let mut timeline: Vec<Progress> = Vec::new();
    let mut published_after = None;
    let mut first_batch_after = None;
    let mut last_change = (Progress::default(), Instant::now());
    let mut producers = Some(producers);
    let mut publishing = Some(publishing);
    let mut ticks = tokio::time::interval(POLL_EVERY);
    loop {
        ticks.tick().await;
        search.service.check_alive()?;
        let waiting = match &producers {
            Some(producers) => usize::try_from(producers.waiting().await?).unwrap_or(0),
            None => 0,
        };
        let mut now = handled(&pool).await?;
        now.at = started.elapsed();
        now.published = events.total().saturating_sub(waiting);
        if first_batch_after.is_none() && now.batches > 0 {
            first_batch_after = Some(now.at);
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
        if published_after.is_none() && waiting == 0 {
            published_after = Some(now.at);
            // Everything is on the broker: the producers' database can go, which
            // gives its disk space back while the service keeps indexing.
            if let Some(relay) = publishing.take() {
                relay.stop().await?;
            }
            if let Some(producers) = producers.take() {
                producers.remove().await;
            }
        }
        if !now.same_counts(&last_change.0) {
            last_change = (now, Instant::now());
        } else if last_change.1.elapsed() > STALL {
            anyhow::bail!(
                "indexing stalled: {} of {} events published, {} handled, nothing moved for {} s; \
                 the service's warnings:\n{}\nlast log lines:\n{}",
                now.published,
                events.total(),
                now.handled(),
                STALL.as_secs(),
                search.service.log().problems().join("\n"),
                search.service.log().tail()
            );
        }
    }
    let elapsed = started.elapsed();
    let cpu = cpu.finish();
    let memory_after = Memory::read(search.service.pid())?;
    let index = index_dir.usage()?;
    let metrics_after = Scrape::read(&client, &metrics_url).await?;
    let mut end = handled(&pool).await?;
    end.at = elapsed;
    end.published = events.total();
    timeline.push(end);
    if published_after.is_none() {
        published_after = Some(elapsed);
    }
    if let Some(relay) = publishing.take() {
        relay.stop().await?;
    }
    if let Some(producers) = producers.take() {
        producers.remove().await;
    }

    Ok(IndexingFigures {
        events,
        batch_contacts,
        fill,
        outbox_bytes,
        elapsed,
        published_after,
        first_batch_after,
        timeline,
        cpu,
        consumer: Consumer::between(&metrics_before, &metrics_after),
        memory_before,
        memory_after,
        index,
        database_bytes: sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(&pool)
            .await
            .context("size the service's database")?,
    })
}

/// Events the service handled so far, by type (from its inbox).
async fn handled(pool: &PgPool) -> anyhow::Result<Progress> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT event_type, count(*) FROM bus_inbox GROUP BY event_type")
            .fetch_all(pool)
            .await
            .context("count the service's inbox")?;
    let by_type: HashMap<String, usize> = rows
        .into_iter()
        .map(|(event_type, handled)| (event_type, usize::try_from(handled).unwrap_or(0)))
        .collect();
    let of = |event_type: &str| by_type.get(event_type).copied().unwrap_or(0);
    Ok(Progress {
        profiles: of(ProfileUpdated::TYPE),
        batches: of(ContactsImported::TYPE),
        ..Progress::default()
    })
}
