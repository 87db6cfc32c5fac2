//! Time spent by the calling thread on a CPU, so a figure per core does not depend
//! on what else the machine runs.

use std::time::{Duration, Instant};

/// CPU time of the calling thread so far (zero where the clock is missing).
pub fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the duration of the call.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if status != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

/// One timed pass: `verifications` checks (tokens or passwords), timed together.
#[derive(Debug, Clone, Copy)]
pub struct Round {
    /// Checks done.
    pub verifications: u64,
    /// Wall-clock time.
    pub wall: Duration,
    /// CPU time of the measuring thread.
    pub cpu: Duration,
}

impl Round {
    /// Checks per wall-clock second.
    pub fn per_second(&self) -> f64 {
        self.verifications as f64 / self.wall.as_secs_f64()
    }

    /// Checks per second of CPU time: the capacity of one core.
    pub fn per_cpu_second(&self) -> f64 {
        self.verifications as f64 / self.cpu.as_secs_f64()
    }

    /// Mean wall-clock time of one check.
    pub fn mean(&self) -> Duration {
        self.wall / u32::try_from(self.verifications.max(1)).unwrap_or(u32::MAX)
    }
}

/// Starts timing on the calling thread.
pub struct Stopwatch {
    wall: Instant,
    cpu: Duration,
}

impl Stopwatch {
    /// Starts now.
    pub fn start() -> Self {
        Self {
            cpu: thread_cpu_time(),
            wall: Instant::now(),
        }
    }

    /// The round of `verifications` timed since the start.
    pub fn stop(self, verifications: u64) -> Round {
        let wall = self.wall.elapsed();
        Round {
            verifications,
            wall,
            cpu: thread_cpu_time().saturating_sub(self.cpu),
        }
    }
}
