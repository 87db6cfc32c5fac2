//! `/healthz` (liveness), `/readyz` (readiness) and `/metrics` (Prometheus).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use serde::Serialize;
use six_bus::BrokerLink;
use sqlx::PgPool;

/// Set when the service starts shutting down; `/readyz` then answers 503 so load
/// balancers stop sending traffic before the listener closes.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the service as draining.
    pub fn start_draining(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the service is draining.
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What the probes look at.
#[derive(Clone)]
pub struct Probes {
    /// The service database.
    pub pool: PgPool,
    /// Draining flag.
    pub readiness: Readiness,
    /// Broker connections of the bus components, by name.
    pub broker_links: Vec<(&'static str, BrokerLink)>,
}

/// Deadline of the database check in `/readyz`.
const DATABASE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Serialize)]
struct ReadyReport {
    status: &'static str,
    database: &'static str,
    broker: Vec<LinkReport>,
}

#[derive(Serialize)]
struct LinkReport {
    component: &'static str,
    connected: bool,
}

/// The probe routes.
pub fn router(probes: Probes) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(probes)
}

/// 200 when the database answers and the service is not draining.
///
/// A broker outage is reported but does not fail readiness: writes go to the
/// outbox and are published once the broker is back, so taking every pod out of
/// rotation would turn a broker outage into a full outage.
async fn ready(State(probes): State<Probes>) -> impl IntoResponse {
    let database_up = tokio::time::timeout(
        DATABASE_CHECK_TIMEOUT,
        sqlx::query("SELECT 1").execute(&probes.pool),
    )
    .await
    .is_ok_and(|result| result.is_ok());
    let draining = probes.readiness.is_draining();
    let status = match (draining, database_up) {
        (true, _) => "draining",
        (false, false) => "unavailable",
        (false, true) => "ready",
    };
    let report = ReadyReport {
        status,
        database: if database_up { "up" } else { "down" },
        broker: probes
            .broker_links
            .iter()
            .map(|(component, link)| LinkReport {
                component,
                connected: link.is_up(),
            })
            .collect(),
    };
    let code = if status == "ready" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(report))
}

async fn metrics(State(probes): State<Probes>) -> impl IntoResponse {
    if let Ok(backlog) = six_bus::outbox::backlog(&probes.pool).await {
        metrics::gauge!("bus_outbox_backlog").set(backlog as f64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::handle().render(),
    )
}
