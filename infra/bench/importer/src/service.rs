//! The importer service as its own process, so that its memory and CPU are its
//! own: the release binary of `services/importer`, with a fresh database and vhost,
//! port 0, a spool directory of its own and a [`TestIssuer`] in this process for
//! its users' tokens. Its settings are its production defaults except the ones
//! [`start`] lists.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::Duration,
};

use anyhow::Context;
use six_bench_support::service::{ServiceLog, build_under_cargo_run, until_or_exit};
use six_kit::testing::TestIssuer;
use six_testkit::{TestDatabase, TestVhost};
use tokio::process::{Child, Command};

/// The service binary's name.
const BINARY: &str = "importer";

/// Deadline for start-up and for the graceful exit.
const DEADLINE: Duration = Duration::from_secs(60);

/// The importer's `IMPORTER_MAX_ROWS` default: larger files need it raised.
pub const SERVICE_MAX_ROWS: u64 = 2_000_000;

/// Finds the importer's binary: `explicit` if given; else, under `cargo run`, builds
/// `services/importer` (release unless this is a debug build) into this binary's
/// target directory and uses it; else expects it there already.
pub async fn binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        anyhow::ensure!(path.is_file(), "{} not found", path.display());
        return Ok(path.to_owned());
    }
    let current = std::env::current_exe().context("locate the running binary")?;
    let profile_dir = current
        .parent()
        .context("the running binary has no directory")?;
    let binary = profile_dir.join(format!("{BINARY}{}", std::env::consts::EXE_SUFFIX));
    let target_dir = profile_dir
        .parent()
        .context("the running binary is not in a target directory")?;
    let manifest =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../services/importer/Cargo.toml");
    let target_dir = target_dir
        .to_str()
        .context("the target directory is not UTF-8")?;
    build_under_cargo_run(&manifest, BINARY, &["--locked", "--target-dir", target_dir]).await?;
    anyhow::ensure!(
        binary.is_file(),
        "{} not found: build it with `cargo build --release --manifest-path services/importer/Cargo.toml` \
         into the same target directory, or pass --importer-binary",
        binary.display()
    );
    Ok(binary)
}

/// A running importer process.
pub struct ImporterProcess {
    child: Child,
    pid: u32,
    address: SocketAddr,
    log: ServiceLog,
    /// Its database (dropped, with the data, after the process stops).
    pub database: TestDatabase,
    _vhost: TestVhost,
    _spool: tempfile::TempDir,
}

/// What a run sets besides the production defaults.
#[derive(Debug, Clone, Copy)]
pub struct ProcessSettings {
    /// `IMPORTER_CHUNK_ROWS`; `None`: not set.
    pub chunk_rows: Option<u64>,
    /// Data rows the run uploads (`IMPORTER_MAX_ROWS` is raised above its default
    /// when needed).
    pub rows: u64,
}

impl ProcessSettings {
    /// The importer's own variables this run sets.
    pub fn variables(&self) -> Vec<(&'static str, String)> {
        let mut variables = Vec::new();
        if let Some(chunk_rows) = self.chunk_rows {
            variables.push(("IMPORTER_CHUNK_ROWS", chunk_rows.to_string()));
        }
        if self.rows > SERVICE_MAX_ROWS {
            variables.push(("IMPORTER_MAX_ROWS", self.rows.to_string()));
        }
        variables
    }
}

/// Starts the importer from `binary` with its spool under `work_dir` and tokens
/// from `issuer`; returns once it is ready (`/readyz`: database up, relay and
/// consumer connected).
pub async fn start(
    binary: &Path,
    settings: ProcessSettings,
    issuer: &TestIssuer,
    work_dir: &Path,
) -> anyhow::Result<ImporterProcess> {
    let database = TestDatabase::create().await;
    let vhost = TestVhost::create().await;
    let spool = tempfile::Builder::new()
        .prefix("importer-spool-")
        .tempdir_in(work_dir)
        .context("create the spool directory")?;
    // A clean environment: the service runs on its production defaults, whatever
    // the shell exports.
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("DATABASE_URL", database.url())
        .env("AMQP_URL", vhost.amqp_url())
        .env("HTTP_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .env("LOG_LEVEL", "info")
        .env("SHUTDOWN_PRESTOP_DELAY_MS", "0")
        .env("IMPORTER_SPOOL_DIR", spool.path());
    for (name, value) in issuer.env_vars().into_iter().chain(settings.variables()) {
        command.env(name, value);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {}", binary.display()))?;
    let pid = child.id().context("the importer exited at once")?;
    let log = ServiceLog::default();
    log.follow(child.stdout.take());
    log.follow(child.stderr.take());

    let address = until_or_exit(
        &mut child,
        &log,
        DEADLINE,
        "the importer logs `service started`",
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
        DEADLINE,
        "/readyz reports ready with the relay and the consumer connected",
        || ready(&client, address),
    )
    .await?;
    Ok(ImporterProcess {
        child,
        pid,
        address,
        log,
        database,
        _vhost: vhost,
        _spool: spool,
    })
}

impl ImporterProcess {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `http://<address><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Fails, with the last log lines, if the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => anyhow::bail!(
                "the importer exited ({status}); last log lines:\n{}",
                self.log.tail()
            ),
        }
    }

    /// The last log lines, for an error report.
    pub fn log_tail(&self) -> String {
        self.log.tail()
    }

    /// Warnings and errors the importer logged so far.
    pub fn log_problems(&self) -> Vec<String> {
        self.log.problems()
    }

    /// Sends SIGTERM and waits for the exit.
    pub async fn stop(mut self) -> anyhow::Result<ExitStatus> {
        let pid = libc::pid_t::try_from(self.pid).context("pid out of range")?;
        // SAFETY: `kill` only sends a signal, to the child this process started
        // and has not yet reaped (so the pid cannot have been reused).
        let signalled = unsafe { libc::kill(pid, libc::SIGTERM) };
        anyhow::ensure!(signalled == 0, "could not send SIGTERM to the importer");
        let status = tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .context("the importer did not exit within the deadline after SIGTERM")??;
        Ok(status)
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
    let all_connected = !links.is_empty()
        && links
            .iter()
            .all(|link| link["connected"].as_bool() == Some(true));
    all_connected.then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_settings_asked_for_are_set() {
        let default = ProcessSettings {
            chunk_rows: None,
            rows: 1_000_000,
        };
        let large = ProcessSettings {
            chunk_rows: Some(2_000),
            rows: 3_000_000,
        };

        assert!(default.variables().is_empty());
        assert_eq!(
            large.variables(),
            vec![
                ("IMPORTER_CHUNK_ROWS", "2000".to_owned()),
                ("IMPORTER_MAX_ROWS", "3000000".to_owned()),
            ]
        );
    }
}
