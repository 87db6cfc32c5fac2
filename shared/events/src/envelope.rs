use chrono::{DateTime, SubsecRound, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, value::RawValue};
use uuid::Uuid;

use crate::derived_id::derived_event_id;
use crate::error::DecodeError;
use crate::event_data::EventData;
use crate::wire::{self, WireEvent};

/// The attributes of an event, everything but its `data`; the same for typed and
/// untyped envelopes.
///
/// Field names are Rust's; on the wire they are the CloudEvents names given below.
/// `specversion` and `datacontenttype` are not kept: they are always `1.0` and JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    /// `id`: unique per event; a UUIDv7 (time-ordered) for the events we produce.
    /// Consumers deduplicate on it.
    pub id: Uuid,
    /// `source`: the producing service as a URI reference, e.g. `/six-degrees/auth`.
    pub source: String,
    /// `type`: e.g. `auth.user.registered.v1`; also the routing key.
    pub event_type: String,
    /// `time`: when the event was produced (microsecond precision for ours).
    pub time: DateTime<Utc>,
    /// `subject`: the id of the entity the event is about; publish order is kept per
    /// subject.
    pub subject: Option<String>,
    /// `traceparent` extension: the W3C trace context of the producing span, as sent.
    pub traceparent: Option<String>,
    /// `correlationid` extension: shared by every event of one causal chain (the id
    /// of the chain's first event unless the producer chose one).
    pub correlation_id: Option<String>,
    /// `causationid` extension: the id of the event that caused this one.
    pub causation_id: Option<String>,
}

impl AsRef<EventMeta> for EventMeta {
    fn as_ref(&self) -> &EventMeta {
        self
    }
}

/// A typed event: CloudEvents attributes plus a payload of the catalog.
///
/// Serializes to (and deserializes from) the CloudEvents 1.0 structured JSON format.
/// An `Envelope<T>` built by this crate always has `type` = `T::TYPE`; decoding one
/// checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<T> {
    meta: EventMeta,
    data: T,
}

impl<T: EventData> Envelope<T> {
    /// A new event happening now: fresh UUIDv7 id, `type`, `source` and `subject`
    /// from the payload, no extensions.
    pub fn new(data: T) -> Self {
        let meta = EventMeta {
            id: Uuid::now_v7(),
            source: T::SOURCE.to_owned(),
            event_type: T::TYPE.to_owned(),
            time: now(),
            subject: data.subject(),
            traceparent: None,
            correlation_id: None,
            causation_id: None,
        };
        Envelope { meta, data }
    }

    /// An event produced in reaction to `cause`, with a deterministic id.
    ///
    /// The id is [`derived_event_id`]`(cause, T::TYPE, discriminator)`: handling a
    /// redelivered cause again yields the same id, so the outbox and every consumer
    /// see one event, not two. Use a `discriminator` that tells apart the several
    /// events of this type one cause may produce (e.g. the recipient's id), or `""`
    /// when there is only one. Causation, correlation and trace are set as by
    /// [`Envelope::caused_by`]; `time` is the time of this call.
    pub fn derived_from<C>(cause: &C, data: T, discriminator: &str) -> Self
    where
        C: AsRef<EventMeta> + ?Sized,
    {
        let cause = cause.as_ref();
        let mut envelope = Envelope::new(data).caused_by(cause);
        envelope.meta.id = derived_event_id(cause.id, cause.time, T::TYPE, discriminator);
        envelope
    }

    /// Decodes a message body that must hold an event of type `T::TYPE`.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (meta, data) = wire::parse(bytes)?;
        Envelope::of_raw_data(meta, data)
    }

    /// The event of `meta` and `data`, checking that it is of type `T::TYPE`.
    pub(crate) fn of_raw_data(meta: EventMeta, data: &RawValue) -> Result<Self, DecodeError> {
        expect_type::<T>(&meta)?;
        let data = wire::typed_data(&meta, data)?;
        Ok(Envelope { meta, data })
    }
}

impl<T> Envelope<T> {
    /// Sets the `traceparent` extension (W3C trace context, stored as given).
    pub fn with_traceparent(mut self, traceparent: impl Into<String>) -> Self {
        self.meta.traceparent = Some(traceparent.into());
        self
    }

