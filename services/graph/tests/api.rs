//! The service as others see it: events in from auth, api and the importer,
//! questions over HTTP, `graph.contact.joined.v1` out.

mod common;
mod conformance;

use std::time::Duration;

use chrono::Utc;
use common::GraphService;
use reqwest::StatusCode;
use six_events::{
    DomainEvent, Envelope, EventData,
    api::ProfileUpdated,
    auth::UserRegistered,
    derived_event_id,
    graph::{ContactJoined, MatchKey},
    importer::ContactsImported,
};
use six_testkit::wait_until;
use uuid::Uuid;

const DEADLINE: Duration = Duration::from_secs(20);

fn registration(user_id: Uuid, email: &str, name: &str) -> Envelope<UserRegistered> {
    Envelope::new(UserRegistered {
        user_id,
        email: email.to_owned(),
        display_name: name.to_owned(),
        registered_at: Utc::now(),
    })
}

fn profile(user_id: Uuid, name: &str, discoverable: bool) -> Envelope<ProfileUpdated> {
    Envelope::new(ProfileUpdated {
        user_id,
        display_name: name.to_owned(),
        headline: None,
        discoverable,
        updated_at: Utc::now(),
    })
}

fn batch(owner_id: Uuid, contacts: &[(&str, &str)]) -> Envelope<ContactsImported> {
    Envelope::new(ContactsImported {
        import_id: Uuid::now_v7(),
        owner_id,
        batch_seq: 0,
        contacts: contacts
            .iter()
            .map(|(name, email)| conformance::contact(name, email))
            .collect(),
    })
}

/// Waits until the graph has handled `events` events in all.
async fn handled(graph: &GraphService, events: i64) {
    wait_until(DEADLINE, "the events to be handled", || async {
        graph.count("SELECT count(*) FROM bus_inbox").await >= events
    })
    .await;
}

/// me → Ann (discoverable) → bob, built from events.
async fn network(graph: &GraphService) -> (Uuid, Uuid) {
    let me = Uuid::now_v7();
    let ann = Uuid::now_v7();
    graph.publish(registration(me, "me@x.org", "Me")).await;
    graph.publish(registration(ann, "ann@x.org", "Ann")).await;
    graph.publish(profile(ann, "Ann", true)).await;
    graph.publish(batch(me, &[("Ann A.", "ann@x.org")])).await;
    graph.publish(batch(ann, &[("bob", "bob@x.org")])).await;
    handled(graph, 5).await;
    (me, ann)
}

#[tokio::test]
async fn the_path_route_answers_with_the_chain_or_not_connected_within_n() {
    let graph = GraphService::start().await;
    let (me, _) = network(&graph).await;

    let (status, found) = graph.get(me, "/v1/graph/path?email=Bob@x.org").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["connected"], true);
    assert_eq!(found["degree"], 2);
    let names: Vec<&str> = found["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|person| person["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Me", "Ann A.", "bob"]);
    assert_eq!(found["path"][2]["relation"], "target");

    let (status, missing) = graph
        .get(me, "/v1/graph/path?email=nobody@x.org&max_hops=3")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        missing,
        serde_json::json!({"connected": false, "max_hops": 3, "path": []})
    );

    let (status, short) = graph
        .get(me, "/v1/graph/path?email=bob@x.org&max_hops=1")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(short["connected"], false, "bob is two hops away");
}

