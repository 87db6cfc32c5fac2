//! The e-mail phase: `--users` registrations, each a welcome e-mail, written to
//! the producers' outbox before the clock starts; then timed from the relay's
//! start (the first publish) until the SMTP sink has accepted every welcome.
//! e-mails/s = users / that time. Afterwards, untimed: the delivery log must
//! record every e-mail as sent (the dispatcher writes `sent` after the server's
//! `250`, so it trails the sink a little), and each user must have had exactly
//! one.

use std::{
    collections::HashMap,
    path::Path,
    process::ExitStatus,
    time::{Duration, Instant},
};

use anyhow::Context;
use six_bench_support::{
    memory::Memory,
    postgres::settle,
    producers::{Producers, chunks},
};
use six_kit::testing::TestIssuer;
use sqlx::PgConnection;

use crate::{
    events::{self, User},
    service::{DeliveryCounts, NotifierProcess},
    settings::Settings,
    setup::EVENTS_PER_TRANSACTION,
    smtp_sink::SmtpSink,
    throughput::{self, Timed, nth_earliest},
};

/// Deadline for the delivery log to catch up with the sink.
const LOG_CATCH_UP: Duration = Duration::from_secs(60);

/// What the e-mail phase measured.
#[derive(Debug, Clone)]
pub struct EmailFigures {
    /// Users registered: e-mails expected.
    pub users: usize,
    /// Time to fill the outbox, before the clock started.
    pub fill: Duration,
    /// Size of the filled outbox.
    pub outbox_bytes: i64,
    /// First publish → the sink accepted the last welcome: the figure.
    pub elapsed: Duration,
    /// First publish → the first e-mail accepted.
    pub first_after: Option<Duration>,
    /// Progress, CPU and memory of the timed part.
    pub timed: Timed,
    /// The delivery log's e-mails once it caught up.
    pub deliveries: DeliveryCounts,
    /// How often the users' welcomes arrived.
    pub keys: KeyCheck,
    /// Mean size of an accepted message.
    pub mean_message_bytes: f64,
    /// Size of the notifier's database at the end.
    pub database_bytes: i64,
    /// The notifier just before SIGTERM (its peak is the phase's).
    pub memory_end: Memory,
    /// How the notifier exited after SIGTERM.
    pub exit: ExitStatus,
    /// Warnings and errors the notifier logged.
    pub problems: Vec<String>,
}

impl EmailFigures {
    /// E-mails per second, first publish → the last one accepted.
    pub fn per_second(&self) -> f64 {
        self.users as f64 / self.elapsed.as_secs_f64()
    }

    /// E-mails per second from the first accepted to the last: the rate once the
    /// pipeline is full, without the relay's start and the first events' way
    /// through.
    pub fn per_second_from_first(&self) -> Option<f64> {
        let span = self.elapsed.checked_sub(self.first_after?)?;
        (span > Duration::ZERO).then(|| (self.users - 1) as f64 / span.as_secs_f64())
    }
}

/// How many of the expected messages arrived, and how often.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyCheck {
    /// Expected keys that arrived at least once.
    pub arrived: usize,
    /// Expected keys that never arrived.
    pub missing: usize,
    /// Arrivals beyond the first for the same key.
    pub duplicates: usize,
    /// Arrivals with a key that was not expected.
    pub unexpected: usize,
}

impl KeyCheck {
    /// Checks `arrived` keys against `expected` ones.
    pub fn of<'a>(
        expected: impl IntoIterator<Item = &'a str>,
        arrived: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mut seen: HashMap<&str, usize> =
            expected.into_iter().map(|key| (key, 0_usize)).collect();
        let mut unexpected = 0;
        for key in arrived {
            match seen.get_mut(key) {
                Some(count) => *count += 1,
                None => unexpected += 1,
            }
        }
        let arrived = seen.values().filter(|count| **count > 0).count();
        Self {
            arrived,
            missing: seen.len() - arrived,
            duplicates: seen.values().map(|count| count.saturating_sub(1)).sum(),
            unexpected,
        }
    }

    /// Every expected key arrived exactly once, and nothing else.
    pub fn is_exact(&self) -> bool {
        self.missing == 0 && self.duplicates == 0 && self.unexpected == 0
    }
}

/// Runs the phase on a notifier from `binary` with its own database, vhost and
/// sink.
pub async fn run(
    binary: &Path,
    issuer: &TestIssuer,
    settings: &Settings,
    admin: &mut PgConnection,
) -> anyhow::Result<EmailFigures> {
    let sink = SmtpSink::start(settings.sink_quickack).await?;
    let mut notifier =
        NotifierProcess::start(binary, issuer, &sink.url(), &settings.overrides).await?;
    let users = User::group("e", 0, settings.users);

    let producers = Producers::create().await?;
    let filling = Instant::now();
    for chunk in chunks(0..users.len(), EVENTS_PER_TRANSACTION) {
        producers
            .write(users[chunk].iter().map(User::registration))
            .await
            .context("fill the producers' outbox")?;
    }
    let fill = filling.elapsed();
    let outbox_bytes = producers.outbox_bytes().await?;
    settle(admin).await?;

    let timed = throughput::run(&mut notifier, &producers, users.len(), || sink.accepted())
        .await
        .context("e-mail phase")?;
    producers.remove().await;

    let arrivals = sink.arrivals();
    let instants: Vec<Instant> = arrivals.iter().map(|arrival| arrival.at).collect();
    let last = nth_earliest(instants.clone(), users.len())
        .context("the sink has fewer e-mails than it counted")?;
    let first = nth_earliest(instants, 1);
    let counts = notifier.counts.clone();
    let expected = i64::try_from(users.len())?;
    let deliveries = notifier
        .service
        .until_or_exit(
            LOG_CATCH_UP,
            "the delivery log records every e-mail",
            || {
                let counts = counts.clone();
                async move {
                    let deliveries = counts.deliveries("email").await.ok()?;
                    (deliveries.settled() >= expected).then_some(deliveries)
                }
            },
        )
        .await?;
    let keys = KeyCheck::of(
        users.iter().map(|user| user.key.as_str()),
        arrivals
            .iter()
            .map(|arrival| events::key_of_address(&arrival.message.recipient).unwrap_or("")),
    );
    let mean_message_bytes = arrivals
        .iter()
        .map(|arrival| arrival.message.bytes as f64)
        .sum::<f64>()
        / arrivals.len().max(1) as f64;
    let database_bytes = counts.database_bytes().await?;
    let memory_end = Memory::read(notifier.service.pid())?;
    let problems = notifier.service.log().problems();
    let exit = notifier.stop().await?;
    sink.stop().await;

    Ok(EmailFigures {
        users: users.len(),
        fill,
        outbox_bytes,
        elapsed: last.duration_since(timed.started),
        first_after: first.map(|first| first.duration_since(timed.started)),
        timed,
        deliveries,
        keys,
        mean_message_bytes,
        database_bytes,
        memory_end,
        exit,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_repeated_and_unexpected_keys_are_counted_apart() {
        let check = KeyCheck::of(["a", "b", "c"], ["a", "b", "a", "x"]);

        assert_eq!(
            check,
            KeyCheck {
                arrived: 2,
                missing: 1,
                duplicates: 1,
                unexpected: 1,
            }
        );
        assert!(!check.is_exact());
        assert!(KeyCheck::of(["a", "b"], ["b", "a"]).is_exact());
    }
}
