//! What the benchmarks in `infra/bench/` share, so each reads the machine the
//! same way:
//!
//! - [`cpu`]: where the CPU went during a run, from `/proc` (this process,
//!   optionally split into load client and service by thread name, PostgreSQL,
//!   RabbitMQ, everything else);
//! - [`report`]: the machine a run is on, the load average, and numbers with
//!   thousands separators.
//!
//! Each benchmark crate is standalone with its own `Cargo.lock` and depends on
//! this one by path. See `infra/bench/README.md`.

pub mod cpu;
pub mod report;
