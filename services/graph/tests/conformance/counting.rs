//! A store that records the shared reads questions make ([`Counting`]): what a
//! question costs, counted where the work is.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use graph::store::{
    Adjacent, Contacts, GraphStore, JoinedOwner, PersonFacts, PostgresGraph, StoreError, Target,
    Viewer,
};
use six_events::{
    api::ProfileUpdated,
    auth::UserRegistered,
    importer::{ContactDeleted, ContactsImported},
};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Graph, database};

/// The reads a question caused: each shared read's frontier size, owners and rows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reads(pub Vec<(usize, usize, usize)>);

/// The PostgreSQL store, recording its shared reads.
pub struct Counting {
    inner: PostgresGraph,
    reads: Arc<Mutex<Reads>>,
}

impl Counting {
    /// The reads since the last call.
    pub fn take(&self) -> Reads {
        std::mem::take(&mut *self.reads.lock().unwrap())
    }
}

impl GraphStore for Counting {
    async fn register_user(
        &self,
        transaction: &mut PgConnection,
        user: &UserRegistered,
    ) -> Result<Vec<JoinedOwner>, StoreError> {
        self.inner.register_user(transaction, user).await
    }

    async fn update_profile(
        &self,
        transaction: &mut PgConnection,
        profile: &ProfileUpdated,
    ) -> Result<(), StoreError> {
        self.inner.update_profile(transaction, profile).await
    }

    async fn add_contacts(
        &self,
        transaction: &mut PgConnection,
        batch: &ContactsImported,
    ) -> Result<(), StoreError> {
        self.inner.add_contacts(transaction, batch).await
    }

    async fn remove_contact(
        &self,
        transaction: &mut PgConnection,
        deleted: &ContactDeleted,
    ) -> Result<(), StoreError> {
        self.inner.remove_contact(transaction, deleted).await
    }

    async fn erase_user(
        &self,
        transaction: &mut PgConnection,
        user_id: Uuid,
    ) -> Result<(), StoreError> {
        self.inner.erase_user(transaction, user_id).await
    }

    async fn viewer(&self, user_id: Uuid) -> Result<Option<Viewer>, StoreError> {
        self.inner.viewer(user_id).await
    }

    async fn resolve(&self, target: &Target) -> Result<Option<Uuid>, StoreError> {
        self.inner.resolve(target).await
    }

    async fn shared_neighbours(
        &self,
        frontier: &[Uuid],
        owners: &[Uuid],
        contacts: Contacts,
    ) -> Result<Vec<Adjacent>, StoreError> {
        let edges = self
            .inner
            .shared_neighbours(frontier, owners, contacts)
            .await?;
        self.reads
            .lock()
            .unwrap()
            .0
            .push((frontier.len(), owners.len(), edges.len()));
        Ok(edges)
    }

    async fn describe(&self, persons: &[Uuid]) -> Result<HashMap<Uuid, PersonFacts>, StoreError> {
        self.inner.describe(persons).await
    }

    async fn entry_name(&self, owner: Uuid, person: Uuid) -> Result<Option<String>, StoreError> {
        self.inner.entry_name(owner, person).await
    }
}

/// A fresh graph on the counting store.
pub async fn counting_graph() -> Graph<Counting> {
    let database = database().await;
    let store = Counting {
        inner: PostgresGraph::new(database.pool()),
        reads: Arc::default(),
    };
    Graph::new(store, database)
}
