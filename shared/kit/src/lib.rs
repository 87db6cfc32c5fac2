//! What every Six Degrees service binary needs, in one place:
//!
//! - [`config`]: typed settings from the environment (and an optional file);
//! - [`telemetry`]: JSON or readable logs;
//! - [`http`]: problem+json errors, a JSON extractor, request ids and trace
//!   context, metrics, request deadlines, `/healthz`, `/readyz`, `/metrics`;
//! - [`db`]: the pool and migrations (the bus's and the service's);
//! - [`auth`]: access-token verification (axum extractors) and service tokens;
//! - [`egress`]: an HTTP client for URLs users give, kept off private networks;
//! - [`memory`]: the process's allocator (glibc's, or mimalloc with the feature
//!   `mimalloc`) and how it keeps freed memory;
//! - [`service`]: the [`Service`] trait, start-up and the graceful shutdown sequence;
//! - [`cli`]: `serve`, `migrate` and the parking-queue commands;
//! - `testing` (feature `testing`): start a service on port 0 with its own
//!   database and broker vhost; a test token issuer.

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod egress;
pub mod http;
pub mod memory;
pub mod metrics;
pub mod service;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use service::{NoEvents, Parts, Resources, RunningService, Service};
