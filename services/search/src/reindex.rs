//! Rebuilding the index from the source of truth while searches go on
//! (docs/search.md, "Reindex").
//!
//! A reindex creates a new version of the index and marks it `building`; from the
//! next event on, the projection writes every change to it as well as to the live
//! version. It then copies what the events would have built: discoverable
//! profiles from the service's own `profiles` table, contacts from the importer
//! (`GET /internal/contacts`, page by page). Each page is applied under the
//! projection's lock and filtered by its bookkeeping (deleted contacts, erased
//! users), so a deletion the projection saw first is not undone by an older copy.
//! Once everything is copied and committed, the new version becomes live in one
//! step (alias swap on Elasticsearch; on tantivy, the service's pointer) and the
//! old one is retired; its data is deleted when the next reindex starts.
//!
//! One reindex runs at a time across every instance: the one running holds a
//! session advisory lock. A version still `building` when another instance gets
//! that lock was abandoned by a stopped instance, and is marked failed.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use reqwest::Url;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use six_events::importer::ContactExportPage;
use six_kit::auth::{ServiceTokenError, ServiceTokenSource};
use sqlx::{PgConnection, PgPool, pool::PoolConnection, postgres::Postgres};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    consumers::lock_projection,
    document::Document,
    index::{Backend, Change, IndexError, Indexes, SearchIndex},
    settings::ReindexSettings,
};

/// Key of the session advisory lock a running reindex holds (`reindex` in ASCII).
const REINDEX_LOCK: i64 = 0x72_6569_6e64_6578;

/// The columns of [`VersionStatus`], as a literal so that queries stay static strings.
macro_rules! status_columns {
    () => {
        "version, state, profiles_copied, contacts_copied, error, requested_at, finished_at"
    };
}

/// What `GET /internal/reindex/{version}` shows of a version of the index.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct VersionStatus {
    pub version: i64,
    /// `building`, `live`, `retired` or `failed`.
    pub state: String,
    pub profiles_copied: i64,
    pub contacts_copied: i64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub requested_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

/// Why a reindex could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another is running (its status, unless it is just finishing).
    #[error("a reindex is already running")]
    Running(Option<Box<VersionStatus>>),
    #[error("reindexing is off: set SEARCH_IMPORTER_URL and the AUTH_* client credentials")]
    Off,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// Why a reindex failed; the message is kept on its version.
#[derive(Debug, thiserror::Error)]
enum CopyError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("no service token for the importer: {0}")]
    Token(#[from] ServiceTokenError),
    #[error("importer's contacts: {0}")]
    Importer(#[from] reqwest::Error),
    #[error("the service is stopping")]
    Stopped,
}

/// The versions the projection writes to: the live one and, during a reindex,
/// the one being built. Read under the projection's lock.
pub async fn current_versions(
    transaction: &mut PgConnection,
) -> Result<(i64, Option<i64>), sqlx::Error> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT version, state FROM index_versions WHERE state IN ('live', 'building')",
    )
    .fetch_all(transaction)
    .await?;
    let live = rows
        .iter()
        .find(|(_, state)| state == "live")
        .map(|(version, _)| *version)
        .ok_or_else(|| sqlx::Error::Protocol("index_versions has no live version".to_owned()))?;
    let building = rows
        .iter()
        .find(|(_, state)| state == "building")
        .map(|(version, _)| *version);
    Ok((live, building))
}

/// The version searches read, as the database says.
pub async fn live_version(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM index_versions WHERE state = 'live'")
        .fetch_one(pool)
        .await
}

/// One version's status; `None` for a version that never was.
pub async fn status(pool: &PgPool, version: i64) -> Result<Option<VersionStatus>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        status_columns!(),
        " FROM index_versions WHERE version = $1"
    ))
    .bind(version)
    .fetch_optional(pool)
    .await
}

/// Starts reindexes and runs them in the background.
pub struct Reindexer {
    pool: PgPool,
    indexes: Arc<Indexes>,
    source: Option<ContactSource>,
    stop: CancellationToken,
}

/// The importer's contacts, page by page.
struct ContactSource {
    client: reqwest::Client,
    url: Url,
    tokens: ServiceTokenSource,
    page_size: u32,
}

