//! The importer process's `VmRSS` read every [`SAMPLE_EVERY`] in the background
//! while a load runs (one reading: `six_bench_support::memory`).

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use six_bench_support::memory::Memory;
use tokio_util::sync::CancellationToken;

/// How often the sampler reads `VmRSS`.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// `VmRSS` readings over time.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// (time since the sampler started, `VmRSS` in KiB), in order.
    pub readings: Vec<(Duration, u64)>,
}

impl Samples {
    /// The largest reading between `from` and `until` (times since the sampler
    /// started), 0 when there is none.
    pub fn largest_between(&self, from: Duration, until: Duration) -> u64 {
        self.readings
            .iter()
            .filter(|(at, _)| *at >= from && *at <= until)
            .map(|(_, rss_kib)| *rss_kib)
            .max()
            .unwrap_or_default()
    }
}

/// Reads `VmRSS` of a process every [`SAMPLE_EVERY`] until stopped.
pub struct Sampler {
    started: Instant,
    samples: Arc<Mutex<Samples>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    /// Starts sampling process `pid` now.
    pub fn start(pid: u32) -> Self {
        let started = Instant::now();
        let samples = Arc::new(Mutex::new(Samples::default()));
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let samples = Arc::clone(&samples);
            let stop = stop.clone();
            async move {
                let mut ticks = tokio::time::interval(SAMPLE_EVERY);
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        _ = ticks.tick() => {}
                    }
                    // The process may be gone; the caller notices that elsewhere.
                    let Ok(memory) = Memory::read(pid) else {
                        return;
                    };
                    samples
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .readings
                        .push((started.elapsed(), memory.rss_kib));
                }
            }
        });
        Self {
            started,
            samples,
            stop,
            task,
        }
    }

    /// When sampling started: the origin of the readings' times.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Stops sampling; the readings so far.
    pub async fn finish(self) -> Samples {
        self.stop.cancel();
        let _ = self.task.await;
        let samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        samples.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_sample_is_taken_within_the_window_only() {
        let samples = Samples {
            readings: vec![
                (Duration::from_millis(0), 10),
                (Duration::from_millis(100), 30),
                (Duration::from_millis(200), 20),
                (Duration::from_millis(300), 50),
            ],
        };

        assert_eq!(
            samples.largest_between(Duration::ZERO, Duration::from_millis(250)),
            30
        );
        assert_eq!(
            samples.largest_between(Duration::from_millis(400), Duration::from_secs(1)),
            0
        );
    }
}
