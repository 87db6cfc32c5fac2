//! Benchmarks of the auth side of Six Degrees. They print figures and assert
//! nothing; see `infra/bench/README.md`.
//!
//! `token-verify`: how many tokens `six_kit::auth::TokenVerifier` verifies per
//! second on one core, with a warm key cache and distinct pre-minted tokens, next
//! to what the same work costs without the verifier around it:
//!
//! - [`phases::signature_floor`]: the bare Ed25519 signature checks
//!   (`ed25519-dalek`, public key decoded once): no verifier can beat it;
//! - [`phases::jsonwebtoken_decode`]: `jsonwebtoken::decode` with the same
//!   validation, the library the verifier builds on;
//! - [`phases::token_verifier`]: `TokenVerifier::verify`, what a request pays.
//!
//! `session-load` ([`session`]): logins per second at the auth service's argon2id
//! parameters, and the latency of `POST /v1/login` and `POST /v1/refresh` under
//! concurrent load, with where the CPU went (`six_bench_support::cpu`).
//!
//! Shared by both: [`settings`] (options and `BENCH_*` variables), [`cpu_time`]
//! (thread CPU time), [`report`] (the machine line, median round); what the
//! benchmarks of `infra/bench/` share (CPU from `/proc`, machine, load, number
//! formatting) is in `six_bench_support`.

pub mod cpu_time;
pub mod phases;
pub mod report;
pub mod session;
pub mod settings;
pub mod tokens;
