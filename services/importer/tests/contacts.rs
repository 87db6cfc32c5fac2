//! The contacts API and erasure of a deleted user, against real PostgreSQL and RabbitMQ.

mod common;

use std::time::Duration;

use common::{Importer, fixture};
use reqwest::StatusCode;
use serde_json::Value;
use six_events::{DomainEvent, Envelope, auth::UserDeleted};
use six_testkit::wait_until;
use uuid::Uuid;

async fn contacts_page(importer: &Importer, owner: Uuid, query: &str) -> Value {
    let response = importer.get(owner, &format!("/v1/contacts?{query}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn my_contacts_page_through_in_order_without_gaps_or_repeats() {
    let importer = Importer::start().await;
    let owner = Uuid::now_v7();
    importer
        .import(owner, "", fixture("linkedin/Connections.csv"))
        .await;

    let mut seen = Vec::new();
    let mut query = "limit=3".to_owned();
    loop {
        let page = contacts_page(&importer, owner, &query).await;
        for contact in page["contacts"].as_array().unwrap() {
            seen.push(contact["contact_id"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => query = format!("limit=3&after={next}"),
            None => break,
        }
    }

    assert_eq!(seen.len(), 7);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "in order, each once");
}

#[tokio::test]
async fn a_contact_is_shown_to_its_owner_only_and_deleting_it_is_announced() {
    let importer = Importer::start().await;
    let owner = Uuid::now_v7();
    importer
        .import(owner, "", fixture("linkedin/Connections.csv"))
        .await;
    let tap = importer
        .app
        .tap_events(&["importer.contact.deleted.v1"])
        .await;
    let page = contacts_page(&importer, owner, "limit=1").await;
    let contact = &page["contacts"][0];
    let contact_id = contact["contact_id"].as_str().unwrap();
    let path = format!("/v1/contacts/{contact_id}");
    let stranger = Uuid::now_v7();

    let for_owner = importer.get(owner, &path).await;
    let for_stranger = importer.get(stranger, &path).await;
    let stranger_delete = importer
        .app
        .client()
        .delete(importer.app.url(&path))
        .bearer_auth(importer.issuer.user_token(stranger))
        .send()
        .await
        .unwrap();
    let owner_delete = importer
        .app
        .client()
        .delete(importer.app.url(&path))
        .bearer_auth(importer.issuer.user_token(owner))
        .send()
        .await
        .unwrap();

    assert_eq!(for_owner.status(), StatusCode::OK);
    assert_eq!(for_stranger.status(), StatusCode::NOT_FOUND);
    assert_eq!(stranger_delete.status(), StatusCode::NOT_FOUND);
    assert_eq!(owner_delete.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        importer.get(owner, &path).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(importer.contacts_of(owner).await, 6);
    let events = tap
        .published_by(&importer.app.pool(), Duration::from_secs(10))
        .await;
    let [DomainEvent::ContactDeleted(deleted)] = events.as_slice() else {
        panic!("expected one deletion, got {events:?}");
    };
    assert_eq!(deleted.data().contact_id.to_string(), contact_id);
    assert_eq!(
        deleted.meta().subject.as_deref(),
        contact["import_id"].as_str(),
        "ordered after the import's batches"
    );

    importer
        .import(owner, "", fixture("linkedin/Connections.csv"))
        .await;
    assert_eq!(
        importer.contacts_of(owner).await,
        7,
        "the deleted contact's identities went with it: importing again brings it back, and only it"
    );
}

#[tokio::test]
async fn a_deleted_user_leaves_no_contact_job_or_reject_and_others_keep_theirs() {
    let importer = Importer::start().await;
    let deleted_user = Uuid::now_v7();
    let other_user = Uuid::now_v7();
    for owner in [deleted_user, other_user] {
        importer
            .import(owner, "", fixture("linkedin/Connections.csv"))
            .await;
    }

    importer
        .publish(Envelope::new(UserDeleted {
            user_id: deleted_user,
            deleted_at: chrono::Utc::now(),
        }))
        .await;

    let pool = importer.app.pool();
    wait_until(
        Duration::from_secs(10),
        "the user's data is erased",
        || async { importer.contacts_of(deleted_user).await == 0 },
    )
    .await;
    for table in ["import_jobs", "contact_identities"] {
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE owner_id = $1"
        )))
        .bind(deleted_user)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(rows, 0, "{table}");
    }
    let rejects: i64 = sqlx::query_scalar("SELECT count(*) FROM import_rejects")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rejects, 1, "only the other user's reject is left");
    assert_eq!(importer.contacts_of(other_user).await, 7);
}

#[tokio::test]
async fn our_services_page_through_every_owners_contacts_and_users_may_not() {
    let importer = Importer::start().await;
    let (first_owner, second_owner) = (Uuid::now_v7(), Uuid::now_v7());
    for owner in [first_owner, second_owner] {
        importer
            .import(owner, "", fixture("linkedin/Connections.csv"))
            .await;
    }
    let export = |token: String, query: String| {
        importer
            .app
            .client()
            .get(importer.app.url(&format!("/internal/contacts?{query}")))
            .bearer_auth(token)
            .send()
    };

    let mut seen: Vec<(String, String, String)> = Vec::new();
    let mut after = String::new();
    loop {
        let response = export(
            importer.issuer.service_token("search"),
            format!("limit=4{after}"),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let page: six_events::importer::ContactExportPage = response.json().await.unwrap();
        for owned in &page.contacts {
            seen.push((
                owned.contact.contact_id.to_string(),
                owned.owner_id.to_string(),
                owned.contact.full_name.clone(),
            ));
        }
        match page.next {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    let user_answer = export(importer.issuer.user_token(first_owner), String::new())
        .await
        .unwrap();
    let too_many = export(
        importer.issuer.service_token("search"),
        "limit=5001".to_owned(),
    )
    .await
    .unwrap();

    assert_eq!(seen.len(), 14, "7 contacts of each owner: {seen:?}");
    assert!(
        seen.windows(2).all(|pair| pair[0].0 < pair[1].0),
        "in id order, each once"
    );
    for owner in [first_owner, second_owner] {
        let names: Vec<&str> = seen
            .iter()
            .filter(|(_, owner_id, _)| *owner_id == owner.to_string())
            .map(|(_, _, name)| name.as_str())
            .collect();
        let own_page = contacts_page(&importer, owner, "limit=500").await;
        let own_names: Vec<&str> = own_page["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|contact| contact["full_name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names, own_names,
            "the export holds each owner's contacts as they see them"
        );
    }
    assert_eq!(user_answer.status(), StatusCode::FORBIDDEN);
    let problem: Value = user_answer.json().await.unwrap();
    assert_eq!(problem["code"], "service_token_required");
    assert_eq!(too_many.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