#[tokio::test]
async fn bad_questions_get_a_problem_naming_the_parameter() {
    let graph = GraphService::start().await;
    let me = Uuid::now_v7();

    for (query, field, code) in [
        ("email=not-an-address", "email", "invalid_email"),
        ("person_id=42", "person_id", "invalid_id"),
        ("", "email", "target_required"),
        (
            "email=a@x.org&user_id=0190f1f4-0000-7000-8000-000000000000",
            "email",
            "target_required",
        ),
        ("email=a@x.org&max_hops=7", "max_hops", "invalid_max_hops"),
        (
            "email=a@x.org&max_hops=zero",
            "max_hops",
            "invalid_max_hops",
        ),
    ] {
        let (status, problem) = graph.get(me, &format!("/v1/graph/path?{query}")).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {problem}"
        );
        assert_eq!(problem["code"], "validation_failed", "{query}");
        assert_eq!(problem["errors"][0]["field"], field, "{query}");
        assert_eq!(problem["errors"][0]["code"], code, "{query}");
    }
    let (status, problem) = graph.get(me, "/v1/graph/suggestions?limit=1000").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["code"], "invalid_limit");

    let anonymous = graph
        .app
        .client()
        .get(graph.app.url("/v1/graph/stats"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_user_unknown_to_the_graph_gets_empty_answers() {
    let graph = GraphService::start().await;
    let stranger = Uuid::now_v7();

    let (_, path) = graph.get(stranger, "/v1/graph/path?email=a@x.org").await;
    assert_eq!(path["connected"], false);
    let (_, stats) = graph.get(stranger, "/v1/graph/stats").await;
    assert_eq!(
        stats,
        serde_json::json!({"degree_1": 0, "degree_2": 0, "degree_3": 0})
    );
    let (_, ego) = graph.get(stranger, "/v1/graph/ego").await;
    assert_eq!(ego["nodes"], serde_json::json!([]));
}

#[tokio::test]
async fn mutuals_suggestions_stats_and_ego_are_served() {
    let graph = GraphService::start().await;
    let (me, ann) = network(&graph).await;
    let dan = Uuid::now_v7();
    graph.publish(registration(dan, "dan@x.org", "Dan")).await;
    graph.publish(profile(dan, "Dan", true)).await;
    graph.publish(batch(ann, &[("Dan", "dan@x.org")])).await;
    handled(&graph, 8).await;

    let (_, mutuals) = graph.get(me, "/v1/graph/mutuals?email=bob@x.org").await;
    assert_eq!(mutuals["mutuals"][0]["name"], "Ann A.");
    let (_, suggestions) = graph.get(me, "/v1/graph/suggestions").await;
    assert_eq!(suggestions["suggestions"][0]["name"], "Dan");
    assert_eq!(suggestions["suggestions"][0]["mutual_connections"], 1);
    let (_, stats) = graph.get(me, "/v1/graph/stats").await;
    assert_eq!(
        stats,
        serde_json::json!({"degree_1": 1, "degree_2": 2, "degree_3": 0})
    );
    let (_, ego) = graph.get(me, "/v1/graph/ego").await;
    let depths: Vec<(String, u64)> = ego["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            (
                node["name"].as_str().unwrap().to_owned(),
                node["depth"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        depths,
        [
            ("Me".to_owned(), 0),
            ("Ann A.".to_owned(), 1),
            ("Dan".to_owned(), 2)
        ]
    );
    assert_eq!(ego["node_cap"], 300);
}

#[tokio::test]
async fn a_contact_who_registers_is_announced_to_each_owner_once() {
    let graph = GraphService::start().await;
    let tap = graph.app.tap_events(&[ContactJoined::TYPE]).await;
    let ann = Uuid::now_v7();
    let ben = Uuid::now_v7();
    graph.publish(batch(ann, &[("zoe", "zoe@x.org")])).await;
    graph.publish(batch(ben, &[("Zoe", "zoe@x.org")])).await;
    handled(&graph, 2).await;

    let zoe = Uuid::now_v7();
    let registered = registration(zoe, "zoe@x.org", "Zoe");
    graph.publish(registered.clone()).await;
    handled(&graph, 3).await;

    let events = tap.published_by(&graph.app.pool(), DEADLINE).await;
    let mut announced: Vec<(Uuid, Uuid)> = events
        .iter()
        .map(|event| {
            let DomainEvent::ContactJoined(joined) = event else {
                panic!("unexpected {}", event.routing_key())
            };
            let data: &ContactJoined = joined.data();
            assert_eq!(data.joined_user_id, zoe);
            assert_eq!(data.display_name, "Zoe");
            assert_eq!(data.matched_by, MatchKey::Email);
            let expected_id = derived_event_id(
                registered.meta().id,
                registered.meta().time,
                ContactJoined::TYPE,
                &data.owner_id.to_string(),
            );
            assert_eq!(
                joined.meta().id,
                expected_id,
                "derived from the registration, per owner"
            );
            (data.owner_id, joined.meta().id)
        })
        .collect();
    announced.sort_unstable();
    let owners: Vec<Uuid> = announced.iter().map(|(owner, _)| *owner).collect();
    let mut expected = vec![ann, ben];
    expected.sort_unstable();
    assert_eq!(owners, expected);
}
