//! Every event type has a hand-written golden fixture, and every fixture keeps
//! decoding into the right typed event, forever. See `tests/fixtures/README.md`.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use chrono::NaiveDate;
use six_events::graph::MatchKey;
use six_events::importer::{ImportFormat, ImportOrigin};
use six_events::{DomainEvent, EVENT_TYPES, EventMeta, derived_event_id};

fn fixtures_dir() -> PathBuf {
    six_testkit::crate_dir().join("tests/fixtures")
}

/// `tests/fixtures/vN/<type>.json` for a type ending in `.vN`.
fn fixture_path(event_type: &str) -> PathBuf {
    let version = event_type.rsplit('.').next().unwrap_or_default();
    fixtures_dir()
        .join(version)
        .join(format!("{event_type}.json"))
}

fn decode_fixture(event_type: &str) -> DomainEvent {
    let path = fixture_path(event_type);
    let bytes = fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    DomainEvent::decode(&bytes).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn id(meta: &EventMeta) -> String {
    meta.id.to_string()
}

/// Every `*.json` under `tests/fixtures/<version>/`, as `<version>/<file>`.
fn fixture_files() -> BTreeSet<PathBuf> {
    let mut files = BTreeSet::new();
    let versions = fs::read_dir(fixtures_dir()).expect("tests/fixtures is readable");
    for version in versions.filter_map(Result::ok) {
        let Ok(entries) = fs::read_dir(version.path()) else {
            continue; // README.md
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path
                .extension()
                .is_some_and(|extension| extension == "json")
            {
                files.insert(path);
            }
        }
    }
    files
}

#[test]
fn every_catalog_type_has_a_golden_fixture() {
    let fixtures = fixture_files();

    let missing: Vec<&str> = EVENT_TYPES
        .iter()
        .copied()
        .filter(|event_type| !fixtures.contains(&fixture_path(event_type)))
        .collect();
    let unknown: Vec<&PathBuf> = fixtures
        .iter()
        .filter(|path| {
            !EVENT_TYPES
                .iter()
                .any(|event_type| fixture_path(event_type) == **path)
        })
        .collect();

    assert!(
        missing.is_empty() && unknown.is_empty(),
        "golden fixtures do not match the catalog:\n  without a fixture (hand-write one complete event in tests/fixtures/vN/<type>.json): {missing:?}\n  not named after a catalog type in its version folder: {unknown:?}"
    );
}

#[test]
fn every_golden_fixture_decodes_as_its_own_type() {
    for event_type in EVENT_TYPES {
        let event = decode_fixture(event_type);

        assert_eq!(event.routing_key(), *event_type);
        assert!(
            event.meta().subject.is_some(),
            "{event_type} fixture has no subject"
        );
    }
}

#[test]
fn user_registered_fixture_keeps_decoding() {
    let DomainEvent::UserRegistered(event) = decode_fixture("auth.user.registered.v1") else {
        panic!("wrong variant");
    };

    assert_eq!(event.meta().source, "/six-degrees/auth");
    assert_eq!(
        event.meta().traceparent.as_deref(),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    );
    assert_eq!(event.meta().correlation_id, None);
    assert_eq!(
        event.data().user_id.to_string(),
        "01a207af-f7d1-755f-a7d6-caa25d90d42f"
    );
    assert_eq!(event.data().email, "ada.lovelace@example.org");
    assert_eq!(event.data().display_name, "Ada Lovelace");
}

#[test]
fn user_deleted_fixture_keeps_decoding() {
    let DomainEvent::UserDeleted(event) = decode_fixture("auth.user.deleted.v1") else {
        panic!("wrong variant");
    };

    assert_eq!(
        event.data().user_id.to_string(),
        "018fd2d0-0800-7f05-b758-14a8d2d37c2b"
    );
    assert_eq!(event.meta().traceparent, None);
    assert_eq!(event.meta().causation_id, None);
}

#[test]
fn profile_updated_fixture_keeps_decoding() {
    let DomainEvent::ProfileUpdated(event) = decode_fixture("api.profile.updated.v1") else {
        panic!("wrong variant");
    };

    assert_eq!(event.data().display_name, "Grace Hopper");
    assert_eq!(
        event.data().headline.as_deref(),
        Some("Compiler engineer, COBOL committee")
    );
    assert!(event.data().discoverable);
}

#[test]
fn import_started_fixture_keeps_decoding() {
    let DomainEvent::ImportStarted(event) = decode_fixture("importer.import.started.v1") else {
        panic!("wrong variant");
    };

    assert_eq!(event.data().format, ImportFormat::Linkedin);
    assert_eq!(event.data().origin, ImportOrigin::Upload);
    assert_eq!(event.data().file_name.as_deref(), Some("Connections.csv"));
    assert_eq!(
        event.meta().subject,
        Some(event.data().import_id.to_string())
    );
}

#[test]
fn contacts_imported_fixture_keeps_decoding() {
    let DomainEvent::ContactsImported(event) = decode_fixture("importer.contacts.imported.v1")
    else {
        panic!("wrong variant");
    };
    let started = decode_fixture("importer.import.started.v1");

    assert_eq!(event.data().batch_seq, 0);
    assert_eq!(event.data().contacts.len(), 3);
    let ada = &event.data().contacts[0];
    assert_eq!(ada.phones, ["+447700900123"]);
    assert_eq!(ada.connected_on, NaiveDate::from_ymd_opt(2019, 3, 7));
    let sparse = &event.data().contacts[2];
    assert_eq!(sparse.first_name, None);
    assert!(sparse.emails.is_empty());
    assert_eq!(
        event.data().contacts[1].full_name,
        "Sōichirō Núñez-Østergaard"
    );
    assert_eq!(event.meta().causation_id, Some(id(started.meta())));
}

#[test]
fn import_completed_fixture_keeps_decoding() {
    let DomainEvent::ImportCompleted(event) = decode_fixture("importer.import.completed.v1") else {
        panic!("wrong variant");
    };

    let counts = event.data();
    assert_eq!(counts.rows_read, 1284);
    assert_eq!(
        counts.contacts_accepted + counts.rows_rejected + counts.duplicates,
        counts.rows_read
    );
    assert_eq!(counts.bytes_read, 186_402);
    assert_eq!(counts.duration_ms, 3668);
}

#[test]
fn import_failed_fixture_keeps_decoding() {
    let DomainEvent::ImportFailed(event) = decode_fixture("importer.import.failed.v1") else {
        panic!("wrong variant");
    };

    assert!(event.data().reason.contains("E-mail 1 - Value"));
    assert_eq!(event.data().rows_read, 0);
}

#[test]
fn contact_deleted_fixture_keeps_decoding() {
    let DomainEvent::ContactDeleted(event) = decode_fixture("importer.contact.deleted.v1") else {
        panic!("wrong variant");
    };

    assert_eq!(
        event.meta().subject.as_deref(),
        Some(event.data().import_id.to_string().as_str())
    );
    assert_eq!(
        event.data().contact_id.to_string(),
        "01a200fb-6a07-7c55-b1e2-0f4c2d9a8e71"
    );
}

#[test]
fn contact_joined_fixture_keeps_decoding() {
    let DomainEvent::ContactJoined(event) = decode_fixture("graph.contact.joined.v1") else {
        panic!("wrong variant");
    };

    assert_eq!(event.data().matched_by, MatchKey::Email);
    assert_eq!(event.data().display_name, "Ada Lovelace");
    assert_eq!(
        event.meta().subject,
        Some(event.data().owner_id.to_string())
    );
}

#[test]
fn contact_joined_fixture_id_is_derived_from_its_registration() {
    let registered = decode_fixture("auth.user.registered.v1");
    let DomainEvent::ContactJoined(joined) = decode_fixture("graph.contact.joined.v1") else {
        panic!("wrong variant");
    };

    let expected = derived_event_id(
        registered.meta().id,
        registered.meta().time,
        "graph.contact.joined.v1",
        &joined.data().owner_id.to_string(),
    );

    assert_eq!(joined.meta().id, expected);
    assert_eq!(joined.meta().causation_id, Some(id(registered.meta())));
    assert_eq!(joined.meta().correlation_id, Some(id(registered.meta())));
}

#[test]
fn a_golden_fixture_survives_a_round_trip_unchanged() {
    for event_type in EVENT_TYPES {
        let event = decode_fixture(event_type);

        let again = DomainEvent::decode(&event.encode().expect("encodes")).expect("decodes");

        assert_eq!(again, event, "{event_type}");
    }
}
