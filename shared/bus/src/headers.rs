//! Message headers the bus adds when it retries or parks a message.

use lapin::{
    BasicProperties,
    types::{AMQPValue, FieldTable, LongString, ShortString},
};

/// Failed attempts so far (absent on the first delivery).
pub const ATTEMPTS: &str = "x-six-attempts";
/// The error of the last failed attempt.
pub const LAST_ERROR: &str = "x-six-last-error";
/// Why the message was parked.
pub const PARK_REASON: &str = "x-six-park-reason";
/// When the message was parked (RFC 3339).
pub const PARKED_AT: &str = "x-six-parked-at";
/// The routing key the message was first published with (its event type).
pub const ORIGINAL_ROUTING_KEY: &str = "x-six-original-routing-key";

/// Longest error text kept in a header; brokers limit header sizes.
const MAX_HEADER_TEXT_BYTES: usize = 1024;

/// Reads the failed-attempt count of a delivery.
pub fn attempts(properties: &BasicProperties) -> u32 {
    let Some(headers) = properties.headers() else {
        return 0;
    };
    match headers.inner().get(ATTEMPTS) {
        Some(AMQPValue::LongUInt(n)) => *n,
        Some(AMQPValue::LongLongInt(n)) => u32::try_from(*n).unwrap_or(0),
        Some(AMQPValue::LongInt(n)) => u32::try_from(*n).unwrap_or(0),
        _ => 0,
    }
}

/// Reads a text header.
pub fn text(properties: &BasicProperties, name: &str) -> Option<String> {
    match properties.headers().as_ref()?.inner().get(name)? {
        AMQPValue::LongString(value) => Some(value.to_string()),
        AMQPValue::ShortString(value) => Some(value.to_string()),
        _ => None,
    }
}

/// A copy of `properties` whose headers are changed by `edit`.
pub fn with_headers(
    properties: &BasicProperties,
    edit: impl FnOnce(&mut FieldTable),
) -> BasicProperties {
    let mut headers = properties.headers().clone().unwrap_or_default();
    edit(&mut headers);
    properties.clone().with_headers(headers)
}

/// Sets a text header, cut to a size brokers accept.
pub fn set_text(headers: &mut FieldTable, name: &str, value: &str) {
    let mut end = value.len().min(MAX_HEADER_TEXT_BYTES);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    headers.insert(
        ShortString::from(name),
        AMQPValue::LongString(LongString::from(&value[..end])),
    );
}

/// Sets the failed-attempt count.
pub fn set_attempts(headers: &mut FieldTable, attempts: u32) {
    headers.insert(ShortString::from(ATTEMPTS), AMQPValue::LongUInt(attempts));
}

/// Removes the retry and parking state the bus added, giving a message a fresh
/// start; keeps the original routing key (the event type).
pub fn clear_bus_headers(headers: &mut FieldTable) {
    let mut kept = FieldTable::default();
    for (name, value) in headers.inner() {
        if !name.as_str().starts_with("x-six-") || name.as_str() == ORIGINAL_ROUTING_KEY {
            kept.insert(name.clone(), value.clone());
        }
    }
    *headers = kept;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_error_texts_are_cut_on_a_character_boundary() {
        let mut headers = FieldTable::default();
        let long = "é".repeat(1000);
        set_text(&mut headers, LAST_ERROR, &long);
        let properties = BasicProperties::default().with_headers(headers);
        let kept = text(&properties, LAST_ERROR).unwrap();
        assert!(kept.len() <= MAX_HEADER_TEXT_BYTES);
        assert!(long.starts_with(&kept));
    }

    #[test]
    fn clearing_bus_headers_keeps_foreign_ones_and_the_event_type() {
        let mut headers = FieldTable::default();
        set_attempts(&mut headers, 3);
        set_text(&mut headers, PARK_REASON, "boom");
        set_text(
            &mut headers,
            ORIGINAL_ROUTING_KEY,
            "auth.user.registered.v1",
        );
        set_text(&mut headers, "traceparent", "00-abc");
        clear_bus_headers(&mut headers);
        let properties = BasicProperties::default().with_headers(headers);
        assert_eq!(attempts(&properties), 0);
        assert_eq!(text(&properties, PARK_REASON), None);
        assert_eq!(text(&properties, "traceparent").as_deref(), Some("00-abc"));
        assert_eq!(
            text(&properties, ORIGINAL_ROUTING_KEY).as_deref(),
            Some("auth.user.registered.v1")
        );
    }
}
