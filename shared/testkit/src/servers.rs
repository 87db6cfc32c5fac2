//! Where the test servers are, and what to say when they are not there.

use std::path::{Path, PathBuf};

/// PostgreSQL superuser URL of the local stack.
const DEFAULT_DATABASE_ADMIN_URL: &str = "postgres://six:six@127.0.0.1:26432/postgres";
/// AMQP URL of the local stack's RabbitMQ (vhost `/`).
const DEFAULT_AMQP_URL: &str = "amqp://six:six@127.0.0.1:26672/%2f";
/// Management HTTP API of the local stack's RabbitMQ.
const DEFAULT_RABBITMQ_API_URL: &str = "http://six:six@127.0.0.1:26673";

/// The script that starts the local servers, relative to the repository root.
pub(crate) const STACK_SCRIPT: &str = "infra/local/stack";

/// URL of a PostgreSQL superuser connection: `SIX_DATABASE_ADMIN_URL`, else the
/// local stack's.
pub fn database_admin_url() -> String {
    setting("SIX_DATABASE_ADMIN_URL", DEFAULT_DATABASE_ADMIN_URL)
}

/// AMQP URL of the shared broker (credentials, host and port are reused for test
/// vhosts): `SIX_AMQP_URL`, else the local stack's.
pub fn amqp_url() -> String {
    setting("SIX_AMQP_URL", DEFAULT_AMQP_URL)
}

/// URL of the RabbitMQ management API, credentials included: `SIX_RABBITMQ_API_URL`,
/// else the local stack's.
pub fn rabbitmq_api_url() -> String {
    setting("SIX_RABBITMQ_API_URL", DEFAULT_RABBITMQ_API_URL)
}

/// The directory of the crate under test, from `CARGO_MANIFEST_DIR` as cargo sets it
/// when it runs the test. Not `env!("CARGO_MANIFEST_DIR")`: the target directory is
/// shared by every checkout and does not key a crate's build on the checkout's
/// path, so a test binary built in one checkout is reused by another, and the
/// compiled-in path names the first (maybe deleted) one.
///
/// # Panics
/// When the test is not run by cargo.
pub fn crate_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .expect("CARGO_MANIFEST_DIR is set: run the test with cargo")
}

/// The repository root (where `infra/local/stack` lives): `SIX_REPO_ROOT`, else the
/// nearest ancestor of the crate under test (or of this crate) that holds the script.
///
/// # Panics
/// When no such directory is found.
pub fn repo_root() -> PathBuf {
    if let Some(root) = std::env::var_os("SIX_REPO_ROOT").filter(|root| !root.is_empty()) {
        return PathBuf::from(root);
    }
    let starts = [
        std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
    ];
    starts
        .into_iter()
        .flatten()
        .find_map(|start| start.ancestors().find(|dir| dir.join(STACK_SCRIPT).is_file()).map(Path::to_path_buf))
        .unwrap_or_else(|| panic!("no `{STACK_SCRIPT}` above the crate under test: set SIX_REPO_ROOT to the repository root"))
}

/// Panics with the message every test prints when a server cannot be reached.
pub(crate) fn unreachable(what: &str, url: &str, error: &dyn std::fmt::Display) -> ! {
    panic!(
        "{what} is not reachable at {}: start the local stack with `{STACK_SCRIPT} up` \
         (or point the SIX_* variables at a running server) — {error}",
        redact(url)
    )
}

/// The URL with its password replaced by `***`, fit for a message.
pub(crate) fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

fn setting(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacting_hides_the_password_and_keeps_the_rest() {
        assert_eq!(
            redact("postgres://six:secret@127.0.0.1:26432/postgres"),
            "postgres://six:***@127.0.0.1:26432/postgres"
        );
    }

    #[test]
    fn redacting_a_url_without_password_changes_nothing() {
        assert_eq!(redact("http://127.0.0.1:26673"), "http://127.0.0.1:26673");
    }
}
