//! The latency phase: event-to-send latency at a steady rate, open loop. The
//! users and endpoints of the webhook phase are set up first (untimed,
//! [`crate::setup`]) and the producers' relay keeps running; then two runs, one
//! after the other, each publishing at its own rate for `--latency-seconds`
//! whatever the notifier does (open loop: the schedule never waits for it):
//!
//! 1. e-mail: registrations of new users at `--rate-email`, each a welcome;
//! 2. webhook: contacts who joined at `--rate-webhook`, over the users in turn.
//!
//! Every [`TICK`] the writer puts the events due by then (rate × time since the
//! start, less those written) in the producers' outbox in one transaction, as a
//! producer publishes; the relay wakes on its commit. Latency per event = its
//! arrival at the sink or the endpoint − the commit of its outbox insert, so it
//! covers the relay, the broker, the notifier's consumer, its dispatcher and the
//! send. How far the writer fell behind its schedule is reported too (latency is
//! measured from the commit, so a writer that falls behind would hide waiting).

use std::{
    collections::HashMap,
    path::Path,
    process::ExitStatus,
    time::{Duration, Instant},
};

use anyhow::Context;
use six_bench_support::{
    cpu::{CpuUsage, ServiceProcess, Tracker},
    latency::Latencies,
    memory::Memory,
    postgres::settle,
    producers::Producers,
};
use six_events::{Envelope, EventData};
use six_kit::testing::TestIssuer;
use sqlx::PgConnection;

use crate::{
    events::{self, User},
    service::NotifierProcess,
    settings::Settings,
    setup::{self, RELAY_NAME},
    throughput::{POLL_EVERY, STALL},
    webhook::{SignatureCheck, check_signatures},
};

/// How often the writer puts the events due in the outbox.
pub const TICK: Duration = Duration::from_millis(10);

/// How often the CPU counters are read.
const CPU_READ_EVERY: Duration = Duration::from_millis(100);

/// What one steady run measured.
#[derive(Debug, Clone)]
pub struct SteadyRun {
    /// `email` or `webhook`.
    pub channel: &'static str,
    /// Events per second asked for.
    pub rate: f64,
    /// Events written.
    pub written: usize,
    /// First write → last write committed.
    pub writing: Duration,
    /// The furthest a batch's commit came after the time its first event was due.
    pub behind_max: Duration,
    /// Outbox transactions.
    pub transactions: usize,
    /// Event-to-send latency of every event that arrived.
    pub latencies: Latencies,
    /// Events whose message never arrived (before the run gave up).
    pub missing: usize,
    /// Where the CPU went, first write → last arrival.
    pub cpu: CpuUsage,
}

impl SteadyRun {
    /// Events written per second over the writing time.
    pub fn written_per_second(&self) -> f64 {
        if self.writing > Duration::ZERO {
            self.written as f64 / self.writing.as_secs_f64()
        } else {
            0.0
        }
    }
}

/// What the latency phase measured.
#[derive(Debug, Clone)]
pub struct SteadyFigures {
    /// Users with an endpoint.
    pub users: usize,
    /// Registering the users and their endpoints.
    pub setup: Duration,
    /// The e-mail run.
    pub email: SteadyRun,
    /// The webhook run.
    pub webhook: SteadyRun,
    /// The signatures of a sample of the webhook run's calls.
    pub signatures: SignatureCheck,
    /// The notifier just before SIGTERM (its peak is the phase's).
    pub memory_end: Memory,
    /// How the notifier exited after SIGTERM.
    pub exit: ExitStatus,
    /// Warnings and errors the notifier logged.
    pub problems: Vec<String>,
}

/// Runs the phase on a notifier from `binary` with its own database, vhost, sink
/// and receiver.
pub async fn run(
    binary: &Path,
    issuer: &TestIssuer,
    settings: &Settings,
    admin: &mut PgConnection,
) -> anyhow::Result<SteadyFigures> {
    let webhook_events = planned(settings.rate_webhook, settings.latency_duration);
    let setup::WithEndpoints {
        sink,
        receiver,
        mut notifier,
        users,
        producers,
        secrets,
        took: setup,
    } = setup::with_endpoints(binary, issuer, settings, webhook_events).await?;
    let publishing = producers.start_relay(notifier.vhost.amqp_url(), RELAY_NAME);

    settle(admin).await?;
    let newcomers = User::group(
        "n",
        0,
        planned(settings.rate_email, settings.latency_duration),
    );
    let email = steady_run(
        &mut notifier,
        &producers,
        Plan {
            channel: "email",
            rate: settings.rate_email,
            events: newcomers.len(),
        },
        |number| {
            let user = &newcomers[number];
            (user.key.clone(), user.registration())
        },
        || {
            sink.arrivals()
                .into_iter()
                .filter_map(|arrival| {
                    let key = events::key_of_address(&arrival.message.recipient)?;
                    Some((key.to_owned(), arrival.at))
                })
                .collect()
        },
    )
    .await
    .context("steady e-mail run")?;

    wait_until_sent(&mut notifier).await?;
    settle(admin).await?;
    let webhook = steady_run(
        &mut notifier,
        &producers,
        Plan {
            channel: "webhook",
            rate: settings.rate_webhook,
            events: webhook_events,
        },
        |number| {
            let owner = &users[number % users.len()];
            (
                events::contact_key(number),
                events::contact_joined(owner, number),
            )
        },
        || {
            receiver
                .calls()
                .into_iter()
                .map(|call| (call.key, call.at))
                .collect()
        },
    )
    .await
    .context("steady webhook run")?;
    wait_until_sent(&mut notifier).await?;
    publishing.stop().await?;
    producers.remove().await;

    let signatures = check_signatures(&receiver.samples(), &secrets);
    let memory_end = Memory::read(notifier.service.pid())?;
    let problems = notifier.service.log().problems();
    let exit = notifier.stop().await?;
    receiver.stop().await?;
    sink.stop().await;
    Ok(SteadyFigures {
        users: users.len(),
        setup,
        email,
        webhook,
        signatures,
        memory_end,
        exit,
        problems,
    })
}

