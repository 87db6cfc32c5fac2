use schemars::Schema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, json};

use crate::{DATA_CONTENT_TYPE, EventData, SPEC_VERSION};

/// The JSON Schema (draft 2020-12) of a whole event of type `T::TYPE`: the
/// CloudEvents envelope as we publish it, with `type` fixed and `data` described by
/// `T`.
///
/// It describes what producers write; readers are more tolerant (see
/// [`RawEnvelope::decode`](crate::RawEnvelope::decode)): `datacontenttype` may be
/// absent and extra attributes are ignored (`additionalProperties` is left open).
pub fn envelope_schema<T: EventData>() -> Schema {
    let mut data = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    data.remove("$schema");
    let definitions = data.remove("$defs");

    let string = |description: &str| json!({ "type": "string", "description": description });
    let properties = json!({
        "specversion": {
            "description": "CloudEvents specification version.",
            "const": SPEC_VERSION,
        },
        "id": {
            "description": "Unique event id, a UUIDv7; consumers deduplicate on it.",
            "type": "string",
            "format": "uuid",
        },
        "source": {
            "description": format!("The producing service as a URI reference; `{}` for this type.", T::SOURCE),
            "type": "string",
            "format": "uri-reference",
            "minLength": 1,
            "examples": [T::SOURCE],
        },
        "type": {
            "description": "Event type, also the routing key.",
            "const": T::TYPE,
        },
        "time": {
            "description": "When the event was produced (RFC 3339).",
            "type": "string",
            "format": "date-time",
        },
        "subject": string("Id of the entity the event is about; publish order is kept per subject."),
        "datacontenttype": {
            "description": "Media type of `data`.",
            "const": DATA_CONTENT_TYPE,
        },
        "traceparent": string("Extension: W3C trace context of the producing span."),
        "correlationid": string("Extension: shared by every event of one causal chain."),
        "causationid": string("Extension: id of the event that caused this one."),
        "data": data.to_value(),
    });

    let mut envelope = Map::new();
    envelope.insert(
        "$schema".to_owned(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    envelope.insert("title".to_owned(), json!(T::TYPE));
    envelope.insert(
        "description".to_owned(),
        json!(format!(
            "One `{}` event: a CloudEvents 1.0 envelope in structured JSON mode.",
            T::TYPE
        )),
    );
    envelope.insert("type".to_owned(), json!("object"));
    envelope.insert(
        "required".to_owned(),
        json!([
            "specversion",
            "id",
            "source",
            "type",
            "time",
            "datacontenttype",
            "data"
        ]),
    );
    envelope.insert("properties".to_owned(), properties);
    if let Some(definitions) = definitions {
        envelope.insert("$defs".to_owned(), definitions);
    }
    Schema::from(envelope)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::importer::ContactsImported;

    #[test]
    fn the_envelope_schema_fixes_the_type_and_describes_the_data() {
        let schema = envelope_schema::<ContactsImported>();

        assert_eq!(
            schema.pointer("/properties/type/const"),
            Some(&json!("importer.contacts.imported.v1"))
        );
        assert_eq!(
            schema.pointer("/properties/data/properties/batch_seq/type"),
            Some(&json!("integer"))
        );
    }

    #[test]
    fn nested_payload_types_are_defined_at_the_root_where_references_point() {
        let schema = envelope_schema::<ContactsImported>();

        let reference = schema
            .pointer("/properties/data/properties/contacts/items/$ref")
            .and_then(Value::as_str);

        assert_eq!(reference, Some("#/$defs/ImportedContact"));
        assert!(schema.pointer("/$defs/ImportedContact").is_some());
    }
}
