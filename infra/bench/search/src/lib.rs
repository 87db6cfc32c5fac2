//! Benchmark of the Six Degrees search service, run by the `search-load` binary:
//! generated address books ([`people`]) turned into the events the importer and api
//! publish ([`events`]), written to a stand-in producers' outbox and relayed to the
//! service's vhost ([`publisher`]); the service, as its own process on the tantivy
//! backend ([`service`]), indexes them ([`indexing`]: documents per second), then
//! answers a mix of searches at concurrency 8 ([`queries`]); its own metrics say
//! how it spent the time ([`metrics`]); its memory and index are read at the end and
//! at rest ([`rest`]); [`report`] prints it all. What the benchmarks share (running
//! a service, latencies, CPU, PostgreSQL) is `six_bench_support`'s.
//!
//! These print figures; they assert nothing. See `infra/bench/README.md`.

pub mod events;
pub mod indexing;
pub mod metrics;
pub mod people;
pub mod publisher;
pub mod queries;
pub mod report;
pub mod rest;
pub mod service;
pub mod settings;
