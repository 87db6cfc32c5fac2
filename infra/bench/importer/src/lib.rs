//! Benchmark of the Six Degrees importer, run by the `import-throughput` binary: a
//! generated LinkedIn export ([`generate`]) loaded by the importer service as its
//! own process ([`service`], [`importer_run`]), with its peak memory
//! ([`memory`]), and the same rows loaded by `psql \copy` and pgloader into a plain
//! table ([`plain`]), printed as a report ([`report`]).
//!
//! These print figures; they assert nothing. See `infra/bench/README.md`.

pub mod generate;
pub mod importer_run;
pub mod memory;
pub mod plain;
pub mod report;
pub mod service;
pub mod settings;
