//! The notifier as its own process, so that its memory and CPU are its own: the
//! release binary of `services/notifier` on a fresh database and vhost, port 0,
//! sending e-mail to the SMTP sink and webhook calls to the receiver of this
//! process (plain HTTP on 127.0.0.1, which `NOTIFIER_WEBHOOK_PRIVATE_ADDRESSES`
//! and `NOTIFIER_WEBHOOK_REQUIRE_HTTPS` allow), verifying the tokens of a
//! [`TestIssuer`] in this process. Everything else is its production default
//! (dispatch batches of 100, 8 sends at once, 4 SMTP connections, the kit's bus
//! defaults of 16 consumer transactions of up to 32 events, a pool of 10
//! connections shared by the consumer and the dispatcher) unless an option says
//! otherwise ([`Overrides`]). Running the process is
//! [`six_bench_support::service`]'s.

use std::{
    path::{Path, PathBuf},
    process::ExitStatus,
};

use anyhow::Context;
use six_bench_support::service::{RunningService, service_binary, service_command};
use six_kit::testing::TestIssuer;
use six_testkit::{TestDatabase, TestVhost};
use sqlx::PgPool;

/// The service binary's name, and its directory under `services/`.
const BINARY: &str = "notifier";

/// The sender of every e-mail.
const SENDER: &str = "Six Degrees <no-reply@six-degrees.test>";

/// Where links in messages point.
const PUBLIC_URL: &str = "https://six-degrees.test";

/// The key of unsubscribe links (the service wants at least 32 bytes).
const UNSUBSCRIBE_SECRET: &str = "six-bench-notifier-unsubscribe-key-0123456789";

/// Finds the notifier binary: `explicit` if given; else, under `cargo run`, builds
/// `services/notifier` (release unless this is a debug build) into this binary's
/// target directory and uses it; else expects it there already.
pub async fn binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    service_binary(BINARY, explicit).await
}

/// What the notifier runs with besides its defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `NOTIFIER_DISPATCH_BATCH_SIZE`: deliveries claimed at once.
    pub dispatch_batch: Option<usize>,
    /// `NOTIFIER_SEND_CONCURRENCY`: messages being sent at once.
    pub send_concurrency: Option<usize>,
    /// `SMTP_POOL_SIZE`: connections kept open to the mail server.
    pub smtp_pool: Option<usize>,
    /// `BUS_MAX_CONCURRENT_HANDLERS`: consumer transactions at once.
    pub handler_concurrency: Option<usize>,
    /// `BUS_HANDLER_BATCH_SIZE`: most events per consumer transaction.
    pub handler_batch: Option<usize>,
    /// `DATABASE_MAX_CONNECTIONS`: the pool the consumer and the dispatcher share.
    pub db_pool: Option<usize>,
}

impl Overrides {
    /// The variables these overrides set.
    pub fn variables(&self) -> Vec<(&'static str, String)> {
        [
            ("NOTIFIER_DISPATCH_BATCH_SIZE", self.dispatch_batch),
            ("NOTIFIER_SEND_CONCURRENCY", self.send_concurrency),
            ("SMTP_POOL_SIZE", self.smtp_pool),
            ("BUS_MAX_CONCURRENT_HANDLERS", self.handler_concurrency),
            ("BUS_HANDLER_BATCH_SIZE", self.handler_batch),
            ("DATABASE_MAX_CONNECTIONS", self.db_pool),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?.to_string())))
        .collect()
    }
}

/// A running notifier process with its own database and vhost.
pub struct NotifierProcess {
    /// The process.
    pub service: RunningService,
    /// Its database (dropped, with the data, after the process stops).
    pub database: TestDatabase,
    /// Its vhost, where the events are published.
    pub vhost: TestVhost,
    /// What its database holds, for the bench's progress and checks.
    pub counts: Counts,
}

