//! Uploads through to contacts and events, against real PostgreSQL and RabbitMQ.

mod common;

use std::time::Duration;

use common::{Importer, fixture};
use reqwest::StatusCode;
use serde_json::Value;
use six_events::DomainEvent;
use uuid::Uuid;

const PUBLISH_DEADLINE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_linkedin_export_is_imported_with_its_bad_row_reported() {
    let importer = Importer::start().await;
    let tap = importer
        .app
        .tap_events(&[
            "importer.import.started.v1",
            "importer.contacts.imported.v1",
            "importer.import.completed.v1",
        ])
        .await;
    let owner = Uuid::now_v7();

    let job = importer
        .import(
            owner,
            "file_name=Connections.csv",
            fixture("linkedin/Connections.csv"),
        )
        .await;

    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["format"], "linkedin");
    assert_eq!(job["rows_read"], 8);
    assert_eq!(job["contacts_accepted"], 7);
    assert_eq!(job["rows_rejected"], 1);
    assert_eq!(job["duplicates"], 0);
    assert_eq!(importer.contacts_of(owner).await, 7);
    assert_eq!(
        importer.spooled_files(),
        0,
        "the upload is deleted once the job ended"
    );
    let events = tap
        .published_by(&importer.app.pool(), PUBLISH_DEADLINE)
        .await;
    let types: Vec<&str> = events.iter().map(DomainEvent::routing_key).collect();
    assert_eq!(
        types,
        [
            "importer.import.started.v1",
            "importer.contacts.imported.v1",
            "importer.import.completed.v1"
        ]
    );
    let DomainEvent::ContactsImported(batch) = &events[1] else {
        unreachable!()
    };
    assert_eq!(batch.data().contacts.len(), 7);
    assert!(
        batch
            .data()
            .contacts
            .iter()
            .any(|contact| contact.full_name == "José Núñez García"
                && contact.emails == ["jose.nunez@example.com"])
    );

    let report = importer
        .get(
            owner,
            &format!(
                "/v1/imports/{}/rejects.csv",
                job["import_id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(report.status(), StatusCode::OK);
    let report = report.text().await.unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines[0], "line,column,code,reason,row");
    assert!(lines[1].starts_with("11,,no_name,"), "{report}");
}

#[tokio::test]
async fn cells_with_copy_and_array_syntax_are_stored_as_written() {
    let importer = Importer::start().await;
    let owner = Uuid::now_v7();
    let mapping = r#"{"Name":"full_name","Company":"company","Email":"email","Title":"title"}"#;
    let csv = "Name,Company,Email,Title\n\
               Back\\slash \\N \"Quoted\",\"{braces},\"\"commas\"\"\",a@x.test,NULL\n";
    let job = importer
        .import(
            owner,
            &format!(
                "mapping={}",
                percent_encoding::utf8_percent_encode(mapping, percent_encoding::NON_ALPHANUMERIC)
            ),
            csv.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(job["contacts_accepted"], 1, "{job}");
    let page: Value = importer
        .get(owner, "/v1/contacts")
        .await
        .json()
        .await
        .unwrap();
    let contact = &page["contacts"][0];
    assert_eq!(contact["full_name"], r#"Back\slash \N "Quoted""#);
    assert_eq!(contact["company"], r#"{braces},"commas""#);
    assert_eq!(contact["emails"], serde_json::json!(["a@x.test"]));
    assert_eq!(contact["title"], "NULL", "the text NULL, not a null");
}

#[tokio::test]
async fn uploading_the_same_file_twice_adds_no_contact() {
    let importer = Importer::start().await;
    let owner = Uuid::now_v7();
    importer
        .import(owner, "", fixture("linkedin/Connections.csv"))
        .await;

    let again = importer
        .import(owner, "", fixture("linkedin/Connections.csv"))
        .await;

    assert_eq!(again["state"], "completed", "{again}");
    assert_eq!(again["contacts_accepted"], 0);
    assert_eq!(again["duplicates"], 7);
    assert_eq!(importer.contacts_of(owner).await, 7);
}

#[tokio::test]
async fn rows_known_from_an_earlier_import_are_duplicates_whatever_chunk_they_fall_in() {
    // Chunks of two rows: new rows only, a known row with a new one, and a row
    // repeated within its chunk, so the optimistic insert of identities and the
    // lookup the job turns to after it each meet known and new rows.
    let importer = Importer::start_with(&[("IMPORTER_CHUNK_ROWS", "2")]).await;
    let owner = Uuid::now_v7();
    let file = |slugs: &[&str]| {
        let mut text =
            String::from("First Name,Last Name,URL,Email Address,Company,Position,Connected On\n");
        for slug in slugs {
            text.push_str(&format!(
                "{slug},Person,https://www.linkedin.com/in/{slug},,,,\n"
            ));
        }
        text.into_bytes()
    };
    let first = importer.import(owner, "", file(&["ann", "bob"])).await;

    let second = importer
        .import(
            owner,
            "",
            file(&["cat", "dan", "ann", "eve", "bob", "fay", "gus", "gus"]),
        )
        .await;

    assert_eq!(first["contacts_accepted"], 2, "{first}");
    assert_eq!(second["state"], "completed", "{second}");
    assert_eq!(second["contacts_accepted"], 5, "{second}");
    assert_eq!(second["duplicates"], 3, "{second}");
    assert_eq!(importer.contacts_of(owner).await, 7);
}

#[tokio::test]
async fn another_users_job_and_report_are_not_found() {
    let importer = Importer::start().await;
    let owner = Uuid::now_v7();
    let job = importer
        .import(owner, "", fixture("linkedin/Connections.csv"))
        .await;
    let import_id = job["import_id"].as_str().unwrap();
    let stranger = Uuid::now_v7();

    let status = importer
        .get(stranger, &format!("/v1/imports/{import_id}"))
        .await;
    let report = importer
        .get(stranger, &format!("/v1/imports/{import_id}/rejects.csv"))
        .await;
    let list: Value = importer
        .get(stranger, "/v1/imports")
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(status.status(), StatusCode::NOT_FOUND);
    assert_eq!(report.status(), StatusCode::NOT_FOUND);
    assert_eq!(list["imports"], serde_json::json!([]));
}

#[tokio::test]
async fn each_encoding_and_container_imports_the_same_contacts() {
    let importer = Importer::start().await;
    for file in [
        "encodings/outlook-utf8-bom.csv",
        "encodings/outlook-utf16le-bom.csv",
        "encodings/outlook-utf16be-bom.csv",
        "encodings/outlook-windows-1252.csv",
    ] {
        let owner = Uuid::now_v7();

        let job = importer.import(owner, "", fixture(file)).await;

        assert_eq!(job["state"], "completed", "{file}: {job}");
        assert_eq!(job["format"], "outlook", "{file}");
        assert!(
            job["contacts_accepted"].as_i64().unwrap() > 0,
            "{file}: {job}"
        );
    }
    let owner = Uuid::now_v7();
    let gzip = importer
        .import(owner, "", fixture("archives/Connections.csv.gz"))
        .await;
    assert_eq!(gzip["contacts_accepted"], 7, "{gzip}");
}

#[tokio::test]
async fn a_file_without_a_known_header_fails_with_a_reason() {
    let importer = Importer::start().await;
    let owner = Uuid::now_v7();

    let job = importer
        .import(owner, "", fixture("bad/semicolon.csv"))
        .await;

    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["failure_code"], "no_usable_header");
    assert!(
        job["failure_reason"]
            .as_str()
            .unwrap()
            .contains("choose the format or give a column mapping"),
        "{job}"
    );
}

#[tokio::test]
async fn bad_options_and_empty_or_oversized_uploads_are_refused_before_any_job() {
    let importer = Importer::start_with(&[("IMPORTER_MAX_UPLOAD_BYTES", "1000")]).await;
    let owner = Uuid::now_v7();

    let bad_format = importer.upload(owner, "format=excel", b"a".to_vec()).await;
    let empty = importer.upload(owner, "", Vec::new()).await;
    let oversized = importer.upload(owner, "", vec![b'a'; 5000]).await;

    assert_eq!(bad_format.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let list: Value = importer
        .get(owner, "/v1/imports")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["imports"], serde_json::json!([]));
    assert_eq!(importer.spooled_files(), 0);
}

#[tokio::test]
async fn every_csv_of_a_zip_is_imported_and_the_rest_listed_as_skipped() {
    let importer = Importer::start().await;
    let owner = Uuid::now_v7();

    let job = importer
        .import(owner, "", fixture("archives/exports.zip"))
        .await;
    let no_csv = importer
        .import(owner, "", fixture("archives/no-csv.zip"))
        .await;

    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["rows_read"], 14);
    // The Google file's José has the LinkedIn José's e-mail address; its Maya has a
    // phone number without a country code (and no region was given).
    assert_eq!(job["contacts_accepted"], 10, "{job}");
    assert_eq!(job["duplicates"], 1, "{job}");
    assert_eq!(job["rows_rejected"], 3, "{job}");
    let skipped = job["skipped_files"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{job}");
    assert!(
        skipped[0].as_str().unwrap().starts_with("readme.txt: "),
        "{job}"
    );
    assert_eq!(no_csv["state"], "failed");
    assert_eq!(no_csv["failure_code"], "no_csv_in_archive");
}

#[tokio::test]
async fn a_multipart_upload_of_several_megabytes_is_imported_with_its_file_name() {
    let importer = Importer::start().await;
    let owner = Uuid::now_v7();
    // 30,000 distinct LinkedIn rows, ~3 MB: more than axum's default body limit.
    let mut csv =
        String::from("First Name,Last Name,URL,Email Address,Company,Position,Connected On\n");
    for n in 0..30_000 {
        csv.push_str(&format!(
            "Ada,Lovelace {n},https://www.linkedin.com/in/ada-{n},,Analytical Engines,Engineer,21 Nov 2023\n"
        ));
    }
    let form = reqwest::multipart::Form::new()
        .text("note", "parts other than `file` are ignored")
        .part(
            "file",
            reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("Connections.csv"),
        );

    let response = importer
        .app
        .client()
        .post(importer.app.url("/v1/imports"))
        .bearer_auth(importer.issuer.user_token(owner))
        .multipart(form)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["file_name"], "Connections.csv");
    let job = importer
        .wait_for_end(owner, job["import_id"].as_str().unwrap())
        .await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["contacts_accepted"], 30_000);
}

#[tokio::test]
async fn a_multipart_upload_without_a_file_part_is_refused() {
    let importer = Importer::start().await;
    let form = reqwest::multipart::Form::new().text("document", "First Name\nAda\n");

    let response = importer
        .app
        .client()
        .post(importer.app.url("/v1/imports"))
        .bearer_auth(importer.issuer.user_token(Uuid::now_v7()))
        .multipart(form)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(importer.spooled_files(), 0);
}
