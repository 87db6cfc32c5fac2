//! The event bus of Six Degrees, on RabbitMQ and PostgreSQL.
//!
//! - [`outbox::publish`] writes an event in the caller's transaction; the
//!   [`outbox::Relay`] publishes committed events with publisher confirms.
//! - [`consumer::Consumer`] runs a [`consumer::Handler`] on the service's queue
//!   with an inbox for exactly-once effects, retries with growing delays, and a
//!   parking queue for what cannot be handled ([`parking`] to inspect and replay).
//! - Both reconnect by themselves after a broker restart and re-declare the
//!   [`topology::Topology`].
//!
//! The outbox and inbox tables are created by [`migrator`], which the service kit
//! runs at boot next to the service's own migrations.

pub mod config;
mod connection;
pub mod consumer;
mod error;
pub mod frames;
pub mod headers;
pub mod outbox;
pub mod parking;
pub mod topology;
mod trace;
pub mod wakeup;

pub use config::{BusConfig, DEFAULT_EXCHANGE, QueueType};
pub use connection::{BrokerLink, DEFAULT_FRAME_MAX_BYTES};
pub use consumer::{Consumer, Handler, HandlerError, IncomingEvent};
pub use error::BusError;
pub use outbox::{Relay, discard_unsent, publish, publish_all};
pub use trace::TraceContext;
pub use wakeup::CommitWakeups;

/// Table in which the bus records its own applied migrations, apart from the
/// service's `_sqlx_migrations`, so both migration sets can evolve independently.
pub const MIGRATIONS_TABLE: &str = "_six_bus_migrations";

/// The migrations that create the outbox and inbox tables.
pub fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
}