impl NotifierProcess {
    /// Starts the notifier from `binary`, sending e-mail to `smtp_url` and
    /// verifying the tokens of `issuer`; returns once it is ready (`/readyz`:
    /// database up, consumer and relay connected, so its queue is declared and
    /// bound).
    pub async fn start(
        binary: &Path,
        issuer: &TestIssuer,
        smtp_url: &str,
        overrides: &Overrides,
    ) -> anyhow::Result<Self> {
        let database = TestDatabase::create().await;
        let vhost = TestVhost::create().await;
        let mut command = service_command(binary, &database.url(), &vhost.amqp_url());
        command
            .arg("serve")
            .envs(issuer.env_vars())
            .env("SMTP_URL", smtp_url)
            .env("SMTP_FROM", SENDER)
            .env("NOTIFIER_PUBLIC_URL", PUBLIC_URL)
            .env("NOTIFIER_UNSUBSCRIBE_SECRET", UNSUBSCRIBE_SECRET)
            .env("NOTIFIER_WEBHOOK_PRIVATE_ADDRESSES", "true")
            .env("NOTIFIER_WEBHOOK_REQUIRE_HTTPS", "false")
            .envs(overrides.variables());
        let service = RunningService::start(BINARY, command).await?;
        let counts = Counts {
            pool: database.pool(),
        };
        Ok(Self {
            service,
            database,
            vhost,
            counts,
        })
    }

    /// Sends SIGTERM and waits for the exit; then drops its database and vhost.
    pub async fn stop(self) -> anyhow::Result<ExitStatus> {
        let status = self.service.stop().await?;
        self.counts.pool.close().await;
        Ok(status)
    }
}

/// Counts from the notifier's database (a cheap handle: clone it freely).
#[derive(Debug, Clone)]
pub struct Counts {
    pool: PgPool,
}

/// The delivery log by state, for one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// Not yet sent (due, claimed, or waiting for a retry).
    pub pending: i64,
    /// Sent.
    pub sent: i64,
    /// Given up on.
    pub failed: i64,
    /// Attempts made, all together (more than sent + failed means retries).
    pub attempts: i64,
}

impl DeliveryCounts {
    /// Sent or given up on: the dispatcher is done with them.
    pub fn settled(&self) -> i64 {
        self.sent + self.failed
    }
}

impl Counts {
    /// Users the notifier knows (their registration was handled).
    pub async fn recipients(&self) -> anyhow::Result<i64> {
        self.count("SELECT count(*) FROM recipients").await
    }

    /// Events the notifier handled (its inbox).
    pub async fn handled(&self) -> anyhow::Result<i64> {
        self.count("SELECT count(*) FROM bus_inbox").await
    }

    /// The delivery log of `channel` (`email` or `webhook`) by state.
    pub async fn deliveries(&self, channel: &str) -> anyhow::Result<DeliveryCounts> {
        let (pending, sent, failed, attempts): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE state = 'pending'), \
                    count(*) FILTER (WHERE state = 'sent'), \
                    count(*) FILTER (WHERE state = 'failed'), \
                    coalesce(sum(attempts), 0)::bigint \
             FROM deliveries WHERE channel = $1",
        )
        .bind(channel)
        .fetch_one(&self.pool)
        .await
        .context("count the delivery log")?;
        Ok(DeliveryCounts {
            pending,
            sent,
            failed,
            attempts,
        })
    }

    /// Deliveries of any channel not yet sent or given up on.
    pub async fn pending(&self) -> anyhow::Result<i64> {
        self.count("SELECT count(*) FROM deliveries WHERE state = 'pending'")
            .await
    }

    /// Bytes of the database (tables, indexes, TOAST).
    pub async fn database_bytes(&self) -> anyhow::Result<i64> {
        self.count("SELECT pg_database_size(current_database())")
            .await
    }

    async fn count(&self, sql: &'static str) -> anyhow::Result<i64> {
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .with_context(|| format!("the notifier's database: {sql}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_asked_overrides_are_set() {
        assert!(Overrides::default().variables().is_empty());
        let overrides = Overrides {
            send_concurrency: Some(32),
            ..Overrides::default()
        };

        assert_eq!(
            overrides.variables(),
            vec![("NOTIFIER_SEND_CONCURRENCY", "32".to_owned())]
        );
    }

    #[test]
    fn the_unsubscribe_key_is_long_enough_for_the_service() {
        assert!(UNSUBSCRIBE_SECRET.len() >= 32);
    }
}
