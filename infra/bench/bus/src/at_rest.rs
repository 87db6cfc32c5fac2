//! Resident memory of a service at rest: `bench-service` (a real `six-kit` service)
//! runs as its own process with its own database and vhost. Its memory is read from
//! `/proc/<pid>/status` once it is ready and has been quiet for a while, then again
//! after it has published and consumed some events and been quiet again. Finally it
//! gets SIGTERM and must exit 0.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex, PoisonError, atomic::AtomicU64},
    time::{Duration, Instant},
};

use anyhow::Context;
use six_testkit::{TestDatabase, TestVhost};
use sqlx::PgPool;
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
};

use crate::{sample, settings::Settings};

/// The service binary's name (a sibling of `bus-throughput`).
const SERVICE_BINARY: &str = "bench-service";

/// Variables `cargo run` sets for the binary it runs (besides `CARGO_PKG_*`).
const RUN_VARIABLES: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
];

/// Deadline for start-up, for handling the traffic and for the graceful exit.
const DEADLINE: Duration = Duration::from_secs(60);

/// Memory readings are taken this often over [`SAMPLING`], keeping the largest.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
const SAMPLING: Duration = Duration::from_secs(1);

/// Log lines kept for an error report.
const LOG_TAIL_LINES: usize = 40;

/// One reading of `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// Resident set size (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size since start (`VmHWM`).
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
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|value| value.split_whitespace().next()?.parse().ok())
                .unwrap_or_default()
        };
        Ok(Self {
            rss_kib: field("VmRSS"),
            peak_kib: field("VmHWM"),
            anon_kib: field("RssAnon"),
            file_kib: field("RssFile"),
            threads: field("Threads"),
        })
    }

    /// The largest of several readings over [`SAMPLING`].
    async fn sample(pid: u32) -> anyhow::Result<Self> {
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

    /// Resident set size in bytes.
    pub fn rss_bytes(&self) -> u64 {
        self.rss_kib * 1024
    }
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
    if let Some(cargo) = std::env::var_os("CARGO") {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let mut build = Command::new(cargo);
        build
            .args([
                "build",
                "--quiet",
                "--bin",
                SERVICE_BINARY,
                "--manifest-path",
            ])
            .arg(&manifest);
        // Without the variables `cargo run` set for this binary: build scripts that
        // watch them (ring's does) would otherwise run again, and the next
        // `cargo run` would rebuild everything above them once more.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_PKG_") || RUN_VARIABLES.contains(&name.as_ref()) {
                build.env_remove(name.as_ref());
            }
        }
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let status = build.status().await.context("run cargo build")?;
        anyhow::ensure!(status.success(), "cargo could not build {SERVICE_BINARY}");
    }
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
    // A clean environment: the service runs on its production defaults, whatever
    // the shell exports.
    let mut child = Command::new(binary)
        .env_clear()
        .env("DATABASE_URL", database.url())
        .env("AMQP_URL", settings.amqp_url(&vhost))
        .env("HTTP_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .env("LOG_LEVEL", "info")
        .env("SHUTDOWN_PRESTOP_DELAY_MS", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {}", binary.display()))?;
    let pid = child.id().context("the service exited at once")?;
    let log = ServiceLog::default();
    log.follow(child.stdout.take());
    log.follow(child.stderr.take());

    let address = until_or_exit(
        &mut child,
        &log,
        "the service logs `service started`",
        || {
            let address = log.local_address();
            async move { address }
        },
    )
    .await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    until_or_exit(
        &mut child,
        &log,
        "/readyz reports ready with the relay and the consumer connected",
        || ready(&client, address),
    )
    .await?;
    let startup = spawned.elapsed();

    tokio::time::sleep(settings.settle).await;
    let after_start = Memory::sample(pid).await?;

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
    until_or_exit(&mut child, &log, "the service handled every event", || {
        handled_all(&pool, expected)
    })
    .await?;
    tokio::time::sleep(settings.settle).await;
    let after_traffic = Memory::sample(pid).await?;

    let stopping = Instant::now();
    let pid_number = libc::pid_t::try_from(pid).context("pid out of range")?;
    // SAFETY: `kill` only sends a signal, to the child this function started and
    // has not yet reaped (so the pid cannot have been reused).
    let signalled = unsafe { libc::kill(pid_number, libc::SIGTERM) };
    anyhow::ensure!(signalled == 0, "could not send SIGTERM to the service");
    let exit = tokio::time::timeout(DEADLINE, child.wait())
        .await
        .context("the service did not exit within the deadline after SIGTERM")??;
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

/// Waits for `probe` like [`six_testkit::poll_for`] with [`DEADLINE`], but fails at once, with
/// the service's last log lines, if the service exits.
async fn until_or_exit<T, F, Fut>(
    child: &mut Child,
    log: &ServiceLog,
    what: &str,
    probe: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    tokio::select! {
        found = six_testkit::poll_for(DEADLINE, what, probe) => found.map_err(|error| {
            anyhow::Error::new(error).context(format!("last service log lines:\n{}", log.tail()))
        }),
        status = child.wait() => anyhow::bail!(
            "the service exited ({}) while waiting until {what}; last log lines:\n{}",
            status.map_or_else(|error| error.to_string(), |status| status.to_string()),
            log.tail()
        ),
    }
}

async fn ready(client: &reqwest::Client, address: SocketAddr) -> Option<()> {
    let response = client
        .get(format!("http://{address}/readyz"))
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let report: serde_json::Value = response.json().await.ok()?;
    let links = report["broker"].as_array()?;
    let all_connected = links.len() == 2
        && links
            .iter()
            .all(|link| link["connected"].as_bool() == Some(true));
    all_connected.then_some(())
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

/// What the service printed: its address once started, its last lines, and every
/// warning or error.
#[derive(Clone, Default)]
struct ServiceLog(Arc<Mutex<LogState>>);

#[derive(Default)]
struct LogState {
    local_address: Option<SocketAddr>,
    tail: VecDeque<String>,
    problems: Vec<String>,
}

impl ServiceLog {
    /// Reads `stream` line by line in the background until it closes.
    fn follow(&self, stream: Option<impl AsyncRead + Unpin + Send + 'static>) {
        let Some(stream) = stream else {
            return;
        };
        let log = self.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                log.record(line);
            }
        });
    }

    fn record(&self, line: String) {
        let parsed: Option<serde_json::Value> = serde_json::from_str(&line).ok();
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = &parsed {
            if entry["message"] == "service started" {
                state.local_address = entry["local_addr"]
                    .as_str()
                    .and_then(|address| address.parse().ok());
            }
            if matches!(entry["level"].as_str(), Some("WARN" | "ERROR")) {
                state.problems.push(line.clone());
            }
        }
        if state.tail.len() == LOG_TAIL_LINES {
            state.tail.pop_front();
        }
        state.tail.push_back(line);
    }

    fn local_address(&self) -> Option<SocketAddr> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .local_address
    }

    fn tail(&self) -> String {
        let state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    fn problems(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .problems
            .clone()
    }
}
