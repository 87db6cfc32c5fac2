//! Six Degrees domain events.
//!
//! Every event crosses RabbitMQ as a [CloudEvents 1.0] envelope in structured JSON
//! mode, so any CloudEvents SDK can read what we publish and publish what we read.
//! This crate owns:
//!
//! - the envelope: [`Envelope<T>`] for typed events, [`RawEnvelope`] for untyped ones
//!   and [`EventMeta`], the attributes both share;
//! - the [`EventData`] trait that ties a payload type to its event type (which is
//!   also the routing key) and its producer;
//! - the v1 catalog, one module per producer ([`auth`], [`api`], [`importer`],
//!   [`graph`]), listed in [`catalog`];
//! - [`DomainEvent::decode`], the one entry point consumers use to turn a message body
//!   into a typed event, with a [`DecodeError`] precise enough to park bad messages;
//! - [`derived_event_id`], deterministic ids for events caused by other events.
//!
//! A version is never changed in place: a breaking change is a new `.v2` type, and the
//! golden fixtures in `tests/fixtures/v1` keep decoding forever.
//!
//! [CloudEvents 1.0]: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md

pub mod api;
pub mod auth;
pub mod catalog;
mod derived_id;
mod envelope;
mod error;
mod event_data;
pub mod graph;
pub mod importer;
mod schema;
mod wire;

pub use catalog::{DomainEvent, EVENT_TYPES};
pub use derived_id::derived_event_id;
pub use envelope::{Envelope, EventMeta, RawEnvelope};
pub use error::{DecodeError, EnvelopeError};
pub use event_data::EventData;
pub use schema::envelope_schema;

/// The only CloudEvents `specversion` this crate writes and accepts.
pub const SPEC_VERSION: &str = "1.0";

/// The `datacontenttype` attribute of every event we publish: `data` is JSON.
pub const DATA_CONTENT_TYPE: &str = "application/json";

/// The content type of a whole message body (the AMQP `content-type` property):
/// CloudEvents structured mode with the JSON event format.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json; charset=utf-8";
