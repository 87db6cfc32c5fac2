//! Running a service: what it plugs in ([`Service`]), start-up, and the shutdown
//! sequence.
//!
//! On SIGTERM/SIGINT (or [`RunningService::shutdown`]):
//! 1. `/readyz` answers 503 (draining);
//! 2. wait `SHUTDOWN_PRESTOP_DELAY_MS`, so load balancers stop routing to us;
//! 3. stop accepting connections and drain in-flight requests, then cancel
//!    [`Resources::stop`] so the service's own background tasks end;
//! 4. stop the consumer: no new deliveries, in-flight handlers finish and ack;
//!    then wait for the service's [`Resources::tasks`] to end;
//! 5. flush the outbox relay (events committed by steps 3 and 4 included);
//! 6. close the database pool; the process exits 0.
//!
//! Steps 3–5 share the `SHUTDOWN_DRAIN_TIMEOUT_MS` deadline; whatever is cut short
//! is safe: unacknowledged deliveries come back, unpublished outbox rows are
//! published by the next start.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use six_bus::{BusConfig, Consumer, Handler, HandlerError, Relay};
use six_events::DomainEvent;
use sqlx::{PgConnection, PgPool, migrate::Migrator};
use tokio::{net::TcpListener, task::JoinHandle, time::Instant};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    cli::OwnCommand,
    config::{self, CommonConfig, ConfigError, Env},
    db::{self, DatabaseError},
    http::{
        self,
        health::{Probes, Readiness},
    },
};

/// Error a service's own start-up code may return.
pub type BuildError = Box<dyn std::error::Error + Send + Sync>;

/// What a service plugs into the kit.
pub trait Service: 'static {
    /// The service name: its queue, log field and metrics label.
    const NAME: &'static str;
    /// Settings of this service beyond [`CommonConfig`].
    type Settings: Send + 'static;
    /// The event handler; [`NoEvents`] for a service that consumes nothing.
    type Handler: Handler;

    /// Reads the service's own settings.
    fn settings(env: &Env) -> Result<Self::Settings, ConfigError>;

    /// The bus settings this service runs with when no `BUS_*` variable says
    /// otherwise: the kit's defaults, or the service's own where its handler works
    /// better with others (a service whose transactions serialise on one lock wants
    /// few, large batches). The service's README lists what it changes.
    fn bus_defaults(kit_defaults: BusConfig) -> BusConfig {
        kit_defaults
    }

    /// PostgreSQL settings every connection of the service's pool starts with, as
    /// `SET` would set them (sent at connect, in the startup packet's `options`), over
    /// the server's and the database's; none by default. The service's README lists
    /// what it changes.
    const DATABASE_SESSION: &'static [(&'static str, &'static str)] = &[];

    /// The service's migrations (`sqlx::migrate!()`), applied at boot after the bus's.
    fn migrator() -> &'static Migrator;

    /// Commands of the service's own, which its binary runs next to the kit's
    /// (`serve`, `migrate`, `parked …`); none by default.
    fn commands() -> Vec<OwnCommand<Self::Settings>> {
        Vec::new()
    }

    /// Builds the routes and the event handler once the database is ready.
    fn build(
        resources: Resources,
        settings: Self::Settings,
    ) -> impl Future<Output = Result<Parts<Self::Handler>, BuildError>> + Send;
}

/// Reads the common settings of service `S` from `env`, starting from its bus defaults.
pub(crate) fn common_config<S: Service>(env: &Env) -> Result<CommonConfig, ConfigError> {
    CommonConfig::with_bus_defaults(S::bus_defaults(config::kit_bus_defaults(S::NAME)), env)
}

/// What [`Service::build`] gets to work with.
#[derive(Clone)]
pub struct Resources {
    /// The migrated service database.
    pub pool: PgPool,
    /// The common settings.
    pub config: Arc<CommonConfig>,
    /// Cancelled once in-flight requests are drained at shutdown: background
    /// tasks the service starts in [`Service::build`] end on it.
    pub stop: CancellationToken,
    /// Background tasks spawned here are awaited at shutdown, after [`Self::stop`]
    /// is cancelled and within the drain deadline, so work they have begun (a
    /// batch being sent) ends before the process does.
    pub tasks: TaskTracker,
}

/// What [`Service::build`] returns.
pub struct Parts<H> {
    /// The service's own routes (probes are added by the kit).
    pub routes: Router,
    /// The event handler, if the service consumes events.
    pub handler: Option<H>,
}

/// The handler of a service that consumes no events.
pub struct NoEvents;

impl Handler for NoEvents {
    fn event_types(&self) -> Vec<&'static str> {
        Vec::new()
    }

    async fn handle(&self, event: &DomainEvent, _: &mut PgConnection) -> Result<(), HandlerError> {
        Err(HandlerError::Permanent(format!(
            "no handler for `{}`",
            event.routing_key()
        )))
    }
}

/// Start-up failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Database unreachable or migration failed.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// The HTTP address could not be bound.
    #[error("cannot listen on {addr} (check HTTP_ADDR): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The service's own start-up code failed.
    #[error("service start-up failed: {0}")]
    Build(BuildError),
}

