//! The test harness of Six Degrees: every crate's black-box tests run against real
//! PostgreSQL and RabbitMQ through it.
//!
//! - [`TestDatabase`]: a fresh, empty database per test, dropped afterwards;
//! - [`TestVhost`]: a fresh RabbitMQ vhost per test, deleted afterwards, plus
//!   [`RabbitMqApi`] to look at its queues;
//! - [`DedicatedBroker`]: a whole RabbitMQ node of the test's own, to stop and start
//!   again (broker restart tests);
//! - [`wait_until`] / [`wait_for`]: how a test waits for something that happens in
//!   the background, with a deadline instead of a sleep;
//! - [`service_command`] and [`ServiceProcess`]: a service binary run as its own
//!   process on the test's database and vhost, stopped with SIGTERM or killed when
//!   the test ends;
//! - [`python_with`]: the Python interpreter of tests that check against an
//!   independent Python implementation.
//!
//! Each test gets its own database and vhost, so tests run in parallel and can be
//! run twice in a row. The servers are those of the local stack
//! (`infra/local/stack up`) unless `SIX_DATABASE_ADMIN_URL`, `SIX_AMQP_URL` and
//! `SIX_RABBITMQ_API_URL` say otherwise. An unreachable server fails the test with a
//! message saying how to start it: tests are never skipped silently.

mod broker;
mod cleanup;
mod database;
mod process;
mod python;
mod rabbitmq;
mod servers;
mod wait;

pub use broker::DedicatedBroker;
pub use database::TestDatabase;
pub use process::{ServiceProcess, service_command};
pub use python::python_with;
pub use rabbitmq::{MessageStats, QueueStats, RabbitMqApi, TestVhost};
pub use servers::{amqp_url, crate_dir, database_admin_url, rabbitmq_api_url, repo_root};
pub use wait::{GaveUp, poll_for, wait_for, wait_until};

/// One `#[tokio::test]` per case of a conformance suite: for each `case`, a test
/// that awaits `module::case(&make().await)`, `make` being the async fn that makes
/// a fresh backend, with the attributes given first (e.g. the `ignore` of a
/// backend that needs a server). A suite lists its cases once, in a macro of its
/// own that calls this one for each backend.
///
/// ```ignore
/// six_testkit::conformance_tests!(#[ignore = "needs a server"] neo4j => conformance::cases;
///     a_case, another_case);
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($(#[$attribute:meta])* $make:path => $($module:ident)::+; $($case:ident),* $(,)?) => {
        $crate::conformance_tests!(
            @each { $(#[$attribute])* } $make => { $($module)::+ }; $($case),*
        );
    };
    (@each $attributes:tt $make:path => $module:tt; $($case:ident),*) => {
        $($crate::conformance_tests!(@one $attributes $make => $module; $case);)*
    };
    (@one { $(#[$attribute:meta])* } $make:path => { $($module:ident)::+ }; $case:ident) => {
        #[tokio::test]
        $(#[$attribute])*
        async fn $case() {
            $($module::)+$case(&$make().await).await;
        }
    };
}
