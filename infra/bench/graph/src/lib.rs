//! Benchmark of the Six Degrees graph service, run by the `graph-load` binary: a
//! generated network ([`network`]) turned into the events auth, api and the
//! importer publish ([`events`]), written to a stand-in producers' outbox and
//! relayed to the graph's vhost ([`publisher`]); the graph, as its own process
//! ([`service`]), projects them ([`projection`]: KNOWS edges per second), then
//! answers path queries for random pairs at concurrency 8 ([`paths`]); its peak
//! memory is read from `/proc`. Between the two, [`autovacuum`] catches up with
//! the written edges, as between imports. [`kept`] keeps a projection for later runs of the
//! queries alone. [`disk`] stops a run before it fills the disk the
//! shared servers write to; [`report`] prints it all. What the benchmarks share
//! (running a service, latencies, CPU, PostgreSQL) is `six_bench_support`'s.
//!
//! These print figures; they assert nothing. See `infra/bench/README.md`.

pub mod autovacuum;
pub mod disk;
pub mod events;
pub mod kept;
pub mod network;
pub mod paths;
pub mod projection;
pub mod publisher;
pub mod report;
pub mod service;
pub mod settings;
