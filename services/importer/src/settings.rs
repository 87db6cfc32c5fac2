//! The importer's own configuration (the common variables are the kit's).

use std::{path::PathBuf, time::Duration};

use six_kit::{
    auth::{AuthConfig, ServiceTokenConfig},
    config::{ConfigError, Env},
    egress::EgressPolicy,
};
use url::Url;

use crate::ingest::SourceLimits;

/// Everything the importer reads beyond the common settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Verifying the users' access tokens.
    pub auth: AuthConfig,
    /// Where uploads are kept until their job ends (`IMPORTER_SPOOL_DIR`).
    pub spool_dir: PathBuf,
    /// Upload and decompression limits.
    pub source_limits: SourceLimits,
    /// Data rows one job may read (`IMPORTER_MAX_ROWS`).
    pub max_rows: u64,
    /// Longest cell, in bytes (`IMPORTER_MAX_CELL_BYTES`).
    pub max_cell_bytes: usize,
    /// Most cells in a record (`IMPORTER_MAX_COLUMNS`).
    pub max_columns: usize,
    /// Rows per committed chunk (`IMPORTER_CHUNK_ROWS`).
    pub chunk_rows: usize,
    /// Jobs one instance runs at once (`IMPORTER_WORKERS`).
    pub workers: usize,
    /// How long a running job stays claimed without a sign of life
    /// (`IMPORTER_JOB_LEASE_MS`).
    pub lease: Duration,
    /// Scheduled imports and their heartbeats.
    pub schedules: ScheduleSettings,
}

/// Scheduled imports: how often they may run, how their files are fetched, how
/// their heartbeats are sent.
#[derive(Debug, Clone)]
pub struct ScheduleSettings {
    /// How often each instance looks for due schedules and heartbeats
    /// (`IMPORTER_SCHEDULE_POLL_MS`).
    pub poll: Duration,
    /// Shortest time a cron expression may leave between two runs
    /// (`IMPORTER_SCHEDULE_MIN_INTERVAL_SECS`).
    pub min_interval: Duration,
    /// Schedules one user may have (`IMPORTER_MAX_SCHEDULES`).
    pub max_per_user: u64,
    /// Whether source and heartbeat URLs may reach private networks
    /// (`IMPORTER_FETCH_PRIVATE_ADDRESSES`).
    pub egress: EgressPolicy,
    /// Deadline of a whole fetch (`IMPORTER_FETCH_TIMEOUT_MS`).
    pub fetch_timeout: Duration,
    /// Deadline of a heartbeat call (`IMPORTER_HEARTBEAT_TIMEOUT_MS`).
    pub heartbeat_timeout: Duration,
    /// Auth's token proxy, when sources may use it.
    pub token_proxy: Option<TokenProxySettings>,
}

/// Fetching through auth's token proxy with this service's own token.
#[derive(Debug, Clone)]
pub struct TokenProxySettings {
    /// The proxy's base URL (`IMPORTER_TOKEN_PROXY_URL`), e.g.
    /// `http://auth:8080/internal/proxy`.
    pub url: Url,
    /// This service's client credentials (`AUTH_TOKEN_URL`, `AUTH_CLIENT_ID`,
    /// `AUTH_CLIENT_SECRET`).
    pub tokens: ServiceTokenConfig,
}

