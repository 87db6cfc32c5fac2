//! argon2id alone: what one password check costs a core with the service's
//! parameters, timed on one thread with nothing around it. It bounds logins per
//! second: the cores divided by this CPU time, whatever the service does.

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
    password_hash::SaltString,
};
use rand_core::OsRng;

use crate::cpu_time::{Round, Stopwatch};

/// Timed rounds (the median is reported).
pub const ROUNDS: usize = 5;
/// Password checks per round.
pub const CHECKS_PER_ROUND: u64 = 4;

/// argon2id parameters, as the service reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Cost {
    /// Memory per hash, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub lanes: u32,
}

/// Checks a password against its hash `CHECKS_PER_ROUND` times per round, as a
/// login does (PHC string parsed, then hashed again with its salt and parameters),
/// after one untimed check. Blocks the calling thread for the whole run: call it
/// from a blocking task.
pub fn password_checks(cost: Argon2Cost) -> anyhow::Result<Vec<Round>> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.lanes, None)
        .map_err(|error| anyhow::anyhow!("argon2 parameters: {error}"))?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let password = b"bench password, correct horse battery staple";
    let salt = SaltString::generate(&mut OsRng);
    let stored = argon2
        .hash_password(password, &salt)
        .map_err(|error| anyhow::anyhow!("argon2 hash: {error}"))?
        .to_string();
    let check = || -> anyhow::Result<()> {
        let parsed =
            PasswordHash::new(&stored).map_err(|error| anyhow::anyhow!("PHC string: {error}"))?;
        argon2
            .verify_password(password, &parsed)
            .map_err(|error| anyhow::anyhow!("argon2 verify: {error}"))
    };
    check()?;
    (0..ROUNDS)
        .map(|_| {
            let stopwatch = Stopwatch::start();
            for _ in 0..CHECKS_PER_ROUND {
                check()?;
            }
            Ok(stopwatch.stop(CHECKS_PER_ROUND))
        })
        .collect()
}