impl ContactSource {
    async fn page(&self, after: Option<Uuid>) -> Result<ContactExportPage, CopyError> {
        let mut url = self.url.clone();
        url.query_pairs_mut()
            .append_pair("limit", &self.page_size.to_string());
        if let Some(after) = after {
            url.query_pairs_mut()
                .append_pair("after", &after.to_string());
        }
        let token = self.tokens.token().await?;
        Ok(self
            .client
            .get(url)
            .bearer_auth(token.expose_secret())
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }
}

impl Reindexer {
    /// `settings` `None`: every start answers [`StartError::Off`].
    pub fn new(
        pool: PgPool,
        indexes: Arc<Indexes>,
        settings: Option<&ReindexSettings>,
        stop: CancellationToken,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let source = match settings {
            None => None,
            Some(settings) => Some(ContactSource {
                client: reqwest::Client::builder()
                    .timeout(settings.tokens.http_timeout)
                    .build()?,
                url: settings.importer_url.join("internal/contacts")?,
                tokens: ServiceTokenSource::new(settings.tokens.clone())?,
                page_size: settings.page_size,
            }),
        };
        Ok(Self {
            pool,
            indexes,
            source,
            stop,
        })
    }

    /// The service database, where the versions' states are kept.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the next version and starts filling it in the background.
    pub async fn start(self: &Arc<Self>) -> Result<VersionStatus, StartError> {
        if self.source.is_none() {
            return Err(StartError::Off);
        }
        let mut held = self.pool.acquire().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(REINDEX_LOCK)
            .fetch_one(&mut *held)
            .await?;
        if !locked {
            let running: Option<VersionStatus> = sqlx::query_as(concat!(
                "SELECT ",
                status_columns!(),
                " FROM index_versions WHERE state = 'building'"
            ))
            .fetch_optional(&self.pool)
            .await?;
            return Err(StartError::Running(running.map(Box::new)));
        }
        match self.create_version().await {
            Ok(status) => {
                let reindexer = Arc::clone(self);
                let version = status.version;
                tokio::spawn(async move { reindexer.run(version, held).await });
                Ok(status)
            }
            Err(error) => {
                unlock(held).await;
                Err(error)
            }
        }
    }

    /// Marks an abandoned build failed, deletes retired and failed versions' data,
    /// and creates the next version, `building`.
    async fn create_version(&self) -> Result<VersionStatus, StartError> {
        let mut transaction = self.pool.begin().await?;
        lock_projection(&mut transaction).await?;
        sqlx::query(
            "UPDATE index_versions SET state = 'failed', finished_at = now(), \
             error = 'abandoned: the instance building it stopped' WHERE state = 'building'",
        )
        .execute(&mut *transaction)
        .await?;
        let status: VersionStatus = sqlx::query_as(concat!(
            "INSERT INTO index_versions (version, state) \
             SELECT max(version) + 1, 'building' FROM index_versions RETURNING ",
            status_columns!()
        ))
        .fetch_one(&mut *transaction)
        .await?;
        transaction.commit().await?;

        let unused: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM index_versions \
             WHERE state IN ('retired', 'failed') AND data_deleted_at IS NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        for version in unused {
            self.indexes.delete(version).await?;
            sqlx::query("UPDATE index_versions SET data_deleted_at = now() WHERE version = $1")
                .bind(version)
                .execute(&self.pool)
                .await?;
        }
        self.indexes.version(status.version).await?;
        tracing::info!(version = status.version, "reindex started");
        Ok(status)
    }

    async fn run(&self, version: i64, held: PoolConnection<Postgres>) {
        match self.copy_and_switch(version).await {
            Ok(()) => tracing::info!(version, "reindex done: the new version is live"),
            Err(error) => {
                tracing::error!(version, %error, "reindex failed; the live version stays");
                if let Err(error) = self.fail(version, &error.to_string()).await {
                    tracing::error!(version, %error, "reindex failure could not be recorded");
                }
            }
        }
        unlock(held).await;
    }

