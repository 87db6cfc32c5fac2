//! Benchmark of the Six Degrees notifier, run by the `notifier-load` binary. The
//! notifier runs as its own process ([`service`]) on a fresh database and vhost
//! per phase, sending its e-mail to an SMTP server in this process
//! ([`smtp_sink`]) and its webhook calls to an HTTP endpoint in this process
//! ([`receiver`]), both of which note when each message arrived and which event
//! it came from. The events (registrations, contacts who joined: [`events`]) go
//! through a stand-in producers' outbox and its relay, as other services publish
//! them.
//!
//! Phases: [`email`] (welcome e-mails per second), [`webhook`] (signed calls per
//! second, a sample of signatures checked with [`signature`]) and [`steady`]
//! (event-to-send latency at a steady rate); [`setup`] registers the users and
//! their endpoints the webhook phases need, [`throughput`] times a filled outbox
//! until everything arrived, [`report`] prints it all. What the benchmarks share
//! (running a service, CPU, memory, latencies, PostgreSQL) is
//! `six_bench_support`'s.
//!
//! These print figures; they assert nothing. See `infra/bench/README.md`.

pub mod email;
pub mod events;
pub mod receiver;
pub mod report;
pub mod service;
pub mod settings;
pub mod setup;
pub mod signature;
pub mod smtp_sink;
pub mod steady;
pub mod throughput;
pub mod webhook;
