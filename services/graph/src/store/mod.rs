//! Where the graph lives: the [`GraphStore`] trait and its two backends,
//! PostgreSQL (the local default) and Neo4j (production).
//!
//! A store keeps the projection (persons, identity keys, KNOWS edges) and answers
//! the few reads the queries in [`crate::network`] are built from. The privacy rules
//! are applied there, once, over whatever the store returns; a store only has to
//! return what each read's documentation says, and `tests/conformance` checks both
//! backends do.

pub mod postgres;

use std::collections::HashMap;

use six_events::{
    api::ProfileUpdated,
    auth::UserRegistered,
    importer::{ContactDeleted, ContactsImported},
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::identity::IdentityKey;
pub use postgres::PostgresGraph;

/// A store failed; the projection retries the event, a query answers 503.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("postgresql: {0}")]
    Postgres(#[from] sqlx::Error),
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

/// The requesting user's own place in the graph.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub person_id: Uuid,
    /// The persons of the viewer's contact entries, with the viewer's name for each
    /// (the first entry's, when several entries are one person) and whether that
    /// person is a discoverable user.
    pub contacts: HashMap<Uuid, ContactFacts>,
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
    /// frontier) its own entries, `from` the owner; and for each person of
    /// `frontier` the discoverable users whose entries name it, `to` the owner.
    /// Must read nothing else: the cost of the call may not depend on edges of
    /// users who are not discoverable.
    fn shared_neighbours(
        &self,
        frontier: &[Uuid],
        owners: &[Uuid],
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
