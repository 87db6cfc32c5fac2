//! The conformance suite every [`GraphStore`] must pass: each case builds a small
//! network through the projection methods and asks the questions of
//! [`graph::network`] about it. `conformance_cases!` expands to one test per case
//! for a backend, given an async function that makes a fresh, empty [`Graph`].

#![allow(dead_code)] // each test binary uses a different part

pub mod cases;

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use graph::{
    identity::IdentityKey,
    network::{self, EgoNetwork, Limits, NetworkStats, PathAnswer, ShownPerson, Suggestion},
    store::{GraphStore, JoinedOwner, Target, Viewer},
};
use six_events::{
    api::ProfileUpdated,
    auth::UserRegistered,
    importer::{ContactDeleted, ContactsImported, ImportedContact},
};
use six_kit::Service;
use six_testkit::TestDatabase;
use sqlx::PgPool;
use uuid::Uuid;

/// Limits of the suite unless a case sets its own.
pub const LIMITS: Limits = Limits {
    max_visited: 100_000,
    ego_max_nodes: 300,
};

/// A store under test and the PostgreSQL database its projection methods get a
/// transaction of.
pub struct Graph<S> {
    pub store: S,
    pool: PgPool,
    _database: TestDatabase,
    clock: AtomicI64,
}

/// A fresh database with the service's migrations, for the store to use or not.
pub async fn database() -> TestDatabase {
    let database = TestDatabase::create().await;
    <graph::App as Service>::migrator()
        .run(&database.pool())
        .await
        .expect("the graph migrations apply");
    database
}

/// An entry of an address book with one e-mail address.
pub fn contact(full_name: &str, email: &str) -> ImportedContact {
    ImportedContact {
        contact_id: Uuid::now_v7(),
        full_name: full_name.to_owned(),
        first_name: None,
        last_name: None,
        emails: vec![email.to_owned()],
        phones: Vec::new(),
        company: None,
        title: None,
        location: None,
        profile_url: None,
        connected_on: None,
    }
}

/// The e-mail key of `email`, as a target.
pub fn email(email: &str) -> Target {
    Target::Key(IdentityKey::email(email).expect("a valid address"))
}

impl<S: GraphStore> Graph<S> {
    pub fn new(store: S, database: TestDatabase) -> Self {
        Self {
            store,
            pool: database.pool(),
            _database: database,
            clock: AtomicI64::new(0),
        }
    }

    /// The database the projection's transactions come from.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A time later than every earlier call's.
    fn tick(&self) -> DateTime<Utc> {
        let seconds = self.clock.fetch_add(1, Ordering::Relaxed);
        Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
    }

    pub async fn register(&self, user_id: Uuid, email: &str, name: &str) -> Vec<JoinedOwner> {
        let event = UserRegistered {
            user_id,
            email: email.to_owned(),
            display_name: name.to_owned(),
            registered_at: self.tick(),
        };
        let mut transaction = self.pool.begin().await.unwrap();
        let joined = self
            .store
            .register_user(&mut transaction, &event)
            .await
            .unwrap();
        transaction.commit().await.unwrap();
        joined
    }

    /// A user with a profile: registered, then `discoverable` as given.
    pub async fn user(&self, email: &str, name: &str, discoverable: bool) -> Uuid {
        let user_id = Uuid::now_v7();
        self.register(user_id, email, name).await;
        self.profile(user_id, name, discoverable).await;
        user_id
    }

    pub async fn profile(&self, user_id: Uuid, name: &str, discoverable: bool) {
        let at = self.tick();
        self.profile_at(user_id, name, discoverable, at).await;
    }

    pub async fn profile_at(
        &self,
        user_id: Uuid,
        name: &str,
        discoverable: bool,
        updated_at: DateTime<Utc>,
    ) {
        let event = ProfileUpdated {
            user_id,
            display_name: name.to_owned(),
            headline: None,
            discoverable,
            updated_at,
        };
        let mut transaction = self.pool.begin().await.unwrap();
        self.store
            .update_profile(&mut transaction, &event)
            .await
            .unwrap();
        transaction.commit().await.unwrap();
    }

