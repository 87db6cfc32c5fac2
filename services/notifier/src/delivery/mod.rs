//! The delivery log and the dispatcher that works through it.
//!
//! Every outward message (an e-mail or a webhook call) is a row of `deliveries`,
//! written with its notification (`notify::record_all`) in the
//! transaction that raised it, so an event's effect and its
//! deliveries commit together. The dispatcher claims due rows for
//! `NOTIFIER_CLAIM_TIMEOUT_MS`, sends them, and records each outcome: `sent`, or
//! a retry after a growing, jittered delay, or `failed` when the server refused
//! for good or the attempts ran out (an operator can retry it, `routes::admin`).
//!
//! A crash or an outage never loses a delivery: unsent rows stay `pending`, and a
//! claim left by a stopped instance expires. The one window for a second copy is
//! a crash after the mail server accepted a message and before `sent` was
//! written; its `Message-ID` is then the same, so mail systems can tell.

mod digest;
mod dispatcher;
mod email;
mod smtp;

use std::time::Duration;

use sqlx::PgConnection;
use uuid::Uuid;

pub use digest::Digester;
pub use dispatcher::Dispatcher;
pub use email::Mailer;

use crate::notices::Channel;

/// The channel dispatchers listen on to send new deliveries at once: a trigger
/// on `deliveries` notifies it at commit when a row becomes due now (migration
/// `wake_dispatchers`).
const WAKE_CHANNEL: &str = "notifier_deliveries";

/// A delivery written with its notification (`notify::record_all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewDelivery {
    /// An e-mail to send now.
    Email,
    /// An e-mail held for the recipient's next daily digest.
    HeldEmail,
    /// A call to the endpoint.
    Webhook(Uuid),
}

impl NewDelivery {
    pub fn channel(&self) -> Channel {
        match self {
            Self::Email | Self::HeldEmail => Channel::Email,
            Self::Webhook(_) => Channel::Webhook,
        }
    }

    pub fn endpoint_id(&self) -> Option<Uuid> {
        match self {
            Self::Webhook(endpoint_id) => Some(*endpoint_id),
            Self::Email | Self::HeldEmail => None,
        }
    }

    /// Its first state in `deliveries`.
    pub fn state(&self) -> &'static str {
        match self {
            Self::HeldEmail => "held",
            Self::Email | Self::Webhook(_) => "pending",
        }
    }
}

/// Sends `user_id`'s held e-mails one by one after all (the digest was turned off).
pub async fn release_held(connection: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE deliveries SET state = 'pending', next_attempt_at = now() \
         FROM notifications WHERE notifications.notification_id = deliveries.notification_id \
           AND notifications.user_id = $1 AND deliveries.state = 'held'",
    )
    .bind(user_id)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Forgets `user_id`'s held e-mails (the user stopped every e-mail).
pub async fn drop_held(connection: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM deliveries USING notifications \
         WHERE notifications.notification_id = deliveries.notification_id \
           AND notifications.user_id = $1 AND deliveries.state = 'held'",
    )
    .bind(user_id)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// When a failed send is tried again, and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay after the first failure (`NOTIFIER_RETRY_FIRST_DELAY_MS`); it doubles
    /// with every further failure.
    pub first_delay: Duration,
    /// Longest delay (`NOTIFIER_RETRY_MAX_DELAY_MS`).
    pub max_delay: Duration,
    /// Attempts before a delivery is `failed` (`NOTIFIER_MAX_ATTEMPTS`).
    pub max_attempts: i32,
}

impl RetryPolicy {
    /// The delay before attempt `attempts + 1`, after `attempts` failures: the
    /// exponential delay, of which a random half (`jitter` in [0, 1)) is kept, so
    /// that deliveries failed together do not come back together.
    pub fn delay_after(&self, attempts: i32, jitter: f64) -> Duration {
        let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let exponential = self
            .first_delay
            .saturating_mul(1_u32 << doublings)
            .min(self.max_delay);
        exponential.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        first_delay: Duration::from_secs(30),
        max_delay: Duration::from_secs(3600),
        max_attempts: 12,
    };

    #[test]
    fn the_delay_doubles_with_each_failure_up_to_the_longest() {
        let delays: Vec<u64> = (1..=9)
            .map(|attempts| POLICY.delay_after(attempts, 1.0).as_secs())
            .collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }

    #[test]
    fn jitter_keeps_between_half_and_all_of_the_delay() {
        assert_eq!(POLICY.delay_after(2, 0.0), Duration::from_secs(30));
        assert_eq!(POLICY.delay_after(2, 0.5), Duration::from_secs(45));
        assert_eq!(POLICY.delay_after(40, 0.0), Duration::from_secs(1800));
    }
}
