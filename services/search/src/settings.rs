//! The search service's own configuration (the common variables are the kit's).

use std::{path::PathBuf, time::Duration};

use reqwest::Url;
use six_kit::{
    auth::{AuthConfig, ServiceTokenConfig},
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
    /// Where a reindex reads contacts; `None` (no `SEARCH_IMPORTER_URL`) turns
    /// reindexing off.
    pub reindex: Option<ReindexSettings>,
}

/// Rebuilding the index from the importer's contacts (`crate::reindex`).
#[derive(Debug, Clone)]
pub struct ReindexSettings {
    /// The importer's base URL (`SEARCH_IMPORTER_URL`, e.g. `http://importer:8080`).
    pub importer_url: Url,
    /// This service's client credentials on auth (`AUTH_TOKEN_URL`,
    /// `AUTH_CLIENT_ID`, `AUTH_CLIENT_SECRET`), for the importer's service route.
    pub tokens: ServiceTokenConfig,
    /// Contacts asked for per request (`SEARCH_REINDEX_PAGE_SIZE`, 1–5,000,
    /// default 1,000: the importer's own bounds).
    pub page_size: u32,
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
    /// Its directory (`SEARCH_INDEX_DIR`, default `data/search-index`), one
    /// subdirectory per version of the index (`v<n>`).
    pub dir: PathBuf,
    /// Memory the writer may buffer before it writes a segment
    /// (`SEARCH_INDEX_WRITER_MEMORY_BYTES`, default 64 MB; at least 15 MB, tantivy's
    /// floor).
    pub writer_memory_bytes: usize,
}

impl TantivyConfig {
    /// Where version `version` of the index lives: `<dir>/v<version>`.
    pub fn version_dir(&self, version: i64) -> PathBuf {
        self.dir.join(format!("v{version}"))
    }
}

/// tantivy refuses a writer with less.
const MIN_WRITER_MEMORY_BYTES: usize = 15_000_000;

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            auth: AuthConfig::from_env(env)?,
            index: IndexSettings::from_env(env)?,
            reindex: ReindexSettings::from_env(env)?,
        })
    }
}

impl ReindexSettings {
    fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let url = env.optional("SEARCH_IMPORTER_URL", String::new())?;
        if url.is_empty() {
            return Ok(None);
        }
        let importer_url = Url::parse(&url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.query().is_none())
            .ok_or_else(|| ConfigError::Invalid {
                name: "SEARCH_IMPORTER_URL".to_owned(),
                reason: "must be the importer's base URL, e.g. http://importer:8080".to_owned(),
            })?;
        let page_size = env.optional("SEARCH_REINDEX_PAGE_SIZE", 1_000_u32)?;
        if !(1..=5_000).contains(&page_size) {
            return Err(ConfigError::Invalid {
                name: "SEARCH_REINDEX_PAGE_SIZE".to_owned(),
                reason: "must be between 1 and 5000 (the importer's largest page)".to_owned(),
            });
        }
        Ok(Some(Self {
            importer_url,
            tokens: ServiceTokenConfig::from_env(env)?,
            page_size,
        }))
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
