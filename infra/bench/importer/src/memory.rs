//! The memory of the importer process, from `/proc/<pid>/status`: one reading, and
//! readings every [`SAMPLE_EVERY`] in the background while a load runs.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use anyhow::Context;
use tokio_util::sync::CancellationToken;

/// How often the sampler reads `VmRSS`.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// One reading of `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// Resident set size now (`VmRSS`).
    pub rss_kib: u64,
    /// Largest resident set size since the process started (`VmHWM`): the peak,
    /// whatever happened between two samples.
    pub peak_kib: u64,
    /// Resident anonymous memory: heap and stacks (`RssAnon`).
    pub anon_kib: u64,
    /// Resident pages of mapped files: mostly the binary's code (`RssFile`).
    pub file_kib: u64,
    /// Threads of the process.
    pub threads: u64,
}

impl Memory {
    /// Reads the memory of process `pid`.
    pub fn read(pid: u32) -> anyhow::Result<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("read /proc/{pid}/status"))?;
        Ok(Self::parse(&status))
    }

    /// The memory described by the text of a `status` file.
    fn parse(status: &str) -> Self {
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|value| value.split_whitespace().next()?.parse().ok())
                .unwrap_or_default()
        };
        Self {
            rss_kib: field("VmRSS"),
            peak_kib: field("VmHWM"),
            anon_kib: field("RssAnon"),
            file_kib: field("RssFile"),
            threads: field("Threads"),
        }
    }
}

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

/// Bytes of `kib` KiB.
pub fn bytes(kib: u64) -> u64 {
    kib * 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_fields_are_read_in_kib() {
        let status = "Name:\timporter\nVmHWM:\t   61440 kB\nVmRSS:\t   40960 kB\n\
                      RssAnon:\t   30720 kB\nRssFile:\t   10240 kB\nThreads:\t12\n";

        let memory = Memory::parse(status);

        assert_eq!(
            memory,
            Memory {
                rss_kib: 40_960,
                peak_kib: 61_440,
                anon_kib: 30_720,
                file_kib: 10_240,
                threads: 12,
            }
        );
    }

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

    #[test]
    fn this_process_has_a_resident_set() {
        let memory = Memory::read(std::process::id()).expect("/proc is readable");

        assert!(memory.rss_kib > 0 && memory.peak_kib >= memory.rss_kib);
    }
}
