//! The search service's own configuration (the common variables are the kit's).

use std::path::PathBuf;

use six_kit::{
    auth::AuthConfig,
    config::{ConfigError, Env},
};

/// Everything search reads beyond the common settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Verifying the users' access tokens.
    pub auth: AuthConfig,
    /// Where the index lives.
    pub index: IndexSettings,
}

/// The embedded tantivy index (the local default; one instance of the service).
#[derive(Debug, Clone)]
pub struct IndexSettings {
    /// Its directory (`SEARCH_INDEX_DIR`, default `data/search-index`).
    pub dir: PathBuf,
    /// Memory the writer may buffer before it writes a segment
    /// (`SEARCH_INDEX_WRITER_MEMORY_BYTES`, default 64 MB; at least 15 MB, tantivy's
    /// floor).
    pub writer_memory_bytes: usize,
}

/// tantivy refuses a writer with less.
const MIN_WRITER_MEMORY_BYTES: usize = 15_000_000;

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let writer_memory_bytes =
            env.optional("SEARCH_INDEX_WRITER_MEMORY_BYTES", 64_000_000_usize)?;
        if writer_memory_bytes < MIN_WRITER_MEMORY_BYTES {
            return Err(ConfigError::Invalid {
                name: "SEARCH_INDEX_WRITER_MEMORY_BYTES".to_owned(),
                reason: format!("must be at least {MIN_WRITER_MEMORY_BYTES}"),
            });
        }
        Ok(Self {
            auth: AuthConfig::from_env(env)?,
            index: IndexSettings {
                dir: PathBuf::from(
                    env.optional("SEARCH_INDEX_DIR", String::from("data/search-index"))?,
                ),
                writer_memory_bytes,
            },
        })
    }
}
