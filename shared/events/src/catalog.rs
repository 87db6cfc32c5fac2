//! The catalog: every event type Six Degrees publishes, and the typed decoder
//! consumers use.
//!
//! The list below is the single source of truth: the [`DomainEvent`] variants,
//! [`EVENT_TYPES`] and [`schemas`] are all generated from it, so they cannot drift
//! apart. Adding a type means adding a line here, a golden fixture in
//! `tests/fixtures/vN` (a test fails until there is one) and a committed schema in
//! `docs/events` (likewise).

use schemars::Schema;
use serde_json::value::RawValue;

use crate::api::ProfileUpdated;
use crate::auth::{UserDeleted, UserRegistered};
use crate::graph::ContactJoined;
use crate::importer::{
    ContactDeleted, ContactsImported, ImportCompleted, ImportFailed, ImportStarted,
};
use crate::{DecodeError, Envelope, EventData, EventMeta, envelope_schema, wire};

macro_rules! catalog {
    ($( $(#[$doc:meta])* $variant:ident($payload:ty), )+) => {
        /// Any event of the catalog, typed. Decode message bodies with
        /// [`DomainEvent::decode`], then match on the variants a consumer handles.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum DomainEvent {
            $( $(#[$doc])* $variant(Envelope<$payload>), )+
        }

        /// Every event type of the catalog (each also a routing key).
        pub const EVENT_TYPES: &[&str] = &[ $( <$payload as EventData>::TYPE, )+ ];

        /// `(type, JSON Schema of the whole envelope)` for every event type of the
        /// catalog, in [`EVENT_TYPES`] order; what `docs/events/*.schema.json` hold.
        pub fn schemas() -> Vec<(&'static str, Schema)> {
            vec![ $( (<$payload as EventData>::TYPE, envelope_schema::<$payload>()), )+ ]
        }

        impl DomainEvent {
            /// Types `data` according to the `type` of `meta`.
            fn from_raw_data(meta: EventMeta, data: &RawValue) -> Result<Self, DecodeError> {
                match meta.event_type.as_str() {
                    $( <$payload as EventData>::TYPE => Envelope::of_raw_data(meta, data).map(DomainEvent::$variant), )+
                    other => Err(unknown_type(other)),
                }
            }

            /// The event's attributes.
            pub fn meta(&self) -> &EventMeta {
                match self {
                    $( DomainEvent::$variant(envelope) => envelope.meta(), )+
                }
            }

            /// The message body: structured-mode CloudEvents JSON.
            pub fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
                match self {
                    $( DomainEvent::$variant(envelope) => envelope.encode(), )+
                }
            }
        }

        $(
            impl From<Envelope<$payload>> for DomainEvent {
                fn from(envelope: Envelope<$payload>) -> Self {
                    DomainEvent::$variant(envelope)
                }
            }
        )+

        #[cfg(test)]
        const TYPES_AND_SOURCES: &[(&str, &str)] =
            &[ $( (<$payload as EventData>::TYPE, <$payload as EventData>::SOURCE), )+ ];
    };
}

catalog! {
    /// `auth.user.registered.v1`
    UserRegistered(UserRegistered),
    /// `auth.user.deleted.v1`
    UserDeleted(UserDeleted),
    /// `api.profile.updated.v1`
    ProfileUpdated(ProfileUpdated),
    /// `importer.import.started.v1`
    ImportStarted(ImportStarted),
    /// `importer.contacts.imported.v1`
    ContactsImported(ContactsImported),
    /// `importer.import.completed.v1`
    ImportCompleted(ImportCompleted),
    /// `importer.import.failed.v1`
    ImportFailed(ImportFailed),
    /// `importer.contact.deleted.v1`
    ContactDeleted(ContactDeleted),
    /// `graph.contact.joined.v1`
    ContactJoined(ContactJoined),
}

impl DomainEvent {
    /// Decodes a message body into the typed event its `type` names.
    ///
    /// Fails with a [`DecodeError`] that says exactly why (not JSON, which attribute
    /// is missing or invalid, unknown type, unknown version of a known type, data not
    /// matching the payload), fit to be the reason a message is parked.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (meta, data) = wire::parse(bytes)?;
        DomainEvent::from_raw_data(meta, data)
    }

    /// The routing key to publish with: the event type.
    pub fn routing_key(&self) -> &str {
        &self.meta().event_type
    }
}

impl AsRef<EventMeta> for DomainEvent {
    fn as_ref(&self) -> &EventMeta {
        self.meta()
    }
}

/// `UnknownVersion` when another version of the same family is known, else
/// `UnknownType`.
fn unknown_type(event_type: &str) -> DecodeError {
    let family = family_of(event_type);
    let known: Vec<&'static str> = EVENT_TYPES
        .iter()
        .copied()
        .filter(|known| family_of(known) == family)
        .collect();
    if known.is_empty() {
        return DecodeError::UnknownType(event_type.to_owned());
    }
    DecodeError::UnknownVersion {
        event_type: event_type.to_owned(),
        known,
    }
}

/// The type without its `.vN` suffix (`auth.user.registered` for
/// `auth.user.registered.v9`); the whole type when it has no such suffix.
fn family_of(event_type: &str) -> &str {
    match event_type.rsplit_once(".v") {
        Some((family, version))
            if !version.is_empty() && version.bytes().all(|byte| byte.is_ascii_digit()) =>
        {
            family
        }
        _ => event_type,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::{TimeZone, Utc};
    use serde_json::{Value, json};
    use uuid::Uuid;

    use super::*;
    use crate::graph::MatchKey;

    fn event(event_type: &str, data: Value) -> Vec<u8> {
        json!({
            "specversion": "1.0",
            "id": "01a207af-f5f1-7000-8000-000000000001",
            "source": "/six-degrees/auth",
            "type": event_type,
            "time": "2026-11-23T09:15:02Z",
            "data": data,
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn decoding_dispatches_on_the_type() {
        let bytes = event(
            "auth.user.deleted.v1",
            json!({ "user_id": "0196d1c2-6a40-7c1e-9b3a-2f1e0c7d5a11", "deleted_at": "2026-11-23T09:15:02Z" }),
        );

        let decoded = DomainEvent::decode(&bytes).unwrap();

        let DomainEvent::UserDeleted(envelope) = &decoded else {
            panic!("decoded as {decoded:?}");
        };
        assert_eq!(
            envelope.data().user_id.to_string(),
            "0196d1c2-6a40-7c1e-9b3a-2f1e0c7d5a11"
        );
        assert_eq!(decoded.routing_key(), "auth.user.deleted.v1");
    }

    #[test]
    fn a_type_of_no_known_family_is_an_unknown_type() {
        let error = DomainEvent::decode(&event("billing.invoice.paid.v1", json!({}))).unwrap_err();

        assert_eq!(
            error,
            DecodeError::UnknownType("billing.invoice.paid.v1".to_owned())
        );
        assert_eq!(error.code(), "unknown_type");
    }

    #[test]
    fn a_newer_version_of_a_known_type_is_an_unknown_version() {
        let error = DomainEvent::decode(&event("auth.user.registered.v9", json!({}))).unwrap_err();

        assert_eq!(
            error,
            DecodeError::UnknownVersion {
                event_type: "auth.user.registered.v9".to_owned(),
                known: vec!["auth.user.registered.v1"],
            }
        );
        assert_eq!(
            error.to_string(),
            "unknown version of event type `auth.user.registered.v9`: this build knows auth.user.registered.v1"
        );
    }

    #[test]
    fn a_known_type_without_its_version_suffix_is_an_unknown_version() {
        let error = DomainEvent::decode(&event("auth.user.registered", json!({}))).unwrap_err();

        assert!(
            matches!(error, DecodeError::UnknownVersion { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn a_known_family_prefix_alone_does_not_make_a_known_family() {
        let error = DomainEvent::decode(&event("auth.user.v1", json!({}))).unwrap_err();

        assert_eq!(error, DecodeError::UnknownType("auth.user.v1".to_owned()));
    }

    #[test]
    fn data_of_the_wrong_shape_is_invalid_data_for_that_type() {
        let error = DomainEvent::decode(&event("auth.user.deleted.v1", json!({ "user_id": 7 })))
            .unwrap_err();

        let DecodeError::InvalidData { event_type, error } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(event_type, "auth.user.deleted.v1");
        assert!(error.contains("invalid type: integer `7`"), "{error}");
    }

    #[test]
    fn an_enum_value_outside_the_v1_set_is_invalid_data() {
        let bytes = event(
            "graph.contact.joined.v1",
            json!({
                "owner_id": "0196d1c2-6a40-7c1e-9b3a-2f1e0c7d5a11",
                "joined_user_id": "0196d1c2-6a40-7c1e-9b3a-2f1e0c7d5a12",
                "person_id": "0196d1c2-6a40-7c1e-9b3a-2f1e0c7d5a13",
                "display_name": "Ada",
                "matched_by": "fax",
            }),
        );

        let error = DomainEvent::decode(&bytes).unwrap_err();

        assert!(
            error.to_string().contains("unknown variant `fax`"),
            "{error}"
        );
    }

    #[test]
    fn a_typed_event_round_trips_through_the_domain_decoder() {
        let cause = Envelope::new(UserRegistered {
            user_id: Uuid::now_v7(),
            email: "ada@example.org".to_owned(),
            display_name: "Ada".to_owned(),
            registered_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 15, 2).unwrap(),
        });
        let joined: DomainEvent = Envelope::derived_from(
            &cause,
            ContactJoined {
                owner_id: Uuid::now_v7(),
                joined_user_id: cause.data().user_id,
                person_id: Uuid::now_v7(),
                display_name: "Ada".to_owned(),
                matched_by: MatchKey::ProfileUrl,
            },
            "owner",
        )
        .into();

        let decoded = DomainEvent::decode(&joined.encode().unwrap()).unwrap();

        assert_eq!(decoded, joined);
    }

    #[test]
    fn event_types_are_unique() {
        let unique: HashSet<&str> = EVENT_TYPES.iter().copied().collect();

        assert_eq!(unique.len(), EVENT_TYPES.len());
    }

    #[test]
    fn every_type_is_named_after_its_producer_and_versioned() {
        for (event_type, source) in TYPES_AND_SOURCES {
            let producer = source.rsplit('/').next().unwrap_or_default();

            assert!(
                event_type.starts_with(&format!("{producer}.")),
                "{event_type} is published by {source}"
            );
            assert_ne!(family_of(event_type), *event_type, "{event_type} lacks .vN");
        }
    }

    #[test]
    fn there_is_one_schema_per_event_type() {
        let schema_types: Vec<&str> = schemas()
            .into_iter()
            .map(|(event_type, _)| event_type)
            .collect();

        assert_eq!(schema_types, EVENT_TYPES);
    }
}
