//! Keeps one provider's token fresh in the background, so callers almost never
//! wait for a token request.
//!
//! The refresher sleeps until the first token is obtained (by the first caller),
//! then refreshes each token once half its lifetime (plus jitter) has passed. A
//! failed refresh is logged as a warning and retried with exponential backoff and
//! jitter while callers keep using the cached token, for as long as it is usable.
//! A token obtained meanwhile by someone else (a caller, a retry after a 401)
//! reschedules the refresher and ends its backoff.

use std::{sync::Arc, time::Duration};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::token_cache::TokenCache;

/// Wait before retrying after the first failed refresh.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);

/// Longest wait between two refresh attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// Refreshes `cache`'s token until `stop` is cancelled.
pub(super) async fn run(cache: Arc<TokenCache>, stop: CancellationToken) {
    let mut refresh_due = cache.refresh_due();
    let mut failures: u32 = 0;
    let mut retry_at: Option<Instant> = None;
    loop {
        let wake_at = refresh_due
            .borrow_and_update()
            .map(|due| retry_at.unwrap_or_else(|| Instant::from_std(due)));
        tokio::select! {
            () = stop.cancelled() => return,
            changed = refresh_due.changed() => {
                if changed.is_err() {
                    return;
                }
                failures = 0;
                retry_at = None;
                continue;
            }
            () = sleep_until(wake_at) => {}
        }
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            outcome = cache.refresh() => outcome,
        };
        match outcome {
            Ok(_) => {
                failures = 0;
                retry_at = None;
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                let delay = retry_delay(failures, fastrand::f64());
                retry_at = Some(Instant::now() + delay);
                tracing::warn!(
                    attempt = failures,
                    retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    error = %error,
                    "token refresh failed"
                );
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Wait after `failures` failed attempts in a row: doubling from
/// [`FIRST_RETRY_DELAY`] up to [`MAX_RETRY_DELAY`], of which the upper half is
/// random (`jitter` in `[0, 1)`) so that replicas do not retry in step.
fn retry_delay(failures: u32, jitter: f64) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    let ceiling = FIRST_RETRY_DELAY
        .saturating_mul(1 << doublings)
        .min(MAX_RETRY_DELAY);
    ceiling / 2 + (ceiling / 2).mul_f64(jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_twice_as_long_after_each_failure() {
        assert_eq!(retry_delay(1, 1.0), Duration::from_millis(500));
        assert_eq!(retry_delay(2, 1.0), Duration::from_secs(1));
        assert_eq!(retry_delay(3, 1.0), Duration::from_secs(2));
    }

    #[test]
    fn jitter_takes_up_to_half_of_the_wait_off() {
        assert_eq!(retry_delay(3, 0.0), Duration::from_secs(1));
        assert_eq!(retry_delay(3, 0.5), Duration::from_millis(1500));
    }

    #[test]
    fn retries_never_wait_longer_than_the_maximum() {
        assert_eq!(retry_delay(u32::MAX, 1.0), MAX_RETRY_DELAY);
        assert_eq!(retry_delay(7, 1.0), MAX_RETRY_DELAY);
    }
}