impl ScheduleSettings {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let token_proxy = match env.optional("IMPORTER_TOKEN_PROXY_URL", String::new())? {
            url if url.is_empty() => None,
            url => Some(TokenProxySettings {
                url: Url::parse(&url)
                    .ok()
                    .filter(|url| matches!(url.scheme(), "http" | "https") && url.query().is_none())
                    .ok_or_else(|| ConfigError::Invalid {
                        name: "IMPORTER_TOKEN_PROXY_URL".to_owned(),
                        reason: "must be auth's proxy base URL, e.g. \
                                 http://auth:8080/internal/proxy (no query)"
                            .to_owned(),
                    })?,
                tokens: ServiceTokenConfig::from_env(env)?,
            }),
        };
        let settings = Self {
            poll: env.millis("IMPORTER_SCHEDULE_POLL_MS", Duration::from_secs(15))?,
            min_interval: Duration::from_secs(
                env.optional("IMPORTER_SCHEDULE_MIN_INTERVAL_SECS", 900)?,
            ),
            max_per_user: env.optional("IMPORTER_MAX_SCHEDULES", 20)?,
            egress: if env.optional("IMPORTER_FETCH_PRIVATE_ADDRESSES", false)? {
                EgressPolicy::AnyAddress
            } else {
                EgressPolicy::PublicOnly
            },
            fetch_timeout: env.millis("IMPORTER_FETCH_TIMEOUT_MS", Duration::from_secs(300))?,
            heartbeat_timeout: env
                .millis("IMPORTER_HEARTBEAT_TIMEOUT_MS", Duration::from_secs(10))?,
            token_proxy,
        };
        for (name, value) in [
            (
                "IMPORTER_SCHEDULE_POLL_MS",
                settings.poll.as_millis() as u64,
            ),
            ("IMPORTER_MAX_SCHEDULES", settings.max_per_user),
            (
                "IMPORTER_FETCH_TIMEOUT_MS",
                settings.fetch_timeout.as_millis() as u64,
            ),
            (
                "IMPORTER_HEARTBEAT_TIMEOUT_MS",
                settings.heartbeat_timeout.as_millis() as u64,
            ),
        ] {
            positive(name, value)?;
        }
        Ok(settings)
    }
}

fn positive(name: &str, value: u64) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(ConfigError::Invalid {
            name: name.to_owned(),
            reason: "must be greater than zero".to_owned(),
        });
    }
    Ok(())
}

impl Settings {
    /// Reads and checks the settings; an error names the variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = SourceLimits::default();
        let settings = Self {
            auth: AuthConfig::from_env(env)?,
            spool_dir: PathBuf::from(
                env.optional(
                    "IMPORTER_SPOOL_DIR",
                    std::env::temp_dir()
                        .join("six-degrees-importer")
                        .display()
                        .to_string(),
                )?,
            ),
            source_limits: SourceLimits {
                max_upload_bytes: env
                    .optional("IMPORTER_MAX_UPLOAD_BYTES", defaults.max_upload_bytes)?,
                max_decompressed_bytes: env.optional(
                    "IMPORTER_MAX_DECOMPRESSED_BYTES",
                    defaults.max_decompressed_bytes,
                )?,
                max_compression_ratio: env.optional(
                    "IMPORTER_MAX_COMPRESSION_RATIO",
                    defaults.max_compression_ratio,
                )?,
                max_archive_entries: env
                    .optional("IMPORTER_MAX_ARCHIVE_ENTRIES", defaults.max_archive_entries)?,
            },
            max_rows: env.optional("IMPORTER_MAX_ROWS", 2_000_000)?,
            max_cell_bytes: env.optional("IMPORTER_MAX_CELL_BYTES", 4_096)?,
            max_columns: env.optional("IMPORTER_MAX_COLUMNS", 200)?,
            chunk_rows: env.optional("IMPORTER_CHUNK_ROWS", 2_000)?,
            workers: env.optional("IMPORTER_WORKERS", 2)?,
            lease: env.millis("IMPORTER_JOB_LEASE_MS", Duration::from_secs(30))?,
            schedules: ScheduleSettings::from_env(env)?,
        };
        for (name, value) in [
            ("IMPORTER_MAX_ROWS", settings.max_rows),
            ("IMPORTER_MAX_CELL_BYTES", settings.max_cell_bytes as u64),
            ("IMPORTER_MAX_COLUMNS", settings.max_columns as u64),
            ("IMPORTER_CHUNK_ROWS", settings.chunk_rows as u64),
            ("IMPORTER_WORKERS", settings.workers as u64),
            ("IMPORTER_JOB_LEASE_MS", settings.lease.as_millis() as u64),
        ] {
            positive(name, value)?;
        }
        Ok(settings)
    }
}
