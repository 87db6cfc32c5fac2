//! Adversarial checks of the privacy rule: what a user who is not discoverable
//! keeps in their address book must not shape anyone else's answers — not their
//! content, and not the work done to compute them (the timing of "not connected").

mod conformance;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use conformance::{Graph, LIMITS, contact, database, email};
use graph::{
    network::{self, PathAnswer},
    store::{
        Adjacent, GraphStore, JoinedOwner, PersonFacts, PostgresGraph, StoreError, Target, Viewer,
    },
};
use six_events::{
    api::ProfileUpdated,
    auth::UserRegistered,
    importer::{ContactDeleted, ContactsImported},
};
use sqlx::PgConnection;
use uuid::Uuid;

/// The reads a question caused: each shared read's frontier size, owners and rows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Reads(Vec<(usize, usize, usize)>);

/// The PostgreSQL store, recording its shared reads.
struct Counting {
    inner: PostgresGraph,
    reads: Arc<Mutex<Reads>>,
}

impl Counting {
    fn take(&self) -> Reads {
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
    ) -> Result<Vec<Adjacent>, StoreError> {
        let edges = self.inner.shared_neighbours(frontier, owners).await?;
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

async fn counting_graph() -> Graph<Counting> {
    let database = database().await;
    let store = Counting {
        inner: PostgresGraph::new(database.pool()),
        reads: Arc::default(),
    };
    Graph::new(store, database)
}

/// me (private) knows Ann (discoverable), who knows bob and Ben (discoverable),
/// who knows cat; Pat is private.
async fn network(graph: &Graph<Counting>) -> (Uuid, Uuid) {
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", true).await;
    let ben = graph.user("ben@x.org", "Ben", true).await;
    let pat = graph.user("pat@x.org", "Pat", false).await;
    graph
        .import(
            me,
            vec![contact("Ann", "ann@x.org"), contact("Pat", "pat@x.org")],
        )
        .await;
    graph
        .import(
            ann,
            vec![contact("bob", "bob@x.org"), contact("Ben", "ben@x.org")],
        )
        .await;
    graph.import(ben, vec![contact("cat", "cat@x.org")]).await;
    (me, pat)
}

#[tokio::test]
async fn not_connected_costs_the_same_reads_whether_or_not_a_private_user_knows_the_target() {
    let graph = counting_graph().await;
    let (me, pat) = network(&graph).await;
    let many: Vec<_> = (0..200)
        .map(|i| contact(&format!("p{i}"), &format!("p{i}@x.org")))
        .chain([contact("secret", "secret@x.org")])
        .collect();
    graph.import(pat, many).await;
    let viewer = graph.viewer(me).await;
    let mut costs = Vec::new();

    for target in ["secret@x.org", "nobody@x.org"] {
        graph.store.take();
        let answer = network::path(&graph.store, &viewer, &email(target), 6, LIMITS)
            .await
            .unwrap();
        assert_eq!(answer, PathAnswer::NotConnected, "{target}");
        let mutuals = network::mutuals(&graph.store, &viewer, &email(target), LIMITS)
            .await
            .unwrap();
        assert!(mutuals.is_empty(), "{target}");
        costs.push(graph.store.take());
    }

    assert!(!costs[0].0.is_empty(), "the questions read something");
    assert_eq!(costs[0], costs[1], "secret@ (known to Pat) against nobody@");
}

/// Every answer `viewer` can get about `targets`, and the reads it took.
async fn everything_seen_by(
    graph: &Graph<Counting>,
    viewer: Uuid,
    targets: &[&str],
) -> (String, Reads) {
    graph.store.take();
    let mut seen = String::new();
    for target in targets {
        let path = graph.path(viewer, &email(target), 6).await;
        let mutuals = graph.mutuals(viewer, &email(target)).await;
        seen.push_str(&format!("{target}: {path:?} {mutuals:?}\n"));
    }
    let suggestions = graph.suggestions(viewer).await;
    let stats = graph.stats(viewer).await;
    let ego = graph.ego(viewer, LIMITS).await;
    seen.push_str(&format!("{suggestions:?}\n{stats:?}\n{ego:?}\n"));
    (seen, graph.store.take())
}

#[tokio::test]
async fn a_private_users_address_book_changes_nothing_anyone_else_sees() {
    let graph = counting_graph().await;
    let (me, pat) = network(&graph).await;
    let targets = [
        "ann@x.org",
        "bob@x.org",
        "ben@x.org",
        "cat@x.org",
        "pat@x.org",
        "dan@x.org",
        "secret@x.org",
        "ann.alt@x.org",
    ];
    let dan = graph.user("dan@x.org", "Dan", true).await;
    let before = everything_seen_by(&graph, me, &targets).await;
    let before_dan = everything_seen_by(&graph, dan, &targets).await;

    // Pat's contacts overlap everyone's: the discoverable users, their contacts,
    // me, and people nobody else knows; and Pat claims that two people others
    // know apart are one, and that Ann has another address.
    let with_emails = |name: &str, emails: &[&str]| {
        let mut entry = contact(name, emails[0]);
        entry.emails = emails.iter().map(|email| (*email).to_owned()).collect();
        entry
    };
    graph
        .import(
            pat,
            vec![
                contact("me", "me@x.org"),
                contact("Ann", "ann@x.org"),
                contact("Ben", "ben@x.org"),
                contact("Dan", "dan@x.org"),
                contact("bob", "bob@x.org"),
                contact("cat", "cat@x.org"),
                contact("secret", "secret@x.org"),
                with_emails("bob, also cat", &["bob@x.org", "cat@x.org"]),
                with_emails("Ann", &["ann.alt@x.org", "ann@x.org"]),
            ],
        )
        .await;

    assert_eq!(everything_seen_by(&graph, me, &targets).await, before);
    assert_eq!(everything_seen_by(&graph, dan, &targets).await, before_dan);
}

#[tokio::test]
async fn a_private_user_is_still_found_as_a_target_and_named_as_my_contact() {
    let graph = counting_graph().await;
    let (me, _pat) = network(&graph).await;

    let found = graph.path_names(me, &email("pat@x.org")).await;

    assert_eq!(found, Some(vec!["Me".to_owned(), "Pat".to_owned()]));
    assert!(
        graph.mutuals(me, &email("pat@x.org")).await.is_empty(),
        "nobody I may see knows Pat"
    );
    assert_eq!(graph.stats(me).await.degree_1, 2);
    assert!(
        graph
            .suggestions(me)
            .await
            .iter()
            .all(|s| s.person.name != "Pat")
    );
}
