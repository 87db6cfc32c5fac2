//! Prometheus metrics: one recorder per process, rendered by `/metrics`.
//!
//! Metrics recorded by the kit and the bus:
//! - `http_requests_total{method,route,status}` and `http_request_duration_seconds{method,route,status}`
//! - `bus_events_published_total`, `bus_outbox_backlog`
//! - `bus_messages_consumed_total{outcome}` (`handled`, `duplicate`, `retried`, `parked`),
//!   `bus_messages_retried_total`, `bus_messages_parked_total`, `bus_handler_duration_seconds`
//!   (per consumer transaction), `bus_consumer_batch_size`

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds, from 1 ms to 10 s.
const LATENCY_BUCKETS_SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Batch size buckets, in deliveries (the batch size is at most the prefetch).
const BATCH_SIZE_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// The process-wide recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        // Fails only for an empty bucket list.
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_seconds".to_owned()),
                LATENCY_BUCKETS_SECONDS,
            )
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full("bus_consumer_batch_size".to_owned()),
                    BATCH_SIZE_BUCKETS,
                )
            })
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder is installed; metrics then go there.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn recorded_metrics_are_rendered() {
        let handle = super::handle();
        metrics::counter!("kit_test_events_total", "outcome" => "ok").increment(2);
        metrics::histogram!("kit_test_latency_seconds").record(0.003);
        let rendered = handle.render();
        assert!(
            rendered.contains("kit_test_events_total{outcome=\"ok\"} 2"),
            "{rendered}"
        );
        assert!(
            rendered.contains("kit_test_latency_seconds_bucket{le=\"0.005\"} 1"),
            "{rendered}"
        );
    }
}
