//! Latencies of a phase (requests, queries), sorted once, read as percentiles. A
//! phase makes a few hundred to a few tens of thousands of them, so keeping every
//! duration is cheap and exact (no histogram buckets).

use std::time::Duration;

/// Every measured duration, sorted.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    sorted: Vec<Duration>,
}

impl Latencies {
    /// The latencies of all `durations`, in any order.
    pub fn new(mut durations: Vec<Duration>) -> Self {
        durations.sort_unstable();
        Self { sorted: durations }
    }

    /// Durations measured.
    pub fn count(&self) -> usize {
        self.sorted.len()
    }

    /// The `percent` percentile by nearest rank: the smallest duration that at
    /// least `percent` % of the measured ones did not exceed. Zero without any.
    pub fn percentile(&self, percent: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = (percent / 100.0 * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    /// The slowest.
    pub fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }

    /// The mean duration.
    pub fn mean(&self) -> Duration {
        match u32::try_from(self.sorted.len()) {
            Ok(count) if count > 0 => self.sorted.iter().sum::<Duration>() / count,
            _ => Duration::ZERO,
        }
    }

    /// Every figure on one line: `{count} {what}, p50 …, p95 …, p99 …, max … (mean …)`,
    /// or `none`.
    pub fn summary(&self, what: &str) -> String {
        if self.count() == 0 {
            return "none".to_owned();
        }
        format!(
            "{:>5} {what}, p50 {}, p95 {}, p99 {}, max {} (mean {})",
            crate::report::grouped(self.count() as u64),
            crate::report::time(self.percentile(50.0)),
            crate::report::time(self.percentile(95.0)),
            crate::report::time(self.percentile(99.0)),
            crate::report::time(self.max()),
            crate::report::time(self.mean()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: &[u64]) -> Latencies {
        Latencies::new(values.iter().map(|ms| Duration::from_millis(*ms)).collect())
    }

    #[test]
    fn percentiles_are_by_nearest_rank() {
        let latencies = millis(&(1..=100).rev().collect::<Vec<_>>());

        assert_eq!(latencies.percentile(50.0), Duration::from_millis(50));
        assert_eq!(latencies.percentile(99.0), Duration::from_millis(99));
        assert_eq!(latencies.percentile(100.0), Duration::from_millis(100));
        assert_eq!(latencies.percentile(0.0), Duration::from_millis(1));
        assert_eq!(latencies.max(), Duration::from_millis(100));
    }

    #[test]
    fn a_few_samples_give_their_largest_as_p99() {
        let latencies = millis(&[3, 1, 2]);

        assert_eq!(latencies.percentile(50.0), Duration::from_millis(2));
        assert_eq!(latencies.percentile(99.0), Duration::from_millis(3));
        assert_eq!(latencies.mean(), Duration::from_millis(2));
    }

    #[test]
    fn no_samples_read_as_zero() {
        let latencies = Latencies::default();

        assert_eq!(latencies.percentile(50.0), Duration::ZERO);
        assert_eq!(latencies.percentile(99.0), Duration::ZERO);
        assert_eq!(latencies.max(), Duration::ZERO);
        assert_eq!(latencies.mean(), Duration::ZERO);
        assert_eq!(latencies.count(), 0);
    }
}
