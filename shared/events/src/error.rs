use thiserror::Error;

/// Why a message body could not be turned into an event.
///
/// The `Display` text is precise enough to be the reason a message is parked, and
/// [`DecodeError::code`] is a stable machine code for metrics and headers.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The body is not valid JSON (the text is the parser's message, with position).
    #[error("message body is not JSON: {0}")]
    NotJson(String),

    /// The body is JSON but not a CloudEvents 1.0 structured-mode event.
    #[error("message body is not a CloudEvents 1.0 event: {0}")]
    NotACloudEvent(EnvelopeError),

    /// The `type` belongs to no family this build knows.
    #[error("unknown event type `{0}`")]
    UnknownType(String),

    /// The `type` belongs to a known family (same name up to `.vN`) but this build
    /// knows none of its version: typically a producer newer than this consumer.
    #[error("unknown version of event type `{event_type}`: this build knows {}", .known.join(", "))]
    UnknownVersion {
        /// The `type` attribute as received.
        event_type: String,
        /// The versions of the same family this build can decode.
        known: Vec<&'static str>,
    },

    /// The event was asked for as one type but is another (typed decoding only).
    #[error("expected an event of type `{expected}`, got `{found}`")]
    UnexpectedType {
        /// The type the caller asked for.
        expected: &'static str,
        /// The `type` attribute as received.
        found: String,
    },

    /// The envelope is fine but `data` does not match the payload of its type.
    #[error("data of `{event_type}` does not match its schema: {error}")]
    InvalidData {
        /// The `type` attribute as received.
        event_type: String,
        /// What is wrong, e.g. "missing field `user_id`".
        error: String,
    },
}

// Not `#[from]`: that would also make the `EnvelopeError` the `source()`, and error
// reports would print it twice (it is already in the message).
impl From<EnvelopeError> for DecodeError {
    fn from(error: EnvelopeError) -> Self {
        DecodeError::NotACloudEvent(error)
    }
}

impl DecodeError {
    /// A stable, snake_case code for this kind of failure (metrics labels, headers of
    /// parked messages). Never changes for an existing variant.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::NotJson(_) => "not_json",
            DecodeError::NotACloudEvent(_) => "not_a_cloud_event",
            DecodeError::UnknownType(_) => "unknown_type",
            DecodeError::UnknownVersion { .. } => "unknown_version",
            DecodeError::UnexpectedType { .. } => "unexpected_type",
            DecodeError::InvalidData { .. } => "invalid_data",
        }
    }
}

/// What makes a JSON value not a CloudEvents 1.0 structured-mode event we can read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EnvelopeError {
    /// The JSON value is an array, a string... instead of an object.
    #[error("the JSON value is not an object")]
    NotAnObject,

    /// A required attribute is absent.
    #[error("required attribute `{0}` is missing")]
    MissingAttribute(&'static str),

    /// An attribute is present but its value is not acceptable.
    #[error("attribute `{attribute}` is invalid: {reason}")]
    InvalidAttribute {
        /// The attribute's CloudEvents name, e.g. `time`.
        attribute: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// `specversion` is not `1.0`.
    #[error("specversion `{0}` is not supported (expected `1.0`)")]
    UnsupportedSpecVersion(String),

    /// The event carries binary `data_base64` instead of JSON `data`.
    #[error("data is binary (`data_base64`); only JSON `data` is supported")]
    BinaryData,
}
