//! What the benchmarks in `infra/bench/` share, so each reads the machine the
//! same way:
//!
//! - [`options`] and [`cli`]: settings from `--flag value` or `BENCH_*`
//!   variables, and the `main` around a run;
//! - [`cpu`]: where the CPU went during a run, from `/proc` (this process,
//!   optionally split into load client and service by thread name, PostgreSQL,
//!   RabbitMQ, everything else);
//! - [`memory`]: a process's resident memory, from `/proc`;
//! - [`service`]: a service run as a child process (built under `cargo run`,
//!   its log followed, waited on while it is alive);
//! - [`report`]: the machine a run is on, the load average, and numbers with
//!   thousands separators.
//!
//! Each benchmark crate is standalone with its own `Cargo.lock` and depends on
//! this one by path. See `infra/bench/README.md`.

pub mod cli;
pub mod cpu;
pub mod memory;
pub mod options;
pub mod report;
pub mod service;
