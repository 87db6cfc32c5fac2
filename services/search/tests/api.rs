//! The service as others see it: events in from the importer, api and auth,
//! searches over HTTP with the users' tokens.

mod common;

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::{SearchService, batch, contact};
use reqwest::StatusCode;
use serde_json::Value;
use six_events::{
    Envelope,
    api::ProfileUpdated,
    auth::UserDeleted,
    importer::{ContactDeleted, ImportedContact},
};
use six_testkit::{wait_for, wait_until};
use uuid::Uuid;

const DEADLINE: Duration = Duration::from_secs(20);

fn profile(
    user_id: Uuid,
    name: &str,
    discoverable: bool,
    age_secs: i64,
) -> Envelope<ProfileUpdated> {
    Envelope::new(ProfileUpdated {
        user_id,
        display_name: name.to_owned(),
        headline: Some("Data engineer".to_owned()),
        discoverable,
        updated_at: Utc::now() - TimeDelta::seconds(age_secs),
    })
}

fn deletion(owner_id: Uuid, contact: &ImportedContact) -> Envelope<ContactDeleted> {
    Envelope::new(ContactDeleted {
        import_id: Uuid::now_v7(),
        owner_id,
        contact_id: contact.contact_id,
        deleted_at: Utc::now(),
    })
}

fn names(answer: &Value) -> Vec<String> {
    answer["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|hit| hit["full_name"].as_str().expect("a name").to_owned())
        .collect()
}

/// Waits until `user`'s search for `query` shows exactly `expected` names, in order.
async fn shows(search: &SearchService, user: Uuid, query: &str, expected: &[&str]) {
    wait_until(DEADLINE, "the expected hits", || async {
        names(&search.search(user, query).await) == expected
    })
    .await;
}

/// Waits until the service has handled `events` events in all.
async fn handled(search: &SearchService, events: i64) {
    wait_until(DEADLINE, "the events to be handled", || async {
        search.count("SELECT count(*) FROM bus_inbox").await >= events
    })
    .await;
}

#[tokio::test]
async fn imported_contacts_are_found_by_their_owner_with_typos_and_what_matched_marked() {
    let search = SearchService::start().await;
    let owner = Uuid::now_v7();
    search
        .publish(batch(
            owner,
            vec![
                contact("John Smith", "john@example.org"),
                contact("Joan Smithers", "joan@example.org"),
                contact("Ann Lee", "ann@example.org"),
            ],
        ))
        .await;

    shows(&search, owner, "q=jon%20smth", &["John Smith"]).await;

    let answer = search.search(owner, "q=jon%20smth").await;
    let hit = &answer["hits"][0];
    assert_eq!(hit["kind"], "contact");
    assert_eq!(
        answer["total"],
        serde_json::json!({"value": 1, "relation": "eq"})
    );
    assert_eq!(
        hit["highlights"][0],
        serde_json::json!({"field": "name", "fragments": [
            {"text": "John", "match": true},
            {"text": " ", "match": false},
            {"text": "Smith", "match": true},
        ]})
    );
    assert_eq!(answer["next_cursor"], Value::Null);
}

#[tokio::test]
async fn nobody_else_finds_a_users_contacts() {
    let search = SearchService::start().await;
    let owner = Uuid::now_v7();
    let stranger = Uuid::now_v7();
    search
        .publish(batch(
            owner,
            vec![contact("Quentin Blake", "q@example.org")],
        ))
        .await;
    shows(&search, owner, "q=quentin", &["Quentin Blake"]).await;

    for query in [
        "q=quentin",
        "q=blake",
        "q=quentin%20OR%20*",
        "q=q%40example.org",
        "q=quen",
        "q=quentn",
    ] {
        let answer = search.search(stranger, query).await;
        assert_eq!(names(&answer), Vec::<String>::new(), "{query}");
        assert_eq!(answer["total"]["value"], 0, "{query}");
    }
}

#[tokio::test]
async fn a_discoverable_profile_is_found_by_everyone_until_the_flag_is_cleared() {
    let search = SearchService::start().await;
    let user = Uuid::now_v7();
    let anyone = Uuid::now_v7();
    search.publish(profile(user, "Zoë Ünal", true, 60)).await;
    shows(&search, anyone, "q=zoe", &["Zoë Ünal"]).await;
    let answer = search.search(anyone, "q=zoe").await;
    assert_eq!(answer["hits"][0]["kind"], "profile");
    assert_eq!(answer["hits"][0]["user_id"], user.to_string());

    // An update older than the one applied changes nothing; a newer one does.
    search.publish(profile(user, "Zoë Ünal", false, 120)).await;
    handled(&search, 2).await;
    shows(&search, anyone, "q=zoe", &["Zoë Ünal"]).await;
    search.publish(profile(user, "Zoë Ünal", false, 0)).await;
    shows(&search, anyone, "q=zoe", &[]).await;
}

#[tokio::test]
async fn a_deleted_contact_is_gone_and_a_late_batch_does_not_bring_it_back() {
    let search = SearchService::start().await;
    let owner = Uuid::now_v7();
    let kept = contact("Kim Park", "kim@example.org");
    let deleted = contact("Kim Lowe", "lowe@example.org");
    let imported = batch(owner, vec![kept.clone(), deleted.clone()]);

    // The deletion arrives before its batch, as a redelivery may make it.
    search.publish(deletion(owner, &deleted)).await;
    handled(&search, 1).await;
    search.publish(imported).await;

    shows(&search, owner, "q=kim", &["Kim Park"]).await;
}

#[tokio::test]
async fn an_erased_user_leaves_nothing_behind_and_later_events_index_nothing() {
    let search = SearchService::start().await;
    let user = Uuid::now_v7();
    let other_owner = Uuid::now_v7();
    search
        .publish(batch(user, vec![contact("Erin Hale", "erin@example.org")]))
        .await;
    search
        .publish(batch(
            other_owner,
            vec![contact("Erin Hale", "erin@example.org")],
        ))
        .await;
    search.publish(profile(user, "Erin Vance", true, 60)).await;
    // Equal scores: the order is the keys', which this test does not choose.
    wait_until(DEADLINE, "the user's contact and profile", || async {
        let mut shown = names(&search.search(user, "q=erin").await);
        shown.sort();
        shown == ["Erin Hale", "Erin Vance"]
    })
    .await;

    search
        .publish(Envelope::new(UserDeleted {
            user_id: user,
            deleted_at: Utc::now(),
        }))
        .await;
    handled(&search, 4).await;
    search
        .publish(batch(user, vec![contact("Erin Late", "late@example.org")]))
        .await;
    search.publish(profile(user, "Erin Vance", true, 0)).await;
    handled(&search, 6).await;

    shows(&search, user, "q=erin", &[]).await;
    shows(&search, other_owner, "q=erin", &["Erin Hale"]).await;
}

#[tokio::test]
async fn a_batch_delivered_twice_indexes_each_contact_once() {
    let search = SearchService::start().await;
    let owner = Uuid::now_v7();
    let imported = batch(owner, vec![contact("Dana Twice", "dana@example.org")]);
    // A second, distinct event carrying the same contacts: a replayed import.
    let replayed = Envelope::new(imported.data().clone());
    search.publish(imported.clone()).await;
    handled(&search, 1).await;
    // The same event again, as after a relay crash between publishing and
    // deleting its outbox row (which is gone by now).
    wait_until(DEADLINE, "the outbox to be empty", || async {
        search.count("SELECT count(*) FROM bus_outbox").await == 0
    })
    .await;
    search.publish(imported).await;
    search.publish(replayed).await;
    handled(&search, 2).await;

    let answer = search.search(owner, "q=dana").await;
    assert_eq!(names(&answer), ["Dana Twice"]);
    assert_eq!(answer["total"]["value"], 1);
}

#[tokio::test]
async fn pages_follow_the_cursor_to_the_end_without_repeating_anyone() {
    let search = SearchService::start().await;
    let owner = Uuid::now_v7();
    let contacts: Vec<ImportedContact> = (0..7)
        .map(|n| contact(&format!("Pat Number{n}"), &format!("pat{n}@example.org")))
        .collect();
    search.publish(batch(owner, contacts)).await;
    wait_until(DEADLINE, "the batch to be indexed", || async {
        search.search(owner, "q=pat").await["total"]["value"] == 7
    })
    .await;

    let mut seen = Vec::new();
    let mut query = "q=pat&limit=3".to_owned();
    let mut pages = 0;
    loop {
        let answer = search.search(owner, &query).await;
        pages += 1;
        seen.extend(names(&answer));
        let Some(cursor) = answer["next_cursor"].as_str() else {
            break;
        };
        query = format!("q=pat&limit=3&cursor={cursor}");
    }

    assert_eq!(pages, 3);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (7, 7), "{seen:?}");
}

