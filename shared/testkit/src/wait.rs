//! Waiting for something that happens in the background, with a deadline.
//!
//! Tests never sleep a fixed time and hope: a sleep too short fails on a slow
//! machine, one long enough makes every run slow. They poll a condition instead, and
//! fail with a description of what never happened.

use std::future::Future;
use std::time::{Duration, Instant};

/// Time between two checks of a condition.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Checks `condition` every few tens of milliseconds until it holds.
///
/// # Panics
/// When it still does not hold after `deadline`, with `description` (what was
/// awaited) and how long it waited. A check that hangs counts against the deadline.
pub async fn wait_until<F, Fut>(deadline: Duration, description: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for(deadline, description, || {
        let check = condition();
        async move { check.await.then_some(()) }
    })
    .await;
}

/// Checks `probe` every few tens of milliseconds until it returns `Some`, and returns
/// what it found.
///
/// # Panics
/// When it still returns `None` after `deadline`, with `description` (what was
/// awaited) and how long it waited. A probe that hangs counts against the deadline.
pub async fn wait_for<T, F, Fut>(deadline: Duration, description: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match poll_for(deadline, description, probe).await {
        Ok(found) => found,
        Err(gave_up) => panic!("{gave_up}"),
    }
}

/// A wait whose deadline passed before the awaited thing happened.
#[derive(Debug, thiserror::Error)]
#[error("gave up after {waited:?} ({checks} checks) waiting until {description}")]
pub struct GaveUp {
    /// What was awaited.
    pub description: String,
    /// How long it waited.
    pub waited: Duration,
    /// How many times it checked.
    pub checks: u32,
}

/// [`wait_for`] as an error instead of a panic, for programs that must report
/// rather than abort (benchmarks, tools).
pub async fn poll_for<T, F, Fut>(
    deadline: Duration,
    description: &str,
    mut probe: F,
) -> Result<T, GaveUp>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    let mut checks = 0_u32;
    loop {
        let remaining = deadline.saturating_sub(started.elapsed());
        checks += 1;
        if let Ok(Some(found)) = tokio::time::timeout(remaining, probe()).await {
            return Ok(found);
        }
        if started.elapsed() >= deadline {
            return Err(GaveUp {
                description: description.to_owned(),
                waited: started.elapsed(),
                checks,
            });
        }
        tokio::time::sleep(POLL_INTERVAL.min(deadline.saturating_sub(started.elapsed()))).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn waiting_returns_as_soon_as_the_condition_holds() {
        let checks = Arc::new(AtomicU32::new(0));

        wait_until(Duration::from_secs(5), "the third check", || {
            let checks = checks.clone();
            async move { checks.fetch_add(1, Ordering::SeqCst) == 2 }
        })
        .await;

        assert_eq!(checks.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn waiting_for_a_value_returns_it() {
        let found = wait_for(Duration::from_secs(5), "a value", || async { Some(42) }).await;

        assert_eq!(found, 42);
    }

    #[tokio::test]
    #[should_panic(expected = "waiting until pigs fly")]
    async fn a_condition_that_never_holds_fails_with_its_description() {
        wait_until(Duration::from_millis(100), "pigs fly", || async { false }).await;
    }

    #[tokio::test]
    #[should_panic(expected = "waiting until the check returns")]
    async fn a_check_that_hangs_counts_against_the_deadline() {
        wait_until(Duration::from_millis(100), "the check returns", || {
            std::future::pending::<bool>()
        })
        .await;
    }
}
