//! Event handlers, one module per subject area.

mod users;

pub use users::Users;
