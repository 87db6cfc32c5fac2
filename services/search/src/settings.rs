//! The search service's own configuration (the common variables are the kit's).

use std::{path::PathBuf, time::Duration};

use six_kit::{
    auth::AuthConfig,
    config::{ConfigError, Env},
};

use crate::index::ElasticsearchConfig;

/// Everything search reads beyond the common settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Verifying the users' access tokens.
    pub auth: AuthConfig,
    /// Where the index lives (`SEARCH_INDEX`).
    pub index: IndexSettings,
}

/// `SEARCH_INDEX=tantivy` (the default: an embedded index, one instance of the
/// service) or `SEARCH_INDEX=elasticsearch` with the `ELASTICSEARCH_*` variables.
#[derive(Debug, Clone)]
pub enum IndexSettings {
    Tantivy(TantivyConfig),
    Elasticsearch(ElasticsearchConfig),
}

/// The embedded tantivy index.
#[derive(Debug, Clone)]
pub struct TantivyConfig {
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
        Ok(Self {
            auth: AuthConfig::from_env(env)?,
            index: IndexSettings::from_env(env)?,
        })
    }
}

impl IndexSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        match env
            .optional("SEARCH_INDEX", String::from("tantivy"))?
            .as_str()
        {
            "tantivy" => {
                let writer_memory_bytes =
                    env.optional("SEARCH_INDEX_WRITER_MEMORY_BYTES", 64_000_000_usize)?;
                if writer_memory_bytes < MIN_WRITER_MEMORY_BYTES {
                    return Err(ConfigError::Invalid {
                        name: "SEARCH_INDEX_WRITER_MEMORY_BYTES".to_owned(),
                        reason: format!("must be at least {MIN_WRITER_MEMORY_BYTES}"),
                    });
                }
                Ok(Self::Tantivy(TantivyConfig {
                    dir: PathBuf::from(
                        env.optional("SEARCH_INDEX_DIR", String::from("data/search-index"))?,
                    ),
                    writer_memory_bytes,
                }))
            }
            "elasticsearch" => {
                let user = env.optional::<String>("ELASTICSEARCH_USERNAME", String::new())?;
                let credentials = if user.is_empty() {
                    None
                } else {
                    Some((
                        user,
                        env.secret(
                            "ELASTICSEARCH_PASSWORD",
                            "the password of ELASTICSEARCH_USERNAME",
                        )?,
                    ))
                };
                Ok(Self::Elasticsearch(ElasticsearchConfig {
                    url: env.required(
                        "ELASTICSEARCH_URL",
                        "the Elasticsearch address, e.g. http://elasticsearch:9200 \
                         (SEARCH_INDEX=elasticsearch)",
                    )?,
                    alias: env.optional("ELASTICSEARCH_INDEX", String::from("search-documents"))?,
                    credentials,
                    timeout: env.millis("ELASTICSEARCH_TIMEOUT_MS", Duration::from_secs(10))?,
                    max_retries: env.optional("ELASTICSEARCH_MAX_RETRIES", 3)?,
                }))
            }
            _ => Err(ConfigError::Invalid {
                name: "SEARCH_INDEX".to_owned(),
                reason: "must be `tantivy` or `elasticsearch`".to_owned(),
            }),
        }
    }
}
