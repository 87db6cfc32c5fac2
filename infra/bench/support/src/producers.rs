//! The other services' side of the bus, for benchmarks that feed a service
//! events: a database of its own with the bus's outbox, filled before the clock
//! starts (through `six_bus::publish_all`, as producers write them), and a
//! `six_bus::Relay` that publishes them (persistent, with confirms) to the
//! service's vhost once started. The service's queue is bound by then, so every
//! event reaches it.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use secrecy::SecretString;
use six_bus::{BusConfig, Relay};
use six_events::{Envelope, EventData};
use six_testkit::TestDatabase;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The outbox of the stand-in producers, filled and not yet published.
pub struct Producers {
    database: TestDatabase,
    pool: PgPool,
}

/// The relay publishing the outbox, until stopped.
pub struct Publishing {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Producers {
    /// Creates the producers' database with the bus's tables.
    pub async fn create() -> anyhow::Result<Self> {
        let database = TestDatabase::create().await;
        let pool = database.pool();
        six_bus::migrator()
            .run(&pool)
            .await
            .context("bus migrations of the producers' database")?;
        Ok(Self { database, pool })
    }

    /// Writes `events` to the outbox in one transaction, in order.
    pub async fn write<T: EventData>(
        &self,
        events: impl IntoIterator<Item = Envelope<T>>,
    ) -> anyhow::Result<()> {
        let mut transaction = self.pool.begin().await.context("begin")?;
        six_bus::publish_all(&mut transaction, events)
            .await
            .context("write events to the outbox")?;
        transaction
            .commit()
            .await
            .context("commit the outbox rows")?;
        Ok(())
    }

    /// Events still waiting in the outbox (the relay deletes each once confirmed).
    pub async fn waiting(&self) -> anyhow::Result<i64> {
        sqlx::query_scalar("SELECT count(*) FROM bus_outbox")
            .fetch_one(&self.pool)
            .await
            .context("count the outbox")
    }

    /// Bytes of the outbox table (TOAST included): what the relay reads.
    pub async fn outbox_bytes(&self) -> anyhow::Result<i64> {
        sqlx::query_scalar("SELECT pg_total_relation_size('bus_outbox')")
            .fetch_one(&self.pool)
            .await
            .context("size the outbox")
    }

    /// Starts the relay, named `relay_name` in the broker: publishes to
    /// `amqp_url` (the service's vhost) from now on.
    pub fn start_relay(&self, amqp_url: String, relay_name: &str) -> Publishing {
        let config = BusConfig::new(SecretString::from(amqp_url), relay_name);
        let relay = Relay::new(self.pool.clone(), Arc::new(config));
        let stop = CancellationToken::new();
        let task = tokio::spawn(relay.run(stop.clone()));
        Publishing { stop, task }
    }

    /// Drops the database (its disk space is better given back during the run).
    pub async fn remove(self) {
        self.pool.close().await;
        drop(self.database);
    }
}

impl Publishing {
    /// Stops the relay (after it published what is left; it is empty by now).
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .context("the relay did not stop")?
            .context("the relay task")
    }
}

/// `range` in consecutive pieces of at most `size`: the transactions of a fill.
pub fn chunks(
    range: std::ops::Range<usize>,
    size: usize,
) -> impl Iterator<Item = std::ops::Range<usize>> {
    let size = size.max(1);
    let end = range.end;
    range
        .step_by(size)
        .map(move |start| start..(start + size).min(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_cut_into_pieces_that_cover_it_once() {
        let pieces: Vec<_> = chunks(0..7, 3).collect();

        assert_eq!(pieces, vec![0..3, 3..6, 6..7]);
        assert_eq!(chunks(0..0, 3).count(), 0);
    }
}
