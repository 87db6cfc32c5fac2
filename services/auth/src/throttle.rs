//! Login throttling per account and per client address, with a lockout that
//! doubles with every failure beyond the free ones. State lives in PostgreSQL, so
//! every replica sees the same counts.
//!
//! The account key is a digest of the normalised e-mail, whether or not such an
//! account exists: a lockout says nothing about which addresses have accounts.

use std::{net::IpAddr, time::Duration};

use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// Throttling limits.
#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    /// Failures per account before the first lockout.
    pub free_failures_per_account: i32,
    /// Failures per client address before the first lockout.
    pub free_failures_per_address: i32,
    /// The first lockout; each further failure doubles it.
    pub first_lockout: Duration,
    /// The longest lockout.
    pub max_lockout: Duration,
    /// Failures older than this are forgotten.
    pub failure_window: Duration,
}

/// One throttled key and its free failures.
#[derive(Debug, Clone)]
pub struct ThrottleKey {
    key: String,
    free_failures: i32,
}

/// Counts failures and answers whether a login may be tried.
#[derive(Clone)]
pub struct LoginThrottle {
    settings: ThrottleSettings,
}

impl LoginThrottle {
    /// A throttle with `settings`.
    pub fn new(settings: ThrottleSettings) -> Self {
        Self { settings }
    }

    /// The key of the account with `email`.
    pub fn account(&self, email: &str) -> ThrottleKey {
        ThrottleKey {
            key: account_key(email),
            free_failures: self.settings.free_failures_per_account,
        }
    }

    /// The key of a client address.
    pub fn address(&self, address: IpAddr) -> ThrottleKey {
        ThrottleKey {
            key: format!("address:{address}"),
            free_failures: self.settings.free_failures_per_address,
        }
    }

    /// `Some(wait)` while any of `keys` is locked out.
    pub async fn locked_for(
        &self,
        pool: &PgPool,
        keys: &[ThrottleKey],
    ) -> Result<Option<Duration>, sqlx::Error> {
        let names: Vec<&str> = keys.iter().map(|key| key.key.as_str()).collect();
        let remaining: Option<f64> = sqlx::query_scalar(
            "SELECT extract(epoch FROM max(locked_until) - now())::float8 \
             FROM login_failures WHERE throttle_key = ANY($1) AND locked_until > now()",
        )
        .bind(&names)
        .fetch_one(pool)
        .await?;
        Ok(remaining.map(|secs| Duration::from_secs_f64(secs.max(0.0))))
    }

    /// Counts a failure against each key and locks those past their free failures.
    pub async fn record_failure(
        &self,
        pool: &PgPool,
        keys: &[ThrottleKey],
    ) -> Result<(), sqlx::Error> {
        let window_secs = self.settings.failure_window.as_secs_f64();
        for key in keys {
            let failures: i32 = sqlx::query_scalar(
                "INSERT INTO login_failures (throttle_key, failures, last_failure_at) \
                 VALUES ($1, 1, now()) \
                 ON CONFLICT (throttle_key) DO UPDATE SET \
                     failures = CASE \
                         WHEN login_failures.last_failure_at < now() - make_interval(secs => $2) THEN 1 \
                         ELSE login_failures.failures + 1 END, \
                     last_failure_at = now() \
                 RETURNING failures",
            )
            .bind(&key.key)
            .bind(window_secs)
            .fetch_one(pool)
            .await?;
            if let Some(lockout) = self.lockout_after(failures, key.free_failures) {
                sqlx::query(
                    "UPDATE login_failures SET locked_until = now() + make_interval(secs => $2) \
                     WHERE throttle_key = $1",
                )
                .bind(&key.key)
                .bind(lockout.as_secs_f64())
                .execute(pool)
                .await?;
                tracing::warn!(
                    failures,
                    lockout_secs = lockout.as_secs(),
                    "login locked out"
                );
            }
        }
        Ok(())
    }

    /// Forgets the failures of `key` (after a successful login).
    pub async fn clear(&self, pool: &PgPool, key: &ThrottleKey) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1")
            .bind(&key.key)
            .execute(pool)
            .await?;
        Ok(())
    }

    /// The lockout after the `failures`-th failure: none within the free ones, then
    /// the first lockout, doubling up to the maximum.
    fn lockout_after(&self, failures: i32, free_failures: i32) -> Option<Duration> {
        let beyond = failures.checked_sub(free_failures).filter(|n| *n > 0)?;
        let doublings = u32::try_from(beyond - 1).unwrap_or(u32::MAX).min(31);
        let lockout = self
            .settings
            .first_lockout
            .saturating_mul(1_u32 << doublings);
        Some(lockout.min(self.settings.max_lockout))
    }
}

/// The throttle key of an account, without keeping the address itself.
pub fn account_key(email: &str) -> String {
    let digest = Sha256::digest(email.as_bytes());
    format!("account:{}", hex(&digest))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(ThrottleSettings {
            free_failures_per_account: 3,
            free_failures_per_address: 10,
            first_lockout: Duration::from_secs(5),
            max_lockout: Duration::from_secs(60),
            failure_window: Duration::from_secs(900),
        })
    }

    #[test]
    fn the_lockout_starts_after_the_free_failures_and_doubles_up_to_the_maximum() {
        let throttle = throttle();
        let lockouts: Vec<Option<u64>> = (1..=9)
            .map(|failures| throttle.lockout_after(failures, 3).map(|d| d.as_secs()))
            .collect();
        assert_eq!(
            lockouts,
            [
                None,
                None,
                None,
                Some(5),
                Some(10),
                Some(20),
                Some(40),
                Some(60),
                Some(60)
            ]
        );
    }

    #[test]
    fn a_huge_failure_count_stays_at_the_maximum() {
        assert_eq!(
            throttle().lockout_after(i32::MAX, 3),
            Some(Duration::from_secs(60))
        );
    }
}
