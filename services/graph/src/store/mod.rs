//! Where the graph lives: the [`GraphStore`] trait and its two backends,
//! PostgreSQL (the local default) and Neo4j (production).
//!
//! A store keeps the projection (persons, identity keys, KNOWS edges) and answers
//! the few reads the queries in [`crate::network`] are built from. The privacy rules
//! are applied there, once, over whatever the store returns; a store only has to
//! return what each read's documentation says, and `tests/conformance` checks both
//! backends do.

pub mod neo4j;
pub mod postgres;

use std::{collections::HashMap, time::Duration};

use six_events::{
    api::ProfileUpdated,
    auth::UserRegistered,
    importer::{ContactDeleted, ContactsImported},
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::identity::IdentityKey;
pub use neo4j::{Neo4jConfig, Neo4jGraph};
pub use postgres::PostgresGraph;

/// A store failed; the projection retries the event, a question answers 503 or
/// 500 ([`StoreError::is_unavailable`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("postgresql: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("neo4j: {0}")]
    Neo4j(#[from] neo4rs::Error),
    #[error("neo4j did not answer within {after:?} (NEO4J_QUERY_TIMEOUT_MS)")]
    Neo4jTimeout { after: Duration },
    /// A row did not hold what the statement returns: the database was written by
    /// something else, or the schema changed under the service.
    #[error("neo4j returned an unexpected value: {0}")]
    Neo4jValue(String),
}

impl StoreError {
    /// Whether the store could not be reached or did not answer in time: a
    /// question may be asked again (503), as opposed to a fault (500).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Neo4jTimeout { .. }
                | StoreError::Neo4j(neo4rs::Error::IOError { .. } | neo4rs::Error::ConnectionError)
                | StoreError::Postgres(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_))
        )
    }
}

impl From<neo4rs::DeError> for StoreError {
    fn from(error: neo4rs::DeError) -> Self {
        StoreError::Neo4jValue(error.to_string())
    }
}

/// An owner whose contacts contain a user who just registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedOwner {
    pub owner_id: Uuid,
    /// The person the owner's contact was resolved to, now the new user's.
    pub person_id: Uuid,
}

/// Whom a query is about, as the client named them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Key(IdentityKey),
    Person(Uuid),
    User(Uuid),
}

/// A map keyed by person id with a fast hasher: path queries look up every edge
/// they read (~10,000 a step) in maps like these, where the standard hasher was
/// a tenth of the service's time. Ids are the graph's own, not chosen by clients.
pub type IdMap<V> = HashMap<Uuid, V, foldhash::fast::RandomState>;

/// The requesting user's own place in the graph.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub person_id: Uuid,
    /// The persons of the viewer's contact entries, with the viewer's name for each
    /// (the first entry's, when several entries are one person) and whether that
    /// person is a discoverable user.
    pub contacts: IdMap<ContactFacts>,
}

/// What the viewer's own entry says of a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactFacts {
    pub full_name: String,
    pub discoverable: bool,
}

/// One edge next to a frontier person, in the direction of the traversal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adjacent {
    pub from: Uuid,
    pub to: Uuid,
    /// Whether `to` is a discoverable user.
    pub to_discoverable: bool,
}

/// Which of an owner's entries a shared read returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contacts {
    /// Every entry.
    All,
    /// Only the entries of discoverable users: a path steps on to anyone else
    /// only if they are the viewer, a contact of the viewer or the target, and
    /// reads those few edges once (`network::path`) rather than every entry of
    /// every address book it widens. About one entry in six in the benchmark's
    /// network.
    OfDiscoverableUsers,
}

/// What may be shown of a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonFacts {
    pub person_id: Uuid,
    /// Set when the person is a user.
    pub user_id: Option<Uuid>,
    /// The user's chosen name; `None` for a person who is only someone's contact.
    pub display_name: Option<String>,
    pub discoverable: bool,
}