/// A started service.
pub struct RunningService {
    local_addr: SocketAddr,
    trigger: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningService {
    /// The address the HTTP server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A token that starts the shutdown sequence when cancelled.
    pub fn shutdown_trigger(&self) -> CancellationToken {
        self.trigger.clone()
    }

    /// Starts the shutdown sequence and waits for it to finish.
    pub async fn shutdown(self) {
        self.trigger.cancel();
        self.wait().await;
    }

    /// Waits until the service has stopped.
    pub async fn wait(self) {
        if let Err(error) = self.task.await {
            tracing::error!(%error, "service task failed");
        }
    }
}

/// Connects, migrates, builds the service and starts HTTP, the relay and the consumer.
pub async fn start<S: Service>(
    config: CommonConfig,
    settings: S::Settings,
) -> Result<RunningService, StartError> {
    // Install the recorder before anything records a metric; earlier values would be lost.
    crate::metrics::handle();
    let pool = db::connect(&config.database, S::DATABASE_SESSION).await?;
    db::migrate(&pool, S::migrator()).await?;
    let config = Arc::new(config);
    let background_stop = CancellationToken::new();
    let background_tasks = TaskTracker::new();
    let parts = S::build(
        Resources {
            pool: pool.clone(),
            config: config.clone(),
            stop: background_stop.clone(),
            tasks: background_tasks.clone(),
        },
        settings,
    )
    .await
    .map_err(StartError::Build)?;

    let bus_config = Arc::new(config.bus.clone());
    let mut relay = Relay::new(pool.clone(), bus_config.clone());
    let mut broker_links = vec![("relay", relay.link())];
    let consumer = parts
        .handler
        .filter(|handler| !handler.event_types().is_empty())
        .map(|handler| Consumer::new(pool.clone(), bus_config, handler));
    if let Some(consumer) = &consumer {
        broker_links.push(("consumer", consumer.link()));
        relay = relay.publish_after(consumer.link());
    }
    let readiness = Readiness::default();
    let probes = Probes {
        pool: pool.clone(),
        readiness: readiness.clone(),
        broker_links,
    };
    let router = http::app_router(parts.routes, probes, &config.http);
    let listener = TcpListener::bind(config.http.addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.http.addr,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.http.addr,
        source,
    })?;
    tracing::info!(service = S::NAME, %local_addr, "service started");

    let trigger = CancellationToken::new();
    let stages = Stages {
        listener,
        router,
        relay,
        consumer,
        readiness,
        pool,
        background_stop,
        background_tasks,
    };
    let task = tokio::spawn(stages.run(
        trigger.clone(),
        config.shutdown.prestop_delay,
        config.shutdown.drain_timeout,
    ));
    Ok(RunningService {
        local_addr,
        trigger,
        task,
    })
}

struct Stages<H> {
    listener: TcpListener,
    router: Router,
    relay: Relay,
    consumer: Option<Consumer<H>>,
    readiness: Readiness,
    pool: PgPool,
    background_stop: CancellationToken,
    background_tasks: TaskTracker,
}

impl<H: Handler> Stages<H> {
    async fn run(
        self,
        trigger: CancellationToken,
        prestop_delay: Duration,
        drain_timeout: Duration,
    ) {
        let http_stop = CancellationToken::new();
        let mut http = tokio::spawn(
            // The peer address is available to handlers as `ConnectInfo<SocketAddr>`.
            axum::serve(
                self.listener,
                self.router
                    .into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(http_stop.clone().cancelled_owned())
            .into_future(),
        );
        let consumer_stop = CancellationToken::new();
        let consumer = self
            .consumer
            .map(|consumer| tokio::spawn(consumer.run(consumer_stop.clone())));
        let relay_stop = CancellationToken::new();
        let relay = tokio::spawn(self.relay.run(relay_stop.clone()));

        tokio::select! {
            () = trigger.cancelled() => {}
            result = &mut http => {
                tracing::error!(?result, "http server stopped unexpectedly; shutting down");
            }
        }
        tracing::info!(
            prestop_delay_ms = prestop_delay.as_millis() as u64,
            "shutdown started; draining"
        );
        self.readiness.start_draining();
        tokio::time::sleep(prestop_delay).await;

        let deadline = Instant::now() + drain_timeout;
        http_stop.cancel();
        finish("http", http, deadline).await;
        self.background_stop.cancel();
        consumer_stop.cancel();
        if let Some(consumer) = consumer {
            finish("consumer", consumer, deadline).await;
        }
        self.background_tasks.close();
        match tokio::time::timeout_at(deadline, self.background_tasks.wait()).await {
            Ok(()) => tracing::info!(stage = "background tasks", "stage stopped"),
            Err(_) => tracing::warn!(
                stage = "background tasks",
                "stage did not stop before the drain deadline; abandoned (its work resumes on next start)"
            ),
        }
        relay_stop.cancel();
        finish("outbox relay", relay, deadline).await;
        self.pool.close().await;
        tracing::info!("shutdown complete");
    }
}

/// Waits for a stage until the deadline, then abandons it.
async fn finish<T>(stage: &'static str, mut task: JoinHandle<T>, deadline: Instant) {
    match tokio::time::timeout_at(deadline, &mut task).await {
        Ok(_) => tracing::info!(stage, "stage stopped"),
        Err(_) => {
            task.abort();
            tracing::warn!(
                stage,
                "stage did not stop before the drain deadline; abandoned (its work resumes on next start)"
            );
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn termination_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => tracing::info!(signal = "SIGTERM", "signal received"),
                    _ = interrupt => tracing::info!(signal = "SIGINT", "signal received"),
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the service");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
