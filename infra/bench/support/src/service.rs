//! A service under measurement, run as its own process so that its memory and CPU
//! are its own: finding (and under `cargo run`, building) its binary, starting it
//! on port 0 with a clean environment, following what it logs, waiting until it is
//! ready while watching that it has not exited, and stopping it with SIGTERM.

use std::{
    collections::VecDeque,
    future::Future,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use anyhow::Context;
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
};

/// Deadline for start-up (until ready) and for the graceful exit after SIGTERM.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Deadline of one `/readyz` request while waiting for the service.
const READY_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Log lines kept for an error report.
const LOG_TAIL_LINES: usize = 40;

/// Variables `cargo run` sets for the binary it runs (besides `CARGO_PKG_*`).
const RUN_VARIABLES: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
];

/// Under `cargo run` (which builds only the binary it runs), builds `bin` of
/// `manifest` with the same profile, with `extra` arguments (e.g. a target
/// directory); outside `cargo run`, does nothing.
pub async fn build_under_cargo_run(
    manifest: &Path,
    bin: &str,
    extra: &[&str],
) -> anyhow::Result<()> {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return Ok(());
    };
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "--bin", bin, "--manifest-path"])
        .arg(manifest)
        .args(extra);
    // Without the variables `cargo run` set for this binary: build scripts that
    // watch them (ring's does) would otherwise run again, and the next `cargo run`
    // would rebuild everything above them once more.
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
    anyhow::ensure!(status.success(), "cargo could not build {bin}");
    Ok(())
}

/// Finds the binary `name` of the service `services/<name>`: `explicit` if given;
/// else, under `cargo run`, builds it (release unless this is a debug build,
/// `--locked`) into the running binary's target directory and uses it; else
/// expects it there already (the error says how to build it, or to pass
/// `--<name>-binary`).
pub async fn service_binary(name: &str, explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        anyhow::ensure!(path.is_file(), "{} not found", path.display());
        return Ok(path.to_owned());
    }
    let current = std::env::current_exe().context("locate the running binary")?;
    let profile_dir = current
        .parent()
        .context("the running binary has no directory")?;
    let binary = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let target_dir = profile_dir
        .parent()
        .context("the running binary is not in a target directory")?
        .to_str()
        .context("the target directory is not UTF-8")?;
    // This crate sits next to the benchmarks, three levels below the repository.
    let manifest =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../../services/{name}/Cargo.toml"));
    build_under_cargo_run(&manifest, name, &["--locked", "--target-dir", target_dir]).await?;
    anyhow::ensure!(
        binary.is_file(),
        "{} not found: build it with `cargo build --release --manifest-path services/{name}/Cargo.toml` \
         into the same target directory, or pass --{name}-binary",
        binary.display()
    );
    Ok(binary)
}

