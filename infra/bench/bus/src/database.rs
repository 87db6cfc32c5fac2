//! The database ceiling: the consumer's transactions alone, without a broker.
//! `handler_concurrency` tasks each take the next event and run what the bus
//! consumer runs for a lone delivery (take a pooled connection, `BEGIN`, insert into
//! the inbox, insert the effect, `COMMIT`), so the figure says how many events per
//! second one transaction per event allows on this machine, whatever the broker does.
//!
//! With `db_batch` > 1, a transaction holds that many events (inbox and effect rows
//! for each), as when the consumer applies deliveries in batches.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use six_bench_support::cpu::{CpuUsage, Snapshot};
use six_testkit::TestDatabase;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{end_to_end::prepared_pool, sample::EVENT_TYPE, settings::Settings};

/// What the database ceiling measured.
#[derive(Debug, Clone)]
pub struct DatabaseCeiling {
    /// Events handled.
    pub events: u64,
    /// Events per transaction.
    pub per_transaction: u64,
    /// First transaction to the last commit.
    pub elapsed: Duration,
    /// Where the CPU went meanwhile.
    pub cpu: CpuUsage,
}

impl DatabaseCeiling {
    /// Events per second.
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs the database ceiling on a fresh database.
pub async fn run(settings: &Settings) -> anyhow::Result<DatabaseCeiling> {
    let database = TestDatabase::create().await;
    let pool = prepared_pool(settings, &database).await?;

    let next = Arc::new(AtomicU64::new(0));
    let cpu = Snapshot::take();
    let started = Instant::now();
    let workers: Vec<_> = (0..settings.handler_concurrency)
        .map(|_| {
            let (pool, next) = (pool.clone(), next.clone());
            let (events, per_transaction) = (settings.events, settings.db_batch);
            tokio::spawn(async move { work(&pool, &next, events, per_transaction).await })
        })
        .collect();
    for worker in workers {
        worker.await.context("database worker")??;
    }
    let elapsed = started.elapsed();
    let cpu = cpu.usage_since();
    pool.close().await;
    Ok(DatabaseCeiling {
        events: settings.events,
        per_transaction: settings.db_batch,
        elapsed,
        cpu,
    })
}

/// Takes `per_transaction` events at a time until all `events` are taken.
async fn work(
    pool: &PgPool,
    next: &AtomicU64,
    events: u64,
    per_transaction: u64,
) -> anyhow::Result<()> {
    loop {
        let first = next.fetch_add(per_transaction, Ordering::Relaxed);
        if first >= events {
            return Ok(());
        }
        let last = events.min(first + per_transaction);
        let mut transaction = pool.begin().await?;
        for index in first..last {
            let event_id = Uuid::now_v7();
            sqlx::query(
                "INSERT INTO bus_inbox (event_id, event_type) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(event_id)
            .bind(EVENT_TYPE)
            .execute(&mut *transaction)
            .await?;
            sqlx::query(
                "INSERT INTO bench_effects (event_id, user_id, display_name) VALUES ($1, $2, $3)",
            )
            .bind(event_id)
            .bind(Uuid::now_v7())
            .bind(format!("Bench User {index}"))
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
    }
}
