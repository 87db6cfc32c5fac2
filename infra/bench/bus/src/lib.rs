//! Benchmarks of the Six Degrees event bus, run by the `bus-throughput` binary:
//!
//! - [`ceiling`]: raw lapin publish-with-confirms and consume-and-ack on a quorum
//!   queue, the most the broker and client can do with durable settings;
//! - [`database`]: the consumer's per-event transactions alone, no broker;
//! - [`end_to_end`]: events written with `six_bus::publish`, published by the
//!   `six_bus::Relay`, handled by a `six_bus::Consumer` with its inbox;
//! - [`at_rest`]: the resident memory of a real service on `six-kit`
//!   ([`service`], the `bench-service` binary) started as its own process.
//!
//! These print figures; they assert nothing. See `infra/bench/README.md`.

pub mod at_rest;
pub mod ceiling;
pub mod database;
pub mod end_to_end;
pub mod meter;
pub mod report;
pub mod sample;
pub mod service;
pub mod settings;
