//! A person with a huge address book (100,000 contacts, imported in the importer's
//! batches): every question still gets a clear, correct answer, within the limits
//! it is given — the ego network capped and saying so, suggestions limited, and a
//! question past its budget refused as too broad rather than walked on.
//!
//! What a budget counts differs by question, as built: statistics and mutuals count
//! every person they reach; a path counts the persons it may walk through, and
//! suggestions and the ego network the persons they may show — so a discoverable
//! user's 100,000 contacts are read by those without being counted (the cases pin
//! this down).

use std::collections::HashSet;

use graph::{
    network::{self, Limits, NetworkError, NetworkStats, PathAnswer, Relation},
    store::GraphStore,
};
use six_events::importer::{ContactsImported, ImportedContact};
use uuid::Uuid;

use super::{Graph, contact, email};

/// Contacts of the one huge address book.
const FAN_OUT: usize = 100_000;
/// Contacts per `contacts.imported` batch, as the importer sends them
/// (`IMPORTER_CHUNK_ROWS`, default 2,000).
const BATCH_ROWS: usize = 2_000;
/// The service's default limits (`GRAPH_MAX_VISITED`, `GRAPH_EGO_MAX_NODES`):
/// enough for a question to reach the whole fan-out once.
const DEFAULTS: Limits = Limits {
    max_visited: 200_000,
    ego_max_nodes: 300,
};
/// A budget smaller than the fan-out.
const TIGHT: Limits = Limits {
    max_visited: 50_000,
    ..DEFAULTS
};

/// Imports `contacts` for `owner` as the importer does: one import, batches of
/// [`BATCH_ROWS`] by increasing `batch_seq`.
async fn import_in_batches<S: GraphStore>(
    graph: &Graph<S>,
    owner_id: Uuid,
    contacts: Vec<ImportedContact>,
) {
    let import_id = Uuid::now_v7();
    for (batch_seq, rows) in contacts.chunks(BATCH_ROWS).enumerate() {
        let batch = ContactsImported {
            import_id,
            owner_id,
            batch_seq: batch_seq as u32,
            contacts: rows.to_vec(),
        };
        graph.apply(&batch).await;
    }
}

/// The address `index` of the huge address book.
fn fan_email(index: usize) -> String {
    format!("f{index}@fan.graph.test")
}

/// [`FAN_OUT`] contacts, `f0`…, except the `users` among them, named as users.
fn fan_contacts(users: &[(usize, &str)]) -> Vec<ImportedContact> {
    (0..FAN_OUT)
        .map(|index| {
            let name = users
                .iter()
                .find(|(user, _)| *user == index)
                .map_or_else(|| format!("f{index}"), |(_, name)| (*name).to_owned());
            contact(&name, &fan_email(index))
        })
        .collect()
}

fn names(answer: &PathAnswer) -> Option<Vec<&str>> {
    match answer {
        PathAnswer::Connected { chain } => Some(chain.iter().map(|p| p.name.as_str()).collect()),
        PathAnswer::NotConnected => None,
    }
}

fn is_too_broad<T>(answer: &Result<T, NetworkError>, limits: Limits) -> bool {
    matches!(answer, Err(NetworkError::TooBroad { limit }) if *limit == limits.max_visited)
}