    async fn copy_and_switch(&self, version: i64) -> Result<(), CopyError> {
        let index = self.indexes.version(version).await?;
        self.copy_profiles(version, &index).await?;
        let source = self.source.as_ref().expect("started only with a source");
        let mut after = None;
        loop {
            let page = tokio::select! {
                () = self.stop.cancelled() => return Err(CopyError::Stopped),
                page = source.page(after) => page?,
            };
            self.copy_contacts(version, &index, &page).await?;
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        index.commit().await?;

        let mut transaction = self.pool.begin().await?;
        lock_projection(&mut transaction).await?;
        self.indexes.promote(version).await?;
        sqlx::query(
            "UPDATE index_versions SET state = 'retired', finished_at = now() WHERE state = 'live'",
        )
        .execute(&mut *transaction)
        .await?;
        sqlx::query(
            "UPDATE index_versions SET state = 'live', finished_at = now() WHERE version = $1",
        )
        .bind(version)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        self.indexes.keep(version, None).await?;
        Ok(())
    }

    /// Every discoverable profile of a user not erased.
    async fn copy_profiles(&self, version: i64, index: &Backend) -> Result<(), CopyError> {
        let mut transaction = self.pool.begin().await?;
        lock_projection(&mut transaction).await?;
        let profiles: Vec<(Uuid, String, Option<String>)> = sqlx::query_as(
            "SELECT user_id, display_name, headline FROM profiles WHERE discoverable",
        )
        .fetch_all(&mut *transaction)
        .await?;
        let changes = profiles
            .into_iter()
            .map(|(user_id, display_name, headline)| {
                Change::Upsert(Document::profile(user_id, display_name, headline))
            })
            .collect();
        copy(
            transaction,
            index,
            changes,
            "UPDATE index_versions SET profiles_copied = profiles_copied + $1 WHERE version = $2",
            version,
        )
        .await
    }

    /// One page of the importer's contacts, except those deleted or of an erased
    /// owner as the projection's bookkeeping has it now.
    async fn copy_contacts(
        &self,
        version: i64,
        index: &Backend,
        page: &ContactExportPage,
    ) -> Result<(), CopyError> {
        let mut transaction = self.pool.begin().await?;
        lock_projection(&mut transaction).await?;
        let owners: Vec<Uuid> = page.contacts.iter().map(|owned| owned.owner_id).collect();
        let contact_ids: Vec<Uuid> = page
            .contacts
            .iter()
            .map(|owned| owned.contact.contact_id)
            .collect();
        let gone: std::collections::HashSet<Uuid> = sqlx::query_scalar(
            "SELECT contact_id FROM removed_contacts WHERE contact_id = ANY($1) \
             UNION ALL SELECT user_id FROM erased_users WHERE user_id = ANY($2)",
        )
        .bind(&contact_ids)
        .bind(&owners)
        .fetch_all(&mut *transaction)
        .await?
        .into_iter()
        .collect();
        let changes: Vec<Change> = page
            .contacts
            .iter()
            .filter(|owned| {
                !gone.contains(&owned.owner_id) && !gone.contains(&owned.contact.contact_id)
            })
            .map(|owned| Change::Upsert(Document::of_contact(owned.owner_id, &owned.contact)))
            .collect();
        copy(
            transaction,
            index,
            changes,
            "UPDATE index_versions SET contacts_copied = contacts_copied + $1 WHERE version = $2",
            version,
        )
        .await
    }

    /// Records the failure; the projection stops writing to the version at its
    /// next event, this instance at once.
    async fn fail(&self, version: i64, error: &str) -> Result<(), CopyError> {
        let mut transaction = self.pool.begin().await?;
        lock_projection(&mut transaction).await?;
        sqlx::query(
            "UPDATE index_versions SET state = 'failed', finished_at = now(), error = $2 \
             WHERE version = $1 AND state = 'building'",
        )
        .bind(version)
        .bind(error)
        .execute(&mut *transaction)
        .await?;
        let (live, building) = current_versions(&mut transaction).await?;
        transaction.commit().await?;
        self.indexes.keep(live, building).await?;
        Ok(())
    }
}

/// Applies copied documents to the version being built, counts them with
/// `count_sql` (`$1` their number, `$2` the version), and commits `transaction`,
/// which holds the projection's lock.
async fn copy(
    mut transaction: sqlx::Transaction<'_, Postgres>,
    index: &Backend,
    changes: Vec<Change>,
    count_sql: &'static str,
    version: i64,
) -> Result<(), CopyError> {
    let copied = changes.len() as i64;
    index.apply(changes).await?;
    sqlx::query(count_sql)
        .bind(copied)
        .bind(version)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(())
}

async fn unlock(mut held: PoolConnection<Postgres>) {
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(REINDEX_LOCK)
        .execute(&mut *held)
        .await;
    if let Err(error) = unlocked {
        // The lock goes with the connection: close it rather than return it.
        tracing::warn!(%error, "reindex lock not released; closing its connection");
        held.detach();
    }
}
