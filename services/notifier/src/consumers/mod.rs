//! Event handlers.

mod triggers;

pub use triggers::Triggers;
