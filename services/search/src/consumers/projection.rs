//! Keeps the index in step with the events of the importer, api and auth: every
//! change goes to each open version of the index (the live one and, during a
//! reindex, the one being built; `crate::reindex`).
//!
//! Every write of the projection holds one transaction-level advisory lock, from
//! its bookkeeping reads to the commit, so the index receives changes in the order
//! their bookkeeping committed; a change applied by a transaction that then rolled
//! back is repeated when its event is (the changes are idempotent upserts and
//! deletes, so nothing is lost or doubled). The index commits in
//! [`Handler::before_commit`], so no event is acknowledged before its documents
//! are durable.

use std::sync::Arc;

use six_bus::{Handler, HandlerError};
use six_events::{
    DomainEvent, EventData,
    api::ProfileUpdated,
    auth::UserDeleted,
    importer::{ContactDeleted, ContactsImported},
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    document::Document,
    index::{Change, IndexError, Indexes, SearchIndex},
    reindex,
};

/// Key of the projection's advisory lock (`search` in ASCII).
const PROJECTION_LOCK: i64 = 0x7365_6172_6368;

/// Takes the projection's lock until `transaction` ends: every write to the index
/// and its bookkeeping, the reindex's included, holds it.
pub async fn lock_projection(transaction: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PROJECTION_LOCK)
        .execute(transaction)
        .await?;
    Ok(())
}

/// Applies the events that shape the index.
pub struct Projection {
    indexes: Arc<Indexes>,
}

impl Projection {
    pub fn new(indexes: Arc<Indexes>) -> Self {
        Self { indexes }
    }
}

impl From<IndexError> for HandlerError {
    fn from(error: IndexError) -> Self {
        HandlerError::Transient(Box::new(error))
    }
}

impl Handler for Projection {
    fn event_types(&self) -> Vec<&'static str> {
        vec![
            ContactsImported::TYPE,
            ContactDeleted::TYPE,
            ProfileUpdated::TYPE,
            UserDeleted::TYPE,
        ]
    }

    async fn handle(
        &self,
        event: &DomainEvent,
        transaction: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        lock_projection(transaction).await?;
        let (live, building) = reindex::current_versions(transaction).await?;
        self.indexes.keep(live, building).await?;
        let changes = match event {
            DomainEvent::ContactsImported(batch) => contacts(transaction, batch.data()).await?,
            DomainEvent::ContactDeleted(deleted) => {
                contact_deleted(transaction, deleted.data()).await?
            }
            DomainEvent::ProfileUpdated(updated) => profile(transaction, updated.data()).await?,
            DomainEvent::UserDeleted(deleted) => {
                user_deleted(transaction, deleted.data().user_id).await?
            }
            other => {
                return Err(HandlerError::Permanent(format!(
                    "unexpected event `{}`",
                    other.routing_key()
                )));
            }
        };
        if !changes.is_empty() {
            self.indexes.apply(changes).await?;
        }
        Ok(())
    }

    async fn before_commit(&self, _transaction: &mut PgConnection) -> Result<(), HandlerError> {
        self.indexes.commit().await?;
        Ok(())
    }
}

async fn is_erased(transaction: &mut PgConnection, user_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM erased_users WHERE user_id = $1)")
        .bind(user_id)
        .fetch_one(transaction)
        .await
}

/// A batch's contacts, except those their owner deleted since.
async fn contacts(
    transaction: &mut PgConnection,
    batch: &ContactsImported,
) -> Result<Vec<Change>, sqlx::Error> {
    if is_erased(transaction, batch.owner_id).await? {
        return Ok(Vec::new());
    }
    let contact_ids: Vec<Uuid> = batch.contacts.iter().map(|c| c.contact_id).collect();
    let removed: std::collections::HashSet<Uuid> = sqlx::query_scalar(
        "SELECT contact_id FROM removed_contacts WHERE owner_id = $1 AND contact_id = ANY($2)",
    )
    .bind(batch.owner_id)
    .bind(&contact_ids)
    .fetch_all(transaction)
    .await?
    .into_iter()
    .collect();
    Ok(batch
        .contacts
        .iter()
        .filter(|contact| !removed.contains(&contact.contact_id))
        .map(|contact| Change::Upsert(Document::of_contact(batch.owner_id, contact)))
        .collect())
}

async fn contact_deleted(
    transaction: &mut PgConnection,
    deleted: &ContactDeleted,
) -> Result<Vec<Change>, sqlx::Error> {
    if is_erased(transaction, deleted.owner_id).await? {
        return Ok(Vec::new());
    }
    sqlx::query(
        "INSERT INTO removed_contacts (owner_id, contact_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(deleted.owner_id)
    .bind(deleted.contact_id)
    .execute(transaction)
    .await?;
    Ok(vec![Change::DeleteContact {
        contact_id: deleted.contact_id,
    }])
}

/// A profile newer than the one applied: kept (for a reindex), indexed while
/// discoverable, removed when not.
async fn profile(
    transaction: &mut PgConnection,
    profile: &ProfileUpdated,
) -> Result<Vec<Change>, sqlx::Error> {
    if is_erased(transaction, profile.user_id).await? {
        return Ok(Vec::new());
    }
    let newer = sqlx::query(
        "INSERT INTO profiles (user_id, updated_at, display_name, headline, discoverable) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id) DO UPDATE SET updated_at = EXCLUDED.updated_at, \
         display_name = EXCLUDED.display_name, headline = EXCLUDED.headline, \
         discoverable = EXCLUDED.discoverable \
         WHERE profiles.updated_at < EXCLUDED.updated_at",
    )
    .bind(profile.user_id)
    .bind(profile.updated_at)
    .bind(&profile.display_name)
    .bind(&profile.headline)
    .bind(profile.discoverable)
    .execute(transaction)
    .await?
    .rows_affected()
        == 1;
    Ok(match (newer, profile.discoverable) {
        (false, _) => Vec::new(),
        (true, true) => vec![Change::Upsert(Document::of_profile(profile))],
        (true, false) => vec![Change::DeleteProfile {
            user_id: profile.user_id,
        }],
    })
}

/// Everything owned by and about the user goes: their contacts and their profile.
async fn user_deleted(
    transaction: &mut PgConnection,
    user_id: Uuid,
) -> Result<Vec<Change>, sqlx::Error> {
    sqlx::query("INSERT INTO erased_users (user_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(user_id)
        .execute(&mut *transaction)
        .await?;
    sqlx::query("DELETE FROM removed_contacts WHERE owner_id = $1")
        .bind(user_id)
        .execute(&mut *transaction)
        .await?;
    sqlx::query("DELETE FROM profiles WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *transaction)
        .await?;
    Ok(vec![
        Change::DeleteContactsOf { owner_id: user_id },
        Change::DeleteProfile { user_id },
    ])
}
