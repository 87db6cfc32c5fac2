//! Async clean-up from `Drop`, which has no async context of its own.

use std::future::Future;
use std::sync::{Mutex, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use uuid::Uuid;

/// Leftovers of killed test runs older than this are removed.
pub(crate) const LEFTOVER_AGE: Duration = Duration::from_secs(3600);

/// How long the end of the process waits for clean-ups still running.
const EXIT_GRACE: Duration = Duration::from_secs(30);

/// Clean-ups started by [`finish_in_background`] and not yet known to be done.
static PENDING: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// Runs `work` to completion on a new thread with its own small runtime and waits
/// for it: usable from `Drop`, even while the test's runtime is shutting down or
/// the test is unwinding from a panic. Failures are printed, never raised (a panic
/// in `Drop` during unwinding would abort the test binary).
pub(crate) fn block_on_own_thread<F>(what: &str, work: F)
where
    F: Future<Output = Result<(), String>> + Send + 'static,
{
    let thread = std::thread::Builder::new()
        .name(format!("testkit-cleanup-{what}"))
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| format!("no runtime for clean-up: {error}"))?;
            runtime.block_on(work)
        });
    let outcome = match thread {
        Ok(thread) => thread
            .join()
            .unwrap_or_else(|_| Err("clean-up thread panicked".to_owned())),
        Err(error) => Err(format!("no thread for clean-up: {error}")),
    };
    if let Err(error) = outcome {
        eprintln!("six-testkit: could not clean up {what}: {error}");
    }
}

/// Runs `work` on a new thread with its own small runtime, without waiting for it;
/// the process waits for it (at most [`EXIT_GRACE`] in all) when it exits.
///
/// Why not wait in `Drop`: that blocks the test's runtime, and a task of that
/// runtime may be half-way through opening a PostgreSQL connection. The server
/// then waits for that client to answer its authentication request, and since
/// PostgreSQL 15 `DROP DATABASE` waits until every backend of the server has
/// acknowledged a signal barrier, which one in authentication does not: the drop
/// (and every other test's) would hang until `authentication_timeout` (a minute).
pub(crate) fn finish_in_background<F>(what: &str, work: F)
where
    F: Future<Output = Result<(), String>> + Send + 'static,
{
    static AT_EXIT: Once = Once::new();
    AT_EXIT.call_once(|| {
        // SAFETY: `atexit` only stores the address of a function that lives as long
        // as the program; it is called once, from the thread that calls `exit`.
        let registered = unsafe { atexit(finish_pending_at_exit) };
        if registered != 0 {
            eprintln!("six-testkit: clean-ups may not finish before the process exits");
        }
    });
    let what = what.to_owned();
    let thread = std::thread::Builder::new()
        .name(format!("testkit-cleanup-{what}"))
        .spawn(move || {
            let outcome = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| format!("no runtime for clean-up: {error}"))
                .and_then(|runtime| runtime.block_on(work));
            if let Err(error) = outcome {
                eprintln!("six-testkit: could not clean up {what}: {error}");
            }
        });
    match thread {
        Ok(thread) => {
            let mut pending = PENDING
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            pending.retain(|cleanup| !cleanup.is_finished());
            pending.push(thread);
        }
        Err(error) => eprintln!("six-testkit: no thread for clean-up: {error}"),
    }
}

unsafe extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

/// Waits for the clean-ups still running, at most [`EXIT_GRACE`] in all.
extern "C" fn finish_pending_at_exit() {
    let pending = std::mem::take(
        &mut *PENDING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let deadline = Instant::now() + EXIT_GRACE;
    for cleanup in pending {
        while !cleanup.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if cleanup.is_finished() {
            let _ = cleanup.join();
        } else {
            eprintln!(
                "six-testkit: a clean-up did not finish within {EXIT_GRACE:?}; leftovers are removed by a later run"
            );
            return;
        }
    }
}

/// Whether a name made of `prefix` and a UUIDv7 was made more than [`LEFTOVER_AGE`]
/// ago (the UUIDv7 carries its creation time). Names of any other shape are not
/// ours: never leftovers.
pub(crate) fn is_old_leftover(name: &str, prefix: &str) -> bool {
    let Some(id) = name
        .strip_prefix(prefix)
        .and_then(|id| Uuid::try_parse(id).ok())
    else {
        return false;
    };
    let Some(timestamp) = id.get_timestamp() else {
        return false;
    };
    let (seconds, nanos) = timestamp.to_unix();
    let created = SystemTime::UNIX_EPOCH + Duration::new(seconds, nanos);
    SystemTime::now()
        .duration_since(created)
        .is_ok_and(|age| age > LEFTOVER_AGE)
}

#[cfg(test)]
mod tests {
    use uuid::{ContextV7, Timestamp};

    use super::*;

    fn name_made_ago(age: Duration) -> String {
        let made = SystemTime::now() - age;
        let since_epoch = made.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        let timestamp = Timestamp::from_unix(
            ContextV7::new(),
            since_epoch.as_secs(),
            since_epoch.subsec_nanos(),
        );
        format!("test_{}", Uuid::new_v7(timestamp).simple())
    }

    #[test]
    fn a_name_made_two_hours_ago_is_an_old_leftover() {
        assert!(is_old_leftover(
            &name_made_ago(Duration::from_secs(7200)),
            "test_"
        ));
    }

    #[test]
    fn a_name_made_a_minute_ago_is_not_an_old_leftover() {
        assert!(!is_old_leftover(
            &name_made_ago(Duration::from_secs(60)),
            "test_"
        ));
    }

    #[test]
    fn a_name_not_made_by_the_testkit_is_never_a_leftover() {
        assert!(!is_old_leftover("test_orders", "test_"));
        assert!(!is_old_leftover(
            &format!("test_{}", Uuid::nil().simple()),
            "test_"
        ));
    }
}