    /// Imports `contacts` for `owner` as one batch of a new import; returns it.
    pub async fn import(&self, owner_id: Uuid, contacts: Vec<ImportedContact>) -> ContactsImported {
        let batch = ContactsImported {
            import_id: Uuid::now_v7(),
            owner_id,
            batch_seq: 0,
            contacts,
        };
        self.apply(&batch).await;
        batch
    }

    /// Applies a batch (again).
    pub async fn apply(&self, batch: &ContactsImported) {
        let mut transaction = self.pool.begin().await.unwrap();
        self.store
            .add_contacts(&mut transaction, batch)
            .await
            .unwrap();
        transaction.commit().await.unwrap();
    }

    pub async fn delete_contact(&self, batch: &ContactsImported, contact_id: Uuid) {
        let event = ContactDeleted {
            import_id: batch.import_id,
            owner_id: batch.owner_id,
            contact_id,
            deleted_at: self.tick(),
        };
        let mut transaction = self.pool.begin().await.unwrap();
        self.store
            .remove_contact(&mut transaction, &event)
            .await
            .unwrap();
        transaction.commit().await.unwrap();
    }

    pub async fn erase(&self, user_id: Uuid) {
        let mut transaction = self.pool.begin().await.unwrap();
        self.store
            .erase_user(&mut transaction, user_id)
            .await
            .unwrap();
        transaction.commit().await.unwrap();
    }

    pub async fn viewer(&self, user_id: Uuid) -> Viewer {
        self.store
            .viewer(user_id)
            .await
            .unwrap()
            .expect("the user has a person")
    }

    pub async fn person(&self, target: &Target) -> Option<Uuid> {
        self.store.resolve(target).await.unwrap()
    }

    pub async fn path(&self, user_id: Uuid, target: &Target, max_hops: u8) -> PathAnswer {
        let viewer = self.viewer(user_id).await;
        network::path(&self.store, &viewer, target, max_hops, LIMITS)
            .await
            .unwrap()
    }

    /// The names along the path, or `None` when not connected.
    pub async fn path_names(&self, user_id: Uuid, target: &Target) -> Option<Vec<String>> {
        match self.path(user_id, target, network::MAX_HOPS).await {
            PathAnswer::Connected { chain } => Some(chain.into_iter().map(|p| p.name).collect()),
            PathAnswer::NotConnected => None,
        }
    }

    pub async fn mutuals(&self, user_id: Uuid, other: &Target) -> Vec<ShownPerson> {
        let viewer = self.viewer(user_id).await;
        network::mutuals(&self.store, &viewer, other, LIMITS)
            .await
            .unwrap()
    }

    pub async fn suggestions(&self, user_id: Uuid) -> Vec<Suggestion> {
        let viewer = self.viewer(user_id).await;
        network::suggestions(&self.store, &viewer, 50, LIMITS)
            .await
            .unwrap()
    }

    pub async fn stats(&self, user_id: Uuid) -> NetworkStats {
        let viewer = self.viewer(user_id).await;
        network::stats(&self.store, &viewer, LIMITS).await.unwrap()
    }

    pub async fn ego(&self, user_id: Uuid, limits: Limits) -> EgoNetwork {
        let viewer = self.viewer(user_id).await;
        network::ego(&self.store, &viewer, limits).await.unwrap()
    }
}

/// One `#[tokio::test]` per conformance case, each on a fresh graph made by
/// `$make` (an async fn returning `Option<Graph<_>>`; `None` skips the case, and
/// `$make` says why).
#[macro_export]
macro_rules! conformance_cases {
    ($make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                if let Some(graph) = $make().await {
                    conformance::cases::$case(&graph).await;
                }
            }
        )*
    };
}
