//! What the benchmarks in `infra/bench/` share, so each reads the machine the
//! same way:
//!
//! - [`options`] and [`cli`]: settings from `--flag value` or `BENCH_*`
//!   variables, and the `main` around a run;
//! - [`cpu`]: where the CPU went during a run, from `/proc` (this process,
//!   optionally split into load client and service by thread name, PostgreSQL,
//!   RabbitMQ, everything else);
//! - [`memory`]: a process's resident memory, from `/proc`;
//! - [`latency`]: request or query latencies read as percentiles;
//! - [`postgres`]: the server's superuser connection, the checkpoint and pause
//!   before each phase, and its settings line for the header;
//! - [`service`]: a service run as a child process (its binary found or built
//!   under `cargo run`, started on port 0 with a clean environment, its log
//!   followed, waited on while it is alive, stopped with SIGTERM);
//! - [`producers`]: a stand-in producers' outbox filled before the clock starts,
//!   and the relay that publishes it to the service under test;
//! - [`report`]: the machine a run is on, the load average, a binary's size,
//!   and numbers with thousands separators or in MB.
//!
//! Each benchmark crate is standalone with its own `Cargo.lock` and depends on
//! this one by path. See `infra/bench/README.md`.

pub mod cli;
pub mod cpu;
pub mod latency;
pub mod memory;
pub mod options;
pub mod postgres;
pub mod producers;
pub mod report;
pub mod service;
