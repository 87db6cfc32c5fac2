//! HTTP routes, one module per capability.

pub mod known_users;