/// Hub, a discoverable user, has 100,000 contacts; five of them (Dan, Eve, Fay,
/// Gus, Hal) are discoverable users, and Dan knows zoe. I know Hub, Ann (who knows
/// Eve) and f7, one of Hub's contacts.
pub async fn a_discoverable_user_with_100000_contacts_leaves_answers_bounded<S: GraphStore>(
    graph: &Graph<S>,
) {
    // Arrange
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", true).await;
    let hub = graph.user("hub@x.org", "Hub", true).await;
    let fan_users = [
        (10, "Dan"),
        (20, "Eve"),
        (30, "Fay"),
        (40, "Gus"),
        (50, "Hal"),
    ];
    let mut fan_user_ids = Vec::new();
    for (index, name) in fan_users {
        fan_user_ids.push(graph.user(&fan_email(index), name, true).await);
    }
    let dan = fan_user_ids[0];
    graph
        .import(
            me,
            vec![
                contact("Hub", "hub@x.org"),
                contact("Ann", "ann@x.org"),
                contact("f7", &fan_email(7)),
            ],
        )
        .await;
    graph
        .import(ann, vec![contact("Eve", &fan_email(20))])
        .await;
    graph.import(dan, vec![contact("zoe", "zoe@x.org")]).await;
    import_in_batches(graph, hub, fan_contacts(&fan_users)).await;
    // Four discoverable users who know only popular@: not connected to me.
    for index in 0..4 {
        let user = graph
            .user(&format!("p{index}@x.org"), &format!("P{index}"), true)
            .await;
        graph
            .import(user, vec![contact("popular", "popular@x.org")])
            .await;
    }
    let viewer = graph.viewer(me).await;

    // Paths: a person of the fan-out, and a person behind it, are found without
    // walking the fan-out (the search widens the smaller side), even on a budget.
    for limits in [DEFAULTS, TIGHT] {
        let last = network::path(
            &graph.store,
            &viewer,
            &email(&fan_email(FAN_OUT - 1)),
            6,
            limits,
        )
        .await
        .unwrap();
        let last_name = format!("f{}", FAN_OUT - 1);
        assert_eq!(names(&last), Some(vec!["Me", "Hub", last_name.as_str()]));
        let zoe = network::path(&graph.store, &viewer, &email("zoe@x.org"), 6, limits)
            .await
            .unwrap();
        assert_eq!(names(&zoe), Some(vec!["Me", "Hub", "Dan", "zoe"]));
    }
    // A target whose side grows wider than mine makes the search widen mine, and
    // read Hub's 100,000 entries. A path's budget counts the persons it may walk
    // through, which Hub's contacts are not (only Dan…Hal are): not connected, even
    // on a budget smaller than what was read.
    for limits in [DEFAULTS, TIGHT] {
        let popular = network::path(&graph.store, &viewer, &email("popular@x.org"), 6, limits)
            .await
            .unwrap();
        assert_eq!(popular, PathAnswer::NotConnected);
    }

    // Mutuals with Eve read Eve's edges only; with Hub, Hub's 100,000.
    let with_eve: HashSet<String> =
        network::mutuals(&graph.store, &viewer, &email(&fan_email(20)), TIGHT)
            .await
            .unwrap()
            .into_iter()
            .map(|person| person.name)
            .collect();
    assert_eq!(
        with_eve,
        HashSet::from(["Hub".to_owned(), "Ann".to_owned()])
    );
    let with_hub: Vec<String> =
        network::mutuals(&graph.store, &viewer, &email("hub@x.org"), DEFAULTS)
            .await
            .unwrap()
            .into_iter()
            .map(|person| person.name)
            .collect();
    assert_eq!(with_hub, vec!["f7".to_owned()]);
    let with_hub = network::mutuals(&graph.store, &viewer, &email("hub@x.org"), TIGHT).await;
    assert!(is_too_broad(&with_hub, TIGHT), "{with_hub:?}");

    // Suggestions: the discoverable users among the 100,000, at most the limit,
    // Eve (known by Hub and Ann) first. Their budget counts the candidates, not
    // the entries read to find them: the same answer on a tight budget.
    for limits in [DEFAULTS, TIGHT] {
        let suggestions = network::suggestions(&graph.store, &viewer, 3, limits)
            .await
            .unwrap();
        assert_eq!(suggestions.len(), 3, "the limit");
        assert_eq!(
            (
                suggestions[0].person.name.as_str(),
                suggestions[0].mutual_connections
            ),
            ("Eve", 2)
        );
        for suggestion in &suggestions[1..] {
            assert!(
                ["Dan", "Fay", "Gus", "Hal"].contains(&suggestion.person.name.as_str()),
                "{suggestion:?}"
            );
            assert_eq!(suggestion.mutual_connections, 1);
            assert_eq!(suggestion.person.relation, Relation::DiscoverableUser);
        }
    }

    // Statistics count the fan-out at degree 2 (f7 is at degree 1), zoe at 3.
    let stats = network::stats(&graph.store, &viewer, DEFAULTS)
        .await
        .unwrap();
    assert_eq!(
        stats,
        NetworkStats {
            degree_1: 3,
            degree_2: FAN_OUT - 1,
            degree_3: 1,
        }
    );
    let stats = network::stats(&graph.store, &viewer, TIGHT).await;
    assert!(is_too_broad(&stats, TIGHT), "{stats:?}");

    // The ego network shows the discoverable users of the fan-out, not its 99,995
    // other contacts; like suggestions, its budget counts what it may show.
    for limits in [DEFAULTS, TIGHT] {
        let ego = network::ego(&graph.store, &viewer, limits).await.unwrap();
        let mut shown: Vec<(&str, u8)> = ego
            .nodes
            .iter()
            .map(|node| (node.person.name.as_str(), node.depth))
            .collect();
        shown.sort_unstable();
        assert_eq!(
            shown,
            vec![
                ("Ann", 1),
                ("Dan", 2),
                ("Eve", 2),
                ("Fay", 2),
                ("Gus", 2),
                ("Hal", 2),
                ("Hub", 1),
                ("Me", 0),
                ("f7", 1),
            ]
        );
        assert_eq!((ego.nodes_available, ego.truncated), (8, false));
        assert_eq!(
            ego.edges.len(),
            10,
            "me-Hub, me-Ann, me-f7, Hub-f7, Hub to the five users, Ann-Eve"
        );
    }
}

