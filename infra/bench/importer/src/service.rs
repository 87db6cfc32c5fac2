//! The importer service as its own process, so that its memory and CPU are its
//! own: the release binary of `services/importer`, with a fresh database and vhost,
//! port 0, a spool directory of its own and a [`TestIssuer`] in this process for
//! its users' tokens. Its settings are its production defaults except the ones
//! [`start`] lists. Running the process is [`six_bench_support::service`]'s.

use std::{
    path::{Path, PathBuf},
    process::ExitStatus,
};

use anyhow::Context;
use six_bench_support::service::{RunningService, service_binary, service_command};
use six_kit::testing::TestIssuer;
use six_testkit::{TestDatabase, TestVhost};

/// The service binary's name, and its directory under `services/`.
const BINARY: &str = "importer";

/// The importer's `IMPORTER_MAX_ROWS` default: larger files need it raised.
pub const SERVICE_MAX_ROWS: u64 = 2_000_000;

/// Finds the importer's binary: `explicit` if given; else, under `cargo run`, builds
/// `services/importer` (release unless this is a debug build) into this binary's
/// target directory and uses it; else expects it there already.
pub async fn binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    service_binary(BINARY, explicit).await
}

/// A running importer process.
pub struct ImporterProcess {
    /// The process.
    pub service: RunningService,
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
    let mut command = service_command(binary, &database.url(), &vhost.amqp_url());
    command.env("IMPORTER_SPOOL_DIR", spool.path());
    for (name, value) in issuer.env_vars().into_iter().chain(settings.variables()) {
        command.env(name, value);
    }
    let service = RunningService::start(BINARY, command).await?;
    Ok(ImporterProcess {
        service,
        database,
        _vhost: vhost,
        _spool: spool,
    })
}

impl ImporterProcess {
    /// Sends SIGTERM and waits for the exit; then drops its database, vhost and
    /// spool directory.
    pub async fn stop(self) -> anyhow::Result<ExitStatus> {
        self.service.stop().await
    }
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
