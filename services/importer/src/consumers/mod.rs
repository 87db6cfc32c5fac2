//! Event handlers, one module per subject area.

mod erasure;

pub use erasure::Erasure;
