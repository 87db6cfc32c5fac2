//! Benchmark of access-token verification, run by the `token-verify` binary: how
//! many tokens `six_kit::auth::TokenVerifier` verifies per second on one core, with
//! a warm key cache and distinct pre-minted tokens, next to what the same work
//! costs without the verifier around it:
//!
//! - [`phases::signature_floor`]: the bare Ed25519 signature checks
//!   (`ed25519-dalek`, public key decoded once): no verifier can beat it;
//! - [`phases::jsonwebtoken_decode`]: `jsonwebtoken::decode` with the same
//!   validation, the library the verifier builds on;
//! - [`phases::token_verifier`]: `TokenVerifier::verify`, what a request pays.
//!
//! These print figures; they assert nothing. See `infra/bench/README.md`.

pub mod cpu_time;
pub mod phases;
pub mod report;
pub mod settings;
pub mod tokens;