#[tokio::test]
async fn bad_parameters_get_a_422_naming_them_and_never_a_500() {
    let search = SearchService::start().await;
    let user = Uuid::now_v7();
    let long_query = format!("q={}", "a".repeat(10 * 1024));
    let other_cursor = {
        let owner = Uuid::now_v7();
        search
            .publish(batch(
                owner,
                vec![
                    contact("Lee One", "l1@example.org"),
                    contact("Lee Two", "l2@example.org"),
                ],
            ))
            .await;
        wait_for(DEADLINE, "a cursor", || async {
            search.search(owner, "q=lee&limit=1").await["next_cursor"]
                .as_str()
                .map(str::to_owned)
        })
        .await
    };
    let cases = [
        ("", "q", "empty"),
        ("q=%20%2A%20", "q", "empty"),
        (long_query.as_str(), "q", "too_long"),
        (
            "q=a%20b%20c%20d%20e%20f%20g%20h%20i%20j%20k",
            "q",
            "too_many_terms",
        ),
        ("q=ann&limit=0", "limit", "out_of_range"),
        ("q=ann&limit=101", "limit", "out_of_range"),
        ("q=ann&limit=ten", "limit", "out_of_range"),
        ("q=ann&cursor=not-a-cursor", "cursor", "malformed"),
        ("q=ann&company=%2D%2D", "company", "no_terms"),
    ];
    for (query, field, code) in cases {
        let (status, body) = search.get(user, &format!("/v1/search?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
        assert_eq!(body["errors"][0]["code"], code, "{query}: {body}");
    }
    let (status, body) = search
        .get(user, &format!("/v1/search?q=ann&cursor={other_cursor}"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["code"], "other_query");

    let (status, _) = search
        .get(
            user,
            "/v1/search?q=%22a%22%20AND%20(b%3Ac)%20%5C%20~2%20%2B-",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "query syntax is plain text");
}

#[tokio::test]
async fn a_search_without_a_valid_token_is_refused() {
    let search = SearchService::start().await;
    let response = search
        .app
        .client()
        .get(search.app.url("/v1/search?q=ann"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}
