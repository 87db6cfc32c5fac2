//! Versions of the index, so it can be rebuilt while it answers (`crate::reindex`).
//!
//! The service database says which version is live (searched) and which, if any,
//! a reindex is building (`index_versions`). [`Indexes`] keeps those versions
//! open: the projection writes every change to each of them, searches read the
//! live one. Where a version lives is the backend's business: tantivy keeps each
//! in a directory of its own (`<SEARCH_INDEX_DIR>/v<n>`), Elasticsearch in an
//! index of its own (`<alias>-v<n>`), searched through the alias.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, PoisonError, RwLock},
};

use super::{Backend, Change, ElasticsearchIndex, IndexError, Page, SearchIndex, SearchQuery};
use crate::{IndexSettings, index::TantivyIndex};

/// The open versions of the index: the live one and the one being built.
pub struct Indexes {
    settings: IndexSettings,
    /// Every open version by number; the live one among them.
    open: tokio::sync::Mutex<BTreeMap<i64, Arc<Backend>>>,
    live: RwLock<Live>,
}

#[derive(Clone)]
struct Live {
    version: i64,
    index: Arc<Backend>,
}

impl Indexes {
    /// Opens `live_version` (creating it when missing) and searches it.
    pub async fn open(settings: IndexSettings, live_version: i64) -> Result<Self, IndexError> {
        let index = Arc::new(open_version(&settings, live_version).await?);
        Ok(Self {
            settings,
            open: tokio::sync::Mutex::new(BTreeMap::from([(live_version, Arc::clone(&index))])),
            live: RwLock::new(Live {
                version: live_version,
                index,
            }),
        })
    }

    /// The version searches read.
    pub fn live_version(&self) -> i64 {
        self.live_snapshot().version
    }

    fn live_snapshot(&self) -> Live {
        self.live
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Version `version`, opened (and created when missing) on first use.
    pub async fn version(&self, version: i64) -> Result<Arc<Backend>, IndexError> {
        let mut open = self.open.lock().await;
        if let Some(index) = open.get(&version) {
            return Ok(Arc::clone(index));
        }
        let index = Arc::new(open_version(&self.settings, version).await?);
        open.insert(version, Arc::clone(&index));
        Ok(index)
    }

    /// Makes the open versions exactly `live` and `building`, and searches `live`
    /// from now on. Versions no longer wanted are closed (their data stays).
    pub async fn keep(&self, live: i64, building: Option<i64>) -> Result<(), IndexError> {
        // The projection calls this at every event; almost always nothing changed.
        let unchanged = self.live_version() == live
            && self
                .open
                .lock()
                .await
                .keys()
                .copied()
                .eq([Some(live), building]
                    .into_iter()
                    .flatten()
                    .collect::<BTreeSet<_>>());
        if unchanged {
            return Ok(());
        }
        let live_index = self.version(live).await?;
        if let Some(building) = building {
            self.version(building).await?;
        }
        self.open
            .lock()
            .await
            .retain(|version, _| *version == live || Some(*version) == building);
        *self.live.write().unwrap_or_else(PoisonError::into_inner) = Live {
            version: live,
            index: live_index,
        };
        Ok(())
    }

    /// Points searches everywhere at `version`, as an atomic switch: the alias
    /// swap on Elasticsearch (every instance searches through the alias); on
    /// tantivy, whose one instance holds the pointer in memory, [`Indexes::keep`]
    /// makes the switch.
    pub async fn promote(&self, version: i64) -> Result<(), IndexError> {
        match &*self.version(version).await? {
            Backend::Tantivy(_) => Ok(()),
            Backend::Elasticsearch(index) => index.promote().await,
        }
    }

    /// Deletes the data of `version`, which must be neither live nor being built.
    pub async fn delete(&self, version: i64) -> Result<(), IndexError> {
        // A search may still hold it; the data goes anyway (on tantivy, files a
        // search has mapped stay readable until it ends).
        self.open.lock().await.remove(&version);
        match &self.settings {
            IndexSettings::Tantivy(config) => {
                match std::fs::remove_dir_all(config.version_dir(version)) {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                        Err(::tantivy::TantivyError::from(error).into())
                    }
                    _ => Ok(()),
                }
            }
            IndexSettings::Elasticsearch(config) => {
                ElasticsearchIndex::handle(config, version)?.delete().await
            }
        }
    }

    async fn open_versions(&self) -> Vec<Arc<Backend>> {
        self.open.lock().await.values().cloned().collect()
    }
}

async fn open_version(settings: &IndexSettings, version: i64) -> Result<Backend, IndexError> {
    Ok(match settings {
        IndexSettings::Tantivy(config) => Backend::Tantivy(TantivyIndex::open(
            &config.version_dir(version),
            config.writer_memory_bytes,
        )?),
        IndexSettings::Elasticsearch(config) => {
            Backend::Elasticsearch(ElasticsearchIndex::connect(config, version).await?)
        }
    })
}

/// Writes go to every open version, searches to the live one.
impl SearchIndex for Indexes {
    async fn apply(&self, changes: Vec<Change>) -> Result<(), IndexError> {
        for index in self.open_versions().await {
            index.apply(changes.clone()).await?;
        }
        Ok(())
    }

    async fn commit(&self) -> Result<(), IndexError> {
        for index in self.open_versions().await {
            index.commit().await?;
        }
        Ok(())
    }

    async fn search(&self, query: SearchQuery) -> Result<Page, IndexError> {
        self.live_snapshot().index.search(query).await
    }
}
