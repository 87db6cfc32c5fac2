//! Waiting for a condition with a deadline, as an error rather than a panic.

use std::time::{Duration, Instant};

/// Time between two checks.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Checks `probe` until it returns `Some`, and returns what it found; fails with
/// `what` once `deadline` has passed.
pub(crate) async fn until<T, F, Fut>(
    deadline: Duration,
    what: &str,
    mut probe: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        let remaining = deadline.saturating_sub(started.elapsed());
        if let Ok(Some(found)) = tokio::time::timeout(remaining, probe()).await {
            return Ok(found);
        }
        if started.elapsed() >= deadline {
            anyhow::bail!("gave up after {deadline:?} waiting until {what}");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