    /// Sets the `correlationid` extension.
    pub fn with_correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.meta.correlation_id = Some(correlation_id.into());
        self
    }

    /// Marks this event as caused by `cause`: `causationid` = the cause's id,
    /// `correlationid` = the cause's correlation id (or the cause's own id when it has
    /// none, so it started the chain), and the cause's `traceparent` when it has one.
    pub fn caused_by<C>(mut self, cause: &C) -> Self
    where
        C: AsRef<EventMeta> + ?Sized,
    {
        let cause = cause.as_ref();
        self.meta.causation_id = Some(cause.id.to_string());
        self.meta.correlation_id = Some(
            cause
                .correlation_id
                .clone()
                .unwrap_or_else(|| cause.id.to_string()),
        );
        if let Some(traceparent) = &cause.traceparent {
            self.meta.traceparent = Some(traceparent.clone());
        }
        self
    }

    /// The event's attributes.
    pub fn meta(&self) -> &EventMeta {
        &self.meta
    }

    /// The routing key to publish with: the event type.
    pub fn routing_key(&self) -> &str {
        &self.meta.event_type
    }

    /// The payload.
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The payload, dropping the attributes.
    pub fn into_data(self) -> T {
        self.data
    }

    /// Attributes and payload, by value.
    pub fn into_parts(self) -> (EventMeta, T) {
        (self.meta, self.data)
    }
}

impl<T: Serialize> Envelope<T> {
    /// The message body: structured-mode CloudEvents JSON.
    pub fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

impl<T> AsRef<EventMeta> for Envelope<T> {
    fn as_ref(&self) -> &EventMeta {
        &self.meta
    }
}

impl<T: Serialize> Serialize for Envelope<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireEvent::new(&self.meta, &self.data).serialize(serializer)
    }
}

impl<'de, T: EventData> Deserialize<'de> for Envelope<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RawEnvelope::deserialize(deserializer)?
            .into_typed()
            .map_err(D::Error::custom)
    }
}

/// An event whose `data` is still untyped JSON: what a consumer holds before
/// dispatching on the type, or when it must handle types this build does not know
/// (parking, replay).
///
/// Attributes other than those of [`EventMeta`] are ignored when decoding and not
/// written back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEnvelope {
    meta: EventMeta,
    data: Value,
}

impl RawEnvelope {
    /// Decodes any CloudEvents 1.0 structured-mode JSON event whose `id` is a UUID,
    /// whatever its type.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (meta, data) = wire::parse(bytes)?;
        let data = wire::typed_data(&meta, data)?;
        Ok(RawEnvelope { meta, data })
    }

    /// Types the payload, checking that the event is of type `T::TYPE`.
    pub fn into_typed<T: EventData>(self) -> Result<Envelope<T>, DecodeError> {
        expect_type::<T>(&self.meta)?;
        let data = serde_json::from_value(self.data)
            .map_err(|error| wire::invalid_data(&self.meta, error))?;
        Ok(Envelope {
            meta: self.meta,
            data,
        })
    }

    /// The event's attributes.
    pub fn meta(&self) -> &EventMeta {
        &self.meta
    }

    /// The routing key to publish with: the event type.
    pub fn routing_key(&self) -> &str {
        &self.meta.event_type
    }

    /// The untyped payload.
    pub fn data(&self) -> &Value {
        &self.data
    }

    /// The message body: structured-mode CloudEvents JSON.
    pub fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

impl AsRef<EventMeta> for RawEnvelope {
    fn as_ref(&self) -> &EventMeta {
        &self.meta
    }
}

impl Serialize for RawEnvelope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireEvent::new(&self.meta, &self.data).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RawEnvelope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut attributes = Map::<String, Value>::deserialize(deserializer)?;
        let meta = wire::from_attributes(&attributes).map_err(D::Error::custom)?;
        let data = attributes
            .remove("data")
            .ok_or_else(|| D::Error::custom(wire::missing_data(&attributes)))?;
        Ok(RawEnvelope { meta, data })
    }
}

/// `UnexpectedType` unless the event of `meta` is of type `T::TYPE`.
fn expect_type<T: EventData>(meta: &EventMeta) -> Result<(), DecodeError> {
    if meta.event_type == T::TYPE {
        return Ok(());
    }
    Err(DecodeError::UnexpectedType {
        expected: T::TYPE,
        found: meta.event_type.clone(),
    })
}

