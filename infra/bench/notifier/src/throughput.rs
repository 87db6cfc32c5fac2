//! The timed part of the throughput phases: the producers' outbox, filled before,
//! is published by a relay started now (the clock starts with it, so the first
//! publish is inside), and the phase waits until everything arrived where the
//! notifier sends it (the SMTP sink, the webhook endpoint). Every
//! [`POLL_EVERY`] it reads how far each stage got: events published (gone from
//! the outbox), events handled (the notifier's inbox), messages arrived. The
//! figure itself is not bound to that polling: the phase takes the arrival time
//! of the last message from the sink or the endpoint. The run fails when
//! nothing moves for [`STALL`] or the notifier exits.

use std::time::{Duration, Instant};

use six_bench_support::{
    cpu::{CpuUsage, ServiceProcess, Tracker},
    memory::Memory,
    producers::Producers,
};

use crate::{service::NotifierProcess, setup::RELAY_NAME};

/// How often progress is read.
pub const POLL_EVERY: Duration = Duration::from_millis(200);

/// How often the CPU counters are read (cheap: `/proc` only).
const CPU_READ_EVERY: Duration = Duration::from_millis(100);

/// The run fails when nothing moved for this long (longer than the notifier's
/// first retry delay of 30 s, so that a retried delivery is not a stall).
pub const STALL: Duration = Duration::from_secs(120);

/// Time between two entries of the timeline.
const TIMELINE_STEP: Duration = Duration::from_secs(1);

/// How far a run got at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Time since the relay started.
    pub at: Duration,
    /// Events the relay published and saw confirmed (gone from the outbox).
    pub published: usize,
    /// Events the notifier handled (in its inbox), of this run.
    pub handled: usize,
    /// Messages arrived at the sink or the endpoint, of this run.
    pub arrived: usize,
}

impl Progress {
    /// Whether `other` got exactly as far (at whatever time).
    fn same_counts(&self, other: &Progress) -> bool {
        Progress {
            at: other.at,
            ..*self
        } == *other
    }
}

/// What the timed part measured besides the figure.
#[derive(Debug, Clone)]
pub struct Timed {
    /// When the relay started: the clock's start.
    pub started: Instant,
    /// Start → the outbox is empty (every event confirmed by the broker).
    pub published_after: Option<Duration>,
    /// Start → every event handled by the notifier.
    pub handled_after: Option<Duration>,
    /// Progress, about every [`TIMELINE_STEP`], and at the end.
    pub timeline: Vec<Progress>,
    /// Where the CPU went, start to the last arrival seen.
    pub cpu: CpuUsage,
    /// The notifier once ready, before the first publish.
    pub memory_before: Memory,
    /// The notifier when everything had arrived.
    pub memory_after: Memory,
}

/// Publishes the filled outbox of `producers` (`events` events, one message
/// each) to `notifier` and returns once `arrived()` (messages at the sink or the
/// endpoint so far) has grown by `events`.
pub async fn run(
    notifier: &mut NotifierProcess,
    producers: &Producers,
    events: usize,
    arrived: impl Fn() -> usize,
) -> anyhow::Result<Timed> {
    let counts = notifier.counts.clone();
    let handled_before = counts.handled().await?;
    let arrived_before = arrived();
    let memory_before = Memory::read(notifier.service.pid())?;
    let cpu = Tracker::start_with_process(
        CPU_READ_EVERY,
        ServiceProcess {
            pid: notifier.service.pid(),
            service: "notifier",
        },
    );
    let started = Instant::now();
    let publishing = producers.start_relay(notifier.vhost.amqp_url(), RELAY_NAME);

    let mut timeline: Vec<Progress> = Vec::new();
    let mut published_after = None;
    let mut handled_after = None;
    let mut last_change = (Progress::default(), Instant::now());
    let mut ticks = tokio::time::interval(POLL_EVERY);
    let last = loop {
        ticks.tick().await;
        notifier.service.check_alive()?;
        let waiting = usize::try_from(producers.waiting().await?).unwrap_or(0);
        let handled = counts.handled().await? - handled_before;
        let now = Progress {
            at: started.elapsed(),
            published: events.saturating_sub(waiting),
            handled: usize::try_from(handled).unwrap_or(0),
            arrived: arrived().saturating_sub(arrived_before),
        };
        if published_after.is_none() && now.published >= events {
            published_after = Some(now.at);
        }
        if handled_after.is_none() && now.handled >= events {
            handled_after = Some(now.at);
        }
        if now.arrived >= events {
            break now;
        }
        if timeline
            .last()
            .is_none_or(|last| now.at - last.at >= TIMELINE_STEP)
        {
            timeline.push(now);
        }
        if !now.same_counts(&last_change.0) {
            last_change = (now, Instant::now());
        } else if last_change.1.elapsed() > STALL {
            anyhow::bail!(
                "stalled: {} of {events} events published, {} handled, {} messages arrived, \
                 nothing moved for {} s; the notifier's warnings:\n{}\nlast log lines:\n{}",
                now.published,
                now.handled,
                now.arrived,
                STALL.as_secs(),
                notifier.service.log().problems().join("\n"),
                notifier.service.log().tail()
            );
        }
    };
    let cpu = cpu.finish();
    let memory_after = Memory::read(notifier.service.pid())?;
    timeline.push(last);
    publishing.stop().await?;
    Ok(Timed {
        started,
        published_after,
        handled_after,
        timeline,
        cpu,
        memory_before,
        memory_after,
    })
}

/// The `count`-th earliest of `instants` (1-based), if there are that many: when
/// the `count`-th message arrived.
pub fn nth_earliest(mut instants: Vec<Instant>, count: usize) -> Option<Instant> {
    if count == 0 || instants.len() < count {
        return None;
    }
    instants.sort_unstable();
    Some(instants[count - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nth_arrival_is_counted_in_time_order() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);

        let instants = vec![at(30), at(10), at(20)];

        assert_eq!(nth_earliest(instants.clone(), 1), Some(at(10)));
        assert_eq!(nth_earliest(instants.clone(), 3), Some(at(30)));
        assert_eq!(nth_earliest(instants.clone(), 4), None);
        assert_eq!(nth_earliest(instants, 0), None);
    }

    #[test]
    fn progress_compares_counts_not_times() {
        let early = Progress {
            at: Duration::from_secs(1),
            published: 5,
            handled: 3,
            arrived: 2,
        };
        let later = Progress {
            at: Duration::from_secs(9),
            ..early
        };

        assert!(early.same_counts(&later));
        assert!(!early.same_counts(&Progress {
            arrived: 3,
            ..later
        }));
    }
}
