//! Reads the bus's own metrics while it runs, to see which stage holds the others
//! back: events published by the relay, events handled by the consumer, the size
//! of the consumer's batches and the time each takes (database transaction included).
//!
//! Installed as the process's `metrics` recorder; every other metric is dropped.

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};

/// Counters of the bus, shared with the recorder.
#[derive(Debug, Default)]
pub struct BusMeter {
    /// `bus_events_published_total`.
    pub published: Arc<AtomicU64>,
    /// `bus_messages_consumed_total{outcome="handled"}`.
    pub handled: Arc<AtomicU64>,
    /// `bus_messages_consumed_total` with any other outcome (duplicate, retried, parked).
    pub not_handled: Arc<AtomicU64>,
    /// `bus_handler_duration_seconds`: one value per batch applied.
    pub handler_time: Arc<ValueSum>,
    /// `bus_consumer_batch_size`.
    pub batch_size: Arc<ValueSum>,
}

/// The meter's counters at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading {
    /// Events the relay published and saw confirmed.
    pub published: u64,
    /// Deliveries handled and committed.
    pub handled: u64,
    /// Deliveries with another outcome.
    pub not_handled: u64,
    /// Handler durations recorded.
    pub handler_count: u64,
    /// Their sum, in microseconds.
    pub handler_total_us: u64,
    /// Batches taken by the consumer.
    pub batch_count: u64,
    /// Deliveries in them, in millionths.
    pub batch_total_millionths: u64,
}

impl Reading {
    /// What happened between `before` and this reading.
    pub fn since(self, before: Reading) -> Reading {
        Reading {
            published: self.published.saturating_sub(before.published),
            handled: self.handled.saturating_sub(before.handled),
            not_handled: self.not_handled.saturating_sub(before.not_handled),
            handler_count: self.handler_count.saturating_sub(before.handler_count),
            handler_total_us: self
                .handler_total_us
                .saturating_sub(before.handler_total_us),
            batch_count: self.batch_count.saturating_sub(before.batch_count),
            batch_total_millionths: self
                .batch_total_millionths
                .saturating_sub(before.batch_total_millionths),
        }
    }

    /// Mean time to apply a batch, if any was recorded.
    pub fn handler_mean(&self) -> Option<Duration> {
        (self.handler_count > 0)
            .then(|| Duration::from_micros(self.handler_total_us / self.handler_count))
    }

    /// Mean deliveries per batch, if any batch was taken.
    pub fn batch_mean(&self) -> Option<f64> {
        (self.batch_count > 0)
            .then(|| self.batch_total_millionths as f64 / 1e6 / self.batch_count as f64)
    }
}

impl BusMeter {
    /// The counters now.
    pub fn read(&self) -> Reading {
        let (handler_count, handler_total_us) = self.handler_time.read();
        let (batch_count, batch_total_millionths) = self.batch_size.read();
        Reading {
            published: self.published.load(Ordering::Relaxed),
            handled: self.handled.load(Ordering::Relaxed),
            not_handled: self.not_handled.load(Ordering::Relaxed),
            handler_count,
            handler_total_us,
            batch_count,
            batch_total_millionths,
        }
    }
}

/// Count and sum of the values a histogram recorded (seconds sum to microseconds).
#[derive(Debug, Default)]
pub struct ValueSum {
    count: AtomicU64,
    total_millionths: AtomicU64,
}

impl ValueSum {
    /// Values recorded so far and their sum in millionths.
    pub fn read(&self) -> (u64, u64) {
        (
            self.count.load(Ordering::Relaxed),
            self.total_millionths.load(Ordering::Relaxed),
        )
    }
}

impl HistogramFn for ValueSum {
    fn record(&self, value: f64) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.total_millionths
            .fetch_add((value * 1e6) as u64, Ordering::Relaxed);
    }
}

/// The process's meter, installed on first use. `None` when another recorder was
/// installed first.
pub fn bus_meter() -> Option<&'static BusMeter> {
    static METER: OnceLock<Option<&'static BusMeter>> = OnceLock::new();
    *METER.get_or_init(|| {
        let meter: &'static BusMeter = Box::leak(Box::default());
        metrics::set_global_recorder(MeterRecorder(meter))
            .ok()
            .map(|()| meter)
    })
}

struct MeterRecorder(&'static BusMeter);

impl Recorder for MeterRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        match key.name() {
            "bus_events_published_total" => Counter::from_arc(self.0.published.clone()),
            "bus_messages_consumed_total" => {
                let handled = key
                    .labels()
                    .any(|label| label.key() == "outcome" && label.value() == "handled");
                if handled {
                    Counter::from_arc(self.0.handled.clone())
                } else {
                    Counter::from_arc(self.0.not_handled.clone())
                }
            }
            _ => Counter::noop(),
        }
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        match key.name() {
            "bus_handler_duration_seconds" => Histogram::from_arc(self.0.handler_time.clone()),
            "bus_consumer_batch_size" => Histogram::from_arc(self.0.batch_size.clone()),
            _ => Histogram::noop(),
        }
    }
}
