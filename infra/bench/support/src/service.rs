//! A service under measurement, run as its own process: building it under
//! `cargo run`, following what it logs, and waiting on it while watching that it
//! has not exited.

use std::{
    collections::VecDeque,
    future::Future,
    net::SocketAddr,
    path::Path,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use anyhow::Context;
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
};

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

/// Waits for `probe` like [`six_testkit::poll_for`] until `deadline`, but fails
/// at once, with the service's last log lines, if the service exits.
pub async fn until_or_exit<T, F, Fut>(
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
    pub fn follow(&self, stream: Option<impl AsyncRead + Unpin + Send + 'static>) {
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
