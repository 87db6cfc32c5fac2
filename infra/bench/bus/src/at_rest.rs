//! Resident memory of a service at rest: `bench-service` (a real `six-kit` service)
//! runs as its own process with its own database and vhost. Its memory is read from
//! `/proc/<pid>/status` once it is ready and has been quiet for a while, then again
//! after it has published and consumed some events and been quiet again. Finally it
//! gets SIGTERM and must exit 0.

use std::{
    path::{Path, PathBuf},
    process::ExitStatus,
    sync::atomic::AtomicU64,
    time::{Duration, Instant},
};

use anyhow::Context;
use six_bench_support::{
    memory::Memory,
    service::{RunningService, build_under_cargo_run, service_command},
};
use six_testkit::{TestDatabase, TestVhost};
use sqlx::PgPool;

use crate::{sample, settings::Settings};

/// The service binary's name (a sibling of `bus-throughput`).
const SERVICE_BINARY: &str = "bench-service";

/// Deadline for handling the traffic, as for start-up and the graceful exit
/// ([`six_bench_support::service::DEADLINE`]).
const DEADLINE: Duration = Duration::from_secs(60);

/// Memory readings are taken this often over [`SAMPLING`], keeping the largest.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
const SAMPLING: Duration = Duration::from_secs(1);

/// The largest of several readings of process `pid` over [`SAMPLING`].
async fn largest_reading(pid: u32) -> anyhow::Result<Memory> {
    let started = Instant::now();
    let mut largest = Memory::read(pid)?;
    while started.elapsed() < SAMPLING {
        tokio::time::sleep(SAMPLE_EVERY).await;
        let reading = Memory::read(pid)?;
        if reading.rss_kib > largest.rss_kib {
            largest = reading;
        }
    }
    Ok(largest)
}

/// What the at-rest run measured.
#[derive(Debug, Clone)]
pub struct AtRest {
    /// Size of the service binary.
    pub binary_bytes: u64,
    /// Spawn to ready (relay and consumer connected).
    pub startup: Duration,
    /// Memory once ready and quiet.
    pub after_start: Memory,
    /// Events the service published and consumed before the second reading.
    pub traffic_events: u64,
    /// Memory after that traffic, once quiet again.
    pub after_traffic: Memory,
    /// SIGTERM to exit.
    pub shutdown: Duration,
    /// How the process ended.
    pub exit: ExitStatus,
    /// Warnings and errors the service logged.
    pub log_problems: Vec<String>,
}

impl AtRest {
    /// The reading the target is judged on: the larger of the two.
    pub fn at_rest(&self) -> Memory {
        if self.after_traffic.rss_kib >= self.after_start.rss_kib {
            self.after_traffic
        } else {
            self.after_start
        }
    }
}

/// Finds `bench-service` next to the running binary. Under `cargo run` (which
/// builds only the binary it runs) it is built first, with the same profile, so one
/// command runs the whole benchmark.
pub async fn service_binary() -> anyhow::Result<PathBuf> {
    let binary = std::env::current_exe()
        .context("locate the running binary")?
        .with_file_name(format!("{SERVICE_BINARY}{}", std::env::consts::EXE_SUFFIX));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    build_under_cargo_run(&manifest, SERVICE_BINARY, &[]).await?;
    anyhow::ensure!(
        binary.is_file(),
        "{} not found: build it with `cargo build --release --bins` in infra/bench/bus",
        binary.display()
    );
    Ok(binary)
}

/// Runs the service, measures it at rest, stops it.
pub async fn run(settings: &Settings, binary: &Path) -> anyhow::Result<AtRest> {
    let database = TestDatabase::create().await;
    let vhost = TestVhost::create().await;
    let binary_bytes = std::fs::metadata(binary)?.len();
    let spawned = Instant::now();
    let command = service_command(binary, &database.url(), &settings.amqp_url(&vhost));
    let mut service = RunningService::start("service", command).await?;
    let startup = spawned.elapsed();

    tokio::time::sleep(settings.settle).await;
    let pid = service.pid();
    let after_start = largest_reading(pid).await?;

    let pool = database.pool();
    sample::write_to_outbox(
        &pool,
        0..settings.rest_events,
        settings.writer_batch,
        settings.publish_all,
        &AtomicU64::default(),
    )
    .await?;
    let expected = i64::try_from(settings.rest_events).unwrap_or(i64::MAX);
    service
        .until_or_exit(DEADLINE, "the service handled every event", || {
            handled_all(&pool, expected)
        })
        .await?;
    tokio::time::sleep(settings.settle).await;
    let after_traffic = largest_reading(pid).await?;

    let stopping = Instant::now();
    // Read after the exit too: what the service logs while it shuts down counts.
    let log = service.log().clone();
    let exit = service.stop().await?;
    Ok(AtRest {
        binary_bytes,
        startup,
        after_start,
        traffic_events: settings.rest_events,
        after_traffic,
        shutdown: stopping.elapsed(),
        exit,
        log_problems: log.problems(),
    })
}

async fn handled_all(pool: &PgPool, expected: i64) -> Option<()> {
    let known: i64 = sqlx::query_scalar("SELECT count(*) FROM known_users")
        .fetch_one(pool)
        .await
        .ok()?;
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM bus_outbox")
        .fetch_one(pool)
        .await
        .ok()?;
    (known >= expected && outbox == 0).then_some(())
}
