//! The CloudEvents JSON event format, both ways: attribute names, what is required,
//! how values are written, and how tolerant reading is.
//!
//! Reading is done by hand from a JSON object rather than by a derived
//! `Deserialize`, so that every failure names the attribute at fault.

use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::BTreeMap;

use serde::{Serialize, Serializer, de::DeserializeOwned, de::IgnoredAny};
use serde_json::{Map, Value, value::RawValue};
use uuid::Uuid;

use crate::envelope::EventMeta;
use crate::error::{DecodeError, EnvelopeError};
use crate::{DATA_CONTENT_TYPE, SPEC_VERSION};

/// Parses a message body into its attributes and its `data`, still as JSON text:
/// the payload is parsed once, by whoever knows its type, rather than first into
/// an untyped tree.
pub(crate) fn parse(bytes: &[u8]) -> Result<(EventMeta, &RawValue), DecodeError> {
    let mut members: BTreeMap<String, &RawValue> =
        serde_json::from_slice(bytes).map_err(|error| not_an_event(bytes, error))?;
    let data = members.remove("data");
    let attributes = members
        .into_iter()
        .map(|(name, value)| Ok((name, serde_json::from_str(value.get())?)))
        .collect::<Result<Map<String, Value>, serde_json::Error>>()
        .map_err(|error| DecodeError::NotJson(error.to_string()))?;
    let meta = from_attributes(&attributes)?;
    let data = data.ok_or_else(|| missing_data(&attributes))?;
    Ok((meta, data))
}

/// Why `bytes`, which do not parse as a JSON object, are no event.
fn not_an_event(bytes: &[u8], error: serde_json::Error) -> DecodeError {
    match serde_json::from_slice::<IgnoredAny>(bytes) {
        Ok(_) => EnvelopeError::NotAnObject.into(),
        Err(_) => DecodeError::NotJson(error.to_string()),
    }
}

/// Why an event object has no `data`.
pub(crate) fn missing_data(attributes: &Map<String, Value>) -> EnvelopeError {
    if attributes.contains_key("data_base64") {
        EnvelopeError::BinaryData
    } else {
        EnvelopeError::MissingAttribute("data")
    }
}

/// Reads the attributes we know from a structured-mode event object.
///
/// Unknown attributes (other producers' extensions, `dataschema`...) are ignored.
/// A `null` optional attribute counts as absent.
pub(crate) fn from_attributes(attributes: &Map<String, Value>) -> Result<EventMeta, EnvelopeError> {
    let specversion = required_string(attributes, "specversion")?;
    if specversion != SPEC_VERSION {
        return Err(EnvelopeError::UnsupportedSpecVersion(
            specversion.to_owned(),
        ));
    }

    let id = required_string(attributes, "id")?;
    let id = Uuid::parse_str(id).map_err(|error| EnvelopeError::InvalidAttribute {
        attribute: "id",
        reason: format!("`{id}` is not a UUID ({error})"),
    })?;

    let source = non_empty(attributes, "source")?.to_owned();
    let event_type = non_empty(attributes, "type")?.to_owned();

    let time = required_string(attributes, "time")?;
    let time = DateTime::parse_from_rfc3339(time)
        .map_err(|error| EnvelopeError::InvalidAttribute {
            attribute: "time",
            reason: format!("`{time}` is not an RFC 3339 timestamp ({error})"),
        })?
        .with_timezone(&Utc);

    if let Some(content_type) = optional_string(attributes, "datacontenttype")?
        && !is_json_media_type(content_type)
    {
        return Err(EnvelopeError::InvalidAttribute {
            attribute: "datacontenttype",
            reason: format!("`{content_type}` is not a JSON media type"),
        });
    }

    Ok(EventMeta {
        id,
        source,
        event_type,
        time,
        subject: optional_string(attributes, "subject")?.map(str::to_owned),
        traceparent: optional_string(attributes, "traceparent")?.map(str::to_owned),
        correlation_id: optional_string(attributes, "correlationid")?.map(str::to_owned),
        causation_id: optional_string(attributes, "causationid")?.map(str::to_owned),
    })
}

/// `data` of `meta`'s type as `T`, the error naming the type.
pub(crate) fn typed_data<T: DeserializeOwned>(
    meta: &EventMeta,
    data: &RawValue,
) -> Result<T, DecodeError> {
    serde_json::from_str(data.get()).map_err(|error| invalid_data(meta, error))
}

/// `data` does not fit its type's payload: serde's message, without the position
/// it gives (which would count from the start of `data`, not of the body).
pub(crate) fn invalid_data(meta: &EventMeta, error: serde_json::Error) -> DecodeError {
    let mut message = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    if message.ends_with(&position) {
        message.truncate(message.len() - position.len());
    }
    DecodeError::InvalidData {
        event_type: meta.event_type.clone(),
        error: message,
    }
}

fn required_string<'a>(
    attributes: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, EnvelopeError> {
    match attributes.get(name) {
        None => Err(EnvelopeError::MissingAttribute(name)),
        Some(Value::String(value)) => Ok(value),
        Some(other) => Err(not_a_string(name, other)),
    }
}

fn non_empty<'a>(
    attributes: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, EnvelopeError> {
    let value = required_string(attributes, name)?;
    if value.is_empty() {
        return Err(EnvelopeError::InvalidAttribute {
            attribute: name,
            reason: "must not be empty".to_owned(),
        });
    }
    Ok(value)
}

fn optional_string<'a>(
    attributes: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, EnvelopeError> {
    match attributes.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(other) => Err(not_a_string(name, other)),
    }
}

fn not_a_string(name: &'static str, value: &Value) -> EnvelopeError {
    let found = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    EnvelopeError::InvalidAttribute {
        attribute: name,
        reason: format!("must be a string, found {found}"),
    }
}

/// `application/json`, `text/json` or any `+json` structured suffix, parameters ignored.
fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}

/// The structured-mode JSON object of an event, borrowed for serialization.
///
/// Attributes come first and `data` last, which keeps messages readable in the
/// broker's UI; absent optional attributes are omitted rather than written as null.
#[derive(Serialize)]
pub(crate) struct WireEvent<'a, D> {
    specversion: &'static str,
    id: &'a Uuid,
    source: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    #[serde(serialize_with = "rfc3339")]
    time: &'a DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    datacontenttype: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    traceparent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlationid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    causationid: Option<&'a str>,
    data: &'a D,
}

impl<'a, D> WireEvent<'a, D> {
    pub(crate) fn new(meta: &'a EventMeta, data: &'a D) -> Self {
        WireEvent {
            specversion: SPEC_VERSION,
            id: &meta.id,
            source: &meta.source,
            event_type: &meta.event_type,
            time: &meta.time,
            subject: meta.subject.as_deref(),
            datacontenttype: DATA_CONTENT_TYPE,
            traceparent: meta.traceparent.as_deref(),
            correlationid: meta.correlation_id.as_deref(),
            causationid: meta.causation_id.as_deref(),
            data,
        }
    }
}

/// RFC 3339 in UTC with a `Z`, with as many fraction digits as needed (0, 3, 6 or 9).
fn rfc3339<S: Serializer>(time: &&DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&time.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types_with_parameters_or_suffixes_are_accepted() {
        for content_type in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/cloudevents+json",
            "text/json",
        ] {
            assert!(is_json_media_type(content_type), "{content_type}");
        }
    }

    #[test]
    fn non_json_media_types_are_refused() {
        for content_type in [
            "text/plain",
            "application/xml",
            "application/octet-stream",
            "",
        ] {
            assert!(!is_json_media_type(content_type), "{content_type}");
        }
    }
}
