//! The password check shared by login and by the account operations that ask for
//! the password again: throttled, and with one answer for every wrong credential.

use axum::http::StatusCode;
use secrecy::SecretString;
use six_kit::http::Problem;

use crate::{state::AppState, throttle::ThrottleKey};

/// Checks `password` against `stored_hash` (`None` for an unknown account, which
/// costs the same and never matches). Refused with 429 `too_many_attempts` while
/// any of `keys` is locked out; a mismatch counts a failure against each key and
/// is refused with 401 `invalid_credentials`.
pub async fn check_password(
    state: &AppState,
    keys: &[ThrottleKey],
    password: SecretString,
    stored_hash: Option<String>,
) -> Result<(), Problem> {
    if let Some(wait) = state
        .throttle
        .locked_for(&state.pool, keys)
        .await
        .map_err(Problem::internal)?
    {
        return Err(too_many_attempts(wait.as_secs().max(1)));
    }
    let matches = state
        .passwords
        .verify(password, stored_hash)
        .await
        .map_err(Problem::internal)?;
    if !matches {
        state
            .throttle
            .record_failure(&state.pool, keys)
            .await
            .map_err(Problem::internal)?;
        return Err(invalid_credentials());
    }
    Ok(())
}

/// 401 `invalid_credentials`: the same for an unknown e-mail and a wrong password.
pub fn invalid_credentials() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "The e-mail or the password is wrong",
    )
}

/// 429 `too_many_attempts` with `Retry-After`.
fn too_many_attempts(retry_after_secs: u64) -> Problem {
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        "Too many failed attempts",
    )
    .with_detail(format!("try again in {retry_after_secs} seconds"))
    .with_retry_after(retry_after_secs)
}
