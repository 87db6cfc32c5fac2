//! The importer's own configuration (the common variables are the kit's).

use std::{path::PathBuf, time::Duration};

use six_kit::{
    auth::AuthConfig,
    config::{ConfigError, Env},
};

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
        };
        for (name, value) in [
            ("IMPORTER_MAX_ROWS", settings.max_rows),
            ("IMPORTER_MAX_CELL_BYTES", settings.max_cell_bytes as u64),
            ("IMPORTER_MAX_COLUMNS", settings.max_columns as u64),
            ("IMPORTER_CHUNK_ROWS", settings.chunk_rows as u64),
            ("IMPORTER_WORKERS", settings.workers as u64),
            ("IMPORTER_JOB_LEASE_MS", settings.lease.as_millis() as u64),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    name: name.to_owned(),
                    reason: "must be greater than zero".to_owned(),
                });
            }
        }
        Ok(settings)
    }
}