/// Events a run at `rate` for `duration` writes.
pub fn planned(rate: f64, duration: Duration) -> usize {
    (rate * duration.as_secs_f64()).round().max(1.0) as usize
}

/// Events due `elapsed` after the start at `rate`, at most `events`.
pub fn due(rate: f64, elapsed: Duration, events: usize) -> usize {
    ((rate * elapsed.as_secs_f64()).floor() as usize).min(events)
}

/// What a steady run publishes.
struct Plan {
    channel: &'static str,
    rate: f64,
    events: usize,
}

/// Writes `plan.events` events (`event(n)`: the key and the event of number
/// `n`) at `plan.rate`, then waits until `arrivals()` (key and arrival of every
/// message so far) holds every key; fails when no new one arrives for [`STALL`]
/// or the notifier exits.
async fn steady_run<T, E, A>(
    notifier: &mut NotifierProcess,
    producers: &Producers,
    plan: Plan,
    mut event: E,
    arrivals: A,
) -> anyhow::Result<SteadyRun>
where
    T: EventData,
    E: FnMut(usize) -> (String, Envelope<T>),
    A: Fn() -> Vec<(String, Instant)>,
{
    let cpu = Tracker::start_with_process(
        CPU_READ_EVERY,
        ServiceProcess {
            pid: notifier.service.pid(),
            service: "notifier",
        },
    );
    let mut committed: HashMap<String, Instant> = HashMap::with_capacity(plan.events);
    let mut behind_max = Duration::ZERO;
    let mut transactions = 0;
    let started = Instant::now();
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut written = 0;
    while written < plan.events {
        ticks.tick().await;
        let due = due(plan.rate, started.elapsed(), plan.events);
        if due <= written {
            continue;
        }
        let (keys, batch): (Vec<String>, Vec<Envelope<T>>) = (written..due).map(&mut event).unzip();
        producers.write(batch).await?;
        let at = Instant::now();
        let first_due = started + Duration::from_secs_f64(written as f64 / plan.rate);
        behind_max = behind_max.max(at.saturating_duration_since(first_due));
        committed.extend(keys.into_iter().map(|key| (key, at)));
        transactions += 1;
        written = due;
    }
    let writing = started.elapsed();
    notifier.service.check_alive()?;

    let mut last_count = (0, Instant::now());
    let arrived = loop {
        let arrived: HashMap<String, Instant> = first_arrivals(arrivals(), &committed);
        if arrived.len() >= committed.len() {
            break arrived;
        }
        if arrived.len() != last_count.0 {
            last_count = (arrived.len(), Instant::now());
        } else if last_count.1.elapsed() > STALL {
            anyhow::bail!(
                "{} of {} {} messages arrived, none for {} s; the notifier's warnings:\n{}",
                arrived.len(),
                committed.len(),
                plan.channel,
                STALL.as_secs(),
                notifier.service.log().problems().join("\n")
            );
        }
        notifier.service.check_alive()?;
        tokio::time::sleep(POLL_EVERY).await;
    };
    let cpu = cpu.finish();
    let latencies = Latencies::new(
        arrived
            .iter()
            .filter_map(|(key, at)| Some(at.saturating_duration_since(*committed.get(key)?)))
            .collect(),
    );
    Ok(SteadyRun {
        channel: plan.channel,
        rate: plan.rate,
        written,
        writing,
        behind_max,
        transactions,
        missing: committed.len() - arrived.len(),
        latencies,
        cpu,
    })
}

/// The first arrival of each key of `expected` among `arrivals`.
fn first_arrivals(
    arrivals: Vec<(String, Instant)>,
    expected: &HashMap<String, Instant>,
) -> HashMap<String, Instant> {
    let mut first: HashMap<String, Instant> = HashMap::with_capacity(expected.len());
    for (key, at) in arrivals {
        if expected.contains_key(&key) {
            first
                .entry(key)
                .and_modify(|earliest| *earliest = (*earliest).min(at))
                .or_insert(at);
        }
    }
    first
}

/// Waits until the notifier has nothing left to send, so that a run starts on
/// an empty delivery log queue.
async fn wait_until_sent(notifier: &mut NotifierProcess) -> anyhow::Result<()> {
    let counts = notifier.counts.clone();
    notifier
        .service
        .until_or_exit(STALL, "the notifier has nothing left to send", || {
            let counts = counts.clone();
            async move { (counts.pending().await.ok()? == 0).then_some(()) }
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_writes_the_events_due_and_no_more() {
        assert_eq!(planned(500.0, Duration::from_secs(20)), 10_000);
        assert_eq!(due(500.0, Duration::from_millis(10), 10_000), 5);
        assert_eq!(due(500.0, Duration::from_millis(19), 10_000), 9);
        assert_eq!(due(500.0, Duration::from_secs(25), 10_000), 10_000);
        assert_eq!(due(1_000.0, Duration::ZERO, 10), 0);
    }

    #[test]
    fn only_the_first_arrival_of_an_expected_key_counts() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let expected = HashMap::from([("a".to_owned(), start), ("b".to_owned(), start)]);
        let arrivals = vec![
            ("a".to_owned(), at(30)),
            ("x".to_owned(), at(5)),
            ("a".to_owned(), at(10)),
        ];

        let first = first_arrivals(arrivals, &expected);

        assert_eq!(first, HashMap::from([("a".to_owned(), at(10))]));
    }
}
