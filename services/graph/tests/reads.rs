//! What questions read, counted at the store: the work behind an answer, which
//! path queries keep small by widening the side of the search that reads less.

mod conformance;

use conformance::{
    Graph, LIMITS, contact,
    counting::{Counting, counting_graph},
    email,
};
use graph::network::{self, PathAnswer};
use uuid::Uuid;

/// The names along the path from `viewer` to `target`, who must be connected,
/// with the store's count of reads taken just before.
async fn path_names(graph: &Graph<Counting>, viewer: Uuid, target: &str) -> Vec<String> {
    let viewer = graph.viewer(viewer).await;
    graph.store.take();
    let answer = network::path(&graph.store, &viewer, &email(target), 6, LIMITS)
        .await
        .unwrap();
    let PathAnswer::Connected { chain } = answer else {
        panic!("{target} is connected: {answer:?}");
    };
    chain.into_iter().map(|person| person.name).collect()
}

/// me (private) knows Ann (discoverable) and two non-users; the target is a
/// non-user whom two discoverable users, Una and Uli, know; Ann knows Una. After
/// a step from each end, my side is the larger frontier (Ann and two persons)
/// but the cheaper one: Ann's address book, against both Una's and Uli's.
#[tokio::test]
async fn a_path_widens_the_side_with_fewer_address_books_to_read() {
    let graph = counting_graph().await;
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", true).await;
    let una = graph.user("una@x.org", "Una", true).await;
    let uli = graph.user("uli@x.org", "Uli", true).await;
    graph
        .import(
            me,
            vec![
                contact("Ann", "ann@x.org"),
                contact("cy", "cy@x.org"),
                contact("di", "di@x.org"),
            ],
        )
        .await;
    graph.import(ann, vec![contact("Una", "una@x.org")]).await;
    for user in [una, uli] {
        graph.import(user, vec![contact("Tom", "tom@x.org")]).await;
    }
    assert_eq!(
        path_names(&graph, me, "tom@x.org").await,
        ["Me", "Ann", "Una", "Tom"]
    );
    // (frontier, of which discoverable users, edges read) per step: mine, Tom's,
    // then mine again, with one address book (Ann's) rather than two; then, as
    // my side widened an address book, the discoverable users naming Tom (who
    // is not one), once.
    let reads = graph.store.take().0;
    assert_eq!(reads.len(), 4, "{reads:?}");
    assert_eq!((reads[2].0, reads[2].1), (3, 1), "{reads:?}");
    assert_eq!(reads[3], (1, 0, 2), "{reads:?}");
}

/// A path reads, of the address books it widens, only the entries of discoverable
/// users, and the few edges to the viewer's contacts and the target once: here
/// Ann's entry of Una but not her hundred others.
#[tokio::test]
async fn a_path_reads_only_the_entries_it_may_step_along() {
    let graph = counting_graph().await;
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", true).await;
    let una = graph.user("una@x.org", "Una", true).await;
    graph.import(me, vec![contact("Ann", "ann@x.org")]).await;
    let mut anns = vec![contact("Una", "una@x.org")];
    anns.extend((0..100).map(|i| contact(&format!("P{i}"), &format!("p{i}@x.org"))));
    graph.import(ann, anns).await;
    graph.import(una, vec![contact("Tom", "tom@x.org")]).await;
    assert_eq!(
        path_names(&graph, me, "tom@x.org").await,
        ["Me", "Ann", "Una", "Tom"]
    );
    let edges_read: usize = graph.store.take().0.iter().map(|read| read.2).sum();
    assert!(edges_read < 10, "{edges_read} edges read");
}
