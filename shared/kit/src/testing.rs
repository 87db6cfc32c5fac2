//! Black-box test harness: starts a [`Service`] on port 0 with a fresh database and
//! its own broker vhost, with short timings, and stops it at the end. A
//! [`TestIssuer`] stands in for auth for services that verify tokens; an
//! [`EventTap`] reads the events a service published.
//!
//! Needs the local stack (`infra/local/stack up`) or the `SIX_*` server variables
//! described in `six_testkit`.

mod event_tap;
mod issuer;
mod token_forge;

use std::net::SocketAddr;

use serde_json::Value;
use six_bus::DEFAULT_EXCHANGE;
use six_events::{Envelope, EventData};
use six_testkit::{TestDatabase, TestVhost};
use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

pub use event_tap::EventTap;
pub use issuer::{JWKS_PATH, TOKEN_PATH, TestIssuer};
pub use token_forge::{BadToken, TokenForge};

use crate::{
    config::Env,
    service::{self, RunningService, Service},
    telemetry,
};

/// Settings that make tests quick: no pre-stop delay, fast retries and reconnects.
const TEST_DEFAULTS: &[(&str, &str)] = &[
    ("HTTP_ADDR", "127.0.0.1:0"),
    ("SHUTDOWN_PRESTOP_DELAY_MS", "0"),
    ("SHUTDOWN_DRAIN_TIMEOUT_MS", "10000"),
    ("BUS_RETRY_DELAYS_MS", "100,200"),
    ("BUS_RECONNECT_MIN_DELAY_MS", "50"),
    ("BUS_RECONNECT_MAX_DELAY_MS", "500"),
    ("BUS_RELAY_POLL_INTERVAL_MS", "200"),
    ("DATABASE_MAX_CONNECTIONS", "5"),
    ("LOG_FORMAT", "pretty"),
];

/// A running service under test.
///
/// The service runs on its own runtime thread, like a separate process would: the
/// test's runtime can block (e.g. in `Drop`) without stalling the service, and
/// dropping the app shuts the service down gracefully before its database and
/// vhost are removed.
pub struct TestApp {
    /// Variables the service was started with; start it again with [`TestApp::restart`].
    pub env: Env,
    service: Option<ServiceThread>,
    client: reqwest::Client,
    // Declared last: dropped after the service has stopped.
    /// The service's database.
    pub database: TestDatabase,
    /// The service's broker vhost.
    pub vhost: TestVhost,
}

/// A service running on its own thread and runtime.
struct ServiceThread {
    address: SocketAddr,
    trigger: CancellationToken,
    thread: std::thread::JoinHandle<()>,
}

impl ServiceThread {
    async fn start<S: Service>(env: Env) -> Self {
        let (started, address) = oneshot::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a test runtime builds");
            runtime.block_on(async move {
                let running = start::<S>(&env).await;
                let _ = started.send((running.local_addr(), running.shutdown_trigger()));
                running.wait().await;
            });
        });
        let (address, trigger) = address
            .await
            .expect("the service starts (see its panic above)");
        Self {
            address,
            trigger,
            thread,
        }
    }

    /// Runs the graceful shutdown and waits for the thread to end.
    fn stop(self) {
        self.trigger.cancel();
        if self.thread.join().is_err() {
            eprintln!("the service thread panicked while stopping");
        }
    }
}

impl TestApp {
    /// Starts `S` with the test defaults.
    pub async fn spawn<S: Service>() -> Self {
        Self::spawn_with::<S>(&[]).await
    }

    /// Starts `S` with the test defaults overridden by `vars`.
    pub async fn spawn_with<S: Service>(vars: &[(&str, &str)]) -> Self {
        let database = TestDatabase::create().await;
        let vhost = TestVhost::create().await;
        let mut env = Env::from_pairs(TEST_DEFAULTS.iter().copied());
        env.set("DATABASE_URL", database.url());
        env.set("AMQP_URL", vhost.amqp_url());
        env.set(
            "LOG_LEVEL",
            std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".to_owned()),
        );
        for (name, value) in vars {
            env.set(*name, *value);
        }
        let service = ServiceThread::start::<S>(env.clone()).await;
        let client = reqwest::Client::builder()
            .build()
            .expect("the test HTTP client builds");
        Self {
            env,
            service: Some(service),
            client,
            database,
            vhost,
        }
    }

    /// Stops the service gracefully and starts it again on the same database and vhost.
    pub async fn restart<S: Service>(&mut self) {
        self.stop().await;
        self.service = Some(ServiceThread::start::<S>(self.env.clone()).await);
    }

    /// Runs the graceful shutdown sequence and waits for it.
    pub async fn stop(&mut self) {
        if let Some(service) = self.service.take() {
            tokio::task::spawn_blocking(move || service.stop())
                .await
                .expect("the stopping thread is joined");
        }
    }

    /// Full URL of `path` on the service.
    ///
    /// # Panics
    /// If the service was stopped.
    pub fn url(&self, path: &str) -> String {
        let service = self.service.as_ref().expect("the service is running");
        format!("http://{}{path}", service.address)
    }

    /// An HTTP client for the service.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A pool on the service's database, for arranging and asserting.
    pub fn pool(&self) -> PgPool {
        self.database.pool()
    }

    /// Publishes `event` through the service's own outbox: its relay sends it to
    /// the exchange, and its queue receives it as from another service.
    pub async fn publish<T: EventData>(&self, event: Envelope<T>) {
        let mut transaction = self.pool().begin().await.expect("a transaction");
        six_bus::publish(&mut transaction, event)
            .await
            .expect("the event is written to the outbox");
        transaction.commit().await.expect("the outbox row commits");
    }

    /// `GET path` with `token` as the bearer: the status and the JSON body
    /// (`Null` when the body is not JSON).
    pub async fn get_json(&self, token: &str, path: &str) -> (reqwest::StatusCode, Value) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("the service answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The one `bigint` that `sql` selects from the service's database (a count).
    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool())
            .await
            .expect("the count runs")
    }

    /// A tap on the service's vhost for events of `event_types`, published from now on.
    pub async fn tap_events(&self, event_types: &[&str]) -> EventTap {
        let exchange = self
            .env
            .optional("BUS_EXCHANGE", DEFAULT_EXCHANGE.to_owned())
            .expect("BUS_EXCHANGE is a name");
        EventTap::bind(&self.vhost.amqp_url(), &exchange, event_types).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(service) = self.service.take() {
            service.stop();
        }
    }
}

async fn start<S: Service>(env: &Env) -> RunningService {
    let config = service::common_config::<S>(env).expect("test configuration is valid");
    telemetry::init(&config.telemetry, telemetry::LogOutput::Stdout);
    let settings = S::settings(env).expect("test settings are valid");
    service::start::<S>(config, settings)
        .await
        .expect("the service starts")
}