/// Now, to the microsecond: what PostgreSQL `timestamptz` keeps, so a time read back
/// from a database equals the one in the event.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::EnvelopeError;
    use crate::auth::{UserDeleted, UserRegistered};

    fn registered() -> UserRegistered {
        UserRegistered {
            user_id: Uuid::parse_str("0196d1c2-6a40-7c1e-9b3a-2f1e0c7d5a11").unwrap(),
            email: "ada@example.org".to_owned(),
            display_name: "Ada Lovelace".to_owned(),
            registered_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 15, 2).unwrap(),
        }
    }

    fn registered_json() -> Value {
        json!({
            "specversion": "1.0",
            "id": "0196d1c2-6a41-7000-8000-000000000001",
            "source": "/six-degrees/auth",
            "type": "auth.user.registered.v1",
            "time": "2026-11-23T09:15:02.481Z",
            "subject": "0196d1c2-6a40-7c1e-9b3a-2f1e0c7d5a11",
            "datacontenttype": "application/json",
            "data": {
                "user_id": "0196d1c2-6a40-7c1e-9b3a-2f1e0c7d5a11",
                "email": "ada@example.org",
                "display_name": "Ada Lovelace",
                "registered_at": "2026-11-23T09:15:02Z"
            }
        })
    }

    fn decode_raw(value: &Value) -> Result<RawEnvelope, DecodeError> {
        RawEnvelope::decode(value.to_string().as_bytes())
    }

    #[test]
    fn a_new_envelope_takes_type_source_and_subject_from_its_payload() {
        let envelope = Envelope::new(registered());

        assert_eq!(envelope.meta().event_type, "auth.user.registered.v1");
        assert_eq!(envelope.routing_key(), "auth.user.registered.v1");
        assert_eq!(envelope.meta().source, "/six-degrees/auth");
        assert_eq!(
            envelope.meta().subject.as_deref(),
            Some("0196d1c2-6a40-7c1e-9b3a-2f1e0c7d5a11")
        );
        assert_eq!(envelope.meta().id.get_version_num(), 7);
    }

    #[test]
    fn an_encoded_envelope_decodes_to_an_equal_envelope() {
        let envelope = Envelope::new(registered())
            .with_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .with_correlation_id("import-42");

        let bytes = envelope.encode().unwrap();
        let decoded = Envelope::<UserRegistered>::decode(&bytes).unwrap();

        assert_eq!(decoded, envelope);
    }

    #[test]
    fn an_encoded_envelope_uses_cloudevents_attribute_names() {
        let envelope = Envelope::new(registered())
            .with_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .with_correlation_id("c")
            .caused_by(&Envelope::new(registered()));

        let value: Value = serde_json::from_slice(&envelope.encode().unwrap()).unwrap();
        let mut names: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();

        assert_eq!(
            names,
            [
                "causationid",
                "correlationid",
                "data",
                "datacontenttype",
                "id",
                "source",
                "specversion",
                "subject",
                "time",
                "traceparent",
                "type"
            ]
        );
        assert_eq!(value["specversion"], "1.0");
        assert_eq!(value["datacontenttype"], "application/json");
    }

    #[test]
    fn absent_optional_attributes_are_omitted_not_null() {
        let mut envelope = Envelope::new(registered());
        envelope.meta.subject = None;

        let value: Value = serde_json::from_slice(&envelope.encode().unwrap()).unwrap();

        for name in ["subject", "traceparent", "correlationid", "causationid"] {
            assert!(value.get(name).is_none(), "{name} should be omitted");
        }
    }

    #[test]
    fn time_is_written_in_utc_with_a_z() {
        let envelope = Envelope::new(registered());

        let value: Value = serde_json::from_slice(&envelope.encode().unwrap()).unwrap();

        assert!(value["time"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn extension_attributes_survive_a_round_trip() {
        let mut event = registered_json();
        event["traceparent"] = json!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        event["correlationid"] = json!("not-a-uuid-and-that-is-fine");
        event["causationid"] = json!("0196d1c2-0000-7000-8000-000000000000");

        let decoded = decode_raw(&event).unwrap();
        let again = RawEnvelope::decode(&decoded.encode().unwrap()).unwrap();

        assert_eq!(
            again.meta().traceparent.as_deref(),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        assert_eq!(
            again.meta().correlation_id.as_deref(),
            Some("not-a-uuid-and-that-is-fine")
        );
        assert_eq!(
            again.meta().causation_id.as_deref(),
            Some("0196d1c2-0000-7000-8000-000000000000")
        );
    }

    #[test]
    fn unknown_extra_attributes_are_ignored() {
        let mut event = registered_json();
        event["partitionkey"] = json!("tenant-7");
        event["dataschema"] = json!("https://example.org/schema.json");
        event["sampledrate"] = json!(10);

        let decoded = Envelope::<UserRegistered>::decode(event.to_string().as_bytes()).unwrap();

        assert_eq!(decoded.data(), &registered());
    }

    #[test]
    fn null_optional_attributes_count_as_absent() {
        let mut event = registered_json();
        event["subject"] = Value::Null;
        event["traceparent"] = Value::Null;

        let decoded = decode_raw(&event).unwrap();

        assert_eq!(decoded.meta().subject, None);
        assert_eq!(decoded.meta().traceparent, None);
    }

    #[test]
    fn an_event_written_by_the_python_sdk_decodes() {
        // What the Python `cloudevents` SDK writes by default: uuid4 id, time with a
        // +00:00 offset and microseconds, no datacontenttype, its own key order.
        let event = json!({
            "data": {
                "user_id": "0196d1c2-6a40-7c1e-9b3a-2f1e0c7d5a11",
                "email": "ada@example.org",
                "display_name": "Ada Lovelace",
                "registered_at": "2026-11-23T09:15:02+00:00"
            },
            "id": "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
            "source": "/six-degrees/auth",
            "specversion": "1.0",
            "time": "2026-11-23T09:15:02.481516+00:00",
            "type": "auth.user.registered.v1"
        });

        let decoded = Envelope::<UserRegistered>::decode(event.to_string().as_bytes()).unwrap();

        assert_eq!(decoded.data(), &registered());
        assert_eq!(
            decoded.meta().time,
            Utc.with_ymd_and_hms(2026, 11, 23, 9, 15, 2).unwrap()
                + chrono::Duration::microseconds(481_516)
        );
        assert_eq!(decoded.meta().subject, None);
    }

    #[test]
    fn a_missing_datacontenttype_means_json() {
        let mut event = registered_json();
        event.as_object_mut().unwrap().remove("datacontenttype");

        assert!(decode_raw(&event).is_ok());
    }

    #[test]
    fn a_wrong_specversion_is_rejected_and_named() {
        let mut event = registered_json();
        event["specversion"] = json!("0.3");

        let error = decode_raw(&event).unwrap_err();

        assert_eq!(
            error,
            DecodeError::NotACloudEvent(EnvelopeError::UnsupportedSpecVersion("0.3".to_owned()))
        );
        assert!(error.to_string().contains("specversion `0.3`"), "{error}");
    }

    #[test]
    fn a_missing_specversion_is_rejected() {
        let mut event = registered_json();
        event.as_object_mut().unwrap().remove("specversion");

        assert_eq!(
            decode_raw(&event).unwrap_err(),
            DecodeError::NotACloudEvent(EnvelopeError::MissingAttribute("specversion"))
        );
    }

    #[test]
    fn a_missing_id_is_rejected_and_named() {
        let mut event = registered_json();
        event.as_object_mut().unwrap().remove("id");

        let error = decode_raw(&event).unwrap_err();

        assert_eq!(
            error,
            DecodeError::NotACloudEvent(EnvelopeError::MissingAttribute("id"))
        );
        assert_eq!(
            error.to_string(),
            "message body is not a CloudEvents 1.0 event: required attribute `id` is missing"
        );
    }

    #[test]
    fn an_id_that_is_not_a_uuid_is_rejected() {
        let mut event = registered_json();
        event["id"] = json!("A234-1234-1234");

        let error = decode_raw(&event).unwrap_err();

        assert!(
            matches!(
                &error,
                DecodeError::NotACloudEvent(EnvelopeError::InvalidAttribute {
                    attribute: "id",
                    ..
                })
            ),
            "{error:?}"
        );
    }

    #[test]
    fn a_time_that_is_not_rfc3339_is_rejected() {
        let mut event = registered_json();
        event["time"] = json!("23/11/2026 09:15");

        let error = decode_raw(&event).unwrap_err();

        assert!(
            matches!(
                &error,
                DecodeError::NotACloudEvent(EnvelopeError::InvalidAttribute {
                    attribute: "time",
                    ..
                })
            ),
            "{error:?}"
        );
    }

    #[test]
    fn a_non_string_attribute_is_rejected_with_what_was_found() {
        let mut event = registered_json();
        event["source"] = json!(42);

        let error = decode_raw(&event).unwrap_err();

        assert_eq!(
            error.to_string(),
            "message body is not a CloudEvents 1.0 event: attribute `source` is invalid: must be a string, found a number"
        );
    }

    #[test]
    fn an_empty_type_is_rejected() {
        let mut event = registered_json();
        event["type"] = json!("");

        assert!(matches!(
            decode_raw(&event).unwrap_err(),
            DecodeError::NotACloudEvent(EnvelopeError::InvalidAttribute {
                attribute: "type",
                ..
            })
        ));
    }

    #[test]
    fn a_non_json_datacontenttype_is_rejected() {
        let mut event = registered_json();
        event["datacontenttype"] = json!("text/xml");

        assert!(matches!(
            decode_raw(&event).unwrap_err(),
            DecodeError::NotACloudEvent(EnvelopeError::InvalidAttribute {
                attribute: "datacontenttype",
                ..
            })
        ));
    }

    #[test]
    fn binary_data_is_rejected_as_such() {
        let mut event = registered_json();
        let object = event.as_object_mut().unwrap();
        object.remove("data");
        object.insert("data_base64".to_owned(), json!("aGVsbG8="));

        assert_eq!(
            decode_raw(&event).unwrap_err(),
            DecodeError::NotACloudEvent(EnvelopeError::BinaryData)
        );
    }

    #[test]
    fn missing_data_is_rejected() {
        let mut event = registered_json();
        event.as_object_mut().unwrap().remove("data");

        assert_eq!(
            decode_raw(&event).unwrap_err(),
            DecodeError::NotACloudEvent(EnvelopeError::MissingAttribute("data"))
        );
    }

    #[test]
    fn a_body_that_is_not_json_is_rejected_as_such() {
        let error = RawEnvelope::decode(b"{\"specversion\": \"1.0\",").unwrap_err();

        assert!(matches!(error, DecodeError::NotJson(_)), "{error:?}");
        assert_eq!(error.code(), "not_json");
    }

    #[test]
    fn a_json_array_is_not_a_cloud_event() {
        assert_eq!(
            RawEnvelope::decode(b"[]").unwrap_err(),
            DecodeError::NotACloudEvent(EnvelopeError::NotAnObject)
        );
    }

    #[test]
    fn typed_decoding_refuses_an_event_of_another_type() {
        let bytes = Envelope::new(registered()).encode().unwrap();

        assert_eq!(
            Envelope::<UserDeleted>::decode(&bytes).unwrap_err(),
            DecodeError::UnexpectedType {
                expected: "auth.user.deleted.v1",
                found: "auth.user.registered.v1".to_owned()
            }
        );
    }

    #[test]
    fn data_that_does_not_fit_the_payload_is_invalid_data_naming_the_field() {
        let mut event = registered_json();
        event["data"].as_object_mut().unwrap().remove("email");

        let error = Envelope::<UserRegistered>::decode(event.to_string().as_bytes()).unwrap_err();

        assert_eq!(
            error,
            DecodeError::InvalidData {
                event_type: "auth.user.registered.v1".to_owned(),
                error: "missing field `email`".to_owned()
            }
        );
    }

    #[test]
    fn serde_deserialization_applies_the_same_checks() {
        let mut event = registered_json();
        event["specversion"] = json!("2.0");

        let error = serde_json::from_value::<Envelope<UserRegistered>>(event).unwrap_err();

        assert!(error.to_string().contains("specversion `2.0`"), "{error}");
    }

    #[test]
    fn caused_by_links_causation_and_correlation_to_the_cause() {
        let cause = Envelope::new(registered())
            .with_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");

        let effect = Envelope::new(registered()).caused_by(&cause);

        let cause_id = cause.meta().id.to_string();
        assert_eq!(
            effect.meta().causation_id.as_deref(),
            Some(cause_id.as_str())
        );
        assert_eq!(
            effect.meta().correlation_id.as_deref(),
            Some(cause_id.as_str())
        );
        assert_eq!(effect.meta().traceparent, cause.meta().traceparent);
    }

    #[test]
    fn caused_by_keeps_the_correlation_id_of_the_whole_chain() {
        let cause = Envelope::new(registered()).with_correlation_id("chain-1");

        let effect = Envelope::new(registered()).caused_by(&cause);

        assert_eq!(effect.meta().correlation_id.as_deref(), Some("chain-1"));
    }

    #[test]
    fn an_event_derived_twice_from_the_same_cause_has_the_same_id() {
        let cause = Envelope::new(registered());

        let first = Envelope::derived_from(&cause, registered(), "owner-a");
        let second = Envelope::derived_from(&cause, registered(), "owner-a");
        let other = Envelope::derived_from(&cause, registered(), "owner-b");

        assert_eq!(first.meta().id, second.meta().id);
        assert_ne!(first.meta().id, other.meta().id);
        assert_eq!(first.meta().causation_id, Some(cause.meta().id.to_string()));
    }
}