/// The graph's storage.
///
/// Projection methods receive the consumer's transaction: a store on PostgreSQL
/// writes in it (so the effect commits with the inbox row), another store writes
/// on its own and must then be idempotent, because the event may be applied again.
/// Every projection method is safe to apply twice.
pub trait GraphStore: Send + Sync + 'static {
    /// A user registered: link or create their person and record their e-mail key.
    /// Returns the owners whose contacts were already this person (not the user).
    fn register_user(
        &self,
        transaction: &mut PgConnection,
        user: &UserRegistered,
    ) -> impl Future<Output = Result<Vec<JoinedOwner>, StoreError>> + Send;

    /// A profile changed: the user's name and `discoverable`, unless a newer update
    /// was applied already.
    fn update_profile(
        &self,
        transaction: &mut PgConnection,
        profile: &ProfileUpdated,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A batch of the owner's contacts: persons resolved (see [`crate::identity`])
    /// and one KNOWS edge per entry not seen before and not deleted since.
    fn add_contacts(
        &self,
        transaction: &mut PgConnection,
        batch: &ContactsImported,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The owner deleted a contact: its edge goes, and a late copy of its batch
    /// will not bring it back.
    fn remove_contact(
        &self,
        transaction: &mut PgConnection,
        deleted: &ContactDeleted,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The user's account was deleted: every edge they own, their link to their
    /// person, their profile and every key only they brought go; later events
    /// about them change nothing. Other owners' entries stay.
    fn erase_user(
        &self,
        transaction: &mut PgConnection,
        user_id: Uuid,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The user's person and contact entries; `None` if the graph has no person
    /// for the user.
    fn viewer(
        &self,
        user_id: Uuid,
    ) -> impl Future<Output = Result<Option<Viewer>, StoreError>> + Send;

    /// The person a target names (following merges), if any.
    fn resolve(
        &self,
        target: &Target,
    ) -> impl Future<Output = Result<Option<Uuid>, StoreError>> + Send;

    /// The edges next to `frontier` that any user may cross: those owned by a
    /// discoverable user. For each person of `owners` (discoverable users of the
    /// frontier) its own entries (all, or those of discoverable users: see
    /// [`Contacts`]), `from` the owner; and for each person of `frontier` the
    /// discoverable users whose entries name it, `to` the owner. Must read nothing
    /// else: the cost of the call may not depend on edges of users who are not
    /// discoverable.
    fn shared_neighbours(
        &self,
        frontier: &[Uuid],
        owners: &[Uuid],
        contacts: Contacts,
    ) -> impl Future<Output = Result<Vec<Adjacent>, StoreError>> + Send;

    /// What may be shown of these persons (unknown ids are left out).
    fn describe(
        &self,
        persons: &[Uuid],
    ) -> impl Future<Output = Result<HashMap<Uuid, PersonFacts>, StoreError>> + Send;

    /// A name for `person` from a discoverable `owner`'s entry of them, for a
    /// target who is neither a user nor the viewer's contact.
    fn entry_name(
        &self,
        owner: Uuid,
        person: Uuid,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
}

/// The store the service was configured with (`GRAPH_STORE`).
#[derive(Debug, Clone)]
pub enum Backend {
    Postgres(PostgresGraph),
    Neo4j(Neo4jGraph),
}

/// Calls the same method on whichever store `backend` holds.
macro_rules! on_backend {
    ($backend:expr, $method:ident($($argument:expr),*)) => {
        match $backend {
            Backend::Postgres(store) => store.$method($($argument),*).await,
            Backend::Neo4j(store) => store.$method($($argument),*).await,
        }
    };
}

impl GraphStore for Backend {
    async fn register_user(
        &self,
        transaction: &mut PgConnection,
        user: &UserRegistered,
    ) -> Result<Vec<JoinedOwner>, StoreError> {
        on_backend!(self, register_user(transaction, user))
    }

    async fn update_profile(
        &self,
        transaction: &mut PgConnection,
        profile: &ProfileUpdated,
    ) -> Result<(), StoreError> {
        on_backend!(self, update_profile(transaction, profile))
    }

    async fn add_contacts(
        &self,
        transaction: &mut PgConnection,
        batch: &ContactsImported,
    ) -> Result<(), StoreError> {
        on_backend!(self, add_contacts(transaction, batch))
    }

    async fn remove_contact(
        &self,
        transaction: &mut PgConnection,
        deleted: &ContactDeleted,
    ) -> Result<(), StoreError> {
        on_backend!(self, remove_contact(transaction, deleted))
    }

    async fn erase_user(
        &self,
        transaction: &mut PgConnection,
        user_id: Uuid,
    ) -> Result<(), StoreError> {
        on_backend!(self, erase_user(transaction, user_id))
    }

    async fn viewer(&self, user_id: Uuid) -> Result<Option<Viewer>, StoreError> {
        on_backend!(self, viewer(user_id))
    }

    async fn resolve(&self, target: &Target) -> Result<Option<Uuid>, StoreError> {
        on_backend!(self, resolve(target))
    }

    async fn shared_neighbours(
        &self,
        frontier: &[Uuid],
        owners: &[Uuid],
        contacts: Contacts,
    ) -> Result<Vec<Adjacent>, StoreError> {
        on_backend!(self, shared_neighbours(frontier, owners, contacts))
    }

    async fn describe(&self, persons: &[Uuid]) -> Result<HashMap<Uuid, PersonFacts>, StoreError> {
        on_backend!(self, describe(persons))
    }

    async fn entry_name(&self, owner: Uuid, person: Uuid) -> Result<Option<String>, StoreError> {
        on_backend!(self, entry_name(owner, person))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_and_lost_connections_are_unavailable_other_faults_are_not() {
        let unavailable = [
            StoreError::Neo4jTimeout {
                after: Duration::from_secs(10),
            },
            StoreError::Neo4j(neo4rs::Error::ConnectionError),
            StoreError::Postgres(sqlx::Error::PoolTimedOut),
        ];
        for error in unavailable {
            assert!(error.is_unavailable(), "{error}");
        }
        let faults = [
            StoreError::Neo4jValue("person_id: invalid length".to_owned()),
            StoreError::Postgres(sqlx::Error::RowNotFound),
        ];
        for error in faults {
            assert!(!error.is_unavailable(), "{error}");
        }
    }
}
