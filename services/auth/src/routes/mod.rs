//! HTTP routes, one module per capability.

pub mod accounts;
mod credentials;
pub mod jwks;
pub mod sessions;
pub mod token;
