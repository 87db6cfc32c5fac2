//! Event handlers, one module per subject area.

mod projection;

pub use projection::{Projection, lock_projection};