/// I have 100,000 contacts; among them Ann and Ben (discoverable, who know Dan and
/// Eve, discoverable users I do not know) and Pat (private, who knows secret@).
pub async fn a_viewer_with_100000_contacts_gets_bounded_answers<S: GraphStore>(graph: &Graph<S>) {
    // Arrange
    let me = graph.user("me@x.org", "Me", false).await;
    let fan_users = [(1, "Ann"), (2, "Ben"), (3, "Pat")];
    let ann = graph.user(&fan_email(1), "Ann", true).await;
    let ben = graph.user(&fan_email(2), "Ben", true).await;
    let pat = graph.user(&fan_email(3), "Pat", false).await;
    let _dan = graph.user("dan@x.org", "Dan", true).await;
    let _eve = graph.user("eve@x.org", "Eve", true).await;
    import_in_batches(graph, me, fan_contacts(&fan_users)).await;
    graph
        .import(
            ann,
            vec![
                contact("xavier", "xavier@x.org"),
                contact("Dan", "dan@x.org"),
                contact("f5", &fan_email(5)),
            ],
        )
        .await;
    graph
        .import(
            ben,
            vec![contact("Dan", "dan@x.org"), contact("Eve", "eve@x.org")],
        )
        .await;
    graph
        .import(pat, vec![contact("secret", "secret@x.org")])
        .await;
    let viewer = graph.viewer(me).await;
    assert_eq!(viewer.contacts.len(), FAN_OUT);

    // Paths: every question of mine starts from my 100,000 contacts, so it is
    // answered within the default budget and refused on a tight one.
    let last = network::path(
        &graph.store,
        &viewer,
        &email(&fan_email(FAN_OUT - 1)),
        6,
        DEFAULTS,
    )
    .await
    .unwrap();
    let last_name = format!("f{}", FAN_OUT - 1);
    assert_eq!(names(&last), Some(vec!["Me", last_name.as_str()]));
    let xavier = network::path(&graph.store, &viewer, &email("xavier@x.org"), 6, DEFAULTS)
        .await
        .unwrap();
    assert_eq!(names(&xavier), Some(vec!["Me", "Ann", "xavier"]));
    let secret = network::path(&graph.store, &viewer, &email("secret@x.org"), 6, DEFAULTS)
        .await
        .unwrap();
    assert_eq!(secret, PathAnswer::NotConnected, "Pat is private");
    let xavier = network::path(&graph.store, &viewer, &email("xavier@x.org"), 6, TIGHT).await;
    assert!(is_too_broad(&xavier, TIGHT), "{xavier:?}");

    // Mutuals, suggestions (at most the limit), statistics.
    let mutuals: HashSet<String> =
        network::mutuals(&graph.store, &viewer, &email("dan@x.org"), DEFAULTS)
            .await
            .unwrap()
            .into_iter()
            .map(|person| person.name)
            .collect();
    assert_eq!(mutuals, HashSet::from(["Ann".to_owned(), "Ben".to_owned()]));
    let suggestions: Vec<(String, usize)> =
        network::suggestions(&graph.store, &viewer, 1, DEFAULTS)
            .await
            .unwrap()
            .into_iter()
            .map(|suggestion| (suggestion.person.name, suggestion.mutual_connections))
            .collect();
    assert_eq!(suggestions, vec![("Dan".to_owned(), 2)], "the limit is 1");
    let stats = network::stats(&graph.store, &viewer, DEFAULTS)
        .await
        .unwrap();
    assert_eq!(
        stats,
        NetworkStats {
            degree_1: FAN_OUT,
            degree_2: 3,
            degree_3: 0,
        },
        "xavier, Dan and Eve at degree 2; not secret"
    );

    // The ego network: the cap, depth 1 first, and how many there were.
    let ego = network::ego(&graph.store, &viewer, DEFAULTS).await.unwrap();
    assert_eq!(ego.nodes.len(), DEFAULTS.ego_max_nodes);
    assert_eq!(
        (ego.node_cap, ego.nodes_available, ego.truncated),
        (DEFAULTS.ego_max_nodes, FAN_OUT + 2, true),
        "my 100,000 contacts and Dan and Eve"
    );
    assert!(ego.nodes.iter().all(|node| node.depth <= 1));
    let shown: HashSet<Uuid> = ego.nodes.iter().map(|node| node.person.person_id).collect();
    assert!(
        ego.edges
            .iter()
            .all(|(a, b)| shown.contains(a) && shown.contains(b))
    );

    // Every other question of mine is refused on a tight budget too.
    let mutuals = network::mutuals(&graph.store, &viewer, &email("dan@x.org"), TIGHT).await;
    assert!(is_too_broad(&mutuals, TIGHT), "{mutuals:?}");
    let suggestions = network::suggestions(&graph.store, &viewer, 1, TIGHT).await;
    assert!(is_too_broad(&suggestions, TIGHT), "{suggestions:?}");
    let stats = network::stats(&graph.store, &viewer, TIGHT).await;
    assert!(is_too_broad(&stats, TIGHT), "{stats:?}");
    let ego = network::ego(&graph.store, &viewer, TIGHT).await;
    assert!(is_too_broad(&ego, TIGHT), "{ego:?}");
}
