//! Passwords: the length policy and argon2id hashing, off the async threads.
//!
//! Verifying against an unknown account runs the same argon2id work on a dummy
//! hash made with the same parameters, so "no such e-mail" and "wrong password"
//! take the same time.

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
    password_hash::{SaltString, rand_core::OsRng},
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;
use tracing::Span;

/// Fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Most characters a password may have (bounds the hashing input).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Checks the length policy; `Err` says what is wrong.
pub fn check_policy(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!(
            "must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!("must have at most {MAX_PASSWORD_CHARS} characters"));
    }
    Ok(())
}

/// argon2id cost parameters (see the README for how the defaults were chosen).
#[derive(Debug, Clone, Copy)]
pub struct HashCost {
    /// Memory per hash, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

/// Why hashing failed: never the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The parameters or a stored hash are unusable.
    #[error("argon2: {0}")]
    Argon2(String),
    /// The blocking task did not finish.
    #[error("hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Hashes and verifies passwords with bounded concurrency: each hash holds
/// `memory_kib` of memory, so at most `max_concurrent` run at once.
#[derive(Clone)]
pub struct Passwords {
    argon2: Arc<Argon2<'static>>,
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
}

impl Passwords {
    /// A hasher with `cost`; fails on parameters argon2 refuses.
    pub fn new(cost: HashCost, max_concurrent: usize) -> Result<Self, HashError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|error| HashError::Argon2(error.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy_hash = hash_with(&argon2, "a password nobody has")?;
        Ok(Self {
            argon2: Arc::new(argon2),
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy_hash: dummy_hash.into(),
        })
    }

    /// The PHC string (algorithm, parameters, salt, hash) for `password`.
    pub async fn hash(&self, password: SecretString) -> Result<String, HashError> {
        let argon2 = self.argon2.clone();
        self.blocking(move || hash_with(&argon2, password.expose_secret()))
            .await?
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown account)
    /// the same work is done against a dummy hash and the answer is `false`.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<bool, HashError> {
        let argon2 = self.argon2.clone();
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = self
            .blocking(move || {
                let parsed = PasswordHash::new(&stored)
                    .map_err(|error| HashError::Argon2(error.to_string()))?;
                Ok::<_, HashError>(
                    argon2
                        .verify_password(password.expose_secret().as_bytes(), &parsed)
                        .is_ok(),
                )
            })
            .await??;
        Ok(known && matches)
    }

    /// Runs `work` on the blocking pool within the caller's span, once a permit is free.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|error| HashError::Argon2(error.to_string()))?;
        let span = Span::current();
        Ok(tokio::task::spawn_blocking(move || span.in_scope(work)).await?)
    }
}

fn hash_with(argon2: &Argon2<'_>, password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| HashError::Argon2(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Passwords {
        let cost = HashCost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        Passwords::new(cost, 2).unwrap()
    }

    #[tokio::test]
    async fn a_password_verifies_against_its_own_hash_only() {
        let passwords = cheap();
        let hash = passwords
            .hash("correct horse battery".into())
            .await
            .unwrap();

        assert!(hash.starts_with("$argon2id$"));
        assert!(
            passwords
                .verify("correct horse battery".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("wrong horse battery".into(), Some(hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        let passwords = cheap();
        assert!(
            !passwords
                .verify("a password nobody has".into(), None)
                .await
                .unwrap()
        );
    }

    #[test]
    fn the_length_policy_counts_characters_not_bytes() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("ééééééééé").is_err(), "9 characters");
        assert!(check_policy("éééééééééé").is_ok(), "10 characters");
        assert!(check_policy(&"x".repeat(1024)).is_ok());
        assert!(check_policy(&"x".repeat(1025)).is_err());
    }
}
