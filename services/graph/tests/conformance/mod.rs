//! The conformance suite every [`GraphStore`] must pass: each case builds a small
//! network through the projection methods and asks the questions of
//! [`graph::network`] about it. `every_conformance_case!` lists the cases and
//! expands to one test per case for a backend, given an async function that makes
//! a fresh, empty [`Graph`].
//!
//! Hand-built cases are in `cases`; larger ones have modules of their own, their
//! cases re-exported by `cases`: `generated` (paths on generated networks checked
//! against networkx), `convergence` (events redelivered and reordered) and
//! `fan_out` (an address book of 100,000 contacts). `counting` is a store that
//! records the reads of questions, for the checks of what they cost.

#![allow(dead_code)] // each test binary uses a different part

pub mod cases;
pub mod convergence;
pub mod counting;
pub mod fan_out;
pub mod generated;

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
use tokio::sync::OwnedMutexGuard;
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
    /// Held by a case on a store that cases share (Neo4j), so they run one at a time.
    _exclusive: Option<OwnedMutexGuard<()>>,
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
            _exclusive: None,
        }
    }

    /// A graph on a store other cases also use: the case holds `exclusive` until
    /// it ends.
    pub fn exclusive(store: S, database: TestDatabase, exclusive: OwnedMutexGuard<()>) -> Self {
        Self {
            _exclusive: Some(exclusive),
            ..Self::new(store, database)
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
        self.apply_registration(&event).await
    }

    /// Applies a registration (again).
    pub async fn apply_registration(&self, event: &UserRegistered) -> Vec<JoinedOwner> {
        let mut transaction = self.pool.begin().await.unwrap();
        let joined = self
            .store
            .register_user(&mut transaction, event)
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
        self.apply_profile(&event).await;
    }

    /// Applies a profile update (again).
    pub async fn apply_profile(&self, event: &ProfileUpdated) {
        let mut transaction = self.pool.begin().await.unwrap();
        self.store
            .update_profile(&mut transaction, event)
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
        self.apply_deletion(&event).await;
    }

    /// Applies a contact deletion (again).
    pub async fn apply_deletion(&self, event: &ContactDeleted) {
        let mut transaction = self.pool.begin().await.unwrap();
        self.store
            .remove_contact(&mut transaction, event)
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

/// Every conformance case as a test on the backend `$make` makes, with the
/// attributes given before it. The one list of cases: each backend's test file
/// invokes this.
#[macro_export]
macro_rules! every_conformance_case {
    ($(#[$attribute:meta])* $make:path) => {
        six_testkit::conformance_tests!($(#[$attribute])* $make => conformance::cases;
            a_path_crosses_a_discoverable_users_contacts,
            a_path_longer_than_max_hops_is_not_connected,
            the_shortest_path_is_returned,
            an_edge_is_crossed_against_its_direction,
            a_private_users_contacts_are_never_crossed,
            a_stranger_is_never_a_step_of_a_path,
            an_unknown_target_is_not_connected,
            a_target_is_found_by_email_person_or_user,
            persons_shown_to_be_one_are_merged_without_losing_edges,
            a_private_entry_joins_no_persons,
            a_phone_or_profile_url_recognises_a_person,
            two_users_are_never_merged,
            a_registration_links_the_existing_person_and_names_its_owners,
            a_registration_without_earlier_contacts_names_nobody,
            events_before_the_registration_converge,
            an_older_profile_update_is_ignored,
            discoverable_can_be_turned_off_and_on,
            a_deleted_contact_stays_deleted_when_its_batch_comes_again,
            a_deletion_before_its_batch_wins,
            a_batch_applied_twice_adds_nothing,
            erasing_a_user_keeps_other_owners_entries,
            erasing_a_user_forgets_the_keys_only_they_brought,
            mutual_connections_are_the_people_both_know,
            suggestions_rank_by_mutual_connections,
            statistics_count_people_by_degree,
            the_ego_network_is_capped_and_says_so,
            a_search_past_its_budget_is_refused,
            paths_agree_with_networkx_on_chains,
            paths_agree_with_networkx_on_stars,
            paths_agree_with_networkx_on_small_worlds,
            paths_agree_with_networkx_on_disconnected_parts,
            redelivered_and_reordered_events_converge,
            a_discoverable_user_with_100000_contacts_leaves_answers_bounded,
            a_viewer_with_100000_contacts_gets_bounded_answers,
            deleting_the_entry_that_merged_two_persons_converges,
            erasing_the_owner_of_the_entry_that_merged_two_persons_converges,
            an_entry_naming_two_users_converges_with_their_registrations,
        );
    };
}
