//! HTTP routes, one module per capability.

pub mod imports;
