//! Adversarial checks of the privacy rule: what a user who is not discoverable
//! keeps in their address book must not shape anyone else's answers — not their
//! content, and not the work done to compute them (the timing of "not connected").

mod conformance;

use conformance::{
    Graph, LIMITS, contact,
    counting::{Counting, Reads, counting_graph},
    email,
};
use graph::network::{self, PathAnswer};
use uuid::Uuid;

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