/// The command that runs `binary` as a service on its production defaults: a clean
/// environment (whatever the shell exports), the given database and broker, port
/// 0 on the loopback, JSON logs at `info` (which [`RunningService`] reads) and no
/// pre-stop delay. The caller adds arguments and the service's own variables.
pub fn service_command(binary: &Path, database_url: &str, amqp_url: &str) -> Command {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("AMQP_URL", amqp_url)
        .env("HTTP_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .env("LOG_LEVEL", "info")
        .env("SHUTDOWN_PRESTOP_DELAY_MS", "0");
    command
}

/// A service running as a child process of the benchmark (killed if dropped
/// before [`RunningService::stop`]).
pub struct RunningService {
    /// What messages call it: `graph` gives "the graph exited".
    name: &'static str,
    child: Child,
    pid: u32,
    address: SocketAddr,
    log: ServiceLog,
}

impl RunningService {
    /// Starts `command` (see [`service_command`]) and returns once the service is
    /// ready: it logged `service started` with its address, and `/readyz` answers
    /// 200 with every broker link (relay, consumer) connected, so its queue is
    /// declared and bound. Fails, with its last log lines, if it exits first or is
    /// not ready within [`DEADLINE`]. `name` is what messages call it.
    pub async fn start(name: &'static str, mut command: Command) -> anyhow::Result<Self> {
        let program = Path::new(command.as_std().get_program()).to_owned();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", program.display()))?;
        let pid = child
            .id()
            .with_context(|| format!("the {name} exited at once"))?;
        let log = ServiceLog::default();
        log.follow(child.stdout.take());
        log.follow(child.stderr.take());

        let address = until_or_exit(
            &mut child,
            &log,
            DEADLINE,
            &format!("the {name} logs `service started`"),
            || {
                let address = log.local_address();
                async move { address }
            },
        )
        .await?;
        let client = reqwest::Client::builder()
            .timeout(READY_REQUEST_TIMEOUT)
            .build()?;
        until_or_exit(
            &mut child,
            &log,
            DEADLINE,
            "/readyz reports ready with the relay and the consumer connected",
            || ready(&client, address),
        )
        .await?;
        Ok(Self {
            name,
            child,
            pid,
            address,
            log,
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `http://<address><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// What it has logged so far (clone it to read it after [`Self::stop`]).
    pub fn log(&self) -> &ServiceLog {
        &self.log
    }

    /// Fails, with the last log lines, if the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => anyhow::bail!(
                "the {} exited ({status}); last log lines:\n{}",
                self.name,
                self.log.tail()
            ),
        }
    }

    /// Waits for `probe` like [`six_testkit::poll_for`] until `deadline`, but fails
    /// at once, with the last log lines, if the service exits.
    pub async fn until_or_exit<T, F, Fut>(
        &mut self,
        deadline: Duration,
        what: &str,
        probe: F,
    ) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        until_or_exit(&mut self.child, &self.log, deadline, what, probe).await
    }

    /// Sends SIGTERM and waits (at most [`DEADLINE`]) for the exit.
    pub async fn stop(mut self) -> anyhow::Result<ExitStatus> {
        // Tokio forgets the pid once the child is reaped (its exit seen while
        // waiting for something else): the pid may be another process's by now.
        let Some(pid) = self.child.id() else {
            return Ok(self.child.wait().await?);
        };
        let pid = libc::pid_t::try_from(pid).context("pid out of range")?;
        // SAFETY: `kill` only sends a signal, to the child this process started
        // and has not yet reaped (so the pid cannot have been reused).
        let signalled = unsafe { libc::kill(pid, libc::SIGTERM) };
        anyhow::ensure!(
            signalled == 0,
            "could not send SIGTERM to the {}",
            self.name
        );
        let status = tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .with_context(|| {
                format!(
                    "the {} did not exit within the deadline after SIGTERM",
                    self.name
                )
            })??;
        Ok(status)
    }
}

/// `Some` once `/readyz` answers 200 with at least one broker link and all of them
/// connected.
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

/// Waits for `probe` like [`six_testkit::poll_for`] until `deadline`, but fails
/// at once, with the service's last log lines, if the service exits.
async fn until_or_exit<T, F, Fut>(
    child: &mut Child,
    log: &ServiceLog,
    deadline: Duration,
    what: &str,
    probe: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    tokio::select! {
        found = six_testkit::poll_for(deadline, what, probe) => found.map_err(|error| {
            anyhow::Error::new(error).context(format!("last service log lines:\n{}", log.tail()))
        }),
        status = child.wait() => anyhow::bail!(
            "the service exited ({}) while waiting until {what}; last log lines:\n{}",
            status.map_or_else(|error| error.to_string(), |status| status.to_string()),
            log.tail()
        ),
    }
}

/// What a service printed (JSON log lines, as `six-kit` writes them): its address
/// once started, its last lines, and every warning or error.
#[derive(Clone, Default)]
pub struct ServiceLog(Arc<Mutex<LogState>>);

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

    /// The address the service said it listens on, once it has.
    pub fn local_address(&self) -> Option<SocketAddr> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .local_address
    }

    /// The last lines, for an error report.
    pub fn tail(&self) -> String {
        let state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Every warning and error logged so far.
    pub fn problems(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .problems
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_runs_on_port_0_with_the_given_servers() {
        let command = service_command(Path::new("/bin/true"), "postgres://db", "amqp://broker");

        let variables: Vec<_> = command
            .as_std()
            .get_envs()
            .filter_map(|(name, value)| Some((name.to_str()?, value?.to_str()?)))
            .collect();
        assert!(variables.contains(&("DATABASE_URL", "postgres://db")));
        assert!(variables.contains(&("AMQP_URL", "amqp://broker")));
        assert!(variables.contains(&("HTTP_ADDR", "127.0.0.1:0")));
        assert!(variables.contains(&("LOG_FORMAT", "json")));
    }

    #[test]
    fn the_log_gives_the_address_and_keeps_problems() {
        let log = ServiceLog::default();

        log.record(
            r#"{"level":"INFO","message":"service started","local_addr":"127.0.0.1:4321"}"#
                .to_owned(),
        );
        log.record(r#"{"level":"WARN","message":"relay batch failed"}"#.to_owned());
        log.record("not json".to_owned());

        assert_eq!(log.local_address(), Some("127.0.0.1:4321".parse().unwrap()));
        assert_eq!(log.problems().len(), 1);
        assert!(log.tail().ends_with("not json"));
    }
}
